"""Request and response models built from the served model's modality schema.

The request model is generated per model, so lengths and value domains are checked by pydantic before
a request reaches the batcher: a bad sample gets a 4xx naming its field and never fails a batch that
other clients' samples share.

The generated models are also the published contract (`/docs.json`): every rule the service applies
is in the JSON schema (exact item counts, value ranges, integers, at least one modality, at least one
value), and nothing the schema allows is refused. A rule JSON schema cannot state is not a rule here:
a profile that does not sum to its total is rescaled to it (and counted), not refused.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

MAX_SAMPLES_PER_REQUEST = 256
PROFILE_SUM_TOLERANCE = 1e-3  # as the validation gate's default: within it a profile is used as sent
# Bound of values where the domain sets none: inputs are float32 (max ~3.4e38) and pass through
# standardisation and linear layers, so a finite answer needs finite headroom; no assay comes near.
MAX_ABS_VALUE = 1e12


def _drop_default(schema: dict[str, Any]) -> None:
    """An absent modality is missing; `null` is not a value the schema offers, so no default is shown."""
    schema.pop("default", None)


def _value_type(spec: dict[str, Any]) -> Any:
    domain = spec.get("domain") or {}
    low = -MAX_ABS_VALUE if domain.get("min") is None else float(domain["min"])
    high = MAX_ABS_VALUE if domain.get("max") is None else float(domain["max"])
    constraints: dict[str, Any] = {"strict": True, "allow_inf_nan": False, "ge": low, "le": high}
    if domain.get("integer"):
        constraints["multiple_of"] = 1.0
    return Annotated[float, Field(**constraints)]


def _modality_field(name: str, spec: dict[str, Any]) -> tuple[Any, Any]:
    domain = spec.get("domain") or {}
    n = len(spec["features"])
    # Binned segments leave bins no segment covered as missing: such modalities take null entries.
    gaps = bool(domain.get("max_nan_fraction"))
    value = _value_type(spec)
    item = value | None if gaps else value
    low = -MAX_ABS_VALUE if domain.get("min") is None else domain["min"]
    high = MAX_ABS_VALUE if domain.get("max") is None else domain["max"]
    rules = [f"{n} values ({spec['kind']}", f"in [{low:g}, {high:g}]"]
    if domain.get("integer"):
        rules.append("integers")
    if gaps:
        rules.append("null where not measured, at least one measured")
    extra: dict[str, Any] = {}
    if domain.get("row_sum") is not None:
        # A profile needs a positive entry to be rescaled to its total: "not every entry ≤ 0".
        extra["not"] = {"items": {"maximum": 0}}
        rules.append(f"a profile: at least one positive value; rescaled to sum to {domain['row_sum']:g}")
    elif gaps:
        extra["not"] = {"items": {"type": "null"}}

    def schema_extra(schema: dict[str, Any]) -> None:
        _drop_default(schema)
        schema.update(extra)

    described = f"{'; '.join(rules)})"
    return (
        Annotated[
            list[item],  # type: ignore[valid-type]
            Field(min_length=n, max_length=n, description=described, json_schema_extra=schema_extra),
        ],
        None,  # absent: the modality is missing for this sample (explicit null is refused)
    )


def _modality_validator(name: str, spec: dict[str, Any]):
    domain = spec.get("domain") or {}
    profile = domain.get("row_sum") is not None

    def check(cls: type, values: list[float | None]) -> list[float | None]:
        # Types, lengths, ranges and finiteness are pydantic's (and the schema's); these are the two
        # rules over the whole list, published as the schema's `not`.
        measured = [v for v in values if v is not None]
        if not measured:
            raise ValueError(f"{name} has no values; leave the modality out instead")
        if profile and max(measured) <= 0:
            raise ValueError(f"{name} is a profile and has no positive value")
        return values

    return field_validator(name, mode="after")(classmethod(check))  # type: ignore[arg-type]


def sample_model(schema: dict[str, dict[str, Any]]) -> type[BaseModel]:
    """`{"sample_id": str, "modalities": {<modality>: [numbers]}}` (at least one modality) for this schema."""
    fields = {name: _modality_field(name, spec) for name, spec in schema.items()}
    validators = {f"check_{name}": _modality_validator(name, spec) for name, spec in schema.items()}
    modalities = create_model(  # type: ignore[call-overload]
        "Modalities",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={
                "minProperties": 1,
                "description": f"at least one of {list(schema)}; leave out a modality not measured",
            },
        ),
        __validators__=validators,
        **fields,
    )

    class Sample(BaseModel):
        model_config = ConfigDict(extra="forbid")

        sample_id: Annotated[str, Field(min_length=1, max_length=256, strict=True)]
        modalities: modalities  # type: ignore[valid-type]

        @field_validator("modalities")
        @classmethod
        def _at_least_one(cls, value: BaseModel) -> BaseModel:
            if all(getattr(value, name) is None for name in schema):
                raise ValueError(f"give at least one modality of {list(schema)}")
            return value

    return Sample


def profile_total(spec: dict[str, Any]) -> float | None:
    """The total a profile modality's values sum to (None: not a profile)."""
    total = (spec.get("domain") or {}).get("row_sum")
    return None if total is None else float(total)


