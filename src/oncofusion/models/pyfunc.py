"""The MLflow pyfunc flavour of a model bundle.

Input: one row per sample, one column per feature named ``<modality>/<feature>``; a modality whose
columns are all NaN in a row is missing for that sample and is masked. Output: ``predicted`` (the model's
called class: the most probable, or with ``decision: balanced`` or ``target`` the balanced call or the
most probable under the target class mix), one
``p_<class>`` column per class (temperature-scaled), one ``attention_<modality>`` column per modality,
and, when the model carries conformal thresholds, ``prediction_set`` (the classes in the sample's
conformal set, most probable first), ``set_size`` and ``set_calibrated_for`` (the pattern of modalities
whose thresholds made it). ``outside_training`` gives why a sample looks unlike the training data
(empty when it does not); such a sample's set holds every class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

SEPARATOR = "/"


def frame_to_inputs(
    frame: pd.DataFrame, schema: dict[str, dict[str, Any]]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    inputs, present = {}, []
    for modality, spec in schema.items():
        columns = [f"{modality}{SEPARATOR}{f}" for f in spec["features"]]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"input lacks {len(missing)} column(s) of modality '{modality}', e.g. {missing[:3]}"
            )
        values = frame[columns].to_numpy(dtype=np.float32, na_value=np.nan)
        inputs[modality] = values
        present.append(~np.isnan(values).all(axis=1))
    present_array = np.stack(present, axis=1)
    if not present_array.any(axis=1).all():
        raise ValueError("every sample needs at least one modality with values")
    return inputs, present_array


def outputs_frame(result: dict[str, np.ndarray], classes: list[str], modalities: list[str]) -> pd.DataFrame:
    probabilities = result["probabilities"]
    frame = pd.DataFrame(probabilities, columns=[f"p_{c}" for c in classes])
    called = result["predicted"] if "predicted" in result else probabilities.argmax(axis=1)
    frame.insert(0, "predicted", [classes[i] for i in called])
    for i, modality in enumerate(modalities):
        frame[f"attention_{modality}"] = result["attention"][:, i]
    if "sets" in result:
        frame["prediction_set"] = prediction_sets(result["sets"], probabilities, classes)
        frame["set_size"] = result["sets"].sum(axis=1).astype("int64")
        frame["set_calibrated_for"] = result["set_calibrated_for"]
    if "outside" in result:
        frame["outside_training"] = ["; ".join(reasons) for reasons in result["outside"]]
    return frame


def prediction_sets(sets: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> list[list[str]]:
    """Class names in each sample's conformal set, most probable first (the pyfunc and the service
    share this, so both return the same list)."""
    order = np.argsort(-probabilities, axis=1, kind="stable")
    return [[classes[k] for k in row if member[k]] for row, member in zip(order, sets, strict=True)]


class OncofusionModel(PythonModel):
    def load_context(self, context: Any) -> None:
        from oncofusion.models.bundle import load_bundle

        self.model = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        inputs, present = frame_to_inputs(model_input, self.model.schema)
        return outputs_frame(self.model.predict(inputs, present), self.model.classes, self.model.modalities)
