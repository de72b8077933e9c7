"""One small simulated variant cohort (files as a user has them), shared by the tests that read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.simulator import simulate

SMALL_SIMULATION = {
    "n_donors": 24,
    "genome_mb": 6.0,
    "n_contigs": 4,
    "burden_scale": 0.5,
    "germline_per_mb": 200.0,
}


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("variants") / "raw"
    summary = simulate(SimulateParams(**SMALL_SIMULATION), seed=3, out_dir=out)
    return out, summary


def variant_cohort_params(path: Path, **variants: Any) -> dict[str, Any]:
    return {
        "base": {"seed": 3},
        "cohort": {
            "source": "variants",
            "name": "sim",
            "path": str(path),
            "variants": {"germline": "germline", **variants},
        },
    }
