"""What the three DNA stages read from a split variant cohort: its windows (with each sample's split),
the reference they index (checked against the checksum the cohort recorded) and the germline SNVs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.cohort import Cohort, file_digest, read_meta, require_validated
from oncofusion.config import Params
from oncofusion.data.variants.build import GERMLINE_FILE, WINDOWS_FILE
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.windows import Germline
from oncofusion.errors import CohortError


@dataclass
class VariantInputs:
    cohort: Cohort
    windows: pd.DataFrame  # windows.parquet plus each sample's split
    reference: Reference
    germline: Germline | None


def load_variant_inputs(params: Params, cohort_dir: Path, root: Path, split: bool = True) -> VariantInputs:
    """A split, validated variant cohort's inputs; ``split=False`` reads a cohort straight from the
    cohort stage (every sample in split "all"), for the cross-validated beyond-the-96 check, which
    neither trains a registered model nor needs a held-out split."""
    if WINDOWS_FILE not in read_meta(cohort_dir).files:
        raise CohortError(
            f"{cohort_dir}: no {WINDOWS_FILE}; the DNA stages need a variant cohort (cohort.source: variants)"
        )
    if split:
        require_validated(cohort_dir)
    cohort = Cohort.load(cohort_dir)
    if not split:
        cohort = cohort.with_split(pd.Series("all", index=cohort.labels["sample_id"]))
    elif "split" not in cohort.labels.columns:
        raise CohortError(f"{cohort_dir}: has no split column; use the split stage's output")
    recorded = cohort.meta.provenance.get("reference", {})
    path = root / params.cohort.path / params.cohort.variants.reference
    if not path.is_file():
        raise CohortError(
            f"{path}: the reference FASTA the cohort was read against is missing "
            "(cohort.path / cohort.variants.reference)"
        )
    if recorded.get("sha256") and file_digest(path) != recorded["sha256"]:
        raise CohortError(
            f"{path}: not the reference this cohort was built against (checksum differs from "
            f"cohort.json's); rebuild the cohort or point cohort.variants.reference at the right file"
        )
    windows = cohort.sidecars[WINDOWS_FILE].copy()
    split = cohort.labels.set_index("sample_id")["split"]
    windows["split"] = windows["sample_id"].map(split)
    windows = windows[windows["split"].notna()].reset_index(drop=True)
    germline_table = cohort.sidecars.get(GERMLINE_FILE)
    germline = Germline.from_table(germline_table) if germline_table is not None else None
    return VariantInputs(cohort, windows, Reference.load(path), germline)


def draw(windows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded draw of up to ``n`` windows, in the table's order (so a re-run draws the same)."""
    if len(windows) <= n:
        return windows.reset_index(drop=True)
    picked = np.sort(np.random.default_rng(seed).choice(len(windows), size=n, replace=False))
    return windows.iloc[picked].reset_index(drop=True)


def per_sample(windows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` windows of each sample, a seeded draw."""
    order = np.random.default_rng(seed).permutation(len(windows))
    shuffled = windows.iloc[order]
    rank = shuffled.groupby("sample_id", sort=False).cumcount().to_numpy()
    kept = shuffled[rank < n]
    return kept.sort_values(["sample_id", "chrom", "start"]).reset_index(drop=True)
