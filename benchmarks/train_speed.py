"""Training speed on the default synthetic cohort (1000 samples × 3 modalities × ~110 features).

Trains the default model for a fixed number of epochs (early stopping off, no logger) and writes wall
time, samples/s and peak memory as JSON to benchmarks/results/, named after the device it ran on.

    python benchmarks/train_speed.py [--epochs 50] [--accelerator auto|cpu|gpu]
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

import torch
from results_io import RESULTS, cpu_name, write_report

from oncofusion.config import Params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic import generate_cohort
from oncofusion.training.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    params = Params()
    params = params.model_copy(
        update={
            "train": params.train.model_copy(
                update={
                    "max_epochs": args.epochs,
                    "early_stopping_patience": args.epochs + 1,
                    "accelerator": args.accelerator,
                }
            )
        }
    )
    cohort = generate_cohort(params.synthesize, seed=params.base.seed)
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=params.base.seed))
    n_train = int((cohort.labels["split"] == "train").sum())
    cuda = torch.cuda.is_available() and args.accelerator != "cpu"
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        result = fit(cohort, params, Path(work))
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started

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
        "epochs": result.epochs,
        "wall_seconds": round(seconds, 3),
        "samples_per_second": round(n_train * result.epochs / seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3),
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 3) if cuda else None,
        "best_val_f1_macro": round(result.best_val_f1, 4),
        "targets": {"cpu_2_cores_seconds": 20, "h100_seconds": 3, "h100_gpu_memory_gb": 0.3},
    }
    slug = "cuda-" + device.replace(" ", "-") if cuda else f"cpu-{os.cpu_count()}cores"
    write_report(report, args.out or RESULTS / f"train_speed-{slug}.json")


if __name__ == "__main__":
    main()
