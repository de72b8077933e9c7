"""The MLflow model registry: how a trained model is logged, and the like-for-like promotion of the
champion alias (where runs go is :mod:`oncofusion.tracking`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from oncofusion import faults
from oncofusion.comparison import ValidationSet, fingerprint, schema_difference, schema_of
from oncofusion.config import RegisterParams
from oncofusion.errors import OncofusionError
from oncofusion.models.bundle import LoadedModel

MODEL_NAME = "oncofusion-classifier"


def log_model(model: LoadedModel, bundle_path: Path, example: pd.DataFrame) -> Any:
    """Log the bundle as a pyfunc model, with signature, input example, classes and modality schema."""
    from mlflow.models import infer_signature

    import oncofusion
    from oncofusion.models.pyfunc import OncofusionModel, frame_to_inputs, outputs_frame

    inputs, present = frame_to_inputs(example, model.schema)  # the pyfunc's own input parsing
    prediction = outputs_frame(model.predict(inputs, present), model.classes, model.modalities)
    package_dir = Path(oncofusion.__file__).parent
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=OncofusionModel(),
        artifacts={"bundle": str(bundle_path)},
        code_paths=[str(package_dir)],
        signature=infer_signature(example, prediction),
        input_example=example,
        pip_requirements=_requirements(),
        metadata={
            "classes": model.classes,
            "modality_schema": model.schema,
            "decision": model.net.decision,
            "target_mix": _target_mix(model),
            **({"variant_input": model.variant_input} if model.variant_input else {}),
        },
    )


def _target_mix(model: LoadedModel) -> dict[str, float] | None:
    """The class mix a ``decision: target`` model calls for, by class; None for the other decisions."""
    if model.net.decision != "target":
        return None
    return {c: round(float(v), 6) for c, v in zip(model.classes, model.net.target_mix, strict=True)}


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p).split('+')[0]}" for p in ("mlflow", "torch", "numpy", "pandas", "pydantic")]


@dataclass
class Decision:
    model_name: str
    version: str
    alias: str
    metric: str
    candidate_value: float
    champion_version: str | None
    champion_value: float | None  # the champion re-scored on the candidate's val split
    promoted: bool
    reason: str
    validation: dict[str, Any] | None = None  # the val split both were scored on (samples, fingerprint)


def _champion(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_registered(name: str, version: str) -> LoadedModel:
    """The bundle inside a registered pyfunc model, loaded with this code (not the pyfunc's own copy of
    the package, which would replace the running one in ``sys.modules``)."""
    from mlflow.artifacts import download_artifacts

    from oncofusion.models.bundle import load_bundle

    local = Path(download_artifacts(artifact_uri=f"models:/{name}/{version}"))
    bundles = sorted(local.glob("artifacts/*.pt"))
    if not bundles:
        raise OncofusionError(f"registered model {name} v{version} holds no oncofusion bundle")
    return load_bundle(bundles[0])


def _compare(
    name: str,
    champion: ModelVersion,
    candidate: LoadedModel | None,
    validation: ValidationSet | None,
    metric: str,
) -> tuple[float | None, str | None]:
    """The champion's value on the candidate's val split, or why the two cannot be compared."""
    if candidate is None or validation is None:
        return None, "no validation data was given to re-score the champion on"
    try:
        incumbent = load_registered(name, str(champion.version))
    except Exception as error:  # a champion we cannot load cannot be compared with
        return None, f"could not load the champion v{champion.version} to re-score it ({error})"
    difference = schema_difference(schema_of(candidate), schema_of(incumbent))
    if difference is not None:
        return None, (
            f"not comparable: {difference}; a model of another cohort or schema belongs under its own "
            "register.model_name (e.g. oncofusion-<cohort>)"
        )
    return float(validation.score(incumbent)[metric]), None


def register_and_promote(
    model_uri: str,
    val_metrics: dict[str, float],
    params: RegisterParams,
    *,
    candidate: LoadedModel | None = None,
    validation: ValidationSet | None = None,
) -> Decision:
    """Register the candidate; move the alias to it only if it beats the champion on the same val data.

    The champion is re-scored on the candidate's val split (``validation``) when both read the same
    modalities and features and predict the same classes; otherwise, or when no validation data is
    given, the candidate is registered but not promoted, and the version's tag says why. The decision
    tag is written before the alias moves, and the alias move is the single write that changes what
    serves, so a crash anywhere before it leaves the old champion in place.
    """
    name, alias, metric = params.model_name, params.alias, params.metric
    candidate_value = float(val_metrics[metric])
    if not math.isfinite(candidate_value):
        raise OncofusionError(
            f"candidate val {metric} is {candidate_value}; refusing to register a broken model"
        )
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="oncofusion multi-modal cancer-type classifier")
    champion = _champion(client, name, alias)
    tags = {f"val_{metric}": f"{candidate_value:.6f}"}
    if validation is not None:
        tags["oncofusion.val_fingerprint"] = validation.fingerprint
    if candidate is not None:
        tags["oncofusion.schema_fingerprint"] = fingerprint(schema_of(candidate))
    version = mlflow.register_model(model_uri, name, tags=tags)
    faults.point("register.after_version")
    champion_value, refusal = None, None
    if champion is None:
        promoted = True
        reason = f"promoted v{version.version} to @{alias}: first model"
    else:
        champion_value, refusal = _compare(name, champion, candidate, validation, metric)
        promoted = refusal is None and candidate_value > champion_value  # type: ignore[operator]
        on = f"on the candidate's val split ({validation.n_samples} samples)" if validation else ""
        if refusal is not None:
            reason = f"kept v{champion.version} as @{alias}: candidate v{version.version} {refusal}"
        elif promoted:
            reason = (
                f"promoted v{version.version} to @{alias}: val {metric} {candidate_value:.4f} > "
                f"{champion_value:.4f} (v{champion.version} re-scored {on})"
            )
        else:
            reason = (
                f"kept v{champion.version} as @{alias}: candidate v{version.version} val {metric} "
                f"{candidate_value:.4f} <= {champion_value:.4f} (v{champion.version} re-scored {on})"
            )
    client.set_model_version_tag(name, version.version, "oncofusion.promotion", reason)
    faults.point("register.before_alias")
    if promoted:  # the last write: until it succeeds the old champion serves, and the record exists
        client.set_registered_model_alias(name, alias, version.version)
    return Decision(
        model_name=name,
        version=str(version.version),
        alias=alias,
        metric=f"val_{metric}",
        candidate_value=candidate_value,
        champion_version=None if champion is None else str(champion.version),
        champion_value=champion_value,
        promoted=promoted,
        reason=reason,
        validation=None
        if validation is None
        else {"split": "val", "samples": validation.n_samples, "fingerprint": validation.fingerprint},
    )
