"""A variant cohort end to end through cohort → gate, and each bad input the issue names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.build import variants_cohort
from oncofusion.data.variants.reference import write_fasta, write_plain_gzip
from oncofusion.errors import CohortError
from oncofusion.stages.cohort import build_cohort
from oncofusion.validation import run_gate

from .conftest import variant_cohort_params

#                  0         1         2         3
#                  0123456789012345678901234567890123456789
GENOME = {"chr1": "ACGTTGCAACCCCGGGAAATTTACGTAcgtacgtAAGGCCTT", "chr2": "TTTTGGGGCCCCAAAA" * 3}
MAF_HEADER = (
    "Chromosome\tStart_Position\tEnd_Position\tReference_Allele\tTumor_Seq_Allele2\tTumor_Sample_Barcode\n"
)
MAF_ROWS = [
    "1\t3\t3\tG\tA\tT1",  # 0-based 2: C G T, a purine: reverse complement A[C>T]G
    "1\t10\t10\tC\tT\tT1",  # 0-based 9: A C C → A[C>T]C
    "1\t29\t29\tg\tt\tT1",  # soft-masked c g t, lowercase alleles (counted) → A[C>A]G
    "1\t12\t13\t-\tC\tT2",  # insertion into the CCCC run
    "2\t5\t6\tGG\t-\tT2",  # deletion in the GGGG run
    "1\t20\t21\tTT\tCC\tT3",  # a DNP row → DBS
]
SHEET = (
    "sample_id\tdonor_id\thistology_abbreviation\torgan_system\n"
    "T1\tD1\tA-Type\tx\nT2\tD2\tB-Type\ty\nT3\tD3\tA-Type\tx\n"
)


def make_inputs(directory: Path, rows: list[str] = MAF_ROWS, sheet: str = SHEET, bgzip: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_fasta(GENOME, directory / "reference.fa.gz", bgzip=bgzip) if bgzip else None
    (directory / "somatic.maf").write_text(MAF_HEADER + "\n".join(rows) + "\n")
    (directory / "samples.tsv").write_text(sheet)
    return directory


def params(directory: Path, **overrides):
    raw = variant_cohort_params(
        directory,
        variants="somatic.maf",
        catalogues=["sbs96", "dbs78", "id83", "density"],
        density_bin=20_000,
    )
    raw["cohort"]["variants"].pop("germline")
    raw["cohort"]["variants"].update(overrides.pop("variants", {}))
    raw["cohort"].update(overrides)
    return parse_params(raw)


def build(directory: Path, **overrides):
    decisions = Decisions()
    cohort, stats = variants_cohort(params(directory, **overrides).cohort, Path("."), decisions)
    return cohort, stats, decisions


def test_catalogues_become_modalities_and_windows_travel_with_the_cohort(tmp_path: Path):
    cohort, stats, decisions = build(make_inputs(tmp_path / "in"))
    assert set(cohort.modalities) == {"sbs96", "dbs78", "id83", "density"}
    assert cohort.meta.modalities["density"].kind == "genomic"
    assert cohort.meta.modalities["sbs96"].transform == "proportion"
    sbs = cohort.modalities["sbs96"]
    assert sbs.loc["T1", ["A[C>T]G", "A[C>T]C", "A[C>A]G"]].tolist() == [1, 1, 1]
    assert sbs.loc["T1"].sum() == 3 and sbs.loc["T2"].sum() == 0
    assert cohort.modalities["dbs78"].loc["T3", "TT>CC"] == 1
    id83 = cohort.modalities["id83"].loc["T2"]
    assert id83[id83 > 0].to_dict() == {"1:Ins:C:4": 1, "2:Del:R:1": 1}  # C into CCCC; GG out of GGGG
    assert any("lowercase alleles" in d["decision"] for d in decisions.items)
    variants = cohort.sidecars["variants.parquet"]
    assert variants["ref_match"].all() and variants["contig"].tolist()[0] == "chr1"
    windows = cohort.sidecars["windows.parquet"]
    assert len(windows) == stats["windows"] == 6
    assert "catalogues/sbs96.tsv" in cohort.sidecars
    assert cohort.meta.provenance["variant_columns"]["start"] == "Start_Position"


def test_catalogue_tsvs_are_sigprofiler_layout_and_the_tables_source_reads_them(tmp_path: Path):
    cohort, _, _ = build(make_inputs(tmp_path / "in"))
    cohort.save(tmp_path / "cohort")
    tsv = tmp_path / "cohort" / "catalogues" / "id83.tsv"
    frame = pd.read_csv(tsv, sep="\t")
    assert frame.columns[0] == "MutationType" and frame["MutationType"].iloc[0] == "1:Del:C:0"
    tables_dir = tmp_path / "tables"
    tables_dir.mkdir()
    shutil.copy(tsv, tables_dir / "id83.tsv")
    cohort.labels[["sample_id", "label"]].to_csv(tables_dir / "labels.csv", index=False)
    raw = {
        "cohort": {
            "source": "tables",
            "path": str(tables_dir),
            "tables": {
                "modalities": {"id83": {"orientation": "features_by_samples", "transform": "proportion"}}
            },
        }
    }
    again = build_cohort(parse_params(raw), tmp_path / "again").cohort
    pd.testing.assert_frame_equal(again.modalities["id83"], cohort.modalities["id83"], check_names=False)


def test_the_gate_passes_a_clean_variant_cohort(tmp_path: Path):
    cohort, _, _ = build(make_inputs(tmp_path / "in"))
    cohort.save(tmp_path / "cohort")
    report = run_gate(tmp_path / "cohort", params(tmp_path / "in").validation)
    assert report.passed, report.console_text()
    assert report.tables["variants"].expectations == 7
    assert Cohort.load(tmp_path / "cohort").sidecars["windows.parquet"].shape[0] == 6


def _gate_failures(tmp_path: Path, rows: list[str], **overrides) -> list[str]:
    cohort, _, _ = build(make_inputs(tmp_path / "in", rows), **overrides)
    cohort.save(tmp_path / "cohort")
    report = run_gate(tmp_path / "cohort", params(tmp_path / "in", **overrides).validation)
    assert not report.passed
    return [f.message() for f in report.failures]


def test_a_contig_absent_from_the_reference_is_named_by_file_line_and_column(tmp_path: Path):
    failures = _gate_failures(tmp_path, [*MAF_ROWS, "chr7\t5\t5\tA\tT\tT1"])
    assert failures == [
        "variants: somatic.maf, column Chromosome: chromosome known to the reference FASTA: "
        "1 row(s) name no contig of the FASTA, e.g. line(s) 8"
    ]


def test_ref_mismatch_above_the_threshold_fails_and_below_passes(tmp_path: Path):
    rows = [*MAF_ROWS, "1\t1\t1\tT\tG\tT1"]  # the FASTA has A at 1-based 1: 1 of 7 variants wrong
    failures = _gate_failures(tmp_path, rows)
    assert len(failures) == 1 and "REF allele matches the FASTA" in failures[0]
    assert "Reference_Allele" in failures[0] and "line(s) 8" in failures[0] and "14.29% of 7" in failures[0]
    cohort, _, _ = build(make_inputs(tmp_path / "ok", rows))
    cohort.save(tmp_path / "ok_cohort")
    loose = parse_params({**variant_cohort_params(tmp_path), "validate": {"max_ref_mismatch": 0.2}})
    assert run_gate(tmp_path / "ok_cohort", loose.validation).passed


def test_a_sample_missing_from_the_sheet_fails_the_gate_or_is_dropped_and_counted(tmp_path: Path):
    rows = [*MAF_ROWS, "1\t10\t10\tC\tA\tNOBODY"]
    failures = _gate_failures(tmp_path, rows)
    assert failures == [
        "variants: somatic.maf, column Tumor_Sample_Barcode: sample in the sample sheet: "
        "1 row(s) name samples not in the sheet, e.g. line(s) 8"
    ]
    cohort, _, decisions = build(make_inputs(tmp_path / "drop", rows), unknown_samples="drop")
    assert "NOBODY" not in set(cohort.sidecars["variants.parquet"]["sample_id"])
    assert {
        "decision": "variants of samples not in samples.tsv dropped",
        "count": 1,
        "examples": ["NOBODY"],
    } in (decisions.items)


def test_bad_alleles_and_positions_past_the_contig(tmp_path: Path):
    failures = _gate_failures(tmp_path, [*MAF_ROWS, "1\t10\t10\tC\tZ\tT1", "2\t900\t900\tA\tC\tT1"])
    assert any(
        "column Tumor_Seq_Allele2: alleles in A, C, G, T, N or -" in f and "line(s) 8" in f for f in failures
    )
    assert any(
        "column Start_Position: position inside the contig" in f and "line(s) 9" in f for f in failures
    )


def test_an_empty_sample_is_an_error_or_a_counted_drop(tmp_path: Path):
    sheet = SHEET + "T9\tD9\tB-Type\ty\n"
    with pytest.raises(
        CohortError, match=r"samples\.tsv: 1 sample\(s\) have no usable variant.*'T9'.*empty_samples"
    ):
        build(make_inputs(tmp_path / "a", sheet=sheet))
    cohort, _, decisions = build(make_inputs(tmp_path / "b", sheet=sheet), empty_samples="drop")
    assert "T9" not in set(cohort.labels["sample_id"])
    assert {
        "decision": "samples with no usable variant dropped",
        "count": 1,
        "examples": ["T9"],
    } in decisions.items


def test_a_maf_missing_columns_and_a_gzip_fasta_are_clear_errors(tmp_path: Path):
    directory = make_inputs(tmp_path / "in")
    (directory / "somatic.maf").write_text("Chromosome\tStart_Position\n1\t3\n")
    with pytest.raises(
        CohortError, match=r"somatic\.maf: required column\(s\) missing: Tumor_Sample_Barcode"
    ):
        build(directory)
    directory = make_inputs(tmp_path / "gz")
    for name in ("reference.fa.gz", "reference.fa.gz.fai", "reference.fa.gz.gzi"):
        (directory / name).unlink()
    write_plain_gzip(GENOME, directory / "reference.fa.gz")
    with pytest.raises(CohortError, match="gzip-compressed but not bgzip"):
        build(directory)


def test_label_from_another_sheet_column_and_files_outside_the_path(tmp_path: Path):
    directory = make_inputs(tmp_path / "in")
    cohort, _, _ = build(directory, variants={"label_column": "organ_system"})
    assert cohort.classes == ["x", "y"]
    with pytest.raises(CohortError, match=r"outside cohort\.path"):
        build(directory, variants={"sheet": "../elsewhere.tsv"})
