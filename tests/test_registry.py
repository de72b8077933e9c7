"""Registration and champion promotion against a real MLflow SQLite registry.

The champion is re-scored on the candidate's val split, so these tests register the first version with
a val number that is deliberately false: a promotion that trusted stored numbers would decide otherwise.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from oncofusion import faults, registry, tracking
from oncofusion.comparison import ValidationSet
from oncofusion.config import RegisterParams
from oncofusion.errors import OncofusionError
from oncofusion.models.bundle import LoadedModel, load_bundle
from oncofusion.stages.train import train_and_log

from .training.conftest import small_training_params

NAME = "oncofusion-classifier"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small model, trained and logged once for the module; each test gets its own registry."""
    from oncofusion.config import parse_params
    from oncofusion.data.split import stratified_split
    from oncofusion.data.synthetic.omics.cohort import generate_cohort

    root = tmp_path_factory.mktemp("registry")
    params = parse_params(small_training_params())
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
    cohort.save(root / "splits", validated_by={"report": "test"})
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/mlflow.db"
    cwd = Path.cwd()
    os.chdir(root)
    try:
        info = train_and_log(cohort, params, root / "models", root / "work")
    finally:
        os.chdir(cwd)
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return {
        "root": root,
        "uri": info["model_uri"],
        "params": params,
        "cohort": cohort,
        "model": load_bundle(root / "models" / "model.pt"),
    }


