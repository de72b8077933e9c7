"""The masking rule's proportions and the InfoNCE value against a hand computation."""

from __future__ import annotations

import math

import torch

from oncofusion.dna.objectives import IGNORE, info_nce, mask_tokens, mean_pool

SPECIAL = torch.tensor([0, 1, 2, 3])  # unk pad mask cls, as in NT v1
SEQUENCE_IDS = torch.arange(4, 4105)


def test_masking_proportions_and_never_specials():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 4105, (400, 250), generator=generator)
    ids[:, 0] = 3  # <cls>
    ids[:, 200:] = 1  # padding
    maskable = ~torch.isin(ids, SPECIAL)
    inputs, labels = mask_tokens(ids, maskable, 2, SEQUENCE_IDS, 0.15, generator)
    picked = labels != IGNORE
    assert not picked[~maskable].any()  # <cls> and padding are never picked
    assert torch.equal(inputs[~maskable], ids[~maskable])  # ... nor changed
    share = picked.sum() / maskable.sum()
    assert abs(float(share) - 0.15) < 0.005
    masked = (inputs == 2) & picked
    kept = (inputs == ids) & picked
    randomised = picked & ~masked & ~kept
    n = picked.sum().float()
    assert abs(float(masked.sum() / n) - 0.8) < 0.01
    assert abs(float(kept.sum() / n) - 0.1) < 0.01  # (a random draw can equal the original: ~0.002%)
    assert abs(float(randomised.sum() / n) - 0.1) < 0.01
    assert not torch.isin(inputs[randomised], SPECIAL).any()  # random replacements are sequence tokens
    assert torch.equal(labels[picked], ids[picked])


def test_info_nce_against_a_hand_computed_value():
    tumour = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    normal = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    # cosines: row 0 → (1, 1/√2), row 1 → (0, 1/√2); temperature 0.5 doubles them
    c = 1 / math.sqrt(2)
    logits = [[2.0, 2 * c], [0.0, 2 * c]]

    def ce(row, target):
        return -row[target] + math.log(sum(math.exp(v) for v in row))

    forward = (ce(logits[0], 0) + ce(logits[1], 1)) / 2
    columns = [[logits[0][0], logits[1][0]], [logits[0][1], logits[1][1]]]
    backward = (ce(columns[0], 0) + ce(columns[1], 1)) / 2
    expected = (forward + backward) / 2
    assert abs(float(info_nce(tumour, normal, 0.5)) - expected) < 1e-6
    # a perfect, well-separated pairing costs less than a swapped one
    assert info_nce(tumour, tumour, 0.1) < info_nce(tumour, tumour.flip(0), 0.1)


def test_mean_pool_ignores_dropped_positions():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    keep = torch.tensor([[True, True, False]])
    assert float(mean_pool(hidden, keep)) == 2.0
