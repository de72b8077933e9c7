"""The NT k-mer tokenizer against hand-checked ids and NT's splitting rules; save/load round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oncofusion.dna.tokenizers import (
    NucleotideKmerTokenizer,
    SequenceError,
    load_tokenizer,
    make_kmer_tokenizer,
    nt_vocabulary,
    save_tokenizer,
)
from oncofusion.errors import CohortError


@pytest.fixture
def v1(tmp_path: Path) -> NucleotideKmerTokenizer:
    return make_kmer_tokenizer(tmp_path / "v1", 6, "v1")


@pytest.fixture
def v2(tmp_path: Path) -> NucleotideKmerTokenizer:
    return make_kmer_tokenizer(tmp_path / "v2", 6, "v2")


def kmer_id(kmer: str, offset: int) -> int:
    """NT's formula, written out apart from the tokenizer: A=0, T=1, C=2, G=3, most significant first."""
    order = {"A": 0, "T": 1, "C": 2, "G": 3}
    return offset + sum(order[b] * 4 ** (5 - i) for i, b in enumerate(kmer))


def test_layouts_match_nt(v1, v2):
    assert len(v1) == 4105 and len(v2) == 4107
    assert [v1.unk_token_id, v1.pad_token_id, v1.mask_token_id, v1.cls_token_id] == [0, 1, 2, 3]
    assert v1.convert_tokens_to_ids(["AAAAAA", "GGGGGG", "A", "T", "C", "G", "N"]) == [
        4,
        4099,
        4100,
        4101,
        4102,
        4103,
        4104,
    ]
    assert v2.convert_tokens_to_ids(["<eos>", "<bos>", "AAAAAA", "A", "N"]) == [4, 5, 6, 4102, 4106]


def test_hand_checked_anchor(v1, v2):
    assert v1("ATCGAA")["input_ids"] == [3, 436]  # <cls>, no end token
    assert v2("ATCGAA")["input_ids"] == [3, 438]
    for kmer in ("ATCGAA", "GCTTAG", "CCCCCA"):
        assert v1.convert_tokens_to_ids(kmer) == kmer_id(kmer, 4)
        assert v2.convert_tokens_to_ids(kmer) == kmer_id(kmer, 6)


def test_nt_splitting_rules(v1):
    # split at N; each piece in 6-mers from its start; leftovers and N as single bases
    assert v1.tokenize("ATCGAATTNAAAAAAAC") == ["ATCGAA", "T", "T", "N", "AAAAAA", "A", "C"]
    assert v1.tokenize("NNACGTACG") == ["N", "N", "ACGTAC", "G"]
    assert v1.tokenize("ACG") == ["A", "C", "G"]
    ids, _ = v1.encode_sequences(["ATCGAATTNAAAAAAAC"])
    assert ids[0].tolist() == v1("ATCGAATTNAAAAAAAC")["input_ids"]


def test_lowercase_is_uppercased_and_iupac_counted(v1):
    assert v1("atcgaa")["input_ids"] == [3, 436]  # soft-masked reference
    ids, ambiguous = v1.encode_sequences(["ATCGAARY"])
    assert ambiguous == 2 and ids[0].tolist() == [3, 436, 4104, 4104]
    with pytest.raises(SequenceError, match=r"window 0: characters \['-', '1'\]"):
        v1.encode_sequences(["ACG-T1"], where="window")


def nt_reference_tokens(sequence: str, k: int = 6) -> list[str]:
    """NT's rule written out the plain way, independent of the tokenizer's vectorised code."""
    tokens: list[str] = []
    pieces = sequence.split("N")
    for i, piece in enumerate(pieces):
        whole = len(piece) // k
        tokens += [piece[j * k : (j + 1) * k] for j in range(whole)]
        tokens += list(piece[whole * k :])
        if i < len(pieces) - 1:
            tokens.append("N")
    return tokens


def test_ids_equal_a_plain_reading_of_nt_rule_on_random_windows(v1, v2):
    rng = np.random.default_rng(0)
    for _ in range(50):
        sequence = "".join(
            rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=rng.integers(1, 200))
        )
        expected = nt_reference_tokens(sequence)
        assert v1.tokenize(sequence) == expected
        assert v1.encode_sequences([sequence])[0][0].tolist() == [3, *v1.convert_tokens_to_ids(expected)]
        assert v2(sequence)["input_ids"] == [3, *v2.convert_tokens_to_ids(expected)]


def test_fast_path_equals_the_transformers_path_on_random_windows(v1):
    rng = np.random.default_rng(0)
    for _ in range(20):
        sequence = "".join(
            rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=rng.integers(1, 200))
        )
        assert v1.encode_sequences([sequence])[0][0].tolist() == v1(sequence)["input_ids"]


def test_save_and_load_round_trip(v1, v2, tmp_path: Path):
    for tokenizer, name in ((v1, "a"), (v2, "b"), (make_kmer_tokenizer(tmp_path / "c", 1), "c")):
        save_tokenizer(tokenizer, tmp_path / f"saved-{name}")
        back = load_tokenizer(tmp_path / f"saved-{name}")
        assert (back.k, back.layout, len(back)) == (tokenizer.k, tokenizer.layout, len(tokenizer))
        assert back("ATCGAATTNACG")["input_ids"] == tokenizer("ATCGAATTNACG")["input_ids"]


def test_character_tokenizer(tmp_path: Path):
    char = make_kmer_tokenizer(tmp_path / "char", 1)
    assert len(char) == 9 and char("ATCGN")["input_ids"] == [3, 4, 5, 6, 7, 8]


def test_an_nt_checkpoint_vocab_is_recognised_and_a_wrong_one_refused(tmp_path: Path):
    checkpoint = tmp_path / "nt"
    checkpoint.mkdir()
    (checkpoint / "vocab.txt").write_text("\n".join(nt_vocabulary(6, "v1")) + "\n")
    (checkpoint / "tokenizer_config.json").write_text('{"tokenizer_class": "EsmTokenizer"}')
    assert load_tokenizer(checkpoint).layout == "v1"
    (checkpoint / "vocab.txt").write_text("\n".join(nt_vocabulary(6, "v1")[:-1]) + "\n")
    with pytest.raises(CohortError, match=r"4104 tokens, neither NT v1's.*another tokenizer"):
        load_tokenizer(checkpoint)
