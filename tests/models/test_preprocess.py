import pytest
import torch

from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput, MultiModalNet
from oncofusion.models.preprocess import ModalityPreprocess, output_width

X = torch.tensor([[1.0, 3.0, 0.0, 4.0], [3.0, 1.0, 0.0, 4.0], [2.0, 2.0, float("nan"), 12.0]])


def test_log1p_is_elementwise_and_keeps_nan():
    pre = ModalityPreprocess(4, "log1p")
    out = pre(X)
    torch.testing.assert_close(out[0], torch.log1p(X[0]))
    assert torch.isnan(out[2, 2])


def test_proportion_row_normalises_and_keeps_the_log_total():
    pre = ModalityPreprocess(4, "proportion")
    out = pre(X[:2])
    assert out.shape == (2, 5) and pre.n_outputs == output_width(4, "proportion", None) == 5
    torch.testing.assert_close(out[0, :4], X[0] / 8.0)
    torch.testing.assert_close(out[:, 4], torch.log1p(torch.tensor([8.0, 8.0])))


def test_zscore_uses_the_fitted_statistics():
    pre = ModalityPreprocess(4, "zscore")
    pre.fit(X[:2])
    out = pre(X[:2])
    torch.testing.assert_close(out[:, 0], torch.tensor([-0.7071, 0.7071]), atol=1e-4, rtol=0)
    assert torch.all(out[:, 2] == 0) and torch.all(out[:, 3] == 0)  # constant features: spread 1


def test_top_k_keeps_the_highest_variance_features_in_their_order():
    pre = ModalityPreprocess(4, "none", top_k=2)
    pre.fit(X)  # variances: 1, 1, 0, ~21 → feature 3, then a tie between 0 and 1
    assert pre.keep.tolist()[-1] == 3 and len(pre.keep) == 2
    assert pre.keep.tolist() == sorted(pre.keep.tolist())
    assert pre(X).shape == (3, 2)


def test_zscore_top_k_ranks_variance_before_scaling():
    generator = torch.Generator().manual_seed(0)
    scales = torch.linspace(0.5, 10.0, 20)[torch.randperm(20, generator=generator)]
    values = torch.randn(200, 20, generator=generator) * scales
    pre = ModalityPreprocess(20, "zscore", top_k=10)
    pre.fit(values)
    expected = sorted(torch.argsort(values.var(dim=0), descending=True)[:10].tolist())
    assert pre.keep.tolist() == expected  # after scaling every variance would be 1: no ranking at all
    torch.testing.assert_close(pre(values).std(dim=0), torch.ones(10), atol=1e-4, rtol=0)


def test_identity_when_nothing_is_asked():
    pre = ModalityPreprocess(4)
    assert pre.identity and pre(X) is X


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="unknown transform"):
        ModalityPreprocess(4, "sqrt")
    with pytest.raises(ValueError, match="top_k"):
        ModalityPreprocess(4, "none", top_k=5)


def test_fitted_transforms_travel_in_the_state_dict():
    arch = Architecture(
        modalities=[
            ModalityInput(
                name="rna",
                kind="tabular",
                n_features=3,
                encoder="mlp",
                n_inputs=4,
                transform="proportion",
                top_k=2,
            )
        ],
        n_classes=2,
        d_model=8,
        n_heads=2,
        n_layers=1,
        hidden=8,
    )
    net = MultiModalNet(arch)
    net.fit_scaling({"rna": X}, torch.ones(3, 1, dtype=torch.bool))
    copy = MultiModalNet(arch)
    copy.load_state_dict(net.state_dict())
    assert copy.preprocess["rna"].keep.tolist() == net.preprocess["rna"].keep.tolist()
    net.eval(), copy.eval()
    present = torch.ones(3, 1, dtype=torch.bool)
    torch.testing.assert_close(net({"rna": X}, present).logits, copy({"rna": X}, present).logits)


def test_proportion_log_total_is_missing_for_an_unmeasured_sample():
    pre = ModalityPreprocess(4, "proportion")
    out = pre(torch.tensor([[1.0, 1.0, 1.0, 1.0], [float("nan")] * 4]))
    assert not torch.isnan(out[0, 4]) and torch.isnan(out[1, 4])


def test_bundles_saved_before_transforms_existed_still_load(tmp_path):
    from oncofusion.models.bundle import load_bundle, save_bundle

    arch = Architecture(
        modalities=[ModalityInput(name="rna", kind="tabular", n_features=4, encoder="mlp")],
        n_classes=2,
        d_model=8,
        n_heads=2,
        n_layers=1,
        hidden=8,
    )
    net = MultiModalNet(arch)
    net.fit_scaling({"rna": X}, torch.ones(3, 1, dtype=torch.bool))
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("preprocess.")}
    # A format-1 bundle from before input transforms: one network, no preprocess buffers, no calibration.
    old_payload = {"format": "oncofusion-model/1", "architecture": arch.model_dump(), "classes": ["a", "b"]}
    torch.save({**old_payload, "schema": {}, "state_dict": state}, tmp_path / "old.pt")
    ensemble = EnsembleNet(arch, n_members=1)
    ensemble.members[0].load_state_dict(net.state_dict())
    save_bundle(ensemble, ["a", "b"], {}, tmp_path / "new.pt")
    old, new = load_bundle(tmp_path / "old.pt"), load_bundle(tmp_path / "new.pt")
    present = torch.ones(3, 1, dtype=torch.bool)
    inputs = {"rna": torch.nan_to_num(X)}
    torch.testing.assert_close(old.net(inputs, present).logits, new.net(inputs, present).logits)
    torch.testing.assert_close(old.net.preprocess["rna"].raw_mean, new.net.members[0].mean_rna)
    assert old.conformal is None and float(old.net.temperature) == 1.0
