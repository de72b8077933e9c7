"""CNV segments → one genome-binned ``genomic`` modality (two channels: mean log2 ratio, gain/loss call).

Each bin gets the length-weighted mean log2 ratio of the segments overlapping it, and a call (+1 gain,
-1 loss, 0 neutral) from that mean and the params' thresholds. A bin no segment covers is NaN, not 0:
"not measured" and "copy-neutral" are different facts, and the share of such bins is reported.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.cohort import Cohort, Domain, ModalitySpec, file_digest
from oncofusion.config import CohortParams, SegmentsParams
from oncofusion.data.assembly import GenomeBins, chromosome_table, fixed_bins
from oncofusion.data.decisions import Decisions
from oncofusion.data.segments.files import SegmentFile, read_segments
from oncofusion.data.tables.build import assemble, inside, read_labels, require_distinct_classes
from oncofusion.errors import CohortError

EXAMPLES = 5


def check_segments(
    segments: pd.DataFrame,
    path: Path,
    assembly: str,
    params: SegmentsParams,
    decisions: Decisions,
    one_based: bool = False,
) -> pd.DataFrame:
    """Coordinates checked against the assembly (errors quote the file's own numbers), then made
    0-based half-open; excluded chromosomes and value-less segments are counted."""
    lengths = chromosome_table(assembly.lower())["length"]
    reversed_ = segments[segments["start"] > segments["end"]]
    if not reversed_.empty:
        row = reversed_.iloc[0]
        raise CohortError(
            f"{path}:{row['line']}: segment start {row['start']} is after its end {row['end']} "
            f"({len(reversed_)} such segment(s))"
        )
    negative = segments[segments["start"] < 0]
    if not negative.empty:
        raise CohortError(f"{path}:{negative.iloc[0]['line']}: negative start {negative.iloc[0]['start']}")
    if one_based:
        segments = segments.assign(start=(segments["start"] - 1).clip(lower=0))
    excluded = (
        {"MT"} | ({"X"} if not params.include_x else set()) | ({"Y"} if not params.include_y else set())
    )
    drop = segments["chrom"].isin(excluded)
    for chrom in sorted(excluded):
        decisions.record(
            f"segments on chromosome {chrom} excluded (cohort.segments.include_x/include_y)",
            int((segments["chrom"] == chrom).sum()),
        )
    segments = segments[~drop]
    beyond = segments[segments["end"].to_numpy() > lengths.reindex(segments["chrom"]).to_numpy()]
    if not beyond.empty:
        row = beyond.iloc[0]
        raise CohortError(
            f"{path}:{row['line']}: segment end {row['end']} is beyond chromosome {row['chrom']}'s length "
            f"{lengths[row['chrom']]} in {assembly} ({len(beyond)} such segment(s)); is the assembly right?"
        )
    valueless = segments["log2"].isna()
    if valueless.any():
        kinds = segments.loc[valueless, "variant_type"].replace("", "unknown").value_counts()
        decisions.record(
            "segments without a log2 value excluded ("
            + ", ".join(f"{k} {v}" for k, v in kinds.items())
            + ")",
            int(valueless.sum()),
        )
    empty = segments["start"] == segments["end"]
    decisions.record("zero-length segments ignored", int((empty & ~valueless).sum()))
    return segments[~valueless & ~empty]


def _subtract(pieces: list[tuple[int, int, float]], start: int, end: int) -> list[tuple[int, int, float]]:
    out = []
    for s, e, v in pieces:
        if e <= start or s >= end:
            out.append((s, e, v))
            continue
        if s < start:
            out.append((s, start, v))
        if e > end:
            out.append((end, e, v))
    return out


def resolve_overlaps(segments: pd.DataFrame, path: Path, policy: str, decisions: Decisions) -> pd.DataFrame:
    """Overlapping segments of one sample are an error, or (policy ``later``) the later line wins where
    they overlap: earlier segments are cut back, so each base has one value."""
    ordered = segments.sort_values(["sample_id", "chrom", "start", "line"])
    previous_end = ordered.groupby(["sample_id", "chrom"])["end"].transform(
        lambda ends: ends.cummax().shift(1, fill_value=-1)
    )
    overlapping = ordered[ordered["start"] < previous_end]
    if overlapping.empty:
        return segments
    if policy == "error":
        row = overlapping.iloc[0]
        raise CohortError(
            f"{path}:{row['line']}: segment {row['chrom']}:{row['start']}-{row['end']} of sample "
            f"{row['sample_id']!r} overlaps an earlier one "
            f"({len(overlapping)} overlapping segment(s) in all); "
            "set cohort.segments.overlaps: later to let the later line win"
        )
    pieces: dict[tuple[str, str], list[tuple[int, int, float]]] = defaultdict(list)
    for sample, chrom, start, end, log2 in segments.sort_values("line")[
        ["sample_id", "chrom", "start", "end", "log2"]
    ].itertuples(index=False):
        key = (sample, chrom)
        pieces[key] = [*_subtract(pieces[key], int(start), int(end)), (int(start), int(end), float(log2))]
    decisions.record(
        "overlapping segments resolved in favour of the later line (cohort.segments.overlaps: later)",
        len(overlapping),
        [f"{r.sample_id} {r.chrom}:{r.start}-{r.end}" for r in overlapping.head(EXAMPLES).itertuples()],
    )
    rows = [(s, c, a, b, v) for (s, c), parts in pieces.items() for a, b, v in parts if b > a]
    return pd.DataFrame(rows, columns=["sample_id", "chrom", "start", "end", "log2"])


def bin_segments(
    segments: pd.DataFrame, bins: GenomeBins, sample_ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(length-weighted mean log2, covered fraction) per sample × bin; uncovered bins are NaN."""
    index = {s: i for i, s in enumerate(sample_ids)}
    first_bin = {}
    for i, chrom in enumerate(bins.chrom):
        first_bin.setdefault(chrom, i)
    weighted = np.zeros((len(sample_ids), len(bins)), dtype=np.float64)
    covered = np.zeros_like(weighted)
    for sample, chrom, start, end, log2 in segments[
        ["sample_id", "chrom", "start", "end", "log2"]
    ].itertuples(index=False):
        if sample not in index or chrom not in first_bin:
            continue
        offset = first_bin[chrom]
        width = int(bins.end[offset] - bins.start[offset])
        low, high = offset + int(start) // width, offset + (int(end) - 1) // width
        overlap = np.minimum(end, bins.end[low : high + 1]) - np.maximum(start, bins.start[low : high + 1])
        overlap = np.clip(overlap, 0, None).astype(np.float64)
        weighted[index[sample], low : high + 1] += overlap * log2
        covered[index[sample], low : high + 1] += overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(covered > 0, weighted / covered, np.nan)
    return mean, covered / (bins.end - bins.start)


def call(mean: np.ndarray, gain: float, loss: float) -> np.ndarray:
    calls = np.where(mean >= gain, 1.0, np.where(mean <= loss, -1.0, 0.0))
    return np.where(np.isnan(mean), np.nan, calls)


def _labels(
    seg: SegmentFile, params: CohortParams, root: Path, decisions: Decisions
) -> tuple[pd.DataFrame, str]:
    sp = params.segments
    if sp.labels:
        directory = root / params.path
        if not directory.is_dir():
            raise CohortError(
                f"cohort.segments.labels: with a labels file, point cohort.path at the directory holding it "
                f"and the segment file (not at {params.path}), so DVC tracks both"
            )
        path = inside(directory, sp.labels, "segments.labels")
        return read_labels(path, params.tables.label_column, params.tables.split_column, decisions), path.name
    if seg.samples.empty or sp.label_from not in seg.samples.columns:
        raise CohortError(
            f"{seg.path}: no sample labels; give a labels file (cohort.segments.labels) or a .pgxseg with "
            f"#biosample_id=> (or #sample=>) lines carrying {sp.label_from}"
        )
    samples = seg.samples.copy()
    unlabelled = samples[samples[sp.label_from].fillna("").str.strip() == ""]
    if not unlabelled.empty:
        raise CohortError(
            f"{seg.path}: #biosample_id lines without {sp.label_from} for "
            f"{unlabelled['sample_id'].head().tolist()}"
        )
    labels = pd.DataFrame({"sample_id": samples["sample_id"], "label": samples[sp.label_from].str.strip()})
    require_distinct_classes(labels["label"], f"{seg.path} ({sp.label_from})")
    for column in samples.columns:
        if column not in ("sample_id", sp.label_from):
            labels[column.replace("::", "_")] = samples[column].to_numpy()
    return labels, f"{seg.path.name} (#biosample_id lines)"


def _segment_file(path: Path) -> Path:
    """``cohort.path`` names the segment file, or a directory holding one (with its labels file, so
    DVC tracks both)."""
    if not path.is_dir():
        return path
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".pgxseg", ".seg"))
    if len(found) != 1:
        raise CohortError(
            f"{path}: expected one .pgxseg or .seg file in the directory, found {[p.name for p in found]}"
        )
    return found[0]


