"""The ESM masked-LM the DNA branch fine-tunes: built from a preset, or loaded from a local NT v1
checkpoint; optionally wrapped in LoRA; saved and loaded back in ``save_pretrained`` format.

NT v1 checkpoints are plain ``EsmForMaskedLM`` models (absolute positions, ``token_dropout``, untied
LM head), so ``from_pretrained(local_dir)`` loads them with no remote code. NT v2 adds rotary positions
and a bias-free SwiGLU feed-forward that ``transformers``' ESM does not have; it is not supported.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import EsmConfig, EsmForMaskedLM

from oncofusion.config.dna import DnaArchitecture, DnaParams, LoraParams
from oncofusion.dna.tokenizers import TOKENIZER_DIR, load_tokenizer
from oncofusion.errors import ConfigError

# hidden, layers, heads, intermediate, context tokens (<cls> included)
PRESETS: dict[str, dict[str, int]] = {
    # ~0.1M parameters, one base a token, 24 tokens (a variant and 11 bp each side): small enough to
    # embed every variant of the default cohort on 2 cores in a few minutes.
    "cpu-small": {
        "hidden_size": 64,
        "num_layers": 2,
        "num_heads": 4,
        "intermediate_size": 256,
        "max_tokens": 24,
    },
    # NT-v1-shaped at ~50M parameters and NT v1's full context (1,000 tokens = <cls> + 999 6-mers).
    "gpu-50m": {
        "hidden_size": 512,
        "num_layers": 14,
        "num_heads": 16,
        "intermediate_size": 2048,
        "max_tokens": 1000,
    },
}
SAVED_INFO = "oncofusion_dna.json"


def resolved_architecture(arch: DnaArchitecture) -> dict[str, int]:
    chosen = dict(PRESETS[arch.preset])
    for key in chosen:
        value = getattr(arch, key)
        if value is not None:
            chosen[key] = value
    if chosen["hidden_size"] % chosen["num_heads"]:
        raise ConfigError(
            f"dna.architecture: hidden_size {chosen['hidden_size']} is not a multiple of "
            f"num_heads {chosen['num_heads']}"
        )
    return chosen


def context_tokens(config: EsmConfig) -> int:
    """Tokens the model takes: ESM positions start after the padding index (NT v1: 1,002 − 2 = 1,000)."""
    if getattr(config, "position_embedding_type", "absolute") == "absolute":
        return int(config.max_position_embeddings) - int(config.pad_token_id) - 1
    return int(config.max_position_embeddings)


def esm_config(arch: dict[str, int], tokenizer) -> EsmConfig:
    """An NT-v1-layout config (absolute positions, token dropout, untied head) for ``tokenizer``."""
    return EsmConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        mask_token_id=tokenizer.mask_token_id,
        hidden_size=arch["hidden_size"],
        num_hidden_layers=arch["num_layers"],
        num_attention_heads=arch["num_heads"],
        intermediate_size=arch["intermediate_size"],
        max_position_embeddings=arch["max_tokens"] + tokenizer.pad_token_id + 1,
        position_embedding_type="absolute",
        token_dropout=True,
        emb_layer_norm_before=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        tie_word_embeddings=False,
        is_folding_model=False,
        use_cache=False,
    )


def load_checkpoint(directory: Path, tokenizer, where: str = "dna.checkpoint") -> EsmForMaskedLM:
    """A local ESM checkpoint, checked against the tokenizer before any weight is read."""
    config_path = directory / "config.json"
    if not directory.is_dir():
        raise ConfigError(
            f"{where}: {directory} is not a directory (a local checkpoint; nothing is downloaded)"
        )
    try:
        raw = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{where}: {config_path} is missing") from None
    except ValueError as error:
        raise ConfigError(f"{config_path}: not valid JSON ({error})") from None
    if raw.get("model_type") != "esm":
        raise ConfigError(
            f"{config_path}: model_type {raw.get('model_type')!r}, not an ESM (NT v1) checkpoint"
        )
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(
            f"{config_path}: position_embedding_type {raw.get('position_embedding_type')!r}: NT v2 "
            "(rotary, SwiGLU) checkpoints are not supported; use an NT v1 checkpoint"
        )
    check_tokenizer(raw, tokenizer, config_path)
    return EsmForMaskedLM.from_pretrained(str(directory), local_files_only=True, attn_implementation="sdpa")


def check_tokenizer(config: dict[str, Any], tokenizer, config_path: Path) -> None:
    """A model and a tokenizer that disagree on the vocabulary would run and give nonsense: stop."""
    if config.get("vocab_size") != len(tokenizer):
        raise ConfigError(
            f"{config_path}: vocab_size {config.get('vocab_size')} but the tokenizer (k={tokenizer.k}, "
            f"layout {tokenizer.layout}) has {len(tokenizer)} tokens: a model directory from another "
            "tokenizer"
        )
    for key, token_id in (
        ("pad_token_id", tokenizer.pad_token_id),
        ("mask_token_id", tokenizer.mask_token_id),
    ):
        if config.get(key) != token_id:
            raise ConfigError(f"{config_path}: {key} {config.get(key)} but the tokenizer's is {token_id}")


def build_model(params: DnaParams, tokenizer, root: Path, seed: int) -> EsmForMaskedLM:
    if params.checkpoint is not None:
        model = load_checkpoint(root / params.checkpoint, tokenizer)
    else:
        torch.manual_seed(seed)
        config = esm_config(resolved_architecture(params.architecture), tokenizer)
        model = EsmForMaskedLM._from_config(config, attn_implementation="sdpa")
    # ESM's protein contact head takes no part in a DNA loss; frozen, DDP sees no unused parameters.
    model.esm.contact_head.requires_grad_(False)
    if params.finetune.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model


def with_lora(model: EsmForMaskedLM, lora: LoraParams):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules)
    )
    return get_peft_model(model, config)


def base_of(model) -> EsmForMaskedLM:
    """The ``EsmForMaskedLM`` inside a LoRA wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@dataclass
