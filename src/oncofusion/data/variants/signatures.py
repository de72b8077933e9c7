"""The COSMIC v3 reference signatures (packaged) and exposure fitting by non-negative least squares.

Source: Alexandrov, Kim, Haradhvala, Huang et al., "The repertoire of mutational signatures in human
cancer", Nature 578:94 (2020), as packaged in the PCAWG7 data package (steverozen/PCAWG7, data-raw/):
SBS (67 signatures × 96 classes), DBS (11 × 78), ID (17 × 83), GRCh37. See resources/signatures/README.md.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy.optimize import nnls

FILES = {
    "sbs96": "COSMIC_v3_SBS_GRCh37.tsv",
    "dbs78": "COSMIC_v3_DBS_GRCh37.tsv",
    "id83": "COSMIC_v3_ID_GRCh37.tsv",
}


@cache
def cosmic(kind: str) -> pd.DataFrame:
    """Classes × signatures, columns summing to 1, rows in the COSMIC (SigProfiler) class order."""
    source = resources.files("oncofusion.resources") / "signatures" / FILES[kind]
    with source.open() as handle:
        table = pd.read_csv(handle, sep="\t", index_col="MutationType")
    return table / table.sum(axis=0)


def fit_exposures(counts: np.ndarray, signatures: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Exposures (mutations per signature) minimising ‖counts − S·e‖ with e ≥ 0, and the cosine
    similarity of the reconstruction to the observed catalogue."""
    matrix = signatures.to_numpy()
    exposures, _ = nnls(matrix, counts.astype(float))
    fitted = matrix @ exposures
    denom = np.linalg.norm(fitted) * np.linalg.norm(counts)
    return exposures, float(fitted @ counts / denom) if denom else 0.0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom else 0.0
