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


def test_a_few_steps_lower_both_losses(tmp_path):
    tokenizer, model = tiny(tmp_path)
    params = DnaFinetuneParams(max_steps=30, lr=3e-3, warmup_steps=0, batch_size=8)
    module = DualTaskModule(model, TokenRoles(tokenizer), params, seed=0)
    torch.manual_seed(0)
    pattern = torch.randint(4, 40, (8, 15))  # a small repeated vocabulary: learnable in a few steps
    tumour = torch.cat([torch.full((8, 1), tokenizer.cls_token_id), pattern], 1)
    normal = tumour.clone()
    normal[:, 7] = 4  # the "allele"
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = module.losses((tumour, normal))
    for _ in range(30):
        optimiser.zero_grad()
        module.losses((tumour, normal))["loss"].backward()
        optimiser.step()
    torch.manual_seed(5)
    last = module.losses((tumour, normal))
    assert last["mlm"] < first["mlm"] and last["contrastive"] < first["contrastive"]
    assert set(first) == {"loss", "mlm", "contrastive", "mlm_accuracy"}


@pytest.mark.gpu
def test_dual_step_in_bf16_on_the_gpu(tmp_path):
    tokenizer, model = tiny(tmp_path)
    model.cuda()
    module = DualTaskModule(model, TokenRoles(tokenizer), DnaFinetuneParams(), seed=0)
    tumour = torch.randint(4, 4100, (8, 16), device="cuda")
    tumour[:, 0] = tokenizer.cls_token_id
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = module.losses((tumour, tumour.clone()))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and model.lm_head.decoder.weight.grad is not None
