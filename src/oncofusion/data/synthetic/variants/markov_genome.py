"""Sequence with real DNA's short-range structure: a 5th-order Markov chain fitted to 2.33 Mb of hg38.

The default synthetic genome draws each base independently given its block's GC, so outside the
planted repeats there is nothing for a masked language model to learn beyond base composition. Real
DNA has CpG depletion, poly-A/T runs and k-mer preferences that a model of the flanking bases can
learn; ``simulate.genome_model: markov`` draws the genome from transition counts fitted to real
sequence (shipped as ``resources/genome_markov5_hg38.tsv``, so nothing is read from outside the
package), tilted per 100-kb block to that block's GC so isochores remain. Planted microsatellites and
interspersed repeats are added on top as before.

Chains run side by side: the genome is cut into 10-kb segments, each started from the fitted
5-mer frequencies and stepped together, one vectorised draw per position.

Refit with ``python -m oncofusion.data.synthetic.variants.markov_genome FASTA OUT.tsv``.
"""

from __future__ import annotations

import gzip
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

ORDER = 5
SEGMENT = 10_000
RESOURCE = "genome_markov5_hg38.tsv"
_CODES = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate(b"ACGT"):
    _CODES[_b] = _i
    _CODES[_b | 0x20] = _i  # soft-masked bases count as bases


def fit_counts(sequences: list[bytes], order: int = ORDER) -> np.ndarray:
    """(4**order, 4) counts of each base after each k-mer; windows touching N are skipped."""
    counts = np.zeros((4**order, 4), dtype=np.int64)
    for sequence in sequences:
        codes = _CODES[np.frombuffer(sequence, dtype=np.uint8)]
        if len(codes) <= order:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(codes, order + 1)
        windows = windows[(windows < 4).all(axis=1)]
        context = (windows[:, :order] * (4 ** np.arange(order - 1, -1, -1))).sum(axis=1)
        np.add.at(counts, (context, windows[:, order]), 1)
    return counts


@lru_cache(maxsize=1)
def load_counts() -> np.ndarray:
    """The shipped counts, read once per process (the simulator asks once per contig); read-only."""
    source = resources.files("oncofusion.resources") / RESOURCE
    counts = np.loadtxt(source.open(), dtype=np.int64, delimiter="\t", comments="#")
    counts.setflags(write=False)
    return counts


def markov_bases(rng: np.random.Generator, length: int, gc_per_block: np.ndarray, block: int) -> np.ndarray:
    """``length`` uppercase ASCII bases from the fitted chain, each 10-kb segment tilted to the GC of
    the block it starts in."""
    counts = load_counts().astype(np.float64) + 1.0  # a context never seen still continues
    order = round(np.log(len(counts)) / np.log(4))
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    fitted_gc = counts[:, 1:3].sum() / counts.sum()
    n_segments = -(-length // SEGMENT)
    gc = gc_per_block[np.minimum(np.arange(n_segments) * SEGMENT // block, len(gc_per_block) - 1)]
    tilt = np.stack(
        [(1 - gc) / (1 - fitted_gc), gc / fitted_gc, gc / fitted_gc, (1 - gc) / (1 - fitted_gc)], 1
    )
    start = counts.sum(axis=1) / counts.sum()
    context = rng.choice(len(counts), size=n_segments, p=start)
    out = np.empty((n_segments, SEGMENT), dtype=np.int64)
    for i in range(order):  # the first k-mer of each segment, its most significant base first
        out[:, i] = (context // 4 ** (order - 1 - i)) % 4
    for position in range(order, SEGMENT):
        step = probabilities[context] * tilt
        cumulative = np.cumsum(step, axis=1)
        drawn = (rng.random(n_segments)[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
        drawn = np.minimum(drawn, 3)
        out[:, position] = drawn
        context = (context * 4 + drawn) % len(counts)
    return np.frombuffer(b"ACGT", dtype=np.uint8)[out.reshape(-1)[:length]].copy()


def _read_fasta(path: Path) -> list[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    records, current = [], []
    with opener(path, "rb") as handle:
        for line in handle:
            if line.startswith(b">"):
                if current:
                    records.append(b"".join(current))
                current = []
            else:
                current.append(line.strip())
    if current:
        records.append(b"".join(current))
    return records


if __name__ == "__main__":
    fasta, out = Path(sys.argv[1]), Path(sys.argv[2])
    fitted = fit_counts(_read_fasta(fasta))
    header = (
        f"order {ORDER} transition counts (rows: k-mer, ACGT order, first base most significant) "
        f"from {fasta.name}"
    )
    np.savetxt(out, fitted, fmt="%d", delimiter="\t", header=header)
