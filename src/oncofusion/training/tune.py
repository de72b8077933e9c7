"""Optuna tuning over the search space in params.yaml, every trial a nested MLflow run.

Storage is any SQLAlchemy URL (SQLite by default, PostgreSQL to scale out): several `oncofusion tune`
processes with the same study name and storage share one study. Heartbeats plus
RetryHeartbeatStaleTrialCallback (RetryFailedTrialCallback before Optuna 4.9) mean a killed worker's
trial is failed and re-queued, never left RUNNING.

Everything that can be wrong with the request (unreachable storage, a bad range, an unknown parameter,
a study holding another search space) fails before the first trial.

The objective is the trial model's validation log-loss before temperature scaling (lower is better).
Macro-F1 on a val split of ~150 samples is a step function: on the default cohort every reasonable
configuration reaches the same F1 (0.96464012490242 for all six trials), so the study could not tell
them apart and the "tuned" model was trial 0 winning a tie. The log-loss moves with every probability.
Temperature scaling is fitted on the same split, so scoring after it would let the calibrator hide
differences between trials.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import sqlalchemy
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.tracking import MlflowClient
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna_integration import PyTorchLightningPruningCallback

from oncofusion import progress, tracking
from oncofusion.cohort import Cohort
from oncofusion.config import TUNABLE, Params, SearchParam, TuneParams, parse_params
from oncofusion.errors import ConfigError
from oncofusion.training.train import fit

# What trials are pruned on, per epoch: the val log-loss the objective scores (1e6 while pre-training;
# the pruner's warm-up must cover that).
PRUNING_MONITOR = "val/nll_joint"
OBJECTIVE = "val_nll"  # the study minimises this (Calibration.val["nll_before"])
DIRECTION = optuna.study.StudyDirection.MINIMIZE
SPACE_ATTR = "oncofusion_search_space"
PARENT_ATTR = "mlflow_parent_run_id"


def storage_url(tune: TuneParams, root: Path | None = None) -> str:
    return (
        tune.storage
        or os.environ.get("OPTUNA_STORAGE")
        or f"sqlite:///{(root or Path.cwd()).resolve()}/optuna.db"
    )


def redact(url: str) -> str:
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return "<unparseable URL>"


class RetryAndCloseRun(RetryHeartbeatStaleTrialCallback):
    """Re-queue a dead worker's trial (Optuna's callback) and close its MLflow child run as FAILED,
    so neither Optuna nor MLflow keeps showing a trial nobody is running."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        super().__call__(study, trial)
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id:
            try:
                client = MlflowClient()
                client.set_tag(run_id, "optuna.state", "FAIL")
                client.set_tag(run_id, "optuna.error", "worker stopped sending heartbeats; trial re-queued")
                client.set_terminated(run_id, "FAILED")
            except Exception:  # the retry matters more than the bookkeeping
                pass


def open_storage(url: str, tune: TuneParams, attempts: int = 5) -> RDBStorage:
    """Open (and on first use create) the study storage.

    Workers started together on an empty database race to create Optuna's tables; the loser sees a
    duplicate-object error and simply retries once the winner's tables exist.
    """
    for attempt in range(1, attempts + 1):
        try:
            return RDBStorage(
                url,
                heartbeat_interval=tune.heartbeat_s,
                grace_period=3 * tune.heartbeat_s,
                heartbeat_stale_trial_callback=RetryAndCloseRun(max_retry=tune.max_retry),
                engine_kwargs={"pool_pre_ping": True},
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
        except (sqlalchemy.exc.SQLAlchemyError, ValueError, ImportError) as error:
            reason = str(error).strip().splitlines()[0]
            raise ConfigError(f"tune.storage: cannot open Optuna storage {redact(url)}: {reason}") from None
    raise AssertionError("unreachable")


def distribution(spec: SearchParam) -> BaseDistribution:
    if spec.type == "categorical":
        return CategoricalDistribution(spec.choices)  # type: ignore[arg-type]
    if spec.type == "int":
        return IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=int(spec.step or 1))  # type: ignore[arg-type]
    return FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)  # type: ignore[arg-type]


def suggest(trial: optuna.Trial, name: str, spec: SearchParam) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(name, spec.choices)  # type: ignore[arg-type]
    if spec.type == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log)  # type: ignore[arg-type]
    return trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)  # type: ignore[arg-type]


def space_signature(tune: TuneParams) -> str:
    """The search space as canonical JSON, stored on the study to refuse mixing spaces."""
    return json.dumps(
        {k: v.model_dump(mode="json") for k, v in sorted(tune.search_space.items())}, sort_keys=True
    )


def apply(params: Params, values: dict[str, Any]) -> Params:
    """Params with tuned values put into their sections, re-validated as a whole (d_model % heads...)."""
    raw = params.model_dump(mode="json", by_alias=True)
    for name, value in values.items():
        if name not in TUNABLE:
            raise ConfigError(f"tuned parameter '{name}' is not tunable; tunable: {sorted(TUNABLE)}")
        raw[TUNABLE[name]][name] = value
    return parse_params(raw, source="params with tuned values")


