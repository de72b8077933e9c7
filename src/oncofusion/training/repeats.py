"""Repeated runs: the fusion model, the baselines and (optionally) the ablations retrained N times.

One test set of 70–400 samples cannot carry a claim, and neither can one seed. Repeat r uses seed
``base.seed + r`` for training and, where the split was drawn rather than given, for a fresh split
(``data.split.resplit``); every row of the table then gets a mean ± sd over repeats, and each comparison
with the fusion model gets the per-repeat paired difference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.split import resplit
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.ablations import run_ablations
from oncofusion.training.baselines import run_baselines
from oncofusion.training.evaluate import METRIC_KEYS, predict_split
from oncofusion.training.train import fit

FUSION = "fusion_transformer"


def with_seed(params: Params, seed: int) -> Params:
    return params.model_copy(update={"base": params.base.model_copy(update={"seed": seed})})


def score_once(cohort: Cohort, params: Params, ablations: bool) -> dict[str, dict[str, float]]:
    """Test metrics of every model for one split and seed."""
    with tempfile.TemporaryDirectory(prefix="oncofusion-repeat-") as work:
        result = fit(cohort, params, Path(work))
    model = LoadedModel(result.net, cohort.classes, {})
    test = predict_split(model, cohort, "test")
    scores = {FUSION: test.metrics()}
    if params.evaluate.baselines:
        baselines = run_baselines(cohort, model.modalities, params.base.seed, model.net.preprocess)
        scores.update({name: scored["test"] for name, scored in baselines.items()})
    if ablations:
        for name, scored in run_ablations(cohort, params).items():
            scores[name] = scored["test"]
    return scores


def summarise(runs: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """mean ± sd of each model's test metrics, and fusion minus each model per repeat."""
    models = list(runs[0])
    rows = {}
    for name in models:
        rows[name] = {}
        for key in METRIC_KEYS:
            values = np.array([run[name][key] for run in runs], dtype=float)
            rows[name][key] = {
                "mean": round(float(np.nanmean(values)), 4),
                "sd": round(float(np.nanstd(values, ddof=1)), 4) if len(values) > 1 else 0.0,
                "values": [round(float(v), 4) for v in values],
            }
    differences = {}
    for name in models:
        if name == FUSION:
            continue
        diff = np.array([run[FUSION]["f1_macro"] - run[name]["f1_macro"] for run in runs])
        differences[f"fusion_minus_{name}"] = {
            "mean": round(float(diff.mean()), 4),
            "sd": round(float(diff.std(ddof=1)), 4) if len(diff) > 1 else 0.0,
            "fusion_ahead_in": int((diff > 0).sum()),
            "ties": int((diff == 0).sum()),
            "repeats": len(diff),
        }
    return {"metric": "test", "repeats": len(runs), "rows": rows, "f1_macro_differences": differences}


def run_repeats(
    cohort: Cohort,
    split_method: str,
    params: Params,
    repeats: int,
    *,
    ablations: bool,
    first: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """``cohort`` is the split cohort; ``first`` (repeat 0's scores, from the stage's own run on the
    same split and seed) saves retraining it."""
    runs = []
    for r in range(repeats):
        seed = params.base.seed + r
        if r == 0 and first is not None:
            runs.append(first)
            continue
        assignment = resplit(cohort.labels, split_method, params.split, seed)
        runs.append(score_once(cohort.with_split(assignment), with_seed(params, seed), ablations))
    return {
        **summarise(runs),
        "seeds": [params.base.seed + r for r in range(repeats)],
        "split_method": split_method,
    }
