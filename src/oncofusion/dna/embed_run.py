"""Representing every variant of a cohort, on one process or data-parallel across several.

A PCAWG-sized cohort (tens of millions of variants) outgrows one device, so the embedding runs as
Lightning's distributed predict, launched like fine-tuning (``dna.embed.devices``: GPUs, or CPU
processes with gloo): each rank reads, tokenises and embeds its share of the variants, writes one
shard (``BasePredictionWriter``), and rank 0 merges the shards back into the table's order. On a
2-core machine, two one-thread processes also beat one two-thread process (the model is small enough
that one thread cannot keep a core's vector units busy on its own).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader

from oncofusion.data.decisions import Decisions
from oncofusion.dna.representations import centred_windows, represent
from oncofusion.errors import CohortError

SHARD = "rank{rank}.npz"
WAIT_SECONDS = 1800  # how long rank 0 waits for the other ranks' shards


@dataclass
class EmbedJob:
    """What each rank needs to represent its share of ``rows``."""

    tokenizer: Any
    reference: Any
    germline: Any
    layout: Any
    roles: Any
    span: int
    zero_shot: bool


class VariantPredictor(L.LightningModule):
    """``predict_step`` on a batch of row numbers: their centred windows, representation and score."""

    def __init__(self, model, rows: pd.DataFrame, job: EmbedJob):
        super().__init__()
        self.model = model
        self.rows = rows
        self.job = job
        self.decisions: Counter[str] = Counter()

    def predict_step(self, batch: torch.Tensor, batch_idx: int) -> dict[str, np.ndarray]:
        job = self.job
        scratch = Decisions(quiet=True)
        picked = self.rows.iloc[batch.cpu().numpy()]
        windows = centred_windows(
            job.tokenizer, job.reference, picked, job.germline, job.layout, scratch, span=job.span
        )
        for item in scratch.items:
            self.decisions[item["decision"]] += item["count"]
        representation, score = represent(
            self.model, windows, job.roles, job.span, len(batch), self.device, zero_shot=job.zero_shot
        )
        return {
            "row": windows.rows["row"].to_numpy(),
            "representation": representation.numpy().astype(np.float16),
            "score": score.numpy().astype(np.float32),
        }


class ShardWriter(BasePredictionWriter):
    """Each rank's predictions as one ``.npz`` shard, renamed into place when whole."""

    def __init__(self, directory: Path):
        super().__init__(write_interval="epoch")
        self.directory = directory

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        parts = [p for p in predictions if len(p["row"])]
        width = parts[0]["representation"].shape[1] if parts else 0
        rows = np.concatenate([p["row"] for p in parts]) if parts else np.zeros(0, np.int64)
        arrays = {
            "row": rows,
            "representation": np.concatenate([p["representation"] for p in parts])
            if parts
            else np.zeros((0, width), np.float16),
            "score": np.concatenate([p["score"] for p in parts]) if parts else np.zeros(0, np.float32),
            "decisions": np.array(list(pl_module.decisions.items()), dtype=object),
        }
        target = self.directory / SHARD.format(rank=trainer.global_rank)
        partial = target.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, target)


def predict_settings(accelerator: str, devices: int, num_nodes: int = 1) -> dict[str, Any]:
    gpu = accelerator != "cpu" and torch.cuda.is_available()
    return {
        "accelerator": "gpu" if gpu else "cpu",
        "devices": devices,
        "num_nodes": num_nodes,
        "strategy": "ddp" if devices * num_nodes > 1 else "auto",
        "precision": "bf16-mixed" if gpu else "32",
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }


def run_embedding(
    model,
    rows: pd.DataFrame,
    job: EmbedJob,
    batch_size: int,
    accelerator: str,
    devices: int,
    shards: Path,
    num_nodes: int = 1,
) -> tuple[dict[str, np.ndarray] | None, Counter[str], float]:
    """Represent every row; rank 0 gets the merged arrays (rows in the table's order), the decision
    counts summed over ranks and the seconds it took; other ranks get None. Across nodes the shard
    directory must be on storage every node sees (as the DVC workspace is)."""
    settings = predict_settings(accelerator, devices, num_nodes)
    if settings["accelerator"] == "cpu" and devices > 1:
        # each process a fair share of the cores, not each of them all of the cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // devices))
    shards.mkdir(parents=True, exist_ok=True)
    numbered = rows.assign(row=np.arange(len(rows)))
    predictor = VariantPredictor(model, numbered, job)
    loader = DataLoader(torch.arange(len(rows)), batch_size=batch_size, shuffle=False)
    trainer = L.Trainer(callbacks=[ShardWriter(shards)], **settings)
    started, wall = time.perf_counter(), time.time()
    trainer.predict(predictor, loader, return_predictions=False)
    if not trainer.is_global_zero:
        return None, Counter(), 0.0
    merged, decisions = merge_shards(shards, trainer.world_size, newer_than=wall - 60)
    return merged, decisions, time.perf_counter() - started


def merge_shards(
    shards: Path, world_size: int, newer_than: float = 0.0
) -> tuple[dict[str, np.ndarray], Counter[str]]:
    """Every rank's shard of this run (written after ``newer_than``: a launcher that set LOCAL_RANK
    for every process could leave an earlier run's shards in place), once each has been renamed into
    place; rows a sampler padded onto two ranks are kept once, and the result is in row order."""
    paths = [shards / SHARD.format(rank=r) for r in range(world_size)]
    deadline = time.monotonic() + WAIT_SECONDS

    def ready(path: Path) -> bool:
        return path.exists() and path.stat().st_mtime >= newer_than

    while not all(ready(p) for p in paths):
        if time.monotonic() > deadline:
            missing = [p.name for p in paths if not ready(p)]
            raise TimeoutError(f"{shards}: the shards {missing} never arrived (a rank failed?)")
        time.sleep(0.5)
    everything = [np.load(p, allow_pickle=True) for p in paths]
    loaded = [s for s in everything if len(s["row"])]  # a rank whose every variant was left out
    if not loaded:
        raise CohortError(f"{shards}: no variant could be embedded (see the decisions counted)")
    rows = np.concatenate([s["row"] for s in loaded])
    order = np.unique(rows, return_index=True)[1]
    decisions: Counter[str] = Counter()
    for shard in everything:
        for what, count in shard["decisions"]:
            decisions[str(what)] += int(count)
    merged = {
        "row": rows[order],
        "representation": np.concatenate([s["representation"] for s in loaded])[order],
        "score": np.concatenate([s["score"] for s in loaded])[order],
    }
    return merged, decisions
