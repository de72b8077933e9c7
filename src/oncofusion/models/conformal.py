"""Split-conformal prediction sets, class-conditional (Mondrian) where the calibration counts allow.

Why sets: a cancer-type call with 0.55 probability should come with its plausible alternatives. A split-
conformal set built from held-out calibration data contains the true class with probability ≥ coverage,
whatever the model, as long as calibration and test samples are exchangeable.

Score s = 1 − p_true. For n calibration scores and coverage 1 − α, the threshold q is the ⌈(n+1)(1−α)⌉-th
smallest score, and set(x) = {c : 1 − p_c(x) ≤ q}. That gives 1 − α ≤ P(y ∈ set) ≤ 1 − α + 1/(n+1) (the upper
bound when scores have no ties). When the rank exceeds n no finite threshold is valid; q = 1.0 then
stands for +inf: every class is included, and 1.0 stays JSON-safe.

Marginal coverage can hide a rare class that is almost never covered: the shared q is set by the
common classes. Class-conditional (Mondrian) mode computes one q per class from that class's calibration
scores only, so each class gets its own coverage guarantee, at the price of needing enough calibration
samples per class (see min_samples_per_class).

Label shift (another cohort's class mix, same P(x | class)): class-conditional thresholds keep their
per-class coverage, hence any mix of it. A shared (marginal) threshold does not: reweighted(mix) gives the
weighted split-conformal thresholds of Podkopaev & Ramdas (2021, "Distribution-free uncertainty
quantification for classification under label shift"), one per candidate class, from the calibration
scores stored with a marginal fit (a few hundred numbers in the model file).

Only the thresholds (and, for a marginal fit, the calibration scores) are needed to predict, so the fitted
ConformalSets is stored in the model file (to_dict / from_dict) and applied without any refit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from oncofusion.errors import ConfigError, OncofusionError

Mode = Literal["class_conditional", "marginal", "label_shift_weighted"]
ClassConditional = Literal["auto", "always", "never"]
MODES: tuple[str, ...] = ("class_conditional", "marginal", "label_shift_weighted")
CLASS_CONDITIONAL_CHOICES: tuple[str, ...] = ("auto", "always", "never")
# Written into to_dict: a reader that finds another score refuses the thresholds instead of misapplying them.
SCORE = "1 - p_true"
# (n+1)·coverage is computed in floating point: 20 · 0.95 may land a hair above 19. Ranks absorb this much.
_RANK_SLACK = 1e-9
# Probabilities are validated to this tolerance (softmax in float32 can stray a few ulps outside [0, 1]).
_PROB_SLACK = 1e-6


class ConformalError(OncofusionError):
    """The calibration data cannot support the conformal sets asked for, or stored thresholds are invalid."""


def _check_coverage(coverage: float) -> float:
    value = float(coverage)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ConfigError(f"conformal coverage must be strictly between 0 and 1, got {coverage}")
    return value


def conformal_rank(n: int, coverage: float) -> int:
    """⌈(n+1)·coverage⌉: the 1-based rank of the threshold among n sorted calibration scores."""
    return math.ceil((n + 1) * coverage - _RANK_SLACK)


def min_samples_per_class(coverage: float) -> int:
    """Fewest calibration samples for a finite threshold at this coverage: ⌈1/(1−coverage)⌉ − 1 (9 at 0.9).

    Found by stepping conformal_rank itself, so the rule "auto" uses can never disagree with the threshold.
    """
    coverage = _check_coverage(coverage)
    n = max(0, math.ceil(1.0 / (1.0 - coverage)) - 3)
    while conformal_rank(n, coverage) > n:
        n += 1
    return n


def conformal_threshold(scores: np.ndarray, coverage: float) -> float:
    """The ⌈(n+1)·coverage⌉-th smallest score, or 1.0 (+inf for scores in [0, 1]) when that rank exceeds n."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    rank = conformal_rank(len(ordered), coverage)
    return 1.0 if rank > len(ordered) else float(ordered[rank - 1])


def _describe(k: int, classes: Sequence[str] | None) -> str:
    return f"class {k} ({classes[k]!r})" if classes is not None else f"class {k}"


