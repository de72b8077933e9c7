"""Small insertions and deletions: the ID83 label of each indel (SigProfiler/COSMIC classes), from the
repeat or microhomology tract the event sits in on the reference.

Conventions are those of :mod:`oncofusion.data.variants.catalogues`: a variant that cannot be classified
gets the label ``None`` and is not counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion.data.variants.classes import BASES, CAP, COUNT, SIZE
from oncofusion.data.variants.columns import by_contig, column
from oncofusion.data.variants.reference import Reference

_N = ord("N")
_DROP_ACGT = str.maketrans("", "", BASES)


def _id83(buf: memoryview | bytes, length: int, start: int, ref: str, alt: str) -> str | None:
    """ID83 label of one indel on a contig read through ``buf`` (``length`` bases); see :func:`id83_label`."""
    if ref and not alt:
        unit, deletion = ref, True
    elif alt and not ref:
        unit, deletion = alt, False
    else:
        return None
    if unit.translate(_DROP_ACGT):
        return None
    n = len(unit)
    end = start + n if deletion else start
    if start < 0 or end > length:
        return None
    # The scans below read at most 5n bases (plus the base that stops them) on each side.
    width = CAP * n + 1
    lo, hi = start - width, end + width
    if lo < 0 or hi > length:  # near an edge: an N-padded copy, so the edge stops a scan like an N
        buf = b"N" * max(-lo, 0) + bytes(buf[max(lo, 0) : min(hi, length)]) + b"N" * max(hi - length, 0)
        start, end = width, width + (end - start)
    u = unit.encode()
    if deletion and buf[start:end] != u:
        return None
    # Extent of the n-periodic tract around the event: bases left of it that continue the unit backwards
    # (a) and right of it that continue it forwards (b). Whole copies k = (a + b) // n; for a deletion
    # with k == 0, a + b (< n) is the microhomology. Both depend only on the tract, not on where in it the
    # caller placed the event (left- or right-aligned, any rotation of the unit).
    limit = CAP * n
    a = 0
    while a < limit and buf[start - 1 - a] == u[n - 1 - (a % n)]:
        a += 1
    b = 0
    while a + b < limit and buf[end + b] == u[b % n]:
        b += 1
    tract = a + b
    if tract < limit and (buf[start - 1 - a] == _N or buf[end + b] == _N):
        return None  # a scan stopped at N (or the contig edge): the true count is unknown
    kind = "Del" if deletion else "Ins"
    if n == 1:
        return f"1:{kind}:{'C' if unit in 'CG' else 'T'}:{COUNT[min(tract, CAP)]}"
    size = SIZE[min(n, CAP)]
    repeats = tract // n
    if deletion and repeats == 0 and tract > 0:
        return f"{size}:Del:M:{COUNT[min(tract, CAP)]}"
    return f"{size}:{kind}:R:{COUNT[min(repeats, CAP)]}"


def id83_label(seq: np.ndarray, start: int, ref: str, alt: str) -> str | None:
    """ID83 label of one insertion or deletion (SigProfiler/COSMIC classes), or None.

    ``seq`` is the contig as uint8 ASCII (``Reference.contigs[...]``). Repeats are counted on both
    sides of the event over the whole n-periodic tract it sits in, so the class is the same wherever in
    a repeat (and with whichever rotation of the unit) the caller placed it:

    * 1 bp: ``1:Del|Ins:C|T:k``, base reported as its pyrimidine, k = copies of the base around the
      event (not counting a deleted base itself).
    * n ≥ 2: ``size:Del|Ins:R:k``, k = further whole copies of the unit in the tract; a deletion with
      k == 0 but a partial copy of length m ≥ 1 is ``size:Del:M:m`` (microhomology). Sizes and counts
      are capped at ``5+``.

    None for COMPLEX alleles, non-ACGT alleles, a deleted sequence that is not the reference's, or an N
    or contig edge where a count stops (unless the count has already reached 5+).
    """
    seq = np.ascontiguousarray(seq, dtype=np.uint8)
    return _id83(memoryview(seq), len(seq), int(start), ref, alt)


def id83_labels(reference: Reference, variants: pd.DataFrame) -> np.ndarray:
    """ID83 label of each INS/DEL row (None for other rows and unclassifiable indels)."""
    out = np.full(len(variants), None, dtype=object)
    rows = np.flatnonzero(variants["type"].isin(["INS", "DEL"]).to_numpy())
    if not rows.size:
        return out
    starts = variants["start"].to_numpy(dtype=np.int64)[rows]
    refs = column(variants, "ref")[rows]
    alts = column(variants, "alt")[rows]
    for contig, idx in by_contig(column(variants, "chrom")[rows]):
        seq = reference.contigs.get(contig)
        if seq is None:
            continue
        seq = np.ascontiguousarray(seq, dtype=np.uint8)
        buf, length = memoryview(seq), len(seq)
        labels = [
            _id83(buf, length, s, r, a)
            for s, r, a in zip(starts[idx].tolist(), refs[idx].tolist(), alts[idx].tolist(), strict=True)
        ]
        out[rows[idx]] = np.array(labels, dtype=object)
    return out
