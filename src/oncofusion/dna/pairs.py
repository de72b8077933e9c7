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
from oncofusion.dna.tokenizers import NucleotideKmerTokenizer, SequenceError, encode, max_bases_per_token
from oncofusion.errors import ConfigError


@dataclass(frozen=True)
class Context:
    tokens: int  # the model's context, <cls> included
    bases: int  # the longest window that can fit: (tokens − 1) × bases per token
    # k of a k-mer (or character) tokenizer, whose token count follows from the length alone;
    # None for BPE, where only tokenising tells.
    k: int | None = None

    @classmethod
    def of(cls, tokenizer, tokens: int) -> Context:
        k = tokenizer.k if isinstance(tokenizer, NucleotideKmerTokenizer) else None
        return cls(tokens, (tokens - 1) * max_bases_per_token(tokenizer), k)

    def tokens_for(self, length: np.ndarray) -> np.ndarray:
        """Tokens (``<cls>`` included) an N-free window of ``length`` bases needs: whole k-mers plus
        one token per leftover base. An upper bound of 1 + length for BPE."""
        if self.k is None:
            return 1 + length
        return 1 + length // self.k + length % self.k

    @property
    def tile_bases(self) -> int:
        """Tile length that always fits: whole k-mers, or one base a token for BPE."""
        return self.bases if self.k is not None else self.tokens - 1


def _fits(context: Context, tumour: np.ndarray, normal: np.ndarray) -> np.ndarray:
    if context.k is None:
        return np.maximum(tumour, normal) <= context.bases
    return (context.tokens_for(tumour) <= context.tokens) & (context.tokens_for(normal) <= context.tokens)


def fit_windows(windows: pd.DataFrame, context: Context, policy: str, decisions: Decisions) -> pd.DataFrame:
    """The windows re-centred to fit ``context`` (``crop`` and, for training, ``tile``).

    One cut serves both windows of a pair, so they stay aligned token for token. With a k-mer
    tokenizer the cut is the widest whose tumour and normal lengths both tokenise within the context
    (a length just short of a multiple of k costs up to k − 1 extra single-base tokens, so an indel
    pair can need a few bases less than the context); BPE windows are cut to the base budget and, if
    still too long, cropped after tokenising.
    """
    ref_len = windows["ref"].str.len().to_numpy()
    alt_len = windows["alt"].str.len().to_numpy()
    allele = np.maximum(ref_len, alt_len)
    flank = (windows["start"].to_numpy() - windows["window_start"].to_numpy()).astype(np.int64)
    too_long = ~_fits(context, 2 * flank + alt_len, 2 * flank + ref_len)
    if not too_long.any():
        return windows
    longest = 2 * flank + allele
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
    ref_len, alt_len = ref_len[fits], alt_len[fits]
    room = context.bases - allele[fits]
    left = np.minimum(flank[fits], room // 2)
    right = np.minimum(flank[fits], room - left)
    for _ in range(4 * (context.k or 1)):  # shrink the cut base by base until both windows fit
        over = ~_fits(context, left + right + alt_len, left + right + ref_len)
        if not over.any():
            break
        take_right = over & (right >= left) & (right > 0)
        take_left = over & ~take_right & (left > 0)
        right, left = right - take_right, left - take_left  # an allele too long to ever fit stays over
    ends = out["start"].to_numpy() + ref_len
    out["window_start"] = out["start"].to_numpy() - left
    out["window_end"] = ends + right
    out["tumour_length"] = left + right + alt_len
    out["normal_length"] = left + right + ref_len
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
    tokenizer,
    sequences: list[str],
    centres: np.ndarray,
    context: Context,
    decisions: Decisions,
    what: str,
    windows: pd.DataFrame | None = None,
) -> list[np.ndarray]:
    try:
        ids, ambiguous = encode(tokenizer, sequences, where=what)
    except SequenceError as error:
        if windows is None or error.index is None:
            raise
        row = windows.iloc[error.index]
        where = f"sample {row['sample_id']}, {row['chrom']}:{int(row['start']) + 1} {row['ref']}>{row['alt']}"
        raise SequenceError(f"{error} ({where})") from None
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
    t_ids = tokenize(tokenizer, tumour, centres, context, decisions, "tumour windows", fitted)
    n_ids = tokenize(tokenizer, normal, centres, context, decisions, "normal windows", fitted)
    return PairTensors(fitted, pad(t_ids, tokenizer.pad_token_id), pad(n_ids, tokenizer.pad_token_id))


def tiles(sequence: str, size: int) -> list[str]:
    """``size``-bp tiles covering a window, all full length: the last one starts ``size`` before the
    end and overlaps its neighbour, so a 6,001-bp window in a 5,994-bp context is two near-equal views
    rather than one tile and a 7-bp scrap weighing as much in the mean."""
    if len(sequence) <= size:
        return [sequence]
    starts = [*range(0, len(sequence) - size, size), len(sequence) - size]
    return [sequence[i : i + size] for i in starts]
