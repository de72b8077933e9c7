"""`oncofusion fit` wall time on a generated bring-your-own cohort (default 500 samples × 3 × 1000).

Writes the example tables (RNA counts TSV genes × samples, methylation Parquet, protein CSV on ~75% of
samples), then runs the real CLI in a subprocess with params.yaml's defaults for the model and training
(50 epochs, early stopping), baselines on and, unless --ablations, the ablation retrains off. Writes wall
time, per-step seconds (from fit.json), peak memory and test metrics to benchmarks/results/.

    python benchmarks/fit_tables.py [--samples 500] [--features 1000] [--ablations]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from oncofusion.data.synthetic.example_tables import write_example_params, write_example_tables
from results_io import RESULTS, cpu_name, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--ablations", action="store_true", help="also retrain the ablation variants")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oncofusion-fit-bench-") as work:
        root = Path(work)
        write_example_tables(root / "raw", n_samples=args.samples, n_features=args.features, seed=0)
        write_example_params(
            root / "params.yaml", "raw", args.features, {"evaluate": {"ablations": args.ablations}}
        )
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db"}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "oncofusion.cli", "fit", "--params", "params.yaml", "--out", "run"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - started
        record = json.loads((root / "run" / "fit.json").read_text())
        metrics = json.loads((root / "run" / "metrics.json").read_text())
        ablations = json.loads((root / "run" / "ablations.json").read_text())

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "benchmark": "fit_tables",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": f"cpu ({cpu_name()}, {os.cpu_count()} cores)",
        "python": platform.python_version(),
        "samples": args.samples,
        "modalities": record["modalities"],
        "ablations": args.ablations,
        "wall_seconds": round(seconds, 2),
        "step_seconds": record["seconds"],
        "peak_rss_gb": round(children.ru_maxrss / 1024**2, 3),
        "test": metrics["test"],
        "models_test_f1_macro": {row["model"]: round(row["test_f1_macro"], 4) for row in ablations["rows"]},
    }
    write_report(report, args.out or RESULTS / f"fit_tables-cpu-{os.cpu_count()}cores.json")


if __name__ == "__main__":
    main()
