import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from oncofusion.cohort import Cohort
from oncofusion.config import CopyNumberParams, InteractionParams, MethylationParams, parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.data.synthetic.omics.copy_number import expected_log2_ratio, generate_copy_number
from oncofusion.data.synthetic.omics.interaction import apply_interaction, draw_locus_states, generative_index
from oncofusion.data.synthetic.omics.methylation import generate_methylation
from oncofusion.errors import ConfigError

from ...conftest import tiny_raw_params


def _raw(n_samples: int = 3000, **interaction) -> dict:
    raw = tiny_raw_params()
    raw["synthesize"].update(
        n_samples=n_samples,
        class_weights=None,
        methylation={"n_features": 40, "n_informative": 12},
        cna={"n_bins": 110},
        interaction={"enabled": True, **interaction},
    )
    return raw


def _cohort(n_samples: int = 3000, seed: int = 3, **interaction) -> Cohort:
    return generate_cohort(parse_params(_raw(n_samples, **interaction)).synthesize, seed=seed)


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return _cohort()  # classes A, B, C equally often; base A, twin C by default


def _locus(cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
    """(silenced, lost) per sample, read back from the tables."""
    truth = cohort.meta.ground_truth["interaction"]
    beta = cohort.modalities["methylation"][truth["methylation_features"]].to_numpy()
    states = cohort.annotations["cna_states"][truth["cna_features"]].to_numpy()
    return beta.mean(axis=1) > 0.5, (states == truth["loss_state"]).all(axis=1)


def test_each_modality_alone_is_equally_frequent_in_every_class_and_only_twin_has_both(cohort):
    silenced, lost = _locus(cohort)
    labels = cohort.labels["label"].to_numpy()
    for label in ("A", "B", "C"):
        members = labels == label
        tolerance = 4 * np.sqrt(0.25 / members.sum())
        assert silenced[members].mean() == pytest.approx(0.5, abs=tolerance), label
        assert lost[members].mean() == pytest.approx(0.5, abs=tolerance), label
    twin = labels == "C"
    assert (silenced & lost)[twin].mean() == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / twin.sum()))
    assert not (silenced & lost)[~twin].any()
    assert (silenced == lost)[twin].all()


@pytest.mark.parametrize("prevalence", [0.1, 0.3, 0.5])
def test_locus_states_follow_the_prevalence(prevalence):
    labels = np.arange(30000) % 3
    silenced, lost = draw_locus_states(labels, 2, prevalence, np.random.default_rng(0))
    for k in range(3):
        members = labels == k
        tolerance = 4 * np.sqrt(prevalence * (1 - prevalence) / members.sum())
        assert silenced[members].mean() == pytest.approx(prevalence, abs=tolerance)
        assert lost[members].mean() == pytest.approx(prevalence, abs=tolerance)
    twin = labels == 2
    np.testing.assert_array_equal(silenced[twin], lost[twin])
    assert not (silenced & lost)[~twin].any()
    neither = ~silenced & ~lost & ~twin
    assert neither.sum() / (~twin).sum() == pytest.approx(1 - 2 * prevalence, abs=0.02)


def _auc(model, features: np.ndarray, target: np.ndarray) -> float:
    return cross_val_score(model, features, target, cv=5, scoring="roc_auc").mean()


def test_only_a_model_combining_both_modalities_at_the_locus_tells_twin_from_base(cohort):
    truth = cohort.meta.ground_truth["interaction"]
    locus = set(truth["methylation_features"]) | set(truth["cna_features"])
    labels = cohort.labels["label"].to_numpy()
    pair = np.isin(labels, ["A", "C"])
    target = (labels[pair] == "C").astype(int)
    tables = [cohort.modalities[name].to_numpy()[pair] for name in ("methylation", "fragmentomics", "cna")]
    columns = [c for name in ("methylation", "fragmentomics", "cna") for c in cohort.modalities[name].columns]
    everything = np.hstack(tables)
    at_locus = np.array([c in locus for c in columns])
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    boosted = HistGradientBoostingClassifier(max_depth=2, random_state=0)

    # Everything but the locus: twin and base are generated alike, so no better than chance.
    assert _auc(linear, everything[:, ~at_locus], target) < 0.6
    # The locus of both modalities: an XOR, invisible to a linear model, plain to trees.
    assert _auc(linear, everything[:, at_locus], target) < 0.6
    assert _auc(boosted, everything[:, at_locus], target) > 0.95
    # One modality's part of the locus alone carries nothing, even for trees.
    meth_locus = np.array([c in set(truth["methylation_features"]) for c in columns])
    assert _auc(boosted, everything[:, meth_locus], target) < 0.6


def test_twin_is_generated_as_base_outside_the_locus(cohort):
    truth = cohort.meta.ground_truth["interaction"]
    locus = set(truth["methylation_features"]) | set(truth["cna_features"])
    labels = cohort.labels["label"].to_numpy()
    for name in ("methylation", "fragmentomics", "cna"):
        frame = cohort.modalities[name]
        for column in frame.columns:
            if column in locus:
                continue
            values = frame[column].to_numpy()
            # Same distribution in base and twin (by column; 1e-4 keeps ~100 tests from a false alarm).
            assert stats.ks_2samp(values[labels == "A"], values[labels == "C"]).pvalue > 1e-4, column


def test_locus_cpgs_differ_between_samples_only_through_silencing(cohort):
    truth = cohort.meta.ground_truth["interaction"]
    silenced, _ = _locus(cohort)
    labels = cohort.labels["label"].to_numpy()
    beta = cohort.modalities["methylation"][truth["methylation_features"]].to_numpy()
    for state in (False, True):
        group = silenced == state
        for j in range(beta.shape[1]):
            samples = [beta[group & (labels == k), j] for k in ("A", "B", "C")]
            assert stats.kruskal(*samples).pvalue > 1e-4
    # Silenced CpGs near 0.9, the others near 0.1.
    assert beta[silenced].mean() == pytest.approx(0.9, abs=0.06)
    assert beta[~silenced].mean() == pytest.approx(0.1, abs=0.06)


