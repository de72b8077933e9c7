"""The `validate` section: thresholds of the Great Expectations gate."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from oncofusion.config.common import StrictModel


class ValidateParams(StrictModel):
    max_nan_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    # Variant cohorts: the share of variants whose REF allele disagrees with the FASTA above which the
    # gate fails (a wrong assembly gives ~75%; a few liftover artefacts give well under 1%).
    max_ref_mismatch: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    profile_sum_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    # Synthetic cohorts are complete; bring-your-own cohorts may set this false and let the model mask.
    require_complete_modalities: bool = True
