"""The dna_embed stage: every variant's representation and zero-shot score, and each sample's mean.

Each variant is read as four variant-centred windows (tumour and normal, both strands;
``dna/representations.py``), batch by batch so memory stays flat whatever the cohort's size, on one
process or data-parallel (``dna.embed.devices``; ``dna/embed_run.py``).

Outputs (``out_dir``): ``variants.parquet`` (which window each row is, its SBS96 class and its
zero-shot score), ``representation.npy`` (float16, one row per variant: ``[tumour, normal]`` states at
the variant's token ± span, RC-averaged), ``samples.parquet`` (each sample's mean of ``[tumour,
tumour − normal]``: ``mean_t*`` then ``mean_d*``) and ``embed.json`` (throughput and counts).
"""

from __future__ import annotations

import os
import shutil
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
from oncofusion.dna.embed_run import EmbedJob, run_embedding
from oncofusion.dna.inputs import load_variant_inputs, per_sample
from oncofusion.dna.model import context_tokens, load_model_dir
from oncofusion.dna.module import TokenRoles
from oncofusion.dna.representations import REPRESENTATION, VariantLayout, sample_means, span_for
from oncofusion.errors import ConfigError

RECORD = "embed.json"


def dna_embed(
    params: Params, cohort_dir: Path, model_dir: Path, out_dir: Path, root: Path = Path(".")
) -> dict[str, Any]:
    started = time.perf_counter()
    dna = params.dna
    decisions = Decisions()
    inputs = load_variant_inputs(params, cohort_dir, root)
    model, tokenizer, device = load_model_dir(model_dir, dna.finetune.accelerator, move=False)
    layout = VariantLayout.of(tokenizer, context_tokens(model.config))
    span = span_for(dna, tokenizer)
    roles = TokenRoles(tokenizer)
    rows = inputs.windows
    if dna.embed.max_per_sample is not None:
        rows = per_sample(rows, dna.embed.max_per_sample, params.base.seed)
        decisions.record(
            f"windows beyond dna.embed.max_per_sample ({dna.embed.max_per_sample}) per sample not embedded",
            len(inputs.windows) - len(rows),
        )
    if rows.empty:
        raise ConfigError(f"{cohort_dir}: no window to embed")

    job = EmbedJob(tokenizer, inputs.reference, inputs.germline, layout, roles, span, dna.embed.zero_shot)
    # One shard directory all ranks agree on; the launching process clears it before any rank starts
    shards = out_dir.with_name(f".{out_dir.name}.shards")
    if "LOCAL_RANK" not in os.environ:
        shutil.rmtree(shards, ignore_errors=True)
    merged, counts, embed_seconds = run_embedding(
        model,
        rows,
        job,
        dna.embed.batch_size,
        dna.finetune.accelerator,
        dna.embed.devices,
        shards,
        dna.embed.num_nodes,
    )
    if merged is None:  # a data-parallel rank other than 0: its shard is written, rank 0 merges
        return {}
    shutil.rmtree(shards, ignore_errors=True)
    for what, count in counts.items():
        decisions.record(what, count)
    kept = rows.iloc[merged["row"]].reset_index(drop=True)
    representation = merged["representation"]  # float16: the sample means are taken from these values
    table = kept[["sample_id", "variant", "chrom", "start", "ref", "alt", "type", "split"]].copy()
    table["sbs96"] = sbs96_labels(inputs.reference, kept)
    snv = (table["type"] == "SNV").to_numpy()
    table["zero_shot"] = np.where(snv, merged["score"], np.nan).astype(np.float32)
    if dna.embed.zero_shot:
        decisions.record("variants other than SNVs with no zero-shot score (NaN)", int((~snv).sum()))
    empty = sorted(set(inputs.cohort.labels["sample_id"]) - set(table["sample_id"]))
    decisions.record(
        "samples with no window to embed (no variant embedding: masked downstream)", len(empty), empty
    )
    samples = sample_means(table["sample_id"].to_numpy(), representation)
    record = {
        "n_variants": len(table),
        "n_samples": len(samples),
        "width": representation.shape[1],
        "representation": f"[tumour, normal] at the variant's token ± {span}, RC-averaged",
        "context_tokens": layout.tokens,
        "window_bases": 2 * layout.flank + 1,
        "windows_per_second": round((6 if dna.embed.zero_shot else 4) * len(table) / embed_seconds, 1),
        "variants_per_second": round(len(table) / embed_seconds, 1),
        "embed_seconds": round(embed_seconds, 2),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "devices": dna.embed.devices * dna.embed.num_nodes,
        "torch_threads_per_process": torch.get_num_threads(),
        "zero_shot": summarise_scores(table),
        "decisions": decisions.items,
    }
    with atomic.atomic_directory(out_dir) as staging:
        table.to_parquet(staging / "variants.parquet", index=False)
        np.save(staging / REPRESENTATION, representation)
        samples.to_parquet(staging / "samples.parquet", index=True)
        record["seconds"] = round(time.perf_counter() - started, 2)
        atomic.write_json(staging / RECORD, record)
    return record


def summarise_scores(table: pd.DataFrame) -> dict[str, Any]:
    """The zero-shot scores in brief: how many, their spread, the mean per SBS6 substitution."""
    scored = table[table["zero_shot"].notna()]
    if scored.empty:
        return {"n_scored": 0}
    sbs6 = scored["sbs96"].dropna().str.slice(2, 5)
    return {
        "n_scored": len(scored),
        "mean": round(float(scored["zero_shot"].mean()), 4),
        "quantiles_5_50_95": [round(float(q), 4) for q in scored["zero_shot"].quantile([0.05, 0.5, 0.95])],
        "mean_by_substitution": {
            k: round(float(v), 4) for k, v in scored.loc[sbs6.index, "zero_shot"].groupby(sbs6).mean().items()
        },
    }
