"""Fit the fusion classifier on a split cohort with Lightning: one model, or a cross-validated ensemble.

Everything that can be wrong with the request (unknown modality or encoder, a class count that does not
match the labels, too few samples for the folds, a class missing from the calibration split) is checked
before a single step runs.

With ``train.ensemble.folds = k > 1`` the training split is cut into k stratified folds; member i trains on
the other k − 1 and early-stops on fold i. The val split is never trained or stopped on: it calibrates
the ensemble (temperature, conformal thresholds) and scores it for the registry.

Each member is one Lightning fit (:mod:`oncofusion.training.member`), in this process or, when CPU
cores allow, in a pool of worker processes (:mod:`oncofusion.training.workers`); a resumed run
reproduces an uninterrupted one exactly on CPU. One model (``ensemble.folds = 1``) can train
data-parallel (Lightning DDP, :mod:`oncofusion.training.ddp`) on ``train.devices`` × ``train.num_nodes``
processes; the ranks' final weights are compared at the end and a difference fails the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from sklearn.model_selection import StratifiedKFold

from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.errors import ConfigError
from oncofusion.models.classifier import FusionClassifier
from oncofusion.models.encoders import DEFAULT_ENCODER
from oncofusion.models.losses import inverse_frequency_alpha
from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput
from oncofusion.models.preprocess import output_width
from oncofusion.training.calibrate import Calibration, calibrate
from oncofusion.training.checks import (
    class_counts,
    require_calibration_classes,
    require_fold_members,
    require_target_mix_classes,
    require_training_rows,
)
from oncofusion.training.data import CohortTensors, cohort_tensors, concat, subset
from oncofusion.training.deep_weight import DeepWeightChoice, choose_deep_weight
from oncofusion.training.member import MemberJob, MemberResult, train_member
from oncofusion.training.workers import train_in_workers, worker_count


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
    counts = class_counts(train_data, cohort.classes)
    require_training_rows(train_data, names)
    folds = tp.ensemble.folds
    require_fold_members(train_data, cohort.classes, folds)
    require_calibration_classes(params, val_data, cohort.classes)
    require_target_mix_classes(params, cohort.classes)
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
    workers = worker_count(params, len(jobs))
    if workers > 1 and not callbacks and not trainer_overrides:
        members = train_in_workers(jobs, workers)
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
