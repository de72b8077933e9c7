"""Training speed on the default synthetic cohort (1000 samples × 3 modalities × ~110 features), for one
model and for the cross-validated ensemble, side by side in one run.

Each variant trains for a fixed number of epochs (early stopping off, no logger):
- ``single_transformer``: today's model before this change's levers (no wide path, one model);
- ``single``: the default model with its wide path (logistic-regression start), one model;
- ``ensemble_sequential``: ``train.ensemble.folds`` members one after another in this process;
- ``ensemble_parallel``: the same members in worker processes (``workers: 0``, one per core).
Writes wall time, samples/s, ratios between the variants and peak memory as JSON to
benchmarks/results/, named after the device it ran on.

    python benchmarks/train_speed.py [--epochs 50] [--folds 5] [--accelerator auto|cpu|gpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from oncofusion.config import Params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.training.train import fit
from results_io import RESULTS, cpu_name, write_report


def variant(params: Params, epochs: int, accelerator: str, **changes: Any) -> Params:
    train = params.train.model_copy(
        update={
            "max_epochs": epochs,
            "early_stopping_patience": epochs + 1,
            "accelerator": accelerator,
            "ensemble": params.train.ensemble.model_copy(update=changes.pop("ensemble", {})),
        }
    )
    model = params.model.model_copy(update=changes.pop("model", {}))
    return params.model_copy(update={"train": train, "model": model})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    params = Params()
    cohort = generate_cohort(params.synthesize, seed=params.base.seed)
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=params.base.seed))
    n_train = int((cohort.labels["split"] == "train").sum())
    cuda = torch.cuda.is_available() and args.accelerator != "cpu"
    variants = {
        "single_transformer": variant(
            params, args.epochs, args.accelerator, model={"wide": False}, ensemble={"folds": 1}
        ),
        "single": variant(params, args.epochs, args.accelerator, ensemble={"folds": 1}),
        "ensemble_sequential": variant(
            params, args.epochs, args.accelerator, ensemble={"folds": args.folds, "workers": 1}
        ),
        "ensemble_parallel": variant(
            params, args.epochs, args.accelerator, ensemble={"folds": args.folds, "workers": 0}
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    for name, chosen in variants.items():
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with tempfile.TemporaryDirectory() as work:
            started = time.perf_counter()
            result = fit(cohort, chosen, Path(work))
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
        members = len(result.members)
        rows = n_train * (members - 1) / members if members > 1 else n_train  # each member's training rows
        results[name] = {
            "members": members,
            "epochs_per_member": [m.epochs for m in result.members],
            "wall_seconds": round(seconds, 3),
            "samples_per_second": round(rows * sum(m.epochs for m in result.members) / seconds, 1),
            "val_f1_macro": round(result.best_val_f1, 4),
            "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 3) if cuda else None,
        }
        print(name, results[name], flush=True)

    wall = {name: r["wall_seconds"] for name, r in results.items()}
    device = torch.cuda.get_device_name(0) if cuda else f"cpu ({cpu_name()}, {os.cpu_count()} cores)"
    report = {
        "benchmark": "train_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "samples": len(cohort.labels),
        "train_samples": n_train,
        "features": {m: s.n_features for m, s in cohort.meta.modalities.items()},
        "epochs": args.epochs,
        "variants": results,
        "ratios": {
            "single_over_single_transformer": round(wall["single"] / wall["single_transformer"], 2),
            "ensemble_sequential_over_single": round(wall["ensemble_sequential"] / wall["single"], 2),
            "ensemble_parallel_over_single": round(wall["ensemble_parallel"] / wall["single"], 2),
            "parallel_speed_up": round(wall["ensemble_sequential"] / wall["ensemble_parallel"], 2),
        },
        # The single model's wall time is what "today's figure" (17.7-20.8 s before this change) is about.
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3),
        "targets": {"cpu_2_cores_single_seconds": 40, "h100_seconds": 3, "h100_gpu_memory_gb": 0.3},
    }
    slug = "cuda-" + device.replace(" ", "-") if cuda else f"cpu-{os.cpu_count()}cores"
    write_report(report, args.out or RESULTS / f"train_speed-{slug}.json")


if __name__ == "__main__":
    main()
