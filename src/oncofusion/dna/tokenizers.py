"""DNA tokenizers that ``save_pretrained`` / ``from_pretrained`` like any ``transformers`` tokenizer.

``NucleotideKmerTokenizer`` reproduces the Nucleotide Transformer's own k-mer rule token for token
(instadeepai/nucleotide-transformer, ``tokenizers.py``): the sequence is split at each N, each piece is
cut into non-overlapping 6-mers from its start, the < 6 bases left at a piece's end and every N become
single-nucleotide tokens, and ``<cls>`` is prepended with no end token. The alphabet order is NT's
(A, T, C, G), not alphabetical, so a 6-mer's id is ``offset + Σ idx(bᵢ)·4^(5−i)``. Two id layouts exist:
NT v1 (``<unk> <pad> <mask> <cls>``, 6-mers from 4, vocab 4,105) and NT v2 (two more specials, 6-mers
from 6, vocab 4,107). ``transformers``' own ``EsmTokenizer`` would split through a trie of all 4,105
tokens (slow on 6 kb windows) and appends ``<eos>`` unless told not to, which runs v1 ids past the
embedding table; this class has neither problem and a vectorised ``encode`` for training.

The same class with ``k=1`` is the character tokenizer (HyenaDNA / Caduceus style). A model directory
keeps both: ``vocab.txt`` for this class and a ``tokenizer.json`` with the same rule, which plain
``transformers`` loads with ``AutoTokenizer`` (``fast_tokenizer``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from transformers import PreTrainedTokenizer, PreTrainedTokenizerFast

from oncofusion.errors import CohortError

NT_ALPHABET = "ATCG"  # NT's order: idx A=0, T=1, C=2, G=3
Layout = Literal["v1", "v2"]
SPECIALS: dict[str, list[str]] = {
    "v1": ["<unk>", "<pad>", "<mask>", "<cls>"],
    "v2": ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"],
}
IUPAC_AMBIGUOUS = set("RYSWKMBDHVU")  # valid nucleotide codes that are not A/C/G/T/N: read as N, counted
VOCAB_FILE = "vocab.txt"

# byte → code: A T C G = 0..3, N = 4, other IUPAC letters = 5 (become N), anything else = -1 (an error)
_CODE = np.full(256, -1, dtype=np.int8)
for _i, _b in enumerate(NT_ALPHABET):
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = _i
_CODE[ord("N")] = _CODE[ord("n")] = 4
for _b in IUPAC_AMBIGUOUS:
    _CODE[ord(_b)] = _CODE[ord(_b.lower())] = 5

# Where a saved model directory keeps its tokenizer (the fine-tune stage writes it, embed reads it).
TOKENIZER_DIR = "tokenizer"


def nt_vocabulary(k: int = 6, layout: Layout = "v1") -> list[str]:
    """The token list in id order: specials, then all k-mers in NT order, then A T C G N."""
    kmers = ["".join(p) for p in itertools.product(NT_ALPHABET, repeat=k)] if k > 1 else []
    return [*SPECIALS[layout], *kmers, *NT_ALPHABET, "N"]


class SequenceError(CohortError):
    """A sequence holds a character that is no nucleotide code; ``index`` is its place in the batch."""

    index: int | None = None


def _codes_of(sequences: Iterable[str], where: str) -> Iterator[tuple[np.ndarray, int]]:
    for i, sequence in enumerate(sequences):
        try:
            yield nucleotide_codes(sequence, f"{where} {i}")
        except SequenceError as error:
            error.index = i
            raise


def nucleotide_codes(sequence: str, where: str = "sequence") -> tuple[np.ndarray, int]:
    """Codes 0..4 (A T C G N) of an upper- or lower-case sequence, and how many ambiguous IUPAC
    letters (R, Y, ...) were read as N. A character that is no nucleotide code is an error."""
    raw = np.frombuffer(sequence.encode("latin-1", errors="replace"), dtype=np.uint8)
    codes = _CODE[raw]
    if (codes < 0).any():
        bad = sorted({sequence[i] for i in np.flatnonzero(codes < 0)[:20]})
        raise SequenceError(f"{where}: characters {bad} are not nucleotide codes (A, C, G, T, N or IUPAC)")
    ambiguous = codes == 5
    n_ambiguous = int(ambiguous.sum())
    if n_ambiguous:
        codes = codes.copy()
        codes[ambiguous] = 4
    return codes, n_ambiguous


class NucleotideKmerTokenizer(PreTrainedTokenizer):
    """Nucleotide Transformer k-mer tokenizer (k=6, layout v1 or v2); ``k=1`` is the character one."""

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": VOCAB_FILE}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str, k: int = 6, layout: Layout = "v1", **kwargs):
        self.k = int(k)
        self.layout = layout
        tokens = Path(vocab_file).read_text().splitlines()
        expected = nt_vocabulary(self.k, layout)
        if tokens != expected:
            raise CohortError(
                f"{vocab_file}: {len(tokens)} tokens, not the NT {layout} layout for k={self.k} "
                f"({len(expected)} tokens: {' '.join(expected[:6])} ...)"
            )
        self._tokens = tokens
        self._ids = {t: i for i, t in enumerate(tokens)}
        n_special = len(SPECIALS[layout])
        self.kmer_offset = n_special
        self.base_offset = n_special + (4**self.k if self.k > 1 else 0)  # A T C G N singles
        for name, token in (("unk_token", "<unk>"), ("pad_token", "<pad>"), ("mask_token", "<mask>")):
            kwargs.setdefault(name, token)
        kwargs.setdefault("cls_token", "<cls>")
        if layout == "v2":
            kwargs.setdefault("eos_token", "<eos>")
            kwargs.setdefault("bos_token", "<bos>")
        kwargs.setdefault("model_max_length", 1000)
        super().__init__(k=self.k, layout=layout, **kwargs)

    # -- transformers interface -------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._ids)

    def _convert_token_to_id(self, token: str) -> int:
        return self._ids.get(token, self._ids["<unk>"])

    def _convert_id_to_token(self, index: int) -> str:
        return self._tokens[index] if 0 <= index < len(self._tokens) else "<unk>"

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        codes, _ = nucleotide_codes(text.strip())
        return [self._tokens[i] for i in self._sequence_ids(codes)]

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        if token_ids_1 is not None:
            raise ValueError("a DNA window is one sequence; pairs are not tokenized together")
        return [self.cls_token_id, *token_ids_0]  # NT: <cls> first, no end token

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens=False
    ) -> list[int]:
        if already_has_special_tokens:
            special = set(self.all_special_ids)
            return [int(t in special) for t in token_ids_0]
        return [1] + [0] * len(token_ids_0)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(t for t in tokens if not t.startswith("<"))

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE)
        Path(path).write_text("\n".join(self._tokens) + "\n")
        return (path,)

    # -- the fast path ------------------------------------------------------------------------------
    def _sequence_ids(self, codes: np.ndarray) -> np.ndarray:
        """Ids of one sequence (no specials): NT's rule, vectorised over each N-free piece."""
        k = self.k
        if k == 1:
            return (self.base_offset + codes).astype(np.int64)
        weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
        out: list[np.ndarray] = []
        n_positions = np.flatnonzero(codes == 4)
        bounds = [-1, *n_positions.tolist(), len(codes)]
        for left, right in itertools.pairwise(bounds):
            piece = codes[left + 1 : right].astype(np.int64)
            whole = (len(piece) // k) * k
            if whole:
                out.append(self.kmer_offset + piece[:whole].reshape(-1, k) @ weights)
            if whole < len(piece):
                out.append(self.base_offset + piece[whole:])
            if right < len(codes):
                out.append(np.array([self.base_offset + 4], dtype=np.int64))  # the N itself
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def encode_sequences(
        self, sequences: Iterable[str], where: str = "sequence"
    ) -> tuple[list[np.ndarray], int]:
        """``<cls>`` + ids of each sequence, and the number of ambiguous IUPAC letters read as N."""
        ids, ambiguous = [], 0
        cls = np.array([self.cls_token_id], dtype=np.int64)
        for codes, n in _codes_of(sequences, where):
            ambiguous += n
            ids.append(np.concatenate([cls, self._sequence_ids(codes)]))
        return ids, ambiguous


def make_kmer_tokenizer(directory: Path, k: int = 6, layout: Layout = "v1") -> NucleotideKmerTokenizer:
    """Write the vocabulary to ``directory`` and build the tokenizer on it."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / VOCAB_FILE
    vocab.write_text("\n".join(nt_vocabulary(k, layout)) + "\n")
    return NucleotideKmerTokenizer(str(vocab), k=k, layout=layout)


def fast_tokenizer(tokenizer: NucleotideKmerTokenizer) -> PreTrainedTokenizerFast:
    """The same rule as a ``tokenizers`` pipeline, which plain ``transformers`` loads with
    ``AutoTokenizer`` (no project code): lowercase read as uppercase and other IUPAC letters as N
    (normalizer), NT's k-mer split (a regex that takes k bases of A/C/G/T, else one character, so a
    run restarts after each N), the vocabulary as a word-level model, ``<cls>`` first."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    replace = [normalizers.Replace(b.lower(), b) for b in NT_ALPHABET + "N"]
    replace += [normalizers.Replace(b, "N") for b in sorted(IUPAC_AMBIGUOUS)]
    replace += [normalizers.Replace(b.lower(), "N") for b in sorted(IUPAC_AMBIGUOUS)]
    backend = Tokenizer(models.WordLevel(tokenizer.get_vocab(), unk_token="<unk>"))
    backend.normalizer = normalizers.Sequence(replace)
    pattern = f"[ACGT]{{{tokenizer.k}}}|." if tokenizer.k > 1 else "."
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    backend.post_processor = processors.TemplateProcessing(
        single="<cls> $A", special_tokens=[("<cls>", tokenizer.cls_token_id)]
    )
    specials = {"unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>", "cls_token": "<cls>"}
    if tokenizer.layout == "v2":
        specials |= {"eos_token": "<eos>", "bos_token": "<bos>"}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, model_max_length=tokenizer.model_max_length, **specials
    )


