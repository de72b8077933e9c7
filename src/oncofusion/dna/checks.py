"""The held-out checks of what the encoder knows, on variants of held-out samples
(representations: ``dna/representations.py``):

- retrieval: does a tumour window's nearest normal window (cosine, among all held-out pairs) belong to
  the same variant? Easy by construction (a pair differs by one allele), so it is a sanity check;
- an SBS96 probe: a linear classifier on the variant representation ``[tumour, normal, tumour −
  normal]`` predicts the substitution's trinucleotide class (96 classes, chance ≈ 1%), i.e. whether
  the representation carries the mutation and its context rather than only "something changed";
- masked-LM accuracy beside the most-frequent-token and Markov baselines (``dna/lm_baselines.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from oncofusion.dna.lm_baselines import MaskedPredictions
from oncofusion.dna.module import TokenRoles, encode
from oncofusion.dna.objectives import IGNORE, mask_tokens


def retrieval_top1(tumour: torch.Tensor, normal: torch.Tensor) -> float:
    """Share of tumour windows whose most similar normal window is their own (chance 1/n)."""
    similarity = F.normalize(tumour, dim=-1) @ F.normalize(normal, dim=-1).T
    return float((similarity.argmax(1) == torch.arange(len(tumour))).float().mean())


def sbs96_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, seed: int
) -> dict[str, float]:
    """A multinomial logistic regression from the variant representation to the SBS96 class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    probe.fit(train_x, train_y)
    accuracy = float((probe.predict(test_x) == test_y).mean())
    return {
        "accuracy": round(accuracy, 4),
        "chance": round(1 / 96, 4),
        "majority_class": round(float(np.mean(test_y == _mode(train_y))), 4),
        "n_train": len(train_y),
        "n_test": len(test_y),
        "n_classes_seen": len(set(train_y.tolist())),
    }


def _mode(values: np.ndarray):
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[counts.argmax()]


@torch.no_grad()
def mlm_metrics(
    model, ids: torch.Tensor, roles: TokenRoles, rate: float, batch_size: int, device: torch.device, seed: int
) -> tuple[dict[str, float], MaskedPredictions]:
    """Masked-token accuracy and perplexity on held-out windows, with a fixed masking draw, and each
    masked position's guess (for the paired comparison with the baselines)."""
    from oncofusion.dna.model import base_of

    generator = torch.Generator().manual_seed(seed)
    total_loss, count = 0.0, 0
    windows, positions, truth, predicted = [], [], [], []
    for first in range(0, len(ids), batch_size):
        chunk = ids[first : first + batch_size]
        inputs, labels = mask_tokens(
            chunk, roles.keep(chunk), roles.mask_id, roles.sequence_ids, rate, generator
        )
        inputs, labels = inputs.to(device), labels.to(device)
        hidden = encode(model, inputs, (inputs != roles.pad_id).long())
        picked = labels != IGNORE
        logits = base_of(model).lm_head(hidden[picked]).float()
        total_loss += float(F.cross_entropy(logits, labels[picked], reduction="sum"))
        count += int(picked.sum())
        row, column = torch.nonzero(picked, as_tuple=True)
        windows.append((row + first).cpu().numpy())
        positions.append(column.cpu().numpy())
        truth.append(labels[picked].cpu().numpy())
        predicted.append(logits.argmax(-1).cpu().numpy())
    masked = MaskedPredictions(*(np.concatenate(x) for x in (windows, positions, truth, predicted)))
    loss = total_loss / max(count, 1)
    return {
        "mlm_accuracy": round(float((masked.truth == masked.predicted).mean()) if count else 0.0, 4),
        "perplexity": round(math.exp(loss), 2),
        "n_masked": count,
    }, masked
