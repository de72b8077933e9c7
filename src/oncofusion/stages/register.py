"""Stage `register`: register the trained model and move the champion alias only on a like-for-like win."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.config import Params
from oncofusion.errors import CohortError
from oncofusion.stages.inputs import split_cohort, train_info


def register(
    params: Params, model_dir: Path, metrics_file: Path, out_file: Path, cohort_dir: Path
) -> dict[str, Any]:
    """Register the trained model; the champion is re-scored on this model's val split before comparing."""
    from dataclasses import asdict

    from oncofusion import registry, tracking
    from oncofusion.comparison import ValidationSet
    from oncofusion.models.bundle import load_bundle

    atomic.require_writable(out_file)
    info = train_info(model_dir)
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as error:
        raise CohortError(
            f"{metrics_file}: no usable metrics ({error}); run the evaluate stage first"
        ) from None
    cohort = split_cohort(cohort_dir)[0]
    validation = ValidationSet.of(cohort)
    candidate = load_bundle(model_dir / "model.pt")
    # metrics.json must describe this model on this val split, or the comparison is not like for like.
    if metrics.get("classes") != candidate.classes or metrics.get("n_val") != validation.n_samples:
        raise CohortError(
            f"{metrics_file} (classes {metrics.get('classes')}, {metrics.get('n_val')} val samples) does not "
            f"describe {model_dir} on {cohort_dir} (classes {candidate.classes}, {validation.n_samples} val "
            "samples); re-run evaluate on this cohort"
        )
    tracking.use_tracking()
    decision = asdict(
        registry.register_and_promote(
            info["model_uri"], metrics["val"], params.registration, candidate=candidate, validation=validation
        )
    )
    decision["run_id"] = info["run_id"]
    atomic.write_json(out_file, decision)
    return decision
