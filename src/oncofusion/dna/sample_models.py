"""The variant-set rows of dna_classify: the embedding set model and the MuAt baseline, each with and
without the 1-Mb position, fitted on the training split and early-stopped on validation.

Equal information: MuAt's motif + position tokens say what the SBS96/DBS78/ID83 and 1-Mb density
catalogues say, one variant at a time instead of as counts; MuAt's motif tokens alone say what the
catalogues without the density one say. The embedding set model sees the language model's per-variant
representation instead of the motif (plus the position where named), so its lead or lag over MuAt is
what the embedding adds or loses against the motif.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.dna.muat import muat_ids, positions, vocabulary_ids
from oncofusion.dna.representations import REPRESENTATION
from oncofusion.dna.variant_sets import VariantSets, fit_set_model, predict_sets
from oncofusion.errors import CohortError

EMBEDDING = "set transformer: DNA embedding"
EMBEDDING_POSITION = "set transformer: DNA embedding + 1-Mb position"
MUAT_MOTIF = "MuAt: motif"
MUAT = "MuAt: motif + 1-Mb position"


def variant_sets(embeddings: Path, cohort: Cohort) -> dict[str, VariantSets]:
    """The four inputs, over the same variants: every embedded variant of every sample."""
    table = pd.read_parquet(embeddings / "variants.parquet")
    representation = np.load(embeddings / REPRESENTATION, mmap_mode="r")
    width = representation.shape[1] // 2
    tumour = np.asarray(representation[:, :width], dtype=np.float32)
    features = np.hstack([tumour, tumour - np.asarray(representation[:, width:], dtype=np.float32)])
    split = table["sample_id"].map(cohort.labels.set_index("sample_id")["split"]).to_numpy()
    in_train = split == "train"
    if not in_train.any():
        raise CohortError(
            f"{embeddings / 'variants.parquet'}: no training-split sample has an embedded variant"
        )
    centre, scale = features[in_train].mean(0), features[in_train].std(0) + 1e-6
    features = ((features - centre) / scale).astype(np.float32)
    owners = table["sample_id"].astype(str).to_numpy()
    position = {"position": vocabulary_ids(positions(table), in_train)}
    return {
        EMBEDDING: VariantSets.of(owners, features, {}),
        EMBEDDING_POSITION: VariantSets.of(owners, features, position),
        MUAT_MOTIF: VariantSets.of(owners, None, muat_ids(table, in_train, position=False)),
        MUAT: VariantSets.of(owners, None, muat_ids(table, in_train)),
    }


def set_model_predictions(
    embeddings: Path, cohort: Cohort, params: Params
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Each row's predicted class index for the test samples, in the cohort's test order."""
    labels = cohort.labels
    index = {c: i for i, c in enumerate(cohort.classes)}

    def split(name: str) -> tuple[list[str], np.ndarray]:
        rows = labels[labels["split"] == name]
        return rows["sample_id"].astype(str).tolist(), rows["label"].map(index).to_numpy(dtype=np.int64)

    train, val, (test_samples, _) = split("train"), split("val"), split("test")
    predictions, info = {}, {}
    for name, sets in variant_sets(embeddings, cohort).items():
        model, fitted = fit_set_model(
            sets, train, val, len(cohort.classes), params.dna.classify.set_model, params.base.seed
        )
        predictions[name] = predict_sets(model, sets, test_samples).argmax(1)
        info[name] = fitted
    return predictions, info
