"""Per-modality input transforms, fitted on the training split and stored in the model as buffers.

Living inside the network means one saved model carries them: evaluation, the MLflow pyfunc and the
BentoML service all take raw values and apply exactly what training fitted. Nothing here ever sees
validation or test rows at fit time (``fit`` is called with the training tensors only).

Order: value transform → top-k selection by training variance (for ``zscore``, the variance before
scaling, which would otherwise be 1 everywhere) → the network's standardisation.
"""

from __future__ import annotations

from typing import get_args

import torch
from torch import nn

from oncofusion.cohort import Transform

TRANSFORMS = get_args(Transform)


def output_width(n_inputs: int, transform: str, top_k: int | None) -> int:
    """Features the network sees after the transform (proportion adds the log total)."""
    return (top_k or n_inputs) + (transform == "proportion")


class ModalityPreprocess(nn.Module):
    def __init__(self, n_inputs: int, transform: str = "none", top_k: int | None = None) -> None:
        super().__init__()
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform '{transform}'; choose one of {TRANSFORMS}")
        if top_k is not None and not 0 < top_k <= n_inputs:
            raise ValueError(f"top_k ({top_k}) must be between 1 and the feature count ({n_inputs})")
        self.transform, self.top_k, self.n_inputs = transform, top_k, n_inputs
        n_kept = top_k or n_inputs
        self.register_buffer("keep", torch.arange(n_kept, dtype=torch.long))
        self.register_buffer("center", torch.zeros(n_inputs))
        self.register_buffer("spread", torch.ones(n_inputs))
        # Training-split mean of the raw values: the reference input for attributions.
        self.register_buffer("raw_mean", torch.zeros(n_inputs))

    @property
    def n_outputs(self) -> int:
        return len(self.keep) + (self.transform == "proportion")

    @property
    def identity(self) -> bool:
        return self.transform == "none" and self.top_k is None

    def _values(self, x: torch.Tensor, scale: bool = True) -> torch.Tensor:
        if self.transform == "log1p":
            return torch.log1p(x)
        if self.transform == "zscore" and scale:
            return (x - self.center) / self.spread
        if self.transform == "proportion":
            return x / torch.nansum(x, dim=1, keepdim=True).clamp_min(1e-12)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        out = self._values(x)
        if self.top_k is not None:
            out = out[:, self.keep]
        if self.transform == "proportion":  # the depth the proportions divided out, kept as a feature
            total = torch.log1p(torch.nansum(x, dim=1, keepdim=True))
            unmeasured = torch.isnan(x).all(dim=1, keepdim=True)  # an absent sample has no depth, not 0
            out = torch.cat(
                [out, torch.where(unmeasured, torch.full_like(total, float("nan")), total)], dim=1
            )
        return out

    @torch.no_grad()
    def fit(self, train: torch.Tensor) -> None:
        """Fit on training rows that have the modality (NaN cells ignored)."""
        train = train.float()
        self.raw_mean.copy_(torch.nan_to_num(torch.nanmean(train, dim=0), nan=0.0))
        if self.transform == "zscore":
            self.center.copy_(self.raw_mean)
            self.spread.copy_(_nanstd(train))
        if self.top_k is not None:
            variance = _nanstd(self._values(train, scale=False), floor=0.0).pow(2)
            variance = torch.nan_to_num(variance, nan=-1.0)
            chosen = torch.topk(variance, self.top_k, sorted=False).indices
            self.keep.copy_(torch.sort(chosen).values)  # keep genome/profile order among kept features


def _nanstd(values: torch.Tensor, floor: float = 1e-8) -> torch.Tensor:
    mean = torch.nanmean(values, dim=0)
    centred = torch.where(torch.isnan(values), torch.zeros_like(values), values - mean)
    count = (~torch.isnan(values)).sum(dim=0).clamp_min(2)
    std = (centred.pow(2).sum(dim=0) / (count - 1)).sqrt()
    if floor <= 0:
        return std
    return torch.where(std > floor, std, torch.ones_like(std))
