"""The validation gate: Great Expectations suites derived from the cohort contract.

Nothing downstream of ``validate`` runs on a cohort that has not passed: the split stage checks the
report's verdict and its fingerprint of the exact cohort files.
"""

from oncofusion.validation.gate import ValidationFailed, gate, require_passed, run_gate
from oncofusion.validation.report import Failure, ValidationReport

__all__ = ["Failure", "ValidationFailed", "ValidationReport", "gate", "require_passed", "run_gate"]
