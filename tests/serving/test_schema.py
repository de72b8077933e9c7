import math

import pytest
from pydantic import ValidationError

from oncofusion.serving.schema import sample_model

SCHEMA = {
    "methylation": {"kind": "tabular", "features": ["a", "b"], "domain": {"min": 0.0, "max": 1.0}},
    "cna": {"kind": "genomic", "features": ["x", "y", "z"], "domain": {"max_nan_fraction": 1.0}},
}


def test_binned_segments_take_null_for_uncovered_bins_and_other_modalities_do_not():
    Sample = sample_model(SCHEMA)
    sample = Sample.model_validate({"sample_id": "s", "modalities": {"cna": [0.2, None, -0.1]}})
    assert sample.modalities.cna[1] is None
    with pytest.raises(ValidationError, match="methylation"):
        Sample.model_validate({"sample_id": "s", "modalities": {"methylation": [0.5, None]}})
    with pytest.raises(ValidationError, match="no values"):
        Sample.model_validate({"sample_id": "s", "modalities": {"cna": [None, None, None]}})
    with pytest.raises(ValidationError, match="finite"):
        Sample.model_validate({"sample_id": "s", "modalities": {"cna": [math.inf, None, 0.0]}})
