"""Stage `variants_simulate`: the somatic-variant simulator's MAF, VCFs, FASTA and sample sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncofusion.config import Params


def simulate_variants(params: Params, out_dir: Path) -> dict[str, Any]:
    """Write the simulator's MAF, VCFs, FASTA and sample sheet: the files a real user would have."""
    from oncofusion.data.synthetic.variants.simulator import simulate

    return simulate(params.simulate, seed=params.base.seed, out_dir=out_dir)
