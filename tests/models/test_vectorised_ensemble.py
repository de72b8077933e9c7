"""The ensemble's vectorised inference pass (models/vectorised.py) against its member loop."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput, Output


def _arch(fusion: str = "attention", wide: bool = True) -> Architecture:
    return Architecture(
        modalities=[
            ModalityInput(name="meth", kind="tabular", n_features=12, encoder="mlp"),
            # Two channels of 10 positions each, after a log1p transform.
            ModalityInput(
                name="frag", kind="profile", n_features=20, encoder="cnn", transform="log1p", channels=2
            ),
            # The 30 most variable of 31 raw features.
            ModalityInput(
                name="cna", kind="genomic", n_features=30, n_inputs=31, top_k=30, encoder="cnn_gru"
            ),
        ],
        n_classes=4,
        d_model=16,
        n_heads=2,
        n_layers=2,
        dropout=0.2,
        fusion=fusion,
        hidden=16,
        channels=4,
        gru_hidden=5,
        wide=wide,
        wide_bins=3 if wide else 0,
    )


def _inputs(batch: int, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "meth": torch.rand(batch, 12, generator=g),
        "frag": torch.rand(batch, 20, generator=g) * 50,
        "cna": torch.randn(batch, 31, generator=g),
    }


def _ensemble(fusion: str = "attention", members: int = 4, wide: bool = True) -> EnsembleNet:
    """Members that differ in every weight, BatchNorm statistic and fitted scaling/transform."""
    torch.manual_seed(0)
    net = EnsembleNet(_arch(fusion, wide), n_members=members)
    with torch.no_grad():
        for i, member in enumerate(net.members):
            member.fit_scaling(_inputs(40, seed=10 + i), torch.ones(40, 3, dtype=torch.bool))
            for parameter in member.parameters():
                parameter.add_(0.3 * torch.randn_like(parameter))
            for module in member.modules():
                if isinstance(module, torch.nn.BatchNorm1d):
                    module.running_mean.normal_()
                    module.running_var.mul_(torch.rand_like(module.running_var) + 0.5)
            member.deep_weight.fill_(0.5 + 0.2 * i)
        net.temperature.fill_(1.7)
    return net.eval()


def _run(
    net: EnsembleNet, inputs: dict[str, torch.Tensor], present: torch.Tensor, vectorised: bool
) -> Output:
    net.vectorised = vectorised
    try:
        with torch.no_grad():
            return net(inputs, present)
    finally:
        net.vectorised = True


def _assert_same(a: Output, b: Output) -> None:
    torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.logits.softmax(-1), b.logits.softmax(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.embedding, b.embedding, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.tokens, b.tokens, atol=1e-5, rtol=1e-5)
    assert len(a.attention) == len(b.attention)
    for x, y in zip(a.attention, b.attention, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)
    assert a.wide_logits is None and b.wide_logits is None


def _presence(batch: int, pattern: str) -> torch.Tensor:
    present = torch.ones(batch, 3, dtype=torch.bool)
    if pattern == "some_missing":
        g = torch.Generator().manual_seed(3)
        present = torch.rand(batch, 3, generator=g) > 0.4
        present[~present.any(dim=1), 0] = True  # every sample has at least one modality
        if batch > 2:
            present[:, 2] = False
            present[1, 2] = True  # a modality that exactly one sample has
    elif pattern == "one_absent_for_all":
        present[:, 1] = False
    return present


def _took_fast_path(net: EnsembleNet) -> bool:
    cached = net.__dict__.get("_stacked")
    return cached is not None and cached[2] is not None


@pytest.mark.parametrize("fusion", ["attention", "concat"])
@pytest.mark.parametrize("batch", [1, 37])
@pytest.mark.parametrize("pattern", ["all_present", "some_missing", "one_absent_for_all"])
def test_vectorised_pass_equals_the_member_loop(fusion, batch, pattern):
    net = _ensemble(fusion)
    inputs = _inputs(batch)
    inputs["meth"][0, 3] = float("nan")  # a missing value inside a present modality
    present = _presence(batch, pattern)
    for i, name in enumerate(net.names):
        inputs[name][~present[:, i]] = float("nan")  # absent modalities arrive as NaN
    loop = _run(net, inputs, present, vectorised=False)
    fast = _run(net, inputs, present, vectorised=True)
    assert _took_fast_path(net)
    _assert_same(loop, fast)
    assert fast.embedding.shape == (batch, 4 * 16)
    if fusion == "attention":
        assert fast.attention[0].shape == (batch, 4, 4)


def test_without_wide_path_and_with_one_member():
    for members in (1, 3):
        net = _ensemble(wide=False, members=members)
        inputs, present = _inputs(5), _presence(5, "some_missing")
        _assert_same(_run(net, inputs, present, False), _run(net, inputs, present, True))


def test_changed_weights_reach_the_vectorised_pass():
    net = _ensemble()
    inputs, present = _inputs(6), _presence(6, "all_present")
    before = _run(net, inputs, present, vectorised=True)
    assert _took_fast_path(net)

    # load_state_dict: member 2 takes another ensemble's member 0.
    other = _ensemble(members=1)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(0.5)
    net.members[2].load_state_dict(other.members[0].state_dict())
    after = _run(net, inputs, present, vectorised=True)
    assert not torch.allclose(before.logits, after.logits, atol=1e-3)
    _assert_same(_run(net, inputs, present, vectorised=False), after)

    # An in-place edit of one weight (as an optimiser step or deep-weight fit makes).
    with torch.no_grad():
        net.members[1].encoders["cna"].gru.weight_hh_l0_reverse.mul_(-1.0)
        net.members[0].deep_weight.fill_(0.0)
    edited = _run(net, inputs, present, vectorised=True)
    assert not torch.allclose(after.logits, edited.logits, atol=1e-3)
    _assert_same(_run(net, inputs, present, vectorised=False), edited)

    # A whole ensemble's state, and a replaced parameter object.
    net.load_state_dict(_ensemble(members=4).state_dict())
    _assert_same(_run(net, inputs, present, vectorised=False), _run(net, inputs, present, vectorised=True))
    net.members[3].head[2].bias = torch.nn.Parameter(torch.full((4,), 3.0))
    _assert_same(_run(net, inputs, present, vectorised=False), _run(net, inputs, present, vectorised=True))


def test_training_and_gradients_keep_the_member_loop():
    net = _ensemble()
    inputs, present = _inputs(6), _presence(6, "all_present")
    out = net(inputs, present)  # eval, gradients on (attributions): the loop
    assert out.logits.requires_grad and "_stacked" not in net.__dict__
    net.train()
    with torch.no_grad():
        net(inputs, present)
    assert "_stacked" not in net.__dict__
    net.eval()
    net.members[1].encoders["meth"].train()  # one submodule in training mode: the loop
    with torch.no_grad():
        net(inputs, present)
    assert "_stacked" not in net.__dict__


def test_inference_mode_and_copies():
    net = _ensemble()
    inputs, present = _inputs(3), _presence(3, "some_missing")
    with torch.inference_mode():
        built = net(inputs, present)  # stacked weights built in inference mode ...
    assert _took_fast_path(net)
    _assert_same(built, _run(net, inputs, present, vectorised=True))  # ... serve outside it too
    for duplicate in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert "_stacked" not in duplicate.__dict__
        _assert_same(built, _run(duplicate, inputs, present, vectorised=True))
