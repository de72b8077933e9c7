"""Fit the fusion classifier on a split cohort with Lightning: one model, or a cross-validated ensemble.

Everything that can be wrong with the request (unknown modality or encoder, a class count that does not
match the labels, too few samples for the folds, a class missing from the calibration split) is checked
before a single step runs.

With ``train.ensemble.folds = k > 1`` the training split is cut into k stratified folds; member i trains on
the other k − 1 and early-stops on fold i. The val split is never trained or stopped on: it calibrates
the ensemble (temperature, conformal thresholds) and scores it for the registry.

Resuming reproduces an uninterrupted run exactly on CPU: every source of randomness is reseeded at each
epoch's start from (seed, epoch), the batch order depends on (seed, epoch) only, and everything else that
carries over (weights, optimiser, scheduler, early stopping, the best checkpoint, the per-epoch history)
is in the epoch-end checkpoint.

One model (``ensemble.folds = 1``) can train data-parallel (Lightning DDP) on ``train.devices`` ×
``train.num_nodes`` processes: each global batch is split across the ranks, every rank validates on the
whole stopping set with the same weights (DDP broadcasts rank 0's BatchNorm statistics at every
forward, validation included), so early stopping and the checkpoint choice agree on every rank; the
ranks' final weights are compared at the end and a difference fails the run.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.strategies import DDPStrategy
from sklearn.model_selection import StratifiedKFold

from oncofusion import progress
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.errors import ConfigError, OncofusionError
from oncofusion.models.classifier import FusionClassifier
from oncofusion.models.encoders import DEFAULT_ENCODER
from oncofusion.models.losses import inverse_frequency_alpha
from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput
from oncofusion.models.preprocess import output_width
from oncofusion.training.calibrate import Calibration, calibrate
from oncofusion.training.data import (
    CohortDataModule,
    CohortTensors,
    InMemoryBatches,
    cohort_tensors,
    concat,
    subset,
)
from oncofusion.training.deep_weight import DeepWeightChoice, choose_deep_weight
from oncofusion.training.wide_start import WideStart, screen, start_from_logistic_regression

MONITOR = "val/f1_macro_joint"  # what tuning prunes on (logged in every run)
MONITORS = {
    "val_loss": ("val/nll_joint", "min"),
    "val_balanced_loss": ("val/nll_balanced_joint", "min"),
    "val_f1_macro": ("val/f1_macro_joint", "max"),
}


def resolve_architecture(cohort: Cohort, params: Params) -> Architecture:
    model = params.model
    available = list(cohort.meta.modalities)
    chosen = model.modalities or available
    absent = [m for m in chosen if m not in available]
    if absent:
        raise ConfigError(f"model.modalities: {absent} not in the cohort (it has {available})")
    stray = sorted(set(model.encoders) - set(chosen))
    if stray:
        raise ConfigError(f"model.encoders: {stray} are not modalities being trained ({chosen})")
    if params.train.focal_alpha is not None and len(params.train.focal_alpha) != len(cohort.classes):
        raise ConfigError(
            f"train.focal_alpha has {len(params.train.focal_alpha)} values but the cohort has "
            f"{len(cohort.classes)} classes {cohort.classes}"
        )
    specs = cohort.meta.modalities
    for m in chosen:
        if specs[m].channels > 1 and (specs[m].top_k is not None or specs[m].transform != "none"):
            raise ConfigError(
                f"modality '{m}' has {specs[m].channels} channels; transforms and top_k apply to "
                "single-channel modalities only"
            )
    return Architecture(
        modalities=[
            ModalityInput(
                name=m,
                kind=specs[m].kind,
                n_features=output_width(specs[m].n_features, specs[m].transform, specs[m].top_k),
                encoder=model.encoders.get(m, DEFAULT_ENCODER[specs[m].kind]),
                n_inputs=specs[m].n_features,
                transform=specs[m].transform,
                top_k=specs[m].top_k,
                channels=specs[m].channels,
            )
            for m in chosen
        ],
        n_classes=len(cohort.classes),
        d_model=model.d_model,
        n_heads=model.n_heads,
        n_layers=model.n_layers,
        dropout=model.dropout,
        fusion=model.fusion,
        hidden=model.hidden,
        channels=model.channels,
        gru_hidden=model.gru_hidden,
        wide=model.wide,
        wide_bins=model.wide_bins if model.wide else 0,
    )


def _class_counts(data: CohortTensors, classes: list[str]) -> list[int]:
    counts = torch.bincount(data.target, minlength=len(classes)).tolist()
    missing = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if missing:
        raise ConfigError(
            f"classes {missing} have no training samples; the labels do not match the class list"
        )
    return counts


def _require_training_rows(data: CohortTensors, names: list[str]) -> None:
    """A modality must be measured on some training samples, or its transforms and encoder would be
    fitted on nothing and applied to validation and test samples anyway."""
    counts = data.present.sum(dim=0).tolist()
    lacking = [f"{m} ({n})" for m, n in zip(names, counts, strict=True) if n < 2]
    if lacking:
        raise ConfigError(
            f"modalities measured on fewer than 2 training samples: {', '.join(lacking)}; leave them out "
            "with model.modalities or put samples that have them into the training split"
        )


def _require_fold_members(data: CohortTensors, classes: list[str], folds: int) -> None:
    """Stratified k-fold needs every class in every fold, or a member early-stops on a fold that lacks a
    class and the ensemble silently loses it."""
    if folds < 2:
        return
    counts = torch.bincount(data.target, minlength=len(classes)).tolist()
    short = [f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < folds]
    if short:
        raise ConfigError(
            f"train.ensemble.folds is {folds} but these classes have fewer training samples than that: "
            f"{', '.join(short)}; lower train.ensemble.folds (1 trains one model) or add samples"
        )


def _require_calibration_classes(params: Params, val: CohortTensors, classes: list[str]) -> None:
    calibration = params.train.calibration
    if not calibration.temperature and calibration.coverage is None:
        return
    counts = torch.bincount(val.target, minlength=len(classes)).tolist()
    absent = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if absent:
        raise ConfigError(
            f"calibration runs on the val split, which has no samples of class(es) {absent}; give the "
            "val split every class (split.val, or the split column of your labels) or set "
            "train.calibration.temperature false and train.calibration.coverage null"
        )


def _require_target_mix_classes(params: Params, classes: list[str]) -> None:
    """The target mix must name exactly the cohort's classes: a missing class would have no share to
    call it under, and a misspelt one would be silently dropped."""
    mix = params.train.calibration.target_mix
    if mix is None:
        return
    missing, unknown = sorted(set(classes) - set(mix)), sorted(set(mix) - set(classes))
    problems = ([f"no share for {missing}"] if missing else []) + (
        [f"{unknown} not a class of this cohort"] if unknown else []
    )
    if problems:
        raise ConfigError(
            f"train.calibration.target_mix needs one share per class of the cohort {classes}: "
            + "; ".join(problems)
        )


class History(Callback):
    """Per-epoch metrics, for the training-curve plot and the ensemble members' MLflow curves.

    The rows travel in the checkpoint, so a resumed fit's history starts at epoch 0, not at the resume.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Runs after the epoch's validation and before the checkpoints are written (Lightning calls the
        # checkpoint callbacks last), so the row holds train and val metrics of the same epoch and is in
        # that epoch's checkpoint.
        row = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        if not getattr(module, "pretraining", False):
            # callback_metrics keeps a metric's last value after it stops being logged: the pre-training
            # loss is not a joint epoch's (and a resumed process would not hold it).
            row.pop("train/loss_pretrain", None)
        row["epoch"] = trainer.current_epoch
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % 2**32


class EpochSeeds(Callback):
    """Reseed torch, NumPy and ``random`` at each epoch's start from (seed, epoch).

    Dropout, modality dropout and input noise draw from the global generators, whose state is not in a
    checkpoint: without this, a run resumed at epoch k would draw other numbers than the uninterrupted
    run drew there, and end with other weights.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        value = epoch_seed(self.seed, trainer.current_epoch)
        torch.manual_seed(value)
        np.random.seed(value)
        random.seed(value)


class RankShardedBatches(InMemoryBatches):
    """The (seed, epoch)-ordered batches of :class:`InMemoryBatches`, each split across the DDP ranks:
    rank r takes rows r, r + world, … of every global batch, so one optimiser step sees the same
    ``batch_size`` samples as on one device."""

    def __init__(self, *args: Any, rank: int, world: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world = rank, world

    def _bounds(self) -> list[tuple[int, int]]:
        n = len(self.data)
        bounds = [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]
        # BatchNorm cannot train on one sample: every rank's share of the last batch needs two.
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2 * self.world:
            last = bounds.pop()
            bounds[-1] = (bounds[-1][0], last[1])
        return bounds

    def __iter__(self) -> Any:
        for batch in super().__iter__():
            size = len(batch["target"])
            rows = torch.arange(self.rank, size, self.world, device=batch["target"].device)
            yield {
                "inputs": {k: v[rows] for k, v in batch["inputs"].items()},
                "present": batch["present"][rows],
                "target": batch["target"][rows],
            }


class RankShardedData(CohortDataModule):
    def train_dataloader(self) -> InMemoryBatches:
        trainer = self.trainer
        assert trainer is not None
        return RankShardedBatches(
            self.train_data,
            self.batch_size,
            True,
            self.seed,
            self._epoch,
            rank=trainer.global_rank,
            world=trainer.world_size,
        )


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in name order: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _rank_digests(trainer: L.Trainer, module: torch.nn.Module) -> list[str]:
    """Every rank's digest of its trained weights (one entry without DDP); differing ranks fail the run."""
    mine = weights_digest(module)
    if trainer.world_size < 2:
        return [mine]
    gathered: list[str | None] = [None] * trainer.world_size
    torch.distributed.all_gather_object(gathered, mine)
    digests = [str(d) for d in gathered]
    if len(set(digests)) > 1:
        raise TrainingFailed(
            f"the {trainer.world_size} DDP ranks ended with different weights ({digests}); "
            "the ranks fell out of step"
        )
    return digests


@dataclass
class MemberJob:
    """Everything one member's training needs; picklable, so a worker process can run it."""

    index: int
    arch: dict[str, Any]
    classes: list[str]
    alpha: list[float]
    params: Params
    train: CohortTensors
    stop: CohortTensors  # what early stopping and the checkpoint choice watch
    scaling: dict[str, torch.Tensor]  # the shared preprocessing buffers (fitted on the training split)
    work_dir: Path
    resume: bool = False
    threads: int = 0  # torch threads in a worker process (0: leave as is)
    distributed: bool = False  # honour train.devices / num_nodes / strategy (the train stage only)


@dataclass
class MemberResult:
    index: int
    state_dict: dict[str, torch.Tensor]
    best_checkpoint: Path
    epochs: int
    best_score: float
    history: list[dict[str, float]] = field(default_factory=list)
    module: FusionClassifier | None = None  # in-process runs only (not sent back from workers)
    global_rank: int = 0  # under DDP, this process's rank (only rank 0 logs and writes)
    world_size: int = 1
    rank_digests: list[str] = field(default_factory=list)  # each rank's trained weights, hashed
    wide_start: WideStart | None = None  # the features the wide start kept (None: not fitted)


def _build_module(job: MemberJob) -> FusionClassifier:
    tp = job.params.train
    return FusionClassifier(
        arch=job.arch,
        classes=job.classes,
        alpha=job.alpha,
        focal_gamma=tp.focal_gamma,
        sparsity_lambda=tp.sparsity_lambda,
        modality_dropout=tp.modality_dropout,
        pretrain_epochs=tp.pretrain_epochs if tp.progressive else 0,
        lr=tp.lr,
        weight_decay=tp.weight_decay,
        warmup_epochs=tp.warmup_epochs,
        wide_l2=tp.wide_l2 if job.arch.get("wide") else 0.0,
        wide_lr_scale=tp.wide_lr_scale,
        input_noise=tp.input_noise,
    )


def train_member(
    job: MemberJob,
    *,
    logger: Any = False,
    trainer_overrides: dict[str, Any] | None = None,
    callbacks: list[Callback] | None = None,
) -> MemberResult:
    """One Lightning fit: early stopping and the best checkpoint on ``job.stop``."""
    tp = job.params.train
    processes = tp.devices * tp.num_nodes if job.distributed else 1
    if job.threads:
        torch.set_num_threads(job.threads)
    elif processes > 1 and tp.accelerator == "cpu":  # the node's cores are shared by its ranks
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // tp.devices))
    seed = job.params.base.seed + job.index
    L.seed_everything(seed, workers=True, verbose=False)
    module = _build_module(job)
    module.net.load_state_dict({**module.net.state_dict(), **job.scaling})
    wide_start = None
    if tp.wide_init == "logistic" and module.net.wide is not None:
        if job.resume:  # the checkpoint holds the start; say again what it kept
            wide_start = WideStart.of(screen(module.net, job.train, tp.wide_screen_fdr))
        else:
            wide_start = start_from_logistic_regression(
                module.net,
                job.train,
                job.params.base.seed + job.index,
                c=tp.wide_init_c,
                screen_fdr=tp.wide_screen_fdr,
            )
    if module.net.wide is not None and tp.wide_lr_scale == 0:
        # Frozen: no gradient, so it neither moves nor counts in the gradient-norm clipping that
        # would otherwise shrink the transformer's steps (the wide gradients dominate the norm).
        module.net.wide.requires_grad_(False)
    work_dir = job.work_dir
    if not job.resume:  # a fresh run must not pick up another run's best/last checkpoints
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    last = work_dir / "checkpoints" / "last.ckpt"
    if job.resume and not last.exists():
        raise ConfigError(f"--resume: no checkpoint at {last}; train once without --resume first")
    use_gpu = tp.accelerator != "cpu" and torch.cuda.is_available()
    monitor, mode = MONITORS[tp.monitor]
    history = History()
    # Both save at the end of the training epoch (after validation), so a resume starts with the next
    # epoch. `latest` is written every epoch (Lightning's save_last only follows improvements).
    checkpoint = ModelCheckpoint(
        dirpath=work_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode=mode,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    latest = ModelCheckpoint(
        dirpath=work_dir / "checkpoints",
        filename="last",
        save_top_k=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    pretrain = tp.pretrain_epochs if tp.progressive else 0
    show_progress = progress.enabled()
    settings: dict[str, Any] = {
        "max_epochs": tp.max_epochs,
        "min_epochs": pretrain + 1,
        "accelerator": "gpu" if use_gpu else "cpu",
        "devices": tp.devices if job.distributed else 1,
        "num_nodes": tp.num_nodes if job.distributed else 1,
        # Progressive pre-training leaves the fusion and the main head without gradients, and modality
        # dropout can leave an encoder without any: DDP must expect unused parameters.
        "strategy": DDPStrategy(find_unused_parameters=True) if processes > 1 else "auto",
        "precision": "bf16-mixed" if use_gpu else "32-true",
        "deterministic": tp.deterministic and not use_gpu,
        "gradient_clip_val": tp.gradient_clip,
        "callbacks": [
            # A refit sees val in training: its val score cannot say when to stop, the epoch count does.
            EarlyStopping(
                monitor,
                mode=mode,
                patience=tp.max_epochs if tp.refit_on_train_val else tp.early_stopping_patience,
            ),
            checkpoint,
            latest,
            history,
            EpochSeeds(seed),
            *(
                [RichProgressBar(leave=False, console_kwargs=progress.console_settings())]
                if show_progress
                else []
            ),
            *(callbacks or []),
        ],
        "logger": logger,
        # Epoch bars on a terminal only (oncofusion.progress): in logs and CI they are noise.
        "enable_progress_bar": show_progress,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "default_root_dir": str(work_dir),
    }
    settings.update(trainer_overrides or {})
    trainer = L.Trainer(**settings)
    data_type = RankShardedData if processes > 1 else CohortDataModule
    datamodule = data_type(job.train, job.stop, tp.batch_size, seed)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if job.resume else None)
    digests = _rank_digests(trainer, module)

    # A refit's val score is in-sample, so its final weights are the model; otherwise the best by val.
    best_path = (
        last if tp.refit_on_train_val or not checkpoint.best_model_path else Path(checkpoint.best_model_path)
    )
    if best_path.exists():
        module = FusionClassifier.load_from_checkpoint(best_path, map_location="cpu")
    module = module.cpu().eval()
    best = checkpoint.best_model_score
    return MemberResult(
        index=job.index,
        state_dict={k: v.detach().cpu() for k, v in module.net.state_dict().items()},
        best_checkpoint=best_path,
        epochs=trainer.current_epoch,
        best_score=float(best) if best is not None else float("nan"),
        history=history.rows,
        module=module,
        global_rank=trainer.global_rank,
        world_size=trainer.world_size,
        rank_digests=digests,
        wide_start=wide_start,
    )


def _train_in_workers(jobs: list[MemberJob], workers: int) -> list[MemberResult]:
    """Members in ``workers`` separate Python processes, each taking every ``workers``-th member.

    Each worker is ``python -m oncofusion.training.member_worker JOB OUT [JOB OUT …]``: a fresh
    interpreter (nothing depends on the caller's ``__main__``, which multiprocessing's spawn re-imports,
    nor on forking a process that holds torch's thread pools), started once for all its members so the
    few seconds of importing torch and Lightning are paid once per worker.
    """
    threads = max(1, torch.get_num_threads() // workers)
    with tempfile.TemporaryDirectory(prefix="oncofusion-members-") as scratch:
        processes = []
        for w in range(workers):
            command = [sys.executable, "-m", "oncofusion.training.member_worker"]
            for job in jobs[w::workers]:
                job.threads = threads
                job_file = Path(scratch) / f"job{job.index}.pt"
                torch.save(job, job_file)
                command += [str(job_file), str(Path(scratch) / f"out{job.index}.pt")]
            log_file = Path(scratch) / f"worker{w}.log"
            with log_file.open("w") as log:
                env = {**os.environ, TRAINER_PID: str(os.getpid())}
                worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                processes.append((worker, log_file))
        try:
            _wait_for_workers(processes)
        finally:
            for process, _ in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        results = []
        for job in jobs:
            out = Path(scratch) / f"out{job.index}.pt"
            if not out.exists():
                raise TrainingFailed(f"ensemble member {job.index} wrote no result")
            results.append(torch.load(out, weights_only=False))
    return results


TRAINER_PID = "ONCOFUSION_TRAINER_PID"  # a worker exits when this process is no longer its parent


class TrainingFailed(OncofusionError):
    """A worker process training an ensemble member died; its log's tail is in the message."""


def _wait_for_workers(processes: list[tuple[subprocess.Popen, Path]]) -> None:
    """Until all workers end; the first that fails stops the wait at once (the caller kills the rest)."""
    running = list(processes)
    with progress.task("ensemble members", len(processes)) as advance:
        while running:
            for process, log_file in list(running):
                code = process.poll()
                if code is None:
                    continue
                running.remove((process, log_file))
                if code != 0:
                    tail = log_file.read_text()[-3000:]
                    raise TrainingFailed(
                        f"an ensemble worker failed (exit {code}); the end of its log:\n{tail}"
                    )
                advance()
            time.sleep(0.2)


@dataclass
class TrainResult:
    net: EnsembleNet
    members: list[MemberResult]
    best_val_f1: float  # the (calibrated) ensemble's macro-F1 on the val split
    calibration: Calibration
    train_data: CohortTensors | None = None
    val_data: CohortTensors | None = None
    deep_weight: DeepWeightChoice | None = None  # None: not chosen (no wide path, or one member)

    @property
    def module(self) -> FusionClassifier:
        """The first member's LightningModule (the whole model when there is one member)."""
        assert self.members[0].module is not None
        return self.members[0].module

    @property
    def best_checkpoint(self) -> Path:
        return self.members[0].best_checkpoint

    @property
    def epochs(self) -> int:
        return max(m.epochs for m in self.members)

    @property
    def history(self) -> list[dict[str, float]]:
        return self.members[0].history


def fold_indices(target: torch.Tensor, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, held-out) row indices per member; one member trains on everything."""
    rows = np.arange(len(target))
    if folds < 2:
        return [(rows, rows[:0])]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(rows, target.numpy()))


def _workers(params: Params, n_jobs: int) -> int:
    if n_jobs < 2 or (params.train.accelerator != "cpu" and torch.cuda.is_available()):
        return 1  # one GPU trains members one after another
    wanted = params.train.ensemble.workers or (os.cpu_count() or 1)
    return max(1, min(wanted, n_jobs, os.cpu_count() or 1))


def fit(
    cohort: Cohort,
    params: Params,
    work_dir: Path,
    *,
    logger: Any = False,
    resume: bool = False,
    trainer_overrides: dict[str, Any] | None = None,
    callbacks: list[Callback] | None = None,
    distributed: bool = False,
) -> TrainResult:
    """Train (one model or the ensemble) and calibrate on the val split.

    ``distributed``: train on ``train.devices`` × ``train.num_nodes`` DDP processes when they ask for more
    than one; only the train stage passes it (tuning trials, ablations and repeats train on one device).
    """
    arch = resolve_architecture(cohort, params)
    names = [m.name for m in arch.modalities]
    train_data = cohort_tensors(cohort, names, "train")
    val_data = cohort_tensors(cohort, names, "val")
    tp = params.train
    if tp.refit_on_train_val:
        train_data = concat(train_data, val_data)
    counts = _class_counts(train_data, cohort.classes)
    _require_training_rows(train_data, names)
    folds = tp.ensemble.folds
    _require_fold_members(train_data, cohort.classes, folds)
    _require_calibration_classes(params, val_data, cohort.classes)
    _require_target_mix_classes(params, cohort.classes)
    if tp.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError("train.accelerator is 'gpu' but no CUDA device is available; use 'auto' or 'cpu'")
    alpha = tp.focal_alpha if tp.focal_alpha is not None else inverse_frequency_alpha(counts).tolist()

    # Input transforms and scaling are fitted once, on the whole training split, and shared by members.
    L.seed_everything(params.base.seed, workers=True, verbose=False)
    ensemble = EnsembleNet(arch, n_members=max(1, folds))
    ensemble.members[0].fit_scaling(train_data.inputs, train_data.present)
    scaling = {
        k: v.clone()
        for k, v in ensemble.members[0].state_dict().items()
        if k.startswith(("preprocess.", "mean_", "std_", "edges_"))
    }

    jobs = []
    partition = fold_indices(train_data.target, folds, params.base.seed)
    for index, (fit_rows, held_rows) in enumerate(partition):
        one = folds < 2
        member_dir = work_dir if one else work_dir / f"fold{index}"
        jobs.append(
            MemberJob(
                index=index,
                arch=arch.model_dump(),
                classes=cohort.classes,
                alpha=alpha,
                params=params,
                train=train_data if one else subset(train_data, fit_rows),
                stop=val_data if one else subset(train_data, held_rows),
                scaling=scaling,
                work_dir=member_dir,
                # A member whose run was cut before it started has nothing to resume: it starts fresh.
                resume=resume and (member_dir / "checkpoints" / "last.ckpt").exists(),
                distributed=distributed,
            )
        )
    if resume and not any(job.resume for job in jobs):
        last = jobs[0].work_dir / "checkpoints" / "last.ckpt"
        raise ConfigError(f"--resume: no checkpoint at {last}; train once without --resume first")
    workers = _workers(params, len(jobs))
    if workers > 1 and not callbacks and not trainer_overrides:
        members = _train_in_workers(jobs, workers)
    else:
        members = [
            train_member(
                job,
                logger=logger if len(jobs) == 1 else False,
                trainer_overrides=trainer_overrides,
                callbacks=callbacks,
            )
            for job in jobs
        ]
    for member, result in zip(ensemble.members, members, strict=True):
        member.load_state_dict(result.state_dict)
    ensemble.eval()
    deep_weight = None
    if arch.wide and folds >= 2 and tp.deep_weight == "out_of_fold":
        balanced = torch.tensor(alpha, dtype=torch.float32) if tp.monitor == "val_balanced_loss" else None
        deep_weight = choose_deep_weight(ensemble, train_data, [held for _, held in partition], balanced)
    if tp.calibration.decision == "balanced":
        ensemble.set_balanced_decision(counts)
    elif tp.calibration.target_mix is not None:
        ensemble.set_target_decision(counts, [tp.calibration.target_mix[c] for c in cohort.classes])
    calibration = calibrate(ensemble, val_data, cohort.classes, tp.calibration)
    return TrainResult(
        net=ensemble,
        members=members,
        best_val_f1=calibration.val_f1_macro,
        calibration=calibration,
        train_data=train_data,
        val_data=val_data,
        deep_weight=deep_weight,
    )
