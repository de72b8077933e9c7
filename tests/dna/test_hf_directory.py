"""A saved DNA model directory opens with plain ``transformers`` (``AutoTokenizer``,
``AutoModelForMaskedLM``) in a process that never imports oncofusion, and its tokenizer gives the
project's ids, N and lowercase included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import EsmForMaskedLM

from oncofusion.config.dna import DnaArchitecture
from oncofusion.dna.model import esm_config, resolved_architecture
from oncofusion.dna.tokenizers import encode, make_kmer_tokenizer, save_tokenizer

PLAIN = """
import json, sys
from transformers import AutoModelForMaskedLM, AutoTokenizer
assert not any(name.startswith("oncofusion") for name in sys.modules)
directory, sequences = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(directory + "/tokenizer", local_files_only=True)
model = AutoModelForMaskedLM.from_pretrained(directory, local_files_only=True)
batch = tokenizer(sequences)["input_ids"]
assert not any(name.startswith("oncofusion") for name in sys.modules)
print(json.dumps({"ids": batch, "vocab": model.config.vocab_size, "pad": tokenizer.pad_token_id,
                  "mask": tokenizer.mask_token_id}))
"""


def random_sequences(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGTNacgtnRY"))
    weights = np.array([20, 20, 20, 20, 2, 5, 5, 5, 5, 1, 1, 1], dtype=float)
    return [
        "".join(rng.choice(letters, size=int(rng.integers(1, 40)), p=weights / weights.sum()))
        for _ in range(60)
    ]


@pytest.mark.parametrize(("k", "layout"), [(1, "v1"), (6, "v2")])
def test_plain_transformers_opens_the_directory_with_the_same_ids(tmp_path: Path, k: int, layout: str):
    tokenizer = make_kmer_tokenizer(tmp_path / "scratch", k, layout)
    arch = DnaArchitecture(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_tokens=48)
    torch.manual_seed(0)
    EsmForMaskedLM._from_config(esm_config(resolved_architecture(arch), tokenizer)).save_pretrained(
        str(tmp_path / "model")
    )
    save_tokenizer(tokenizer, tmp_path / "model" / "tokenizer")
    sequences = random_sequences(k)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN, str(tmp_path / "model"), json.dumps(sequences)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    ours, _ = encode(tokenizer, sequences)
    assert answer["ids"] == [row.tolist() for row in ours]
    assert (answer["vocab"], answer["pad"], answer["mask"]) == (
        len(tokenizer),
        tokenizer.pad_token_id,
        tokenizer.mask_token_id,
    )
