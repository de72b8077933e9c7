"""Samples that lack a modality (``synthesize.missing_fraction``), missing completely at random.

For each listed modality, ``round(fraction × n_samples)`` samples, drawn from that modality's own random
stream, lose it: their rows are left out of its table (the cohort contract lets a sample be absent from
a modality, and the model masks it). Changing one modality's fraction therefore leaves the samples the
other modalities lose unchanged, except through the rescue below. A sample drawn to lose every modality
keeps one, picked at random from the rescue stream, so each modality's count can fall a little below
its share when all of them are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Missingness:
    present: dict[str, np.ndarray]  # modality → bool per sample: the sample has it
    n_rescued: int  # samples drawn to lose every modality that kept one

    def n_missing(self) -> dict[str, int]:
        return {name: int((~mask).sum()) for name, mask in self.present.items()}


def n_to_drop(n_samples: int, fraction: float) -> int:
    """The share as a count, rounding halves up (not to even), so 0.5 of 5 samples is 3."""
    return int(np.floor(fraction * n_samples + 0.5))


def draw_missing(
    n_samples: int,
    fractions: Mapping[str, float],
    modalities: Sequence[str],
    stream: Callable[[str], np.random.Generator],
    rescue_stream: Callable[[], np.random.Generator],
) -> Missingness:
    """Which samples have each of ``modalities``; ``stream(name)`` gives a modality's own generator,
    asked for only when ``fractions`` lists it with a share above zero."""
    present = {name: np.ones(n_samples, dtype=bool) for name in modalities}
    for name in modalities:
        count = n_to_drop(n_samples, fractions.get(name, 0.0))
        if count:
            present[name][stream(name).permutation(n_samples)[:count]] = False

    stacked = np.stack([present[name] for name in modalities], axis=1)
    bare = np.flatnonzero(~stacked.any(axis=1))
    if len(bare):
        kept = rescue_stream().integers(len(modalities), size=len(bare))
        for sample, k in zip(bare, kept, strict=True):
            present[modalities[k]][sample] = True
    return Missingness(present=present, n_rescued=len(bare))
