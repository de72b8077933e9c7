"""``oncofusion dna-score`` on a VCF against a FASTA with a saved model: a score per SNV in a TSV, and
a wrong REF or an unknown contig stops with the file, line, sample and variant named, writing nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import EsmForMaskedLM
from typer.testing import CliRunner

from oncofusion.cli import app
from oncofusion.config.dna import DnaArchitecture
from oncofusion.data.variants.reference import write_fasta
from oncofusion.dna.model import esm_config, resolved_architecture, save_model
from oncofusion.dna.tokenizers import TOKENIZER_DIR, make_kmer_tokenizer, save_tokenizer

SEQUENCE = "".join(np.random.default_rng(4).choice(list("ACGT"), size=300))


def vcf(path: Path, records: list[tuple[str, int, str, str]]) -> Path:
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=300>",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR",
    ]
    lines += [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t0/1" for c, p, r, a in records]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("score")
    write_fasta({"chr1": SEQUENCE}, root / "ref.fa", bgzip=False)
    tokenizer = make_kmer_tokenizer(root / "scratch", 1)
    arch = DnaArchitecture(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_tokens=24)
    torch.manual_seed(0)
    model = EsmForMaskedLM._from_config(esm_config(resolved_architecture(arch), tokenizer))
    save_model(model, root / "model", "merged", {"context_tokens": 24})
    save_tokenizer(tokenizer, root / "model" / TOKENIZER_DIR)
    return root


def score(root: Path, variants: Path, out: Path):
    return CliRunner().invoke(
        app,
        [
            "dna-score",
            str(variants),
            "--reference",
            str(root / "ref.fa"),
            "--model",
            str(root / "model"),
            "--out",
            str(out),
        ],
    )


def test_each_snv_gets_a_score_and_alt_equal_ref_scores_zero(setup: Path, tmp_path: Path):
    p = 100
    other = "A" if SEQUENCE[p] != "A" else "C"
    records = [
        ("chr1", p + 1, SEQUENCE[p], other),
        ("chr1", 151, SEQUENCE[150] + SEQUENCE[151], SEQUENCE[150]),
    ]
    done = score(setup, vcf(tmp_path / "a.vcf", records), tmp_path / "out.tsv")
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "out.tsv", sep="\t")
    assert table[["sample_id", "chrom", "pos", "ref", "alt"]].values.tolist() == [
        ["TUMOR", "chr1", p + 1, SEQUENCE[p], other]
    ]  # the deletion is counted, not scored
    assert np.isfinite(table["zero_shot"]).all() and "variants other than SNVs not scored: 1" in done.output


def test_a_wrong_ref_or_contig_names_the_variant_and_writes_nothing(setup: Path, tmp_path: Path):
    wrong = "A" if SEQUENCE[120] != "A" else "C"
    done = score(
        setup,
        vcf(tmp_path / "b.vcf", [("chr1", 121, wrong, "G" if wrong != "G" else "T")]),
        tmp_path / "b.tsv",
    )
    assert done.exit_code != 0  # the CLI's main prints the CohortError and exits 1
    assert "b.vcf, line 5: sample TUMOR, chr1:121" in str(done.exception)
    assert "the ref allele is not" in str(done.exception)
    assert not (tmp_path / "b.tsv").exists()
    done = score(setup, vcf(tmp_path / "c.vcf", [("chr7", 10, "A", "C")]), tmp_path / "c.tsv")
    assert done.exit_code != 0 and "contig 'chr7' is not in" in str(done.exception)
    assert "c.vcf, line 5" in str(done.exception)
    assert not (tmp_path / "c.tsv").exists()
