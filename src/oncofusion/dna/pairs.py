"""Tumour/normal window pairs as token ids that fit the model's context, with every cut counted.

A cohort stores windows as coordinates (flank 3,000: 6,001 bp for an SNV); the model takes a fixed
number of tokens (NT v1: 1,000 = 5,994 bp; the CPU preset: 64 = 378 bp). The rule, per
``dna.long_windows``:

- ``crop``: each window is re-centred on its variant with the widest flank that fits; the tumour and
  normal windows share the cut, so they stay aligned. A window whose allele alone is longer than the
  context is dropped. If tokenisation still overruns (an N splits a 6-mer run; BPE), the ids are
  cropped around the variant's token. Each count becomes a decision in the stage's report.
- ``tile``: embeddings average consecutive context-sized tiles of the whole window; fine-tuning
  trains on the tile holding the variant (the only one whose tumour and normal differ).
- ``error``: a window longer than the context stops the stage, naming the params.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.windows import Germline, window_pair
from oncofusion.dna.tokenizers import encode, max_bases_per_token
from oncofusion.errors import ConfigError


@dataclass(frozen=True)
class Context:
    tokens: int  # the model's context, <cls> included
    bases: int  # bases that always fit: (tokens − 1) × bases per token

    @classmethod
    def of(cls, tokenizer, tokens: int) -> Context:
        return cls(tokens, (tokens - 1) * max_bases_per_token(tokenizer))


def fit_windows(windows: pd.DataFrame, context: Context, policy: str, decisions: Decisions) -> pd.DataFrame:
    """The windows re-centred to fit ``context`` (``crop`` and, for training, ``tile``)."""
    allele = np.maximum(windows["ref"].str.len().to_numpy(), windows["alt"].str.len().to_numpy())
    flank = (windows["start"].to_numpy() - windows["window_start"].to_numpy()).astype(np.int64)
    longest = 2 * flank + allele
    too_long = longest > context.bases
    if not too_long.any():
        return windows
    if policy == "error":
        raise ConfigError(
            f"dna.long_windows: error, and {int(too_long.sum())} windows are longer than the model's "
            f"context ({int(longest.max())} bp > {context.bases} bp = {context.tokens} tokens); set "
            "dna.long_windows to crop or tile, cohort.variants.window.flank lower, or "
            "dna.architecture.max_tokens higher"
        )
    fits = allele <= context.bases
    decisions.record(
        f"windows whose allele alone exceeds the {context.bases}-bp context dropped", int((~fits).sum())
    )
    out = windows[fits].copy()
    # The widest cut that fits, one base more on the right when the room is odd, so the tumour window
    # is exactly context.bases long: a length that is a multiple of k tokenises into whole k-mers.
    room = context.bases - allele[fits]
    left = np.minimum(flank[fits], room // 2)
    right = np.minimum(flank[fits], room - left)
    ends = out["start"].to_numpy() + out["ref"].str.len().to_numpy()
    out["window_start"] = out["start"].to_numpy() - left
    out["window_end"] = ends + right
    out["tumour_length"] = left + right + out["alt"].str.len().to_numpy()
    out["normal_length"] = left + right + out["ref"].str.len().to_numpy()
    decisions.record(
        f"windows centre-cropped from {int(longest.max())} bp to at most {context.bases} bp "
        f"(the {context.tokens}-token context; dna.long_windows: {policy})",
        int(too_long[fits].sum()),
    )
    return out.reset_index(drop=True)


def read_sequences(
    reference, windows: pd.DataFrame, germline: Germline | None
) -> tuple[list[str], list[str]]:
    tumour, normal = [], []
    for row in windows.itertuples(index=False):
        t, n = window_pair(reference, row, germline)
        tumour.append(t)
        normal.append(n)
    return tumour, normal


def crop_ids(ids: list[np.ndarray], centres: np.ndarray, context: int) -> tuple[list[np.ndarray], int]:
    """Ids longer than ``context`` cut to ``context`` around ``centres`` (a fraction of the length);
    ``<cls>`` (id 0 of each row) is kept. Returns the ids and how many were cut."""
    out, cut = [], 0
    for row, centre in zip(ids, centres, strict=True):
        if len(row) <= context:
            out.append(row)
            continue
        cut += 1
        body = row[1:]
        keep = context - 1
        middle = round(centre * len(body))
        start = int(np.clip(middle - keep // 2, 0, len(body) - keep))
        out.append(np.concatenate([row[:1], body[start : start + keep]]))
    return out, cut


def pad(ids: list[np.ndarray], pad_id: int) -> torch.Tensor:
    width = max(len(r) for r in ids)
    out = np.full((len(ids), width), pad_id, dtype=np.int64)
    for i, row in enumerate(ids):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def tokenize(
    tokenizer, sequences: list[str], centres: np.ndarray, context: Context, decisions: Decisions, what: str
) -> list[np.ndarray]:
    ids, ambiguous = encode(tokenizer, sequences, where=what)
    decisions.record(f"ambiguous IUPAC bases (R, Y, ...) in {what} read as N", ambiguous)
    ids, cut = crop_ids(ids, centres, context.tokens)
    decisions.record(f"{what} cropped to {context.tokens} tokens around the variant after tokenising", cut)
    return ids


def variant_centres(windows: pd.DataFrame) -> np.ndarray:
    """Where the variant sits in each tumour window, as a fraction of its length."""
    left = (windows["start"] - windows["window_start"]).to_numpy(dtype=np.float64)
    return (left + 0.5) / windows["tumour_length"].to_numpy(dtype=np.float64).clip(min=1)


@dataclass
class PairTensors:
    windows: pd.DataFrame  # the rows used, in order
    tumour: torch.Tensor  # (n, tokens) padded ids
    normal: torch.Tensor


def pair_tensors(
    tokenizer,
    reference,
    windows: pd.DataFrame,
    germline: Germline | None,
    context: Context,
    policy: str,
    decisions: Decisions,
) -> PairTensors:
    fitted = fit_windows(windows, context, policy, decisions)
    if fitted.empty:
        raise ConfigError("no window fits the model's context (dna.architecture.max_tokens)")
    tumour, normal = read_sequences(reference, fitted, germline)
    centres = variant_centres(fitted)
    t_ids = tokenize(tokenizer, tumour, centres, context, decisions, "tumour windows")
    n_ids = tokenize(tokenizer, normal, centres, context, decisions, "normal windows")
    return PairTensors(fitted, pad(t_ids, tokenizer.pad_token_id), pad(n_ids, tokenizer.pad_token_id))


def tiles(sequence: str, size: int) -> list[str]:
    """Consecutive ``size``-bp tiles of a window (the last one shorter)."""
    return [sequence[i : i + size] for i in range(0, max(len(sequence), 1), size)]
