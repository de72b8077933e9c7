"""One ensemble member's Lightning fit: early stopping and the best checkpoint on the member's stopping
set, resumable from its epoch-end checkpoint, on one device or data-parallel.

Resuming reproduces an uninterrupted run exactly on CPU: every source of randomness is reseeded at each
epoch's start from (seed, epoch) (:class:`~oncofusion.training.callbacks.EpochSeeds`), the batch order
depends on (seed, epoch) only, and everything else that carries over (weights, optimiser, scheduler,
early stopping, the best checkpoint, the per-epoch history) is in the epoch-end checkpoint.

A member is described by a picklable :class:`MemberJob`, so a worker process
(:mod:`oncofusion.training.member_worker`) can train it as well as the calling process can.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.strategies import DDPStrategy

from oncofusion import progress
from oncofusion.config import Params
from oncofusion.errors import ConfigError
from oncofusion.models.classifier import FusionClassifier
from oncofusion.training.callbacks import EpochSeeds, History
from oncofusion.training.data import CohortDataModule, CohortTensors
from oncofusion.training.ddp import RankShardedData, rank_digests
from oncofusion.training.wide_start import WideStart, screen, start_from_logistic_regression

MONITOR = "val/f1_macro_joint"  # what tuning prunes on (logged in every run)
MONITORS = {
    "val_loss": ("val/nll_joint", "min"),
    "val_balanced_loss": ("val/nll_balanced_joint", "min"),
    "val_f1_macro": ("val/f1_macro_joint", "max"),
}


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
    digests = rank_digests(trainer, module)

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
