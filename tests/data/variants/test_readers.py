"""Variant readers: MAF, ICGC and VCF conventions all land in one 0-based table."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.readers import detect_format, read_variants
from oncofusion.errors import CohortError

from ...conftest import SHARED_DIR

VARIANTS = SHARED_DIR / "data" / "variants"

MAF = """#version 2.4
Hugo_Symbol\tChromosome\tStart_position\tEnd_position\tVariant_Type\tReference_Allele\tTumor_Seq_Allele2\tTumor_Sample_Barcode
G\t1\t10\t10\tSNP\tC\tT\tS1
G\t1\t20\t21\tINS\t-\tAC\tS1
G\t1\t30\t32\tDEL\tGTA\t-\tS2
G\tX\t40\t41\tDNP\tCC\tTT\tS2
G\t2\t50\t50\tSNP\tg\ta\tS2
"""


def read(path: Path, **kwargs):
    decisions = Decisions()
    table, columns = read_variants(path, kwargs.pop("fmt", "auto"), decisions, None, "header", True, **kwargs)
    return table, columns, decisions


def test_maf_conventions(tmp_path: Path):
    path = tmp_path / "x.maf"
    path.write_text(MAF)
    table, columns, decisions = read(path)
    assert columns.start == "Start_position"  # the file's own spelling, for gate messages
    rows = table[["sample_id", "chrom", "start", "ref", "alt", "type", "source_line"]].values.tolist()
    assert rows == [
        ["S1", "1", 9, "C", "T", "SNV", 3],
        ["S1", "1", 20, "", "AC", "INS", 4],  # inserted after base 20 (1-based) = before 0-based 20
        ["S2", "1", 29, "GTA", "", "DEL", 5],
        ["S2", "X", 39, "CC", "TT", "DBS", 6],
        ["S2", "2", 49, "G", "A", "SNV", 7],
    ]
    assert decisions.items[0]["decision"].endswith("lowercase alleles read as uppercase")


def test_maf_missing_columns_are_named(tmp_path: Path):
    path = tmp_path / "x.maf"
    path.write_text("Chromosome\tStart_Position\tReference_Allele\n1\t2\tA\n")
    with pytest.raises(CohortError, match=r"x\.maf: required column\(s\) missing: Tumor_Sample_Barcode, "):
        read(path)


def test_maf_bad_position_names_line_and_column(tmp_path: Path):
    path = tmp_path / "x.maf"
    path.write_text(MAF.replace("\t30\t32\t", "\tthirty\t32\t"))
    with pytest.raises(CohortError, match=r"x\.maf:5: column Start_position: 'thirty' is not a 1-based"):
        read(path)


VCF_HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="low">
##contig=<ID=chr1,length=1000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT{samples}
"""


def _vcf(path: Path, body: str, samples: str = "\tTUMOR_A") -> Path:
    path.write_text(VCF_HEADER.format(samples=samples) + body)
    return path


def test_vcf_padding_multiallelic_and_filters(tmp_path: Path):
    body = (
        "chr1\t10\t.\tC\tT,G\t.\tPASS\t.\tGT\t0/1\n"  # two alts: two rows
        "chr1\t20\t.\tA\tACG\t.\tPASS\t.\tGT\t0/1\n"  # insertion after the padding base
        "chr1\t30\t.\tAGT\tA\t.\t.\t.\tGT\t0/1\n"  # deletion, FILTER '.' kept
        "chr1\t40\t.\tC\tT\t.\tLowQual\t.\tGT\t0/1\n"  # not PASS: skipped, counted
        "chr1\t50\t.\tC\t<DEL>\t.\tPASS\t.\tGT\t0/1\n"  # symbolic: skipped, counted
    )
    table, _, decisions = read(_vcf(tmp_path / "a.vcf", body))
    rows = table[["sample_id", "start", "ref", "alt", "type", "source_line"]].values.tolist()
    assert rows == [
        ["TUMOR_A", 9, "C", "T", "SNV", 7],
        ["TUMOR_A", 9, "C", "G", "SNV", 7],
        ["TUMOR_A", 20, "", "CG", "INS", 8],
        ["TUMOR_A", 30, "GT", "", "DEL", 9],
    ]
    assert {d["decision"].split(": ", 1)[1]: d["count"] for d in decisions.items} == {
        "records not PASS skipped": 1,
        "symbolic or breakend alleles skipped (not sequence-resolved)": 1,
    }


