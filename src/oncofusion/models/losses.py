"""Focal loss and the attention-sparsity penalty."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): down-weights easy examples, so rare cancer types are not drowned.

    loss_i = -alpha[y_i] * (1 - p_i)^gamma * log p_i, averaged over the batch.
    """

    def __init__(self, gamma: float, alpha: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("alpha", alpha if alpha is not None else torch.empty(0))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
        loss = -((1.0 - log_p.exp()) ** self.gamma) * log_p
        if self.alpha.numel():
            loss = loss * self.alpha[target]
        return loss.mean()


def inverse_frequency_alpha(counts: list[int]) -> torch.Tensor:
    """Per-class α ∝ 1 / frequency, normalised to mean 1 so the loss scale stays comparable."""
    counts_t = torch.tensor(counts, dtype=torch.float32).clamp(min=1)
    alpha = 1.0 / counts_t
    return alpha * len(counts) / alpha.sum()


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy of attention rows (last dim sums to 1); lower means sparser attention."""
    p = weights.float().clamp_min(1e-12)
    return -(p * p.log()).sum(dim=-1).mean()
