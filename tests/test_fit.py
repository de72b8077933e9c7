"""`oncofusion fit` end to end on a generated bring-your-own cohort with a missing-modality subset."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from oncofusion.cli import main
from oncofusion.cohort import Cohort
from oncofusion.data.synthetic.example_tables import write_example_params, write_example_tables
from oncofusion.models.bundle import load_bundle
from oncofusion.models.pyfunc import SEPARATOR

TINY_MODEL = {"d_model": 32, "n_heads": 2, "n_layers": 1, "hidden": 32, "channels": 4, "gru_hidden": 4}
TINY_TRAIN = {
    "max_epochs": 20,
    "pretrain_epochs": 2,
    "batch_size": 32,
    "warmup_epochs": 1,
    "lr": 0.003,
    "ensemble": {"folds": 2, "workers": 1},
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_fit_runs_validate_train_evaluate_on_own_tables(workdir: Path, capsys: pytest.CaptureFixture[str]):
    write_example_tables(workdir / "raw", n_samples=240, n_features=24, seed=1)
    write_example_params(
        workdir / "params.yaml",
        "raw",
        24,
        {"model": TINY_MODEL, "train": TINY_TRAIN, "evaluate": {"ablations": False, "top_k": 3}},
    )
    assert _run(["fit", "--params", "params.yaml", "--out", "run"]) == 0
    printed = capsys.readouterr().out
    assert "fit 240 samples" in printed and "test: accuracy" in printed

    metrics = json.loads((workdir / "run" / "metrics.json").read_text())
    for split in ("test", "val"):
        assert set(metrics[split]) == {"accuracy", "f1_macro", "f1_weighted", "auroc"}
    assert metrics["classes"] == ["BRCA", "COAD", "LUAD", "PRAD"]
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 240
    assert metrics["test"]["auroc"] > 0.6  # the planted signal is learnable in a few epochs

    cohort = Cohort.load(workdir / "run" / "splits")
    assert len(cohort.modalities["protein"]) < 240  # measured on a subset; the model masked the rest
    record = json.loads((workdir / "run" / "fit.json").read_text())
    assert set(record["seconds"]) == {"cohort", "validate", "split", "train", "evaluate", "total"}

    # The model takes raw values: its fitted log1p + top-k (rna) and z-scoring (protein) are inside it,
    # and the MLflow model (what the registry and the bento serve) gives the same answer.
    model = load_bundle(workdir / "run" / "model" / "model.pt")
    rna = model.net.preprocess["rna"]
    assert rna.transform == "log1p" and len(rna.keep) == 12 and rna.keep.tolist() != list(range(12))
    assert model.schema["rna"]["features"] == [f"GENE{j}" for j in range(24)]
    test_ids = cohort.labels.loc[cohort.labels["split"] == "test", "sample_id"].tolist()[:6]
    columns = {}
    for name in model.modalities:
        table = cohort.modalities[name].reindex(test_ids)
        for feature in table.columns:
            columns[f"{name}{SEPARATOR}{feature}"] = table[feature].to_numpy(dtype="float64")
    frame = pd.DataFrame(columns)
    served = mlflow.pyfunc.load_model(record["model_uri"]).predict(frame)
    assert served.shape[0] == 6 and np.isfinite(served.filter(like="p_").to_numpy()).all()
    inputs = {m: cohort.modalities[m].reindex(test_ids).to_numpy(dtype=np.float32) for m in model.modalities}
    direct = model.predict(
        inputs, np.stack([~np.isnan(inputs[m]).all(axis=1) for m in model.modalities], axis=1)
    )
    np.testing.assert_allclose(
        served.filter(like="p_").to_numpy(), direct["probabilities"], rtol=1e-5, atol=1e-6
    )


def test_fit_stops_before_training_on_a_validation_failure(workdir: Path, capsys: pytest.CaptureFixture[str]):
    write_example_tables(workdir / "raw", n_samples=60, n_features=12, seed=2)
    methylation = pd.read_parquet(workdir / "raw" / "methylation.parquet")
    methylation.loc[3, "cg00000004"] = 1.7  # a β value above 1
    methylation.to_parquet(workdir / "raw" / "methylation.parquet", index=False)
    write_example_params(workdir / "params.yaml", "raw", 12, {"model": TINY_MODEL, "train": TINY_TRAIN})
    assert _run(["fit", "--params", "params.yaml", "--out", "run"]) == 1
    error = capsys.readouterr().err
    assert "methylation.parquet" in error and "cg00000004" in error
    assert not (workdir / "run" / "model").exists() and not (workdir / "run" / "metrics.json").exists()


def test_fit_reports_intervals_repeats_calibration_and_conformal_sets(
    workdir: Path, capsys: pytest.CaptureFixture[str]
):
    write_example_tables(workdir / "raw", n_samples=240, n_features=24, seed=1)
    write_example_params(
        workdir / "params.yaml",
        "raw",
        24,
        {
            "model": TINY_MODEL,
            "train": TINY_TRAIN,
            "evaluate": {"ablations": False, "top_k": 3, "bootstrap": 200},
        },
    )
    assert _run(["fit", "--params", "params.yaml", "--out", "run", "--repeats", "2"]) == 0
    printed = capsys.readouterr().out
    assert "fusion test macro-F1" in printed and "[95% CI" in printed and "over 2 repeats" in printed

    table = json.loads((workdir / "run" / "ablations.json").read_text())
    intervals = table["bootstrap"]["intervals"]
    low, high = intervals["fusion_transformer"]["ci95"]
    assert low <= intervals["fusion_transformer"]["f1_macro"] <= high
    assert intervals["fusion_minus_logistic_regression"]["verdict"] in (
        "within noise",
        "fusion_transformer better",
        "logistic_regression better",
    )
    assert table["summary"]["fusion_minus_best_baseline_ci95"]
    # The trained model's share of transformer logits, as train chose it; baselines have none.
    info = json.loads((workdir / "run" / "model" / "train.json").read_text())
    assert table["deep_weight"] == {"fusion_transformer": info["deep_weight"]["deep_weight"]}
    repeats = table["repeats"]
    assert repeats["repeats"] == 2 and repeats["seeds"] == [42, 43]
    row = repeats["rows"]["fusion_transformer"]["f1_macro"]
    assert len(row["values"]) == 2 and row["mean"] == pytest.approx(sum(row["values"]) / 2, abs=1e-3)
    # Repeat 0 is the run itself; repeat 1 re-drew the split (the example tables give none).
    metrics = json.loads((workdir / "run" / "metrics.json").read_text())
    assert row["values"][0] == pytest.approx(metrics["test"]["f1_macro"], abs=1e-4)
    # Re-drawn splits of one cohort: the paired difference gets the corrected resampled interval.
    against = repeats["f1_macro_differences"]["fusion_minus_logistic_regression"]
    low, high = against["ci95_corrected"]
    assert low <= against["mean"] <= high and "Nadeau" in repeats["interval"]

    calibration = json.loads((workdir / "run" / "calibration.json").read_text())
    assert calibration["test"]["temperature"] > 0
    conformal = calibration["conformal"]
    assert conformal["coverage"] == 0.9 and 0.0 <= conformal["test"]["coverage"] <= 1.0
    assert metrics["test_conformal"]["mean_set_size"] >= 1.0 or conformal["test"]["empty_share"] > 0
    assert (workdir / "run" / "figures" / "reliability.png").exists()
    # The label-shift check: the example tables' test split is drawn like training, so no shift.
    shift = calibration["label_shift"]
    assert sum(shift["estimated_frequency"]["test"].values()) == pytest.approx(1.0, abs=1e-3)
    assert metrics["test_label_shift"]["p_value"] == shift["shift_p_value"]
    assert shift["shifted"] is (shift["shift_p_value"] < 0.01 <= shift["shift_p_value_val"])
    expected = "shifted" if shift["shifted"] else "no shift"
    assert shift["verdict"] == (expected if shift["shift_p_value_val"] >= 0.01 else "cannot tell")
    with pytest.raises(SystemExit):  # typer refuses --repeats 0 before any work
        main(["fit", "--params", "params.yaml", "--out", "again", "--repeats", "0"])
    assert not (workdir / "again").exists()


def test_fit_keeps_its_mlflow_store_beside_the_run_not_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Run from elsewhere with no MLFLOW_TRACKING_URI: the store lands in OUT, and the command says so."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_example_tables(project / "raw", n_samples=120, n_features=12, seed=2)
    train = {**TINY_TRAIN, "max_epochs": 3, "ensemble": {"folds": 1, "workers": 1}}
    write_example_params(
        project / "params.yaml",
        str(project / "raw"),
        12,
        {
            "model": TINY_MODEL,
            "train": train,
            "evaluate": {"baselines": False, "ablations": False, "top_k": 3},
        },
    )
    monkeypatch.chdir(elsewhere)
    assert _run(["fit", "--params", str(project / "params.yaml"), "--out", str(project / "run")]) == 0
    assert (project / "run" / "mlflow.db").is_file() and (project / "run" / "mlartifacts").is_dir()
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlartifacts").exists()
    record = json.loads((project / "run" / "fit.json").read_text())
    assert record["tracking_uri"] == f"sqlite:///{(project / 'run').resolve()}/mlflow.db"
    assert record["tracking_uri"] in capsys.readouterr().out.replace("\n", "")
