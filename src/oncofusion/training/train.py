"""Fit the fusion classifier on a split cohort with Lightning.

Everything that can be wrong with the request (unknown modality or encoder, a class count that does not
match the labels) is checked in :func:`resolve_architecture` before a single step runs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.errors import ConfigError
from oncofusion.models.classifier import FusionClassifier
from oncofusion.models.encoders import DEFAULT_ENCODER
from oncofusion.models.losses import inverse_frequency_alpha
from oncofusion.models.network import Architecture, ModalityInput
from oncofusion.models.preprocess import output_width
from oncofusion.training.data import CohortDataModule, CohortTensors, cohort_tensors, concat

MONITOR = "val/f1_macro_joint"


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


class History(Callback):
    """Per-epoch metrics, for the training-curve plot."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Runs after the epoch's validation, so the row holds train and val metrics of the same epoch.
        row = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        row["epoch"] = trainer.current_epoch
        self.rows.append(row)


@dataclass
class TrainResult:
    module: FusionClassifier
    best_checkpoint: Path
    epochs: int
    best_val_f1: float
    history: list[dict[str, float]] = field(default_factory=list)
    train_data: CohortTensors | None = None
    val_data: CohortTensors | None = None


def fit(
    cohort: Cohort,
    params: Params,
    work_dir: Path,
    *,
    logger: Any = False,
    resume: bool = False,
    trainer_overrides: dict[str, Any] | None = None,
    callbacks: list[Callback] | None = None,
) -> TrainResult:
    arch = resolve_architecture(cohort, params)
    names = [m.name for m in arch.modalities]
    train_data = cohort_tensors(cohort, names, "train")
    val_data = cohort_tensors(cohort, names, "val")
    tp = params.train
    if tp.refit_on_train_val:
        train_data = concat(train_data, val_data)
    counts = _class_counts(train_data, cohort.classes)
    _require_training_rows(train_data, names)
    alpha = tp.focal_alpha if tp.focal_alpha is not None else inverse_frequency_alpha(counts).tolist()

    L.seed_everything(params.base.seed, workers=True, verbose=False)
    pretrain = tp.pretrain_epochs if tp.progressive else 0
    module = FusionClassifier(
        arch=arch.model_dump(),
        classes=cohort.classes,
        alpha=alpha,
        focal_gamma=tp.focal_gamma,
        sparsity_lambda=tp.sparsity_lambda,
        modality_dropout=tp.modality_dropout,
        pretrain_epochs=pretrain,
        lr=tp.lr,
        weight_decay=tp.weight_decay,
        warmup_epochs=tp.warmup_epochs,
    )
    module.net.fit_scaling(train_data.inputs, train_data.present)

    if not resume:  # a fresh run must not pick up another run's best/last checkpoints
        shutil.rmtree(work_dir / "checkpoints", ignore_errors=True)
    if tp.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError("train.accelerator is 'gpu' but no CUDA device is available; use 'auto' or 'cpu'")
    last = work_dir / "checkpoints" / "last.ckpt"
    if resume and not last.exists():
        raise ConfigError(f"--resume: no checkpoint at {last}; train once without --resume first")
    use_gpu = tp.accelerator != "cpu" and torch.cuda.is_available()
    history = History()
    # Both save at the end of the training epoch (after validation), so a resume starts with the next
    # epoch. `latest` is written every epoch (Lightning's save_last only follows improvements).
    checkpoint = ModelCheckpoint(
        dirpath=work_dir / "checkpoints",
        filename="best",
        monitor=MONITOR,
        mode="max",
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
    settings: dict[str, Any] = {
        "max_epochs": tp.max_epochs,
        "min_epochs": pretrain + 1,
        "accelerator": "gpu" if use_gpu else "cpu",
        "devices": 1,
        "precision": "bf16-mixed" if use_gpu else "32-true",
        "deterministic": tp.deterministic and not use_gpu,
        "gradient_clip_val": tp.gradient_clip,
        "callbacks": [
            # A refit sees val in training: its val score cannot say when to stop, the epoch count does.
            EarlyStopping(
                MONITOR,
                mode="max",
                patience=tp.max_epochs if tp.refit_on_train_val else tp.early_stopping_patience,
            ),
            checkpoint,
            latest,
            history,
            *(callbacks or []),
        ],
        "logger": logger,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "default_root_dir": str(work_dir),
    }
    settings.update(trainer_overrides or {})
    trainer = L.Trainer(**settings)
    datamodule = CohortDataModule(train_data, val_data, tp.batch_size, params.base.seed)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume else None)

    # A refit's val score is in-sample, so its final weights are the model; otherwise the best by val.
    best_path = (
        last if tp.refit_on_train_val or not checkpoint.best_model_path else Path(checkpoint.best_model_path)
    )
    if best_path.exists():
        module = FusionClassifier.load_from_checkpoint(best_path, map_location="cpu")
    module = module.cpu().eval()
    best = checkpoint.best_model_score
    return TrainResult(
        module=module,
        best_checkpoint=best_path,
        epochs=trainer.current_epoch,
        best_val_f1=float(best) if best is not None else float("nan"),
        history=history.rows,
        train_data=train_data,
        val_data=val_data,
    )
