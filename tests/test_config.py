from pathlib import Path

import pytest

from oncofusion.config import Params, load_params, parse_params
from oncofusion.errors import ConfigError

from .conftest import REPO_ROOT, tiny_raw_params


def test_repository_params_yaml_equals_the_schema_defaults():
    # params.yaml documents the defaults; if they drift apart, one of them is lying.
    assert load_params(REPO_ROOT / "params.yaml") == Params()


def test_defaults_follow_the_paper_scale():
    params = Params()
    assert params.synthesize.n_samples == 1000
    assert len(params.synthesize.classes) == 5
    assert params.synthesize.methylation.n_features == 110
    assert params.synthesize.cna.n_bins == 110
    assert params.synthesize.fragmentomics.n_bins == 100


def _error_for(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_params(raw, source="params.yaml")
    return str(caught.value)


def test_misspelled_key_is_named_with_its_path():
    raw = tiny_raw_params()
    raw["synthesize"]["methylation"]["n_featurs"] = 10
    message = _error_for(raw)
    assert "synthesize.methylation.n_featurs" in message
    assert "unknown key" in message


def test_unknown_section_is_rejected():
    raw = tiny_raw_params()
    raw["trian"] = {}
    assert "trian: unknown key" in _error_for(raw)


def test_negative_sample_count_names_key_and_value():
    raw = tiny_raw_params()
    raw["synthesize"]["n_samples"] = -5
    message = _error_for(raw)
    assert "synthesize.n_samples" in message and "-5" in message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("base", "seed"), "forty-two"),
        (("base", "seed"), "42"),
        (("train", "progressive"), "yes"),
        (("synthesize", "n_samples"), 100.0),
    ],
)
def test_wrong_type_is_named_not_coerced(path, value):
    raw = tiny_raw_params()
    raw.setdefault(path[0], {})[path[1]] = value
    assert ".".join(path) in _error_for(raw)


def test_split_that_does_not_sum_to_one():
    raw = tiny_raw_params()
    raw["split"] = {"train": 0.7, "val": 0.2, "test": 0.2}
    message = _error_for(raw)
    assert "split" in message and "sum to 1" in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("synthesize", "class_weights"), [0.5, 0.5], "class_weights has 2 entries"),
        (("synthesize", "classes"), ["A", "A", "B"], "classes must be unique"),
        (("synthesize", "methylation", "n_informative"), 50, "cannot exceed n_features"),
        (("synthesize", "fragmentomics", "bin_width"), 7, "must divide"),
        (("validate", "max_nan_fraction"), 1.5, "validate.max_nan_fraction"),
        (("synthesize", "methylation", "signal"), 2.0, "synthesize.methylation.signal"),
    ],
)
def test_impossible_values(path, value, expected):
    raw = tiny_raw_params()
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    assert expected in _error_for(raw)


def test_unreadable_and_malformed_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("base: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_params(bad)


@pytest.mark.parametrize("name", ["labels", "model_x", "_rna", "1rna"])
def test_modality_names_that_would_clash_are_refused(name: str):
    raw = {"cohort": {"source": "tables", "tables": {"modalities": {name: {"file": "x.csv"}}}}}
    assert f"cohort.tables.modalities.{name}" in _error_for(raw)


@pytest.mark.parametrize(
    ("section", "values", "expected"),
    [
        ("evaluate", {"repeats": 0}, "evaluate.repeats: Input should be greater than or equal to 1"),
        (
            "train",
            {"calibration": {"coverage": 1.0}},
            "train.calibration.coverage: Input should be less than 1",
        ),
        (
            "train",
            {"calibration": {"coverage": 0.0}},
            "train.calibration.coverage: Input should be greater than 0",
        ),
        ("train", {"ensemble": {"folds": 0}}, "train.ensemble.folds"),
        (
            "train",
            {"refit_on_train_val": True},
            "refit_on_train_val trains on the val split, which calibration",
        ),
        ("synthesize", {"missing_fraction": {"rna": 0.2}}, "missing_fraction: unknown modality ['rna']"),
        ("synthesize", {"interaction": {"enabled": True, "twin": "Z"}}, "interaction.twin 'Z' is not one of"),
    ],
)
def test_small_cohort_and_calibration_settings_are_checked_before_any_work(section, values, expected):
    raw = tiny_raw_params()
    raw.setdefault(section, {}).update(values)
    assert expected in _error_for(raw)
