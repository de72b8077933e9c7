"""Genome-ordered bins for copy-number data, built from the packaged assembly table."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

AUTOSOMES = [str(c) for c in range(1, 23)]
ASSEMBLIES = ("grch37", "grch38")


def chromosome_table(assembly: str = "grch38") -> pd.DataFrame:
    """Chromosome lengths and centromere midpoints, as published for the assembly."""
    assembly = assembly.lower()
    if assembly not in ASSEMBLIES:
        raise ValueError(f"unknown assembly '{assembly}'; packaged: {', '.join(ASSEMBLIES)}")
    source = resources.files("oncofusion.resources") / f"{assembly}_chromosomes.tsv"
    with source.open() as handle:
        table = pd.read_csv(handle, sep="\t", comment="#", dtype={"chrom": str})
    return table.set_index("chrom")


@dataclass(frozen=True)
class GenomeBins:
    chrom: np.ndarray  # str, per bin
    start: np.ndarray  # int64, 0-based inclusive
    end: np.ndarray  # int64, exclusive
    arm: np.ndarray  # "p" | "q"

    def __len__(self) -> int:
        return len(self.chrom)

    @property
    def names(self) -> list[str]:
        return [f"chr{c}:{s}-{e}" for c, s, e in zip(self.chrom, self.start, self.end, strict=True)]

    def chromosome_slices(self) -> list[slice]:
        """Contiguous bin ranges per chromosome, in genome order (an HMM restarts at each)."""
        slices, begin = [], 0
        for i in range(1, len(self.chrom) + 1):
            if i == len(self.chrom) or self.chrom[i] != self.chrom[begin]:
                slices.append(slice(begin, i))
                begin = i
        return slices

    def arm_bins(self) -> dict[str, np.ndarray]:
        """Bin indices per chromosome arm ('1p', '1q', ...), skipping arms that no bin centre falls on."""
        labels = np.array([f"{c}{a}" for c, a in zip(self.chrom, self.arm, strict=True)])
        return {arm: np.flatnonzero(labels == arm) for arm in dict.fromkeys(labels)}


def autosome_bins(n_bins: int, min_per_chromosome: int = 2, assembly: str = "grch38") -> GenomeBins:
    """Split the autosomes into ``n_bins`` equal-width-per-chromosome bins, allotted by length.

    Allotment uses largest remainders so the total is exact; every chromosome gets at least
    ``min_per_chromosome`` bins so that both arms of most chromosomes are represented.
    """
    table = chromosome_table(assembly).loc[AUTOSOMES]
    if n_bins < min_per_chromosome * len(table):
        raise ValueError(f"n_bins ({n_bins}) must be at least {min_per_chromosome * len(table)}")
    lengths = table["length"].to_numpy(dtype=float)
    spare = n_bins - min_per_chromosome * len(table)
    share = spare * lengths / lengths.sum()
    counts = np.floor(share).astype(int)
    counts[np.argsort(-(share - counts), kind="stable")[: spare - counts.sum()]] += 1
    counts += min_per_chromosome
    chrom, start, end, arm = [], [], [], []
    for (name, row), count in zip(table.iterrows(), counts, strict=True):
        edges = np.linspace(0, row["length"], count + 1).round().astype(np.int64)
        mids = (edges[:-1] + edges[1:]) / 2
        chrom += [name] * count
        start += edges[:-1].tolist()
        end += edges[1:].tolist()
        arm += ["p" if m < row["centromere"] else "q" for m in mids]
    return GenomeBins(np.array(chrom), np.array(start), np.array(end), np.array(arm))


def fixed_bins(
    bin_size: int, assembly: str = "grch38", include_x: bool = True, include_y: bool = False
) -> GenomeBins:
    """Fixed-width bins from each chromosome's start (the last bin of a chromosome is shorter), as
    Progenetix interval frequencies use: bin i of chromosome c is [i·size, min((i+1)·size, length))."""
    table = chromosome_table(assembly)
    names = AUTOSOMES + ["X"] * include_x + ["Y"] * include_y
    chrom, start, end, arm = [], [], [], []
    for name in names:
        length, centromere = int(table.loc[name, "length"]), int(table.loc[name, "centromere"])
        starts = np.arange(0, length, bin_size, dtype=np.int64)
        ends = np.minimum(starts + bin_size, length)
        chrom += [name] * len(starts)
        start.append(starts)
        end.append(ends)
        arm += ["p" if (s + e) / 2 < centromere else "q" for s, e in zip(starts, ends, strict=True)]
    return GenomeBins(np.array(chrom), np.concatenate(start), np.concatenate(end), np.array(arm))