def rescale_profile(values: list[float | None], total: float) -> tuple[list[float | None], bool]:
    """The profile rescaled to sum to `total`, and whether it was off by more than the tolerance.

    Within PROFILE_SUM_TOLERANCE the values are returned as sent. Dividing by the largest value first
    keeps the sum finite for any finite input.
    """
    peak = max(v for v in values if v is not None)
    scaled = [None if v is None else v / peak for v in values]
    scaled_sum = math.fsum(v for v in scaled if v is not None)
    if abs(scaled_sum * peak - total) <= PROFILE_SUM_TOLERANCE:
        return values, False
    return [None if v is None else v / scaled_sum * total for v in scaled], True


def profile_note(name: str, values: list[float | None], total: float) -> str:
    """Why a rescaled profile flags its sample: shares that do not sum to their total were not the
    training data's kind of values (raw counts, or a broken export), whatever rescaling makes of them."""
    sent = math.fsum(v for v in values if v is not None)
    return f"{name}: the profile sums to {sent:.4g}, not {total:g} (rescaled to it)"


class Prediction(BaseModel):
    sample_id: str
    predicted: str
    probabilities: dict[str, float]
    attention: dict[str, float]
    modalities_used: list[str]
    # Conformal prediction set (most probable first): contains the true class with the model's stated
    # coverage; null when the model carries no conformal thresholds.
    prediction_set: list[str] | None = None
    # Which thresholds made the set: the sample's pattern of modalities ("methylation+cna"), "complete"
    # for a model calibrated before per-pattern thresholds, "none" where none could be fitted (every class).
    set_calibrated_for: str | None = None
    # Why the sample looks unlike the training data (empty: it does not). A flagged sample's set holds
    # every class: no coverage is known for it, whatever its probabilities say.
    outside_training: list[str] = []
    model: dict[str, str]


class MixChoice(StrEnum):
    """class_mix "estimate": from the request's own samples. An enum, not a one-value Literal: OpenAPI
    3.0 (what BentoML publishes) has no "const", so a Literal's constraint would vanish from the docs."""

    estimate = "estimate"


def class_mix_model(classes: list[str]) -> type[BaseModel]:
    """POST /classify_cohort's stated class mix: {class: share}, every class of the model named, each
    share in (0, 1] (they are normalised to sum to 1). Class names need not be identifiers: aliases."""
    share = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
    fields = {f"class_{i}": (share, Field(alias=c)) for i, c in enumerate(classes)}
    return create_model(  # type: ignore[call-overload]
        "ClassMix", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
    )


class CohortAnswer(BaseModel):
    """One cohort's answers, called for its class mix (empty: none estimated, calls as /classify's)."""

    predictions: list[Prediction]
    class_mix: dict[str, float]
    note: str


class ModalityInfo(BaseModel):
    kind: str
    n_features: int
    features: list[str]
    domain: dict[str, Any]


class Metadata(BaseModel):
    """What GET /metadata answers: which model this is, its classes and input schema, limits and
    whether drift is monitored per modality ("on", or "off: <why>")."""

    model: dict[str, str]
    classes: list[str]
    # How "predicted" is called: "prevalence" (the most probable class), "balanced" (the highest
    # probability relative to the training frequency; equal training frequencies make the two the same
    # rule, reported as "prevalence") or "target" (the most probable class under ``target_mix``).
    decision: Literal["prevalence", "balanced", "target"]
    target_mix: dict[str, float] | None = None
    modalities: dict[str, ModalityInfo]
    max_samples_per_request: int
    drift_monitoring: dict[str, str]