def _as_probs(probs: np.ndarray, n_classes: int, what: str) -> np.ndarray:
    """Float64 (samples × n_classes), clipped to [0, 1] so 1 − p never exceeds the 1.0 (+inf) cap."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise ConformalError(f"{what} probs must be (samples × {n_classes} classes), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ConformalError(f"{what} probs contain NaN or infinite values")
    if p.size and (p.min() < -_PROB_SLACK or p.max() > 1 + _PROB_SLACK):
        raise ConformalError(
            f"{what} probs must lie in [0, 1] (logits passed?), got [{p.min():.4g}, {p.max():.4g}]"
        )
    return np.clip(p, 0.0, 1.0)


def _as_labels(y: np.ndarray, n_samples: int, n_classes: int, what: str) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ConformalError(
            f"{what}: probs has {n_samples} rows but y has shape {labels.shape}; they must match one to one"
        )
    if n_samples and not np.issubdtype(labels.dtype, np.integer):
        raise ConformalError(f"{what}: y must hold integer class indices, got dtype {labels.dtype}")
    if n_samples and (labels.min() < 0 or labels.max() >= n_classes):
        raise ConformalError(
            f"{what}: y holds labels outside [0, {n_classes}): min {labels.min()}, max {labels.max()}"
        )
    return labels.astype(np.int64)


@dataclass(frozen=True)
class ConformalSets:
    """Fitted conformal thresholds: all the server needs to turn probabilities into prediction sets.

    thresholds has one entry per class (all equal in marginal mode) and n_calibration the calibration count
    of each class, kept so a reader of the model file can judge how much the guarantee rests on.
    Lists passed in are stored as tuples, so a fitted instance cannot be changed behind its validation.
    """

    coverage: float
    mode: Mode
    thresholds: tuple[float, ...]
    n_calibration: tuple[int, ...]
    # A marginal fit's calibration scores (1 − p_true) and their classes: what reweighted() needs.
    scores: tuple[float, ...] = ()
    labels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(float(q) for q in self.thresholds))
        object.__setattr__(self, "n_calibration", tuple(int(n) for n in self.n_calibration))
        object.__setattr__(self, "scores", tuple(float(s) for s in self.scores))
        object.__setattr__(self, "labels", tuple(int(k) for k in self.labels))
        if len(self.scores) != len(self.labels):
            raise ConformalError(
                f"conformal sets: {len(self.scores)} calibration scores but {len(self.labels)} labels"
            )
        if self.labels and not all(0 <= k < len(self.thresholds) for k in self.labels):
            raise ConformalError(f"conformal sets: calibration labels outside [0, {len(self.thresholds)})")
        object.__setattr__(self, "coverage", float(self.coverage))
        if not (math.isfinite(self.coverage) and 0.0 < self.coverage < 1.0):
            raise ConformalError(f"conformal sets: coverage must be in (0, 1), got {self.coverage}")
        if self.mode not in MODES:
            raise ConformalError(f"conformal sets: mode must be one of {MODES}, got {self.mode!r}")
        if len(self.thresholds) < 2 or len(self.thresholds) != len(self.n_calibration):
            raise ConformalError(
                f"conformal sets: need one threshold and one calibration count per class (≥ 2 classes), got "
                f"{len(self.thresholds)} thresholds and {len(self.n_calibration)} counts"
            )
        if not all(math.isfinite(q) and 0.0 <= q <= 1.0 for q in self.thresholds):
            raise ConformalError(
                f"conformal sets: thresholds must lie in [0, 1], got {list(self.thresholds)}"
            )
        if any(n < 0 for n in self.n_calibration):
            raise ConformalError(f"conformal sets: negative calibration count in {list(self.n_calibration)}")
        if self.mode == "marginal" and len(set(self.thresholds)) != 1:
            raise ConformalError(
                f"conformal sets: marginal mode needs one shared threshold, got {self.thresholds}"
            )

    @property
    def n_classes(self) -> int:
        return len(self.thresholds)

    def predict_sets(self, probs: np.ndarray) -> np.ndarray:
        """Boolean (samples × classes) membership: class c is in the set when 1 − p_c ≤ its threshold."""
        p = _as_probs(probs, self.n_classes, "predict_sets:")
        return (1.0 - p) <= np.asarray(self.thresholds)[None, :]

    def reweighted(self, class_mix: np.ndarray) -> ConformalSets:
        """The thresholds for a cohort whose class mix is ``class_mix`` (shares, one per class).

        Class-conditional thresholds already hold per class, so they are returned unchanged. A marginal
        fit becomes weighted split-conformal (Podkopaev & Ramdas 2021): calibration sample i weighs
        w(y_i) = mix(y_i) / calibration share(y_i), and candidate class c is judged against the
        weighted quantile of the scores with the test point's own weight w(c) placed at +inf.
        """
        mix = np.asarray(class_mix, dtype=np.float64)
        if mix.shape != (self.n_classes,) or not np.isfinite(mix).all() or (mix < 0).any() or mix.sum() <= 0:
            raise ConformalError(
                f"class mix must be {self.n_classes} non-negative shares, got {np.round(mix, 4).tolist()}"
            )
        if self.mode == "class_conditional":
            return self
        if not self.scores:
            raise ConformalError(
                "these marginal thresholds were stored without their calibration scores, so they cannot "
                "be reweighted to another class mix (re-train the model)"
            )
        counts = np.asarray(self.n_calibration, dtype=np.float64)
        source = counts / counts.sum()
        weight = np.divide(mix / mix.sum(), source, out=np.zeros_like(mix), where=source > 0)
        thresholds = weighted_thresholds(
            np.asarray(self.scores), np.asarray(self.labels), weight, self.coverage
        )
        return ConformalSets(
            self.coverage,
            "label_shift_weighted",
            tuple(thresholds),
            self.n_calibration,
            self.scores,
            self.labels,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (floats, ints, strings, lists): the dict is written inside the model file."""
        document: dict[str, Any] = {
            "score": SCORE,
            "coverage": self.coverage,
            "mode": self.mode,
            "thresholds": list(self.thresholds),
            "n_calibration": list(self.n_calibration),
        }
        if self.scores:
            document["scores"] = list(self.scores)
            document["labels"] = list(self.labels)
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConformalSets:
        """Inverse of to_dict. Missing or unknown keys or another score are refused, not guessed at."""
        expected = {"score", "coverage", "mode", "thresholds", "n_calibration"}
        optional = {"scores", "labels"}
        if not isinstance(data, dict) or not expected <= set(data) <= expected | optional:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ConformalError(f"conformal sets: expected keys {sorted(expected)}, got {keys}")
        if data["score"] != SCORE:
            raise ConformalError(f"conformal sets: score {data['score']!r} is not the supported {SCORE!r}")
        return cls(
            coverage=data["coverage"],
            mode=data["mode"],
            thresholds=tuple(data["thresholds"]),
            n_calibration=tuple(data["n_calibration"]),
            scores=tuple(data.get("scores", ())),
            labels=tuple(data.get("labels", ())),
        )


