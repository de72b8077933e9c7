"""Windows base by base on a hand-made reference: SNV, insertion, deletion, DBS, contig edge, germline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.table import make_table
from oncofusion.data.variants.windows import Germline, window_pair, window_table

#        0         1         2
#        0123456789012345678901234
GENOME = "AACCGGTTACGTacgtAAAACCCCG"  # soft-masked middle: must read as uppercase
FLANK = 3


def variants(rows):
    sample, chrom, start, ref, alt = (list(c) for c in zip(*rows, strict=True))
    return make_table(sample, chrom, start, ref, alt, "t.maf", np.arange(1, len(rows) + 1))


def pairs(rows, germline=None, flank=FLANK):
    reference = Reference.from_strings({"c": GENOME})
    table = window_table(variants(rows), reference.lengths, flank, None, 0, Decisions())
    return table, [window_pair(reference, row, germline) for row in table.itertuples(index=False)]


def test_snv_window():
    table, [(tumour, normal)] = pairs([("s", "c", 9, "C", "T")])
    assert normal == "TTA" + "C" + "GTA"
    assert tumour == "TTA" + "T" + "GTA"
    assert table.loc[0, ["window_start", "window_end", "tumour_length", "normal_length"]].tolist() == [
        6,
        13,
        7,
        7,
    ]
    assert not table.loc[0, "at_contig_edge"]


def test_insertion_makes_the_tumour_window_longer():
    # GG inserted between base 8 (A) and base 9 (C)
    _, [(tumour, normal)] = pairs([("s", "c", 9, "", "GG")])
    assert tumour == "TTA" + "GG" + "CGT"
    assert normal == "TTA" + "CGT"


def test_deletion_makes_the_normal_window_longer():
    _, [(tumour, normal)] = pairs([("s", "c", 12, "ACGT", "")])  # the soft-masked acgt deleted
    assert normal == "CGT" + "ACGT" + "AAA"
    assert tumour == "CGT" + "AAA"


def test_doublet_window():
    _, [(tumour, normal)] = pairs([("s", "c", 2, "CC", "TT")])
    assert normal == "NAA" + "CC" + "GGT"  # 2 - 3 = -1: one N before the contig start
    assert tumour == "NAA" + "TT" + "GGT"


def test_contig_edges_are_padded_and_flagged():
    table, [(t_start, n_start), (t_end, n_end)] = pairs([("s", "c", 0, "A", "G"), ("s", "c", 24, "G", "A")])
    assert n_start == "NNN" + "A" + "ACC" and t_start == "NNN" + "G" + "ACC"
    assert n_end == "CCC" + "G" + "NNN" and t_end == "CCC" + "A" + "NNN"
    assert table["at_contig_edge"].tolist() == [True, True]
    assert all(len(s) == 2 * FLANK + 1 for s in (t_start, n_start, t_end, n_end))


def test_germline_snvs_enter_both_windows_and_the_normal_allele_at_the_locus():
    germline = Germline.from_table(
        pd.DataFrame(
            {
                "sample_id": ["s", "s", "other"],
                "chrom": ["c", "c", "c"],
                "start": [7, 9, 10],
                "alt": ["A", "G", "A"],
            }
        )
    )
    _, [(tumour, normal)] = pairs([("s", "c", 9, "C", "T")], germline)
    # base 7 (T) is germline A in both; the normal carries germline G at the variant's own base 9
    assert normal == "TAA" + "G" + "GTA"
    assert tumour == "TAA" + "T" + "GTA"


def test_cap_per_sample_is_seeded_and_counted():
    rows = [("s1", "c", i, GENOME[i], "A" if GENOME[i] != "A" else "C") for i in range(3, 20)]
    rows += [("s2", "c", 5, "G", "A")]
    reference = Reference.from_strings({"c": GENOME})
    decisions = Decisions()
    first = window_table(variants(rows), reference.lengths, FLANK, 5, seed=3, decisions=decisions)
    again = window_table(variants(rows), reference.lengths, FLANK, 5, seed=3, decisions=Decisions())
    other = window_table(variants(rows), reference.lengths, FLANK, 5, seed=4, decisions=Decisions())
    assert first["sample_id"].value_counts().to_dict() == {"s1": 5, "s2": 1}
    assert first.equals(again)
    assert not first["start"].equals(other["start"])
    assert {
        "decision": "variants beyond window.max_per_sample (5) not windowed",
        "count": 12,
    } in decisions.items


def test_windows_skip_complex_and_unknown_contigs_counted():
    decisions = Decisions()
    table = window_table(
        variants([("s", "c", 3, "CG", "T"), ("s", "chrZ", 3, "C", "T"), ("s", "c", 5, "G", "A")]),
        {"c": len(GENOME)},
        FLANK,
        None,
        0,
        decisions,
    )
    assert table["start"].tolist() == [5]
    assert decisions.items[0]["count"] == 2


@pytest.mark.parametrize("flank", [0, 1, 3000])
def test_window_lengths_follow_the_definition(flank: int):
    table, [(tumour, normal)] = pairs([("s", "c", 12, "ACGT", "")], flank=flank)
    assert len(tumour) == 2 * flank == table.loc[0, "tumour_length"]
    assert len(normal) == 2 * flank + 4 == table.loc[0, "normal_length"]
