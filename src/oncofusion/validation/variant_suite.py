"""Checks on a variant cohort's ``variants.parquet``, named in the user's own file, line and column.

The cohort stage keeps every variant it read, with flags (contig known, position inside it, REF equal
to the FASTA, sample in the sheet), so the gate sees what was wrong in the input rather than a table
already cleaned of it. Each failure is reported per source file with the offending lines.
"""

from __future__ import annotations

from typing import Any

import great_expectations as gx
import pandas as pd

from oncofusion.config import ValidateParams

E = gx.expectations
ROW_COLUMNS = ["source_file", "source_line"]
ALLELE = r"^[ACGTN]*$"
EXAMPLES = 5


def expectations(columns: dict[str, str], sample_ids: list[str], params: ValidateParams) -> list[Any]:
    """``columns`` maps the table's fields to the source file's column names (for the messages)."""

    def meta(check: str, column: str, unexpected: str) -> dict[str, str]:
        return {"check": check, "source_column": column, "unexpected": unexpected}

    return [
        E.ExpectColumnValuesToNotBeNull(
            column="contig",
            meta=meta(
                "chromosome known to the reference FASTA", columns["chrom"], "name no contig of the FASTA"
            ),
        ),
        E.ExpectColumnValuesToBeInSet(
            column="in_contig",
            value_set=[True],
            meta=meta("position inside the contig", columns["start"], "lie outside their contig"),
        ),
        E.ExpectColumnValuesToMatchRegex(
            column="ref",
            regex=ALLELE,
            meta=meta("alleles in A, C, G, T, N or -", columns["ref"], "other letters"),
        ),
        E.ExpectColumnValuesToMatchRegex(
            column="alt",
            regex=ALLELE,
            meta=meta("alleles in A, C, G, T, N or -", columns["alt"], "other letters"),
        ),
        E.ExpectColumnValuesToBeInSet(
            column="ref_match",
            value_set=[True],
            mostly=1.0 - params.max_ref_mismatch,
            meta=meta(
                f"REF allele matches the FASTA (at most {params.max_ref_mismatch:.2%} may differ: "
                "validate.max_ref_mismatch)",
                columns["ref"],
                "disagree with the reference",
            ),
        ),
        E.ExpectCompoundColumnsToBeUnique(
            column_list=["sample_id", "chrom", "start", "ref", "alt"],
            meta=meta("each variant once per sample", columns["start"], "repeat an earlier variant"),
        ),
        E.ExpectColumnValuesToBeInSet(
            column="sample_id",
            value_set=sorted(set(sample_ids)),
            meta=meta("sample in the sample sheet", columns["sample"], "name samples not in the sheet"),
        ),
    ]


def checkable(frame: pd.DataFrame) -> pd.DataFrame:
    """Each fault is reported once: a variant off the reference fails the contig or position check,
    not also the REF comparison; an insertion has no REF to compare."""
    out = frame.copy()
    off_reference = ~out["in_contig"]
    out["ref_match"] = out["ref_match"] | off_reference | (out["ref"] == "")
    out["in_contig"] = out["in_contig"] | out["contig"].isna()
    return out


def describe(result: Any, n_rows: int) -> list[tuple[str, str, str]]:
    """(source file, source column, detail) per file with offending rows."""
    config = result.expectation_config
    outcome = result.result or {}
    column = config.meta["source_column"]
    hits = outcome.get("unexpected_index_list") or []
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return [("variants.parquet", column, f"could not be evaluated ({info.get('exception_message')})")]
    by_file: dict[str, list[int]] = {}
    for hit in hits:
        if isinstance(hit, dict):
            by_file.setdefault(str(hit["source_file"]), []).append(int(hit["source_line"]))
    if not by_file:
        count = outcome.get("unexpected_count", 0)
        return [("variants.parquet", column, f"{count} of {n_rows} variants {config.meta['unexpected']}")]
    out = []
    for file, lines in by_file.items():
        share = f" ({len(lines) / n_rows:.2%} of {n_rows})" if config.kwargs.get("mostly") else ""
        shown = ", ".join(str(line) for line in sorted(lines)[:EXAMPLES])
        out.append(
            (file, column, f"{len(lines)} row(s){share} {config.meta['unexpected']}, e.g. line(s) {shown}")
        )
    return out
