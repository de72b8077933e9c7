"""Test macro-F1 with 95% bootstrap intervals for the fusion model and both baselines of one run, and
the paired bootstrap difference of fusion against each baseline (same resampled test samples).

    .venv/bin/python benchmarks/catalogue_intervals.py RUN_DIR [--name NAME] [--boot 2000]

RUN_DIR is an `oncofusion fit --out` directory (splits/, model/model.pt, plots/confusion.csv) or the
pipeline's layout (pass --splits, --model and --confusion). The fusion predictions are the evaluate
stage's own (confusion.csv, in test-sample order); the baselines are refitted exactly as evaluate fits
them (training split, the model's fitted input transforms). Writes benchmarks/results/intervals-NAME.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from oncofusion.cohort import Cohort
from oncofusion.evaluation.baselines import baseline_models, feature_matrix
from oncofusion.evaluation.intervals import bootstrap_f1
from oncofusion.models.bundle import load_bundle
from results_io import RESULTS, cpu_name, write_report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--splits", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--confusion", type=Path)
    parser.add_argument("--name", default=None)
    parser.add_argument("--boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    cohort = Cohort.load(args.splits or args.run / "splits")
    model = load_bundle(args.model or args.run / "model" / "model.pt")
    confusion = pd.read_csv(args.confusion or args.run / "plots" / "confusion.csv")
    classes = cohort.classes
    index = {c: i for i, c in enumerate(classes)}
    y = confusion["actual"].map(index).to_numpy()
    predictions = {"fusion_transformer": confusion["predicted"].map(index).to_numpy()}
    x_train, y_train = feature_matrix(cohort, model.modalities, "train", model.net.preprocess)
    x_test, y_test = feature_matrix(cohort, model.modalities, "test", model.net.preprocess)
    if not np.array_equal(y_test, y):
        raise SystemExit("confusion.csv is not in the split's test order; re-run evaluate")
    measured = ~np.isnan(x_train).all(axis=0)
    for name, estimator in baseline_models(args.seed).items():
        estimator.fit(x_train[:, measured], y_train)
        predictions[name] = estimator.predict(x_test[:, measured])
    report = {
        "benchmark": "intervals",
        "cohort": cohort.meta.name,
        "machine": {"cpu": cpu_name()},
        "n_train": len(y_train),
        "n_test": len(y),
        "n_classes": len(classes),
        "bootstrap": args.boot,
        "test": bootstrap_f1(
            y, predictions, args.boot, args.seed, reference="fusion_transformer", prefix="fusion"
        ),
    }
    write_report(report, RESULTS / f"intervals-{args.name or cohort.meta.name}.json")


if __name__ == "__main__":
    main()
