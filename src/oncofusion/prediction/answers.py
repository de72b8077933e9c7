"""One answer per sample from a model's batch prediction: the call, calibrated probabilities, the
conformal set and the per-modality attention, as plain JSON-ready values."""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.models.bundle import LoadedModel
from oncofusion.models.pyfunc import prediction_sets
from oncofusion.models.set_predictor import widen_flagged


def answers(
    model: LoadedModel,
    inputs: dict[str, np.ndarray],
    present: np.ndarray,
    notes: list[list[str]] | None = None,
) -> list[dict[str, Any]]:
    """The model's answer for each row of ``inputs`` (modality → rows × features; NaN rows missing).

    ``notes``: per sample, reasons found before the model (a rescaled profile); they flag the sample as
    the model's own outside-training check does.
    """
    if len(present) == 0:
        return []
    return answers_from(model, model.predict(inputs, present), present, notes)


def answers_from(
    model: LoadedModel, result: dict[str, Any], present: np.ndarray, notes: list[list[str]] | None = None
) -> list[dict[str, Any]]:
    """The answers of a prediction already made (LoadedModel.predict, or .adapt to a class mix)."""
    classes, names = model.classes, model.modalities
    before = notes or [[] for _ in range(len(present))]
    flags = [mine + theirs for mine, theirs in zip(before, result["outside"], strict=True)]
    sets = (  # the model widened the sets it flagged itself; these are flagged before it
        prediction_sets(
            widen_flagged(result["sets"], [bool(f) for f in before]), result["probabilities"], classes
        )
        if "sets" in result
        else None
    )
    out = []
    for i in range(len(present)):
        out.append(
            {
                "predicted": classes[int(result["predicted"][i])],
                "probabilities": {
                    c: float(p) for c, p in zip(classes, result["probabilities"][i], strict=True)
                },
                "prediction_set": sets[i] if sets is not None else None,
                "set_calibrated_for": result["set_calibrated_for"][i] if sets is not None else None,
                "outside_training": flags[i],
                "attention": {m: float(a) for m, a in zip(names, result["attention"][i], strict=True)},
                "modalities_used": [m for j, m in enumerate(names) if present[i, j]],
            }
        )
    return out
