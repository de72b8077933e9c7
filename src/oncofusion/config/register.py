"""The `register` section: the registered model name, its alias and the promotion metric."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from oncofusion.config.common import StrictModel


class RegisterParams(StrictModel):
    model_name: Annotated[str, Field(min_length=1)] = "oncofusion-classifier"
    alias: Annotated[str, Field(min_length=1)] = "champion"
    # Validation metric (from metrics.json's "val" block) that decides promotion; higher is better.
    metric: Literal["f1_macro", "accuracy", "f1_weighted", "auroc"] = "f1_macro"
