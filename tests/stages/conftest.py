"""Stage tests reuse the training tests' small split cohort."""

from ..training.conftest import split_cohort, train_params

__all__ = ["split_cohort", "train_params"]
