"""One answer per sample from a model's batch prediction: the call, calibrated probabilities, the
conformal set and the per-modality attention, as plain JSON-ready values."""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.models.bundle import LoadedModel
from oncofusion.models.pyfunc import prediction_sets


def answers(model: LoadedModel, inputs: dict[str, np.ndarray], present: np.ndarray) -> list[dict[str, Any]]:
    """The model's answer for each row of ``inputs`` (modality → rows × features; NaN rows missing)."""
    if len(present) == 0:
        return []
    result = model.predict(inputs, present)
    classes, names = model.classes, model.modalities
    sets = prediction_sets(result["sets"], result["probabilities"], classes) if "sets" in result else None
    out = []
    for i in range(len(present)):
        out.append(
            {
                "predicted": classes[int(result["predicted"][i])],
                "probabilities": {
                    c: float(p) for c, p in zip(classes, result["probabilities"][i], strict=True)
                },
                "prediction_set": sets[i] if sets is not None else None,
                "attention": {m: float(a) for m, a in zip(names, result["attention"][i], strict=True)},
                "modalities_used": [m for j, m in enumerate(names) if present[i, j]],
            }
        )
    return out