def test_vcf_without_a_sample_column(tmp_path: Path):
    path = _vcf(tmp_path / "DO42.vcf", "chr1\t10\t.\tC\tT\t.\tPASS\t.\n", samples="").with_name("DO42.vcf")
    path.write_text(
        path.read_text()
        .replace("\tFORMAT\n", "\n")
        .replace('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n', "")
    )
    with pytest.raises(CohortError, match=r"DO42\.vcf: no sample column.*vcf_sample_from: filename"):
        read(path)
    decisions = Decisions()
    table, _ = read_variants(path, "vcf", decisions, None, "filename", True)
    assert table["sample_id"].tolist() == ["DO42"]


def test_vcf_with_tumour_and_normal_takes_the_tumour(tmp_path: Path):
    path = _vcf(
        tmp_path / "a.vcf", "chr1\t10\t.\tC\tT\t.\tPASS\t.\tGT\t0/0\t0/1\n", samples="\tNORMAL\tTUMOR"
    )
    assert read(path)[0]["sample_id"].tolist() == ["TUMOR"]


def test_a_directory_of_vcfs(tmp_path: Path):
    (tmp_path / "vcfs").mkdir()
    _vcf(tmp_path / "vcfs" / "a.vcf", "chr1\t10\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\n", samples="\tS_A")
    _vcf(tmp_path / "vcfs" / "b.vcf", "chr1\t11\t.\tG\tA\t.\tPASS\t.\tGT\t0/1\n", samples="\tS_B")
    assert detect_format(tmp_path / "vcfs") == "vcf"
    table, _, _ = read(tmp_path / "vcfs")
    assert table[["sample_id", "source_file"]].values.tolist() == [["S_A", "a.vcf"], ["S_B", "b.vcf"]]


ICGC = (
    "icgc_mutation_id\ticgc_donor_id\ticgc_sample_id\tchromosome\tchromosome_start\tchromosome_end\t"
    "mutation_type\treference_genome_allele\tmutated_to_allele\tconsequence_type\n"
    "MU1\tDO1\tSA1\t1\t100\t100\tsingle base substitution\tA\tT\tmissense\n"
    "MU1\tDO1\tSA1\t1\t100\t100\tsingle base substitution\tA\tT\tdownstream\n"
    "MU2\tDO1\tSA1\t2\t200\t201\tdeletion of <=200bp\tGC\t-\tframeshift\n"
)


def test_icgc_rows_per_consequence_are_one_mutation(tmp_path: Path):
    path = tmp_path / "ssm.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(ICGC)
    assert detect_format(path) == "icgc"
    table, columns, decisions = read(path)
    assert table[["sample_id", "chrom", "start", "ref", "alt", "type"]].values.tolist() == [
        ["SA1", "1", 99, "A", "T", "SNV"],
        ["SA1", "2", 199, "GC", "", "DEL"],
    ]
    assert columns.sample == "icgc_sample_id"
    assert decisions.items[0]["count"] == 1


@pytest.mark.skipif(not VARIANTS.is_dir(), reason="../shared/data/variants is absent")
@pytest.mark.parametrize(
    ("name", "n_rows", "types"),
    [
        ("tcga_laml.maf.gz", 2207, {"SNV": 2002, "INS": 141, "DEL": 63, "COMPLEX": 1}),
        ("brca.maf.gz", 1913, {"SNV": 1913}),
        ("simple_somatic_mutation.open.ESCA-CN.sample.tsv.gz", 72, {"SNV": 71, "DEL": 1}),
    ],
)
def test_real_files_parse(name: str, n_rows: int, types: dict[str, int]):
    table, _, _ = read(VARIANTS / name)
    assert len(table) == n_rows
    assert table["type"].value_counts().to_dict() == types
    assert (table["start"] >= 0).all() and table["sample_id"].str.len().gt(0).all()
    # '-' alleles became empty strings: no dash survives anywhere
    assert not table["ref"].str.contains("-").any() and not table["alt"].str.contains("-").any()
