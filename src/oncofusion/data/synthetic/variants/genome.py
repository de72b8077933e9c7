"""A synthetic reference genome with the features that make variant contexts realistic: regional GC
variation (100-kb isochore-like blocks), optionally real DNA's short-range structure (a Markov chain
fitted to hg38: CpG depletion, k-mer preferences; ``markov_genome.py``), planted microsatellites
(homopolymers and short tandem repeats, where indels concentrate) and diverged interspersed repeat
copies, both soft-masked (lowercase) as repeat-masked references are.

:class:`Genome` is the same sequence as the simulator reads it: every contig concatenated into one
array of base codes, so contexts and positions are drawn with vectorised lookups over the whole genome,
and cut into density bins, where each cancer type's regional mutation rate is set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oncofusion.data.assembly import AUTOSOMES, chromosome_table
from oncofusion.data.synthetic.variants.markov_genome import markov_bases
from oncofusion.data.variants.reference import open_fasta
from oncofusion.errors import ConfigError

BLOCK = 100_000
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
LOWER = 0x20  # ASCII: lowercase = uppercase | 0x20
CODE = np.full(256, 4, dtype=np.int8)  # A, C, G, T → 0..3; anything else (N) → 4
for _i, _b in enumerate(b"ACGT"):
    CODE[_b] = _i
DENSITY_BIN = 1_000_000


def contig_lengths(genome_mb: float, n_contigs: int) -> dict[str, int]:
    """GRCh37's first ``n_contigs`` autosomes, scaled so they sum to ``genome_mb`` Mb."""
    table = chromosome_table("grch37").loc[AUTOSOMES[:n_contigs], "length"]
    scale = genome_mb * 1e6 / float(table.sum())
    return {f"chr{name}": max(int(length * scale), 10_000) for name, length in table.items()}


def _block_gc(rng: np.random.Generator, length: int, gc_mean: float, gc_sd: float) -> np.ndarray:
    n_blocks = -(-length // BLOCK)
    drift = np.empty(n_blocks)
    drift[0] = rng.normal()
    for i in range(1, n_blocks):  # AR(1): neighbouring blocks have similar GC, as isochores do
        drift[i] = 0.8 * drift[i - 1] + 0.6 * rng.normal()
    return np.clip(gc_mean + gc_sd * drift, 0.25, 0.7)


def _bases(rng: np.random.Generator, length: int, gc_mean: float, gc_sd: float, model: str) -> np.ndarray:
    gc = _block_gc(rng, length, gc_mean, gc_sd)
    if model == "markov":
        return markov_bases(rng, length, gc, BLOCK)
    gc_per_base = np.repeat(gc, BLOCK)[:length]
    u = rng.random(length)
    index = (u >= (1 - gc_per_base) / 2).astype(np.int8)  # A | rest
    index += u >= 0.5  # C | G T
    index += u >= 0.5 + gc_per_base / 2  # G | T
    return BASES[index]


def _plant_microsatellites(rng: np.random.Generator, seq: np.ndarray, per_mb: float) -> np.ndarray:
    """Plant tandem repeats; returns (start, unit length) of each, where indel candidates are drawn."""
    count = int(per_mb * len(seq) / 1e6)
    units = rng.choice([1, 2, 3, 4, 5, 6], size=count, p=[0.4, 0.25, 0.15, 0.1, 0.05, 0.05])
    starts = rng.integers(100, max(len(seq) - 200, 101), size=count)
    for start, unit_len in zip(starts, units, strict=True):
        copies = int(rng.integers(5, 16)) if unit_len == 1 else int(rng.integers(2, 10))
        unit = BASES[rng.integers(0, 4, size=unit_len)]
        if unit_len > 1 and (unit == unit[0]).all():
            unit[-1] = BASES[(np.flatnonzero(unit[0] == BASES)[0] + 1) % 4]
        repeat = np.tile(unit, copies) | LOWER
        seq[start : start + len(repeat)] = repeat[: len(seq) - start]
    return np.stack([starts, units], axis=1) if count else np.empty((0, 2), dtype=np.int64)


def _plant_interspersed(rng: np.random.Generator, seq: np.ndarray, per_mb: float = 20.0) -> int:
    """Copies of one ~300-bp element with 15% divergence (an Alu-like family)."""
    consensus = BASES[rng.integers(0, 4, size=300)]
    count = int(per_mb * len(seq) / 1e6)
    for start in rng.integers(0, max(len(seq) - 301, 1), size=count):
        copy = consensus.copy()
        mutated = rng.random(300) < 0.15
        copy[mutated] = BASES[rng.integers(0, 4, size=int(mutated.sum()))]
        seq[start : start + 300] = copy | LOWER
    return count


def synthetic_genome(
    rng: np.random.Generator,
    lengths: dict[str, int],
    gc_mean: float,
    gc_sd: float,
    microsatellites_per_mb: float,
    model: str = "gc_blocks",
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Contig → uint8 ASCII (soft-masked), and per contig the planted microsatellites (start, unit).
    ``model``: ``gc_blocks`` (independent bases given each block's GC) or ``markov`` (a chain fitted
    to real DNA, ``markov_genome.py``)."""
    contigs, repeats = {}, {}
    for name, length in lengths.items():
        seq = _bases(rng, length, gc_mean, gc_sd, model)
        _plant_interspersed(rng, seq)
        repeats[name] = _plant_microsatellites(rng, seq, microsatellites_per_mb)
        contigs[name] = seq
    return contigs, repeats


def load_fasta(path: Path) -> dict[str, np.ndarray]:
    """A user's FASTA (plain or bgzipped) as the simulator's contigs: uint8 ASCII, case kept (so soft
    masking survives the copy), every contig in file order."""
    if not path.is_file():
        raise ConfigError(f"simulate.reference: {path} does not exist (a FASTA to plant the mutations into)")
    fasta = open_fasta(path)
    contigs = {
        name: np.frombuffer(fasta.fetch(name).encode(), dtype=np.uint8).copy() for name in fasta.references
    }
    if not any((CODE[seq] < 4).any() for seq in contigs.values()):
        raise ConfigError(f"simulate.reference: {path} has no A, C, G or T to plant a mutation at")
    return contigs


def upper(seq: np.ndarray) -> np.ndarray:
    return seq & np.uint8(0xDF)


class Genome:
    """All contigs concatenated with one N between them, so no context crosses a contig end."""

    def __init__(self, contigs: dict[str, np.ndarray]) -> None:
        self.names = list(contigs)
        self.upper = {n: upper(s) for n, s in contigs.items()}
        parts, offsets, bins, bin_ends, at = [], [], [], [], 0
        for name in self.names:
            seq = CODE[self.upper[name]]
            offsets.append(at)
            starts = np.arange(0, len(seq), DENSITY_BIN)
            bins.extend(at + starts)
            bin_ends.extend(at + np.minimum(starts + DENSITY_BIN, len(seq)))
            parts.extend([seq, np.full(1, 4, dtype=np.int8)])
            at += len(seq) + 1
        self.offsets = np.array(offsets, dtype=np.int64)
        self.codes = np.concatenate(parts)
        self.bins = np.array(bins, dtype=np.int64)
        self.bin_sizes = np.array(bin_ends, dtype=np.int64) - self.bins

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        contig = np.searchsorted(self.offsets, positions, side="right") - 1
        return contig, positions - self.offsets[contig]
