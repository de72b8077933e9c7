"""The `split` section: train/val/test fractions."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from oncofusion.config.common import StrictModel


class SplitParams(StrictModel):
    train: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.7
    val: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15
    test: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self
