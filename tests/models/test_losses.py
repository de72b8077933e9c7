import math

import pytest
import torch
import torch.nn.functional as F

from oncofusion.models.losses import FocalLoss, attention_entropy, inverse_frequency_alpha


def test_focal_loss_matches_a_hand_computed_value():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    target = torch.tensor([0, 2])
    alpha = torch.tensor([0.5, 1.0, 2.0])
    # p_0 = e^2 / (e^2 + 1 + e^-1), p_2 (second row) = 1 / (2 + e).
    p0 = math.exp(2) / (math.exp(2) + 1 + math.exp(-1))
    p1 = 1 / (2 + math.e)
    expected = (0.5 * (1 - p0) ** 2 * -math.log(p0) + 2.0 * (1 - p1) ** 2 * -math.log(p1)) / 2
    assert FocalLoss(gamma=2.0, alpha=alpha)(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_gamma_zero_without_alpha_is_cross_entropy():
    torch.manual_seed(0)
    logits, target = torch.randn(8, 4), torch.randint(0, 4, (8,))
    assert FocalLoss(gamma=0.0)(logits, target).item() == pytest.approx(
        F.cross_entropy(logits, target).item(), rel=1e-6
    )


def test_focal_loss_down_weights_easy_examples():
    easy, hard = torch.tensor([[5.0, 0.0]]), torch.tensor([[0.2, 0.0]])
    target = torch.tensor([0])
    ratio_focal = FocalLoss(2.0)(easy, target) / FocalLoss(2.0)(hard, target)
    ratio_ce = F.cross_entropy(easy, target) / F.cross_entropy(hard, target)
    assert ratio_focal < ratio_ce / 10


def test_inverse_frequency_alpha():
    alpha = inverse_frequency_alpha([300, 100])
    assert alpha.mean().item() == pytest.approx(1.0)
    assert alpha[1].item() == pytest.approx(3 * alpha[0].item())


def test_attention_entropy_extremes():
    uniform = torch.full((2, 4), 0.25)
    one_hot = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert attention_entropy(uniform).item() == pytest.approx(math.log(4), rel=1e-6)
    assert attention_entropy(one_hot).item() == pytest.approx(0.0, abs=1e-6)