def make_pruner(tune: TuneParams) -> optuna.pruners.BasePruner:
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=tune.pruner_warmup_epochs)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, tune.pruner_warmup_epochs), max_resource=tune.max_epochs
        )
    return optuna.pruners.NopPruner()


def _check_space(study: optuna.Study, tune: TuneParams, url: str) -> None:
    declared = space_signature(tune)
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:
        used = {name for trial in study.get_trials(deepcopy=False) for name in trial.distributions}
        if used - set(tune.search_space):
            raise ConfigError(
                f"study '{study.study_name}' in {redact(url)} holds trials over {sorted(used)}, not the "
                f"search space in params.yaml; use a new tune.study name"
            )
        study.set_user_attr(SPACE_ATTR, declared)
    elif stored != declared:
        raise ConfigError(
            f"study '{study.study_name}' in {redact(url)} was created with a different search space:\n"
            f"  stored:   {stored}\n  declared: {declared}\n"
            "use a new tune.study name (or restore the old space)"
        )


def _parent_run(study: optuna.Study, experiment_id: str, url: str) -> str:
    """One MLflow parent run per study, shared by every worker (the first to arrive creates it)."""
    existing = study.user_attrs.get(PARENT_ATTR)
    if existing:
        return existing
    client = MlflowClient()
    run = client.create_run(
        experiment_id,
        run_name=f"tune-{study.study_name}",
        tags={"oncofusion.stage": "tune", "optuna.study": study.study_name, "optuna.storage": redact(url)},
    )
    # Workers starting together may each create one: the earliest (then smallest id) wins, the others
    # delete theirs. Every worker computes the same winner from the same search.
    candidates = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`optuna.study` = '{study.study_name}' and tags.`oncofusion.stage` = 'tune'",
    )
    parents = [r for r in candidates if "mlflow.parentRunId" not in r.data.tags]
    winner = min(parents, key=lambda r: (r.info.start_time, r.info.run_id)).info.run_id
    if winner != run.info.run_id:
        client.delete_run(run.info.run_id)
    study.set_user_attr(PARENT_ATTR, winner)
    return winner


@dataclass
class TuneResult:
    study: optuna.Study
    parent_run_id: str
    seconds: float

    def counts(self) -> dict[str, int]:
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        return {
            "n_trials": len(states),
            "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
            "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
            "n_failed": states.count(optuna.trial.TrialState.FAIL),
        }


class Objective:
    def __init__(self, cohort: Cohort, params: Params, parent_run_id: str) -> None:
        self.cohort, self.params, self.parent = cohort, params, parent_run_id
        self.client = MlflowClient()

    def __call__(self, trial: optuna.Trial) -> float:
        tune = self.params.tune
        values = {name: suggest(trial, name, spec) for name, spec in tune.search_space.items()}
        logger = MLFlowLogger(
            experiment_name=tracking.experiment_name(self.cohort.meta.name),
            tracking_uri=tracking.tracking_uri(),
            artifact_location=tracking.artifact_location(),
            run_name=f"trial-{trial.number}",
            tags={
                "mlflow.parentRunId": self.parent,
                "oncofusion.stage": "tune",
                "optuna.study": trial.study.study_name,
                "optuna.trial": str(trial.number),
            },
        )
        run_id = logger.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        logger.log_hyperparams(values)
        try:
            trial_params = apply(self.params, values)
            trial_params = trial_params.model_copy(
                # A trial trains one model early-stopped on val (the ensemble's members would each need
                # their own pruning decision); the tuned values then apply to every member.
                update={
                    "train": trial_params.train.model_copy(
                        update={
                            "max_epochs": tune.max_epochs,
                            "ensemble": trial_params.train.ensemble.model_copy(update={"folds": 1}),
                        }
                    )
                }
            )
            pruning = PyTorchLightningPruningCallback(trial, monitor=PRUNING_MONITOR)
            with tempfile.TemporaryDirectory(prefix="oncofusion-trial-") as work:
                result = fit(self.cohort, trial_params, Path(work), logger=logger, callbacks=[pruning])
            pruning.check_pruned()
        except optuna.TrialPruned:
            self._close(run_id, "PRUNED", "KILLED")
            raise
        except Exception as error:
            self.client.set_tag(run_id, "optuna.error", f"{type(error).__name__}: {error}"[:5000])
            self._close(run_id, "FAIL", "FAILED")
            raise
        value = float(result.calibration.val["nll_before"])
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("val_f1_macro", result.best_val_f1)
        self.client.log_metric(run_id, OBJECTIVE, value)
        self.client.log_metric(run_id, "val_f1_macro", result.best_val_f1)
        self._close(run_id, "COMPLETE", "FINISHED")
        return value

    def _close(self, run_id: str, state: str, status: str) -> None:
        self.client.set_tag(run_id, "optuna.state", state)
        self.client.set_terminated(run_id, status)


