"""The variant table's columns as the classifiers and counters read them: as arrays of Python objects
(Arrow-backed strings would convert on every access), and grouped by contig so that each contig's
sequence is fetched once for all its rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd


def by_contig(chroms: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(contig, positions into ``chroms``) for each contig present, via one stable argsort."""
    codes, names = pd.factorize(chroms)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    for k, name in enumerate(names):
        yield str(name), order[bounds[k] : bounds[k + 1]]


def column(variants: pd.DataFrame, name: str) -> np.ndarray:
    return variants[name].to_numpy(dtype=object)
