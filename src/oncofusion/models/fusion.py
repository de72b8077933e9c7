"""Fusion of modality tokens.

Cross-modal attention: a learned [CLS] token and the modality tokens attend to each other in pre-norm
transformer blocks; the [CLS] output is the sample's embedding. A missing modality is removed from
attention through the key-padding mask, never replaced by a zero token, so the model neither learns
from nor is confused by absent data. The concat variant exists for the ablation that measures what
attention adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Fused:
    embedding: torch.Tensor  # (batch, d)
    attention: list[torch.Tensor]  # per layer: (batch, tokens, tokens), token 0 is [CLS]; empty for concat


class FusionBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * d_model, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, ignore: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm_attn(x)
        out, weights = self.attn(
            h, h, h, key_padding_mask=ignore, need_weights=True, average_attn_weights=True
        )
        x = x + self.drop(out)
        x = x + self.drop(self.ff(self.norm_ff(x)))
        return x, weights


class CrossModalAttentionFusion(nn.Module):
    def __init__(self, d_model: int, n_heads: int, n_layers: int, dropout: float) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        nn.init.normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(FusionBlock(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor, present: torch.Tensor) -> Fused:
        batch = tokens.shape[0]
        x = torch.cat([self.cls.expand(batch, -1, -1).to(tokens.dtype), tokens], dim=1)
        ignore = torch.cat([torch.zeros(batch, 1, dtype=torch.bool, device=present.device), ~present], dim=1)
        attention = []
        for block in self.blocks:
            x, weights = block(x, ignore)
            attention.append(weights)
        return Fused(embedding=self.norm(x[:, 0]), attention=attention)


class ConcatFusion(nn.Module):
    """Ablation: concatenate tokens (absent ones zeroed, plus the presence mask) and mix with an MLP."""

    def __init__(self, d_model: int, n_modalities: int, dropout: float) -> None:
        super().__init__()
        self.mix = nn.Sequential(
            nn.Linear(n_modalities * (d_model + 1), 2 * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * d_model, d_model),
            nn.LayerNorm(d_model),
        )

    def forward(self, tokens: torch.Tensor, present: torch.Tensor) -> Fused:
        mask = present.unsqueeze(-1).to(tokens.dtype)
        flat = torch.cat([tokens * mask, mask], dim=-1).flatten(1)
        return Fused(embedding=self.mix(flat), attention=[])
