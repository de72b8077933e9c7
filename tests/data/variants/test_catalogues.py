"""Catalogues on tiny hand-made genomes: every expected label and count below is worked out by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.variants import catalogues as cat
from oncofusion.data.variants.classes import DBS78, ID83, SBS96
from oncofusion.data.variants.indels import id83_label, id83_labels
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.substitutions import dbs78_labels, merge_adjacent_snvs, sbs96_labels
from oncofusion.data.variants.table import make_table


def table(rows: list[tuple[str, str, int, str, str]]) -> pd.DataFrame:
    """A variant table from (sample, chrom, start, ref, alt) tuples, source lines 1, 2, ..."""
    sample, chrom, start, ref, alt = (list(col) for col in zip(*rows, strict=True))
    return make_table(sample, chrom, start, ref, alt, "test.maf", np.arange(1, len(rows) + 1))


def id83(seq: str, start: int, ref: str, alt: str) -> str | None:
    return id83_label(Reference.from_strings({"c": seq}).contigs["c"], start, ref, alt)


# ---------------------------------------------------------------------------------------------- classes


def test_class_lists_follow_the_packaged_cosmic_tables():
    assert len(SBS96) == 96 and SBS96[:2] == ("A[C>A]A", "A[C>A]C") and SBS96[-1] == "T[T>G]T"
    assert len(DBS78) == 78 and DBS78[0] == "AC>CA" and DBS78[-1] == "TT>GG"
    assert len(ID83) == 83 and ID83[0] == "1:Del:C:0" and ID83[-1] == "5+:Del:M:5+"
    assert ID83.index("2:Del:R:0") == 24 and ID83.index("2:Del:M:1") == 72


# ---------------------------------------------------------------------------------------------- SBS96

#            0123456789
SBS_GENOME = "AACGTTGCAT"


def test_sbs96_contexts_by_hand():
    reference = Reference.from_strings({"c1": SBS_GENOME, "c2": "ANCGT", "soft": SBS_GENOME.lower()})
    variants = table(
        [
            ("s", "c1", 2, "C", "T"),  # A C G -> A[C>T]G
            ("s", "c1", 6, "G", "T"),  # T G C, purine: revcomp GCA, alt T->A -> G[C>A]A
            ("s", "c1", 3, "G", "A"),  # C G T, purine: revcomp ACG, alt A->T -> A[C>T]G
            ("s", "c1", 4, "T", "C"),  # G T T -> G[T>C]T
            ("s", "c1", 0, "A", "C"),  # contig start: no 5' base
            ("s", "c1", 9, "T", "C"),  # contig end: no 3' base
            ("s", "c1", 7, "G", "T"),  # table says G, reference says C: not classified
            ("s", "c2", 2, "C", "T"),  # N on the 5' side
            ("s", "soft", 6, "G", "T"),  # soft-masked reference: same as c1
            ("s", "chrX", 2, "C", "T"),  # contig not in the reference
            ("s", "c1", 2, "C", ""),  # a deletion: not an SNV
        ]
    )
    labels = sbs96_labels(reference, variants)
    assert labels.tolist() == [
        "A[C>T]G",
        "G[C>A]A",
        "A[C>T]G",
        "G[T>C]T",
        None,
        None,
        None,
        None,
        "G[C>A]A",
        None,
        None,
    ]
    assert all(label in SBS96 for label in labels if label is not None)


def test_sbs96_of_the_same_event_on_either_strand_agrees():
    # G>T at the G of 'TGC' is C>A at the C of its reverse complement 'GCA'.
    forward = Reference.from_strings({"c": "ATGCA"})
    reverse = Reference.from_strings({"c": "TGCAT"})
    a = sbs96_labels(forward, table([("s", "c", 2, "G", "T")]))
    b = sbs96_labels(reverse, table([("s", "c", 2, "C", "A")]))
    assert a.tolist() == b.tolist() == ["G[C>A]A"]


# ---------------------------------------------------------------------------------------------- DBS78


def test_dbs78_folding():
    variants = table(
        [
            ("s", "c", 0, "AC", "CA"),  # canonical as written
            ("s", "c", 0, "GT", "CA"),  # GT not a COSMIC ref: revcomp AC>TG
            ("s", "c", 0, "AT", "TG"),  # palindromic ref, alt folds: AT>CA
            ("s", "c", 0, "CG", "TA"),  # palindromic, canonical already
            ("s", "c", 0, "AC", "AT"),  # first base unchanged: not a doublet
            ("s", "c", 0, "ACG", "TTT"),  # MNV
            ("s", "c", 0, "C", "T"),  # SNV
        ]
    )
    assert dbs78_labels(variants).tolist() == ["AC>CA", "AC>TG", "AT>CA", "CG>TA", None, None, None]


def test_all_144_doublets_land_in_the_78():
    pairs = [
        (r0 + r1, a0 + a1) for r0, r1, a0, a1 in itertools.product("ACGT", repeat=4) if r0 != a0 and r1 != a1
    ]
    assert len(pairs) == 144
    labels = dbs78_labels(table([("s", "c", 0, r, a) for r, a in pairs]))
    assert None not in labels.tolist()
    assert set(labels) == set(DBS78)
    counts = pd.Series(labels).value_counts()
    # Non-palindromic refs (6 of 10 COSMIC refs) get each class once from each strand; palindromic get 1 or 2.
    assert counts.sum() == 144 and counts.max() == 2 and counts.min() == 1


# ---------------------------------------------------------------------------------------------- merging


def test_merge_adjacent_snvs():
    variants = table(
        [
            ("s1", "c", 11, "G", "T"),
            ("s1", "c", 10, "C", "A"),  # with 11: one DBS CG>AT (out of order in the input)
            ("s2", "c", 10, "C", "A"),  # same positions, different samples: not merged
            ("s3", "c", 11, "G", "T"),
            ("s1", "c", 20, "A", "C"),  # 20-22: one MNV
            ("s1", "c", 21, "C", "G"),
            ("s1", "c", 22, "G", "T"),
            ("s1", "d", 23, "T", "A"),  # adjacent position, other contig: not merged
            ("s1", "c", 30, "", "A"),  # insertion, kept as is
            ("s1", "c", 31, "T", "G"),  # adjacent to the insertion, but only SNVs merge
        ]
    )
    merged, count = merge_adjacent_snvs(variants)
    assert count == 5
    assert list(merged.columns) == list(variants.columns)
    got = merged[["sample_id", "chrom", "start", "ref", "alt", "type", "source_line"]]
    assert [tuple(row) for row in got.itertuples(index=False)] == [
        ("s1", "c", 10, "CG", "AT", "DBS", 2),
        ("s1", "c", 20, "ACG", "CGT", "MNV", 5),
        ("s1", "c", 30, "", "A", "INS", 9),
        ("s1", "c", 31, "T", "G", "SNV", 10),
        ("s1", "d", 23, "T", "A", "SNV", 8),
        ("s2", "c", 10, "C", "A", "SNV", 3),
        ("s3", "c", 11, "G", "T", "SNV", 4),
    ]


def test_merge_without_adjacent_snvs_changes_nothing():
    # Two apart, and two alleles at one position (multi-allelic site): neither is a doublet.
    variants = table([("s1", "c", 7, "A", "C"), ("s1", "c", 5, "A", "C"), ("s1", "c", 5, "A", "G")])
    merged, count = merge_adjacent_snvs(variants)
    assert count == 0
    assert merged["start"].tolist() == [5, 5, 7] and merged["alt"].tolist() == ["C", "G", "C"]
    assert merged["type"].tolist() == ["SNV", "SNV", "SNV"]


# ---------------------------------------------------------------------------------------------- ID83


@pytest.mark.parametrize(
    ("seq", "start", "ref", "alt", "expected"),
    [
        # 1 bp deletions: copies of the base either side, not counting the deleted one.
        ("AAGCTTA", 3, "C", "", "1:Del:C:0"),  # isolated C
        ("TAGGGGAT", 3, "G", "", "1:Del:C:3"),  # run of 4 Gs (purine reported as C)
        ("TAGGGGAT", 2, "G", "", "1:Del:C:3"),  # same run, other end
        ("GCTTTTTTTCG", 5, "T", "", "1:Del:T:5+"),  # run of 7 Ts
        ("NTTTTTTTG", 2, "T", "", "1:Del:T:5+"),  # N stops the left scan, but 5+ is already certain
        # 1 bp insertions: bases go between start-1 and start.
        ("GCAAGC", 2, "", "A", "1:Ins:T:2"),  # before a run of 2 As (A reported as T)
        ("GCAAGC", 4, "", "A", "1:Ins:T:2"),  # after it
        ("GCAAGC", 4, "", "T", "1:Ins:T:0"),  # T between A and G: no T around
        ("GTAAGC", 2, "", "C", "1:Ins:C:0"),  # C between T and A
        # Repeat-unit deletions: unit AC present 3 times in GG ACACAC TT.
        ("GGACACACTT", 2, "AC", "", "2:Del:R:2"),
        ("GGACACACTT", 4, "AC", "", "2:Del:R:2"),  # middle copy
        ("GGACACACTT", 6, "AC", "", "2:Del:R:2"),  # last copy
        ("GGACACACTT", 3, "CA", "", "2:Del:R:2"),  # same event written as the rotation CA
        # Microhomology: 3 bp ACG deleted, AC follows (3' side) / G precedes (5' side).
        ("TTACGACTT", 2, "ACG", "", "3:Del:M:2"),
        ("TTGACGTT", 3, "ACG", "", "3:Del:M:1"),
        ("TTCGACGTT", 4, "ACG", "", "3:Del:M:2"),  # CG precedes: 2 bp on the 5' side
        ("GGACGTCC", 2, "ACGT", "", "4:Del:R:0"),  # no repeat, no microhomology
        ("GGACGTCATT", 2, "ACGTCA", "", "5+:Del:R:0"),  # 6 bp: size class 5+
        ("GGACGTCAACGTCGTT", 2, "ACGTCA", "", "5+:Del:M:5+"),  # 5 bp of microhomology (ACGTC)
        ("GGACGTCAACGTCATT", 2, "ACGTCA", "", "5+:Del:R:1"),  # a whole second copy
        # Repeat-unit insertions.
        ("TTAGAGCC", 2, "", "AG", "2:Ins:R:2"),  # AG inserted before AGAG
        ("TTAGAGCC", 6, "", "AG", "2:Ins:R:2"),  # ... or after it
        ("TTAGAGCC", 1, "", "AG", "2:Ins:R:0"),  # between T and T: no copy
        ("TTAGAGCC", 1, "", "TA", "2:Ins:R:1"),  # T|TA|TAGAG: one TA already there
        ("TTACCCG", 3, "", "CCCCCC", "5+:Ins:R:0"),  # 6 bp unit, only 3 Cs after it: no whole copy
    ],
)
def test_id83_hand_worked(seq, start, ref, alt, expected):
    assert expected in ID83
    assert id83(seq, start, ref, alt) == expected


def test_id83_does_not_depend_on_where_the_caller_placed_the_indel():
    """Every placement that yields the same edited sequence must get the same class (seeded, repeat-rich)."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        seq = "GT" + "".join(rng.choice(list("AC"), 16)) + "TG"
        n = int(rng.integers(1, 5))
        s = int(rng.integers(2, len(seq) - 2 - n))
        deleted = seq[:s] + seq[s + n :]
        same = {
            id83(seq, p, seq[p : p + n], "")
            for p in range(len(seq) - n + 1)
            if seq[:p] + seq[p + n :] == deleted
        }
        unit = "".join(rng.choice(list("AC"), n))
        inserted = seq[:s] + unit + seq[s:]
        same_ins = {
            id83(seq, p, "", inserted[p : p + n])
            for p in range(len(seq) + 1)
            if seq[:p] + inserted[p : p + n] + seq[p:] == inserted
        }
        for labels in (same, same_ins):
            assert len(labels) == 1 and None not in labels and labels <= set(ID83)
            checked += 1
    assert checked == 400


