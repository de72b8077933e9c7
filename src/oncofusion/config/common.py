"""What every params section shares: strictness and the small constrained types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class StrictModel(BaseModel):
    """Unknown keys are an error: a misspelled param must never be silently ignored. Types are strict
    too: `seed: "42"` or `progressive: "yes"` is a mistake to report, not to coerce."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BaseParams(StrictModel):
    seed: Annotated[int, Field(ge=0)] = 42