def save_tokenizer(tokenizer: NucleotideKmerTokenizer, directory: Path) -> None:
    """``tokenizer.json`` for any ``transformers`` user, and ``vocab.txt`` (NT's layout) from which the
    project rebuilds its vectorised tokenizer: both give the same ids (tests/dna/test_hf_directory.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    fast_tokenizer(tokenizer).save_pretrained(str(directory))
    tokenizer.save_vocabulary(str(directory))


def encode(tokenizer, sequences: Sequence[str], where: str = "sequence") -> tuple[list[np.ndarray], int]:
    """Ids (with ``<cls>``) of each sequence, and the count of ambiguous IUPAC letters read as N."""
    return tokenizer.encode_sequences(sequences, where)


def load_tokenizer(directory: Path) -> NucleotideKmerTokenizer:
    """The tokenizer saved in ``directory`` (ours, or the ``EsmTokenizer`` files of an NT checkpoint):
    its ``vocab.txt`` must be NT's 6-mer vocabulary (v1 or v2) or the one-base-a-token one."""
    vocab = directory / VOCAB_FILE
    if not vocab.is_file():
        raise CohortError(
            f"{directory}: no {VOCAB_FILE}, so not a tokenizer saved by oncofusion or an NT checkpoint"
        )
    tokens = vocab.read_text().splitlines()
    for k in (6, 1):
        for layout in ("v1", "v2"):
            if tokens == nt_vocabulary(k, layout):
                return NucleotideKmerTokenizer(str(vocab), k=k, layout=layout)
    raise CohortError(
        f"{vocab}: {len(tokens)} tokens, neither NT v1's (4,105) nor v2's (4,107) 6-mer vocabulary nor "
        "the one-base-a-token one (9): a model directory from another tokenizer"
    )