@pytest.mark.parametrize(
    ("seq", "start", "ref", "alt"),
    [
        ("GGNACC", 3, "A", ""),  # N right before the deleted base
        ("GGACNC", 3, "C", ""),  # N right after
        ("GGACNC", 4, "", "C"),  # insertion next to N
        ("ACGTT", 0, "A", ""),  # contig start: the left scan runs off the edge
        ("ACGTT", 5, "", "G"),  # insertion at the contig end
        ("GGACCT", 2, "C", ""),  # table's deleted base is not the reference's (A)
        ("GGACCT", 2, "AC", "T"),  # COMPLEX
        ("GGACCT", 2, "", "AN"),  # N in the inserted bases
        ("GGACCT", 4, "CTGA", ""),  # deletion running past the contig end
    ],
)
def test_id83_unclassifiable(seq, start, ref, alt):
    assert id83(seq, start, ref, alt) is None


def test_id83_labels_applies_per_row_and_skips_other_types():
    reference = Reference.from_strings({"c": "GGACACACTT", "d": "TAGGGGAT"})
    variants = table(
        [
            ("s", "d", 3, "G", ""),
            ("s", "c", 4, "AC", ""),
            ("s", "c", 2, "A", "T"),  # SNV
            ("s", "x", 3, "G", ""),  # unknown contig
            ("s", "c", 2, "AC", "T"),  # COMPLEX
        ]
    )
    assert id83_labels(reference, variants).tolist() == ["1:Del:C:3", "2:Del:R:2", None, None, None]


