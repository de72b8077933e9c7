import pytest
import torch

from oncofusion.models.classifier import FusionClassifier
from oncofusion.models.network import Architecture, ModalityInput, MultiModalNet, piecewise_linear

from ..conftest import tabular_arch


def _arch(fusion: str = "attention") -> Architecture:
    return Architecture(
        modalities=[
            ModalityInput(name="meth", kind="tabular", n_features=12, encoder="mlp"),
            ModalityInput(name="frag", kind="profile", n_features=20, encoder="cnn"),
            ModalityInput(name="cna", kind="genomic", n_features=30, encoder="cnn_gru"),
        ],
        n_classes=3,
        d_model=16,
        n_heads=2,
        n_layers=2,
        dropout=0.0,
        fusion=fusion,
        hidden=16,
        channels=4,
        gru_hidden=4,
    )


def _inputs(batch: int = 6) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {"meth": torch.rand(batch, 12), "frag": torch.rand(batch, 20), "cna": torch.randn(batch, 30)}


def test_forward_returns_logits_embedding_and_attention():
    net = MultiModalNet(_arch()).eval()
    out = net(_inputs(), torch.ones(6, 3, dtype=torch.bool))
    assert out.logits.shape == (6, 3)
    assert out.embedding.shape == (6, 16)
    assert len(out.attention) == 2 and out.attention[0].shape == (6, 4, 4)
    torch.testing.assert_close(out.modality_attention().sum(dim=1), torch.ones(6))


@pytest.mark.parametrize("fusion", ["attention", "concat"])
def test_missing_modality_is_masked_not_imputed(fusion):
    net = MultiModalNet(_arch(fusion)).eval()
    present = torch.ones(6, 3, dtype=torch.bool)
    present[:, 1] = False  # fragmentomics missing for everyone
    inputs = _inputs()
    changed = dict(inputs, frag=torch.rand(6, 20) * 100)
    with torch.no_grad():
        a, b = net(inputs, present), net(changed, present)
    # Whatever the absent modality holds cannot move the prediction ...
    torch.testing.assert_close(a.logits, b.logits)
    if fusion == "attention":
        # ... and receives no attention at all.
        assert torch.all(a.attention[-1][:, :, 2] == 0)
        assert torch.all(a.modality_attention()[:, 1] == 0)


def test_masking_differs_from_zero_filling():
    net = MultiModalNet(_arch()).eval()
    inputs = _inputs()
    masked = torch.ones(6, 3, dtype=torch.bool)
    masked[:, 2] = False
    with torch.no_grad():
        zero_filled = net(dict(inputs, cna=torch.zeros(6, 30)), torch.ones(6, 3, dtype=torch.bool)).logits
        masked_out = net(inputs, masked).logits
    assert not torch.allclose(zero_filled, masked_out)


def test_scaling_is_fitted_on_given_rows_and_imputes_nan_with_the_mean():
    net = MultiModalNet(_arch()).eval()
    inputs = _inputs(50)
    present = torch.ones(50, 3, dtype=torch.bool)
    net.fit_scaling(inputs, present)
    torch.testing.assert_close(net.mean_meth, inputs["meth"].mean(dim=0))
    row = inputs["meth"][:1].clone()
    row[0, 3] = float("nan")
    assert net.scale("meth", row)[0, 3] == 0.0


def test_modality_dropout_keeps_at_least_one_modality():
    module = FusionClassifier(_arch().model_dump(), ["a", "b", "c"], None, modality_dropout=0.9)
    torch.manual_seed(0)
    present = torch.ones(500, 3, dtype=torch.bool)
    present[:100, 0] = False
    kept = module._drop_modalities(present)
    assert kept.any(dim=1).all()
    assert not (kept & ~present).any()  # never resurrects a missing modality
    assert 0.05 < kept.float().mean() < 0.5


