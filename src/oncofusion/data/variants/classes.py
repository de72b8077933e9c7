"""The catalogue classes (SBS96, DBS78, ID83) in COSMIC order, and the strand they are named on.

The class lists and their order are read from the packaged COSMIC v3 signature tables, so a catalogue's
rows line up with the signatures it will be fitted against without any re-ordering downstream; each list
is checked against every label the classifiers can produce, so a disagreement fails at import instead of
dropping counts. COSMIC names a substitution on one strand: :func:`revcomp` folds the other strand onto
it (and the simulator unfolds a class back onto the forward strand with it).
"""

from __future__ import annotations

import functools

from oncofusion.data.variants.signatures import cosmic

BASES = "ACGT"
COMPLEMENT = str.maketrans("ACGT", "TGCA")
# Repeat counts and microhomology lengths are capped at 5 ("5+"); indel sizes likewise.
CAP = 5
COUNT = ("0", "1", "2", "3", "4", "5+")
SIZE = ("0", "1", "2", "3", "4", "5+")


def revcomp(seq: str) -> str:
    """Reverse complement of an ACGT string (the other strand read 5'→3')."""
    return seq.translate(COMPLEMENT)[::-1]


def _mutation_types(kind: str) -> tuple[str, ...]:
    """The MutationType column (row order) of the packaged COSMIC signature table."""
    return tuple(cosmic(kind).index)


def _require(classes: tuple[str, ...], expected: set[str], name: str) -> tuple[str, ...]:
    """The classifier and the packaged table must agree exactly, or counts would be silently dropped."""
    if len(classes) != len(expected) or set(classes) != expected:
        missing, extra = sorted(expected - set(classes)), sorted(set(classes) - expected)
        raise RuntimeError(
            f"{name}: packaged classes disagree with the classifier (missing {missing}, extra {extra})"
        )
    return classes


@functools.cache
def sbs96_classes() -> tuple[str, ...]:
    """The 96 single-base-substitution classes ``5'[REF>ALT]3'``, REF a pyrimidine, in COSMIC order."""
    expected = {
        f"{left}[{ref}>{alt}]{right}"
        for ref in "CT"
        for alt in BASES
        if alt != ref
        for left in BASES
        for right in BASES
    }
    return _require(_mutation_types("sbs96"), expected, "SBS96")


@functools.cache
def dbs78_classes() -> tuple[str, ...]:
    """The 78 doublet-base-substitution classes ``XY>ZW`` in COSMIC order."""
    classes = _mutation_types("dbs78")
    if len(classes) != 78 or len(set(classes)) != 78:
        raise RuntimeError(f"DBS78: packaged table has {len(set(classes))} distinct classes, not 78")
    return classes


def _id83_expected() -> set[str]:
    """Every label :func:`~oncofusion.data.variants.indels.id83_label` can produce (sizes 1..6 cover
    every size class)."""
    labels = {f"1:{kind}:{base}:{count}" for kind in ("Del", "Ins") for base in "CT" for count in COUNT}
    for n in range(2, 7):
        size = SIZE[min(n, CAP)]
        labels |= {f"{size}:{kind}:R:{count}" for kind in ("Del", "Ins") for count in COUNT}
        labels |= {f"{size}:Del:M:{COUNT[min(m, CAP)]}" for m in range(1, n)}
    return labels


@functools.cache
def id83_classes() -> tuple[str, ...]:
    """The 83 small insertion/deletion classes ``size:Del|Ins:C|T|R|M:count`` in COSMIC order."""
    return _require(_mutation_types("id83"), _id83_expected(), "ID83")


SBS96: tuple[str, ...] = sbs96_classes()
DBS78: tuple[str, ...] = dbs78_classes()
ID83: tuple[str, ...] = id83_classes()
