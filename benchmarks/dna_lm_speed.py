"""DNA language model speed: the MLM + contrastive training step against a plain ``EsmForMaskedLM``
MLM-only step of the same config on the same batch (equal work: the same 4B sequences, i.e. each
variant's tumour and normal window on both strands, the same masked positions), peak memory of each,
model-FLOPs utilisation on a GPU, and dna_embed's windows/s (representations and zero-shot scores).

    .venv/bin/python benchmarks/dna_lm_speed.py                      # CPU: the cpu-small preset
    .venv/bin/python benchmarks/dna_lm_speed.py --preset gpu-50m   # GPU: ~50M params, 1,000 tokens, bf16

Each step kind runs in a child process of its own (so its peak memory is its own), alternating kinds
for ``--rounds`` rounds, and the ratio is of medians from the same run on the same machine. Writes
benchmarks/results/dna_lm_speed-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_io import RESULTS, cpu_name, write_report

# bf16 dense peak, TFLOP/s (NVIDIA datasheets: H100 SXM and H200 share the compute die)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def _model(preset: str, tmp: Path):
    import torch
    from transformers import EsmForMaskedLM

    from oncofusion.config.dna import DnaArchitecture
    from oncofusion.dna.model import esm_config, resolved_architecture
    from oncofusion.dna.tokenizers import make_kmer_tokenizer

    # the presets' tokenizers: one base a token on the CPU, NT's 6-mers at NT's scale
    tokenizer = make_kmer_tokenizer(tmp / "tok", 1 if preset == "cpu-small" else 6)
    arch = resolved_architecture(DnaArchitecture(preset=preset))
    torch.manual_seed(0)
    model = EsmForMaskedLM._from_config(esm_config(arch, tokenizer), attn_implementation="sdpa")
    model.esm.contact_head.requires_grad_(False)
    return tokenizer, model, arch


def child(kind: str, preset: str, pairs: int, steps: int, warmup: int) -> dict:
    """One kind of step, timed: ``dual`` (ours), ``plain`` (EsmForMaskedLM with labels), ``embed``."""
    import torch

    from oncofusion.config.dna import DnaFinetuneParams
    from oncofusion.dna.module import DualTaskModule, TokenRoles
    from oncofusion.dna.objectives import mask_tokens
    from oncofusion.dna.representations import CentredWindows, VariantLayout, represent

    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer, model, arch = _model(preset, Path(tmp))
    model.to(device)
    roles = TokenRoles(tokenizer)
    length = arch["max_tokens"]
    generator = torch.Generator().manual_seed(0)
    first = len(tokenizer.all_special_ids)
    views = torch.randint(first, len(tokenizer), (pairs, 4, length), generator=generator)
    views[..., 0] = tokenizer.cls_token_id
    anchors = torch.full((pairs, 4), VariantLayout.of(tokenizer, length).anchor)
    ids = views.reshape(4 * pairs, length).to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if gpu else torch.autocast("cpu", enabled=False)
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    if kind == "embed":
        model.eval()
        windows = CentredWindows(None, views, anchors)
        with autocast:
            represent(model, windows, roles, 1, pairs, device)
        if gpu:
            torch.cuda.synchronize()
        began = time.perf_counter()
        for _ in range(steps):
            with autocast:
                represent(model, windows, roles, 1, pairs, device)
        if gpu:
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - began) / steps
        # four windows represented and two scored per variant
        return {
            "variants_per_second": round(pairs / seconds, 1),
            "windows_per_second": round(6 * pairs / seconds, 1),
            **_memory(gpu),
        }
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    module = DualTaskModule(model, roles, DnaFinetuneParams(), seed=0)
    keep = roles.keep(ids)
    inputs, labels = mask_tokens(ids, keep, roles.mask_id, roles.sequence_ids.to(device), 0.15)
    attention = torch.ones_like(ids)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with autocast:
            if kind == "dual":
                loss = module.losses((views.to(device), anchors.to(device)))["loss"]
            else:
                loss = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimiser.step()

    model.train()
    times = []
    for i in range(warmup + steps):
        if gpu:
            torch.cuda.synchronize()
        began = time.perf_counter()
        step()
        if gpu:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    tokens = ids.numel()
    n_body = sum(
        p.numel()
        for n, p in model.named_parameters()
        if "embeddings" not in n and "lm_head" not in n and "contact_head" not in n
    )
    n_head = sum(p.numel() for n, p in model.named_parameters() if "lm_head" in n)
    masked = int((labels != -100).sum())
    layers, width = arch["num_layers"], arch["hidden_size"]
    attention_flops = 12 * layers * width * length  # per token, forward + backward (PaLM appendix B)
    # Useful model FLOPs: the body on every token, the LM head on the predicted (masked) tokens only.
    flops = 6 * n_body * tokens + attention_flops * tokens + 6 * n_head * masked
    out = {
        "step_seconds_median": round(seconds, 5),
        "tokens_per_second": round(tokens / seconds, 1),
        "model_tflops_per_second": round(flops / seconds / 1e12, 3),
        **_memory(gpu),
    }
    if gpu:
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        if peak:
            out["mfu_bf16"] = round(flops / seconds / peak, 4)
    return out


def _memory(gpu: bool) -> dict:
    import torch

    if gpu:
        return {"peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset", default=None, help="cpu-small (default on CPU) or gpu-50m (default on GPU)"
    )
    parser.add_argument("--pairs", type=int, default=None, help="variants a step (4× sequences)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    gpu = torch.cuda.is_available()
    preset = args.preset or ("gpu-50m" if gpu else "cpu-small")
    pairs = args.pairs or (16 if gpu else 32)
    if args.child:
        print(json.dumps(child(args.child, preset, pairs, args.steps, args.warmup)))
        return

    def run(kind: str) -> dict:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--preset",
                preset,
                "--pairs",
                str(pairs),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    rounds = {"dual": [], "plain": []}
    for _ in range(args.rounds):
        for kind in rounds:
            rounds[kind].append(run(kind))
    embed = run("embed")
    summary = {
        kind: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for kind, results in rounds.items()
    }
    ratio = summary["dual"]["tokens_per_second"] / summary["plain"]["tokens_per_second"]
    per_round = [
        d["tokens_per_second"] / p["tokens_per_second"]
        for d, p in zip(rounds["dual"], rounds["plain"], strict=True)
    ]
    device = torch.cuda.get_device_name(0) if gpu else f"cpu-{torch.get_num_threads()}threads"
    with tempfile.TemporaryDirectory() as tmp:
        _, model, arch = _model(preset, Path(tmp))
    report = {
        "benchmark": "dna_lm_speed",
        "machine": {"device": device, "cpu": cpu_name()},
        "preset": preset,
        "architecture": arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "pairs_per_step": pairs,
        "tokens_per_step": 4 * pairs * arch["max_tokens"],
        "precision": "bf16-mixed" if gpu else "32",
        "rounds": args.rounds,
        "dual_mlm_contrastive": summary["dual"],
        "plain_esm_mlm": summary["plain"],
        "speedup_tokens_per_second": round(ratio, 3),
        "speedup_per_round": [round(r, 3) for r in per_round],
        "target_speedup": 1.3,
        "embed": embed,
        "gpu_run": "this file" if gpu else "pending: no GPU was lent to this task",
    }
    name = device.replace(" ", "-").lower() if gpu else f"cpu-{torch.get_num_threads()}threads"
    write_report(report, RESULTS / f"dna_lm_speed-{name}.json")


if __name__ == "__main__":
    main()
