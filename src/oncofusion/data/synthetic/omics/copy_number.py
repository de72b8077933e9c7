"""Copy-number profiles from a hidden Markov model over genome-ordered bins.

States are copy numbers {0, 1, 2, 3, 4, 5+}. Along each chromosome the state stays put with probability
1 - breakpoint_rate per bin and otherwise jumps to a different state, so segment lengths (dwell times)
are geometric with mean 1 / breakpoint_rate bins; the chain restarts at each chromosome. On top of this
background, each cancer type has hotspots: arm-level gains/losses (state 3 or 1 over a whole arm) and
focal events (amplification to 5+ or homozygous deletion to 0 in one bin), each present in a sample of
that type with probability ``penetrance × signal``. Observed log2 ratios mix tumour and normal DNA by the
sample's purity and add Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncofusion.config import CopyNumberParams
from oncofusion.data.assembly import GenomeBins, autosome_bins

STATES = np.arange(6)  # 5 stands for "5 or more"
# Start-of-chromosome (and jump-target) distribution: mostly diploid, single-copy changes common.
STATE_PRIOR = np.array([0.01, 0.12, 0.74, 0.10, 0.02, 0.01])


@dataclass(frozen=True)
class Hotspot:
    cls: int
    kind: str  # "arm_gain" | "arm_loss" | "focal_amp" | "focal_del"
    region: str  # arm name ("8q") or bin name
    bins: list[int]
    state: int


@dataclass(frozen=True)
class CopyNumberData:
    log2_ratio: np.ndarray  # samples × bins, float32
    states: np.ndarray  # samples × bins, int8
    features: list[str]
    bins: GenomeBins
    hotspots: list[Hotspot]
    purity: np.ndarray

    @property
    def informative(self) -> list[str]:
        hit = sorted({b for h in self.hotspots for b in h.bins})
        return [self.features[b] for b in hit]


def sample_hmm_states(
    n_samples: int, bins: GenomeBins, breakpoint_rate: float, rng: np.random.Generator
) -> np.ndarray:
    states = np.empty((n_samples, len(bins)), dtype=np.int8)
    for chromosome in bins.chromosome_slices():
        current = rng.choice(STATES, size=n_samples, p=STATE_PRIOR)
        for b in range(chromosome.start, chromosome.stop):
            if b > chromosome.start:
                jump = rng.random(n_samples) < breakpoint_rate
                if jump.any():
                    current = current.copy()
                    current[jump] = _jump_targets(current[jump], rng)
            states[:, b] = current
    return states


def _jump_targets(current: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a new state different from the current one, by the prior renormalised without it."""
    weights = np.tile(STATE_PRIOR, (len(current), 1))
    weights[np.arange(len(current)), current] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = weights.cumsum(axis=1)
    return (rng.random(len(current))[:, None] > cumulative).sum(axis=1).clip(max=len(STATES) - 1)


def _draw_hotspots(
    n_classes: int, bins: GenomeBins, params: CopyNumberParams, rng: np.random.Generator
) -> list[Hotspot]:
    arms = bins.arm_bins()
    arm_names = list(arms)
    names = bins.names
    hotspots: list[Hotspot] = []
    for cls in range(n_classes):
        chosen = rng.choice(
            len(arm_names), size=min(params.arm_events_per_class, len(arm_names)), replace=False
        )
        for a in chosen:
            gain = bool(rng.random() < 0.5)
            hotspots.append(
                Hotspot(
                    cls,
                    "arm_gain" if gain else "arm_loss",
                    arm_names[a],
                    arms[arm_names[a]].tolist(),
                    3 if gain else 1,
                )
            )
        focal = rng.choice(len(bins), size=min(params.focal_events_per_class, len(bins)), replace=False)
        for b in focal:
            amp = bool(rng.random() < 0.5)
            hotspots.append(
                Hotspot(cls, "focal_amp" if amp else "focal_del", names[b], [int(b)], 5 if amp else 0)
            )
    return hotspots


def expected_log2_ratio(states: np.ndarray, purity: np.ndarray) -> np.ndarray:
    """Noise-free log2 ratio of samples × bins ``states``: tumour (``purity``, one per sample) mixed
    with diploid normal DNA, relative to diploid."""
    mixed = purity[:, None] * states + (1 - purity[:, None]) * 2.0
    return np.log2(mixed / 2.0)


def generate_copy_number(
    label_index: np.ndarray, n_classes: int, params: CopyNumberParams, rng: np.random.Generator
) -> CopyNumberData:
    bins = autosome_bins(params.n_bins)
    hotspots = _draw_hotspots(n_classes, bins, params, rng)
    states = sample_hmm_states(len(label_index), bins, params.breakpoint_rate, rng)
    probability = params.penetrance * params.signal
    for spot in hotspots:
        members = np.flatnonzero(label_index == spot.cls)
        carriers = members[rng.random(len(members)) < probability]
        states[np.ix_(carriers, spot.bins)] = spot.state

    # Real tumours always carry some stroma; the cap also keeps a homozygous deletion's log2 finite.
    purity = rng.beta(*params.purity_beta, size=len(label_index)).clip(0.05, 0.95)
    log2_ratio = expected_log2_ratio(states, purity) + rng.normal(0.0, params.noise_sd, size=states.shape)
    return CopyNumberData(
        log2_ratio=log2_ratio.astype(np.float32),
        states=states,
        features=bins.names,
        bins=bins,
        hotspots=hotspots,
        purity=purity,
    )
