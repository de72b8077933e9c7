"""Where the simulator puts each mutation: positions of exactly the context its SBS/DBS class needs,
drawn from the type's regional density; the draw keeps a position with probability ∝ (the donor's
context share / the genome's), so rare contexts fill about as fast as common ones instead of wasting
most draws. A context rule (context_rules.Preference) narrows the draw further for the beyond-the-96
presets."""

from __future__ import annotations

import numpy as np

from oncofusion.data.synthetic.variants.context_rules import Preference
from oncofusion.data.synthetic.variants.genome import Genome
from oncofusion.data.variants.classes import dbs78_classes, revcomp, sbs96_classes

COMP = np.array([3, 2, 1, 0, 4], dtype=np.int8)  # A<->T, C<->G, N
LETTERS = np.array(list("ACGTN"))


def _sbs_context(codes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pyrimidine-folded trinucleotide id (5' base × centre C/T × 3' base: 0-31) at x, whether the
    context was read from the other strand, and validity (no N)."""
    left, mid, right = codes[x - 1], codes[x], codes[x + 1]
    valid = (left < 4) & (mid < 4) & (right < 4)
    flip = (mid == 0) | (mid == 2)  # A or G centre: read the other strand
    five = np.where(flip, COMP[right], left)
    centre = np.where(flip, COMP[mid], mid)
    three = np.where(flip, COMP[left], right)
    ids = five.astype(np.int64) * 8 + np.where(centre == 1, 0, 1) * 4 + three
    return np.where(valid, ids, 0), flip, valid


DBS_REFS = ["AC", "AT", "CC", "CG", "CT", "GC", "TA", "TC", "TG", "TT"]


def _dbs_context(codes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index in DBS_REFS of the dinucleotide at (x, x+1) or of its reverse complement."""
    table = np.full((5, 5), -1)
    flipped = np.zeros((5, 5), dtype=bool)
    for i, a in enumerate("ACGT"):
        for j, b in enumerate("ACGT"):
            pair = a + b
            rc = "ACGT"[3 - j] + "ACGT"[3 - i]
            if pair in DBS_REFS:
                table[i, j] = DBS_REFS.index(pair)
            elif rc in DBS_REFS:
                table[i, j], flipped[i, j] = DBS_REFS.index(rc), True
    a, b = codes[x], codes[x + 1]
    ids = table[a, b]
    return np.maximum(ids, 0), flipped[a, b], ids >= 0


class Placer:
    """Positions by context, drawn from the regional density; the acceptance ratio (wanted context share
    / genome context share) only spares draws: each class is filled from its own context's pool."""

    def __init__(self, genome: Genome, rng: np.random.Generator) -> None:
        self.genome, self.rng = genome, rng
        self._domain_freqs: dict[tuple, np.ndarray] = {}
        x = np.arange(1, len(genome.codes) - 1)
        ids, _, valid = _sbs_context(genome.codes, x)
        self.sbs_freq = np.bincount(ids[valid], minlength=32) / valid.sum()
        ids, _, valid = _dbs_context(genome.codes, x)
        self.dbs_freq = np.bincount(ids[valid], minlength=len(DBS_REFS)) / valid.sum()

    def _draw(self, weights: np.ndarray, n: int, domain: np.ndarray | None = None) -> np.ndarray:
        if domain is None:
            p = weights * self.genome.bin_sizes
            chosen = self.rng.choice(len(p), size=n, p=p / p.sum())
            offsets = (self.rng.random(n) * self.genome.bin_sizes[chosen]).astype(np.int64)
            x = self.genome.bins[chosen] + offsets
        else:  # uniform over the domain, thinned by the regional density
            x = domain[self.rng.integers(len(domain), size=n)]
            density = weights[np.searchsorted(self.genome.bins, x, side="right") - 1]
            x = x[self.rng.random(n) < density / weights.max()]
        return x[(x > 0) & (x < len(self.genome.codes) - 2)]

    def _domain_freq(self, preference: Preference, context) -> np.ndarray:
        """The context frequencies inside a rule's domain (the acceptance ratio's denominator there)."""
        key = (id(preference), context)
        if key not in self._domain_freqs:
            ids, _, valid = context(self.genome.codes, preference.domain)
            counts = np.bincount(ids[valid], minlength=32 if context is _sbs_context else len(DBS_REFS))
            self._domain_freqs[key] = counts / max(valid.sum(), 1)
        return self._domain_freqs[key]

    def _place(
        self,
        need: np.ndarray,
        freq: np.ndarray,
        weights: np.ndarray,
        context,
        preference: Preference | None = None,
    ) -> dict[int, tuple]:
        """Distinct positions per context id (and their strand flips), ``need[c]`` of each, drawn where
        and as the context rule (``preference``) says when there is one."""
        domain = None if preference is None else preference.domain
        if domain is not None:
            freq = self._domain_freq(preference, context)
        ratio = np.where(freq > 0, (need / need.sum()) / np.maximum(freq, 1e-12), 0.0)
        accept = ratio / ratio.max()
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        pools: dict[int, list] = {int(c): [] for c in np.flatnonzero(need)}
        for _ in range(200):
            x = self._draw(weights, int(need.sum()) * 4 + 1000, domain)
            ids, flip, valid = context(self.genome.codes, x)
            keep = valid & (self.rng.random(len(x)) < accept[ids])
            if preference is not None:
                keep &= self.rng.random(len(x)) < preference.keep(self.genome.codes, x, flip)
            for c in list(pools):
                hit = keep & (ids == c)
                pools[c].append((x[hit], flip[hit]))
                xs = np.concatenate([p[0] for p in pools[c]])
                xs, first = np.unique(xs, return_index=True)
                if len(xs) >= need[c]:
                    flips = np.concatenate([p[1] for p in pools[c]])[first]
                    pick = self.rng.permutation(len(xs))[: int(need[c])]
                    found[c] = (xs[pick], flips[pick])
                    del pools[c]
            if not pools:
                return found
        raise RuntimeError("could not place the requested mutations; is the genome mostly N?")

    def _realise(
        self,
        counts: np.ndarray,
        ctx: np.ndarray,
        alleles: list[tuple[str, str]],
        freq: np.ndarray,
        weights: np.ndarray,
        context,
        preference: Preference | None = None,
    ) -> list[tuple[int, str, str]]:
        """(global position, ref, alt) on the forward strand realising per-class ``counts``; class k
        needs context ``ctx[k]`` and has ``alleles[k]`` on the context's strand."""
        need = np.bincount(ctx, weights=counts, minlength=len(freq)).astype(np.int64)
        if need.sum() == 0:
            return []
        found = self._place(need, freq, weights, context, preference)
        out: list[tuple[int, str, str]] = []
        used = dict.fromkeys(found, 0)
        for k in np.flatnonzero(counts):
            c, n = int(ctx[k]), int(counts[k])
            xs, flips = found[c]
            ref, alt = alleles[k]
            for x, flip in zip(xs[used[c] : used[c] + n], flips[used[c] : used[c] + n], strict=True):
                out.append((int(x), revcomp(ref) if flip else ref, revcomp(alt) if flip else alt))
            used[c] += n
        return out

    SBS_CONTEXT = np.array(
        ["ACGT".index(c[0]) * 8 + (0 if c[2] == "C" else 1) * 4 + "ACGT".index(c[6]) for c in sbs96_classes()]
    )

    def sbs(
        self, counts: np.ndarray, weights: np.ndarray, preference: Preference | None = None
    ) -> list[tuple[int, str, str]]:
        alleles = [(c[2], c[4]) for c in sbs96_classes()]
        return self._realise(
            counts, self.SBS_CONTEXT, alleles, self.sbs_freq, weights, _sbs_context, preference
        )

    def domain_capacity(self, counts: np.ndarray, preference: Preference) -> np.ndarray:
        """``counts`` cut so that no context needs more than half of the rule's domain positions of it
        (a donor's distinct positions come from that pool; a small genome or a large burden exhausts it)."""
        available = self._domain_freq(preference, _sbs_context) * len(preference.domain)
        need = np.bincount(self.SBS_CONTEXT, weights=counts, minlength=32)
        factor = np.minimum(1.0, np.floor(0.5 * available) / np.maximum(need, 1))
        return np.floor(counts * factor[self.SBS_CONTEXT]).astype(np.int64)

    def dbs(self, counts: np.ndarray, weights: np.ndarray) -> list[tuple[int, str, str]]:
        classes = dbs78_classes()
        ctx = np.array([DBS_REFS.index(c[:2]) for c in classes])
        alleles = [(c[:2], c[3:]) for c in classes]
        return self._realise(counts, ctx, alleles, self.dbs_freq, weights, _dbs_context)
