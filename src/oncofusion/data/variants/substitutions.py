"""Single- and doublet-base substitutions: the SBS96 and DBS78 label of each variant, and the merging of
adjacent SNVs into the doublets (and longer runs) that callers write as separate records.

Conventions are those of :mod:`oncofusion.data.variants.catalogues`: a variant that cannot be classified
gets the label ``None`` and is not counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from oncofusion.data.variants.classes import BASES, COMPLEMENT, DBS78, SBS96, revcomp
from oncofusion.data.variants.columns import by_contig, column
from oncofusion.data.variants.reference import Reference

# Base → 0..3 (A, C, G, T); anything else (N, IUPAC, '?') → -1 so it can never be classified.
_CODE = np.full(256, -1, dtype=np.int8)
for _i, _b in enumerate(BASES):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i


def _sbs_lookup() -> np.ndarray:
    """(left, centre, right, alt) codes → SBS96 label on the pyrimidine strand; None where alt == centre."""
    table = np.full((4, 4, 4, 4), None, dtype=object)
    for (li, left), (ci, centre), (ri, right), (ai, alt) in itertools.product(enumerate(BASES), repeat=4):
        if alt == centre:
            continue
        if centre in "AG":  # report on the pyrimidine strand: reverse-complement context, complement alt
            left, centre, right = revcomp(left + centre + right)
            alt = alt.translate(COMPLEMENT)
        table[li, ci, ri, ai] = f"{left}[{centre}>{alt}]{right}"
    labels = {label for label in table.ravel() if label is not None}
    if labels != set(SBS96):
        raise RuntimeError("SBS96 lookup does not produce exactly the packaged classes")
    return table


def _dbs_lookup() -> np.ndarray:
    """(ref0, ref1, alt0, alt1) codes → DBS78 label; all 144 true doublets checked to fold into the 78."""
    known = set(DBS78)
    table = np.full((4, 4, 4, 4), None, dtype=object)
    for (r0, ref0), (r1, ref1), (a0, alt0), (a1, alt1) in itertools.product(enumerate(BASES), repeat=4):
        if ref0 == alt0 or ref1 == alt1:  # one position unchanged: two SNVs' worth, not a doublet
            continue
        ref, alt = ref0 + ref1, alt0 + alt1
        label = f"{ref}>{alt}"
        if label not in known:  # the same event read on the other strand
            label = f"{revcomp(ref)}>{revcomp(alt)}"
        if label not in known:
            raise RuntimeError(f"DBS {ref}>{alt} folds to {label}, which is not a DBS78 class")
        table[r0, r1, a0, a1] = label
    labels = [label for label in table.ravel() if label is not None]
    if len(labels) != 144 or set(labels) != known:
        raise RuntimeError("DBS78 folding does not map the 144 doublets onto exactly the 78 classes")
    return table


_SBS_LUT = _sbs_lookup()
_DBS_LUT = _dbs_lookup()


def _codes(strings: Sequence[str]) -> np.ndarray:
    """Base codes of equal-length ASCII strings, one row per string (one bytes join, no per-row loop)."""
    width = len(strings[0]) if len(strings) else 1
    raw = np.frombuffer("".join(strings).encode("ascii", "replace"), dtype=np.uint8)
    return _CODE[raw].reshape(-1, width).astype(np.intp)


def sbs96_labels(reference: Reference, variants: pd.DataFrame) -> np.ndarray:
    """SBS96 label of each row (None for non-SNVs and SNVs that cannot be classified).

    The context is read from the reference, not inferred from the table, so soft-masking and the
    caller's allele spelling cannot change it. The centre must equal the table's ``ref``: a disagreement
    means a wrong build or a mis-parsed record, and counting it would put it in a random class. A context
    touching N or a contig edge is left unclassified rather than guessed. Vectorised per contig.
    """
    out = np.full(len(variants), None, dtype=object)
    ref, alt = variants["ref"], variants["alt"]
    snv = ((variants["type"] == "SNV") & (ref.str.len() == 1) & (alt.str.len() == 1)).to_numpy()
    rows = np.flatnonzero(snv)
    if not rows.size:
        return out
    ref_code = _codes(column(variants, "ref")[rows].tolist())[:, 0]
    alt_code = _codes(column(variants, "alt")[rows].tolist())[:, 0]
    starts = variants["start"].to_numpy(dtype=np.int64)[rows]
    for contig, idx in by_contig(column(variants, "chrom")[rows]):
        seq = reference.contigs.get(contig)
        if seq is None:
            continue
        pos = starts[idx]
        inside = (pos >= 1) & (pos + 1 < len(seq))
        idx, pos = idx[inside], pos[inside]
        left = _CODE[seq[pos - 1]].astype(np.intp)
        centre = _CODE[seq[pos]].astype(np.intp)
        right = _CODE[seq[pos + 1]].astype(np.intp)
        a = alt_code[idx]
        good = (
            (left >= 0) & (centre >= 0) & (right >= 0) & (a >= 0) & (centre == ref_code[idx]) & (a != centre)
        )
        out[rows[idx[good]]] = _SBS_LUT[left[good], centre[good], right[good], a[good]]
    return out


def dbs78_labels(variants: pd.DataFrame) -> np.ndarray:
    """DBS78 label of each DBS row, folded to COSMIC's strand (None otherwise).

    Only true doublets count: if either position is unchanged the row is an SNV written long, not a DBS.
    No reference is needed; whether ``ref`` matches the genome is checked by the gate.
    """
    out = np.full(len(variants), None, dtype=object)
    ref, alt = variants["ref"], variants["alt"]
    dbs = ((variants["type"] == "DBS") & (ref.str.len() == 2) & (alt.str.len() == 2)).to_numpy()
    rows = np.flatnonzero(dbs)
    if not rows.size:
        return out
    r = _codes(column(variants, "ref")[rows].tolist())
    a = _codes(column(variants, "alt")[rows].tolist())
    good = (r >= 0).all(axis=1) & (a >= 0).all(axis=1) & (r[:, 0] != a[:, 0]) & (r[:, 1] != a[:, 1])
    out[rows[good]] = _DBS_LUT[r[good, 0], r[good, 1], a[good, 0], a[good, 1]]
    return out


def merge_adjacent_snvs(variants: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Merge runs of adjacent SNVs of one sample on one contig: 2 → one DBS row, 3 or more → one MNV row.

    Callers (MAF, many VCFs) write a doublet as two SNVs; counting them as two SBS would inflate SBS96 and
    leave DBS78 empty. SigProfiler treats runs of 3+ as MNVs (counted in neither), and so do we. The merged
    row keeps every other column of the run's first SNV (``source_line`` included). Returns the table
    sorted by (sample_id, chrom, start) and the number of SNV rows that went into merged rows.
    """
    keys = ["sample_id", "chrom", "start"]
    is_snv = (variants["type"] == "SNV").to_numpy()
    snv = variants[is_snv].sort_values(keys, kind="stable")
    if len(snv) < 2:
        return variants.sort_values(keys, kind="stable").reset_index(drop=True), 0
    sample = pd.factorize(snv["sample_id"].to_numpy())[0]
    chrom = pd.factorize(snv["chrom"].to_numpy())[0]
    pos = snv["start"].to_numpy(dtype=np.int64)
    link = (sample[1:] == sample[:-1]) & (chrom[1:] == chrom[:-1]) & (np.diff(pos) == 1)
    new_run = np.concatenate([[True], ~link])
    run_id = np.cumsum(new_run) - 1
    run_len = np.bincount(run_id)
    in_run = run_len[run_id] >= 2
    merged_count = int(in_run.sum())
    if not merged_count:
        return variants.sort_values(keys, kind="stable").reset_index(drop=True), 0
    multi = np.flatnonzero(run_len >= 2)
    first_rows = np.flatnonzero(new_run)[multi]
    offsets = np.concatenate([[0], np.cumsum(run_len[multi])[:-1]])  # run starts within the in_run rows
    merged = snv.iloc[first_rows].copy()
    merged["ref"] = np.add.reduceat(column(snv, "ref")[in_run], offsets)
    merged["alt"] = np.add.reduceat(column(snv, "alt")[in_run], offsets)
    merged["type"] = np.where(run_len[multi] == 2, "DBS", "MNV")
    out = pd.concat([variants[~is_snv], snv[~in_run], merged], ignore_index=True)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)[list(variants.columns)], merged_count
