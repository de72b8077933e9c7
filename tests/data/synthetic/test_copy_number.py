import numpy as np
import pytest

from oncofusion.config import CopyNumberParams
from oncofusion.data.assembly import autosome_bins
from oncofusion.data.synthetic.omics.copy_number import generate_copy_number, sample_hmm_states


def _hazards(states: np.ndarray, slices, max_age: int = 6) -> tuple[float, np.ndarray]:
    """Overall switch rate, and the switch probability by segment age (bins since the last change).

    A geometric dwell time is memoryless: the chance a segment ends at the next bin is the breakpoint
    rate whatever its age. Ages are counted only from an observed change, and a segment is at risk only
    while the next bin lies on the same chromosome, so chromosome ends do not bias the estimate.
    """
    ended, at_risk = np.zeros(max_age + 1), np.zeros(max_age + 1)
    switches = pairs = 0
    for chromosome in slices:
        block = states[:, chromosome].astype(int)
        change = np.diff(block, axis=1) != 0  # change[:, i]: bin i+1 differs from bin i
        switches += change.sum()
        pairs += change.size
        age = np.full(len(block), -1)  # -1: no change seen yet on this chromosome
        for i in range(change.shape[1]):
            known = (age >= 1) & (age <= max_age)
            np.add.at(at_risk, age[known], 1)
            np.add.at(ended, age[known], change[known, i])
            age = np.where(change[:, i], 1, np.where(age > 0, age + 1, age))
    return switches / pairs, ended[1:] / at_risk[1:]


def test_segments_follow_the_hmm_dwell_times():
    bins = autosome_bins(400)
    rate = 0.05
    states = sample_hmm_states(3000, bins, rate, np.random.default_rng(11))
    switch_rate, hazard_by_age = _hazards(states, bins.chromosome_slices())
    assert switch_rate == pytest.approx(rate, rel=0.05)
    # Memoryless: young and old segments end at the same per-bin rate (mean dwell 1/rate bins).
    np.testing.assert_allclose(hazard_by_age, rate, rtol=0.2)


def test_states_are_integer_copy_numbers_mostly_diploid():
    params = CopyNumberParams(signal=0.0)
    data = generate_copy_number(np.arange(500) % 4, 4, params, np.random.default_rng(2))
    assert data.states.dtype == np.int8
    assert set(np.unique(data.states)) <= set(range(6))
    assert np.mean(data.states == 2) > 0.5
    assert len(data.features) == params.n_bins
    assert data.hotspots  # drawn even at zero signal, so ground truth exists, but never applied


def test_class_hotspots_shift_states_in_their_class_only():
    params = CopyNumberParams(penetrance=0.9, signal=1.0, arm_events_per_class=1, focal_events_per_class=1)
    labels = np.arange(1200) % 3
    data = generate_copy_number(labels, 3, params, np.random.default_rng(5))
    for spot in data.hotspots:
        inside = data.states[labels == spot.cls][:, spot.bins]
        outside = data.states[labels != spot.cls][:, spot.bins]
        # ~90% of the class carries the event; elsewhere that state is background-rare in those bins.
        assert np.mean(inside == spot.state) > 0.8
        assert np.mean(outside == spot.state) < np.mean(inside == spot.state) - 0.3


def test_zero_signal_applies_no_hotspots():
    params = CopyNumberParams(penetrance=1.0, signal=0.0)
    labels = np.arange(900) % 3
    data = generate_copy_number(labels, 3, params, np.random.default_rng(5))
    focal = [s for s in data.hotspots if s.kind == "focal_amp"]
    for spot in focal:
        assert np.mean(data.states[labels == spot.cls][:, spot.bins] == 5) < 0.2


def test_log2_ratio_tracks_state_through_purity():
    data = generate_copy_number(
        np.arange(800) % 2, 2, CopyNumberParams(noise_sd=0.0), np.random.default_rng(1)
    )
    expected = np.log2((data.purity[:, None] * data.states + (1 - data.purity[:, None]) * 2) / 2)
    np.testing.assert_allclose(data.log2_ratio, expected, atol=1e-5)
    assert np.isfinite(data.log2_ratio).all()
    assert data.log2_ratio[data.states == 2] == pytest.approx(0.0, abs=1e-6)
