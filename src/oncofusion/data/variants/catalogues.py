"""Mutational catalogues (SBS96, DBS78, ID83, genomic density) from the normalised variant table.

Each row is labelled by its classifier (:mod:`~oncofusion.data.variants.substitutions`,
:mod:`~oncofusion.data.variants.indels`) and counted per sample in the class order of
:mod:`~oncofusion.data.variants.classes`. Counts are written in SigProfilerMatrixGenerator's layout
(``MutationType`` then one column per sample) so the matrices can be checked against, or fed to, the
SigProfiler tools directly.

Conventions (see :mod:`.table`): 0-based coordinates, ``ref`` spans ``[start, start + len(ref))``, an
insertion has ``ref == ""`` with its bases between ``start - 1`` and ``start``, a deletion ``alt == ""``.
``chrom`` is already the reference's contig name. A variant that cannot be classified (N or a contig edge
in the context it needs, a table allele that disagrees with the reference, an unknown contig) gets the
label ``None`` and is simply not counted: rejecting such rows is the gate's job, not the catalogue's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion import progress
from oncofusion.atomic import atomic_path
from oncofusion.data.variants.classes import DBS78, ID83, SBS96
from oncofusion.data.variants.columns import column
from oncofusion.data.variants.indels import id83_labels
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.substitutions import dbs78_labels, sbs96_labels

# --------------------------------------------------------------------------------------------------
# Counting.


def _codes_in(values: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """Index of each value in ``categories`` (-1 if absent or None): factorise the rows once, then look
    up only the distinct values (a few thousand samples or classes, against millions of rows)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    lookup = pd.Index(list(categories), dtype=object).get_indexer(pd.Index(uniques, dtype=object))
    out = np.full(len(codes), -1, dtype=np.int64)
    present = codes >= 0
    out[present] = lookup[codes[present]]
    return out


def _sample_codes(samples: np.ndarray, sample_order: Sequence[str]) -> np.ndarray:
    """Column index of each row's sample; an unlisted sample is an error, never a silent drop."""
    codes = _codes_in(samples, sample_order)
    unknown = codes < 0
    if unknown.any():
        names = sorted({str(s) for s in np.asarray(samples, dtype=object)[unknown]})
        raise ValueError(f"{len(names)} sample(s) not in sample_order, e.g. {names[:5]}")
    return codes


def _count(features: np.ndarray, samples: np.ndarray, n_features: int, n_samples: int) -> np.ndarray:
    """features × samples count matrix from per-row codes (rows with feature -1 are skipped)."""
    keep = features >= 0
    flat = features[keep].astype(np.int64) * n_samples + samples[keep]
    return np.bincount(flat, minlength=n_features * n_samples).reshape(n_features, n_samples).astype(np.int64)


def _frame(counts: np.ndarray, features: Sequence[str], sample_order: Sequence[str]) -> pd.DataFrame:
    index = pd.Index(list(features), name="MutationType", dtype=object)
    return pd.DataFrame(
        counts.astype(np.int64), index=index, columns=pd.Index(list(sample_order), dtype=object)
    )


def catalogue(
    labels: np.ndarray, samples: np.ndarray, classes: Sequence[str], sample_order: Sequence[str]
) -> pd.DataFrame:
    """Counts of each class per sample: features × samples, index ``MutationType``, int64.

    Rows whose label is None (or not in ``classes``) are not counted. Every sample in ``sample_order``
    gets a column, zeros if it has no variants, so catalogues of different cohorts slices stack; a row of
    a sample missing from ``sample_order`` raises ValueError.
    """
    feature_codes = _codes_in(labels, classes)
    sample_codes = _sample_codes(samples, sample_order)
    counts = _count(feature_codes, sample_codes, len(classes), len(sample_order))
    return _frame(counts, classes, sample_order)


def bin_names(lengths: dict[str, int], bin_size: int) -> list[str]:
    """``chrom:start-end`` (0-based, half-open) for each bin of each contig, in ``lengths`` order."""
    if bin_size <= 0:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    names: list[str] = []
    for chrom, length in lengths.items():
        names.extend(f"{chrom}:{lo}-{min(lo + bin_size, length)}" for lo in range(0, length, bin_size))
    return names