def segments_cohort(
    params: CohortParams, root: Path, decisions: Decisions
) -> tuple[Cohort, dict[str, float | None]]:
    """Read ``cohort.path`` (one .pgxseg or .seg file) into a cohort with one genomic modality."""
    sp = params.segments
    path = _segment_file(root / params.path)
    seg = read_segments(path, sp.format, decisions)
    if sp.assembly != "auto":
        assembly = sp.assembly
    elif seg.assembly is not None:
        assembly = seg.assembly
    else:
        raise CohortError(f"{path}: the file does not name its assembly; set cohort.segments.assembly")
    labels, labels_name = _labels(seg, params, root, decisions)
    segments = check_segments(seg.segments, path, assembly, sp, decisions, seg.one_based)
    segments = resolve_overlaps(segments, path, sp.overlaps, decisions)
    bins = fixed_bins(sp.bin_size, assembly.lower(), sp.include_x, sp.include_y)

    sample_ids = list(dict.fromkeys([*labels["sample_id"], *segments["sample_id"]]))
    mean, coverage = bin_segments(segments, bins, sample_ids)
    uncovered = np.isnan(mean)
    if sp.fill_uncovered is not None:
        mean = np.where(uncovered, sp.fill_uncovered, mean)
    with_segments = set(segments["sample_id"])
    has_data = np.array([s in with_segments for s in sample_ids])
    if sp.fill_uncovered is not None:
        # Where unlisted regions mean copy-neutral, a labelled sample without segments is all neutral.
        neutral = [s for s, has in zip(sample_ids, has_data, strict=True) if not has]
        decisions.record(
            f"labelled samples without usable segments filled with {sp.fill_uncovered:g} throughout "
            "(cohort.segments.fill_uncovered)",
            len(neutral),
            neutral,
        )
        has_data[:] = True
    values = np.concatenate([mean, call(mean, sp.gain_threshold, sp.loss_threshold)], axis=1)
    values[~has_data] = np.nan  # without a fill, a sample without segments has no data
    names = bins.names
    features = [f"log2:{n}" for n in names] + [f"call:{n}" for n in names]
    frame = pd.DataFrame(
        values.astype(np.float32), columns=features, index=pd.Index(sample_ids, name="sample_id")
    )
    frame = frame[has_data]
    stats = {
        "bins": len(bins),
        "uncovered_bin_fraction": float(uncovered[has_data].mean()) if has_data.any() else 1.0,
        "segments_used": len(segments),
        "fill_uncovered": sp.fill_uncovered,
        "mean_bin_coverage": float(coverage[has_data].mean()) if has_data.any() else 0.0,
    }
    spec = ModalitySpec(
        file=f"{sp.modality}.parquet",
        features=features,
        domain=Domain(max_nan_fraction=1.0),
        kind="genomic",
        channels=2,
        description=f"{params.path}",
    )
    provenance = {
        "source": "segments",
        "path": params.path,
        "format": path.suffix.lstrip("."),
        "assembly": assembly,
        "bin_size": sp.bin_size,
        "files": {path.name: file_digest(path)},
        "binning": stats,
    }
    cohort = assemble(
        params.name,
        labels,
        {sp.modality: frame},
        {sp.modality: spec},
        params,
        provenance,
        decisions,
        labels_name,
    )
    return cohort, stats
