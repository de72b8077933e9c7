"""`oncofusion fit`: cohort → validate → split → train → evaluate without DVC, all under one directory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from oncofusion import atomic, tracking
from oncofusion.config import Params
from oncofusion.stages.cohort import build_cohort
from oncofusion.stages.evaluate import evaluate
from oncofusion.stages.split import split
from oncofusion.stages.train import train
from oncofusion.stages.validate import validate


def fit(params: Params, out_dir: Path, root: Path = Path(".")) -> dict[str, Any]:
    """cohort → validate → split → train → evaluate without DVC, everything under ``out_dir``.

    Writes ``out_dir/metrics.json`` (the ARCHITECTURE.md schema) and ``out_dir/fit.json`` (what ran,
    how long each step took, the ingest decisions). The model is logged to MLflow as in the pipeline
    (tuning is a pipeline stage; `fit` trains with params.yaml's model and train sections as given),
    in ``out_dir/mlflow.db`` unless ``MLFLOW_TRACKING_URI`` names a store: a run started anywhere
    leaves no store behind in the current directory.
    """
    atomic.require_writable(out_dir / "metrics.json")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tracking.local_store(out_dir) as store:
        return _fit(params, out_dir, root, store)


def _fit(params: Params, out_dir: Path, root: Path, store: str) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    stale_files = (
        "metrics.json",
        "metrics_per_class.json",
        "split_per_class.json",
        "fit.json",
        "ablations.json",
        "interpretation.json",
        "calibration.json",
        "cross_study.json",
    )
    for stale in stale_files:
        (out_dir / stale).unlink(
            missing_ok=True
        )  # a failed re-run must not leave old results looking current
    shutil.rmtree(out_dir / "model", ignore_errors=True)

    def step(name: str, began: float) -> None:
        seconds[name] = round(time.perf_counter() - began, 2)

    began = time.perf_counter()
    built = build_cohort(params, out_dir / "cohort", root)
    step("cohort", began)
    began = time.perf_counter()
    validate(params, out_dir / "cohort", out_dir / "validation")
    step("validate", began)
    began = time.perf_counter()
    split(params, out_dir / "cohort", out_dir / "validation", out_dir / "splits", out_dir / "split.json")
    step("split", began)
    began = time.perf_counter()
    info = train(params, out_dir / "splits", out_dir / "model", out_dir / "checkpoints")
    step("train", began)
    began = time.perf_counter()
    result = evaluate(params, out_dir / "splits", out_dir / "model", out_dir)
    step("evaluate", began)
    seconds["total"] = round(time.perf_counter() - started, 2)
    record = {
        "cohort": params.cohort.name,
        "source": params.cohort.source,
        "n_samples": len(built.cohort.labels),
        "modalities": {m: s.n_features for m, s in built.cohort.meta.modalities.items()},
        "decisions": built.decisions.items,
        "ingest": built.stats,
        "seconds": seconds,
        "mlflow_run_id": info["run_id"],
        "tracking_uri": store,
        "model_uri": info["model_uri"],
        "metrics": str(out_dir / "metrics.json"),
    }
    atomic.write_json(out_dir / "fit.json", record)
    return {
        **record,
        "test": result["metrics"]["test"],
        "val": result["metrics"]["val"],
        "comparison": result["ablations"]["summary"],
        "intervals": result["ablations"]["bootstrap"]["intervals"],
        "repeats": result["ablations"].get("repeats"),
        "cross_study": result["cross_study"],
    }
