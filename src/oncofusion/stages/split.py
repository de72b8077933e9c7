"""Stage `split`: a seeded, stratified train/val/test split of a cohort the gate passed."""

from __future__ import annotations

from pathlib import Path

from oncofusion import atomic
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.split import class_counts, split_assignment, split_summary
from oncofusion.validation import require_passed


def split(params: Params, cohort_dir: Path, report_dir: Path, out_dir: Path, metrics_file: Path) -> Cohort:
    atomic.require_writable(out_dir, metrics_file)
    report = require_passed(cohort_dir, report_dir)
    cohort = Cohort.load(cohort_dir)
    assignment, how = split_assignment(cohort.labels, params.split, seed=params.base.seed)
    result = cohort.with_split(assignment)
    result.save(
        out_dir,
        validated_by={"report": str(report_dir / "report.json"), "cohort_fingerprint": report.fingerprint},
    )
    atomic.write_json(metrics_file, {**split_summary(result.labels), "method": how})
    atomic.write_json(per_class_path(metrics_file), class_counts(result.labels))
    return result


def per_class_path(metrics_file: Path) -> Path:
    """Where per-class detail goes beside a DVC metrics file (``split.json`` → ``split_per_class.json``):
    plain JSON, not a metric, so `dvc metrics show` keeps one column per headline number."""
    return metrics_file.with_name(f"{metrics_file.stem}_per_class.json")
