"""Somatic-variant files → the normalised variant table (:mod:`.table`).

Three formats, as users get them: a MAF (TCGA MC3 / PCAWG consensus: ``Tumor_Sample_Barcode``,
``Chromosome``, ``Start_Position`` …, any capitalisation, ``-`` for an empty indel allele), the ICGC
portal's ``simple_somatic_mutation`` TSV (one row per consequence: deduplicated by mutation and sample),
and VCFs, read with pysam (one tumour sample per file, multi-allelic sites split). Every row keeps its
file and line, so the gate can name them.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.table import COLUMNS, make_table, trim_shared_prefix
from oncofusion.errors import CohortError

MAF_REQUIRED = (
    "Tumor_Sample_Barcode",
    "Chromosome",
    "Start_Position",
    "Reference_Allele",
    "Tumor_Seq_Allele2",
)
ICGC_REQUIRED = (
    "icgc_mutation_id",
    "chromosome",
    "chromosome_start",
    "reference_genome_allele",
    "mutated_to_allele",
)
VCF_SUFFIXES = (".vcf", ".vcf.gz", ".bcf")
EMPTY_ALLELE = {"-", "", "."}


@dataclass(frozen=True)
class SourceColumns:
    """Which of the user's columns each table field came from, so gate messages use the file's names."""

    sample: str
    chrom: str
    start: str
    ref: str
    alt: str


def _open_text(path: Path):
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else path.open()


def _header(path: Path) -> tuple[list[str], int]:
    """The column names and the 1-based line they are on (MAFs start with ``#version`` comments)."""
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.startswith("#") and line.strip():
                return line.rstrip("\n\r").split("\t"), line_no
    raise CohortError(f"{path}: no header line")


def _resolve_columns(path: Path, header: list[str], wanted: tuple[str, ...], sample: str) -> dict[str, str]:
    """Match wanted column names case-insensitively (MAFs spell ``Start_position``/``Start_Position``)."""
    by_fold = {h.strip().casefold(): h for h in header}
    names = (sample, *wanted[1:]) if sample else wanted
    found, missing = {}, []
    for name in names:
        column = by_fold.get(name.casefold())
        if column is None:
            missing.append(name)
        found[name] = column
    if missing:
        raise CohortError(
            f"{path}: required column(s) missing: {', '.join(missing)} "
            f"(columns found: {', '.join(header[:12])}{' …' if len(header) > 12 else ''})"
        )
    return found


def _read_tsv(path: Path, columns: list[str], header_line: int) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            sep="\t",
            comment=None,
            skiprows=header_line - 1,
            usecols=columns,
            dtype=str,
            keep_default_na=False,
            quoting=3,  # csv.QUOTE_NONE: MAF cells are never quoted
            low_memory=False,
        )
    except Exception as error:  # parser errors come in many types
        raise CohortError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    # pandas skips comment-free blank lines; line numbers assume none inside the body (MAFs have none).
    frame["__line"] = np.arange(header_line + 1, header_line + 1 + len(frame), dtype=np.int64)
    return frame