# ---------------------------------------------------------------------------------------------- counting


def test_catalogue_counts_and_zero_sample():
    labels = np.array(["A[C>T]G", "A[C>T]G", None, "G[C>A]A", "A[C>T]G"], dtype=object)
    samples = np.array(["s1", "s1", "s1", "s2", "s2"], dtype=object)
    frame = cat.catalogue(labels, samples, SBS96, ["s2", "s1", "s3"])
    assert frame.shape == (96, 3)
    assert frame.index.name == "MutationType" and list(frame.index) == list(SBS96)
    assert list(frame.columns) == ["s2", "s1", "s3"]
    assert (frame.dtypes == np.int64).all()
    assert frame.loc["A[C>T]G"].tolist() == [1, 2, 0]
    assert frame.loc["G[C>A]A"].tolist() == [1, 0, 0]
    assert frame.sum().tolist() == [2, 2, 0]


def test_catalogue_refuses_a_sample_outside_the_order():
    with pytest.raises(ValueError, match="not in sample_order"):
        cat.catalogue(np.array(["A[C>T]G"], dtype=object), np.array(["x"], dtype=object), SBS96, ["s1"])


def test_density_bins():
    variants = table(
        [
            ("s1", "c1", 0, "A", "C"),
            ("s1", "c1", 9, "A", "C"),
            ("s1", "c1", 10, "A", "C"),
            ("s2", "c1", 24, "A", "C"),  # last, short bin
            ("s2", "c2", 5, "", "T"),
            ("s1", "c3", 1, "A", "C"),  # contig not binned
            ("s1", "c2", 10, "A", "C"),  # past the end of c2
        ]
    )
    names, frame = cat.density(variants, {"c1": 25, "c2": 10}, 10, sample_order=["s1", "s2", "s3"])
    assert names == ["c1:0-10", "c1:10-20", "c1:20-25", "c2:0-10"]
    assert list(frame.index) == names and frame.index.name == "MutationType"
    assert frame.to_numpy().tolist() == [[2, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert (frame.dtypes == np.int64).all()


def test_write_sigprofiler_round_trip(tmp_path: Path):
    frame = cat.catalogue(
        np.array(["1:Del:C:0", "5+:Del:M:5+", "1:Del:C:0"], dtype=object),
        np.array(["a", "b", "a"], dtype=object),
        ID83,
        ["a", "b", "c"],
    )
    path = tmp_path / "cohort.ID83.all"
    cat.write_sigprofiler(frame, path)
    assert path.read_text().splitlines()[0].split("\t") == ["MutationType", "a", "b", "c"]
    back = pd.read_csv(path, sep="\t", index_col=0, dtype={"MutationType": str})
    assert list(back.index) == list(ID83)
    assert back.to_numpy().tolist() == frame.to_numpy().tolist()
    assert back.loc["1:Del:C:0"].tolist() == [2, 0, 0]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left beside it


def test_write_sigprofiler_refuses_fractional_counts(tmp_path: Path):
    frame = pd.DataFrame({"a": [0.5]}, index=pd.Index(["x"], name="MutationType"))
    with pytest.raises(ValueError, match="integers"):
        cat.write_sigprofiler(frame, tmp_path / "x.tsv")
    assert not list(tmp_path.iterdir())


def test_build_catalogues_sums_chunks():
    reference = Reference.from_strings({"c1": SBS_GENOME, "c2": "GGACACACTT"})
    variants = table(
        [
            ("s1", "c1", 2, "C", "T"),  # A[C>T]G
            ("s1", "c1", 6, "G", "T"),  # G[C>A]A
            ("s2", "c1", 3, "G", "A"),  # A[C>T]G
            ("s2", "c1", 4, "TT", "GA"),  # TT>GA
            ("s1", "c2", 4, "AC", ""),  # 2:Del:R:2
            ("s1", "c2", 0, "G", ""),  # contig edge: no ID83 class, still counted in density
        ]
    )
    whole = cat.build_catalogues(reference, variants, ["s1", "s2", "s3"], bin_size=5)
    chunked = cat.build_catalogues(reference, variants, ["s1", "s2", "s3"], bin_size=5, chunk_rows=2)
    blocks = cat.build_catalogues(reference, [variants.iloc[:3], variants.iloc[3:]], ["s1", "s2", "s3"], 5)
    assert set(whole) == {"sbs96", "dbs78", "id83", "density"}
    for key, frame in whole.items():
        pd.testing.assert_frame_equal(frame, chunked[key])
        pd.testing.assert_frame_equal(frame, blocks[key])
        assert list(frame.columns) == ["s1", "s2", "s3"] and frame["s3"].sum() == 0
    assert whole["sbs96"].loc["A[C>T]G"].tolist() == [1, 1, 0]
    assert whole["sbs96"].loc["G[C>A]A"].tolist() == [1, 0, 0]
    assert whole["sbs96"].to_numpy().sum() == 3
    assert whole["dbs78"].loc["TT>GA"].tolist() == [0, 1, 0] and whole["dbs78"].to_numpy().sum() == 1
    assert whole["id83"].loc["2:Del:R:2"].tolist() == [1, 0, 0] and whole["id83"].to_numpy().sum() == 1
    assert list(whole["density"].index) == ["c1:0-5", "c1:5-10", "c2:0-5", "c2:5-10"]
    assert whole["density"].to_numpy().tolist() == [[1, 2, 0], [1, 0, 0], [2, 0, 0], [0, 0, 0]]
