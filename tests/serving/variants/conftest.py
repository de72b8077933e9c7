"""A tiny simulated somatic-variant cohort, its model trained, registered as `oncofusion-variants`
@champion and imported into a BentoML store, and `bentoml serve` of the variant service on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oncofusion.config import parse_params

from ...conftest import REPO_ROOT
from ...training.conftest import small_training_params
from ..conftest import free_port, stop, store_env, wait_ready

MODEL_NAME = "oncofusion-variants"
TOKEN = "a-test-token-of-32-characters-xx"


def variant_params() -> dict:
    raw = small_training_params(ensemble={"folds": 2, "workers": 1}, max_epochs=6)
    raw.pop("synthesize")
    raw["base"] = {"seed": 7}
    raw["simulate"] = {
        "n_donors": 36,
        "types": ["Skin-Melanoma", "Lung-SCC", "ColoRect-AdenoCA-MSI"],
        "type_weights": [0.34, 0.33, 0.33],
        "genome_mb": 3.0,
        "n_contigs": 3,
        "burden_scale": 0.2,
    }
    raw["cohort"] = {
        "source": "variants",
        "name": "variants-serve",
        "path": "raw",
        "variants": {"germline": None, "window": {"flank": 50, "max_per_sample": 10}},
    }
    raw["register"] = {"model_name": MODEL_NAME}
    return raw


@dataclass
class VariantStore:
    root: Path
    env: dict[str, str]
    raw: Path  # the simulated MAF, VCFs, FASTA and sheet
    reference: Path
    model_dir: Path
    bento_model: str


@dataclass
class VariantServed:
    url: str
    store: VariantStore
    log: Path
    headers: dict[str, str]


@pytest.fixture(scope="session")
def variant_store(tmp_path_factory: pytest.TempPathFactory) -> VariantStore:
    root = tmp_path_factory.mktemp("variant-serving")
    env = store_env(root)
    raw = variant_params()
    script = f"""
import json
from pathlib import Path
import mlflow
from mlflow.tracking import MlflowClient
from oncofusion import stages, tracking
import oncofusion.stages.cohort, oncofusion.stages.split, oncofusion.stages.validate
import oncofusion.stages.variants_simulate
from oncofusion.config import parse_params
from oncofusion.stages.train import train_and_log
from oncofusion.stages.inputs import split_cohort
from oncofusion.serving.store import import_champion
root = Path({str(root)!r})
params = parse_params(json.loads({__import__("json").dumps(raw)!r}))
stages.variants_simulate.simulate_variants(params, root / "raw")
stages.cohort.build_cohort(params, root / "cohort", root)
stages.validate.validate(params, root / "cohort", root / "validation")
stages.split.split(params, root / "cohort", root / "validation", root / "splits", root / "split.json")
tracking.use_tracking()
info = train_and_log(split_cohort(root / "splits")[0], params, root / "model", root / "work")
registered = mlflow.register_model(info["model_uri"], {MODEL_NAME!r})
MlflowClient().set_registered_model_alias({MODEL_NAME!r}, "champion", registered.version)
print("BENTO_MODEL", import_champion({MODEL_NAME!r}, "champion").tag)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    tag = re.search(r"BENTO_MODEL (\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    reference = root / "raw" / "reference.fa.gz"
    return VariantStore(root, env, root / "raw", reference, root / "model", tag)


def start_variant_server(
    env: dict[str, str], log: Path, port: int, host: str = "127.0.0.1"
) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "serving.variants_service:OncofusionVariants",
                "--port",
                str(port),
                "--host",
                host,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="session")
def variant_served(variant_store: VariantStore) -> Iterator[VariantServed]:
    """The variant service with a bearer token (so every test also exercises authentication)."""
    port, log = free_port(), variant_store.root / "variant-server.log"
    env = {
        **variant_store.env,
        "ONCOFUSION_REFERENCE": str(variant_store.reference),
        "ONCOFUSION_API_TOKEN": TOKEN,
    }
    server = start_variant_server(env, log, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, url, log)
        yield VariantServed(url, variant_store, log, {"Authorization": f"Bearer {TOKEN}"})
    finally:
        stop(server)


def params_of(store: VariantStore):
    return parse_params(variant_params())


__all__ = ["VariantServed", "VariantStore", "os", "params_of", "start_variant_server"]