def fit_conformal(
    probs: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    coverage: float,
    class_conditional: ClassConditional = "auto",
    classes: Sequence[str] | None = None,
) -> ConformalSets:
    """Fit split-conformal thresholds on calibration probabilities (held out from training and T fitting).

    class_conditional: "always" needs ≥ min_samples_per_class(coverage) calibration samples in every class and
    fails naming the classes that lack them; "never" shares one threshold; "auto" is class-conditional when
    every class has enough samples (each threshold finite), else marginal. Every class must appear in the
    calibration labels in every mode: a class that is absent means the calibration split is broken.
    classes (optional names, one per class) only make the error messages readable.
    """
    coverage = _check_coverage(coverage)
    if class_conditional not in CLASS_CONDITIONAL_CHOICES:
        raise ConfigError(
            f"class_conditional must be one of {CLASS_CONDITIONAL_CHOICES}, got {class_conditional!r}"
        )
    if n_classes < 2:
        raise ConfigError(f"n_classes must be at least 2, got {n_classes}")
    if classes is not None and len(classes) != n_classes:
        raise ConfigError(f"classes has {len(classes)} names but n_classes is {n_classes}")
    p = _as_probs(probs, n_classes, "calibration")
    labels = _as_labels(y, p.shape[0], n_classes, "calibration")
    if len(labels) == 0:
        raise ConformalError("calibration set is empty: conformal thresholds need held-out labelled samples")
    counts = np.bincount(labels, minlength=n_classes)
    missing = [_describe(k, classes) for k in np.flatnonzero(counts == 0)]
    if missing:
        raise ConformalError(
            f"{', '.join(missing)} never appear(s) in the {len(labels)} calibration labels; "
            "every class needs calibration samples (check the calibration split)"
        )
    scores = 1.0 - p[np.arange(len(labels)), labels]
    minimum = min_samples_per_class(coverage)
    too_few = np.flatnonzero(counts < minimum)
    if class_conditional == "always" and len(too_few):
        detail = "; ".join(f"{_describe(k, classes)} has {counts[k]}" for k in too_few)
        raise ConformalError(
            f"class-conditional conformal sets at coverage {coverage} need at least {minimum} calibration "
            f"samples per class: {detail}. Use a larger calibration split, a lower coverage, or "
            "class_conditional='auto'/'never'"
        )
    if class_conditional == "never" or len(too_few):
        return marginal_sets(p, labels, n_classes, coverage)
    thresholds = tuple(conformal_threshold(scores[labels == k], coverage) for k in range(n_classes))
    return ConformalSets(coverage, "class_conditional", thresholds, tuple(counts.tolist()))


