# Two commands do all set-up on a fresh machine: `make repro` (main job) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# torch is installed first, pinned, so the rest of the set resolves around it. On PyPI, Linux wheels of
# torch are CUDA builds (they also run on the CPU); pass another spec to change it, e.g.
# `make install TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu'`.
TORCH_SPEC ?= torch==2.13.0
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export BENTOML_DO_NOT_TRACK := True

.PHONY: install repro test lint format ui dashboard serve serve-variants docs plots clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	echo '$(TORCH_SPEC)' > $(VENV)/.torch-spec
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Re-installs torch when TORCH_SPEC differs from what the venv was built with.
install: $(STAMP)
	@grep -qxF '$(TORCH_SPEC)' $(VENV)/.torch-spec || { $(BIN)/python -m pip install -q $(TORCH_SPEC) && echo '$(TORCH_SPEC)' > $(VENV)/.torch-spec; }

repro: install
	$(BIN)/dvc repro

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks serving docs/hooks
	$(BIN)/ruff format --check src tests benchmarks serving docs/hooks

format: install
	$(BIN)/ruff check --fix src tests benchmarks serving docs/hooks
	$(BIN)/ruff format src tests benchmarks serving docs/hooks

# MLflow 3 opens on its GenAI views unless the sidebar switch says "Model training"; the link does that.
ui: install
	@echo "MLflow UI: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db \
		--default-artifact-root $(CURDIR)/mlartifacts --host 127.0.0.1 --port 5000

# Serve the bento this project's `make repro` built (named in reports/bento.json; the BentoML store in
# ~/bentoml is shared with other checkouts, so `:latest` could be someone else's): the multi-omics one on
# port 3000, the variant one (`POST /classify_variants`) on 3001 with the FASTA its model was trained
# against. On loopback unless HOST is given, which needs ONCOFUSION_API_TOKEN (the service refuses otherwise).
HOST ?= 127.0.0.1
REFERENCE ?= $(CURDIR)/data/variants/raw/reference.fa.gz
serve: install
	$(BIN)/bentoml serve $$($(BIN)/python -c "import json; print(json.load(open('reports/bento.json'))['bento'])") \
		--host $(HOST) --port 3000

serve-variants: install
	ONCOFUSION_REFERENCE=$(REFERENCE) $(BIN)/bentoml serve \
		$$($(BIN)/python -c "import json; print(json.load(open('reports/variants/bento.json'))['bento'])") \
		--host $(HOST) --port 3001

# optuna-dashboard is optional: installed on first use. OPTUNA_STORAGE overrides the study storage.
dashboard: install
	$(BIN)/python -c "import optuna_dashboard" 2>/dev/null || $(BIN)/python -m pip install -q -e '.[dashboard]'
	$(BIN)/optuna-dashboard --host 127.0.0.1 --port 8080 $${OPTUNA_STORAGE:-sqlite:///$(CURDIR)/optuna.db}

# dvc plots show's page loads Vega from a CDN; this one (SVGs, no scripts) works offline.
plots: install
	$(BIN)/python -m oncofusion.dvc_plots . --out dvc_plots/offline
	@echo "open dvc_plots/offline/index.html"

# The docs site on http://127.0.0.1:8000, rebuilt on every edit (results tables come from the JSON files).
docs: install
	$(BIN)/mkdocs serve -a 127.0.0.1:8000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
