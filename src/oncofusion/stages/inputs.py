"""What the later stages read back: the split cohort (refused unless the gate passed it) and the
training record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oncofusion.cohort import Cohort, require_validated
from oncofusion.errors import CohortError


def train_info(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "train.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CohortError(f"{path}: no usable training record ({error}); run the train stage first") from None


def split_cohort(cohort_dir: Path) -> tuple[Cohort, dict[str, Any]]:
    """The split cohort and its validation stamp; refuses anything the gate did not pass."""
    stamp = require_validated(cohort_dir)
    cohort = Cohort.load(cohort_dir)
    if "split" not in cohort.labels.columns:
        raise CohortError(
            f"{cohort_dir}: has no split column; train on the split stage's output (data/splits)"
        )
    return cohort, stamp
