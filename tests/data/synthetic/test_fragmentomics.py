import numpy as np
import pytest

from oncofusion.config import FragmentomicsParams
from oncofusion.data.synthetic.omics.fragmentomics import generate_fragmentomics


def _generate(**overrides):
    params = FragmentomicsParams(**overrides)
    labels = np.arange(600) % 3
    return params, labels, generate_fragmentomics(labels, 3, params, np.random.default_rng(3))


def test_histograms_are_nonnegative_and_sum_to_one():
    params, _, data = _generate()
    assert data.values.shape == (600, params.n_bins)
    assert (data.values >= 0).all()
    np.testing.assert_allclose(data.values.sum(axis=1), 1.0, atol=1e-5)
    assert data.features[0] == "fl_050_053" and data.features[-1] == "fl_347_350"


def test_healthy_profile_peaks_at_the_mononucleosome():
    params, _, data = _generate(tumour_fraction_range=(0.0, 0.0))
    mode_bin = data.values.mean(axis=0).argmax()
    centre = (data.bin_edges[mode_bin] + data.bin_edges[mode_bin + 1]) / 2
    assert abs(centre - params.nucleosome_peak_bp) <= params.bin_width


def test_mode_follows_each_class_configured_tumour_peak():
    # With tumour-dominated cfDNA, each class's modal length is its own tumour peak.
    params, labels, data = _generate(tumour_fraction_range=(0.9, 0.95), class_peak_shift_bp=12.0, signal=1.0)
    modes = []
    for k in range(3):
        mean_profile = data.values[labels == k].mean(axis=0)
        b = mean_profile.argmax()
        modes.append((data.bin_edges[b] + data.bin_edges[b + 1]) / 2)
        assert abs(modes[-1] - data.class_tumour_peak_bp[k]) <= 2 * params.bin_width
    assert np.argsort(modes).tolist() == np.argsort(data.class_tumour_peak_bp).tolist()


def test_tumour_fraction_shortens_fragments_by_class():
    _, labels, data = _generate(signal=1.0)
    centres = (data.bin_edges[:-1] + data.bin_edges[1:]) / 2
    short = centres < 150
    short_share = [data.values[labels == k][:, short].sum(axis=1).mean() for k in range(3)]
    assert np.argsort(short_share).tolist() == np.argsort(data.class_tumour_fraction).tolist()


def test_zero_signal_collapses_class_parameters():
    _, _, data = _generate(signal=0.0)
    assert np.ptp(data.class_tumour_fraction) == pytest.approx(0.0)
    assert np.ptp(data.class_tumour_peak_bp) == pytest.approx(0.0)
    assert data.informative == []
