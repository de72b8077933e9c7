"""Fit the ensemble's temperature and conformal thresholds on the val split, and store them in it.

With a cross-validated ensemble (``train.ensemble.folds`` ≥ 2) the val split is never trained or
early-stopped on, so these are fitted on data exchangeable with the test split and with the samples a
served model sees: the conditions under which split-conformal coverage holds. With one model (folds 1,
and tuning trials) val also chose the stopping epoch, a mild optimism in the stated coverage.

The conformal thresholds are also fitted per pattern of present modalities (models/set_predictor.py):
for each pattern, the val samples that have its modalities are shown to the network with the others
masked, as a served sample of that pattern is (which patterns: set_predictor.patterns_of).

A val split the model gets entirely right drives the fitted temperature towards 0 (probabilities towards
one-hot) from a few dozen samples: the temperature may sharpen the logits at most 4× (kept within
[0.25, 20]), and hitting a bound is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score

from oncofusion.config import CalibrationParams
from oncofusion.models.calibration import calibration_report, fit_temperature
from oncofusion.models.conformal import ConformalError, ConformalSets, fit_conformal, marginal_sets
from oncofusion.models.network import EnsembleNet
from oncofusion.models.set_predictor import pattern_key, patterns_of
from oncofusion.training.data import CohortTensors

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.25, 20.0


@dataclass
class Calibration:
    temperature: float
    conformal: ConformalSets | None
    val_f1_macro: float
    val: dict[str, Any]  # NLL, ECE and Brier before and after temperature scaling
    # How val_f1_macro's calls were made: the rule the model's offsets apply (EnsembleNet.decision;
    # "balanced" on a cohort with equal training frequencies calls as "prevalence" and says so).
    decision: str = "prevalence"
    # Thresholds per pattern of present modalities; a pattern no val sample has is left out.
    patterns: dict[str, ConformalSets] = field(default_factory=dict)
    pattern_skipped: dict[str, str] = field(default_factory=dict)  # pattern → why it is absent or marginal

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "decision": self.decision,
            "conformal": self.conformal.to_dict() if self.conformal is not None else None,
            "conformal_patterns": {
                key: {"mode": sets.mode, "n_calibration": sum(sets.n_calibration)}
                for key, sets in self.patterns.items()
            },
            "conformal_patterns_skipped": self.pattern_skipped,
            "val_f1_macro": self.val_f1_macro,
            "val": self.val,
        }


@torch.no_grad()
def raw_logits(net: EnsembleNet, data: CohortTensors) -> np.ndarray:
    """The ensemble's logits before its temperature (whatever temperature it holds now)."""
    net.eval()
    out = net(data.inputs, data.present)
    return (out.logits.float() * net.temperature).numpy()


def calibrate(
    net: EnsembleNet, val: CohortTensors, classes: list[str], params: CalibrationParams
) -> Calibration:
    """Set ``net.temperature`` (1 when off) and fit conformal sets on the calibrated probabilities."""
    net.temperature.fill_(1.0)
    logits = raw_logits(net, val)
    y = val.target.numpy()
    fitted = fit_temperature(logits, y) if params.temperature and len(y) else 1.0
    temperature = min(max(fitted, MIN_TEMPERATURE), MAX_TEMPERATURE)
    net.temperature.fill_(temperature)
    report = calibration_report(logits, y, temperature) if len(y) else {}
    if temperature != fitted:
        report["temperature_fitted"] = fitted  # clamped: val was (nearly) separable
    # The probabilities exactly as the served model computes them (float32, through the network), so a
    # threshold at the edge of a calibration score cannot flip between fitting and serving.
    with torch.no_grad():
        calibrated = net(val.inputs, val.present).logits
        probabilities = calibrated.float().softmax(dim=-1).numpy()
        called = net.decide(calibrated).numpy()
    conformal = (
        fit_conformal(
            probabilities,
            y,
            n_classes=len(classes),
            coverage=params.coverage,
            class_conditional=params.class_conditional,
            classes=classes,
        )
        if params.coverage is not None
        else None
    )
    patterns, skipped = (
        pattern_sets(net, val, classes, params) if params.coverage is not None and len(y) else ({}, {})
    )
    f1 = (
        float(f1_score(y, called, average="macro", labels=list(range(len(classes)))))
        if len(y)
        else float("nan")
    )
    return Calibration(
        temperature=float(temperature),
        conformal=conformal,
        val_f1_macro=f1,
        val=report,
        decision=net.decision,
        patterns=patterns,
        pattern_skipped=skipped,
    )


@torch.no_grad()
def pattern_sets(
    net: EnsembleNet, val: CohortTensors, classes: list[str], params: CalibrationParams
) -> tuple[dict[str, ConformalSets], dict[str, str]]:
    """Conformal thresholds for each pattern of present modalities, from the val samples that have the
    pattern's modalities, the others masked. A pattern whose samples lack a class (or are too few for
    any finite threshold) gets one shared threshold over the classes it has, and the reason is kept; a
    pattern no val sample has is left out (served, it gets every class)."""
    present = val.present.numpy()
    y = val.target.numpy()
    fitted, skipped = {}, {}
    for pattern in patterns_of(len(net.names), present):
        wanted = np.asarray(pattern, dtype=bool)
        rows = present[:, wanted].all(axis=1)
        key = pattern_key(net.names, wanted)
        if not rows.any():
            skipped[key] = "no val sample has these modalities"
            continue
        index = torch.from_numpy(np.flatnonzero(rows))
        masked = torch.from_numpy(np.broadcast_to(wanted, (len(index), len(wanted))).copy())
        inputs = {m: v[index] for m, v in val.inputs.items()}
        probabilities = net(inputs, masked).logits.float().softmax(dim=-1).numpy()
        try:
            fitted[key] = fit_conformal(
                probabilities, y[rows], len(classes), params.coverage, params.class_conditional, classes
            )
        except ConformalError as error:  # a class absent among these rows: one shared threshold
            fitted[key] = marginal_sets(probabilities, y[rows], len(classes), params.coverage)
            skipped[key] = f"marginal: {error}"
    return fitted, skipped
