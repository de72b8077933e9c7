"""The prediction set each answer carries: thresholds for the sample's own pattern of modalities, an
optional class mix, and two rules every set keeps.

Why per pattern: a model that sees only methylation is less sure than one that sees all three modalities,
so thresholds calibrated on complete samples give a methylation-only sample sets far too small (coverage
0.35 for a 0.90 target on the default cohort). The thresholds for each pattern are fitted on the val split
with the other modalities masked (training/calibrate.py): the same samples, shown to the model as a
served sample of that pattern is. That holds the coverage where missingness does not depend on the class
given the measured modalities (missing completely at random is enough); a pattern the val split cannot
calibrate (too few samples with those modalities) gets every class, said so in ``calibrated_for``.

The two rules: the called class is always in its set, so a set is never empty and never contradicts the
call. Adding a class can only raise coverage, so the guarantee stands; ``called_added`` counts how often
the rule changed a set, and the evaluate report gives that share beside the coverage.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.models.conformal import ConformalSets

UNCALIBRATED = "none"  # calibrated_for of a pattern no thresholds exist for: the set holds every class
MAX_ENUMERATED = 6  # modalities up to which every pattern (2^m − 1) gets its own thresholds


def patterns_of(n_modalities: int, present: np.ndarray) -> list[tuple[bool, ...]]:
    """The patterns to calibrate and report: every non-empty one up to MAX_ENUMERATED modalities (7 for
    three), beyond that only those ``present`` (samples × modalities) holds."""
    if n_modalities <= MAX_ENUMERATED:
        return [p for p in itertools.product((False, True), repeat=n_modalities) if any(p)]
    return sorted({tuple(bool(v) for v in row) for row in present if row.any()})


def pattern_key(names: Sequence[str], present_row: np.ndarray) -> str:
    """The modalities a sample has, joined by '+', in the model's order ('methylation+cna')."""
    return "+".join(name for name, here in zip(names, present_row, strict=True) if here)


@dataclass(frozen=True)
class SetAnswer:
    sets: np.ndarray  # bool (samples × classes)
    calibrated_for: list[str]  # the pattern whose thresholds made each set ('complete' for older models)
    called_added: np.ndarray  # bool per sample: the conformal set lacked the called class


@dataclass(frozen=True)
class SetPredictor:
    """``complete``: thresholds fitted on the val split as it is (the only ones older models have);
    ``patterns``: thresholds per pattern of present modalities, keyed by pattern_key."""

    complete: ConformalSets
    modalities: tuple[str, ...]
    # None: a model from before per-pattern thresholds; {}: none could be fitted (every class, "none").
    patterns: Mapping[str, ConformalSets] | None = None

    @property
    def coverage(self) -> float:
        return self.complete.coverage

    def predict(
        self,
        probabilities: np.ndarray,
        present: np.ndarray,
        called: np.ndarray,
        class_mix: np.ndarray | None = None,
    ) -> SetAnswer:
        """Sets for a batch; ``class_mix`` (shares per class) reweights them for a cohort with that mix."""
        n, k = probabilities.shape
        sets = np.zeros((n, k), dtype=bool)
        calibrated_for = [UNCALIBRATED] * n
        keys = [pattern_key(self.modalities, row) for row in np.asarray(present, dtype=bool)]
        for key in dict.fromkeys(keys):
            rows = np.array([i for i, other in enumerate(keys) if other == key])
            thresholds, label = self._thresholds_for(key)
            if thresholds is None:
                sets[rows] = True
                continue
            if class_mix is not None:
                thresholds = thresholds.reweighted(class_mix)
            sets[rows] = thresholds.predict_sets(probabilities[rows])
            for i in rows:
                calibrated_for[i] = label
        called = np.asarray(called, dtype=np.int64)
        missing = ~sets[np.arange(n), called]
        sets[np.arange(n), called] = True
        return SetAnswer(sets=sets, calibrated_for=calibrated_for, called_added=missing)

    def _thresholds_for(self, key: str) -> tuple[ConformalSets | None, str]:
        if self.patterns is None:  # a model from before per-pattern calibration: its thresholds
            return self.complete, "complete"
        if key in self.patterns:
            return self.patterns[key], key
        return None, UNCALIBRATED

    @classmethod
    def from_stored(
        cls, complete: ConformalSets, modalities: Sequence[str], patterns: Mapping[str, Any] | None
    ) -> SetPredictor:
        return cls(
            complete=complete,
            modalities=tuple(modalities),
            patterns=None
            if patterns is None
            else {key: ConformalSets.from_dict(value) for key, value in patterns.items()},
        )


def widen_flagged(sets: np.ndarray, flagged: list[bool]) -> np.ndarray:
    """Every class in the set of a flagged sample: no coverage is known for it."""
    sets = sets.copy()
    sets[np.asarray(flagged, dtype=bool)] = True
    return sets
