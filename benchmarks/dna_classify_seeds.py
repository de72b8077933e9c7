"""dna_classify over several seeds on the pipeline's split and embeddings: how much of the table is
seed noise (fusion initialisation, the set models, bootstrap draws), with each row's mean and range.

    .venv/bin/python benchmarks/dna_classify_seeds.py [--seeds 1 2 3 4 5] [--params params-variants.yaml]

Reads data/variants/splits and data/variants/dna_embeddings (run `make repro` first); MLflow runs go
to a scratch store. Writes benchmarks/results/dna_classify_seeds-cpu-<cores>cores.json.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_io import RESULTS, cpu_name, variant_seed_arguments, write_report


def main() -> None:
    args = variant_seed_arguments(__doc__).parse_args()
    scratch = tempfile.mkdtemp(prefix="oncofusion-seeds-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch}/mlflow.db"
    from oncofusion.config import load_params
    from oncofusion.stages.dna_classify import dna_classify as classify

    params = load_params(args.params)
    runs = {}
    for seed in args.seeds:
        seeded = params.model_copy(update={"base": params.base.model_copy(update={"seed": seed})})
        runs[seed] = classify(
            seeded,
            Path("data/variants/splits"),
            Path("data/variants/dna_embeddings"),
            Path(scratch) / str(seed),
        )
    rows = list(next(iter(runs.values()))["rows"])
    summary = {
        name: {
            "f1_macro_by_seed": [runs[s]["rows"][name]["f1_macro"] for s in args.seeds],
            "mean": round(statistics.mean(runs[s]["rows"][name]["f1_macro"] for s in args.seeds), 4),
        }
        for name in rows
    }
    comparisons = {
        key: [runs[s]["comparisons"][key]["mean"] for s in args.seeds]
        for key in next(iter(runs.values()))["comparisons"]
    }
    report = {
        "benchmark": "dna_classify_seeds",
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "seeds": args.seeds,
        "n_test": next(iter(runs.values()))["n_test"],
        "rows": summary,
        "fused_minus_row_by_seed": comparisons,
        "verdicts_by_seed": {
            key: [runs[s]["comparisons"][key]["verdict"] for s in args.seeds] for key in comparisons
        },
    }
    write_report(report, RESULTS / f"dna_classify_seeds-cpu-{os.cpu_count()}cores.json")


if __name__ == "__main__":
    main()
