"""The dna_embed stage: an embedding for each variant (its tumour window, and tumour − normal), batched,
then each sample's mean over its variants. Attention-MIL pooling is learned from labels, so it lives in
dna_classify and is fitted on the training split only.

Outputs (``out_dir``): ``variants.parquet`` (which window each row is), ``tumour.npy`` and ``difference.npy``
(float32, one row per variant), ``samples.parquet`` (mean pooling: ``mean_t*`` then ``mean_d*``) and
``embed.json`` (throughput, the context rule's counts).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from oncofusion import atomic
from oncofusion.config import Params
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.substitutions import sbs96_labels
from oncofusion.dna.inputs import load_variant_inputs, per_sample
from oncofusion.dna.model import context_tokens, load_saved
from oncofusion.dna.module import TokenRoles, embed_ids
from oncofusion.dna.pairs import Context, fit_windows, pad, read_sequences, tiles, tokenize, variant_centres
from oncofusion.dna.tokenizers import TOKENIZER_DIR, load_tokenizer
from oncofusion.errors import ConfigError

RECORD = "embed.json"


def _embed_sequences(model, tokenizer, sequences, centres, context, roles, batch, device, decisions, what):
    ids = tokenize(tokenizer, sequences, centres, context, decisions, what)
    return embed_ids(model, pad(ids, tokenizer.pad_token_id), roles, batch, device)


def _tiled(model, tokenizer, sequences, context, roles, batch, device, decisions, what) -> torch.Tensor:
    """The mean of each window's tile embeddings (tiles of ``context.bases``)."""
    pieces, owner = [], []
    for i, sequence in enumerate(sequences):
        for tile in tiles(sequence, context.tile_bases):
            pieces.append(tile)
            owner.append(i)
    embedded = _embed_sequences(
        model, tokenizer, pieces, np.full(len(pieces), 0.5), context, roles, batch, device, decisions, what
    )
    owner_t = torch.tensor(owner)
    sums = torch.zeros(len(sequences), embedded.shape[1]).index_add_(0, owner_t, embedded)
    counts = torch.bincount(owner_t, minlength=len(sequences)).clamp(min=1).unsqueeze(1)
    return sums / counts


def dna_embed(
    params: Params, cohort_dir: Path, model_dir: Path, out_dir: Path, root: Path = Path(".")
) -> dict[str, Any]:
    started = time.perf_counter()
    dna = params.dna
    decisions = Decisions()
    inputs = load_variant_inputs(params, cohort_dir, root)
    saved = load_saved(model_dir)
    tokenizer = load_tokenizer(model_dir / TOKENIZER_DIR)
    device = torch.device(
        "cuda" if torch.cuda.is_available() and dna.finetune.accelerator != "cpu" else "cpu"
    )
    model = saved.model.to(device)
    if device.type == "cuda":
        model = model.to(torch.bfloat16)
    context = Context.of(tokenizer, context_tokens(model.config))
    roles = TokenRoles(tokenizer)
    rows = per_sample(inputs.windows, dna.embed.max_per_sample, params.base.seed)
    decisions.record(
        f"windows beyond dna.embed.max_per_sample ({dna.embed.max_per_sample}) per sample not embedded",
        len(inputs.windows) - len(rows),
    )
    empty = sorted(set(inputs.cohort.labels["sample_id"]) - set(rows["sample_id"]))
    decisions.record(
        "samples with no window to embed (no variant embedding: masked downstream)", len(empty), empty
    )
    if rows.empty:
        raise ConfigError(f"{cohort_dir}: no window to embed")

    embed_started = time.perf_counter()
    batch = dna.embed.batch_size
    if dna.long_windows == "tile":
        tumour_seq, normal_seq = read_sequences(inputs.reference, rows, inputs.germline)
        tumour = _tiled(
            model, tokenizer, tumour_seq, context, roles, batch, device, decisions, "tumour tiles"
        )
        normal = _tiled(
            model, tokenizer, normal_seq, context, roles, batch, device, decisions, "normal tiles"
        )
    else:
        rows = fit_windows(rows, context, dna.long_windows, decisions)
        tumour_seq, normal_seq = read_sequences(inputs.reference, rows, inputs.germline)
        centres = variant_centres(rows)
        tumour = _embed_sequences(
            model, tokenizer, tumour_seq, centres, context, roles, batch, device, decisions, "tumour windows"
        )
        normal = _embed_sequences(
            model, tokenizer, normal_seq, centres, context, roles, batch, device, decisions, "normal windows"
        )
    embed_seconds = time.perf_counter() - embed_started
    difference = tumour - normal

    table = rows[["sample_id", "variant", "chrom", "start", "ref", "alt", "type", "split"]].copy()
    table["sbs96"] = sbs96_labels(inputs.reference, rows)
    width = tumour.shape[1]
    frame = pd.DataFrame(
        torch.cat([tumour, difference], 1).numpy(),
        columns=[f"mean_t{i}" for i in range(width)] + [f"mean_d{i}" for i in range(width)],
    )
    frame["sample_id"] = table["sample_id"].to_numpy()
    samples = frame.groupby("sample_id", sort=True).mean().astype(np.float32)
    record = {
        "n_variants": len(table),
        "n_samples": len(samples),
        "width": width,
        "context_tokens": context.tokens,
        "long_windows": dna.long_windows,
        "windows_per_second": round(2 * len(table) / embed_seconds, 1),  # tumour + normal windows
        "embed_seconds": round(embed_seconds, 2),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "decisions": decisions.items,
    }
    with atomic.atomic_directory(out_dir) as staging:
        table.to_parquet(staging / "variants.parquet", index=False)
        np.save(staging / "tumour.npy", tumour.numpy().astype(np.float32))
        np.save(staging / "difference.npy", difference.numpy().astype(np.float32))
        samples.to_parquet(staging / "samples.parquet", index=True)
        record["seconds"] = round(time.perf_counter() - started, 2)
        atomic.write_json(staging / RECORD, record)
    return record
