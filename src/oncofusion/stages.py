"""One function per DVC stage: read config, call the library, write outputs atomically.

The CLI and the thin scripts in pipelines/ both call these, so `dvc repro` and `oncofusion <stage>`
do exactly the same thing.
"""

from __future__ import annotations

from pathlib import Path

from oncofusion import atomic
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.split import split_summary, stratified_split
from oncofusion.data.synthetic import generate_cohort
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
