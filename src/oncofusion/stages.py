"""One function per DVC stage: read config, call the library, write outputs atomically.

The CLI and the thin scripts in pipelines/ both call these, so `dvc repro` and `oncofusion <stage>`
do exactly the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.split import split_summary, stratified_split
from oncofusion.data.synthetic import generate_cohort
from oncofusion.errors import CohortError
from oncofusion.validation import ValidationReport, gate, require_passed


def synthesize(params: Params, out_dir: Path) -> Cohort:
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name=params.cohort.name)
    cohort.save(out_dir)
    return cohort


def validate(params: Params, cohort_dir: Path, report_dir: Path) -> ValidationReport:
    return gate(cohort_dir, params.validation, report_dir)


def split(params: Params, cohort_dir: Path, report_dir: Path, out_dir: Path, metrics_file: Path) -> Cohort:
    require_passed(cohort_dir, report_dir)
    cohort = Cohort.load(cohort_dir)
    assignment = stratified_split(cohort.labels, params.split, seed=params.base.seed)
    result = cohort.with_split(assignment)
    result.save(out_dir)
    atomic.write_json(metrics_file, split_summary(result.labels))
    return result


def _split_cohort(cohort_dir: Path) -> Cohort:
    cohort = Cohort.load(cohort_dir)
    if "split" not in cohort.labels.columns:
        raise CohortError(
            f"{cohort_dir}: has no split column; train on the split stage's output (data/splits)"
        )
    return cohort


def train(
    params: Params, cohort_dir: Path, model_dir: Path, work_dir: Path, resume: bool = False
) -> dict[str, Any]:
    from oncofusion.training.run import train_and_log

    return train_and_log(_split_cohort(cohort_dir), params, model_dir, work_dir, resume=resume)


def evaluate(params: Params, cohort_dir: Path, model_dir: Path, reports_dir: Path) -> dict[str, Any]:
    from oncofusion.training.report import evaluate_and_report

    info = json.loads((model_dir / "train.json").read_text())
    return evaluate_and_report(_split_cohort(cohort_dir), params, model_dir, reports_dir, info)