def _positions(path: Path, text: pd.Series, column: str, lines: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(text.str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers < 1) | (numbers % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CohortError(
            f"{path}:{lines[i]}: column {column}: {text.iloc[i]!r} is not a 1-based position "
            f"({int(bad.sum())} such row(s))"
        )
    return numbers.to_numpy(dtype=np.int64)


def _alleles(text: pd.Series) -> tuple[pd.Series, int]:
    """Uppercase alleles with ``-``/``.``/empty as the empty allele, and how many were lowercase."""
    cleaned = text.str.strip()
    upper = cleaned.str.upper()
    return upper.where(~upper.isin(EMPTY_ALLELE), ""), int((upper != cleaned).sum())


def _to_start0(start1: np.ndarray, ref: pd.Series) -> np.ndarray:
    """MAF/ICGC 1-based starts: an insertion's start is the base before it, so its 0-based insertion
    point (the base after) equals the 1-based start; everything else moves down by one."""
    return np.where(ref.str.len().to_numpy() == 0, start1, start1 - 1)


def _one_based_table(
    path: Path, raw: pd.DataFrame, columns: SourceColumns, decisions: Decisions
) -> tuple[pd.DataFrame, SourceColumns]:
    """MAF and ICGC rows (1-based starts, ``-`` alleles) → the variant table."""
    lines = raw["__line"].to_numpy()
    ref, ref_lowered = _alleles(raw[columns.ref])
    alt, alt_lowered = _alleles(raw[columns.alt])
    decisions.record(f"{path.name}: lowercase alleles read as uppercase", ref_lowered + alt_lowered)
    start1 = _positions(path, raw[columns.start], columns.start, lines)
    table = make_table(
        raw[columns.sample].str.strip(),
        raw[columns.chrom].str.strip(),
        _to_start0(start1, ref),
        ref,
        alt,
        path.name,
        lines,
    )
    return table, columns


def read_maf(
    path: Path, decisions: Decisions, sample_column: str | None = None
) -> tuple[pd.DataFrame, SourceColumns]:
    header, header_line = _header(path)
    sample_name = sample_column or MAF_REQUIRED[0]
    cols = _resolve_columns(path, header, MAF_REQUIRED, sample_name)
    raw = _read_tsv(path, list(dict.fromkeys(cols.values())), header_line)
    columns = SourceColumns(
        cols[sample_name],
        cols["Chromosome"],
        cols["Start_Position"],
        cols["Reference_Allele"],
        cols["Tumor_Seq_Allele2"],
    )
    return _one_based_table(path, raw, columns, decisions)


def read_icgc(
    path: Path, decisions: Decisions, sample_column: str | None = None
) -> tuple[pd.DataFrame, SourceColumns]:
    """ICGC ``simple_somatic_mutation``: 1-based ``chromosome_start``; an insertion (``-`` reference)
    goes after ``chromosome_start``, as in MAF. One row per consequence, so rows repeat per mutation."""
    header, header_line = _header(path)
    sample_name = sample_column or "icgc_sample_id"
    cols = _resolve_columns(path, header, (sample_name, *ICGC_REQUIRED), sample_name)
    raw = _read_tsv(path, list(dict.fromkeys(cols.values())), header_line)
    before = len(raw)
    raw = raw.drop_duplicates(subset=[cols["icgc_mutation_id"], cols[sample_name]], keep="first")
    decisions.record(
        f"{path.name}: repeated consequence rows of one mutation and sample merged", before - len(raw)
    )
    columns = SourceColumns(
        cols[sample_name],
        cols["chromosome"],
        cols["chromosome_start"],
        cols["reference_genome_allele"],
        cols["mutated_to_allele"],
    )
    return _one_based_table(path, raw, columns, decisions)


def _tumour_sample(path: Path, samples: list[str], sample_from: str) -> str:
    if sample_from == "filename":
        return path.name.split(".")[0]
    if not samples:
        raise CohortError(
            f"{path}: no sample column, so the VCF does not say whose variants these are; add the sample "
            "column or set cohort.variants.vcf_sample_from: filename (the name up to its first '.')"
        )
    if len(samples) == 1:
        return samples[0]
    tumour = [s for s in samples if s.upper() in ("TUMOR", "TUMOUR")]
    if len(tumour) == 1:
        return tumour[0]
    raise CohortError(
        f"{path}: {len(samples)} samples ({', '.join(samples[:5])}) and none is named TUMOR; "
        "give one tumour sample per VCF"
    )


def _vcf_records(path: Path, decisions: Decisions, pass_only: bool):
    pysam.set_verbosity(0)  # htslib's "could not retrieve index" is noise: VCFs are read in full, in order
    try:
        handle = pysam.VariantFile(str(path))
    except (OSError, ValueError) as error:
        raise CohortError(f"{path}: not a readable VCF ({error})") from None
    rows, filtered, symbolic = [], 0, 0
    with handle:
        samples = list(handle.header.samples)
        header_lines = len(str(handle.header).splitlines())
        try:
            for ordinal, record in enumerate(handle, start=1):
                if pass_only:
                    keys = list(record.filter.keys())
                    if keys and keys != ["PASS"]:
                        filtered += 1
                        continue
                for alt in record.alts or ():
                    if alt.startswith("<") or "[" in alt or "]" in alt or alt == "*":
                        symbolic += 1
                        continue
                    # One record a line after the header (pysam does not expose line numbers).
                    rows.append((record.chrom, record.pos, record.ref, alt, header_lines + ordinal))
        except (OSError, ValueError) as error:
            raise CohortError(f"{path}: broken VCF record after {len(rows)} records ({error})") from None
    decisions.record(f"{path.name}: records not PASS skipped", filtered)
    decisions.record(f"{path.name}: symbolic or breakend alleles skipped (not sequence-resolved)", symbolic)
    return samples, rows


def read_vcf(
    path: Path, decisions: Decisions, sample_from: str = "header", pass_only: bool = True
) -> pd.DataFrame:
    samples, rows = _vcf_records(path, decisions, pass_only)
    sample = _tumour_sample(path, samples, sample_from)
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    chrom, pos, ref, alt, line = zip(*rows, strict=True)
    ref_s = pd.Series(ref, dtype=object).str.upper()
    alt_s = pd.Series(alt, dtype=object).str.upper()
    start, ref_s, alt_s = trim_shared_prefix(np.asarray(pos, dtype=np.int64) - 1, ref_s, alt_s)
    return make_table([sample] * len(rows), chrom, start, ref_s, alt_s, path.name, line)


def vcf_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if p.name.endswith(VCF_SUFFIXES))
    if not found:
        raise CohortError(f"{path}: no VCF files (*.vcf, *.vcf.gz, *.bcf)")
    return found


VCF_COLUMNS = SourceColumns("sample", "CHROM", "POS", "REF", "ALT")


def germline_snvs(path: Path, decisions: Decisions, sample_from: str = "header") -> pd.DataFrame:
    """Matched-normal germline variants: only SNVs enter the normal windows (indels would shift
    coordinates of both windows alike and are counted, not applied)."""
    tables = [read_vcf(p, decisions, sample_from, pass_only=True) for p in vcf_files(path)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    snv = table["type"] == "SNV"
    decisions.record("germline variants other than SNVs not applied to windows", int((~snv).sum()))
    return table[snv].reset_index(drop=True)


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir() or name.endswith(VCF_SUFFIXES):
        return "vcf"
    header, _ = _header(path)
    folded = {h.casefold() for h in header}
    if "icgc_mutation_id" in folded:
        return "icgc"
    return "maf"


def read_variants(
    path: Path,
    fmt: str,
    decisions: Decisions,
    sample_column: str | None,
    vcf_sample_from: str,
    pass_only: bool,
) -> tuple[pd.DataFrame, SourceColumns]:
    if not path.exists():
        raise CohortError(f"{path}: variant file is missing")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "maf":
        return read_maf(path, decisions, sample_column)
    if fmt == "icgc":
        return read_icgc(path, decisions, sample_column)
    tables = [read_vcf(p, decisions, vcf_sample_from, pass_only) for p in vcf_files(path)]
    return pd.concat(tables, ignore_index=True), VCF_COLUMNS
