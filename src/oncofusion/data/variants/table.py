"""The normalised variant table every reader produces (MAF, ICGC, VCF) and every consumer reads.

Coordinates are 0-based, half-open on the reference: ``ref`` spans ``[start, start + len(ref))``. An
insertion has ``ref == ""`` and its bases go between ``start - 1`` and ``start``; a deletion has
``alt == ""``. Alleles are uppercase ``ACGTN``. One convention, fixed here, means MAF's ``-`` alleles
and VCF's padding base are each resolved once, in their reader, and never again downstream.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["sample_id", "chrom", "start", "ref", "alt", "type", "source_file", "source_line"]
TYPES = ("SNV", "DBS", "MNV", "INS", "DEL", "COMPLEX")


def variant_type(ref: pd.Series, alt: pd.Series) -> np.ndarray:
    """SNV, DBS (2 bp substitution), MNV (longer substitution), INS, DEL or COMPLEX (both change length)."""
    ref_len = ref.str.len().to_numpy()
    alt_len = alt.str.len().to_numpy()
    return np.select(
        [
            (ref_len == 1) & (alt_len == 1),
            (ref_len == 2) & (alt_len == 2),
            (ref_len == alt_len) & (ref_len > 2),
            ref_len == 0,
            alt_len == 0,
        ],
        ["SNV", "DBS", "MNV", "INS", "DEL"],
        default="COMPLEX",
    )


def trim_shared_prefix(
    start: np.ndarray, ref: pd.Series, alt: pd.Series
) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """Drop the bases REF and ALT share at the left (VCF's padding base), moving ``start`` right."""
    ref_list, alt_list = ref.tolist(), alt.tolist()
    start = start.copy()
    for i, (r, a) in enumerate(zip(ref_list, alt_list, strict=True)):
        k = 0
        limit = min(len(r), len(a))
        while k < limit and r[k] == a[k]:
            k += 1
        if k:
            ref_list[i], alt_list[i] = r[k:], a[k:]
            start[i] += k
    return start, pd.Series(ref_list, index=ref.index), pd.Series(alt_list, index=alt.index)


def make_table(sample_id, chrom, start, ref, alt, source_file: str, source_line) -> pd.DataFrame:
    ref = pd.Series(ref, dtype=object).astype(str)
    alt = pd.Series(alt, dtype=object).astype(str)
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series(sample_id, dtype=object).astype(str).to_numpy(),
            "chrom": pd.Series(chrom, dtype=object).astype(str).to_numpy(),
            "start": np.asarray(start, dtype=np.int64),
            "ref": ref.to_numpy(),
            "alt": alt.to_numpy(),
        }
    )
    frame["type"] = variant_type(frame["ref"], frame["alt"])
    frame["source_file"] = source_file
    frame["source_line"] = np.asarray(source_line, dtype=np.int64)
    return frame[COLUMNS]


def end(frame: pd.DataFrame) -> np.ndarray:
    return frame["start"].to_numpy() + frame["ref"].str.len().to_numpy()
