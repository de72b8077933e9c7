"""The dual-task step: its LM loss equals EsmForMaskedLM's own on the same masked positions, and a few
steps of training lower both losses."""

from __future__ import annotations

import pytest
import torch
from transformers import EsmForMaskedLM

from oncofusion.config.dna import DnaArchitecture, DnaFinetuneParams
from oncofusion.dna.model import esm_config, resolved_architecture
from oncofusion.dna.module import DualTaskModule, TokenRoles, encode
from oncofusion.dna.objectives import IGNORE, mask_tokens
from oncofusion.dna.tokenizers import make_kmer_tokenizer

TINY = DnaArchitecture(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_tokens=16)


def tiny(tmp_path):
    tokenizer = make_kmer_tokenizer(tmp_path / "tok")
    torch.manual_seed(0)
    model = EsmForMaskedLM._from_config(
        esm_config(resolved_architecture(TINY), tokenizer), attn_implementation="sdpa"
    )
    return tokenizer, model


def test_masked_positions_only_head_matches_the_full_model_loss(tmp_path):
    tokenizer, model = tiny(tmp_path)
    roles = TokenRoles(tokenizer)
    ids = torch.randint(4, 4100, (6, 12))
    ids[:, 0] = tokenizer.cls_token_id
    ids[0, 9:] = tokenizer.pad_token_id
    attention = (ids != roles.pad_id).long()
    inputs, labels = mask_tokens(
        ids, roles.keep(ids), roles.mask_id, roles.sequence_ids, 0.3, torch.Generator().manual_seed(1)
    )
    model.eval()
    full = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
    hidden = encode(model, inputs, attention)
    picked = labels != IGNORE
    ours = torch.nn.functional.cross_entropy(model.lm_head(hidden[picked]), labels[picked])
    assert torch.allclose(full, ours, atol=1e-5)


def views_batch(tokenizer, n: int = 8, width: int = 15, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (n, 4, 1 + width), anchors): a small repeated vocabulary, learnable in a few steps; the
    normal views differ from the tumour ones at the anchor (the "allele")."""
    generator = torch.Generator().manual_seed(seed)
    pattern = torch.randint(4, 40, (n, width), generator=generator)
    tumour = torch.cat([torch.full((n, 1), tokenizer.cls_token_id), pattern], 1)
    normal = tumour.clone()
    normal[:, 7] = 4
    ids = torch.stack([tumour, tumour.flip(-1), normal, normal.flip(-1)], 1)
    ids[:, 1, 0] = ids[:, 3, 0] = tokenizer.cls_token_id
    ids[:, 1, -1] = ids[:, 3, -1] = pattern[:, -1]
    anchors = torch.tensor([7, 9, 7, 9]).repeat(n, 1)
    return ids, anchors


@pytest.mark.parametrize("pooling", ["variant", "mean"])
def test_a_few_steps_lower_both_losses(tmp_path, pooling):
    tokenizer, model = tiny(tmp_path)
    params = DnaFinetuneParams(
        max_steps=30, lr=3e-3, warmup_steps=0, batch_size=8, contrastive_pooling=pooling
    )
    module = DualTaskModule(model, TokenRoles(tokenizer), params, seed=0)
    torch.manual_seed(0)
    batch = views_batch(tokenizer)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = module.losses(batch)
    for _ in range(30):
        optimiser.zero_grad()
        module.losses(batch)["loss"].backward()
        optimiser.step()
    torch.manual_seed(5)
    last = module.losses(batch)
    assert last["mlm"] < first["mlm"] and last["contrastive"] < first["contrastive"]
    assert set(first) == {"loss", "mlm", "contrastive", "mlm_accuracy", "targets"}


def test_the_training_step_never_asks_for_cls_or_padding(tmp_path):
    """Through the module's own loss, not only mask_tokens: with nine tokens in ten masked, no target
    is ever <cls> or padding (a step that passed an all-true mask would ask for both)."""
    tokenizer, model = tiny(tmp_path)
    params = DnaFinetuneParams(mask_rate=0.9, contrastive_weight=0.0)
    module = DualTaskModule(model, TokenRoles(tokenizer), params, seed=0)
    ids, anchors = views_batch(tokenizer, n=16)
    ids[:4, :, 12:] = tokenizer.pad_token_id  # some padded rows
    torch.manual_seed(0)
    targets = torch.cat([module.losses((ids, anchors))["targets"] for _ in range(5)])
    assert len(targets) > 500
    assert not torch.isin(targets, torch.tensor(tokenizer.all_special_ids)).any()


@pytest.mark.gpu
def test_dual_step_in_bf16_on_the_gpu(tmp_path):
    tokenizer, model = tiny(tmp_path)
    model.cuda()
    module = DualTaskModule(model, TokenRoles(tokenizer), DnaFinetuneParams(), seed=0)
    ids, anchors = views_batch(tokenizer)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = module.losses((ids.cuda(), anchors.cuda()))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and model.lm_head.decoder.weight.grad is not None
