"""The `model` section: the multi-modal transformer's architecture."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from oncofusion.config.common import PositiveInt, StrictModel

EncoderChoice = Literal["mlp", "cnn", "cnn_gru"]


class ModelParams(StrictModel):
    d_model: Annotated[int, Field(ge=8)] = 128
    n_heads: PositiveInt = 4
    n_layers: PositiveInt = 2
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    fusion: Literal["attention", "concat"] = "attention"
    # Per-modality encoder override; by default the modality's kind picks it
    # (tabular → mlp, profile → cnn, genomic → cnn_gru).
    encoders: dict[str, EncoderChoice] = {}
    hidden: PositiveInt = 256
    channels: PositiveInt = 32
    gru_hidden: PositiveInt = 64
    # Restrict training to these modalities (empty: all modalities of the cohort).
    modalities: list[str] = []
    # A linear path from the scaled features of every present modality straight to the logits, added
    # to the transformer's: the model contains the logistic regression it is compared with, and the
    # deep part only has to learn what a linear model cannot.
    wide: bool = True
    # The wide path also sees each feature through a piecewise-linear encoding on this many quantile
    # bins of its training values (Gorishniy et al., 2022): a generalised additive model beside the
    # transformer, so per-feature thresholds (what gradient boosting finds) are within its reach.
    # 0: linear only.
    wide_bins: Annotated[int, Field(ge=0, le=64)] = 8

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelParams:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self
