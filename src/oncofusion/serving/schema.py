"""Request and response models built from the served model's modality schema.

The request model is generated per model, so lengths and value domains are checked by pydantic before
a request reaches the batcher: a bad sample gets a 4xx naming its field and never fails a batch that
other clients' samples share. The generated models also make the OpenAPI document exact.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

MAX_SAMPLES_PER_REQUEST = 256
PROFILE_SUM_TOLERANCE = 1e-3  # as the validation gate's default


def _modality_validator(name: str, spec: dict[str, Any]):
    domain = spec.get("domain", {})
    low, high, total = domain.get("min"), domain.get("max"), domain.get("row_sum")

    def check(cls: type, values: list[float | None] | None) -> list[float | None] | None:
        if values is None:
            return None
        if all(v is None for v in values):
            raise ValueError(f"{name} has no values; leave the modality out instead")
        for i, v in enumerate(values):
            if v is None:  # only modalities whose domain allows missing values (uncovered bins) get here
                continue
            if not math.isfinite(v):
                raise ValueError(
                    f"{name}[{i}] is {v}; values must be finite (leave the modality out if missing)"
                )
            if (low is not None and v < low) or (high is not None and v > high):
                raise ValueError(f"{name}[{i}] = {v} is outside [{low}, {high}]")
        if total is not None:
            got = math.fsum(v for v in values if v is not None)
            if abs(got - total) > PROFILE_SUM_TOLERANCE:
                raise ValueError(f"{name} sums to {got:.6g}; a profile must sum to {total:g}")
        return values

    return field_validator(name)(classmethod(check))  # type: ignore[arg-type]


def sample_model(schema: dict[str, dict[str, Any]]) -> type[BaseModel]:
    """`{"sample_id": str, "modalities": {<modality>: [floats] | absent}}` for this model's schema."""
    fields: dict[str, Any] = {}
    validators = {}
    for name, spec in schema.items():
        n = len(spec["features"])
        # Binned segments leave bins no segment covered as missing: such modalities take null entries.
        gaps = bool(spec.get("domain", {}).get("max_nan_fraction"))
        item = float | None if gaps else float
        described = f"{n} values ({spec['kind']}{'; null where not measured' if gaps else ''})"
        fields[name] = (
            Annotated[list[item] | None, Field(min_length=n, max_length=n, description=described)],  # type: ignore[valid-type]
            None,
        )
        validators[f"check_{name}"] = _modality_validator(name, spec)
    modalities = create_model(  # type: ignore[call-overload]
        "Modalities", __config__=ConfigDict(extra="forbid"), __validators__=validators, **fields
    )

    class Sample(BaseModel):
        model_config = ConfigDict(extra="forbid")

        sample_id: Annotated[str, Field(min_length=1, max_length=256)]
        modalities: modalities  # type: ignore[valid-type]

        @field_validator("modalities")
        @classmethod
        def _at_least_one(cls, value: BaseModel) -> BaseModel:
            if all(getattr(value, name) is None for name in schema):
                raise ValueError(f"give at least one modality of {list(schema)}")
            return value

    return Sample


class Prediction(BaseModel):
    sample_id: str
    predicted: str
    probabilities: dict[str, float]
    attention: dict[str, float]
    modalities_used: list[str]
    # Conformal prediction set (most probable first): contains the true class with the model's stated
    # coverage; null when the model carries no conformal thresholds.
    prediction_set: list[str] | None = None
    model: dict[str, str]
