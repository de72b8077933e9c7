"""How much of the transformer's output to add to the wide path's, chosen on out-of-fold predictions.

The wide path starts from a regularised (piecewise-)linear model fitted on each member's rows; the
transformer is trained on top of it. On a cohort where the transformer learns nothing the linear model
did not, its logits are noise that early stopping on ~70 held-out rows cannot fully keep out (cfDNA:
the wide path alone reaches macro-F1 0.80, wide plus transformer 0.77). Each training sample is held
out by exactly one cross-validation member, so the members' out-of-fold logits score every weight on
the whole training split, not on one fold: the weight w in ``w · transformer + wide`` that minimises
the out-of-fold log-loss (class-weighted when early stopping is) is stored in every member. w = 1 is
the model as trained; w = 0 is the wide path alone. The members early-stopped on those same rows, which
flatters the transformer slightly, so the choice errs towards keeping it. It judges the training
distribution only: on cfDNA, whose test set is a separate cohort, the out-of-fold loss keeps the
transformer (w = 1) although the wide path alone scores higher on that test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from oncofusion.models.network import EnsembleNet
from oncofusion.training.data import CohortTensors, subset

GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())


@dataclass(frozen=True)
class DeepWeightChoice:
    weight: float
    losses: dict[float, float]  # out-of-fold log-loss per candidate weight
    n_rows: int

    def as_record(self) -> dict[str, object]:
        return {
            "deep_weight": self.weight,
            "out_of_fold_rows": self.n_rows,
            "out_of_fold_loss": {str(w): round(v, 5) for w, v in self.losses.items()},
        }


@torch.no_grad()
def out_of_fold_parts(
    ensemble: EnsembleNet, data: CohortTensors, held_rows: list[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each member's transformer and wide logits on the rows it did not train on, stacked in row order
    of ``held_rows`` (every training row once), with their targets."""
    deep, wide, target = [], [], []
    for member, rows in zip(ensemble.members, held_rows, strict=True):
        held = subset(data, rows)
        member.eval()
        member.deep_weight.fill_(1.0)
        out = member(held.inputs, held.present)
        if out.wide_logits is None:
            raise ValueError("the deep weight needs the wide path (model.wide)")
        deep.append((out.logits - out.wide_logits).float())
        wide.append(out.wide_logits.float())
        target.append(held.target)
    return torch.cat(deep), torch.cat(wide), torch.cat(target)


def choose_deep_weight(
    ensemble: EnsembleNet,
    data: CohortTensors,
    held_rows: list[np.ndarray],
    class_weight: torch.Tensor | None = None,
) -> DeepWeightChoice:
    """Pick the weight on the out-of-fold log-loss and store it in every member."""
    deep, wide, target = out_of_fold_parts(ensemble, data, held_rows)
    choice = weight_by_loss(deep, wide, target, class_weight)
    for member in ensemble.members:
        member.deep_weight.fill_(choice.weight)
    return choice


def weight_by_loss(
    deep: torch.Tensor, wide: torch.Tensor, target: torch.Tensor, class_weight: torch.Tensor | None = None
) -> DeepWeightChoice:
    """The grid weight with the lowest log-loss of ``w · deep + wide`` (ties: more of the transformer)."""
    losses = {
        w: float(nn.functional.cross_entropy(w * deep + wide, target, weight=class_weight)) for w in GRID
    }
    best = min(losses, key=lambda w: (losses[w], -w))
    return DeepWeightChoice(weight=best, losses=losses, n_rows=len(target))
