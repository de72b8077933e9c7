from pathlib import Path

import torch

from oncofusion.config import parse_params
from oncofusion.models.bundle import load_bundle, save_bundle
from oncofusion.training.deep_weight import GRID, weight_by_loss
from oncofusion.training.train import fit

from .conftest import small_training_params


def _wide_and_target(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 3, (n,), generator=generator)
    wide = torch.nn.functional.one_hot(target, 3).float() * 1.5 + torch.randn(n, 3, generator=generator)
    return wide, target


def test_noise_from_the_transformer_is_weighed_out():
    wide, target = _wide_and_target()
    noise = 3.0 * torch.randn(wide.shape, generator=torch.Generator().manual_seed(1))
    choice = weight_by_loss(noise, wide, target)
    assert choice.weight == 0.0
    assert choice.losses[0.0] < choice.losses[1.0]


def test_a_transformer_that_adds_signal_is_kept_whole():
    wide, target = _wide_and_target()
    signal = torch.nn.functional.one_hot(target, 3).float() * 2.0
    choice = weight_by_loss(signal, wide, target)
    assert choice.weight == 1.0
    assert set(choice.losses) == set(GRID) and choice.n_rows == len(target)


def test_class_weights_change_what_the_loss_counts():
    """A transformer that helps only the rare class is kept more when that class weighs more."""
    wide, target = _wide_and_target(seed=2)
    rare = target == 2
    helps_rare = torch.zeros_like(wide)
    helps_rare[rare, 2] = 2.0
    helps_rare[~rare, 2] = 0.8  # and hurts the others a little
    plain = weight_by_loss(helps_rare, wide, target)
    weighted = weight_by_loss(helps_rare, wide, target, torch.tensor([0.1, 0.1, 5.0]))
    assert weighted.weight > plain.weight


def test_fit_stores_the_out_of_fold_choice_in_every_member_and_the_bundle_keeps_it(
    split_cohort, tmp_path: Path
):
    raw = small_training_params(max_epochs=3)
    raw["train"]["ensemble"] = {"folds": 2, "workers": 1}
    result = fit(split_cohort, parse_params(raw), tmp_path / "run")
    assert result.deep_weight is not None
    chosen = result.deep_weight.weight
    assert chosen in GRID and result.deep_weight.n_rows == len(result.train_data)
    assert result.deep_weight.losses[chosen] == min(result.deep_weight.losses.values())
    assert [float(m.deep_weight) for m in result.net.members] == [chosen, chosen]
    # A different weight would give different logits, so the stored one is what predictions use.
    for member in result.net.members:
        member.deep_weight.fill_(0.5 if chosen != 0.5 else 0.0)
    path = tmp_path / "model.pt"
    save_bundle(result.net, split_cohort.classes, {}, path)
    assert [float(m.deep_weight) for m in load_bundle(path).net.members] == [
        float(m.deep_weight) for m in result.net.members
    ]


def test_full_keeps_the_whole_transformer(split_cohort, tmp_path: Path):
    raw = small_training_params(max_epochs=2)
    raw["train"]["ensemble"] = {"folds": 2, "workers": 1}
    raw["train"]["deep_weight"] = "full"
    result = fit(split_cohort, parse_params(raw), tmp_path)
    assert result.deep_weight is None
    assert all(float(m.deep_weight) == 1.0 for m in result.net.members)


def test_a_bundle_from_before_the_deep_weight_loads_with_the_whole_transformer(split_cohort, tmp_path: Path):
    result = fit(split_cohort, parse_params(small_training_params(max_epochs=2)), tmp_path / "run")
    path = tmp_path / "model.pt"
    save_bundle(result.net, split_cohort.classes, {}, path)
    payload = torch.load(path, weights_only=False)
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if "deep_weight" not in k}
    torch.save(payload, path)
    assert [float(m.deep_weight) for m in load_bundle(path).net.members] == [1.0]


def test_choose_deep_weight_stores_a_weight_that_drops_a_noisy_transformer_in_every_member():
    from oncofusion.models.network import EnsembleNet
    from oncofusion.training.data import CohortTensors
    from oncofusion.training.deep_weight import choose_deep_weight

    from ..conftest import tabular_arch

    torch.manual_seed(0)
    ensemble = EnsembleNet(tabular_arch(n_features=6, n_classes=2), n_members=2).eval()
    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(3))
    target = (x[:, 0] > 0).long()
    present = torch.ones(len(x), 1, dtype=torch.bool)
    data = CohortTensors([f"s{i}" for i in range(len(x))], {"x": x}, present, target)
    with torch.no_grad():
        for member in ensemble.members:
            member.fit_scaling({"x": x}, present)
            member.wide.weight.zero_()
            member.wide.weight[1, 0], member.wide.weight[0, 0] = 3.0, -3.0  # the signal, on x0
            member.head[-1].weight.normal_(0.0, 5.0)  # the transformer: loud noise
    halves = [torch.arange(0, 100).numpy(), torch.arange(100, 200).numpy()]
    choice = choose_deep_weight(ensemble, data, halves)
    assert choice.weight == 0.0 and choice.n_rows == 200
    assert [float(m.deep_weight) for m in ensemble.members] == [0.0, 0.0]