@pytest.fixture
def fresh_registry(trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A registry of its own per test (the logged run stays in the module's store: models are
    registered from its runs:/ URI, which any registry on the same tracking store can read)."""
    import shutil

    shutil.copy(trained["root"] / "mlflow.db", tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(trained["root"])  # artifacts (mlartifacts/) live beside the module's store
    tracking.use_tracking()
    return {**trained, "db": tmp_path / "mlflow.db", "validation": ValidationSet.of(trained["cohort"])}


def _champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def _register(setup: dict, val: dict, params: RegisterParams | None = None, model: LoadedModel | None = None):
    return registry.register_and_promote(
        setup["uri"],
        val,
        params or RegisterParams(),
        candidate=model or setup["model"],
        validation=setup["validation"],
    )


def test_promotes_only_a_candidate_that_beats_the_rescored_champion(fresh_registry: dict):
    client = MlflowClient()
    real = fresh_registry["validation"].score(fresh_registry["model"])["f1_macro"]
    # The first version's stored number is far below what it really scores on this val split.
    first = _register(fresh_registry, {"f1_macro": real - 0.5})
    assert first.promoted and first.version == "1" and "first model" in first.reason
    worse = _register(fresh_registry, {"f1_macro": real - 0.05})
    assert not worse.promoted and worse.champion_version == "1"
    assert worse.champion_value == pytest.approx(real)  # re-scored, not the stored real - 0.5
    assert "re-scored on the candidate's val split" in worse.reason
    assert _champion(client) == "1"
    tie = _register(fresh_registry, {"f1_macro": real})
    assert not tie.promoted  # must beat, not equal
    better = _register(fresh_registry, {"f1_macro": real + 0.05})
    assert better.promoted and _champion(client) == better.version == "4"
    assert better.validation == {
        "split": "val",
        "samples": int((fresh_registry["cohort"].labels["split"] == "val").sum()),
        "fingerprint": fresh_registry["validation"].fingerprint,
    }
    tags = client.get_model_version(NAME, "2").tags
    assert tags["oncofusion.promotion"].startswith("kept v1")
    assert tags["oncofusion.val_fingerprint"] == fresh_registry["validation"].fingerprint


def test_promotion_uses_the_configured_metric(fresh_registry: dict):
    real = fresh_registry["validation"].score(fresh_registry["model"])
    _register(fresh_registry, {"f1_macro": 0.0, "accuracy": 0.0})
    by_accuracy = RegisterParams(metric="accuracy")
    # Better on accuracy, worse on macro-F1: only the configured metric may decide.
    decision = _register(
        fresh_registry, {"accuracy": real["accuracy"] + 0.01, "f1_macro": real["f1_macro"] - 0.2}, by_accuracy
    )
    assert decision.metric == "val_accuracy" and decision.promoted
    assert decision.champion_value == pytest.approx(real["accuracy"])
    assert decision.candidate_value == pytest.approx(real["accuracy"] + 0.01)


@pytest.mark.parametrize(
    "change, expected",
    [
        ("classes", "classes differ"),
        ("features", "has other features"),
        ("modalities", "modalities differ"),
    ],
)
def test_a_model_of_another_schema_is_registered_but_never_promoted(
    fresh_registry: dict, change: str, expected: str
):
    _register(fresh_registry, {"f1_macro": 0.1})
    other = copy.copy(fresh_registry["model"])
    schema = copy.deepcopy(other.schema)
    first = next(iter(schema))
    if change == "classes":
        other.classes = [*other.classes[:-1], "another-type"]
    elif change == "features":
        schema[first]["features"] = ["renamed", *schema[first]["features"][1:]]
    else:
        del schema[first]
    other.schema = schema
    decision = _register(fresh_registry, {"f1_macro": 1.0}, model=other)
    assert not decision.promoted and expected in decision.reason and "not comparable" in decision.reason
    assert decision.champion_value is None
    assert _champion(MlflowClient()) == "1"
    tag = MlflowClient().get_model_version(NAME, decision.version).tags["oncofusion.promotion"]
    assert tag == decision.reason


def test_without_validation_data_the_champion_is_kept(fresh_registry: dict):
    _register(fresh_registry, {"f1_macro": 0.1})
    decision = registry.register_and_promote(fresh_registry["uri"], {"f1_macro": 1.0}, RegisterParams())
    assert not decision.promoted and "no validation data" in decision.reason
    assert _champion(MlflowClient()) == "1"


def test_broken_candidate_never_reaches_the_registry(fresh_registry: dict):
    with pytest.raises(OncofusionError, match="refusing to register"):
        _register(fresh_registry, {"f1_macro": float("nan")})
    assert MlflowClient().search_registered_models() == []


def _val(f1_macro: float) -> dict[str, float]:
    return {"f1_macro": f1_macro, "accuracy": 0.5, "f1_weighted": 0.5, "auroc": 0.5}


def _metrics_file(setup: dict, tmp_path: Path, val_f1: float, **changes: object) -> Path:
    """metrics.json as evaluate writes it for this model on this split, with a chosen val macro-F1."""
    metrics = tmp_path / "metrics.json"
    n_val = int((setup["cohort"].labels["split"] == "val").sum())
    val = {"f1_macro": val_f1, "accuracy": 0.5, "f1_weighted": 0.5, "auroc": 0.5}
    document = {"val": val, "classes": list(setup["model"].classes), "n_val": n_val, **changes}
    metrics.write_text(json.dumps(document))
    return metrics


def _register_command(setup: dict, tmp_path: Path, val_f1: float) -> list[str]:
    metrics = _metrics_file(setup, tmp_path, val_f1)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(setup["params"].model_dump(mode="json", by_alias=True)))
    return [
        sys.executable, "-m", "oncofusion.cli", "register",
        "--params", str(params),
        "--model", str(setup["root"] / "models"),
        "--metrics", str(metrics),
        "--cohort", str(setup["root"] / "splits"),
        "--out", str(tmp_path / "registry.json"),
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("point", ["register.after_version", "register.before_alias"])
def test_register_killed_before_the_alias_moves_keeps_the_old_champion(
    fresh_registry: dict, tmp_path: Path, point: str
):
    """SIGKILL the real `oncofusion register` between creating the version and moving the alias."""
    client = MlflowClient()
    _register(fresh_registry, {"f1_macro": 0.1})
    real = fresh_registry["validation"].score(fresh_registry["model"])["f1_macro"]
    command = _register_command(fresh_registry, tmp_path, real + 0.05)  # would be promoted
    marker = tmp_path / "paused"
    env = {**os.environ, faults.PAUSE_AT: point, faults.PAUSE_FILE: str(marker)}
    process = subprocess.Popen(command, env=env, cwd=fresh_registry["root"])
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, f"register exited ({process.returncode}) before reaching {point}"
        assert time.monotonic() < deadline, f"register never reached {point}"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    assert _champion(client) == "1"  # the crash left the old champion serving
    orphan = client.get_model_version(NAME, "2")
    if point == "register.before_alias":  # the decision is on record before the alias can move
        assert orphan.tags["oncofusion.promotion"].startswith("promoted v2")
    assert not (tmp_path / "registry.json").exists()

    rerun = subprocess.run(command, cwd=fresh_registry["root"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    decision = json.loads((tmp_path / "registry.json").read_text())
    assert decision["promoted"] and decision["version"] == "3" and _champion(client) == "3"


def test_register_stage_records_the_decision(fresh_registry: dict, tmp_path: Path):
    import oncofusion.stages.register  # noqa: F401
    from oncofusion import stages

    metrics = _metrics_file(fresh_registry, tmp_path, 0.5)
    root = fresh_registry["root"]
    decision = stages.register.register(
        fresh_registry["params"], root / "models", metrics, tmp_path / "registry.json", root / "splits"
    )
    saved = json.loads((tmp_path / "registry.json").read_text())
    assert saved == decision and saved["promoted"] is True and saved["metric"] == "val_f1_macro"
    assert saved["validation"]["fingerprint"] == fresh_registry["validation"].fingerprint


@pytest.mark.parametrize("change", [{"n_val": 3}, {"classes": ["A", "B"]}])
def test_metrics_of_another_split_or_model_are_refused(fresh_registry: dict, tmp_path: Path, change: dict):
    import oncofusion.stages.register  # noqa: F401
    from oncofusion import stages
    from oncofusion.errors import CohortError

    metrics = _metrics_file(fresh_registry, tmp_path, 0.5, **change)
    root = fresh_registry["root"]
    with pytest.raises(CohortError, match="does not describe"):
        stages.register.register(
            fresh_registry["params"], root / "models", metrics, tmp_path / "r.json", root / "splits"
        )
    assert MlflowClient().search_registered_models() == []
