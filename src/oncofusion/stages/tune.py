"""Stage `tune`: an Optuna study over the search space, each trial a tracked MLflow child run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.config import Params
from oncofusion.stages.inputs import split_cohort


def tune(
    params: Params,
    cohort_dir: Path,
    out_dir: Path,
    *,
    study: str | None = None,
    storage: str | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    from oncofusion.training.tune import run_study, summarise

    atomic.require_writable(out_dir / "best_params.json", out_dir / "figures")
    cohort, stamp = split_cohort(cohort_dir)
    if (n_trials if n_trials is not None else params.tune.n_trials) == 0:
        return _untuned(out_dir)
    if study is None:
        study = default_study_name(params, stamp["data_fingerprint"])
    result = run_study(cohort, params, study_name=study, storage=storage, n_trials=n_trials, seed=seed)
    summary = summarise(result, out_dir / "figures")
    atomic.write_json(out_dir / "best_params.json", summary)
    keys = ("best_value", "best_val_f1_macro", "n_trials", "n_complete", "n_pruned", "n_failed", "seconds")
    record = {k: summary[k] for k in keys}
    record["spread"] = {k: v for k, v in summary["spread"].items() if k != "trials"}
    atomic.write_json(out_dir / "summary.json", record)
    return summary


def _untuned(out_dir: Path) -> dict[str, Any]:
    """`tune.n_trials: 0`: no study. The record says so and carries no values, so the train stage (which
    always reads it) trains with the params file as written."""
    summary: dict[str, Any] = {
        "study": None,
        "params": {},
        "best_value": None,
        "best_val_f1_macro": None,
        "spread": None,
        "best_trial": None,
        "n_trials": 0,
        "n_complete": 0,
        "n_pruned": 0,
        "n_failed": 0,
        "seconds": 0.0,
        "note": "tune.n_trials is 0: not tuned; train uses the params as given",
    }
    with atomic.atomic_directory(out_dir / "figures") as figures:  # the stage's outputs exist, and say why
        (figures / "README.txt").write_text(
            "tune.n_trials is 0: no study was run, so there are no figures.\n"
        )
    atomic.write_json(out_dir / "best_params.json", summary)
    keys = ("best_value", "best_val_f1_macro", "spread", "n_trials", "n_complete", "n_pruned", "n_failed")
    atomic.write_json(out_dir / "summary.json", {k: summary[k] for k in (*keys, "seconds")})
    return summary


def default_study_name(params: Params, data_fingerprint: str, code: str | None = None) -> str:
    """`<tune.study>-<hash>` of everything a trial depends on: params, data and the code that runs the
    trials. A pipeline re-run after any of them changed is a new study (and a new MLflow parent run),
    so no result depends on trials of an older code version left in a local optuna.db; workers sharing
    a study pass --study."""
    inputs = params.model_dump(mode="json", by_alias=True, include={"base", "model", "train", "tune"})
    identity = [inputs, data_fingerprint, code if code is not None else code_fingerprint()]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{params.tune.study}-{digest[:10]}"


def code_fingerprint(package_dir: Path | None = None) -> str:
    """A content hash of the package's Python sources (paths and bytes), i.e. of what a trial runs."""
    package_dir = package_dir or Path(__file__).parents[1]
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
