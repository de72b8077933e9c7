"""The MLflow side of ``train --resume``: a resumed training continues the run it started.

The train stage records its MLflow run id in the work directory (beside the checkpoints) before the
first epoch. ``--resume`` reopens that run, so one model's curves, params and model live in one run
however often its training was cut. Two seams need care:

- params are immutable in MLflow: a resume logs only params the run lacks, and records values that
  changed (e.g. a longer ``train.max_epochs``) in a tag instead of failing;
- curves: Lightning writes an epoch's checkpoint before it logs that epoch's training metrics, so a
  process killed in between leaves the epoch's checkpoint without its train metrics in the run. The
  per-epoch history travels in the checkpoint; after a resumed fit every (metric, step) the run lacks
  is logged from it. A kill after an epoch's validation but before its checkpoint makes the resumed
  run log that epoch again, with the same values (training is deterministic per epoch on CPU).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from oncofusion import atomic
from oncofusion.errors import ConfigError

RUN_RECORD = "mlflow_run.json"


def recorded_run(work_dir: Path) -> str | None:
    """The MLflow run id a previous training in ``work_dir`` started, or None."""
    record = work_dir / RUN_RECORD
    if not record.exists():
        return None
    try:
        return str(json.loads(record.read_text())["run_id"])
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(
            f"{record}: unreadable run record ({error}); delete it to start a new run"
        ) from None


def record_run(work_dir: Path, run_id: str, tracking_uri: str) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_json(work_dir / RUN_RECORD, {"run_id": run_id, "tracking_uri": tracking_uri})


def check_run(client: MlflowClient, run_id: str, work_dir: Path) -> None:
    """The recorded run must exist in the tracking store in use (not in another one)."""
    try:
        client.get_run(run_id)
    except MlflowException:
        raise ConfigError(
            f"--resume: {work_dir / RUN_RECORD} names MLflow run {run_id}, which the tracking store "
            "in use does not hold (was MLFLOW_TRACKING_URI changed?); set it back, or train without --resume"
        ) from None


def log_params_once(client: MlflowClient, run_id: str, params: dict[str, Any]) -> dict[str, list[str]]:
    """Log the params the run lacks (as Lightning's MLFlowLogger would write them); return the ones
    whose value differs from the run's, as ``{key: [logged, now]}``, recorded in a tag."""
    flat = {k: str(v)[:250] for k, v in _flatten_dict(_convert_params(params)).items()}
    logged = client.get_run(run_id).data.params
    missing = [Param(k, v) for k, v in flat.items() if k not in logged]
    for start in range(0, len(missing), 100):
        client.log_batch(run_id, params=missing[start : start + 100])
    changed = {k: [logged[k], v] for k, v in flat.items() if k in logged and logged[k] != v}
    if changed:
        client.set_tag(run_id, "oncofusion.resume.changed_params", json.dumps(changed)[:5000])
    return changed


def log_absent(client: MlflowClient, run_id: str, series: dict[str, dict[int, float]]) -> int:
    """Log each (metric, step) of ``series`` that the run does not hold yet; returns how many."""
    now = int(time.time() * 1000)
    new: list[Metric] = []
    for key, values in series.items():
        held = {m.step for m in client.get_metric_history(run_id, key)}
        new += [Metric(key, float(v), now, int(step)) for step, v in values.items() if step not in held]
    for start in range(0, len(new), 1000):
        client.log_batch(run_id, metrics=new[start : start + 1000])
    return len(new)


def backfill_epochs(client: MlflowClient, run_id: str, rows: Iterable[dict[str, float]]) -> int:
    """Log the per-epoch history's values the run lacks, at the step Lightning logged that epoch at
    (read from the run's ``epoch`` metric, which Lightning logs with the epoch's validation metrics)."""
    steps: dict[int, int] = {}
    for entry in client.get_metric_history(run_id, "epoch"):
        steps[int(entry.value)] = max(steps.get(int(entry.value), 0), int(entry.step))
    series: dict[str, dict[int, float]] = {}
    for row in rows:
        step = steps.get(int(row["epoch"]))
        if step is None:
            continue
        for key, value in row.items():
            if key != "epoch":
                series.setdefault(key, {})[step] = value
    return log_absent(client, run_id, series)
