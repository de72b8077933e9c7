"""A sample model that reads a variant set: each variant becomes a token, a small transformer lets the
variants of one sample attend to each other, and gated attention pooling (Ilse et al. 2018) weighs
them into the sample's vector.

A token is the sum of whatever describes the variant: a projection of its language-model embedding
(``dense``), and learned embeddings of categorical ids — its 1-Mb position bin, and for the MuAt
baseline (Sanjaya et al. 2023) its mutation motif (``dna/muat.py``). The same model therefore serves
the embedding model and the MuAt baseline, so the comparison differs only in what each token says.

A sample is a set, not a sequence: no order embedding, and a sample's padding and other samples'
variants never reach its vector (the key-padding mask and per-sample bags). Training draws a fresh
subset of each sample's variants every epoch (MuAt's sampling): cheaper than whole sets on a CPU and a
regulariser; prediction reads every variant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oncofusion.config.dna import DnaSetModelParams
from oncofusion.errors import CohortError


@dataclass(frozen=True)
class VariantSets:
    """Per-variant inputs of a cohort and which rows belong to which sample.

    ``dense``: (variants, dim) float32 or None; ``ids``: name → (variants,) int64 ids, 0 meaning
    "not seen in training"; ``members``: sample → its row indices.
    """

    dense: np.ndarray | None
    ids: dict[str, np.ndarray]
    members: dict[str, np.ndarray]

    @classmethod
    def of(cls, owners: np.ndarray, dense: np.ndarray | None, ids: dict[str, np.ndarray]) -> VariantSets:
        order = np.argsort(owners, kind="stable")
        names, starts = np.unique(owners[order], return_index=True)
        groups = np.split(order, starts[1:])
        return cls(dense, ids, {str(n): g for n, g in zip(names, groups, strict=True)})

    def batch(self, samples: list[str], limit: int | None, rng: np.random.Generator | None) -> SetBatch:
        """Pad the samples' variants into one batch; with ``limit`` and ``rng``, a random subset each."""
        chosen = []
        for s in samples:
            rows = self.members.get(s, np.empty(0, dtype=np.int64))
            if limit is not None and len(rows) > limit:
                rows = np.sort(rng.choice(rows, size=limit, replace=False)) if rng else rows[:limit]
            chosen.append(rows)
        width = max(1, max((len(r) for r in chosen), default=0))
        present = torch.zeros(len(samples), width, dtype=torch.bool)
        index = np.zeros((len(samples), width), dtype=np.int64)
        for i, rows in enumerate(chosen):
            index[i, : len(rows)] = rows
            present[i, : len(rows)] = True
        flat = torch.from_numpy(index)
        dense = None if self.dense is None else torch.from_numpy(self.dense)[flat] * present.unsqueeze(-1)
        ids = {k: torch.from_numpy(v)[flat].masked_fill(~present, 0) for k, v in self.ids.items()}
        return SetBatch(dense, ids, present)


@dataclass(frozen=True)
class SetBatch:
    dense: torch.Tensor | None  # (samples, variants, dim)
    ids: dict[str, torch.Tensor]  # name → (samples, variants)
    present: torch.Tensor  # (samples, variants) bool


class VariantSetModel(nn.Module):
    def __init__(
        self,
        dense_dim: int,
        vocabularies: dict[str, int],
        n_classes: int,
        width: int = 64,
        layers: int = 1,
        heads: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.dense = nn.Linear(dense_dim, width) if dense_dim else None
        self.tables = nn.ModuleDict({k: nn.Embedding(size, width) for k, size in vocabularies.items()})
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None
        self.value = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        self.score = nn.Linear(width, 1)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Dropout(dropout), nn.Linear(width, n_classes))

    def tokens(self, batch: SetBatch) -> torch.Tensor:
        parts = [self.tables[k](v) for k, v in batch.ids.items() if k in self.tables]
        if self.dense is not None:
            parts.append(self.dense(batch.dense))
        return torch.stack(parts).sum(0)

    def pool(self, batch: SetBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's vector and its attention weights over its variants (0 on padding)."""
        x, present = self.tokens(batch), batch.present
        some = present.any(1)  # a sample with no variant: a zero vector, not NaN from an all-masked row
        if self.encoder is not None and some.any():
            encoded = torch.zeros_like(x)
            encoded[some] = self.encoder(x[some], src_key_padding_mask=~present[some])
            x = encoded
        scores = self.score(torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~present, float("-inf")), dim=1).nan_to_num(0.0)
        return (weights.unsqueeze(-1) * x).sum(1), weights

    def forward(self, batch: SetBatch) -> torch.Tensor:
        return self.head(self.pool(batch)[0])


def fit_set_model(
    sets: VariantSets,
    train: tuple[list[str], np.ndarray],
    val: tuple[list[str], np.ndarray],
    n_classes: int,
    settings: DnaSetModelParams,
    seed: int,
) -> tuple[VariantSetModel, dict[str, float]]:
    """AdamW on minibatches of training samples, class-balanced, keeping the best validation loss."""
    for name, (listed, _) in (("training", train), ("validation", val)):
        if not listed:
            raise CohortError(f"the variant-set model needs {name} samples; the {name} split is empty")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocabularies = {k: int(v.max()) + 1 for k, v in sets.ids.items()}
    dense_dim = 0 if sets.dense is None else sets.dense.shape[1]
    model = VariantSetModel(
        dense_dim, vocabularies, n_classes, settings.width, settings.layers, settings.heads, settings.dropout
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-2)
    samples, labels = train
    y = torch.tensor(np.asarray(labels, dtype=np.int64))
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    class_weight = counts.sum() / (n_classes * counts)
    val_batch = sets.batch(val[0], settings.train_variants * 2, np.random.default_rng(seed + 1))
    val_y = torch.tensor(np.asarray(val[1], dtype=np.int64))
    best, best_loss, best_epoch = copy.deepcopy(model.state_dict()), float("inf"), 0
    for epoch in range(settings.epochs):
        model.train()
        order = rng.permutation(len(samples))
        for start in range(0, len(samples), settings.batch_size):
            picked = order[start : start + settings.batch_size]
            batch = sets.batch([samples[i] for i in picked], settings.train_variants, rng)
            optimiser.zero_grad()
            F.cross_entropy(model(batch), y[picked], weight=class_weight).backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            loss = float(F.cross_entropy(model(val_batch), val_y))
        if loss < best_loss:
            best, best_loss, best_epoch = copy.deepcopy(model.state_dict()), loss, epoch + 1
        elif epoch + 1 - best_epoch >= settings.patience:
            break
    model.load_state_dict(best)
    model.eval()
    return model, {"best_val_loss": round(best_loss, 4), "best_epoch": best_epoch, "epochs_run": epoch + 1}


def predict_sets(
    model: VariantSetModel, sets: VariantSets, samples: list[str], batch_size: int = 4
) -> np.ndarray:
    """Class probabilities from every variant of each sample."""
    out = []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            batch = sets.batch(samples[start : start + batch_size], None, None)
            out.append(torch.softmax(model(batch), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head[-1].out_features))
