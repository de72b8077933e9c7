"""Does the cohort being classified have another class mix than training (label shift)?

A model's calibrated probabilities carry its training prevalence: where the new cohort's prevalence
differs, the most probable class is no longer the best call. It happens in practice: the cfDNA
cohort's test set is the study's separate validation cohort, 45% diseased against 20% in training,
and there the fusion model calls too few diseased samples (docs/results.md).
Nothing here needs the new cohort's labels:

- size: the class mix under which the calibrated probabilities fit the test cohort best, by EM
  (Saerens, Latinne & Decaestecker 2002);
- detection: their likelihood-ratio test of that mix against the training mix (twice the log-likelihood
  ratio, chi-squared with classes − 1 degrees of freedom). It trusts the probabilities, so it is run on
  the validation split too, drawn like training: a flag there means they are grossly miscalibrated,
  and the test split's verdict cannot be read (a quiet validation split only fails to reject). On
  stratified splits the p-value is conservative: the 15 unshifted benchmark runs all gave p >= 0.85.
  A first version tested the called classes of val against test (black-box shift detection; Lipton,
  Wang & Smola 2018). With cfDNA's ~70 validation rows it did not flag the shift in any of 5 repeats
  (p 0.08–0.66); the likelihood ratio did in all of them.

The labels are used only to score what an adapted call would have given, so the report can say
whether acting on the warning pays on this cohort.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2
from sklearn.metrics import f1_score

from oncofusion.evaluation.metrics import Predictions
from oncofusion.models.class_mix import adapted_call, estimate_class_mix

SHIFT_ALPHA = 0.01  # p-value below which the report flags a shift
Verdict = Literal["shifted", "no shift", "cannot tell"]


def training_counts(labels: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """Rows per class in the training split, in ``classes`` order (0 for a class it lacks): the mix
    the model's calibrated probabilities carry."""
    counts = labels.loc[labels["split"] == "train", "label"].value_counts()
    return counts.reindex(classes, fill_value=0).to_numpy()


def shift_p_value(probabilities: np.ndarray, training_frequency: np.ndarray, mix: np.ndarray) -> float:
    """Likelihood-ratio test of ``mix`` (the EM estimate) against the training mix: each row's
    likelihood ratio is sum over classes of p(y | x) · mix(y) / training(y)."""
    old = np.clip(training_frequency, 1e-12, None)
    ratio = (probabilities * (mix / old)).sum(axis=1)
    statistic = max(0.0, 2.0 * float(np.log(np.clip(ratio, 1e-300, None)).sum()))
    return float(chi2.sf(statistic, max(1, len(training_frequency) - 1)))


def _frequencies(values: np.ndarray, classes: list[str]) -> dict[str, float]:
    return {c: round(float(v), 4) for c, v in zip(classes, values, strict=True)}


def label_shift_document(
    val: Predictions,
    test: Predictions,
    training_counts: np.ndarray,
    classes: list[str],
    decision: str = "prevalence",
) -> dict[str, object] | None:
    """The report: training mix, estimated and called mixes on val and test, the shift test, and test
    macro-F1 with the call adapted to the estimated mix and with the balanced call. ``decision`` is the
    model's (EnsembleNet.decision): the advice does not tell a model to do what it already does."""
    if not len(val.y) or not len(test.y):
        return None
    k = len(classes)
    # At least one count per class, as the balanced decision does: a class with no training row would
    # otherwise have a zero prior, into which EM pours every sample.
    training = np.clip(np.asarray(training_counts, dtype=float), 1.0, None)
    training = training / training.sum()
    estimated = {
        split: estimate_class_mix(p.probabilities, training) for split, p in (("val", val), ("test", test))
    }
    p_values = {
        s: shift_p_value(p.probabilities, training, estimated[s]) for s, p in (("val", val), ("test", test))
    }
    log_probabilities = np.log(np.clip(test.probabilities, 1e-12, None))

    def f1(called: np.ndarray) -> float:
        return round(float(f1_score(test.y, called, labels=range(k), average="macro", zero_division=0)), 4)

    adapted = adapted_call(test.probabilities, training, estimated["test"])
    balanced = (log_probabilities - np.log(training)).argmax(axis=1)
    readable = p_values["val"] >= SHIFT_ALPHA  # probabilities consistent with the training mix on val
    shifted = readable and p_values["test"] < SHIFT_ALPHA
    verdict: Verdict = "cannot tell" if not readable else "shifted" if shifted else "no shift"
    if verdict == "cannot tell":
        advice = (
            "the probabilities do not fit the training class mix on the validation split, "
            "so the test cannot tell"
        )
    elif verdict == "shifted" and decision != "prevalence":
        advice = (
            "the test cohort's class mix differs from training; the model's calls already do not follow "
            f"the training prevalence (decision: {decision})"
        )
    elif verdict == "shifted":
        advice = (
            "the test cohort's class mix differs from training: a call that does not lean on the training "
            "prevalence (train.calibration.decision: balanced) transfers better, or, where the cohort's "
            "class mix is known, decision: target with that mix as target_mix"
        )
    else:
        advice = "no shift detected"
    return {
        "what": "class mix of the test split against training, from the model's outputs (no labels); "
        "the labels only score the adapted calls",
        "training_frequency": _frequencies(training, classes),
        "estimated_frequency": {s: _frequencies(v, classes) for s, v in estimated.items()},
        "called_frequency": {
            s: _frequencies(np.bincount(p.predicted, minlength=k) / len(p.y), classes)
            for s, p in (("val", val), ("test", test))
        },
        "observed_test_frequency": _frequencies(np.bincount(test.y, minlength=k) / len(test.y), classes),
        "shift_p_value": round(p_values["test"], 6),
        "shift_p_value_val": round(p_values["val"], 6),
        "shift_alpha": SHIFT_ALPHA,
        "shifted": shifted,
        "verdict": verdict,
        "test_f1_macro": {
            "model": f1(test.predicted),
            "adapted_to_estimated_mix": f1(adapted),
            "balanced": f1(balanced),
        },
        "advice": advice,
    }
