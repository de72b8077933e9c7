"""Registration and champion promotion against a real MLflow SQLite registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from oncofusion import registry
from oncofusion.config import RegisterParams
from oncofusion.errors import OncofusionError
from oncofusion.training.run import train_and_log


@pytest.fixture
def logged_model(split_cohort, train_params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    info = train_and_log(split_cohort, train_params, tmp_path / "models", tmp_path / "work")
    registry.use_tracking()
    return info["model_uri"]


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias("oncofusion-classifier", "champion").version)


def test_promotes_only_a_better_candidate(logged_model: str):
    params = RegisterParams()
    client = MlflowClient()
    first = registry.register_and_promote(logged_model, {"f1_macro": 0.70}, params)
    assert first.promoted and first.version == "1" and "first model" in first.reason
    worse = registry.register_and_promote(logged_model, {"f1_macro": 0.65}, params)
    assert not worse.promoted and worse.champion_version == "1"
    assert "kept v1 as @champion" in worse.reason and "0.6500 <= 0.7000" in worse.reason
    assert _champion(client) == "1"
    tie = registry.register_and_promote(logged_model, {"f1_macro": 0.70}, params)
    assert not tie.promoted  # must beat, not equal
    better = registry.register_and_promote(logged_model, {"f1_macro": 0.75}, params)
    assert better.promoted and _champion(client) == better.version == "4"
    tags = client.get_model_version("oncofusion-classifier", "2").tags
    assert tags["oncofusion.promotion"].startswith("kept v1") and tags["val_f1_macro"] == "0.650000"


def test_failed_promotion_leaves_the_old_champion(logged_model: str, monkeypatch: pytest.MonkeyPatch):
    registry.register_and_promote(logged_model, {"f1_macro": 0.70}, RegisterParams())

    def broken(*args, **kwargs):
        raise ConnectionError("registry went away")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", broken)
    with pytest.raises(ConnectionError):
        registry.register_and_promote(logged_model, {"f1_macro": 0.90}, RegisterParams())
    monkeypatch.undo()
    assert _champion(MlflowClient()) == "1"


def test_broken_candidate_never_reaches_the_registry(logged_model: str):
    with pytest.raises(OncofusionError, match="refusing to register"):
        registry.register_and_promote(logged_model, {"f1_macro": float("nan")}, RegisterParams())
    assert MlflowClient().search_registered_models() == []


def test_register_stage_records_the_decision(logged_model: str, tmp_path: Path, train_params):
    from oncofusion import stages

    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps({"val": {"f1_macro": 0.5, "accuracy": 0.5, "f1_weighted": 0.5, "auroc": 0.5}})
    )
    decision = stages.register(train_params, tmp_path / "models", metrics, tmp_path / "registry.json")
    saved = json.loads((tmp_path / "registry.json").read_text())
    assert saved == decision and saved["promoted"] is True and saved["metric"] == "val_f1_macro"
