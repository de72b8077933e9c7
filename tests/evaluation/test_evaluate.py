import numpy as np
import pytest

from oncofusion.evaluation.metrics import classification_metrics, per_class
from oncofusion.evaluation.report import ablation_table


def test_metrics_on_a_hand_checked_example():
    y = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]
    )
    metrics = classification_metrics(y, probabilities)
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    # F1: class 0 = 2/3 (P 1, R 1/2), class 1 = 0.8 (P 2/3, R 1), class 2 = 1.
    assert metrics["f1_macro"] == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)
    assert 0.9 < metrics["auroc"] <= 1.0
    report = per_class(y, probabilities.argmax(axis=1), ["a", "b", "c"])
    assert report["b"]["precision"] == pytest.approx(2 / 3) and report["a"]["recall"] == pytest.approx(0.5)


def test_binary_auroc_uses_the_positive_column():
    y = np.array([0, 1, 0, 1])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert classification_metrics(y, probabilities)["auroc"] == pytest.approx(1.0)


def _result(f1: float) -> dict:
    return {s: {"accuracy": f1, "f1_macro": f1, "f1_weighted": f1, "auroc": f1} for s in ("val", "test")}


def test_ablation_summary_reports_gains_honestly():
    table = ablation_table(
        _result(0.80),
        {
            "logistic_regression": _result(0.85),
            "gradient_boosting": _result(0.70),
            "no_cross_attention_concat_mlp": _result(0.78),
            "generic_mlp_encoders": _result(0.83),
        },
    )
    summary = table["summary"]
    assert summary["best_baseline"] == "logistic_regression"
    assert summary["fusion_beats_best_baseline"] is False
    assert summary["fusion_minus_best_baseline"] == pytest.approx(-0.05)
    assert summary["cross_attention_gain"] == pytest.approx(0.02)
    assert summary["specific_encoders_gain"] == pytest.approx(-0.03)
    assert table["paper_claims"] == {"cross_attention_gain": 0.12, "specific_encoders_gain": 0.08}


def test_ablation_table_carries_the_paired_intervals_and_their_verdicts():
    from oncofusion.evaluation.intervals import bootstrap_f1

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    fusion = np.where(rng.random(150) < 0.9, y, (y + 1) % 3)
    concat = np.where(rng.random(150) < 0.5, y, (y + 1) % 3)
    intervals = bootstrap_f1(
        y,
        {
            "fusion_transformer": fusion,
            "logistic_regression": fusion.copy(),
            "no_cross_attention_concat_mlp": concat,
        },
        500,
        0,
        reference="fusion_transformer",
        prefix="fusion",
    )
    table = ablation_table(
        _result(0.9),
        {"logistic_regression": _result(0.9), "no_cross_attention_concat_mlp": _result(0.5)},
        intervals,
    )
    summary = table["summary"]
    assert summary["fusion_vs_best_baseline"] == "within noise"
    assert summary["fusion_minus_best_baseline_ci95"] == [0.0, 0.0]
    assert summary["cross_attention_gain_verdict"] == "fusion_transformer better"
    fusion_row = table["rows"][0]
    assert fusion_row["model"] == "fusion_transformer"
    assert fusion_row["test_f1_macro_ci95"] == intervals["fusion_transformer"]["ci95"]


def test_interaction_report_scores_each_model_on_the_twin_pair(tiny_cohort):
    from oncofusion.evaluation.report import interaction_document

    truth = {"interaction": {"base": "A", "twin": "C", "prevalence": 0.5}}
    cohort = type(tiny_cohort)(
        tiny_cohort.meta.model_copy(update={"ground_truth": truth}),
        tiny_cohort.labels,
        tiny_cohort.modalities,
    )
    y = np.array([0, 2, 2, 0, 1, 1])
    report = interaction_document(cohort, y, {"right": y.copy(), "swapped": np.array([2, 0, 0, 2, 1, 1])})
    assert report["n_test"] == 4 and report["pair_accuracy"] == {"right": 1.0, "swapped": 0.0}
    assert interaction_document(tiny_cohort, y, {"right": y}) is None  # no interaction planted


def test_baselines_learn_from_the_training_split_only(split_cohort):
    """Relabelling every val and test sample must not move a single baseline probability: a baseline
    that saw those labels while fitting (train + val + test) would change with them."""
    from oncofusion.evaluation.baselines import run_baselines

    modalities = list(split_cohort.modalities)
    before = run_baselines(split_cohort, modalities, seed=0)
    labels = split_cohort.labels.copy()
    held_out = labels["split"] != "train"
    classes = split_cohort.classes
    labels.loc[held_out, "label"] = [
        classes[(classes.index(c) + 1) % len(classes)] for c in labels.loc[held_out, "label"]
    ]
    relabelled = type(split_cohort)(split_cohort.meta, labels, split_cohort.modalities)
    after = run_baselines(relabelled, modalities, seed=0)
    assert set(before) == {"logistic_regression", "gradient_boosting"}
    for name, scored in before.items():
        np.testing.assert_array_equal(after[name].test_probabilities, scored.test_probabilities, err_msg=name)
        # The held-out labels did change, so the scores on them did: the relabelling reached the metrics.
        assert after[name]["test"] != scored["test"], name
