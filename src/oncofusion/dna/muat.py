"""MuAt's per-mutation input (Sanjaya et al. 2023): a motif token and a position token per variant, the
baseline the embedding model is measured against.

MuAt reads each mutation as its motif (the substitution in its trinucleotide, or the indel or
multi-base change) and its genomic position in 1-Mb bins, and attends over up to 5,000 of them. Here a
motif is the SBS96 class for a single-base substitution, ``DBS:<ref>><alt>`` for a doublet and
``<INS|DEL>:<length, capped at 5>`` otherwise; a position is ``<contig>:<start // bin>``. MuAt's genic
and strand tokens are left out: the default cohort carries no gene annotation.

Ids are assigned from the training split alone, so a motif or bin seen only in validation or test maps
to 0 ("unseen"), as it would for a new tumour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

POSITION_BIN = 1_000_000  # MuAt's and the density catalogue's bin


def motifs(table: pd.DataFrame) -> np.ndarray:
    """One motif string per variant row (columns ``type``, ``ref``, ``alt``, ``sbs96``)."""
    kind = table["type"].astype(str).to_numpy()
    ref, alt = table["ref"].astype(str).to_numpy(), table["alt"].astype(str).to_numpy()
    sbs = table["sbs96"].to_numpy(dtype=object) if "sbs96" in table else np.full(len(table), None)
    length = np.minimum(np.abs(np.char.str_len(ref.astype(str)) - np.char.str_len(alt.astype(str))), 5)
    out = np.empty(len(table), dtype=object)
    for i in range(len(table)):
        if kind[i] == "SNV":
            out[i] = sbs[i] if isinstance(sbs[i], str) else "SNV:unclassified"
        elif kind[i] == "DBS":
            out[i] = f"DBS:{ref[i]}>{alt[i]}"
        elif kind[i] in ("INS", "DEL"):
            out[i] = f"{kind[i]}:{length[i]}"
        else:
            out[i] = kind[i]
    return out


def positions(table: pd.DataFrame, bin_size: int = POSITION_BIN) -> np.ndarray:
    starts = table["start"].to_numpy(dtype=np.int64) // bin_size
    return (table["chrom"].astype(str) + ":" + pd.Series(starts, index=table.index).astype(str)).to_numpy()


def vocabulary_ids(tokens: np.ndarray, fitted_on: np.ndarray) -> np.ndarray:
    """Ids 1..V for the tokens present in the rows ``fitted_on`` marks, 0 for any other."""
    known = {t: i + 1 for i, t in enumerate(sorted(set(tokens[fitted_on].tolist())))}
    return np.fromiter((known.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))


def muat_ids(table: pd.DataFrame, train_rows: np.ndarray, position: bool = True) -> dict[str, np.ndarray]:
    """MuAt's token ids for every row: ``motif``, and ``position`` unless left out."""
    ids = {"motif": vocabulary_ids(motifs(table), train_rows)}
    if position:
        ids["position"] = vocabulary_ids(positions(table), train_rows)
    return ids
