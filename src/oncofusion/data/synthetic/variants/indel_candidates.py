"""Candidate indels for the simulator, grouped by the ID83 class the real classifier gives them, so that
the catalogues read back from the simulated files follow each type's indel spectrum."""

from __future__ import annotations

import numpy as np

from oncofusion.data.synthetic.variants.genome import Genome
from oncofusion.data.variants.indels import id83_label

CANDIDATES_PER_BUCKET = 400


def indel_candidates(
    genome: Genome, repeats: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, list[tuple[str, int, str, str]]]:
    """Candidate indels (contig, start, ref, alt) grouped by the ID83 class the real classifier gives
    them: one-base events in homopolymer runs, unit events in (planted) tandem repeats, and random
    deletions/insertions for the no-repeat and microhomology classes."""
    proposals: list[tuple[str, int, str, str]] = []
    for name in genome.names:
        seq = genome.upper[name]
        n = len(seq)
        change = np.flatnonzero(np.diff(seq) != 0) + 1
        run_starts = np.concatenate([[0], change])
        run_lengths = np.diff(np.concatenate([run_starts, [n]]))
        inner = (run_starts > 20) & (run_starts + run_lengths < n - 20)
        for length in range(1, 8):
            chosen = np.flatnonzero(inner & ((run_lengths == length) if length < 7 else (run_lengths >= 7)))
            for i in rng.choice(chosen, size=min(len(chosen), CANDIDATES_PER_BUCKET // 2), replace=False):
                s, base = int(run_starts[i]), chr(seq[run_starts[i]])
                proposals.append((name, s, base, ""))  # one base of the run deleted
                proposals.append((name, s, "", base))  # one more copy inserted
        for x in rng.integers(50, n - 50, size=CANDIDATES_PER_BUCKET * 4):
            size = int(rng.choice([1, 2, 3, 4, 5, 6, 8]))
            x = int(x)
            proposals.append((name, x, seq[x : x + size].tobytes().decode(), ""))
            inserted = "".join(rng.choice(list("ACGT"), size=size))
            proposals.append((name, x, "", inserted))
            # unit events in tandem repeats: duplicate or delete the unit that starts here
            unit = seq[x : x + size].tobytes().decode()
            proposals.append((name, x, "", unit))
        for start, unit_len in repeats[name]:  # one unit more or less in a planted tandem repeat
            start, unit_len = int(start), int(unit_len)
            unit = seq[start : start + unit_len].tobytes().decode()
            proposals.append((name, start, unit, ""))
            proposals.append((name, start, "", unit))
    by_class: dict[str, list[tuple[str, int, str, str]]] = {}
    for name, start, ref, alt in proposals:
        if "N" in ref or "N" in alt:
            continue
        label = id83_label(genome.upper[name], start, ref, alt)
        if label is not None:
            by_class.setdefault(label, []).append((name, start, ref, alt))
    return by_class
