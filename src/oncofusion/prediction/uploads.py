"""A client's variants (an uploaded VCF or MAF, or JSON rows) → the normalised variant table.

Uploads are patient data and their names are the client's: the bytes go to a private temporary
directory under a fixed name chosen here from their content (never from the name the client sent,
which only appears in messages), are read with the cohort's own readers, and are deleted at once.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants import readers
from oncofusion.data.variants.table import make_table, trim_shared_prefix
from oncofusion.errors import CohortError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Upload:
    table: pd.DataFrame
    header_contigs: dict[str, int] = field(default_factory=dict)  # a VCF's ##contig lengths
    skipped: dict[str, int] = field(default_factory=dict)  # what the reader left out, by reason
    source: str = "request"


def _sniff(data: bytes, source: str) -> tuple[str, bool]:
    """("vcf" | "maf" | "icgc", gzipped) from the first bytes; a truncated gzip is refused here."""
    gzipped = data[:2] == GZIP_MAGIC
    if gzipped:
        try:
            text = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as error:
            raise CohortError(f"{source}: damaged or truncated gzip ({error})") from None
    else:
        text = data
    head = text[:65536].decode("utf-8", errors="replace")
    if head.startswith("##fileformat=VCF") or head.startswith("#CHROM"):
        return "vcf", gzipped
    first = next((line for line in head.splitlines() if line and not line.startswith("#")), "")
    if "icgc_mutation_id" in first.casefold():
        return "icgc", gzipped
    if "\t" not in first:
        raise CohortError(f"{source}: neither a VCF nor a tab-separated MAF (first line {first[:80]!r})")
    return "maf", gzipped


def _relabel(error: CohortError, path: Path, source: str) -> CohortError:
    """Readers name the file they opened; the client knows the upload by its own name."""
    return CohortError(str(error).replace(str(path), source).replace(path.name, source))


def read_upload(data: bytes, source: str, pass_only: bool = True) -> Upload:
    """Parse an uploaded VCF or MAF (plain, gzip or bgzip) from a private temporary file."""
    if not data:
        raise CohortError(f"{source}: empty upload")
    kind, gzipped = _sniff(data, source)
    decisions = Decisions()
    with tempfile.TemporaryDirectory(prefix="oncofusion-upload-") as private:
        os.chmod(private, 0o700)
        path = Path(private) / (f"upload.{'vcf' if kind == 'vcf' else 'tsv'}" + (".gz" if gzipped else ""))
        path.write_bytes(data)
        try:
            if kind == "vcf":
                return _read_vcf(path, source, decisions, pass_only)
            reader = readers.read_maf if kind == "maf" else readers.read_icgc
            table, _ = reader(path, decisions)
        except CohortError as error:
            raise _relabel(error, path, source) from None
    table["source_file"] = source
    return Upload(table=table, skipped=_skipped(decisions, path.name), source=source)


def _skipped(decisions: Decisions, name: str) -> dict[str, int]:
    return {d["decision"].removeprefix(f"{name}: "): int(d["count"]) for d in decisions.items}


def _read_vcf(path: Path, source: str, decisions: Decisions, pass_only: bool) -> Upload:
    import pysam

    pysam.set_verbosity(0)
    try:
        with pysam.VariantFile(str(path)) as handle:
            contigs = {str(name): int(c.length or 0) for name, c in handle.header.contigs.items()}
    except (OSError, ValueError) as error:
        raise CohortError(f"{source}: not a readable VCF ({error})") from None
    samples, rows = readers._vcf_records(path, decisions, pass_only)
    skipped = _skipped(decisions, path.name)
    if not rows:
        why = f" ({', '.join(f'{k}: {v}' for k, v in skipped.items())})" if skipped else ""
        raise CohortError(f"{source}: no usable variant record{why}")
    # One tumour per VCF, as in a cohort; a sites-only VCF is the upload's own tumour.
    sample = readers._tumour_sample(path, samples, "header") if samples else Path(source).name.split(".")[0]
    chrom, pos, ref, alt, line = zip(*rows, strict=True)
    ref_s = pd.Series(ref, dtype=object).str.upper()
    alt_s = pd.Series(alt, dtype=object).str.upper()
    start, ref_s, alt_s = trim_shared_prefix(np.asarray(pos, dtype=np.int64) - 1, ref_s, alt_s)
    table = make_table([sample] * len(rows), chrom, start, ref_s, alt_s, source, line)
    return Upload(table=table, header_contigs=contigs, skipped=skipped, source=source)


def rows_table(rows: Iterable[Any], source: str = "rows") -> Upload:
    """JSON rows (sample, chrom, 1-based VCF pos, ref, alt) → the variant table; row N is line N."""
    records = [r if isinstance(r, dict) else r.model_dump() for r in rows]
    if not records:
        raise CohortError(f"{source}: no variant rows")
    frame = pd.DataFrame(records)
    ref = frame["ref"].astype(str).str.upper().replace({"-": "", ".": ""})
    alt = frame["alt"].astype(str).str.upper().replace({"-": "", ".": ""})
    start, ref, alt = trim_shared_prefix(frame["pos"].to_numpy(dtype=np.int64) - 1, ref, alt)
    table = make_table(
        frame["sample"].astype(str),
        frame["chrom"].astype(str),
        start,
        ref,
        alt,
        source,
        np.arange(1, len(frame) + 1),
    )
    return Upload(table=table, source=source)