def marginal_sets(probs: np.ndarray, y: np.ndarray, n_classes: int, coverage: float) -> ConformalSets:
    """One shared threshold from every calibration score, with the scores kept for reweighting. Unlike
    fit_conformal it accepts classes absent from ``y`` (their count is 0): for a pattern of modalities
    that only some classes' samples have."""
    p = _as_probs(probs, n_classes, "calibration")
    labels = _as_labels(y, p.shape[0], n_classes, "calibration")
    if len(labels) == 0:
        raise ConformalError("calibration set is empty: conformal thresholds need held-out labelled samples")
    scores = 1.0 - p[np.arange(len(labels)), labels]
    order = np.argsort(scores, kind="stable")
    return ConformalSets(
        _check_coverage(coverage),
        "marginal",
        (conformal_threshold(scores, coverage),) * n_classes,
        tuple(np.bincount(labels, minlength=n_classes).tolist()),
        tuple(scores[order].tolist()),
        tuple(labels[order].tolist()),
    )


def weighted_thresholds(
    scores: np.ndarray, labels: np.ndarray, class_weight: np.ndarray, coverage: float
) -> np.ndarray:
    """Per candidate class c: the smallest calibration score t with Σ_{s_i ≤ t} w(y_i) ≥ coverage ·
    (Σ_i w(y_i) + w(c)), or 1.0 (+inf) when the calibration mass cannot reach it. With equal weights this
    is the ⌈(n+1)·coverage⌉-th score, the unweighted rule."""
    coverage = _check_coverage(coverage)
    order = np.argsort(scores, kind="stable")
    ordered, weights = np.asarray(scores)[order], np.asarray(class_weight)[np.asarray(labels)[order]]
    cumulative = np.cumsum(weights)
    total = cumulative[-1] if len(cumulative) else 0.0
    thresholds = np.ones(len(class_weight))
    for c, own in enumerate(class_weight):
        needed = coverage * (total + own) - _RANK_SLACK * max(total, 1.0)
        reached = np.flatnonzero(cumulative >= needed)
        if len(reached) and needed > 0:
            thresholds[c] = ordered[reached[0]]
        elif needed <= 0:
            thresholds[c] = 0.0
    return np.clip(thresholds, 0.0, 1.0)


def set_metrics(sets: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Empirical coverage, mean set size, shares of empty and singleton sets, and coverage per class.

    per_class_coverage[k] is None for a class absent from y (JSON-safe, unlike NaN).
    """
    membership = np.asarray(sets)
    if membership.ndim != 2 or membership.dtype != np.bool_:
        raise ConformalError(
            f"sets must be a boolean (samples × classes) array, got {membership.dtype} {membership.shape}"
        )
    labels = _as_labels(y, membership.shape[0], membership.shape[1], "set_metrics")
    if len(labels) == 0:
        raise ConformalError("set_metrics: no samples")
    covered = membership[np.arange(len(labels)), labels]
    sizes = membership.sum(axis=1)
    return {
        "coverage": float(covered.mean()),
        "mean_set_size": float(sizes.mean()),
        "empty_share": float((sizes == 0).mean()),
        "singleton_share": float((sizes == 1).mean()),
        "per_class_coverage": [
            float(covered[labels == k].mean()) if (labels == k).any() else None
            for k in range(membership.shape[1])
        ],
    }