def test_overlay_sits_away_from_planted_signal_and_log2_follows_the_states():
    labels = np.arange(600) % 3
    model_index = generative_index(labels, 0, 2)
    np.testing.assert_array_equal(model_index, np.where(labels == 2, 0, labels))
    meth_params = MethylationParams(n_features=30, n_informative=10)
    cna_params = CopyNumberParams(n_bins=110, noise_sd=0.0)
    meth = generate_methylation(model_index, 3, meth_params, np.random.default_rng(1))
    cna = generate_copy_number(model_index, 3, cna_params, np.random.default_rng(2))
    params = InteractionParams(enabled=True, n_cpgs=4, n_bins=3, loss_state=0, prevalence=0.4)
    new_meth, new_cna, data = apply_interaction(
        labels, 0, 2, params, meth, meth_params, cna, cna_params, np.random.default_rng(3)
    )
    assert not set(data.methylation_features) & set(meth.informative)
    assert not set(data.bins) & {b for spot in cna.hotspots for b in spot.bins}  # twin's hotspots too
    assert np.diff(data.bins).tolist() == [1, 1]
    assert any(set(data.bins) <= set(range(s.start, s.stop)) for s in cna.bins.chromosome_slices())

    outside_cpgs = np.setdiff1d(np.arange(30), data.cpgs)
    np.testing.assert_array_equal(new_meth.values[:, outside_cpgs], meth.values[:, outside_cpgs])
    outside_bins = np.setdiff1d(np.arange(110), data.bins)
    np.testing.assert_array_equal(new_cna.states[:, outside_bins], cna.states[:, outside_bins])
    np.testing.assert_array_equal(new_cna.log2_ratio[:, outside_bins], cna.log2_ratio[:, outside_bins])

    locus_states = new_cna.states[:, data.bins]
    np.testing.assert_array_equal(locus_states, np.where(data.lost[:, None], 0, 2) * np.ones((1, 3)))
    expected = expected_log2_ratio(locus_states, cna.purity)
    np.testing.assert_allclose(new_cna.log2_ratio[:, data.bins], expected, atol=1e-5)
    assert np.isfinite(new_cna.log2_ratio).all()
    np.testing.assert_array_equal(new_meth.values[:, data.cpgs].mean(axis=1) > 0.5, data.silenced)
    assert meth.values is not new_meth.values  # inputs are left alone


def test_ground_truth_records_the_locus_and_drops_unused_twin_effects(cohort):
    truth = cohort.meta.ground_truth
    interaction = truth["interaction"]
    assert {k: interaction[k] for k in ("base", "twin", "prevalence", "loss_state")} == {
        "base": "A",
        "twin": "C",
        "prevalence": 0.5,
        "loss_state": 1,
    }
    assert len(interaction["methylation_features"]) == 5 and len(interaction["cna_features"]) == 3
    assert set(interaction["methylation_features"]) <= set(truth["signal_features"]["methylation"])
    assert set(interaction["cna_features"]) <= set(truth["signal_features"]["cna"])
    for modality, features in truth["signal_features"].items():
        columns = cohort.modalities[modality].columns.tolist()
        assert features == [c for c in columns if c in set(features)], modality  # real, in column order
    # The twin's own markers and hotspots reach no sample, so they are not ground truth.
    assert "C" not in set(truth["methylation"]["marker_class"].values())
    assert "C" not in {h["class"] for h in truth["cna"]["hotspots"]}
    assert set(truth["signal_features"]["methylation"]) == set(truth["methylation"]["marker_class"]) | set(
        interaction["methylation_features"]
    )
    fragmentomics = truth["fragmentomics"]
    assert fragmentomics["class_tumour_fraction"]["C"] == fragmentomics["class_tumour_fraction"]["A"]
    assert fragmentomics["class_tumour_peak_bp"]["C"] == fragmentomics["class_tumour_peak_bp"]["A"]


def test_roles_can_be_named_and_disabled_interaction_changes_nothing():
    named = _cohort(n_samples=300, base="B", twin="A")
    assert named.meta.ground_truth["interaction"]["twin"] == "A"
    silenced, lost = _locus(named)
    labels = named.labels["label"].to_numpy()
    assert (silenced & lost).any() and not (silenced & lost)[labels != "A"].any()

    plain = tiny_raw_params()
    off = tiny_raw_params()
    off["synthesize"]["interaction"] = {"enabled": False, "prevalence": 0.2, "twin": "B", "n_bins": 40}
    first = generate_cohort(parse_params(plain).synthesize, seed=1)
    second = generate_cohort(parse_params(off).synthesize, seed=1)
    for name in first.modalities:
        assert first.modalities[name].equals(second.modalities[name]), name
    assert first.annotations["cna_states"].equals(second.annotations["cna_states"])
    assert first.meta.ground_truth == second.meta.ground_truth
    assert "interaction" not in first.meta.ground_truth


def test_a_locus_that_does_not_fit_is_a_config_error():
    raw = _raw(n_samples=60)
    raw["synthesize"]["cna"] = {"n_bins": 44}  # two bins per chromosome: no room for three
    with pytest.raises(ConfigError, match=r"interaction\.n_bins"):
        generate_cohort(parse_params(raw).synthesize, seed=0)
    raw = _raw(n_samples=60, n_cpgs=29)
    with pytest.raises(ConfigError, match=r"interaction\.n_cpgs"):
        generate_cohort(parse_params(raw).synthesize, seed=0)
