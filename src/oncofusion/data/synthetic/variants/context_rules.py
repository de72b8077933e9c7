"""How the beyond-the-96 presets' context rules (cancer_types.ContextRule) are drawn and checked.

A rule acts on the simulator's placement of SBS mutations: it narrows where a position may be drawn
(``domain``: near a motif) or how likely a drawn position is kept (``keep``: the base two 5' of the
pyrimidine, the transcribed strand), never the 96-class counts, which the donor's signature mix sets.
So a pair of types that differ only by a rule has one catalogue distribution, and the rule is
measured back from the planted mutations (``measure``) as the ground truth in simulation.json.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oncofusion.data.synthetic.variants.cancer_types import ContextRule
from oncofusion.data.variants.classes import revcomp

COMP = np.array([3, 2, 1, 0, 4], dtype=np.int8)
GENE_COVERAGE = 0.4  # share of the genome inside a simulated gene
GENE_MEAN_LENGTH = 30_000


def code_of(bases: str) -> np.ndarray:
    return np.array(["ACGT".index(b) for b in bases], dtype=np.int8)


def upstream_base(codes: np.ndarray, x: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """The base two 5' of the pyrimidine at ``x``, read on the pyrimidine's strand (4 = N)."""
    return np.where(flip, COMP[codes[np.minimum(x + 2, len(codes) - 1)]], codes[np.maximum(x - 2, 0)])


def motif_domain(codes: np.ndarray, motif: str, distance: int) -> np.ndarray:
    """Sorted positions within ``distance`` bp of an occurrence of ``motif`` or its reverse complement
    (the motif's own bases excluded, so that it stays intact in the tumour window)."""
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[codes].tobytes()
    starts = []
    for pattern in {motif, revcomp(motif)}:
        starts += [m.start() for m in re.finditer(f"(?={pattern})".encode(), letters)]
    if not starts:
        return np.empty(0, dtype=np.int64)
    starts_array = np.array(sorted(starts), dtype=np.int64)
    offsets = np.concatenate([np.arange(-distance, 0), np.arange(len(motif), len(motif) + distance)])
    near = np.unique((starts_array[:, None] + offsets[None, :]).ravel())
    inside = np.zeros(len(codes), dtype=bool)
    for k in range(len(motif)):
        inside[np.minimum(starts_array + k, len(codes) - 1)] = True
    near = near[(near > 1) & (near < len(codes) - 2)]
    return near[~inside[near]]


def simulated_genes(rng: np.random.Generator, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Gene intervals (start, end, strand ±1) covering about GENE_COVERAGE of the genome, and the
    per-position strand (0 outside genes; a later gene overwrites an earlier one where they overlap)."""
    count = max(int(length * GENE_COVERAGE / GENE_MEAN_LENGTH), 1)
    sizes = rng.exponential(GENE_MEAN_LENGTH, size=count).astype(np.int64) + 1000
    starts = rng.integers(0, max(length - 1, 1), size=count)
    ends = np.minimum(starts + sizes, length)
    strands = rng.choice(np.array([-1, 1], dtype=np.int8), size=count)
    per_base = np.zeros(length, dtype=np.int8)
    for start, end, strand in zip(starts, ends, strands, strict=True):
        per_base[start:end] = strand
    return np.stack([starts, ends, strands.astype(np.int64)], axis=1), per_base


def on_transcribed_strand(genes: np.ndarray, x: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Whether the pyrimidine at ``x`` lies on a gene's transcribed (template) strand: a + gene's
    template is the − strand, where the pyrimidine is when the context was read flipped."""
    strand = genes[x]
    return ((strand == 1) & flip) | ((strand == -1) & ~flip)


@dataclass
class Preference:
    """One rule, ready for the placer: where to draw from and with what probability to keep."""

    rule: ContextRule
    domain: np.ndarray | None = None
    genes: np.ndarray | None = None

    def keep(self, codes: np.ndarray, x: np.ndarray, flip: np.ndarray) -> np.ndarray:
        if self.rule.kind == "upstream":
            wanted = np.isin(upstream_base(codes, x, flip), code_of(self.rule.bases))
            return np.where(wanted, 1.0, self.rule.leak)
        if self.rule.kind == "strand":
            return np.where(on_transcribed_strand(self.genes, x, flip), self.rule.leak, 1.0)
        return np.ones(len(x))


def preferences(
    rules: list[ContextRule], codes: np.ndarray, genes: np.ndarray | None
) -> dict[ContextRule, Preference]:
    out = {}
    for rule in rules:
        if rule.kind == "motif":
            out[rule] = Preference(rule, domain=motif_domain(codes, rule.motif, rule.distance))
        elif rule.kind == "strand":
            out[rule] = Preference(rule, genes=genes)
        elif rule.kind == "upstream":
            out[rule] = Preference(rule)
        else:
            raise ValueError(f"unknown context rule kind {rule.kind!r}")
    return out


def measure(
    codes: np.ndarray,
    x: np.ndarray,
    ref: np.ndarray,
    genes: np.ndarray | None,
    motif_near: dict[str, np.ndarray],
) -> dict[str, float]:
    """What a donor's SNVs show of each rule (the read-back ground truth): the share of TCW mutations
    with a pyrimidine two 5' of the C, the share within reach of each motif, and the share of in-gene
    mutations with the pyrimidine on the transcribed strand."""
    flip = np.isin(ref, ["A", "G"])
    out: dict[str, float] = {}
    five = np.where(flip, COMP[codes[x + 1]], codes[x - 1])
    three = np.where(flip, COMP[codes[x - 1]], codes[x + 1])
    centre_c = np.isin(ref, ["C", "G"])
    tcw = centre_c & (five == 3) & np.isin(three, [0, 3])
    if tcw.any():
        minus2 = upstream_base(codes, x[tcw], flip[tcw])
        out["tcw_with_pyrimidine_at_minus2"] = round(float(np.isin(minus2, [1, 3]).mean()), 4)
    for motif, near in motif_near.items():
        out[f"within_reach_of_{motif}"] = round(float(np.isin(x, near).mean()), 4) if len(x) else 0.0
    if genes is not None:
        in_gene = genes[x] != 0
        if in_gene.any():
            transcribed = on_transcribed_strand(genes, x[in_gene], flip[in_gene])
            out["in_gene_on_transcribed_strand"] = round(float(transcribed.mean()), 4)
    return out


def beyond_96_truth(
    types: list, measured: dict[str, list[dict[str, float]]], genes: np.ndarray | None
) -> dict[str, Any]:
    """simulation.json's ground truth for the context rules: each type's rule (null for a control) and
    the donors' mean of what their planted SNVs show (``measure``), so a control's value is the
    genome's background for the same quantity."""
    if not any(t.context is not None for t in types):
        return {}
    out: dict[str, Any] = {"genes": None if genes is None else len(genes), "types": {}}
    for t in types:
        rows = [row for row in measured[t.name] if row]
        keys = sorted({k for row in rows for k in row})
        out["types"][t.name] = {
            "group": t.density_group,
            "rule": None if t.context is None else asdict(t.context),
            "measured": {k: round(float(np.mean([row[k] for row in rows if k in row])), 4) for k in keys},
        }
    return out
