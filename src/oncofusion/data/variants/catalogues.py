"""Mutational catalogues (SBS96, DBS78, ID83, genomic density) from the normalised variant table.

The class lists and their order are read from the packaged COSMIC v3 signature tables, so a catalogue's
rows line up with the signatures it will be fitted against without any re-ordering downstream. Counts are
written in SigProfilerMatrixGenerator's layout (``MutationType`` then one column per sample) so the
matrices can be checked against, or fed to, the SigProfiler tools directly.

Conventions (see :mod:`.table`): 0-based coordinates, ``ref`` spans ``[start, start + len(ref))``, an
insertion has ``ref == ""`` with its bases between ``start - 1`` and ``start``, a deletion ``alt == ""``.
``chrom`` is already the reference's contig name. A variant that cannot be classified (N or a contig edge
in the context it needs, a table allele that disagrees with the reference, an unknown contig) gets the
label ``None`` and is simply not counted: rejecting such rows is the gate's job, not the catalogue's.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion import progress
from oncofusion.atomic import atomic_path
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.signatures import cosmic

BASES = "ACGT"
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_N = ord("N")
# Base → 0..3 (A, C, G, T); anything else (N, IUPAC, '?') → -1 so it can never be classified.
_CODE = np.full(256, -1, dtype=np.int8)
for _i, _b in enumerate(BASES):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_DROP_ACGT = str.maketrans("", "", BASES)
# Repeat counts and microhomology lengths are capped at 5 ("5+"); indel sizes likewise.
_CAP = 5
_COUNT = ("0", "1", "2", "3", "4", "5+")
_SIZE = ("0", "1", "2", "3", "4", "5+")


def revcomp(seq: str) -> str:
    """Reverse complement of an ACGT string (the other strand read 5'→3')."""
    return seq.translate(_COMPLEMENT)[::-1]


# --------------------------------------------------------------------------------------------------
# Class lists, from the packaged COSMIC tables (the order every catalogue uses).


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
    """Every label :func:`id83_label` can produce (sizes 1..6 cover every size class)."""
    labels = {f"1:{kind}:{base}:{count}" for kind in ("Del", "Ins") for base in "CT" for count in _COUNT}
    for n in range(2, 7):
        size = _SIZE[min(n, _CAP)]
        labels |= {f"{size}:{kind}:R:{count}" for kind in ("Del", "Ins") for count in _COUNT}
        labels |= {f"{size}:Del:M:{_COUNT[min(m, _CAP)]}" for m in range(1, n)}
    return labels


@functools.cache
def id83_classes() -> tuple[str, ...]:
    """The 83 small insertion/deletion classes ``size:Del|Ins:C|T|R|M:count`` in COSMIC order."""
    return _require(_mutation_types("id83"), _id83_expected(), "ID83")


SBS96: tuple[str, ...] = sbs96_classes()
DBS78: tuple[str, ...] = dbs78_classes()
ID83: tuple[str, ...] = id83_classes()


def _sbs_lookup() -> np.ndarray:
    """(left, centre, right, alt) codes → SBS96 label on the pyrimidine strand; None where alt == centre."""
    table = np.full((4, 4, 4, 4), None, dtype=object)
    for (li, left), (ci, centre), (ri, right), (ai, alt) in itertools.product(enumerate(BASES), repeat=4):
        if alt == centre:
            continue
        if centre in "AG":  # report on the pyrimidine strand: reverse-complement context, complement alt
            left, centre, right = revcomp(left + centre + right)
            alt = alt.translate(_COMPLEMENT)
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


# --------------------------------------------------------------------------------------------------
# Helpers.


def _codes(strings: Sequence[str]) -> np.ndarray:
    """Base codes of equal-length ASCII strings, one row per string (one bytes join, no per-row loop)."""
    width = len(strings[0]) if len(strings) else 1
    raw = np.frombuffer("".join(strings).encode("ascii", "replace"), dtype=np.uint8)
    return _CODE[raw].reshape(-1, width).astype(np.intp)


def _by_contig(chroms: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(contig, positions into ``chroms``) for each contig present, via one stable argsort."""
    codes, names = pd.factorize(chroms)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    for k, name in enumerate(names):
        yield str(name), order[bounds[k] : bounds[k + 1]]


def _column(variants: pd.DataFrame, name: str) -> np.ndarray:
    return variants[name].to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------------
# SBS96 and DBS78.


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
    ref_code = _codes(_column(variants, "ref")[rows].tolist())[:, 0]
    alt_code = _codes(_column(variants, "alt")[rows].tolist())[:, 0]
    starts = variants["start"].to_numpy(dtype=np.int64)[rows]
    for contig, idx in _by_contig(_column(variants, "chrom")[rows]):
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
    r = _codes(_column(variants, "ref")[rows].tolist())
    a = _codes(_column(variants, "alt")[rows].tolist())
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
    merged["ref"] = np.add.reduceat(_column(snv, "ref")[in_run], offsets)
    merged["alt"] = np.add.reduceat(_column(snv, "alt")[in_run], offsets)
    merged["type"] = np.where(run_len[multi] == 2, "DBS", "MNV")
    out = pd.concat([variants[~is_snv], snv[~in_run], merged], ignore_index=True)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)[list(variants.columns)], merged_count


# --------------------------------------------------------------------------------------------------
# ID83.


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
    width = _CAP * n + 1
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
    limit = _CAP * n
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
        return f"1:{kind}:{'C' if unit in 'CG' else 'T'}:{_COUNT[min(tract, _CAP)]}"
    size = _SIZE[min(n, _CAP)]
    repeats = tract // n
    if deletion and repeats == 0 and tract > 0:
        return f"{size}:Del:M:{_COUNT[min(tract, _CAP)]}"
    return f"{size}:{kind}:R:{_COUNT[min(repeats, _CAP)]}"


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
    refs = _column(variants, "ref")[rows]
    alts = _column(variants, "alt")[rows]
    for contig, idx in _by_contig(_column(variants, "chrom")[rows]):
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
    contig = pd.Index(list(lengths), dtype=object).get_indexer(_column(variants, "chrom"))
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
        sample_order = sorted({str(s) for s in _column(variants, "sample_id")})
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
    SNVs must already have been merged (:func:`merge_adjacent_snvs`) on the whole table: a doublet split
    across two blocks would otherwise be missed. Density bins cover ``density_contigs`` (default: every
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
