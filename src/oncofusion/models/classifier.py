"""The LightningModule: losses, modality dropout, progressive training, metrics, optimiser.

Progressive training runs inside one ``fit``: for the first ``pretrain_epochs`` each encoder learns with
its own small head (fusion and the main head are idle), then the whole model is fine-tuned jointly. One
fit keeps checkpoints, resume and early stopping simple (early stopping only counts joint epochs).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from oncofusion.errors import OncofusionError
from oncofusion.models.losses import FocalLoss, attention_entropy
from oncofusion.models.network import Architecture, MultiModalNet, Output


class TrainingDiverged(OncofusionError):
    """The loss became NaN or infinite; nothing from this run may be logged as a model."""


class FusionClassifier(L.LightningModule):
    def __init__(
        self,
        arch: dict[str, Any],
        classes: list[str],
        alpha: list[float] | None,
        focal_gamma: float = 2.0,
        sparsity_lambda: float = 0.01,
        modality_dropout: float = 0.1,
        pretrain_epochs: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_epochs: int = 3,
        wide_l2: float = 0.0,
        wide_lr_scale: float = 1.0,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.architecture = Architecture.model_validate(arch)
        self.net = MultiModalNet(self.architecture)
        self.classes = classes
        n_classes = len(classes)
        self.focal = FocalLoss(focal_gamma, torch.tensor(alpha) if alpha is not None else None)
        self.aux_heads = nn.ModuleDict(
            {name: nn.Linear(self.architecture.d_model, n_classes) for name in self.net.names}
        )
        self.val_metrics = nn.ModuleDict(
            {
                "f1_macro": MulticlassF1Score(n_classes, average="macro"),
                "accuracy": MulticlassAccuracy(n_classes, average="micro"),
                "auroc": MulticlassAUROC(n_classes, average="macro"),
            }
        )

    def forward(self, inputs: dict[str, torch.Tensor], present: torch.Tensor) -> Output:
        return self.net(inputs, present)

    @property
    def pretraining(self) -> bool:
        return self.current_epoch < self.hparams.pretrain_epochs

    def _drop_modalities(self, present: torch.Tensor) -> torch.Tensor:
        """Hide each present modality with probability p, keeping at least one per sample."""
        p = self.hparams.modality_dropout
        if p <= 0 or present.shape[1] < 2:
            return present
        keep = present & (torch.rand(present.shape, device=present.device) >= p)
        empty = ~keep.any(dim=1)
        if empty.any():
            # Restore one random originally-present modality for samples that lost all of them.
            scores = torch.rand(present.shape, device=present.device) * present
            restore = torch.zeros_like(present)
            restore[torch.arange(len(present), device=present.device), scores.argmax(dim=1)] = True
            keep = torch.where(empty.unsqueeze(1), restore, keep)
        return keep

    def _check_finite(self, loss: torch.Tensor, what: str) -> None:
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"{what} became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "lower train.lr, raise train.gradient_clip's strictness, or check the inputs for inf values"
            )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        inputs, present, target = batch["inputs"], batch["present"], batch["target"]
        size = len(target)
        if self.pretraining:
            losses = []
            for i, name in enumerate(self.net.names):
                rows = present[:, i]
                if rows.sum() < 2:  # BatchNorm needs two samples
                    continue
                token = self.net.encode(name, inputs[name][rows])
                losses.append(self.focal(self.aux_heads[name](token), target[rows]))
            loss = torch.stack(losses).mean()
            self._check_finite(loss, "pre-training loss")
            self.log("train/loss_pretrain", loss, batch_size=size, on_epoch=True, on_step=False)
            return loss
        out = self.net(inputs, self._drop_modalities(present), noise=self.hparams.input_noise)
        focal = self.focal(out.logits, target)
        sparsity = (
            torch.stack([attention_entropy(w[:, 0]) for w in out.attention]).mean()
            if out.attention
            else torch.zeros((), device=focal.device)
        )
        wide = self.net.wide_penalty()
        frozen = self.net.wide is not None and not self.net.wide.weight.requires_grad
        wide_l2 = 0.0 if frozen else self.hparams.wide_l2  # a constant: nothing for the optimiser
        loss = focal + self.hparams.sparsity_lambda * sparsity + wide_l2 * wide
        self._check_finite(loss, "training loss")
        self.log_dict(
            {
                "train/loss": loss,
                "train/loss_focal": focal,
                "train/loss_sparsity": sparsity,
                "train/wide_l2": wide,
            },
            batch_size=size,
            on_epoch=True,
            on_step=False,
        )
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.net(batch["inputs"], batch["present"])
        target = batch["target"]
        loss = self.focal(out.logits, target)
        probabilities = out.logits.float().softmax(dim=-1)
        for metric in self.val_metrics.values():
            metric.update(probabilities, target)
        self.log("val/loss", loss, batch_size=len(target), on_epoch=True, on_step=False)
        # The log-loss without focal weighting: what calibration and the early-stopping monitor judge.
        nll = nn.functional.cross_entropy(out.logits.float(), target)
        self.log("val/nll", nll, batch_size=len(target), on_epoch=True, on_step=False)
        # Class-balanced log-loss: each class weighs as much as the focal α gives it in training (inverse
        # frequency by default), so the stopping choice does not favour the majority class.
        weight = self.focal.alpha if self.focal.alpha.numel() else None
        balanced = nn.functional.cross_entropy(out.logits.float(), target, weight=weight)
        self.log("val/nll_balanced", balanced, batch_size=len(target), on_epoch=True, on_step=False)
        if self.pretraining:  # only joint epochs count (the first joint epoch always improves on this)
            nll, balanced = torch.full_like(nll, 1e6), torch.full_like(balanced, 1e6)
        self.log("val/nll_joint", nll, batch_size=len(target), on_epoch=True, on_step=False)
        self.log("val/nll_balanced_joint", balanced, batch_size=len(target), on_epoch=True, on_step=False)

    def on_validation_epoch_end(self) -> None:
        values = {name: metric.compute() for name, metric in self.val_metrics.items()}
        for metric in self.val_metrics.values():
            metric.reset()
        self.log_dict({f"val/{name}": value for name, value in values.items()})
        # Early stopping and checkpointing watch this: -1 during pre-training, so only joint epochs count
        # (the first joint epoch always improves on it).
        joint = values["f1_macro"] if not self.pretraining else torch.tensor(-1.0, device=self.device)
        self.log("val/f1_macro_joint", joint)

    def configure_optimizers(self) -> dict[str, Any]:
        wide = [p for p in self.net.wide.parameters() if p.requires_grad] if self.net.wide is not None else []
        wide_ids = {id(p) for p in wide}
        groups = [
            {"params": [p for p in self.parameters() if p.requires_grad and id(p) not in wide_ids]},
            # The wide path starts at a fitted optimum whose weights are small: Adam's unit-size steps
            # at the transformer's rate would walk it away in a few epochs. Its L2 is in the loss.
            {"params": wide, "lr": self.hparams.lr * self.hparams.wide_lr_scale, "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(
            [g for g in groups if g["params"]], lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, self.trainer.max_epochs))
        warmup = self.hparams.warmup_epochs * per_epoch

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
