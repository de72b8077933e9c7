"""The two training signals: BERT-style masking for the masked LM, and symmetric InfoNCE that pairs each
tumour window with its own matched-normal window against the other variants in the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100  # cross_entropy's ignore_index: positions that are not predicted


def mask_tokens(
    ids: torch.Tensor,
    maskable: torch.Tensor,
    mask_id: int,
    random_ids: torch.Tensor,
    rate: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``rate`` of the maskable tokens; of those 80% become ``<mask>``, 10% a random token drawn
    from ``random_ids`` (sequence tokens only, never a special), 10% stay. ``maskable`` is False on
    specials and padding, so they are never picked. Returns (inputs, labels with IGNORE elsewhere)."""
    draw = torch.rand(ids.shape, generator=generator, device=ids.device)
    picked = (draw < rate) & maskable
    labels = torch.where(picked, ids, torch.full_like(ids, IGNORE))
    how = torch.rand(ids.shape, generator=generator, device=ids.device)
    to_mask = picked & (how < 0.8)
    to_random = picked & (how >= 0.8) & (how < 0.9)
    inputs = ids.clone()
    inputs[to_mask] = mask_id
    choice = torch.randint(len(random_ids), ids.shape, generator=generator, device=ids.device)
    inputs[to_random] = random_ids.to(ids.device)[choice[to_random]]
    return inputs, labels


def info_nce(tumour: torch.Tensor, normal: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE on cosine similarity: row i of ``tumour`` and row i of ``normal`` are the
    positive pair, every other row of the batch a negative; the mean of both directions' losses."""
    return info_nce_normalised(
        F.normalize(tumour.float(), dim=-1), F.normalize(normal.float(), dim=-1), temperature
    )


def variant_info_nce(views: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE on what a variant changes: over (B, 4, H) states at the variant's token, ordered tumour,
    tumour_rc, normal, normal_rc, the difference tumour − normal on one strand and on the other are
    the positive pair, the other variants' differences the negatives. The encoder is asked to make the
    change a variant makes recognisable on either strand, which is what typing from mutations needs;
    pulling a tumour window towards its own normal (the seed's pairing) asked it to ignore the change."""
    forward = F.normalize((views[:, 0] - views[:, 2]).float(), dim=-1)
    reverse = F.normalize((views[:, 1] - views[:, 3]).float(), dim=-1)
    return info_nce_normalised(forward, reverse, temperature)


def info_nce_normalised(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def mean_pool(hidden: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over the sequence tokens (``keep``: not special, not padding)."""
    weights = keep.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
