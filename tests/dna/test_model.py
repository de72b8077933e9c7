"""Loading a local checkpoint in NT v1's exact config layout, the checks before it, LoRA, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import EsmConfig, EsmForMaskedLM

from oncofusion.config.dna import DnaParams
from oncofusion.dna import model as dna_model
from oncofusion.dna.tokenizers import make_kmer_tokenizer
from oncofusion.errors import ConfigError

# NT v1's config.json (500m-human-ref), made tiny in width and depth only: vocab, ids, positions and
# flags as published.
NT_V1_CONFIG = {
    "architectures": ["EsmForMaskedLM"],
    "attention_probs_dropout_prob": 0.0,
    "emb_layer_norm_before": False,
    "esmfold_config": None,
    "hidden_dropout_prob": 0.0,
    "hidden_size": 16,
    "initializer_range": 0.02,
    "intermediate_size": 32,
    "is_folding_model": False,
    "layer_norm_eps": 1e-12,
    "mask_token_id": 2,
    "max_position_embeddings": 1002,
    "model_type": "esm",
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "tie_word_embeddings": False,
    "token_dropout": True,
    "torch_dtype": "float32",
    "use_cache": False,
    "vocab_list": None,
    "vocab_size": 4105,
}


@pytest.fixture
def tokenizer(tmp_path: Path):
    return make_kmer_tokenizer(tmp_path / "tokenizer", 6, "v1")


@pytest.fixture
def nt_checkpoint(tmp_path: Path, tokenizer) -> Path:
    """A random-weight checkpoint directory as NT v1 ships it (config, weights, EsmTokenizer vocab)."""
    directory = tmp_path / "nt-v1"
    torch.manual_seed(0)
    EsmForMaskedLM(
        EsmConfig(**{k: v for k, v in NT_V1_CONFIG.items() if k != "architectures"})
    ).save_pretrained(str(directory))
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, **NT_V1_CONFIG}))
    tokenizer.save_vocabulary(str(directory))
    return directory


def test_nt_v1_layout_checkpoint_loads_from_a_local_directory(nt_checkpoint: Path, tokenizer):
    model = dna_model.load_checkpoint(nt_checkpoint, tokenizer)
    assert dna_model.context_tokens(model.config) == 1000  # 5,994 bp of 6-mers after <cls>
    assert model.config.token_dropout and model.config._attn_implementation == "sdpa"
    ids = torch.tensor([tokenizer("ATCGAA" * 999)["input_ids"]])
    assert ids.shape[1] == 1000
    assert model(input_ids=ids).logits.shape == (1, 1000, 4105)  # the longest input fits the positions
    params = DnaParams.model_validate({"checkpoint": "nt-v1"})
    built = dna_model.build_model(params, tokenizer, nt_checkpoint.parent, seed=0)
    assert torch.equal(built.lm_head.bias, model.lm_head.bias)


def test_checkpoint_errors_name_the_file_or_param(nt_checkpoint: Path, tokenizer, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"dna.checkpoint: .*missing-dir is not a directory"):
        dna_model.load_checkpoint(tmp_path / "missing-dir", tokenizer)
    v2 = make_kmer_tokenizer(tmp_path / "v2", 6, "v2")
    with pytest.raises(ConfigError, match=r"config.json: vocab_size 4105 but the tokenizer .* has 4107"):
        dna_model.load_checkpoint(nt_checkpoint, v2)
    config = json.loads((nt_checkpoint / "config.json").read_text())
    (nt_checkpoint / "config.json").write_text(json.dumps({**config, "position_embedding_type": "rotary"}))
    with pytest.raises(ConfigError, match=r"NT v2 .* not supported"):
        dna_model.load_checkpoint(nt_checkpoint, tokenizer)
    (nt_checkpoint / "config.json").unlink()
    with pytest.raises(ConfigError, match=r"config.json is missing"):
        dna_model.load_checkpoint(nt_checkpoint, tokenizer)


def test_presets_and_context(tokenizer, tmp_path: Path):
    char = make_kmer_tokenizer(tmp_path / "char", 1)
    small = dna_model.build_model(DnaParams(), char, tmp_path, seed=0)
    assert dna_model.context_tokens(small.config) == 24  # a variant and 11 bases each side
    assert 5e4 < sum(p.numel() for p in small.parameters()) < 2e5
    arch = dna_model.resolved_architecture(
        DnaParams.model_validate({"architecture": {"preset": "gpu-50m"}}).architecture
    )
    config = dna_model.esm_config(arch, tokenizer)
    with torch.device("meta"):
        big = EsmForMaskedLM(config)
    n = sum(p.numel() for p in big.parameters())
    assert 45e6 < n < 60e6 and dna_model.context_tokens(config) == 1000
    with pytest.raises(ConfigError, match=r"hidden_size 100 is not a multiple of num_heads 16"):
        dna_model.resolved_architecture(
            DnaParams.model_validate({"architecture": {"preset": "gpu-50m", "hidden_size": 100}}).architecture
        )


@pytest.mark.parametrize("save", ["merged", "adapter"])
def test_lora_save_and_load_back_what_was_saved(save: str, nt_checkpoint: Path, tokenizer, tmp_path: Path):
    params = DnaParams.model_validate({"checkpoint": "nt-v1", "lora": {"enabled": True}, "save": save})
    model = dna_model.with_lora(
        dna_model.build_model(params, tokenizer, nt_checkpoint.parent, 0), params.lora
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert any(".query." in n for n in trainable) and any(".dense." in n for n in trainable)
    with torch.no_grad():  # LoRA B starts at zero: move it so the adapter changes the output
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    model.eval()
    ids = torch.tensor([tokenizer("ACGTTGCAACGT" * 5)["input_ids"]])
    expected = model(input_ids=ids).logits
    base = dna_model.load_checkpoint(nt_checkpoint, tokenizer)
    assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-4)
    dna_model.save_model(model, tmp_path / "saved", save, {"context_tokens": 1000})
    files = {p.name for p in (tmp_path / "saved").iterdir()}
    assert ({"adapter", "base"} <= files) if save == "adapter" else ("model.safetensors" in files)
    back = dna_model.load_saved(tmp_path / "saved")
    assert back.info["save"] == save
    assert torch.allclose(back.model(input_ids=ids).logits, expected, atol=1e-4)


def test_load_saved_refuses_a_directory_without_a_model(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"no usable fine-tuned DNA model"):
        dna_model.load_saved(tmp_path)


def test_adapter_without_lora_is_a_config_error():
    with pytest.raises(ValueError, match=r"dna.save: adapter needs dna.lora.enabled"):
        DnaParams.model_validate({"save": "adapter"})


def test_gradient_checkpointing_is_switched_on_by_the_param(tokenizer, tmp_path: Path):
    params = DnaParams.model_validate({"finetune": {"gradient_checkpointing": True}})
    model = dna_model.build_model(params, tokenizer, tmp_path, seed=0)
    assert model.is_gradient_checkpointing
    assert not dna_model.build_model(DnaParams(), tokenizer, tmp_path, seed=0).is_gradient_checkpointing
