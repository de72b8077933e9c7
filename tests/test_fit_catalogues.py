"""`oncofusion fit` on real mutational catalogues in SigProfilerMatrixGenerator's layout, and on the
variant simulator's output: both are cohorts the fusion model trains on without new code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.simulator import simulate
from oncofusion.data.variants import classes

from .conftest import SHARED_DIR
from .test_fit import TINY_MODEL, TINY_TRAIN, _run

CATALOGUES = SHARED_DIR / "data" / "tcga-wes-catalogues"
TYPES = ["Breast-cancer", "Lung-AdenoCa", "Skin-Melanoma", "ColoRect-AdenoCa", "Uterus-AdenoCa"]
KINDS = ("sbs96", "dbs78", "id83")

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _tables_params(path: str) -> dict:
    modality = {"orientation": "features_by_samples", "transform": "proportion"}
    return {
        "cohort": {
            "source": "tables",
            "name": "tcga-wes-subset",
            "path": path,
            "tables": {"modalities": {k: {"file": f"{k}.tsv", **modality} for k in KINDS}},
        },
        "model": TINY_MODEL,
        "train": TINY_TRAIN,
        "evaluate": {"ablations": False, "top_k": 3},
    }


@pytest.mark.skipif(not CATALOGUES.is_dir(), reason="../shared/data/tcga-wes-catalogues is absent")
def test_fit_on_real_tcga_catalogues_as_sigprofiler_writes_them(workdir: Path):
    """A subset of the real 9,493-exome catalogues (5 types, 80 tumours each), read as the files are."""
    labels = pd.read_csv(CATALOGUES / "labels.tsv", sep="\t")
    chosen = labels[labels["label"].isin(TYPES)].groupby("label").head(80)
    (workdir / "raw").mkdir()
    chosen.to_csv(workdir / "raw" / "labels.csv", index=False)
    for kind in ("sbs96", "dbs78", "id83"):
        table = pd.read_csv(CATALOGUES / f"{kind}.tsv", sep="\t", index_col="MutationType")
        assert tuple(table.index) == getattr(classes, kind.upper())  # their class order is ours
        table[chosen["sample_id"]].to_csv(workdir / "raw" / f"{kind}.tsv", sep="\t")
    (workdir / "params.yaml").write_text(yaml.safe_dump(_tables_params("raw")))
    assert _run(["fit", "--params", "params.yaml", "--out", "run"]) == 0
    metrics = json.loads((workdir / "run" / "metrics.json").read_text())
    assert metrics["classes"] == sorted(TYPES)
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 400
    assert metrics["test"]["auroc"] > 0.7  # UV, tobacco and MMR spectra differ


def test_fit_on_simulated_somatic_variants(workdir: Path):
    simulate(
        SimulateParams(
            n_donors=45,
            types=["Skin-Melanoma", "Lung-SCC", "ColoRect-AdenoCA-MSI"],
            type_weights=[0.4, 0.3, 0.3],
            genome_mb=4.0,
            n_contigs=4,
            burden_scale=0.3,
        ),
        seed=5,
        out_dir=workdir / "raw",
    )
    raw = {
        "cohort": {
            "source": "variants",
            "name": "variants-fit",
            "path": "raw",
            "variants": {"germline": "germline", "window": {"flank": 50, "max_per_sample": 20}},
        },
        "model": TINY_MODEL,
        "train": TINY_TRAIN,
        "evaluate": {"ablations": False, "top_k": 3},
    }
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    assert _run(["fit", "--params", "params.yaml", "--out", "run"]) == 0
    metrics = json.loads((workdir / "run" / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 45
    assert metrics["test"]["auroc"] > 0.8  # UV, tobacco and MMR spectra are far apart
    record = json.loads((workdir / "run" / "fit.json").read_text())
    assert record["source"] == "variants" and record["ingest"]["windows"] <= 45 * 20
    assert (workdir / "run" / "splits" / "windows.parquet").exists()
