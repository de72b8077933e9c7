"""`oncofusion fit --test-cohort`: another study's cohort scored beside the held-out split, with a modality
missing there and another class mix; and the external cohorts that must be refused, naming what differs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.cli import main
from oncofusion.config import load_params
from oncofusion.data.synthetic.example_tables import write_example_params, write_example_tables
from oncofusion.errors import CohortError
from oncofusion.evaluation.external_cohort import load_external_cohort
from oncofusion.models.bundle import load_bundle

from .test_fit import TINY_MODEL, TINY_TRAIN

SHARE_IN_EXTERNAL = {"BRCA": 0.1, "LUAD": 0.15, "COAD": 0.5, "PRAD": 0.5}  # another class mix


def _split_studies(root: Path) -> None:
    """One generated cohort cut in two: 'raw' trains; 'other' (another class mix, no protein file) tests."""
    write_example_tables(root / "all", n_samples=400, n_features=24, seed=1)
    labels = pd.read_csv(root / "all" / "labels.csv")
    rng = np.random.default_rng(0)
    external = rng.random(len(labels)) < labels["label"].map(SHARE_IN_EXTERNAL).to_numpy()
    rna = pd.read_csv(root / "all" / "rna.tsv", sep="\t", index_col=0)
    methylation = pd.read_parquet(root / "all" / "methylation.parquet")
    protein = pd.read_csv(root / "all" / "protein.csv")
    for name, rows in (("raw", ~external), ("other", external)):
        directory = root / name
        directory.mkdir()
        ids = set(labels.loc[rows, "sample_id"])
        labels[rows].to_csv(directory / "labels.csv", index=False)
        rna[[c for c in rna.columns if c in ids]].to_csv(directory / "rna.tsv", sep="\t")
        methylation[methylation["sample_id"].isin(ids)].to_parquet(
            directory / "methylation.parquet", index=False
        )
        if name == "raw":
            protein[protein["sample_id"].isin(ids)].to_csv(directory / "protein.csv", index=False)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    _split_studies(root)
    overrides = {"model": TINY_MODEL, "train": TINY_TRAIN, "evaluate": {"ablations": False, "top_k": 3}}
    write_example_params(root / "params.yaml", str(root / "raw"), 24, overrides)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    try:
        main(
            [
                "fit",
                "--params",
                str(root / "params.yaml"),
                "--out",
                str(root / "run"),
                "--test-cohort",
                str(root / "other"),
            ]
        )
    except SystemExit as exit_:
        assert not exit_.code
    finally:
        mp.undo()
    return root


def test_cross_study_report_sits_beside_the_in_study_one(studies: Path):
    cross = json.loads((studies / "run" / "cross_study.json").read_text())
    assert cross["modalities_present_share"]["protein"] == 0.0
    assert any("protein" in line for line in cross["ingest_decisions"])
    for split in ("in_study", "cross_study"):
        rows = cross["f1_macro"][split]
        assert {"fusion_transformer", "logistic_regression", "gradient_boosting"} <= set(rows)
        low, high = rows["fusion_transformer"]["ci95"]
        assert low <= rows["fusion_transformer"]["f1_macro"] <= high
    gap = cross["accuracy"]["fusion_transformer"]
    assert gap["gap"] == pytest.approx(gap["in_study"] - gap["cross_study"], abs=1e-3)
    # the label-shift estimate moves towards the external mix (COAD and PRAD over-represented)
    estimated = cross["label_shift"]["estimated"]
    training = pd.read_csv(studies / "raw" / "labels.csv")["label"].value_counts(normalize=True)
    assert estimated["COAD"] + estimated["PRAD"] > training["COAD"] + training["PRAD"]
    sets = cross["sets"]
    assert sets["now"]["empty_share"] == 0.0 and sets["now"]["called_in_set_share"] == 1.0
    assert sets["now"]["coverage"] > sets["before"]["coverage"]  # per-pattern thresholds: protein missing
    assert "guarantee" in cross["covariate_shift"]
    metrics = json.loads((studies / "run" / "metrics.json").read_text())
    assert (
        metrics["cross_study"]["f1_macro"]
        == cross["f1_macro"]["cross_study"]["fusion_transformer"]["f1_macro"]
    )
    calibration = json.loads((studies / "run" / "calibration.json").read_text())
    patterns = calibration["conformal"]["patterns"]["patterns"]
    assert len(patterns) == 7 and all(row["now"]["empty_share"] == 0.0 for row in patterns.values())


def _copy_other(studies: Path, name: str) -> Path:
    target = studies / name
    target.mkdir()
    for path in (studies / "other").iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_an_external_cohort_with_an_unknown_class_is_refused(studies: Path):
    other = _copy_other(studies, "other-classes")
    labels = pd.read_csv(other / "labels.csv")
    labels.loc[labels.index[:3], "label"] = "GBM"
    labels.to_csv(other / "labels.csv", index=False)
    model = load_bundle(studies / "run" / "model" / "model.pt")
    with pytest.raises(CohortError, match=r"classes the model was not trained on: \['GBM'\]"):
        load_external_cohort(load_params(studies / "params.yaml"), other, model)


def test_an_external_cohort_with_other_features_is_refused(studies: Path):
    other = _copy_other(studies, "other-features")
    rna = pd.read_csv(other / "rna.tsv", sep="\t", index_col=0)
    rna.rename(index={"GENE0": "GENE_X"}).to_csv(other / "rna.tsv", sep="\t")
    model = load_bundle(studies / "run" / "model" / "model.pt")
    with pytest.raises(CohortError, match=r"modality 'rna' has other features.*GENE0.*GENE_X"):
        load_external_cohort(load_params(studies / "params.yaml"), other, model)