def test_sparsity_penalty_is_logged_as_its_own_term():
    module = FusionClassifier(_arch().model_dump(), ["a", "b", "c"], None, sparsity_lambda=0.5)
    logged = {}
    module.log_dict = lambda values, **_: logged.update(values)  # type: ignore[method-assign]
    batch = {
        "inputs": _inputs(),
        "present": torch.ones(6, 3, dtype=torch.bool),
        "target": torch.tensor([0, 1, 2, 0, 1, 2]),
    }
    loss = module.training_step(batch, 0)
    assert set(logged) == {"train/loss", "train/loss_focal", "train/loss_sparsity", "train/wide_l2"}
    expected = logged["train/loss_focal"] + 0.5 * logged["train/loss_sparsity"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert 0 < logged["train/loss_sparsity"].item() <= torch.log(torch.tensor(4.0)).item() + 1e-5


def test_absent_rows_never_reach_an_encoder_in_training():
    # In training mode BatchNorm normalises over the batch: if absent (zero/NaN) rows went through the
    # encoder they would shift the statistics, i.e. zero-imputation by the back door.
    torch.manual_seed(0)
    net = MultiModalNet(_arch()).train()
    inputs = _inputs(8)
    present = torch.ones(8, 3, dtype=torch.bool)
    present[4:, 0] = False
    seen = []
    net.encoders["meth"].register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    changed = dict(inputs, meth=inputs["meth"].clone())
    changed["meth"][4:] = 1e6  # garbage in the absent rows
    torch.manual_seed(1)
    a = net(inputs, present).logits
    torch.manual_seed(1)
    b = net(changed, present).logits
    assert seen == [4, 4]
    torch.testing.assert_close(a, b)


def test_a_single_present_sample_in_training_is_masked_not_crashing_batchnorm():
    net = MultiModalNet(_arch()).train()
    present = torch.ones(6, 3, dtype=torch.bool)
    present[1:, 2] = False  # only one sample has cna
    out = net(_inputs(), present)
    assert torch.isfinite(out.logits).all()


def _linear_problem(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    x = torch.randn(n, 40, generator=generator)
    return x, (x @ weights).argmax(dim=1)


def test_wide_path_alone_fits_a_linear_problem():
    """With the transformer's head silenced, the logits are the wide path's: it must be a real linear
    model of the scaled inputs (trained here like a logistic regression) and generalise."""
    arch = tabular_arch(n_features=40, n_classes=3)
    torch.manual_seed(0)
    net = MultiModalNet(arch)
    x, y = _linear_problem(1500, seed=1)
    present = torch.ones(len(x), 1, dtype=torch.bool)
    net.fit_scaling({"x": x}, present)
    with torch.no_grad():
        net.head[-1].weight.zero_()
        net.head[-1].bias.zero_()
    optimiser = torch.optim.Adam(net.wide.parameters(), lr=0.05)
    net.train()
    for _ in range(200):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(net({"x": x}, present).logits, y)
        loss.backward()
        optimiser.step()
    x_test, y_test = _linear_problem(400, seed=2)
    net.eval()
    with torch.no_grad():
        logits = net({"x": x_test}, torch.ones(len(x_test), 1, dtype=torch.bool)).logits
    assert (logits.argmax(1) == y_test).float().mean() > 0.9


def test_wide_path_starts_at_zero_and_sees_absent_modalities_as_indicators():
    arch = _arch().model_copy(update={"wide": True})
    net = MultiModalNet(arch).eval()
    assert net.wide.weight.shape == (3, 12 + 20 + 30 + 3)
    assert float(net.wide_penalty()) == 0.0
    present = torch.ones(6, 3, dtype=torch.bool)
    present[:, 1] = False
    with torch.no_grad():
        net.wide.weight.normal_()
        changed = dict(_inputs(), frag=torch.rand(6, 20) * 100)
        a, b = net(_inputs(), present), net(changed, present)
        torch.testing.assert_close(a.logits, b.logits)  # an absent modality's values cannot leak in
        # Its missing indicator does enter: the same inputs with the modality present differ.
        c = net(_inputs(), torch.ones(6, 3, dtype=torch.bool))
    assert not torch.allclose(a.logits, c.logits)


def test_ensemble_averages_member_logits_and_divides_by_the_temperature():
    from oncofusion.models.network import EnsembleNet

    torch.manual_seed(0)
    ensemble = EnsembleNet(_arch(), n_members=3).eval()
    present = torch.ones(6, 3, dtype=torch.bool)
    with torch.no_grad():
        members = torch.stack([m(_inputs(), present).logits for m in ensemble.members])
        ensemble.temperature.fill_(2.0)
        out = ensemble(_inputs(), present)
    torch.testing.assert_close(out.logits, members.mean(dim=0) / 2.0)
    assert out.embedding.shape == (6, 3 * 16)
    torch.testing.assert_close(out.modality_attention().sum(dim=1), torch.ones(6))


def test_piecewise_linear_encoding_ramps_between_its_edges():
    edges = torch.tensor([[-1.0, 0.0, 1.0, 1.0, 3.0]])  # one feature, four bins, one of zero width
    x = torch.tensor([[-2.0], [-0.5], [0.5], [1.0], [2.0], [5.0]])
    encoded = piecewise_linear(x, edges)
    expected = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],  # below the first edge
            [0.5, 0.0, 0.0, 0.0],
            [1.0, 0.5, 0.0, 0.0],
            [1.0, 1.0, 0.0, 0.0],  # at the tied edge: the zero-width bin is a step, not yet taken
            [1.0, 1.0, 1.0, 0.5],
            [1.0, 1.0, 1.0, 1.0],  # above the last edge
        ]
    )
    torch.testing.assert_close(encoded, expected)
    # Ties at the minimum (a zero-inflated count): the tied bins say "non-zero", not a constant 1.
    zero_inflated = piecewise_linear(
        torch.tensor([[0.0], [0.0], [2.0]]), torch.tensor([[0.0, 0.0, 0.0, 4.0]])
    )
    torch.testing.assert_close(zero_inflated[:, :2], torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))


