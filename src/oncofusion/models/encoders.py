"""Modality-specific encoders, each turning one modality's feature vector into a d-dimensional token.

The kind of a modality picks its default encoder: an MLP for unordered tabular features, a 1-D CNN for
ordered profiles (local shape such as a fragment-length peak), and a CNN followed by a bidirectional GRU
for genome-ordered bins (local breakpoints plus chromosome-scale runs). Every encoder adds a linear
shortcut from the raw features and ends in LayerNorm, so absolute positions that pooling discards still
reach the token, and token scales match across modalities before attention.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

EncoderName = Literal["mlp", "cnn", "cnn_gru"]
DEFAULT_ENCODER: dict[str, EncoderName] = {"tabular": "mlp", "profile": "cnn", "genomic": "cnn_gru"}


class _Token(nn.Module):
    """Shared ending: token = LayerNorm(body(x) + shortcut(x))."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        self.shortcut = nn.Linear(n_features, d_model)
        self.norm = nn.LayerNorm(d_model)

    def finish(self, body: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.norm(body + self.shortcut(x))


class MLPEncoder(_Token):
    def __init__(
        self, n_features: int, d_model: int, hidden: int = 256, dropout: float = 0.1, **_: int
    ) -> None:
        super().__init__(n_features, d_model)
        self.body = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(self.body(x), x)


def _conv_stack(channels: int, in_channels: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(in_channels, channels, kernel_size=7, padding=3),
        nn.BatchNorm1d(channels),
        nn.GELU(),
        nn.Conv1d(channels, channels, kernel_size=5, padding=2, stride=2),
        nn.BatchNorm1d(channels),
        nn.GELU(),
    )


def _as_channels(x: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(batch, channels·positions) channel-major features → (batch, channels, positions)."""
    return x.reshape(x.shape[0], in_channels, -1)


class CNNEncoder(_Token):
    """1-D CNN with global average pooling: shape features wherever they sit along the profile."""

    def __init__(
        self,
        n_features: int,
        d_model: int,
        channels: int = 32,
        dropout: float = 0.1,
        in_channels: int = 1,
        **_: int,
    ) -> None:
        super().__init__(n_features, d_model)
        self.in_channels = in_channels
        self.conv = _conv_stack(channels, in_channels)
        # Dropout on the pooled summary, not the feature maps: same regularisation, a fraction of the
        # random draws (sampling dropout masks was ~10% of a CPU training step).
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(channels, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(_as_channels(x, self.in_channels)).mean(dim=2)
        return self.finish(self.project(self.drop(features)), x)


class CNNGRUEncoder(_Token):
    """CNN for local breakpoints, then a bidirectional GRU along the genome for arm-scale events."""

    def __init__(
        self,
        n_features: int,
        d_model: int,
        channels: int = 32,
        gru_hidden: int = 64,
        dropout: float = 0.1,
        in_channels: int = 1,
        **_: int,
    ) -> None:
        super().__init__(n_features, d_model)
        self.in_channels = in_channels
        self.conv = _conv_stack(channels, in_channels)
        # The GRU is there for arm-scale runs, which survive pooling; it halves the sequence the GRU walks
        # (its sequential steps dominate the encoder's cost).
        self.pool = nn.MaxPool1d(2, ceil_mode=True)
        self.gru = nn.GRU(channels, gru_hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(2 * gru_hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence = self.pool(self.conv(_as_channels(x, self.in_channels))).transpose(
            1, 2
        )  # (batch, positions, channels)
        _, last = self.gru(sequence)  # (2, batch, hidden): final state of each direction
        summary = torch.cat([last[0], last[1]], dim=1)
        return self.finish(self.project(self.drop(summary)), x)


ENCODERS: dict[str, type[nn.Module]] = {"mlp": MLPEncoder, "cnn": CNNEncoder, "cnn_gru": CNNGRUEncoder}


def build_encoder(
    name: str,
    n_features: int,
    d_model: int,
    *,
    hidden: int,
    channels: int,
    gru_hidden: int,
    dropout: float,
    in_channels: int = 1,
) -> nn.Module:
    """``in_channels`` > 1 splits the features channel-major for the CNNs; the MLP sees them flat."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder '{name}'; choose one of {sorted(ENCODERS)}")
    if n_features % in_channels:
        raise ValueError(f"{n_features} features do not split into {in_channels} equal channels")
    return ENCODERS[name](
        n_features,
        d_model,
        hidden=hidden,
        channels=channels,
        gru_hidden=gru_hidden,
        dropout=dropout,
        in_channels=in_channels,
    )
