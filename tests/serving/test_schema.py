import json
import math

import pytest
from pydantic import ValidationError

from oncofusion.serving.schema import PROFILE_SUM_TOLERANCE, rescale_profile, sample_model

SCHEMA = {
    "methylation": {"kind": "tabular", "features": ["a", "b"], "domain": {"min": 0.0, "max": 1.0}},
    "cna": {"kind": "genomic", "features": ["x", "y", "z"], "domain": {"max_nan_fraction": 1.0}},
    "fragments": {"kind": "profile", "features": ["p", "q"], "domain": {"min": 0.0, "row_sum": 1.0}},
    "counts": {"kind": "tabular", "features": ["c"], "domain": {"min": 0.0, "integer": True}},
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


@pytest.mark.parametrize(
    ("modalities", "field"),
    [
        ({}, "at least one modality"),
        ({"methylation": None}, "methylation"),  # absent is how to leave one out; null is refused
        ({"methylation": ["0.5", 0.5]}, "methylation"),  # numbers, not numeric strings
        ({"methylation": [True, 0.5]}, "methylation"),
        ({"methylation": [1.5, 0.5]}, "less than or equal to 1"),
        ({"counts": [2.5]}, "multiple of 1"),
        ({"fragments": [0.0, 0.0]}, "no positive value"),
        ({"cna": [1e13, 0.0, 0.0]}, "cna"),  # beyond the default bound the schema publishes
    ],
)
def test_what_the_schema_forbids_is_refused(modalities, field):
    Sample = sample_model(SCHEMA)
    with pytest.raises(ValidationError, match=field):
        Sample.model_validate_json(json.dumps({"sample_id": "s", "modalities": modalities}))


def test_published_json_schema_states_the_rules():
    schema = sample_model(SCHEMA).model_json_schema()
    modalities = schema["$defs"]["Modalities"]
    assert modalities["minProperties"] == 1 and modalities["additionalProperties"] is False
    methylation = modalities["properties"]["methylation"]
    assert methylation["minItems"] == methylation["maxItems"] == 2 and "default" not in methylation
    assert methylation["items"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert modalities["properties"]["counts"]["items"]["multipleOf"] == 1.0
    assert modalities["properties"]["fragments"]["not"] == {"items": {"maximum": 0}}
    assert modalities["properties"]["cna"]["not"] == {"items": {"type": "null"}}


def test_integers_are_accepted_where_numbers_are_asked():
    Sample = sample_model(SCHEMA)
    sample = Sample.model_validate_json('{"sample_id": "s", "modalities": {"methylation": [1, 0]}}')
    assert sample.modalities.methylation == [1.0, 0.0]


def test_profiles_are_rescaled_to_their_total_and_counted():
    assert rescale_profile([0.25, 0.75], 1.0) == ([0.25, 0.75], False)
    nearly = [0.5, 0.5 + PROFILE_SUM_TOLERANCE / 2]
    assert rescale_profile(nearly, 1.0) == (nearly, False)  # within the tolerance: as sent
    values, changed = rescale_profile([3.0, 1.0, None], 1.0)
    assert changed and values[:2] == pytest.approx([0.75, 0.25]) and values[2] is None
    huge, changed = rescale_profile([1e308, 1e308, 0.0], 1.0)  # the sum would overflow a float
    assert changed and huge == pytest.approx([0.5, 0.5, 0.0])
