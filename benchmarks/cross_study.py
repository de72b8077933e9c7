"""Prediction sets and calls across studies, before and after: `oncofusion fit --test-cohort` on the
shared TCGA → other-studies exome pair, and the cfDNA cohort whose test split is another cohort.

    .venv/bin/python benchmarks/cross_study.py [--pairs tcga-other cfdna] [--out-dir DIR]

tcga-other: trains on ../shared/data/tcga-wes-catalogues (SBS96, DBS78, ID83; 9,493 exomes, 32 types)
with the default model and tests on other-wes-catalogues (5,879 exomes from other studies, 24 of the
types, no ID83 table): exactly `oncofusion fit -p PARAMS --out DIR --test-cohort other-wes-catalogues`,
whose reports/cross_study.json is summarised here. Besides the report's own rows, it scores the calls
adapted to three class mixes: the estimate (EM, no labels), a user's statement "these 24 types, equally
likely", and the observed mix (an oracle bound). Coverage figures carry 95% Wilson intervals.

cfdna: `oncofusion fit` on ../shared/data/real-cohorts/cfdna-liver (train: the study's discovery
cohort; test: its validation cohort, 45% diseased against 20%), and the test split's sets before
(complete-sample thresholds, no called-class rule), now, and reweighted to the estimated mix.

Writes benchmarks/results/cross_study-<pair>.json (skips a pair whose data is absent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import binomtest
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).parent))
from fusion_vs_baselines import cohort_sections
from oncofusion.config import load_params
from oncofusion.evaluation.cross_study import covariate_shift
from oncofusion.evaluation.external_cohort import load_external_cohort
from oncofusion.models.bundle import LoadedModel, load_bundle
from oncofusion.models.class_mix import estimate_batch_mix
from oncofusion.stages.fit import fit
from oncofusion.stages.inputs import split_cohort
from oncofusion.training.data import CohortTensors, cohort_tensors
from results_io import RESULTS, cpu_name, write_report

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CATALOGUE = {"orientation": "features_by_samples", "transform": "proportion"}


def _params(pair: str, work: Path) -> dict[str, Any] | None:
    if pair == "cfdna":  # the cohort as fusion_vs_baselines reads it
        sections = cohort_sections("cfdna", work)
        return None if sections is None else {**sections, "evaluate": {"ablations": False}}
    if pair != "tcga-other":
        raise SystemExit(f"unknown pair {pair}")
    source = SHARED / "tcga-wes-catalogues"
    if not (source.is_dir() and (SHARED / "other-wes-catalogues").is_dir()):
        return None
    modalities = {k: {"file": f"{k}.tsv", **CATALOGUE} for k in ("sbs96", "dbs78", "id83")}
    return {
        "cohort": {
            "source": "tables",
            "name": "tcga-wes-catalogues",
            "path": str(source),
            "tables": {"labels": "labels.tsv", "modalities": modalities},
        },
        "validate": {"require_complete_modalities": False},
        "evaluate": {"ablations": False},
    }


def wilson(covered: np.ndarray) -> dict[str, Any]:
    n, k = len(covered), int(np.sum(covered))
    low, high = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return {"coverage": round(k / n, 4), "ci95": [round(low, 4), round(high, 4)], "n": n}


def _sets(
    model: LoadedModel, data: CohortTensors, mix: np.ndarray | None, before: bool = False
) -> dict[str, Any]:
    inputs = {m: v.numpy() for m, v in data.inputs.items()}
    y = data.target.numpy()
    result = model.predict(inputs, data.present.numpy(), class_mix=mix)
    sets = model.conformal.predict_sets(result["probabilities"]) if before else result["sets"]  # type: ignore[union-attr]
    rows = np.arange(len(y))
    return {
        **wilson(sets[rows, y]),
        "mean_set_size": round(float(sets.sum(axis=1).mean()), 3),
        "empty_share": round(float((sets.sum(axis=1) == 0).mean()), 4),
        "called_in_set_share": round(float(sets[rows, result["predicted"]].mean()), 4),
        "accuracy": round(float((result["predicted"] == y).mean()), 4),
        "f1_macro": round(float(f1_score(y, result["predicted"], average="macro")), 4),
    }


def _mixes(model: LoadedModel, data: CohortTensors) -> dict[str, np.ndarray | None]:
    y = data.target.numpy()
    k = len(model.classes)
    probabilities = model.predict({m: v.numpy() for m, v in data.inputs.items()}, data.present.numpy())[
        "probabilities"
    ]
    observed = np.bincount(y, minlength=k) / len(y)
    named = np.where(observed > 0, 1.0, 1e-6)
    return {
        "model's own calls": None,
        "estimated mix (EM, no labels)": estimate_batch_mix(probabilities, model.training_frequency),  # type: ignore[arg-type]
        "stated: the cohort's types, equally likely": named / named.sum(),
        "observed mix (oracle)": np.clip(observed, 1e-6, None) / np.clip(observed, 1e-6, None).sum(),
    }


def run_pair(pair: str, work: Path) -> dict[str, Any] | None:
    raw = _params(pair, work)
    if raw is None:
        print(f"{pair}: data absent, skipped")
        return None
    (work / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(work / "params.yaml")
    external_dir = SHARED / "other-wes-catalogues" if pair == "tcga-other" else None
    if external_dir is not None:
        params = params.model_copy(
            update={"evaluate": params.evaluate.model_copy(update={"test_cohort": str(external_dir)})}
        )
    started = time.perf_counter()
    result = fit(params, work / "run")
    seconds = round(time.perf_counter() - started, 1)
    model = load_bundle(work / "run" / "model" / "model.pt")
    cohort = split_cohort(work / "run" / "splits")[0]
    if external_dir is not None:
        external, _ = load_external_cohort(params, external_dir, model)
        data = cohort_tensors(external, model.modalities, "test")
        what = "the external cohort"
    else:
        data = cohort_tensors(cohort, model.modalities, "test")
        what = "the test split (the study's validation cohort)"
        probabilities = model.predict({m: v.numpy() for m, v in data.inputs.items()}, data.present.numpy())
        mix = estimate_batch_mix(probabilities["probabilities"], model.training_frequency)  # type: ignore[arg-type]
        # Did the inputs move between the calibration (val, from the discovery cohort) and the test cohort?
        inputs_moved = covariate_shift(model, cohort_tensors(cohort, model.modalities, "val"), data, 42, mix)
    calibration = json.loads((work / "run" / "calibration.json").read_text())
    report: dict[str, Any] = {
        "benchmark": "cross_study",
        "pair": pair,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "device": "cpu"},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_seconds": seconds,
        "scored_on": what,
        "coverage_target": model.conformal.coverage if model.conformal else None,
        "threshold_mode": model.conformal.mode if model.conformal else None,
        "in_study_test": result["test"],
        "in_study_patterns": calibration["conformal"]["patterns"],
        "sets": {
            "before (complete-sample thresholds, no called-class rule)": _sets(
                model, data, None, before=True
            ),
            **{
                f"now, calls for {name}": _sets(model, data, mix) for name, mix in _mixes(model, data).items()
            },
        },
    }
    if result.get("cross_study"):
        report["cross_study"] = result["cross_study"]
    else:
        report["covariate_shift"] = inputs_moved
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", nargs="+", default=["tcga-other", "cfdna"], choices=["tcga-other", "cfdna"]
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    args = parser.parse_args()
    for pair in args.pairs:
        with tempfile.TemporaryDirectory(prefix=f"cross-study-{pair}-") as tmp:
            work = (args.out_dir / pair) if args.out_dir else Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            report = run_pair(pair, work)
            if report is not None:
                write_report(report, RESULTS / f"cross_study-{pair}.json")


if __name__ == "__main__":
    main()
