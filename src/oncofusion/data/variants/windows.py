"""Tumour and matched-normal windows around each variant, defined by coordinates, read on demand.

The tumour window is ``flank`` bases upstream + the alt allele + ``flank`` bases downstream; the normal
window is the same locus with the reference allele (so an insertion makes the tumour window longer, a
deletion the normal one). Germline SNVs of the donor apply to both windows, so the pair differs by the
somatic allele alone. Bases past a contig end are N and the window is flagged.

Windows are stored as coordinates (a few bytes each, in ``windows.parquet``) and extracted when read:
6 kb windows of 600,000 variants would be 7 GB as text (see benchmarks/variants_speed.py for the two
compared).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.table import end as variant_end

WINDOW_COLUMNS = [
    "variant",  # row of variants.parquet
    "sample_id",
    "chrom",
    "start",
    "ref",
    "alt",
    "type",
    "window_start",  # reference coordinate of the first window base (may be < 0: N-padded)
    "window_end",  # exclusive, on the reference (may pass the contig end: N-padded)
    "tumour_length",
    "normal_length",
    "at_contig_edge",
]


def window_table(
    variants: pd.DataFrame,
    lengths: dict[str, int],
    flank: int,
    max_per_sample: int | None,
    seed: int,
    decisions: Decisions,
) -> pd.DataFrame:
    """Coordinates of each kept variant's windows; at most ``max_per_sample`` variants per sample,
    drawn by a seeded sample (without replacement) so a re-run picks the same ones."""
    usable = variants["type"].isin(["SNV", "DBS", "MNV", "INS", "DEL"]) & variants["chrom"].isin(
        list(lengths)
    )
    decisions.record(
        "variants without a window (complex allele or contig not in the reference)", int((~usable).sum())
    )
    table = variants[usable].copy()
    table["variant"] = np.flatnonzero(usable.to_numpy())
    if max_per_sample is not None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(table))
        shuffled = table.iloc[order]
        rank = shuffled.groupby("sample_id", sort=False).cumcount().to_numpy()
        keep = np.zeros(len(table), dtype=bool)
        keep[order[rank < max_per_sample]] = True
        decisions.record(
            f"variants beyond window.max_per_sample ({max_per_sample}) not windowed", int((~keep).sum())
        )
        table = table[keep]
    ends = variant_end(table)
    contig_len = table["chrom"].map(lengths).to_numpy()
    table["window_start"] = table["start"].to_numpy() - flank
    table["window_end"] = ends + flank
    table["tumour_length"] = 2 * flank + table["alt"].str.len().to_numpy()
    table["normal_length"] = 2 * flank + table["ref"].str.len().to_numpy()
    table["at_contig_edge"] = (table["window_start"].to_numpy() < 0) | (
        table["window_end"].to_numpy() > contig_len
    )
    decisions.record(
        "windows N-padded at a contig end (flagged at_contig_edge)", int(table["at_contig_edge"].sum())
    )
    return table[WINDOW_COLUMNS].sort_values(["sample_id", "chrom", "start"]).reset_index(drop=True)


@dataclass(frozen=True)
class Germline:
    """Germline SNVs per sample and contig, sorted, for fast look-up inside a window."""

    by_key: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]

    @classmethod
    def from_table(cls, snvs: pd.DataFrame) -> Germline:
        by_key = {}
        for (sample, chrom), group in snvs.groupby(["sample_id", "chrom"], sort=False):
            group = group.sort_values("start")
            by_key[(str(sample), str(chrom))] = (group["start"].to_numpy(), group["alt"].to_numpy())
        return cls(by_key)

    def within(self, sample: str, chrom: str, start: int, end: int) -> list[tuple[int, str]]:
        found = self.by_key.get((sample, chrom))
        if found is None:
            return []
        positions, alts = found
        lo, hi = np.searchsorted(positions, [start, end])
        return list(zip(positions[lo:hi].tolist(), alts[lo:hi].tolist(), strict=True))


def _apply(sequence: str, offset: int, changes: list[tuple[int, str]], skip: tuple[int, int]) -> str:
    """Put germline alleles into a window that starts at reference ``offset``; positions in ``skip``
    (the somatic variant's own reference span) are left to the caller."""
    inside = [
        (p, a) for p, a in changes if offset <= p < offset + len(sequence) and not skip[0] <= p < skip[1]
    ]
    if not inside:
        return sequence
    chars = list(sequence)
    for position, alt in inside:
        chars[position - offset] = alt
    return "".join(chars)


def window_pair(reference, row, germline: Germline | None = None) -> tuple[str, str]:
    """(tumour, normal) sequences for one row of the window table: one read of the reference span,
    then slices (a read from a bgzipped FASTA costs far more than the slicing)."""
    window_start, window_end = int(row.window_start), int(row.window_end)
    start, end = int(row.start), int(row.start) + len(row.ref)
    span = reference.fetch(row.chrom, window_start, window_end)
    if germline is not None:
        changes = germline.within(row.sample_id, row.chrom, window_start, window_end)
        if changes:
            normal = _apply(span, window_start, changes, (0, 0))
            around = _apply(span, window_start, changes, (start, end))
            left, right = around[: start - window_start], around[end - window_start :]
            return left + row.alt + right, normal
    left, right = span[: start - window_start], span[end - window_start :]
    return left + row.alt + right, span
