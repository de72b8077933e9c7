"""The `evaluate` section: baselines, ablations, repeats and bootstrap intervals."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from oncofusion.config.common import PositiveInt, StrictModel


class EvaluateParams(StrictModel):
    baselines: bool = True
    ablations: bool = True
    top_k: PositiveInt = 10
    # Retrain everything this many times (seeds base.seed + r; cohorts whose split was drawn, not given,
    # are also re-split) and report mean ± sd of every row. 1: the trained model only.
    repeats: Annotated[int, Field(ge=1)] = 1
    bootstrap: Annotated[int, Field(ge=100)] = 1000  # resamples for the 95% test-set intervals
    # Another study's cohort in the training cohort's layout (a directory, relative to the project): the
    # model and baselines are also scored there, side by side with the held-out split, into
    # reports/cross_study.json (`oncofusion fit --test-cohort DIR` sets it). Modalities may be missing.
    test_cohort: str | None = None
