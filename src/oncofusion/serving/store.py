"""Bring the registry's champion into the BentoML model store, and read it back for serving.

We import the MLflow model (`bentoml.mlflow.import_model`) so the bento carries exactly the registered
artifact with its provenance, but at serve time we load the model bundle inside it directly instead of
calling the pyfunc: the pyfunc's per-call DataFrame round trip costs more than the network itself for
a single sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from oncofusion.errors import OncofusionError
from oncofusion.models.bundle import LoadedModel, load_bundle

BENTO_MODEL_NAME = "oncofusion-classifier"


@dataclass
class ServedModel:
    model: LoadedModel
    schema: dict[str, dict[str, Any]]
    identity: dict[str, str]  # what answered: registry name, version, alias, bento tag


def import_champion(model_name: str, alias: str) -> Any:
    """Import `models:/<name>@<alias>` into the BentoML store, labelled with its registry version."""
    import bentoml
    from mlflow.tracking import MlflowClient

    try:
        version = MlflowClient().get_model_version_by_alias(model_name, alias)
    except Exception as error:  # any registry failure means there is nothing to serve
        raise OncofusionError(
            f"no model '{model_name}' with alias @{alias} in the MLflow registry ({error})"
        ) from None
    return bentoml.mlflow.import_model(
        model_name,  # the store name is the registry name: each branch's bento finds its own model
        model_uri=f"models:/{model_name}/{version.version}",
        labels={"registry_name": model_name, "registry_version": str(version.version), "alias": alias},
        metadata={"mlflow_run_id": version.run_id or "", "source": version.source or ""},
    )


def read_schema(model_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The modality schema logged with the MLflow model (MLmodel metadata), without loading weights."""
    path = Path(model_dir) / "mlflow_model" / "MLmodel"
    try:
        schema = yaml.safe_load(path.read_text())["metadata"]["modality_schema"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as error:
        raise OncofusionError(f"{path}: no modality schema in the model's metadata ({error})") from None
    return schema


def identity(labels: dict[str, str], tag: str) -> dict[str, str]:
    return {
        "name": labels.get("registry_name", BENTO_MODEL_NAME),
        "version": labels.get("registry_version", "unknown"),
        "alias": labels.get("alias", ""),
        "bento_model": tag,
    }


def describe(model_dir: str | Path, labels: dict[str, str], tag: str, max_samples: int) -> dict[str, Any]:
    """What GET /metadata answers: modality schema, classes, how it calls a class and which model this
    is. Models logged before the decision option call the most probable class."""
    path = Path(model_dir) / "mlflow_model" / "MLmodel"
    metadata = yaml.safe_load(path.read_text())["metadata"]
    return {
        "model": identity(labels, tag),
        "classes": metadata["classes"],
        "decision": metadata.get("decision", "prevalence"),
        # In class order (the MLmodel file stores its keys sorted).
        "target_mix": {c: metadata["target_mix"][c] for c in metadata["classes"]}
        if metadata.get("target_mix")
        else None,
        "modalities": {
            m: {
                "kind": s["kind"],
                "n_features": len(s["features"]),
                "features": s["features"],
                "domain": s["domain"],
            }
            for m, s in read_schema(model_dir).items()
        },
        "max_samples_per_request": max_samples,
    }


def load_served(model_dir: str | Path, labels: dict[str, str], tag: str) -> ServedModel:
    """Load the bundle and schema from an imported model's directory."""
    model = load_bundle(Path(model_dir) / "mlflow_model" / "artifacts" / "model.pt")
    return ServedModel(model=model, schema=read_schema(model_dir), identity=identity(labels, tag))


def open_stored(tag: str) -> tuple[Any, ServedModel]:
    """The BentoML store's model `tag`, fully loaded, or an error naming it.

    The service calls this when its module is imported, which `bentoml serve` does before it starts
    any worker: a missing or damaged model stops the server at start, not at the first request.
    """
    import bentoml
    from bentoml.exceptions import BentoMLException

    try:
        stored = bentoml.models.get(tag)
    except BentoMLException as error:
        raise OncofusionError(
            f"cannot serve model {tag}: not in the BentoML store ({error}); run the `bento` stage "
            "(oncofusion bento) or set ONCOFUSION_BENTO_MODEL to a tag `bentoml models list` shows"
        ) from None
    try:
        served = load_served(stored.path, stored.info.labels, str(stored.tag))
    except (OSError, OncofusionError) as error:
        raise OncofusionError(
            f"cannot serve model {stored.tag}: its files in the BentoML store ({stored.path}) are "
            f"damaged or incomplete: {error}; re-import it with the `bento` stage"
        ) from None
    if sorted(served.schema) != sorted(served.model.modalities):
        raise OncofusionError(
            f"cannot serve model {stored.tag}: the MLmodel schema names modalities {list(served.schema)} "
            f"but the model file has {served.model.modalities}"
        )
    return stored, served
