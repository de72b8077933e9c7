"""The reference FASTA: plain and bgzipped, indexed when needed, soft-masked, N-padded past its ends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oncofusion.data.variants.reference import (
    IndexedReference,
    Reference,
    contig_aliases,
    write_fasta,
    write_plain_gzip,
)
from oncofusion.errors import CohortError

CONTIGS = {"chr1": "ACGTacgtNNAC" * 10, "chrX": "GGGCCC"}


@pytest.mark.parametrize("bgzip", [True, False])
def test_both_readers_give_the_same_uppercase_n_padded_bases(tmp_path: Path, bgzip: bool):
    path = tmp_path / ("ref.fa.gz" if bgzip else "ref.fa")
    write_fasta(CONTIGS, path, bgzip=bgzip)
    for reader in (IndexedReference(path), Reference.load(path)):
        assert reader.lengths == {"chr1": 120, "chrX": 6}
        assert reader.fetch("chr1", 0, 8) == "ACGTACGT"  # soft-masked lowercase read as uppercase
        assert reader.fetch("chr1", -3, 2) == "NNNAC"
        assert reader.fetch("chrX", 4, 9) == "CCNNN"
        assert reader.fetch("chrX", 8, 10) == "NN"  # wholly past the end: still the asked length


def test_a_missing_index_is_made(tmp_path: Path):
    path = tmp_path / "ref.fa.gz"
    write_fasta(CONTIGS, path)
    for index in (tmp_path / "ref.fa.gz.fai", tmp_path / "ref.fa.gz.gzi"):
        index.unlink()
    assert IndexedReference(path).fetch("chrX", 0, 3) == "GGG"
    assert (tmp_path / "ref.fa.gz.fai").exists()


def test_plain_gzip_is_refused_with_the_fix(tmp_path: Path):
    path = tmp_path / "ref.fa.gz"
    write_plain_gzip(CONTIGS, path)
    with pytest.raises(CohortError, match=r"ref\.fa\.gz: gzip-compressed but not bgzip.*bgzip"):
        Reference.load(path)


def test_no_index_in_a_read_only_directory_says_where_to_index(tmp_path: Path, monkeypatch):
    """os.access stands in for a read-only mount (root, as in CI, can write into a chmod 555 folder)."""
    path = tmp_path / "ref.fa"
    path.write_text(">c\nACGT\n")
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path)
    with pytest.raises(CohortError, match=r"ref\.fa: no index .*is not writable"):
        Reference.load(path)
    assert not (tmp_path / "ref.fa.fai").exists()


def test_missing_and_garbage_files(tmp_path: Path):
    with pytest.raises(CohortError, match="reference FASTA is missing"):
        Reference.load(tmp_path / "absent.fa")
    garbage = tmp_path / "garbage.fa"
    garbage.write_text("this is not a fasta\n")
    with pytest.raises(CohortError, match=r"garbage\.fa: not a readable FASTA"):
        Reference.load(garbage)


def test_contig_spellings_reconcile():
    aliases = contig_aliases(["chr1", "chrX", "chrM", "GL000192.1"])
    assert aliases["1"] == "chr1" and aliases["chr1"] == "chr1"
    assert aliases["X"] == "chrX" and aliases["23"] == "chrX"  # TCGA MAFs number X as 23
    assert aliases["MT"] == "chrM"
    assert aliases["GL000192.1"] == "GL000192.1"
    assert "chr2" not in aliases
    assert contig_aliases(["1"])["chr1"] == "1"
