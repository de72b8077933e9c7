"""Stage `validate`: the Great Expectations gate over a cohort directory."""

from __future__ import annotations

from pathlib import Path

from oncofusion import atomic
from oncofusion.config import Params
from oncofusion.validation import ValidationReport, gate


def validate(params: Params, cohort_dir: Path, report_dir: Path) -> ValidationReport:
    atomic.require_writable(report_dir / "report.json")
    return gate(cohort_dir, params.validation, report_dir)
