"""Variant-centred windows, the per-variant representation and the zero-shot variant score.

A mean over every token of a window dilutes the one base that differs between a tumour window and its
normal, so the field reads the variant's own position instead: BEND takes the embedding of the token
holding the variant; GPN and the Nucleotide Transformer's variant-effect recipe mask that token and
score log p(alt) − log p(ref), averaged over both strands. Here:

- every window is centred on its variant with the same flank on both sides, so the variant's token is
  at a fixed place; with NT's 6-mers the flank is ≡ 2 (mod 6), so the variant sits at offset 2 of its
  token and the whole trinucleotide (5' base, variant, 3' base) is inside that one token;
- each window is read on both strands: the reverse complement of a window with equal flanks has the
  variant at the same token, so averaging the two views makes the representation strand-symmetric,
  as the pyrimidine-folded SBS96 classes are;
- the representation of a variant is ``[tumour, normal]`` hidden states at the variant's token and
  ``span`` tokens each side (concatenated), RC-averaged; ``tumour − normal`` follows from the two;
- the zero-shot score masks the variant's token in the normal window and compares the model's
  log-probability of the tumour's token with the normal's there (0 when alt = ref).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.windows import Germline, window_pair
from oncofusion.dna.tokenizers import NucleotideKmerTokenizer, SequenceError, nucleotide_codes
from oncofusion.errors import CohortError, ConfigError

KMER_ANCHOR = 2  # the variant's offset inside its k-mer: its 5' neighbour at 1, its 3' neighbour at 3
VIEWS = ("tumour", "tumour_rc", "normal", "normal_rc")
REPRESENTATION = "representation.npy"  # dna_embed's per-variant store (float16)
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_COMPLEMENT_CODE = np.array([1, 0, 3, 2, 4], dtype=np.int8)  # codes A T C G N → T A G C N


def span_for(dna, tokenizer) -> int:
    """``dna.embed.span``, or by default 1 with one base a token (the trinucleotide) and 0 with 6-mers
    (the centred 6-mer already holds it)."""
    if dna.embed.span is not None:
        return dna.embed.span
    return 1 if tokenizer.k == 1 else 0


def reverse_complement(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class VariantLayout:
    """How a variant sits in its window: ``flank`` bases each side of the allele, ``tokens`` in all."""

    flank: int
    tokens: int
    k: int

    @classmethod
    def of(cls, tokenizer, tokens: int) -> VariantLayout:
        if not isinstance(tokenizer, NucleotideKmerTokenizer):
            raise ConfigError(
                "dna.tokenizer: the variant-centred representation needs the char or kmer tokenizer "
                "(a BPE token's boundaries move with the sequence, so no token holds the variant at a "
                "fixed place)"
            )
        k = tokenizer.k
        if k == 1:
            flank = (tokens - 2) // 2  # <cls> + flank + variant + flank
        else:
            # 2·flank + 1 = 2k·m + 2·KMER_ANCHOR + 1 bases: 2m whole k-mers and 2·KMER_ANCHOR + 1 singles
            m = (tokens - 2 - 2 * KMER_ANCHOR) // 2
            flank = k * m + KMER_ANCHOR
        if flank < 1:
            raise ConfigError(f"dna.architecture.max_tokens: {tokens} tokens leave no flank around a variant")
        return cls(flank, tokens, k)

    @property
    def anchor(self) -> int:
        """The variant's token (``<cls>`` is token 0) in a window with no N before the variant."""
        return 1 + self.flank // self.k