def _density_counts(
    variants: pd.DataFrame, lengths: dict[str, int], bin_size: int, sample_order: Sequence[str]
) -> np.ndarray:
    contig_lengths = np.array(list(lengths.values()), dtype=np.int64)
    n_bins = -(-contig_lengths // bin_size)
    offsets = np.concatenate([[0], np.cumsum(n_bins)[:-1]]).astype(np.int64)
    contig = pd.Index(list(lengths), dtype=object).get_indexer(column(variants, "chrom"))
    start = variants["start"].to_numpy(dtype=np.int64)
    inside = contig >= 0
    inside[inside] &= (start[inside] >= 0) & (start[inside] < contig_lengths[contig[inside]])
    features = np.full(len(variants), -1, dtype=np.int64)
    features[inside] = offsets[contig[inside]] + start[inside] // bin_size
    samples = _sample_codes(variants["sample_id"].to_numpy(dtype=object), sample_order)
    return _count(features, samples, int(n_bins.sum()), len(sample_order))


def density(
    variants: pd.DataFrame,
    lengths: dict[str, int],
    bin_size: int,
    sample_order: Sequence[str] | None = None,
) -> tuple[list[str], pd.DataFrame]:
    """Mutations (every row, whatever its type) per ``bin_size`` bin of the given contigs, per sample.

    Returns the bin names and a features × samples frame laid out like the other catalogues (index
    ``MutationType`` holding the bin names), so all four are written the same way. Rows on contigs not in
    ``lengths`` or past a contig's end are not counted. ``sample_order`` defaults to the sorted samples
    present; pass it to get zero columns for samples without variants.
    """
    names = bin_names(lengths, bin_size)
    if sample_order is None:
        sample_order = sorted({str(s) for s in column(variants, "sample_id")})
    counts = _density_counts(variants, lengths, bin_size, sample_order)
    return names, _frame(counts, names, sample_order)


# --------------------------------------------------------------------------------------------------
# Output.


def sigprofiler_text(frame: pd.DataFrame) -> str:
    """A catalogue as SigProfilerMatrixGenerator writes it: TSV, ``MutationType`` then one column per
    sample, integer counts (a fractional count means something upstream is not counting)."""
    if not all(pd.api.types.is_integer_dtype(dtype) for dtype in frame.dtypes):
        raise ValueError("catalogue counts must be integers")
    return frame.rename_axis("MutationType").to_csv(sep="\t", lineterminator="\n")


def write_sigprofiler(frame: pd.DataFrame, path: str | Path) -> None:
    """Atomic (temp file beside the target, then ``os.replace``), so an interrupted run never leaves a
    truncated matrix that a later stage would read as real counts."""
    with atomic_path(path) as tmp:
        tmp.write_text(sigprofiler_text(frame))


def _chunks(variants: pd.DataFrame | Iterable[pd.DataFrame], chunk_rows: int) -> Iterator[pd.DataFrame]:
    blocks = [variants] if isinstance(variants, pd.DataFrame) else variants
    for block in blocks:
        for lo in range(0, len(block), chunk_rows):
            yield block.iloc[lo : lo + chunk_rows]


def build_catalogues(
    reference: Reference,
    variants: pd.DataFrame | Iterable[pd.DataFrame],
    sample_order: Sequence[str],
    bin_size: int,
    chunk_rows: int = 2_000_000,
    *,
    density_contigs: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """SBS96, DBS78, ID83 and density catalogues of a cohort, summed over blocks of ``chunk_rows`` rows.

    Labels (Python strings) cost far more memory than the table itself, so they only ever exist for one
    block at a time; ``variants`` may also be an iterable of tables (e.g. parquet row groups). Adjacent
    SNVs must already have been merged
    (:func:`~oncofusion.data.variants.substitutions.merge_adjacent_snvs`) on the whole table: a doublet
    split across two blocks would otherwise be missed. Density bins cover ``density_contigs`` (default: every
    reference contig, in reference order).
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    contigs = list(reference.lengths) if density_contigs is None else list(density_contigs)
    lengths = {name: reference.lengths[name] for name in contigs}
    names = bin_names(lengths, bin_size)
    n_samples = len(sample_order)
    totals = {
        "sbs96": np.zeros((len(SBS96), n_samples), dtype=np.int64),
        "dbs78": np.zeros((len(DBS78), n_samples), dtype=np.int64),
        "id83": np.zeros((len(ID83), n_samples), dtype=np.int64),
        "density": np.zeros((len(names), n_samples), dtype=np.int64),
    }
    total_rows = len(variants) if isinstance(variants, pd.DataFrame) else None
    with progress.task("catalogues (variants)", total_rows) as advance:
        for chunk in _chunks(variants, chunk_rows):
            # Arrow-backed strings convert to Python objects on every access: convert each column once.
            chunk = chunk.astype({c: object for c in ("sample_id", "chrom") if c in chunk})
            samples = chunk["sample_id"].to_numpy(dtype=object)
            totals["sbs96"] += catalogue(
                sbs96_labels(reference, chunk), samples, SBS96, sample_order
            ).to_numpy()
            totals["dbs78"] += catalogue(dbs78_labels(chunk), samples, DBS78, sample_order).to_numpy()
            totals["id83"] += catalogue(id83_labels(reference, chunk), samples, ID83, sample_order).to_numpy()
            totals["density"] += _density_counts(chunk, lengths, bin_size, sample_order)
            advance(len(chunk))
    features = {"sbs96": SBS96, "dbs78": DBS78, "id83": ID83, "density": names}
    return {key: _frame(totals[key], features[key], sample_order) for key in totals}