def run_study(
    cohort: Cohort,
    params: Params,
    *,
    study_name: str | None = None,
    storage: str | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
) -> TuneResult:
    tune = params.tune
    url = storage or storage_url(tune)
    rdb = open_storage(url, tune)
    # Ranges and names were checked by the config; combinations Optuna refuses (log with step) fail here.
    for name, spec in tune.search_space.items():
        try:
            distribution(spec)
        except ValueError as error:
            raise ConfigError(f"tune.search_space.{name}: {error}") from None
    sampler = optuna.samplers.TPESampler(seed=params.base.seed if seed is None else seed)
    study = optuna.create_study(
        study_name=study_name or tune.study,
        storage=rdb,
        direction=DIRECTION,
        sampler=sampler,
        pruner=make_pruner(tune),
        load_if_exists=True,
    )
    if study.direction != DIRECTION:
        raise ConfigError(
            f"study '{study.study_name}' in {redact(url)} {study.direction.name.lower()}s its objective; "
            f"oncofusion now minimises the validation log-loss: use a new tune.study name"
        )
    _check_space(study, tune, url)
    experiment_id = tracking.ensure_experiment(cohort.meta.name)
    parent = _parent_run(study, experiment_id, url)

    started = time.perf_counter()
    trials = n_trials or tune.n_trials
    with progress.task(f"tuning {study.study_name}", trials) as advance:

        def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            best = f"best {study.best_value:.4f}" if _has_complete(study) else "no trial complete yet"
            advance(note=f"trial {trial.number} {trial.state.name.lower()}; {best}")

        study.optimize(
            Objective(cohort, params, parent),
            n_trials=trials,
            timeout=tune.timeout_s,
            catch=(Exception,),  # a failing trial is recorded as FAIL and the study goes on
            gc_after_trial=True,
            callbacks=[show],
        )
    return TuneResult(study=study, parent_run_id=parent, seconds=time.perf_counter() - started)


def _has_complete(study: optuna.Study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))


def summarise(result: TuneResult, figures_dir: Path) -> dict[str, Any]:
    """Best params and counts; logs them with Optuna's plots to the parent run."""
    study = result.study
    counts = result.counts()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(
            f"study '{study.study_name}': no trial completed ({counts}); see the MLflow child runs"
        )
    best = study.best_trial
    summary = {
        "study": study.study_name,
        "objective": f"{OBJECTIVE}: validation log-loss before temperature scaling (lower is better)",
        "best_trial": best.number,
        "best_value": best.value,
        "best_val_f1_macro": best.user_attrs.get("val_f1_macro"),
        "spread": spread(complete),
        "params": best.params,
        "epochs": best.user_attrs.get("epochs"),
        "best_mlflow_run_id": best.user_attrs.get("mlflow_run_id"),
        "parent_run_id": result.parent_run_id,
        "seconds": round(result.seconds, 2),
        **counts,
    }
    figures = _plots(study, figures_dir)
    client = MlflowClient()
    for name, value in best.params.items():
        # Tags, not params: MLflow params are write-once, and a later worker may find a better trial.
        _set_shared_tag(client, result.parent_run_id, f"best.{name}", str(value))
    client.log_metric(result.parent_run_id, "best_value", best.value)
    for key, value in counts.items():
        client.log_metric(result.parent_run_id, key, value)
    with mlflow.start_run(run_id=result.parent_run_id):
        mlflow.log_dict(summary, "best_params.json")
        for figure in figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
    return summary


def spread(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """How far apart the completed trials scored: a study whose values do not differ tuned nothing."""
    values = np.array([t.value for t in trials], dtype=float)
    return {
        "n": len(values),
        "min": float(values.min()),
        "median": float(np.median(values)),
        "max": float(values.max()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "n_distinct": len(np.unique(np.round(values, 12))),
        "trials": [
            {"trial": t.number, "value": t.value, "val_f1_macro": t.user_attrs.get("val_f1_macro")}
            for t in trials
        ],
    }


def _set_shared_tag(client: MlflowClient, run_id: str, key: str, value: str, attempts: int = 3) -> None:
    """Set a tag on the parent run that every worker writes when it finishes. MLflow's SQL store
    looks the tag up, then inserts it: two workers finishing together can both insert, and the second
    fails on the primary key (seen in CI on PostgreSQL). A retry finds the row and updates it."""
    for attempt in range(attempts):
        try:
            client.set_tag(run_id, key, value)
            return
        except Exception:  # MlflowException wrapping the store's IntegrityError
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _plots(study: optuna.Study, figures_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    figures_dir.mkdir(parents=True, exist_ok=True)
    made = []
    plotters = {
        "optimization_history.png": optuna_plots.plot_optimization_history,
        "param_importances.png": optuna_plots.plot_param_importances,
    }
    for name, plot in plotters.items():
        try:
            axes = plot(study)
        except (ValueError, RuntimeError):  # e.g. importances need two completed trials
            continue
        figure = axes.figure if hasattr(axes, "figure") else plt.gcf()
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        figure.savefig(figures_dir / name, dpi=100)
        plt.close(figure)
        made.append(figures_dir / name)
    return made