def anchor_token(codes: np.ndarray, base: int, k: int) -> int:
    """Which token holds ``base`` under NT's rule (pieces split at N, k-mers from each piece's start,
    leftovers and N as single tokens); ``<cls>`` counts as token 0."""
    if k == 1:
        return 1 + base
    token, left = 1, 0
    for right in [*np.flatnonzero(codes == 4).tolist(), len(codes)]:
        whole = ((right - left) // k) * k
        if base < right:
            offset = base - left
            return token + (offset // k if offset < whole else whole // k + offset - whole)
        token += whole // k + (right - left - whole)
        if base == right:
            return token  # the base is this N
        token += 1
        left = right + 1
    raise ValueError(f"base {base} is outside a {len(codes)}-base sequence")


@dataclass
class CentredWindows:
    """Token ids of each kept variant's four views (``VIEWS``) and the variant's token in each."""

    rows: pd.DataFrame  # the windows kept, in order
    ids: torch.Tensor  # (n, 4, tokens), padded
    anchors: torch.Tensor  # (n, 4)


def _where(row) -> str:
    line = getattr(row, "source_line", None)
    at = f"{row.source_file}, line {line}: " if line is not None and hasattr(row, "source_file") else ""
    return f"{at}sample {row.sample_id}, {row.chrom}:{int(row.start) + 1} {row.ref or '-'}>{row.alt or '-'}"


def check_reference(reference, windows: pd.DataFrame, where: str) -> np.ndarray:
    """True where the window's ref allele matches the FASTA; an unknown contig is an error."""
    matches = np.ones(len(windows), dtype=bool)
    for i, row in enumerate(windows.itertuples(index=False)):
        if row.chrom not in reference.lengths:
            known = ", ".join(list(reference.lengths)[:8])
            raise CohortError(
                f"{_where(row)}: contig {row.chrom!r} is not in {where} (it has {known}, ...): "
                "another build or a naming mismatch"
            )
        start = int(row.start)
        matches[i] = reference.fetch(row.chrom, start, start + len(row.ref)) == row.ref.upper()
    return matches


def centred_windows(
    tokenizer,
    reference,
    windows: pd.DataFrame,
    germline: Germline | None,
    layout: VariantLayout,
    decisions: Decisions,
    on_mismatch: str = "drop",
    where: str = "the reference",
    span: int = 0,
) -> CentredWindows:
    """Each variant's tumour and normal window (``layout.flank`` each side), both strands, tokenised.

    A ref allele that disagrees with the FASTA is dropped and counted (the cohort's gate already bounds
    how many there may be) or, with ``on_mismatch="error"``, stops with the sample and variant named.
    A window with no A, C, G or T outside the allele stops too: there is nothing to read.
    """
    matches = check_reference(reference, windows, where)
    if not matches.all():
        if on_mismatch == "error":
            row = next(windows[~matches].itertuples(index=False))
            raise CohortError(
                f"{_where(row)}: the ref allele is not {where}'s base there "
                f"({int((~matches).sum())} of {len(windows)} variants disagree): another build?"
            )
        decisions.record(
            "variants whose ref allele disagrees with the FASTA not embedded", int((~matches).sum())
        )
        windows = windows[matches]
    rows = windows.copy().reset_index(drop=True)
    f = layout.flank
    rows["window_start"] = rows["start"].to_numpy() - f
    rows["window_end"] = rows["start"].to_numpy() + rows["ref"].str.len().to_numpy() + f
    n = len(rows)
    ids = np.full((n, 4, layout.tokens), tokenizer.pad_token_id, dtype=np.int64)
    anchors = np.zeros((n, 4), dtype=np.int64)
    cls_id = np.array([tokenizer.cls_token_id], dtype=np.int64)
    cut, ambiguous = np.zeros(n, dtype=bool), 0
    for i, row in enumerate(rows.itertuples(index=False)):
        tumour, normal = window_pair(reference, row, germline)
        try:
            tumour_codes, n_tumour = nucleotide_codes(tumour)
            normal_codes, n_normal = nucleotide_codes(normal)
        except SequenceError as error:
            raise SequenceError(f"{_where(row)}: {error}") from None
        ambiguous += n_tumour + n_normal
        if (tumour_codes[:f] == 4).all() and (tumour_codes[-f:] == 4).all():
            raise CohortError(f"{_where(row)}: its window is all N around the allele; nothing to read")
        views = (
            tumour_codes,
            _COMPLEMENT_CODE[tumour_codes[::-1]],
            normal_codes,
            _COMPLEMENT_CODE[normal_codes[::-1]],
        )
        for v, codes in enumerate(views):
            row_ids = np.concatenate([cls_id, tokenizer._sequence_ids(codes)])
            if len(row_ids) > layout.tokens:  # the 3' end is cut; the variant stays unless (below)
                row_ids = row_ids[: layout.tokens]
                cut[i] = True
            ids[i, v, : len(row_ids)] = row_ids
            anchors[i, v] = anchor_token(codes, f, layout.k)
    decisions.record("ambiguous IUPAC bases (R, Y, ...) in the windows read as N", ambiguous)
    # An N before the variant splits NT's 6-mers into single bases and can push the variant's token
    # (± span) past the context: such a variant cannot be read at its token, so it is left out.
    inside = ((anchors - span >= 1) & (anchors + span < layout.tokens)).all(axis=1)
    decisions.record(
        f"windows longer than the {layout.tokens}-token context (a long allele, or Ns splitting the "
        "k-mers), cut at the 3' end",
        int((cut & inside).sum()),
    )
    decisions.record(
        "variants whose token an N before it pushed past the context (k-mers split at the N), not embedded",
        int((~inside).sum()),
    )
    return CentredWindows(
        rows[inside].reset_index(drop=True), torch.from_numpy(ids[inside]), torch.from_numpy(anchors[inside])
    )


def span_states(hidden: torch.Tensor, anchors: torch.Tensor, span: int) -> torch.Tensor:
    """Hidden states of tokens ``anchor − span .. anchor + span``, concatenated in the view's own 5'→3'
        order: with one base a token, span 1 is the trinucleotide the SBS96 classes are defined on, as NT's
        6-mer centred at offset 2 holds it in one token. ``centred_windows`` keeps only variants whose
    tokens ± span are inside every view."""
    rows = torch.arange(len(hidden), device=hidden.device)
    parts = [hidden[rows, anchors + offset] for offset in range(-span, span + 1)]
    return torch.cat(parts, dim=-1)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


@torch.no_grad()
def represent(
    model,
    windows: CentredWindows,
    roles,
    span: int,
    batch_size: int,
    device: torch.device,
    zero_shot: bool = True,
    states: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per variant: ``[tumour, normal]`` at the variant's token (RC-averaged, float32 on the CPU; empty
    unless ``states``), and the zero-shot score (mean over both strands of log p(tumour token) −
    log p(normal token) with the variant's token masked in the normal window; NaN unless
    ``zero_shot``)."""
    from oncofusion.dna.model import base_of
    from oncofusion.dna.module import encode

    base = base_of(model)
    out, scores = [], []
    for part in _batches(len(windows.ids), batch_size):
        ids = windows.ids[part].to(device)  # (b, 4, T)
        anchors = windows.anchors[part].to(device)
        b, views, width = ids.shape
        flat, flat_anchor = ids.reshape(b * views, width), anchors.reshape(-1)
        if states:
            hidden = encode(model, flat, (flat != roles.pad_id).long()).float()
            pooled = span_states(hidden, flat_anchor, span).reshape(b, views, -1)
            tumour, normal = (pooled[:, 0] + pooled[:, 1]) / 2, (pooled[:, 2] + pooled[:, 3]) / 2
            out.append(torch.cat([tumour, normal], 1).cpu())
        if zero_shot:
            scores.append(zero_shot_scores(base, ids, anchors, roles, encode).cpu())
    found = torch.cat(out) if out else torch.zeros(0, 0)
    score = torch.cat(scores) if scores else torch.full((len(windows.ids),), float("nan"))
    return found, score


def zero_shot_scores(base, ids: torch.Tensor, anchors: torch.Tensor, roles, encode) -> torch.Tensor:
    """log p(tumour token) − log p(normal token) at the masked variant token of the normal window,
    averaged over the forward and reverse-complement views."""
    rows = torch.arange(len(ids), device=ids.device)
    total = torch.zeros(len(ids), device=ids.device)
    for tumour_view, normal_view in ((0, 2), (1, 3)):
        normal = ids[:, normal_view].clone()
        at = anchors[:, normal_view]
        ref_token = normal[rows, at].clone()
        alt_token = ids[rows, tumour_view, anchors[:, tumour_view]]
        normal[rows, at] = roles.mask_id
        hidden = encode(base, normal, (normal != roles.pad_id).long())
        with torch.autocast(ids.device.type, enabled=False):  # the score in float32, whatever the run's
            log_p = F.log_softmax(base.lm_head(hidden[rows, at].float()), dim=-1)
        total += log_p[rows, alt_token] - log_p[rows, ref_token]
    return total / 2


def sample_means(owners: np.ndarray, representation: np.ndarray) -> pd.DataFrame:
    """Each sample's mean over its variants of ``[tumour, tumour − normal]``."""
    width = representation.shape[1] // 2
    tumour = representation[:, :width].astype(np.float32)
    difference = tumour - representation[:, width:].astype(np.float32)
    frame = pd.DataFrame(
        np.hstack([tumour, difference]),
        columns=[f"mean_t{i}" for i in range(width)] + [f"mean_d{i}" for i in range(width)],
    )
    frame["sample_id"] = owners
    return frame.groupby("sample_id", sort=True).mean().astype(np.float32)
