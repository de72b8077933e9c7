"""End to end through real DVC and git, on tiny params, in a temporary copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from oncofusion.cohort import fingerprint
from oncofusion.config import parse_params
from oncofusion.data.synthetic.variants.cancer_types import BEYOND_96

from .conftest import REPO_ROOT
from .training.conftest import small_training_params

PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "params-variants.yaml",
    "params-context.yaml",
    ".dvcignore",
    ".gitignore",
    "serving",
    "bentofile.yaml",
    "bentofile-variants.yaml",
    "src",
    ".dvc/config",
    ".dvc/.gitignore",
    "data/raw/README.md",
]

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # `python` in dvc.yaml must be this interpreter (the project's venv), wherever pytest was started.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_TRACKING_URI", None)  # runs go to the temp project's own mlflow.db
    env.update(
        DVC_NO_ANALYTICS="1",
        GX_ANALYTICS_ENABLED="false",
        BENTOML_DO_NOT_TRACK="True",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    return env


def _sh(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dvc", *args[1:]] if args[0] == "dvc" else list(args)
    env = {**_env(), "BENTOML_HOME": str(cwd.parent / "bentoml")}  # bentos stay out of ~/bentoml
    # The timeout only catches a hang: a whole `dvc repro` takes minutes on two busy cores.
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if ok and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _write_params(project: Path, raw: dict) -> None:
    params = parse_params(raw)  # the file DVC sees must be valid and complete (every section dvc.yaml names)
    (project / "params.yaml").write_text(
        yaml.safe_dump(params.model_dump(mode="json", by_alias=True), sort_keys=False)
    )


def small_pipeline_params() -> dict:
    """The multi-modal branch: a two-member ensemble (members in turn), so train → register → bento
    carry a cross-validated, calibrated model; no ablations (no test here reads them)."""
    raw = small_training_params(ensemble={"folds": 2, "workers": 1})
    raw["evaluate"] = {"ablations": False, "top_k": 5}
    return raw


def small_variant_params() -> dict:
    """The variant branch made small: a 4 Mb genome, 30 donors, a tiny model."""
    raw = small_training_params()
    raw.pop("synthesize")
    raw["simulate"] = {
        "n_donors": 30,
        "types": ["Skin-Melanoma", "Lung-SCC", "ColoRect-AdenoCA-MSI"],
        "type_weights": [0.4, 0.3, 0.3],
        "genome_mb": 4.0,
        "n_contigs": 4,
        "burden_scale": 0.3,
    }
    raw["cohort"] = {
        "source": "variants",
        "name": "variants-tiny",
        "path": "data/variants/raw",
        "variants": {"germline": "germline", "window": {"flank": 100, "max_per_sample": 50}},
    }
    raw["evaluate"] = {"ablations": False, "top_k": 3}
    raw["tune"] = {"n_trials": 0}  # tune@variants records "not tuned" (tests/training tunes for real)
    raw["register"] = {"model_name": "oncofusion-variants"}  # as params-variants.yaml names it
    raw["dna"] = {
        "architecture": {
            "hidden_size": 32,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_size": 64,
            "max_tokens": 12,
        },
        "finetune": {
            "max_windows": 64,
            "val_windows": 16,
            "max_steps": 4,
            "batch_size": 8,
            "warmup_steps": 1,
        },
        "embed": {"max_per_sample": 4},
        "classify": {"set_model": {"epochs": 2}, "bootstrap": 100},
    }
    return raw


def _write_variant_params(project: Path, raw: dict) -> None:
    params = parse_params(raw)
    (project / "params-variants.yaml").write_text(
        yaml.safe_dump(params.model_dump(mode="json", by_alias=True), sort_keys=False)
    )


def small_context_params() -> dict:
    """The beyond-the-96 cohort at test size, planted into the tiny variant genome."""
    return {
        "base": {"seed": 3},
        "simulate": {
            "n_donors": 36,
            "types": list(BEYOND_96),
            "type_weights": None,
            "reference": "data/variants/raw/reference.fa.gz",
            "burden_scale": 0.1,
            "burden_sdlog": 0.3,
            "vcf": False,
        },
        "cohort": {
            "source": "variants",
            "name": "context-tiny",
            "path": "data/variants/context/raw",
            "variants": {"germline": "germline", "window": {"flank": 100, "max_per_sample": 50}},
        },
        "dna": {"embed": {"batch_size": 32}, "context": {"folds": 2, "repeats": 1, "bootstrap": 100}},
    }


def _tune_parent_runs(project: Path) -> list[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project}/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string="tags.`oncofusion.stage` = 'tune'")
    return [r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for name in PROJECT_FILES:
        source, target = REPO_ROOT / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target)
    config = (project / ".dvc/config").read_text()
    remote = tmp_path / "remote"
    (project / ".dvc/config").write_text(config.replace("../../oncofusion-dvc-remote", str(remote)))
    _write_params(project, small_pipeline_params())
    _write_variant_params(project, small_variant_params())
    context = parse_params(small_context_params()).model_dump(mode="json", by_alias=True)
    (project / "params-context.yaml").write_text(yaml.safe_dump(context, sort_keys=False))
    _sh(project, "git", "init", "-q")
    _sh(project, "git", "add", "-A")
    _sh(project, "git", "commit", "-qm", "project")
    return project


def test_repro_then_noop_then_only_changed_stages(project: Path):
    first = _sh(project, "dvc", "repro")
    for stage in ("cohort", "bento", "variants_simulate", "variants_cohort", "variants_bento"):
        assert f"Running stage '{stage}'" in first.stdout
    for stage in ("validate", "split", "tune", "train", "evaluate", "register"):  # both branches, one repro
        assert f"Running stage '{stage}@omics'" in first.stdout
        assert f"Running stage '{stage}@variants'" in first.stdout
    assert json.loads((project / "reports/variants/tune/best_params.json").read_text())["params"] == {}
    variant_metrics = json.loads((project / "reports/variants/metrics.json").read_text())
    assert variant_metrics["n_train"] + variant_metrics["n_val"] + variant_metrics["n_test"] == 30
    assert (project / "data/variants/splits/windows.parquet").exists()
    for stage in (
        "dna_finetune",
        "dna_embed",
        "dna_classify",
        "context_simulate",
        "context_cohort",
        "dna_context",
    ):
        assert f"Running stage '{stage}'" in first.stdout
    table = json.loads((project / "reports/variants/dna_classify.json").read_text())
    assert "fusion: catalogues + DNA embedding" in table["rows"]
    beyond = json.loads((project / "reports/variants/dna_context.json").read_text())
    assert beyond["n_donors"] == 36 and set(beyond["pairs"]) == {"apobec", "motif", "strand"}
    assert first.stdout.count("promoted v1 to @champion") == 2  # each branch's model under its own name
    bento = json.loads((project / "reports/bento.json").read_text())
    assert bento["registry_version"] == "1" and bento["bento"].startswith("oncofusion-classifier:")
    variant_bento = json.loads((project / "reports/variants/bento.json").read_text())
    assert variant_bento["bento"].startswith("oncofusion-variants:")
    assert variant_bento["bento_model"].startswith("oncofusion-variants:")
    labels = pd.read_parquet(project / "data/splits/labels.parquet")
    assert len(labels) == 120 and set(labels["split"]) == {"train", "val", "test"}
    assert (project / "reports/validation/report.html").exists()
    calibration = json.loads((project / "reports/calibration.json").read_text())
    assert calibration["conformal"]["coverage"] == 0.9 and "ece_after" in calibration["test"]
    ablations = json.loads((project / "reports/ablations.json").read_text())
    assert ablations["bootstrap"]["intervals"]["fusion_transformer"]["ci95"]
    assert len(json.loads((project / "models/train.json").read_text())["members"]) == 2

    second = _sh(project, "dvc", "repro")
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in _sh(project, "dvc", "status").stdout

    raw = small_pipeline_params()
    raw["split"] = {"train": 0.5, "val": 0.25, "test": 0.25}
    _write_params(project, raw)
    third = _sh(project, "dvc", "repro")
    assert "Running stage 'split@omics'" in third.stdout
    assert (
        "Running stage 'cohort'" not in third.stdout and "Running stage 'validate@omics'" not in third.stdout
    )
    assert "Running stage 'train@omics'" in third.stdout  # new split, new model
    assert "Running stage 'train@variants'" not in third.stdout  # the other branch's params did not change
    assert "Stage 'train@variants' didn't change" in third.stdout

    metrics = _sh(project, "dvc", "metrics", "show").stdout
    for path in ("reports/headline.json", "reports/variants/headline.json"):
        assert path in metrics
    assert max(len(line) for line in metrics.splitlines()) <= 120  # fits a terminal
    _sh(project, "dvc", "plots", "show")
    assert (project / "dvc_plots" / "index.html").exists()
    assert (project / "mlflow.db").exists() and (project / "optuna.db").exists()
    # Changed params: the re-run tuned a new study, which is a new MLflow parent run.
    assert len(_tune_parent_runs(project)) == 2
    # The re-run trained a new candidate; the registry decided on it and recorded why.
    decision = json.loads((project / "reports/registry.json").read_text())
    assert json.loads((project / "reports/variants/registry.json").read_text())["version"] == "1"
    assert decision["version"] == "2" and decision["reason"].startswith(("promoted v2", "kept v1"))


def test_own_tables_run_through_dvc_and_edits_to_them_re_run_the_pipeline(project: Path):
    from oncofusion.data.synthetic.example_tables import example_params, write_example_tables

    write_example_tables(project / "data/raw/mine", n_samples=90, n_features=16, seed=4)
    raw = small_training_params()
    raw["cohort"] = example_params("data/raw/mine", 16)
    raw["validate"] = {"require_complete_modalities": False}
    raw["evaluate"] = {"ablations": False, "top_k": 3}
    _write_params(project, raw)
    first = _sh(project, "dvc", "repro", "evaluate@omics")
    assert "Running stage 'cohort'" in first.stdout and "Running stage 'evaluate@omics'" in first.stdout
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 90
    assert metrics["classes"] == ["BRCA", "COAD", "LUAD", "PRAD"]
    assert "Running stage" not in _sh(project, "dvc", "repro", "evaluate@omics").stdout

    protein = project / "data/raw/mine/protein.csv"
    lines = protein.read_text().splitlines()
    fields = lines[1].split(",")
    lines[1] = ",".join([fields[0], "9.5", *fields[2:]])  # a corrected measurement
    protein.write_text("\n".join(lines) + "\n")
    # The edit reaches the model: the cohort and split re-run, and that leaves training out of date
    # (retraining to see it re-run would repeat the tune and train above).
    again = _sh(project, "dvc", "repro", "split@omics")
    assert "Running stage 'cohort'" in again.stdout and "Running stage 'split@omics'" in again.stdout
    stale = json.loads(_sh(project, "dvc", "status", "--with-deps", "evaluate@omics", "--json").stdout)
    assert {"tune@omics", "train@omics", "evaluate@omics"} <= set(stale), stale


def test_failed_gate_stops_the_pipeline(project: Path):
    _sh(project, "dvc", "repro", "split@omics")
    path = project / "data/cohort/methylation.parquet"
    frame = pd.read_parquet(path)
    frame.iloc[0, 4] = -3.0
    frame.to_parquet(path)
    gate = _sh(project, "dvc", "repro", "--single-item", "validate@omics", ok=False)
    assert gate.returncode != 0
    assert "methylation.parquet, column cg00000004" in gate.stderr + gate.stdout
    downstream = _sh(project, "dvc", "repro", "--single-item", "split@omics", ok=False)
    assert downstream.returncode != 0
    assert "failed validation" in downstream.stderr + downstream.stdout
    assert not (project / "data/splits").exists()


def test_a_variant_file_that_disagrees_with_the_reference_stops_the_variant_branch(project: Path):
    """Edit the simulated MAF so most REF alleles are wrong (a wrong assembly): the gate names the file,
    column and lines, and nothing downstream runs."""
    import gzip

    _sh(project, "dvc", "repro", "validate@variants")
    maf = project / "data/variants/raw/somatic.maf.gz"
    lines = gzip.decompress(maf.read_bytes()).decode().splitlines()
    header = lines[1].split("\t")
    ref, alt = header.index("Reference_Allele"), header.index("Tumor_Seq_Allele2")
    flip = {"A": "C", "C": "G", "G": "T", "T": "A"}
    for i in range(2, len(lines), 2):  # every other variant: half the REF alleles wrong
        fields = lines[i].split("\t")
        if fields[ref] in flip and fields[alt] != flip[fields[ref]]:
            fields[ref] = flip[fields[ref]]
            lines[i] = "\t".join(fields)
    maf.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    _sh(project, "dvc", "repro", "--single-item", "variants_cohort")
    gate = _sh(project, "dvc", "repro", "--single-item", "validate@variants", ok=False)
    output = gate.stdout + gate.stderr
    assert gate.returncode != 0
    assert "somatic.maf.gz, column Reference_Allele: REF allele matches the FASTA" in output
    assert "e.g. line(s) 3, 5, 7" in output
    downstream = _sh(project, "dvc", "repro", "--single-item", "split@variants", ok=False)
    assert downstream.returncode != 0 and "failed validation" in downstream.stdout + downstream.stderr
    assert not (project / "data/variants/splits").exists()


def test_push_fresh_clone_pull_round_trip(project: Path, tmp_path: Path):
    # Two chained stages' cached directories are enough to prove the round trip (the first test runs
    # every stage); the model stages would add minutes to `make test` and test nothing more of DVC.
    _sh(project, "dvc", "repro", "split@omics")
    _sh(project, "git", "add", "-A")
    _sh(project, "git", "commit", "-qm", "pipeline outputs")
    _sh(project, "dvc", "push")
    clone = tmp_path / "clone"
    _sh(tmp_path, "git", "clone", "-q", str(project), str(clone))
    assert not (clone / "data" / "cohort").exists() and not (clone / "data" / "splits").exists()
    _sh(clone, "dvc", "pull", "--with-deps", "split@omics")
    for output in ("data/cohort", "data/splits"):
        assert fingerprint(clone / output) == fingerprint(project / output)
    assert (
        "Data and pipelines are up to date"
        in _sh(clone, "dvc", "status", "--with-deps", "split@omics").stdout
    )
