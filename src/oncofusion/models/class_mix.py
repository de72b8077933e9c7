"""A cohort's class mix, estimated from the model's own probabilities, and the calls adapted to it.

Shared by evaluate's label-shift report and by prediction (`oncofusion predict --class-mix`, the
service's cohort endpoint), so an adapted call is the same number wherever it is made. numpy only.
"""

from __future__ import annotations

import numpy as np

from oncofusion.errors import OncofusionError

# Fewer samples than this give a mix estimate that is mostly noise (EM over 24 classes from 20 samples
# puts whole classes at zero): a batch this small is refused an estimate, said so, and called as usual.
MIN_BATCH_FOR_ESTIMATE = 50


class ClassMixError(OncofusionError):
    """A stated class mix is malformed, or names classes the model does not have."""


def estimate_class_mix(
    probabilities: np.ndarray, training_frequency: np.ndarray, tol: float = 1e-8, max_iter: int = 1000
) -> np.ndarray:
    """EM for the prior under which ``probabilities`` (calibrated to ``training_frequency``) fit the
    rows best: reweight each row's posterior by new prior / old prior, average, repeat."""
    old = np.clip(training_frequency, 1e-12, None)
    mix = old.copy()
    for _ in range(max_iter):
        adjusted = probabilities * (mix / old)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        updated = adjusted.mean(axis=0)
        if np.abs(updated - mix).max() < tol:
            return updated
        mix = updated
    return mix


def adapted_call(probabilities: np.ndarray, training_frequency: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """The most probable class under ``mix`` for probabilities calibrated to ``training_frequency``:
    argmax log p + log(mix / training) (Saerens et al. 2002). Evaluate's report and a served batch both
    call through here, so the two agree sample for sample."""
    log_probabilities = np.log(np.clip(probabilities, 1e-12, None))
    shift = np.log(np.clip(mix, 1e-12, None)) - np.log(np.clip(training_frequency, 1e-12, None))
    return (log_probabilities + shift).argmax(axis=1)


def stated_mix(mix: dict[str, float], classes: list[str]) -> np.ndarray:
    """A user's {class: share} as shares in the model's class order; every class named, shares > 0."""
    unknown = sorted(set(mix) - set(classes))
    missing = [c for c in classes if c not in mix]
    if unknown or missing:
        raise ClassMixError(
            f"class mix: {'unknown classes ' + str(unknown) if unknown else ''}"
            f"{'; ' if unknown and missing else ''}{'missing classes ' + str(missing) if missing else ''}"
            f" (the model's classes are {classes})"
        )
    values = np.array([float(mix[c]) for c in classes])
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ClassMixError(f"class mix: every share must be a finite number > 0, got {mix}")
    return values / values.sum()


def estimate_batch_mix(probabilities: np.ndarray, training_frequency: np.ndarray) -> np.ndarray | None:
    """The batch's class mix by EM, or None for a batch under MIN_BATCH_FOR_ESTIMATE samples."""
    if len(probabilities) < MIN_BATCH_FOR_ESTIMATE:
        return None
    return estimate_class_mix(probabilities, training_frequency)
