"""Does the CPU preset's masked LM learn real DNA? Masked-token accuracy on held-out human sequence
against the most frequent base and Markov models of the flanking bases (orders 1-3 each side, fitted
on the training sequence), with a paired interval over windows, for several seeds.

The sequence is the first 2.33 Mb of hg38 chr2 in ../shared/data/reference (repeats, CpG depletion,
low-complexity runs). The first 80% (after the telomere gap) trains, the last 20% is held out. The
model, tokenizer, window and training step are the pipeline's own (``dna.architecture.preset:
cpu-small``, one base a token, ``DualTaskModule`` with λ = 0 as the default params set it).

    .venv/bin/python benchmarks/dna_lm_real.py [--steps 1500] [--seeds 0 1 2] [--genome real]

``--genome markov`` or ``gc_blocks`` runs the same measurement on as much of the simulator's own genome
(``simulate.genome_model``), to show how much there is for the model to learn in each.

Writes benchmarks/results/dna_lm_real-cpu-2cores.json (``-<genome>`` before ``-cpu`` for a simulated
genome); exits quietly when ../shared is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from results_io import RESULTS, cpu_name, write_report

REFERENCE = Path(__file__).resolve().parents[2] / "shared/data/reference/hg38_chr2_1-2333275.fa.gz"
GAP = 10_000  # the telomere gap: N


def windows_of(codes: np.ndarray, width: int, starts: np.ndarray) -> np.ndarray:
    return codes[starts[:, None] + np.arange(width)[None, :]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--held-out-windows", type=int, default=4000)
    parser.add_argument("--genome", choices=["real", "markov", "gc_blocks"], default="real")
    args = parser.parse_args()
    if not REFERENCE.is_file():
        print(f"{REFERENCE} is absent: nothing to measure")
        return
    from transformers import EsmForMaskedLM

    from oncofusion.config.dna import DnaArchitecture, DnaFinetuneParams
    from oncofusion.data.variants.reference import IndexedReference
    from oncofusion.dna.checks import mlm_metrics
    from oncofusion.dna.lm_baselines import compare_to_baselines
    from oncofusion.dna.model import esm_config, resolved_architecture
    from oncofusion.dna.module import DualTaskModule, TokenRoles
    from oncofusion.dna.tokenizers import make_kmer_tokenizer, nucleotide_codes

    reference = IndexedReference(REFERENCE)
    sequence = reference.fetch("chr2", GAP, reference.lengths["chr2"])
    source = f"{REFERENCE.name}: {len(sequence):,} bases after the {GAP:,}-base gap"
    if args.genome != "real":
        from oncofusion.config import SimulateParams
        from oncofusion.data.synthetic.variants.genome import synthetic_genome

        defaults = SimulateParams()
        contigs, _ = synthetic_genome(
            np.random.default_rng(0),
            {"chr2": len(sequence)},
            defaults.gc_mean,
            defaults.gc_sd,
            defaults.microsatellites_per_mb,
            args.genome,
        )
        sequence = contigs["chr2"].tobytes().decode()
        source = f"the simulator's genome (genome_model: {args.genome}): {len(sequence):,} bases"
    codes, _ = nucleotide_codes(sequence)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = make_kmer_tokenizer(Path(tmp), 1)
    arch = resolved_architecture(DnaArchitecture(preset="cpu-small"))
    width = arch["max_tokens"] - 1
    ids_of = lambda block: np.concatenate(  # noqa: E731
        [np.full((len(block), 1), tokenizer.cls_token_id), tokenizer.base_offset + block], 1
    )
    split = int(0.8 * len(codes))
    train_region, held_region = codes[:split], codes[split:]
    # training windows: every non-overlapping window free of N (the Markov counts see all of them)
    tiles = np.arange(0, len(train_region) - width, width)
    train_windows = windows_of(train_region, width, tiles)
    train_windows = train_windows[(train_windows < 4).all(1)]
    rng = np.random.default_rng(123)
    starts = rng.integers(0, len(held_region) - width, size=args.held_out_windows * 2)
    held = windows_of(held_region, width, starts)
    held = held[(held < 4).all(1)][: args.held_out_windows]
    train_ids, held_ids = torch.from_numpy(ids_of(train_windows)), torch.from_numpy(ids_of(held))
    roles = TokenRoles(tokenizer)
    runs = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        model = EsmForMaskedLM._from_config(esm_config(arch, tokenizer), attn_implementation="sdpa")
        params = DnaFinetuneParams(contrastive_weight=0.0)
        module = DualTaskModule(model, roles, params, seed)
        optimiser = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        began = time.perf_counter()
        model.train()
        for _ in range(args.steps):
            rows = torch.randint(len(train_ids), (params.batch_size * 4,), generator=generator)
            views = train_ids[rows].reshape(params.batch_size, 4, -1)
            anchors = torch.full((params.batch_size, 4), 1 + width // 2)
            optimiser.zero_grad()
            module.losses((views, anchors))["loss"].backward()
            optimiser.step()
        seconds = time.perf_counter() - began
        model.eval()
        cpu = torch.device("cpu")
        metrics, masked = mlm_metrics(model, held_ids, roles, params.mask_rate, 256, cpu, seed)
        compared = compare_to_baselines(
            masked,
            train_ids.numpy(),
            held_ids.numpy(),
            tokenizer.base_offset,
            roles.sequence_ids.numpy(),
            seed,
        )
        runs.append({"seed": seed, "train_seconds": round(seconds, 1), **metrics, **compared})
        print(seed, compared["model_accuracy"], compared["markov_accuracy"], flush=True)
    diffs = [r["model_minus_best_markov"]["mean"] for r in runs]
    report = {
        "benchmark": "dna_lm_real",
        "genome": args.genome,
        "machine": {"device": f"cpu-{torch.get_num_threads()}threads", "cpu": cpu_name()},
        "sequence": f"{source}; first 80% train, last 20% held out",
        "architecture": arch,
        "window_bases": width,
        "steps": args.steps,
        "batch_windows": DnaFinetuneParams().batch_size * 4,
        "train_windows": len(train_windows),
        "held_out_windows": len(held),
        "runs": runs,
        "model_minus_best_markov_by_seed": diffs,
        "verdicts": [r["model_minus_best_markov"]["verdict"] for r in runs],
    }
    tag = "" if args.genome == "real" else f"-{args.genome}"
    write_report(report, RESULTS / f"dna_lm_real{tag}-cpu-2cores.json")


if __name__ == "__main__":
    main()
