"""Stage `cohort`: make the cohort ``cohort.source`` names (synthetic, your own tables, CNV segments or
somatic variants) and save it. Each source's reader is imported only when it is used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.decisions import Decisions


@dataclass
class Built:
    cohort: Cohort
    decisions: Decisions
    stats: dict[str, Any]


def build_cohort(params: Params, out_dir: Path, root: Path = Path(".")) -> Built:
    """Make the cohort ``cohort.source`` names (``cohort.path`` is relative to ``root``) and save it."""
    atomic.require_writable(out_dir)
    decisions, stats = Decisions(), {}
    source = params.cohort.source
    if source == "synthetic":
        from oncofusion.data.synthetic.omics.cohort import generate_cohort

        made = generate_cohort(params.synthesize, seed=params.base.seed, name=params.cohort.name)
    elif source == "tables":
        from oncofusion.data.tables.build import tables_cohort

        made = tables_cohort(params.cohort, root, decisions)
    elif source == "variants":
        from oncofusion.data.variants.build import variants_cohort

        made, stats = variants_cohort(params.cohort, root, decisions)
    else:
        from oncofusion.data.segments.build import segments_cohort

        made, stats = segments_cohort(params.cohort, root, decisions)
    made.save(out_dir)
    return Built(made, decisions, stats)
