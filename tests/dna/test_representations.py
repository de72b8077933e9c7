"""The variant representation changes when and only when the variant does, is strand-symmetric, and
the zero-shot score is 0 for alt = ref and sign-correct on a motif the model has learnt; bad windows
stop with the sample and variant named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import EsmForMaskedLM

from oncofusion.config.dna import DnaArchitecture, DnaFinetuneParams
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.reference import Reference
from oncofusion.dna.model import esm_config, resolved_architecture
from oncofusion.dna.module import DualTaskModule, TokenRoles
from oncofusion.dna.representations import (
    VariantLayout,
    anchor_token,
    centred_windows,
    represent,
    reverse_complement,
)
from oncofusion.dna.tokenizers import make_kmer_tokenizer, nucleotide_codes
from oncofusion.errors import CohortError

CPU = torch.device("cpu")


def tiny_model(tokenizer, tokens: int = 24, seed: int = 0) -> EsmForMaskedLM:
    arch = DnaArchitecture(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_tokens=tokens)
    torch.manual_seed(seed)
    model = EsmForMaskedLM._from_config(esm_config(resolved_architecture(arch), tokenizer))
    return model.eval()


def variants(rows: list[tuple[str, int, str, str]], sample: str = "S1") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["chrom", "start", "ref", "alt"])
    frame["sample_id"] = sample
    frame["type"] = np.where((frame["ref"].str.len() == 1) & (frame["alt"].str.len() == 1), "SNV", "DEL")
    frame["variant"] = np.arange(len(frame))
    return frame


def genome(seed: int = 0, length: int = 400) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=length))


def run(tokenizer, model, reference, table, span: int = 1):
    layout = VariantLayout.of(tokenizer, model.config.max_position_embeddings - tokenizer.pad_token_id - 1)
    windows = centred_windows(tokenizer, reference, table, None, layout, Decisions(), on_mismatch="error")
    return represent(model, windows, TokenRoles(tokenizer), span, 64, CPU)


@pytest.fixture(scope="module")
def char(tmp_path_factory):
    tokenizer = make_kmer_tokenizer(tmp_path_factory.mktemp("char"), 1)
    return tokenizer, tiny_model(tokenizer)


def test_the_representation_changes_when_and_only_when_the_variant_does(char):
    tokenizer, model = char
    sequence = genome()
    reference = Reference.from_strings({"c1": sequence})
    p = 200
    other = next(b for b in "ACGT" if b != sequence[p])
    third = next(b for b in "ACGT" if b not in (sequence[p], other))
    table = variants(
        [("c1", p, sequence[p], other), ("c1", p, sequence[p], third), ("c1", p, sequence[p], sequence[p])]
    )
    rep, score = run(tokenizer, model, reference, table)
    half = rep.shape[1] // 2
    tumour, normal = rep[:, :half], rep[:, half:]
    assert torch.allclose(normal[0], normal[1]) and torch.allclose(normal[0], normal[2])  # same site
    assert not torch.allclose(tumour[0], tumour[1], atol=1e-4)  # another alt: another representation
    assert torch.allclose(tumour[2], normal[2])  # alt = ref: nothing changed
    assert float(score[2]) == 0.0
    # the same variant in another batch, and with a base changed outside its window: identical
    far = list(sequence)
    far[p + 60] = "A" if far[p + 60] != "A" else "C"
    again, _ = run(tokenizer, model, Reference.from_strings({"c1": "".join(far)}), table.iloc[:1])
    assert torch.allclose(again[0], rep[0], atol=1e-6)
    near = list(sequence)
    near[p + 3] = "A" if near[p + 3] != "A" else "C"
    moved, _ = run(tokenizer, model, Reference.from_strings({"c1": "".join(near)}), table.iloc[:1])
    assert not torch.allclose(moved[0], rep[0], atol=1e-4)


@pytest.mark.parametrize("k", [1, 6])
def test_reverse_complement_averaging_is_strand_symmetric(tmp_path: Path, k: int):
    tokenizer = make_kmer_tokenizer(tmp_path / "tok", k)
    model = tiny_model(tokenizer, tokens=24 if k == 1 else 16, seed=k)
    sequence = genome(3)
    flipped = reverse_complement(sequence)
    forward = Reference.from_strings({"c1": sequence})
    backward = Reference.from_strings({"c1": flipped})
    rows, mirrored = [], []
    for p in (100, 150, 201):
        alt = next(b for b in "ACGT" if b != sequence[p])
        rows.append(("c1", p, sequence[p], alt))
        q = len(sequence) - 1 - p  # the same base, read on the other strand
        mirrored.append(("c1", q, flipped[q], reverse_complement(alt)))
    span = 1 if k == 1 else 0
    a, score_a = run(tokenizer, model, forward, variants(rows), span)
    b, score_b = run(tokenizer, model, backward, variants(mirrored), span)
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(score_a, score_b, atol=1e-5)
    # each strand alone differs (the check could fail): the forward views are not the same windows
    layout = VariantLayout.of(tokenizer, 24 if k == 1 else 16)
    fa = centred_windows(tokenizer, forward, variants(rows), None, layout, Decisions())
    fb = centred_windows(tokenizer, backward, variants(mirrored), None, layout, Decisions())
    assert not torch.equal(fa.ids[:, 0], fb.ids[:, 0])


def test_the_kmer_layout_puts_the_trinucleotide_inside_the_variant_token(tmp_path: Path):
    tokenizer = make_kmer_tokenizer(tmp_path / "tok", 6)
    layout = VariantLayout.of(tokenizer, 16)
    assert layout.flank % 6 == 2
    sequence = genome(5)
    reference = Reference.from_strings({"c1": sequence})
    p = 150
    windows = centred_windows(
        tokenizer,
        reference,
        variants([("c1", p, sequence[p], "A" if sequence[p] != "A" else "C")]),
        None,
        layout,
        Decisions(),
    )
    token = tokenizer.convert_ids_to_tokens(int(windows.ids[0, 2, windows.anchors[0, 2]]))
    assert token[1:4] == sequence[p - 1 : p + 2]  # 5' base, the variant, 3' base, in one 6-mer
    # with an N in the flank the phase moves and the variant's token is found all the same
    codes, _ = nucleotide_codes("ACGTNACGTACGTAC")
    assert anchor_token(codes, 9, 6) == 6  # <cls>, A C G T as singles, N, then the 6-mer ACGTAC
    assert (
        tokenizer.convert_ids_to_tokens(
            int(tokenizer.encode_sequences(["ACGTNACGTACGTAC"])[0][0][anchor_token(codes, 9, 6)])
        )
        == "ACGTAC"
    )


def test_the_zero_shot_score_is_sign_correct_on_a_planted_motif(tmp_path: Path):
    """A model trained on a genome full of TATAAA: breaking a copy scores below 0, making one above."""
    tokenizer = make_kmer_tokenizer(tmp_path / "tok", 1)
    model = tiny_model(tokenizer, tokens=16, seed=1).train()
    rng = np.random.default_rng(0)
    pieces = []
    for _ in range(400):
        pieces.append("".join(rng.choice(list("CG"), size=int(rng.integers(2, 6)))))
        pieces.append("TATAAA")
    sequence = "".join(pieces)
    reference = Reference.from_strings({"c1": sequence})
    layout = VariantLayout.of(tokenizer, 16)
    starts = rng.integers(20, len(sequence) - 20, size=600)
    train = variants([("c1", int(s), sequence[s], sequence[s]) for s in starts])
    windows = centred_windows(tokenizer, reference, train, None, layout, Decisions())
    module = DualTaskModule(model, TokenRoles(tokenizer), DnaFinetuneParams(contrastive_weight=0.0), seed=0)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(150):
        rows = torch.randint(len(windows.ids), (32,))
        optimiser.zero_grad()
        module.losses((windows.ids[rows], windows.anchors[rows]))["loss"].backward()
        optimiser.step()
    model.eval()
    motif = sequence.index("TATAAA", 100)
    _, broken = run(tokenizer, model, reference, variants([("c1", motif + 2, "T", "G")]), 0)  # → TAGAAA
    damaged = Reference.from_strings({"c1": sequence[: motif + 2] + "G" + sequence[motif + 3 :]})
    _, restored = run(tokenizer, model, damaged, variants([("c1", motif + 2, "G", "T")]), 0)  # → TATAAA
    assert float(broken[0]) < -1.0 and float(restored[0]) > 1.0


def test_bad_windows_name_the_sample_and_variant(char):
    tokenizer, model = char
    sequence = genome(7)
    reference = Reference.from_strings({"c1": sequence, "cN": "N" * 200})
    wrong = next(b for b in "ACGT" if b != sequence[120])
    with pytest.raises(CohortError, match=r"sample S1, c1:121 " + wrong + r">.*not the reference's base"):
        run(tokenizer, model, reference, variants([("c1", 120, wrong, sequence[120])]))
    with pytest.raises(CohortError, match=r"sample S1, chr9:11 A>C: contig 'chr9' is not in"):
        run(tokenizer, model, reference, variants([("chr9", 10, "A", "C")]))
    with pytest.raises(CohortError, match=r"sample S1, cN:101 N>C: its window is all N"):
        run(tokenizer, model, reference, variants([("cN", 100, "N", "C")]))
    kept = Decisions()
    layout = VariantLayout.of(tokenizer, 24)
    windows = centred_windows(
        tokenizer,
        reference,
        variants([("c1", 120, wrong, "T"), ("c1", 121, sequence[121], "A")]),
        None,
        layout,
        kept,
    )
    assert len(windows.rows) == 1 and kept.items[0]["count"] == 1  # the default: dropped and counted


def test_an_n_that_moves_the_kmer_phase_past_the_context_drops_the_variant(tmp_path: Path):
    """With 6-mers, Ns before the variant (a contig's start is N-padded) split the k-mers into single
    tokens and push the variant's token past a short context: left out and counted, not a crash."""
    tokenizer = make_kmer_tokenizer(tmp_path / "tok", 6)
    model = tiny_model(tokenizer, tokens=16)
    sequence = genome(9)
    reference = Reference.from_strings({"c1": sequence})
    layout = VariantLayout.of(tokenizer, 16)
    near_start = ("c1", 5, sequence[5], "A" if sequence[5] != "A" else "C")
    inside = ("c1", 200, sequence[200], "A" if sequence[200] != "A" else "C")
    counted = Decisions()
    windows = centred_windows(tokenizer, reference, variants([near_start, inside]), None, layout, counted)
    assert windows.rows["start"].tolist() == [200]
    assert any("pushed past the context" in d["decision"] and d["count"] == 1 for d in counted.items)
    representation, _ = represent(model, windows, TokenRoles(tokenizer), 0, 8, CPU)
    assert representation.shape[0] == 1
