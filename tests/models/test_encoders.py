import pytest
import torch

from oncofusion.models.encoders import DEFAULT_ENCODER, build_encoder

SIZES = {"hidden": 32, "channels": 8, "gru_hidden": 8, "dropout": 0.0}


@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn_gru"])
@pytest.mark.parametrize("n_features", [17, 110])
def test_each_encoder_maps_features_to_one_normalised_token(name, n_features):
    torch.manual_seed(0)
    encoder = build_encoder(name, n_features, 24, **SIZES)
    token = encoder(torch.randn(5, n_features))
    assert token.shape == (5, 24)
    # LayerNorm at the end: each token has zero mean and unit variance across its dimensions.
    torch.testing.assert_close(token.mean(dim=1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(token.std(dim=1, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)


def test_kinds_pick_their_encoders():
    assert DEFAULT_ENCODER == {"tabular": "mlp", "profile": "cnn", "genomic": "cnn_gru"}
    assert isinstance(build_encoder("cnn_gru", 40, 16, **SIZES).gru, torch.nn.GRU)


def test_cnn_encoder_sees_position_through_its_shortcut():
    """Global average pooling alone cannot tell where a peak is; the residual shortcut can.

    The two peaks are an even number of bins apart (the strided convolution sees them in the same
    phase) and far enough from both ends that no padding reaches them, so the convolutions and pooling
    give the same summary for both: whatever tells them apart came through the shortcut."""
    torch.manual_seed(0)
    encoder = build_encoder("cnn", 30, 16, **SIZES).eval()
    left, right = torch.zeros(1, 30), torch.zeros(1, 30)
    left[0, 10], right[0, 20] = 1.0, 1.0
    with torch.no_grad():
        pooled = [encoder.conv(x.unsqueeze(1)).mean(dim=2) for x in (left, right)]
        torch.testing.assert_close(pooled[0], pooled[1])  # the premise: pooling alone is blind here
        gap = (encoder(left) - encoder(right)).abs().max()
    assert gap > 0.1


def test_unknown_encoder_is_named():
    with pytest.raises(ValueError, match="unknown encoder 'transformer'"):
        build_encoder("transformer", 10, 8, **SIZES)
