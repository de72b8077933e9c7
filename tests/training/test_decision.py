"""The called class: the most probable by default, balanced (argmax p_k / π_k over training
frequencies π) or for a target class mix τ (argmax p_k · τ_k / π_k), stored in the model, used by every
consumer of its predictions, and absent (the most probable class) in bundles from before it."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from oncofusion.config import parse_params
from oncofusion.errors import CohortError, ConfigError
from oncofusion.evaluation.metrics import classification_metrics, predict_split
from oncofusion.models.bundle import load_bundle, save_bundle
from oncofusion.training.train import fit

from .conftest import small_training_params


def _fit(cohort, tmp_path: Path, decision: str, target_mix: dict[str, float] | None = None):
    raw = small_training_params(max_epochs=2)
    raw["train"]["calibration"] = {"decision": decision, "target_mix": target_mix}
    return fit(cohort, parse_params(raw), tmp_path)


def test_fit_stores_the_log_training_frequencies_and_predictions_use_them(split_cohort, tmp_path: Path):
    result = _fit(split_cohort, tmp_path / "run", "balanced")
    counts = np.bincount(result.train_data.target.numpy(), minlength=len(split_cohort.classes))
    np.testing.assert_allclose(
        result.net.decision_offset.numpy(), np.log(counts / counts.sum()), rtol=1e-6, atol=1e-6
    )
    path = tmp_path / "model.pt"
    save_bundle(result.net, split_cohort.classes, {}, path)
    model = load_bundle(path)
    torch.testing.assert_close(model.net.decision_offset, result.net.decision_offset)
    # A large offset against class 0 makes the call differ from the most probable class somewhere, so
    # a consumer that took the argmax instead of the model's decision would show here.
    model.net.decision_offset.copy_(torch.tensor([3.0] + [0.0] * (len(split_cohort.classes) - 1)))
    test = predict_split(model, split_cohort, "test")
    expected = (np.log(test.probabilities) - model.net.decision_offset.numpy()).argmax(axis=1)
    np.testing.assert_array_equal(test.predicted, expected)
    assert (test.predicted != test.probabilities.argmax(axis=1)).any()
    assert test.metrics() == classification_metrics(test.y, test.probabilities, expected)
    assert test.metrics() != classification_metrics(test.y, test.probabilities)


def test_prevalence_calls_the_most_probable_class(split_cohort, tmp_path: Path):
    result = _fit(split_cohort, tmp_path, "prevalence")
    assert torch.count_nonzero(result.net.decision_offset) == 0
    assert result.net.decision == result.calibration.to_dict()["decision"] == "prevalence"


def test_the_calibration_record_scores_and_names_the_models_calls(split_cohort, tmp_path: Path):
    """The val macro-F1 in the calibration record (the registry's and the tuner's figure) is that of
    the balanced calls, and the record says which decision made them."""
    result = _fit(split_cohort, tmp_path, "balanced")
    assert result.net.decision == result.calibration.to_dict()["decision"] == "balanced"
    val = result.val_data
    with torch.no_grad():
        logits = result.net(val.inputs, val.present).logits
    y, labels = val.target.numpy(), list(range(len(split_cohort.classes)))
    called = result.net.decide(logits).numpy()
    expected = f1_score(y, called, average="macro", labels=labels)
    assert result.calibration.val_f1_macro == pytest.approx(expected)
    if (called != logits.argmax(1).numpy()).any():  # where the calls differ, so does the figure
        argmax = f1_score(y, logits.argmax(1).numpy(), average="macro", labels=labels)
        assert result.calibration.val_f1_macro != pytest.approx(argmax)


def _bundle_without(
    result, classes: list[str], path: Path, key: str, bundle_format: str | None = None
) -> Path:
    """The fitted model saved as a bundle whose state lacks ``key``, labelled ``bundle_format`` if given
    (an older bundle) or left current (a damaged one)."""
    save_bundle(result.net, classes, {}, path)
    payload = torch.load(path, weights_only=False)
    if bundle_format is not None:
        payload["format"] = bundle_format
    del payload["state_dict"][key]
    torch.save(payload, path)
    return path


def test_a_bundle_from_before_the_decision_calls_the_most_probable_class(split_cohort, tmp_path: Path):
    result = _fit(split_cohort, tmp_path / "run", "balanced")
    path = _bundle_without(
        result, split_cohort.classes, tmp_path / "model.pt", "decision_offset", "oncofusion-model/3"
    )
    model = load_bundle(path)
    assert torch.count_nonzero(model.net.decision_offset) == 0
    test = predict_split(model, split_cohort, "test")
    np.testing.assert_array_equal(test.predicted, test.probabilities.argmax(axis=1))


def test_a_current_bundle_without_its_decision_is_refused_as_damaged(split_cohort, tmp_path: Path):
    result = _fit(split_cohort, tmp_path / "run", "balanced")
    path = _bundle_without(result, split_cohort.classes, tmp_path / "model.pt", "decision_offset")
    with pytest.raises(CohortError, match=r"(?s)damaged.*decision_offset"):
        load_bundle(path)


def test_an_unknown_decision_is_a_config_error():
    raw = small_training_params()
    raw["train"]["calibration"] = {"decision": "majority"}
    with pytest.raises(Exception, match="decision"):
        parse_params(raw)


def test_an_ablation_row_scores_the_balanced_calls(split_cohort, tmp_path: Path):
    """The ablation rows, repeats and paired intervals read ``Scored``: its calls and its test metrics
    are the balanced ones (argmax log p_k − log π_k over the training frequencies π)."""
    from oncofusion.evaluation.ablations import evaluate_fit

    raw = small_training_params(max_epochs=2)
    raw["train"]["calibration"] = {"decision": "balanced"}
    scored = evaluate_fit(split_cohort, parse_params(raw), tmp_path)
    train = split_cohort.labels[split_cohort.labels["split"] == "train"]["label"]
    frequencies = train.value_counts(normalize=True).reindex(split_cohort.classes).to_numpy()
    expected = (np.log(scored.test_probabilities) - np.log(frequencies)).argmax(axis=1)
    np.testing.assert_array_equal(scored.test_called, expected)
    test_y = split_cohort.labels[split_cohort.labels["split"] == "test"]["label"].map(
        {c: i for i, c in enumerate(split_cohort.classes)}
    )
    assert scored["test"] == classification_metrics(test_y.to_numpy(), scored.test_probabilities, expected)


def test_a_target_mix_reweights_each_class_by_its_share_over_its_training_frequency(
    split_cohort, tmp_path: Path
):
    """The calls are argmax log p_k + log τ_k − log π_k; the mix travels in the bundle, and the record
    names the decision. Probabilities are those of the model without the mix."""
    classes = split_cohort.classes
    weights = np.arange(1.0, len(classes) + 1.0) ** 2  # rising, where the training mix falls (A > B > C)
    mix = {c: float(w) for c, w in zip(classes, weights / weights.sum(), strict=True)}
    result = _fit(split_cohort, tmp_path / "run", "target", mix)
    assert result.net.decision == result.calibration.to_dict()["decision"] == "target"
    path = tmp_path / "model.pt"
    save_bundle(result.net, classes, {}, path)
    model = load_bundle(path)
    np.testing.assert_allclose(model.net.target_mix.numpy(), [mix[c] for c in classes], rtol=1e-6)
    counts = np.bincount(result.train_data.target.numpy(), minlength=len(classes))
    test = predict_split(model, split_cohort, "test")
    tau = np.array([mix[c] for c in classes])
    expected = (np.log(test.probabilities) + np.log(tau) - np.log(counts / counts.sum())).argmax(axis=1)
    np.testing.assert_array_equal(test.predicted, expected)
    assert (test.predicted != test.probabilities.argmax(axis=1)).any()  # the mix changed some calls
    prevalence = _fit(split_cohort, tmp_path / "prevalence", "prevalence")
    same_model = predict_split(_reloaded(prevalence, classes, tmp_path / "p.pt"), split_cohort, "test")
    np.testing.assert_allclose(same_model.probabilities, test.probabilities, atol=1e-5)


def _reloaded(result, classes: list[str], path: Path):
    save_bundle(result.net, classes, {}, path)
    return load_bundle(path)


def test_an_equal_target_mix_calls_as_the_balanced_decision(split_cohort, tmp_path: Path):
    classes = split_cohort.classes
    equal = _fit(split_cohort, tmp_path / "equal", "target", {c: 1.0 / len(classes) for c in classes})
    balanced = _fit(split_cohort, tmp_path / "balanced", "balanced")
    a = predict_split(_reloaded(equal, classes, tmp_path / "a.pt"), split_cohort, "test")
    b = predict_split(_reloaded(balanced, classes, tmp_path / "b.pt"), split_cohort, "test")
    np.testing.assert_array_equal(a.predicted, b.predicted)
    assert equal.net.decision == "target" and balanced.net.decision == "balanced"


def test_a_bundle_from_before_the_target_mix_keeps_its_balanced_calls(split_cohort, tmp_path: Path):
    result = _fit(split_cohort, tmp_path / "run", "balanced")
    path = _bundle_without(
        result, split_cohort.classes, tmp_path / "model.pt", "target_mix", "oncofusion-model/4"
    )
    model = load_bundle(path)
    assert model.net.decision == "balanced"
    torch.testing.assert_close(model.net.decision_offset, result.net.decision_offset)


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        ({"decision": "target"}, "target_mix goes with decision: target"),
        ({"decision": "balanced", "target_mix": {"A": 0.5, "B": 0.5}}, "target_mix goes with decision"),
        ({"decision": "target", "target_mix": {"A": 0.5, "B": 0.4}}, "sum to 0.9000, not 1"),
        ({"decision": "target", "target_mix": {"A": 1.0, "B": 0.0}}, "greater than 0"),
        ({"decision": "target", "target_mix": {"A": 0.5, "B": float("nan")}}, "finite number"),
    ],
)
def test_a_target_mix_that_cannot_be_used_is_a_config_error(calibration, message):
    raw = small_training_params()
    raw["train"]["calibration"] = calibration
    with pytest.raises(ConfigError, match=message):
        parse_params(raw)


def test_a_target_mix_must_name_every_class_and_no_other_before_any_training(split_cohort, tmp_path: Path):
    classes = split_cohort.classes
    mix = {c: 1.0 / len(classes) for c in classes[1:]} | {"NOT_A_CLASS": 1.0 / len(classes)}
    raw = small_training_params(max_epochs=2)
    raw["train"]["calibration"] = {"decision": "target", "target_mix": mix}
    with pytest.raises(ConfigError, match=rf"no share for \['{classes[0]}'\]; \['NOT_A_CLASS'\] not a class"):
        fit(split_cohort, parse_params(raw), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_class_names_that_yaml_reads_as_numbers_are_matched_as_text():
    """A labels file with classes 0 and 1 gives the text labels "0" and "1"; YAML reads the mix's keys
    as integers."""
    raw = small_training_params()
    raw["train"]["calibration"] = {"decision": "target", "target_mix": {0: 0.3, 1: 0.7}}
    assert parse_params(raw).train.calibration.target_mix == {"0": 0.3, "1": 0.7}
