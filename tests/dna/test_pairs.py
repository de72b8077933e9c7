"""The context-length rule: windows longer than the context are centre-cropped (or refused), counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.reference import Reference
from oncofusion.dna.pairs import Context, crop_ids, fit_windows, pair_tensors, tiles
from oncofusion.dna.tokenizers import make_kmer_tokenizer
from oncofusion.errors import ConfigError

FLANK = 100


def window_rows(starts: list[int], refs: list[str], alts: list[str]) -> pd.DataFrame:
    rows = pd.DataFrame({"sample_id": "s1", "chrom": "1", "start": starts, "ref": refs, "alt": alts})
    rows["type"] = [
        "SNV" if len(r) == len(a) == 1 else "DEL" if len(r) > len(a) else "INS"
        for r, a in zip(refs, alts, strict=True)
    ]
    rows["variant"] = range(len(rows))
    rows["window_start"] = rows["start"] - FLANK
    rows["window_end"] = rows["start"] + rows["ref"].str.len() + FLANK
    rows["tumour_length"] = 2 * FLANK + rows["alt"].str.len()
    rows["normal_length"] = 2 * FLANK + rows["ref"].str.len()
    rows["at_contig_edge"] = False
    return rows


@pytest.fixture
def reference() -> Reference:
    rng = np.random.default_rng(0)
    return Reference.from_strings({"1": "".join(rng.choice(list("ACGT"), size=2000))})


def test_windows_that_fit_are_untouched():
    rows = window_rows([500], ["A"], ["C"])
    decisions = Decisions()
    assert fit_windows(rows, Context(64, 378), "crop", decisions) is rows and not decisions.items


def test_crop_recentres_on_the_variant_to_exactly_the_context(reference: Reference, tmp_path):
    tokenizer = make_kmer_tokenizer(tmp_path / "tok")
    seq = reference.fetch("1", 0, 2000)
    rows = window_rows([500, 900], [seq[500], seq[900:903]], ["T" if seq[500] != "T" else "G", seq[900]])
    decisions = Decisions()
    context = Context.of(tokenizer, 11)  # <cls> + 10 six-mers = 60 bp
    pairs = pair_tensors(tokenizer, reference, rows, None, context, "crop", decisions)
    fitted = pairs.windows
    # SNV: exactly 60 bp. 2-bp deletion: 48 (tumour) and 50 (normal) are the longest pair that both
    # tokenise into <= 10 tokens (58 and 60 would need 4 single-base tokens for the leftover bases)
    assert fitted["tumour_length"].tolist() == [60, 48] and fitted["normal_length"].tolist() == [60, 50]
    assert (fitted["start"] - fitted["window_start"]).tolist() == [29, 24]  # the variant stays central
    assert pairs.tumour.shape[1] <= 11 and pairs.normal.shape[1] <= 11
    assert [d["decision"] for d in decisions.items if "after tokenising" in d["decision"]] == []  # no 2nd cut
    snv_t, snv_n = pairs.tumour[0], pairs.normal[0]
    assert int((snv_t != snv_n).sum()) == 1  # aligned: one 6-mer differs, the one holding the allele
    deletion_t, deletion_n = pairs.tumour[1], pairs.normal[1]
    assert torch.equal(deletion_t[:5], deletion_n[:5])  # shared left flank: the same tokens up to the variant
    assert decisions.items[0]["decision"].startswith("windows centre-cropped from 203 bp to at most 60 bp")
    assert decisions.items[0]["count"] == 2


def test_indel_pairs_fit_without_a_second_cut():
    # every deletion and insertion length from 1 to 12 bp, in a 64-token (378-bp) context
    refs = ["A" * (1 + d) for d in range(12)] + ["A"] * 12
    alts = ["A"] * 12 + ["A" * (1 + d) for d in range(12)]
    rows = window_rows([1000] * 24, refs, alts)
    rows["window_start"] -= 2900  # 3,000-bp flanks, as the cohort has them
    rows["window_end"] += 2900
    context = Context(64, 378, 6)
    fitted = fit_windows(rows, context, "crop", Decisions())
    assert (context.tokens_for(fitted["tumour_length"].to_numpy()) <= 64).all()
    assert (context.tokens_for(fitted["normal_length"].to_numpy()) <= 64).all()
    assert fitted[["tumour_length", "normal_length"]].max(axis=1).min() >= 378 - 6 - 12  # little is given up


def test_error_policy_names_the_params():
    rows = window_rows([500], ["A"], ["C"])
    with pytest.raises(ConfigError, match=r"dna.long_windows: error.*201 bp > 60 bp.*max_tokens"):
        fit_windows(rows, Context(11, 60), "error", Decisions())


def test_an_allele_longer_than_the_context_is_dropped_and_counted():
    rows = window_rows([500, 700], ["A", "A"], ["C", "A" + "G" * 80])
    decisions = Decisions()
    fitted = fit_windows(rows, Context(11, 60), "crop", decisions)
    assert fitted["variant"].tolist() == [0]
    assert decisions.items[0] == {
        "decision": "windows whose allele alone exceeds the 60-bp context dropped",
        "count": 1,
    }


def test_token_crop_keeps_cls_and_centres_on_the_variant():
    ids = [np.array([3, *range(10, 30)])]
    cropped, cut = crop_ids(ids, np.array([0.5]), 5)
    assert cut == 1 and cropped[0].tolist() == [3, 18, 19, 20, 21]
    short, cut = crop_ids([np.array([3, 10])], np.array([0.5]), 5)
    assert cut == 0 and short[0].tolist() == [3, 10]


def test_tiles_cover_the_window_with_full_length_tiles():
    sequence = "".join("ACGT"[i % 4] for i in range(13))
    assert tiles(sequence, 5) == [sequence[0:5], sequence[5:10], sequence[8:13]]
    assert tiles(sequence, 13) == [sequence]