def _threshold_problem(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1 where |x0| > 0.8: not linearly separable, a two-threshold rule on one feature."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    return x, (x[:, 0].abs() > 0.8).long()


def _train_wide_only(bins: int) -> float:
    arch = tabular_arch(n_features=4, n_classes=2).model_copy(update={"wide_bins": bins})
    torch.manual_seed(0)
    net = MultiModalNet(arch)
    x, y = _threshold_problem(2000, seed=1)
    present = torch.ones(len(x), 1, dtype=torch.bool)
    net.fit_scaling({"x": x}, present)
    optimiser = torch.optim.Adam(net.wide.parameters(), lr=0.05)
    net.train()
    for _ in range(300):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net({"x": x}, present).logits, y).backward()
        optimiser.step()
    x_test, y_test = _threshold_problem(500, seed=2)
    net.eval()
    with torch.no_grad():
        logits = net({"x": x_test}, torch.ones(len(x_test), 1, dtype=torch.bool)).logits
    return float((logits.argmax(1) == y_test).float().mean())


def test_binned_wide_path_fits_thresholds_a_linear_one_cannot():
    """The transformer's head starts at zero, so only the wide path learns here."""
    linear, binned = _train_wide_only(0), _train_wide_only(8)
    assert linear < 0.7  # about the majority share
    assert binned > 0.93


def test_bin_edges_are_training_quantiles_and_absent_rows_encode_to_zero():
    arch = tabular_arch(n_features=3, n_classes=2).model_copy(update={"wide_bins": 4})
    net = MultiModalNet(arch)
    x = torch.randn(1001, 3, generator=torch.Generator().manual_seed(0))
    present = torch.ones(len(x), 1, dtype=torch.bool)
    net.fit_scaling({"x": x}, present)
    scaled = (x - net.mean_x) / net.std_x
    expected = torch.quantile(scaled, torch.linspace(0, 1, 5), dim=0).T
    torch.testing.assert_close(net.edges_x, expected)
    absent = torch.zeros(2, 1, dtype=torch.bool)
    features = net.wide_features([torch.randn(2, 3)], absent)
    assert features.shape == (2, 3 * (1 + 4) + 1)
    torch.testing.assert_close(features[:, :-1], torch.zeros(2, 15))
    assert features[:, -1].tolist() == [1.0, 1.0]  # only the missing indicator


def test_a_wide_network_starts_as_its_wide_path_and_the_deep_weight_scales_the_rest():
    arch = _arch().model_copy(update={"wide": True, "wide_bins": 2})
    torch.manual_seed(0)
    net = MultiModalNet(arch).eval()
    present = torch.ones(6, 3, dtype=torch.bool)
    with torch.no_grad():
        net.wide.weight.normal_()
        out = net(_inputs(), present)
        torch.testing.assert_close(out.logits, out.wide_logits)  # the head's output starts at zero
        net.head[-1].weight.normal_()
        full = net(_inputs(), present)
        net.deep_weight.fill_(0.25)
        quarter = net(_inputs(), present)
    torch.testing.assert_close(quarter.logits - quarter.wide_logits, 0.25 * (full.logits - full.wide_logits))


def test_the_balanced_decision_calls_a_rare_class_that_is_not_the_most_probable():
    from oncofusion.models.network import EnsembleNet

    ensemble = EnsembleNet(_arch(), n_members=1)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]]))
    assert ensemble.decide(logits).tolist() == [0, 0, 2]  # no offset: the most probable class
    ensemble.set_balanced_decision([70, 20, 10])
    # p / π: row 0 is (0.71, 1.5, 2.0) → class 2; row 1 (1.14, 0.75, 0.5) stays 0; row 2 stays 2.
    assert ensemble.decide(logits).tolist() == [2, 0, 2]
    torch.testing.assert_close(ensemble.decision_offset, torch.log(torch.tensor([0.7, 0.2, 0.1])))
