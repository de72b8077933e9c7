"""Inference latency of the served ensemble: its members one after another (the loop) against one
vectorised pass (models/vectorised.py), side by side in one process.

Times ``LoadedModel.predict`` for one sample and for a batch, interleaving the variants call by call so
that other work on the machine slows each alike, and reports medians and the ratios. A third variant,
``loop_old_predict``, is the loop under ``predict`` as it was before this change (``no_grad`` and an
``eval()`` of every submodule on each call, instead of ``inference_mode`` and a check). The model is the
trained bundle at ``--model`` if it exists, else a random model of the default architecture (5 members);
inputs are drawn around each feature's training mean. Writes JSON to benchmarks/results/.

    python benchmarks/ensemble_forward.py [--model /tmp/fresh/models/model.pt] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oncofusion.config import Params
from oncofusion.models.bundle import LoadedModel, load_bundle
from oncofusion.models.network import Architecture, EnsembleNet, ModalityInput
from results_io import RESULTS, cpu_name, write_report

DEFAULT_MODEL = Path("/tmp/fresh/models/model.pt")


def random_model(members: int) -> LoadedModel:
    """The default architecture on the default synthetic cohort's modalities, with random weights."""
    params = Params()
    synth = params.synthesize
    widths = {
        "methylation": synth.methylation.n_features,
        "fragmentomics": len(
            range(
                synth.fragmentomics.min_length, synth.fragmentomics.max_length, synth.fragmentomics.bin_width
            )
        ),
        "cna": synth.cna.n_bins,
    }
    kinds = {
        "methylation": ("tabular", "mlp"),
        "fragmentomics": ("profile", "cnn"),
        "cna": ("genomic", "cnn_gru"),
    }
    model = params.model
    arch = Architecture(
        modalities=[
            ModalityInput(name=name, kind=kinds[name][0], n_features=width, encoder=kinds[name][1])
            for name, width in widths.items()
        ],
        n_classes=len(synth.classes),
        **{
            field: getattr(model, field)
            for field in (
                "d_model",
                "n_heads",
                "n_layers",
                "dropout",
                "fusion",
                "hidden",
                "channels",
                "gru_hidden",
                "wide",
                "wide_bins",
            )
            if hasattr(model, field)
        },
    )
    torch.manual_seed(0)
    net = EnsembleNet(arch, n_members=members)
    with torch.no_grad():  # the wide path and the head start at zero: give every member weights of its own
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    net.eval()
    schema = {
        m.name: {"kind": m.kind, "features": [f"f{i}" for i in range(m.n_features)]} for m in arch.modalities
    }
    return LoadedModel(net=net, classes=list(synth.classes), schema=schema)


def sample_inputs(model: LoadedModel, batch: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    member = model.net.members[0]
    inputs = {}
    for name in model.modalities:
        pre = member.preprocess[name]
        centre = pre.raw_mean.numpy()
        spread = getattr(member, f"std_{name}").numpy() if pre.identity else np.abs(centre) * 0.1 + 1e-3
        inputs[name] = (centre + spread * rng.standard_normal((batch, len(centre)))).astype(np.float32)
    return inputs, np.ones((batch, len(model.modalities)), dtype=bool)


@torch.no_grad()
def old_predict(
    model: LoadedModel, inputs: dict[str, np.ndarray], present: np.ndarray
) -> dict[str, np.ndarray]:
    """``LoadedModel.predict``'s body before this change (member loop, ``eval()`` on every call)."""
    model.net.eval()
    tensors = {m: torch.as_tensor(inputs[m], dtype=torch.float32) for m in model.modalities}
    out = model.net(tensors, torch.as_tensor(present, dtype=torch.bool))
    attention = out.modality_attention()
    probabilities = out.logits.float().softmax(dim=-1).numpy()
    result = {
        "predicted": model.net.decide(out.logits).numpy(),
        "probabilities": probabilities,
        "uncalibrated_logits": (out.logits.float() * model.net.temperature).numpy(),
        "embedding": out.embedding.float().numpy(),
        "attention": attention.numpy(),
    }
    if model.conformal is not None:
        result["sets"] = model.conformal.predict_sets(probabilities)
    return result


def variants(model: LoadedModel) -> dict[str, Callable[[dict[str, np.ndarray], np.ndarray], Any]]:
    net = model.net

    def with_loop(vectorised: bool, call: Callable) -> Callable:
        def run(inputs: dict[str, np.ndarray], present: np.ndarray) -> Any:
            net.vectorised = vectorised
            return call(inputs, present)

        return run

    return {
        "loop_old_predict": with_loop(False, lambda i, p: old_predict(model, i, p)),
        "loop": with_loop(False, model.predict),
        "vectorised": with_loop(True, model.predict),
    }


def measure(model: LoadedModel, batch: int, calls: int, warmup: int) -> dict[str, Any]:
    inputs, present = sample_inputs(model, batch)
    runs = variants(model)
    model.net.__dict__.pop("_stacked", None)
    started = time.perf_counter()
    runs["vectorised"](inputs, present)  # builds the stacked weights
    first_call_ms = (time.perf_counter() - started) * 1000
    outputs = {name: run(inputs, present) for name, run in runs.items()}
    for _ in range(warmup):
        for run in runs.values():
            run(inputs, present)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(calls):  # interleaved: load from elsewhere slows every variant alike
        for name, run in runs.items():
            started = time.perf_counter()
            run(inputs, present)
            times[name].append(time.perf_counter() - started)
    median = {name: float(np.median(t)) * 1000 for name, t in times.items()}
    loop, fast = outputs["loop"], outputs["vectorised"]
    return {
        "batch": batch,
        "calls": calls,
        "median_ms": {name: round(ms, 3) for name, ms in median.items()},
        "p90_ms": {name: round(float(np.percentile(t, 90)) * 1000, 3) for name, t in times.items()},
        "speed_up_vectorised_over_loop": round(median["loop"] / median["vectorised"], 2),
        "speed_up_vectorised_over_loop_old_predict": round(
            median["loop_old_predict"] / median["vectorised"], 2
        ),
        "speed_up_predict_changes_alone": round(median["loop_old_predict"] / median["loop"], 2),
        "first_vectorised_call_ms": round(first_call_ms, 2),  # includes stacking the weights
        "max_abs_difference": {
            key: float(np.abs(loop[key] - fast[key]).max())
            for key in ("probabilities", "uncalibrated_logits", "embedding", "attention")
        },
        "same_calls": bool((loop["predicted"] == fast["predicted"]).all()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--members", type=int, default=5, help="for the random model only")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument(
        "--out", default="ensemble_forward.json", help="result file name under benchmarks/results/"
    )
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    trained = args.model.exists()
    model = load_bundle(args.model) if trained else random_model(args.members)
    results = [measure(model, batch, args.calls, args.warmup) for batch in args.batches]
    report = {
        "benchmark": "ensemble_forward",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "model": {
            "source": str(args.model) if trained else "random, default architecture",
            "members": len(model.net.members),
            "architecture": model.net.arch.model_dump(),
        },
        "statistic": "median over interleaved calls of LoadedModel.predict (numpy in, numpy out)",
        # Other work on the machine slows every variant: the 1-minute load average.
        "load_average_after": round(os.getloadavg()[0], 2),
        "results": results,
    }
    write_report(report, RESULTS / args.out)


if __name__ == "__main__":
    main()
