"""The sets a served answer carries: thresholds per pattern of present modalities keep the coverage when
a modality is missing (complete-sample thresholds do not), the called class is always in its set, a
sample unlike training gets every class, and a batch's class mix gives evaluate's adapted call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.config import CalibrationParams
from oncofusion.evaluation.label_shift import label_shift_document
from oncofusion.evaluation.metrics import Predictions
from oncofusion.models.bundle import LoadedModel
from oncofusion.models.class_mix import estimate_batch_mix
from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput
from oncofusion.models.outliers import fit_outliers
from oncofusion.models.set_predictor import UNCALIBRATED, SetPredictor
from oncofusion.training.calibrate import calibrate
from oncofusion.training.data import CohortTensors

NAMES = ("a", "b")
CLASSES = ["neg", "pos"]


def _net() -> EnsembleNet:
    """Two one-feature modalities; the logit of 'pos' is 1.5·a + 1.5·b (the wide path only), so a sample
    with both is called more surely than one with either: what makes complete-sample thresholds too tight."""
    arch = Architecture(
        modalities=[ModalityInput(name=m, kind="tabular", n_features=1, encoder="mlp") for m in NAMES],
        n_classes=2,
        d_model=8,
        n_heads=2,
        n_layers=1,
        hidden=8,
        wide=True,
    )
    torch.manual_seed(0)
    net = EnsembleNet(arch, n_members=1).eval()
    member = net.members[0]
    with torch.no_grad():
        member.head[-1].weight.zero_()
        member.head[-1].bias.zero_()
        member.wide.weight.zero_()
        member.wide.bias.zero_()
        member.wide.weight[1, 0] = member.wide.weight[1, 1] = 1.5
    return net


def _data(n: int, seed: int, mix: float = 0.5) -> CohortTensors:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < mix).astype(int)
    sign = np.where(y == 1, 1.0, -1.0)
    x = {m: torch.tensor((sign * 0.8 + rng.normal(0, 1.0, n))[:, None], dtype=torch.float32) for m in NAMES}
    return CohortTensors([f"S{i}" for i in range(n)], x, torch.ones(n, 2, dtype=torch.bool), torch.tensor(y))


def _model(
    net: EnsembleNet, val: CohortTensors, train: CohortTensors | None = None, coverage: float = 0.9
) -> LoadedModel:
    fitted = calibrate(net, val, CLASSES, CalibrationParams(coverage=coverage, class_conditional="never"))
    outliers = None
    if train is not None:
        outliers = fit_outliers(
            {m: v.numpy() for m, v in train.inputs.items()},
            train.present.numpy(),
            list(NAMES),
            net.preprocess,
        )
    return LoadedModel(
        net,
        CLASSES,
        {m: {"features": [m]} for m in NAMES},
        conformal=fitted.conformal,
        conformal_patterns={k: v.to_dict() for k, v in fitted.patterns.items()},
        class_counts=[500, 500],
        outliers=outliers,
    )


def _coverage(model: LoadedModel, data: CohortTensors, present: np.ndarray) -> tuple[float, float]:
    inputs = {m: v.numpy() for m, v in data.inputs.items()}
    y = data.target.numpy()
    result = model.predict(inputs, present)
    before = model.conformal.predict_sets(result["probabilities"])
    rows = np.arange(len(y))
    return float(result["sets"][rows, y].mean()), float(before[rows, y].mean())


@pytest.mark.parametrize("pattern", [(True, False), (False, True), (True, True)])
def test_coverage_holds_for_every_pattern_of_present_modalities(pattern):
    net = _net()
    model = _model(net, _data(600, seed=1))
    test = _data(3000, seed=2)
    present = np.broadcast_to(np.array(pattern), (3000, 2)).copy()
    now, before = _coverage(model, test, present)
    assert now >= 0.88, (pattern, now)
    if not all(pattern):
        assert before < 0.85, (pattern, before)  # what a missing modality did to complete-sample sets


def test_sets_are_never_empty_and_always_hold_the_called_class():
    net = _net()
    model = _model(net, _data(600, seed=1), coverage=0.6)  # a threshold under 0.5: empty binary sets
    test = _data(500, seed=3)
    inputs = {m: v.numpy() for m, v in test.inputs.items()}
    result = model.predict(inputs, test.present.numpy())
    rows = np.arange(500)
    assert result["sets"].any(axis=1).all()
    assert result["sets"][rows, result["predicted"]].all()
    plain = model.conformal.predict_sets(result["probabilities"])
    assert (~plain.any(axis=1)).any(), "the data should give some empty conformal sets to fill"
    assert np.array_equal(result["called_added"], ~plain[rows, result["predicted"]])
    assert set(result["set_calibrated_for"]) == {"a+b"}


def test_a_pattern_without_thresholds_gets_every_class_and_older_models_keep_theirs():
    complete = _model(_net(), _data(600, seed=1)).conformal
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8]])
    present = np.array([[True, False], [True, True]])
    only_complete = SetPredictor(complete, NAMES, {"a+b": complete})
    answer = only_complete.predict(probabilities, present, np.array([0, 1]))
    assert answer.sets[0].all() and answer.calibrated_for == [UNCALIBRATED, "a+b"]
    older = SetPredictor(complete, NAMES, None)
    assert older.predict(probabilities, present, np.array([0, 1])).calibrated_for == ["complete"] * 2
    nothing = SetPredictor(complete, NAMES, {}).predict(probabilities, present, np.array([0, 1]))
    assert nothing.sets.all() and nothing.calibrated_for == [UNCALIBRATED] * 2


def test_a_sample_far_outside_training_is_flagged_and_its_set_widened():
    net = _net()
    train = _data(800, seed=4)
    model = _model(net, _data(600, seed=1), train)
    test = _data(400, seed=5)
    inputs = {m: v.numpy().copy() for m, v in test.inputs.items()}
    inputs["a"][0] = 40.0  # training spans about -4..4
    result = model.predict(inputs, test.present.numpy())
    assert result["outside"][0] and "a:" in result["outside"][0][0]
    assert result["probabilities"][0].max() > 0.999 and result["sets"][0].all()
    false_flags = np.mean([bool(r) for r in result["outside"][1:]])
    assert false_flags <= 0.03  # the threshold flags about 1% of samples like the training ones


def test_a_batch_class_mix_gives_evaluate_s_adapted_call():
    net = _net()
    model = _model(net, _data(600, seed=1))
    val, test = _data(300, seed=6), _data(400, seed=7, mix=0.85)
    predictions = {}
    for name, data in (("val", val), ("test", test)):
        result = model.predict({m: v.numpy() for m, v in data.inputs.items()}, data.present.numpy())
        predictions[name] = Predictions(
            data,
            result["probabilities"],
            result["attention"],
            result["embedding"],
            called=result["predicted"],
        )
    report = label_shift_document(predictions["val"], predictions["test"], np.array([500, 500]), CLASSES)
    assert report is not None and report["verdict"] == "shifted"
    mix = estimate_batch_mix(predictions["test"].probabilities, model.training_frequency)
    assert mix is not None and mix[1] > 0.7
    batch = model.predict({m: v.numpy() for m, v in test.inputs.items()}, test.present.numpy(), class_mix=mix)
    from sklearn.metrics import f1_score

    f1 = round(float(f1_score(test.target.numpy(), batch["predicted"], labels=[0, 1], average="macro")), 4)
    assert f1 == report["test_f1_macro"]["adapted_to_estimated_mix"]
    assert (batch["predicted"] != predictions["test"].predicted).any()  # the mix changed some calls
    assert estimate_batch_mix(predictions["test"].probabilities[:49], model.training_frequency) is None


def test_a_feature_constant_in_training_does_not_flag_every_new_value():
    """A channel that was always 0 in training: a small new value is not "outside the range", and the
    distance threshold stays finite (an sd floor, not 1e-9)."""
    rng = np.random.default_rng(8)
    train = np.c_[rng.normal(0, 1, (300, 3)), np.zeros(300)]
    identity = {"a": torch.nn.Identity()}  # the values as the network would see them, untransformed
    reference = fit_outliers({"a": train}, np.ones((300, 1), dtype=bool), ["a"], identity)
    assert np.isfinite(reference["modalities"]["a"]["distance_threshold"])
    from oncofusion.models.outliers import flag_outliers

    new = np.c_[rng.normal(0, 1, (200, 3)), np.full(200, 0.01)]
    flags = flag_outliers(
        reference, {"a": new}, np.ones((200, 1), dtype=bool), ["a"], {"a": torch.nn.Identity()}
    )
    assert np.mean([bool(f) for f in flags]) < 0.05
