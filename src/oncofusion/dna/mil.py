"""Gated-attention MIL pooling (Ilse et al. 2018): a sample is a bag of variant embeddings, and a learned
attention weight per variant decides how much each counts in the sample's vector.

Mean pooling weighs a passenger like a driver; attention can learn which variants carry the cancer
type. It needs labels, so it is fitted on the training split alone and early-stopped on validation
loss; the pooled vectors of every split then feed the classifiers like any other modality.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class GatedAttentionMIL(nn.Module):
    def __init__(self, dim: int, hidden: int, n_classes: int):
        super().__init__()
        self.value = nn.Linear(dim, hidden)
        self.gate = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1)
        self.head = nn.Linear(dim, n_classes)

    def pool(self, bags: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(samples, variants, dim) bags with a (samples, variants) mask → pooled vectors and weights."""
        scores = self.score(torch.tanh(self.value(bags)) * torch.sigmoid(self.gate(bags))).squeeze(-1)
        scores = scores.masked_fill(~present, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # a sample with no variant: all zero
        return (weights.unsqueeze(-1) * bags).sum(1), weights

    def forward(self, bags: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(bags, present)[0])


def bags(features: np.ndarray, owners: np.ndarray, samples: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad each sample's variant rows into one (samples, max variants, dim) tensor and its mask."""
    index = {s: i for i, s in enumerate(samples)}
    rows = [[] for _ in samples]
    for r, owner in enumerate(owners):
        if owner in index:
            rows[index[owner]].append(r)
    width = max(1, max(len(r) for r in rows))
    out = torch.zeros(len(samples), width, features.shape[1])
    present = torch.zeros(len(samples), width, dtype=torch.bool)
    values = torch.from_numpy(features)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = values[r]
            present[i, : len(r)] = True
    return out, present


def fit_mil(
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    n_classes: int,
    hidden: int,
    epochs: int,
    lr: float,
    seed: int,
) -> tuple[GatedAttentionMIL, dict[str, float]]:
    """Full-batch AdamW on the training bags, keeping the weights of the best validation loss."""
    torch.manual_seed(seed)
    x, present, y = train
    model = GatedAttentionMIL(x.shape[-1], hidden, n_classes)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    class_weight = counts.sum() / (n_classes * counts)  # balanced, as the baselines are
    best, best_loss, best_epoch = copy.deepcopy(model.state_dict()), float("inf"), 0
    for epoch in range(epochs):
        model.train()
        optimiser.zero_grad()
        F.cross_entropy(model(x, present), y, weight=class_weight).backward()
        optimiser.step()
        model.eval()
        with torch.no_grad():
            loss = float(F.cross_entropy(model(val[0], val[1]), val[2]))
        if loss < best_loss:
            best, best_loss, best_epoch = copy.deepcopy(model.state_dict()), loss, epoch + 1
    model.load_state_dict(best)
    model.eval()
    return model, {"best_val_loss": round(best_loss, 4), "best_epoch": best_epoch}