class SavedModel:
    model: EsmForMaskedLM
    info: dict[str, Any]


def save_model(model, directory: Path, save: str, info: dict[str, Any]) -> None:
    """``merged``: a plain ESM checkpoint (LoRA folded in). ``adapter``: the LoRA adapter in
    ``adapter/`` and the frozen base it applies to in ``base/``, so the pair loads with no other file."""
    directory.mkdir(parents=True, exist_ok=True)
    if save == "adapter":
        model.save_pretrained(str(directory / "adapter"))
        # The base without the LoRA layers (a copy: unload() takes them out in place)
        copy.deepcopy(model).unload().save_pretrained(str(directory / "base"))
    else:
        merged = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
        merged.save_pretrained(str(directory))
    (directory / SAVED_INFO).write_text(json.dumps({**info, "save": save}, indent=2) + "\n")


def load_saved(directory: Path) -> SavedModel:
    info_path = directory / SAVED_INFO
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"{info_path}: no usable fine-tuned DNA model ({error}); run dna_finetune"
        ) from None
    if info.get("save") == "adapter":
        from peft import PeftModel

        base = EsmForMaskedLM.from_pretrained(
            str(directory / "base"), local_files_only=True, attn_implementation="sdpa"
        )
        model = PeftModel.from_pretrained(base, str(directory / "adapter"), is_trainable=False)
        model = model.merge_and_unload()
    else:
        model = EsmForMaskedLM.from_pretrained(
            str(directory), local_files_only=True, attn_implementation="sdpa"
        )
    model.eval()
    return SavedModel(model, info)


def load_model_dir(model_dir: Path, accelerator: str, move: bool = True):
    """The fine-tuned model and its tokenizer, checked against each other, and the device to use
    (the model moved there unless ``move`` is False: Lightning places it itself)."""
    saved = load_saved(model_dir)
    tokenizer = load_tokenizer(model_dir / TOKENIZER_DIR)
    config_path = model_dir / ("base" if saved.info.get("save") == "adapter" else "") / "config.json"
    check_tokenizer(saved.model.config.to_dict(), tokenizer, config_path)
    device = torch.device("cuda" if torch.cuda.is_available() and accelerator != "cpu" else "cpu")
    model = saved.model
    if move:
        model = model.to(device)
        if device.type == "cuda":
            model = model.to(torch.bfloat16)
    return model, tokenizer, device
