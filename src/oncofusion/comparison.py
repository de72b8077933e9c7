"""When two models' validation scores may be compared, and scoring a model on a given validation split.

The registry used to compare a candidate's val metric with the number stored on the champion when it
was registered. Those numbers can come from different cohorts, splits or classes, and then the
comparison means nothing. Promotion now re-scores the champion on the candidate's own val split, which
needs both models to read the same inputs and predict the same classes: the *schema* below.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.cohort import Cohort
from oncofusion.models.bundle import LoadedModel


def schema_of(model: LoadedModel) -> dict[str, Any]:
    """What a model reads and predicts: its classes, and per modality the kind and ordered features."""
    return {
        "classes": list(model.classes),
        "modalities": {
            m: {"kind": spec["kind"], "features": list(spec["features"])} for m, spec in model.schema.items()
        },
    }


def fingerprint(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def schema_difference(candidate: dict[str, Any], champion: dict[str, Any]) -> str | None:
    """A one-line account of why two schemas differ, or None when they match."""
    if candidate["classes"] != champion["classes"]:
        return f"classes differ (candidate {candidate['classes']}, champion {champion['classes']})"
    mine, theirs = candidate["modalities"], champion["modalities"]
    if sorted(mine) != sorted(theirs):
        return f"modalities differ (candidate {sorted(mine)}, champion {sorted(theirs)})"
    for name in sorted(mine):
        if mine[name]["kind"] != theirs[name]["kind"]:
            kinds = mine[name]["kind"], theirs[name]["kind"]
            return f"modality '{name}' is {kinds[0]} for the candidate, {kinds[1]} for the champion"
        if mine[name]["features"] != theirs[name]["features"]:
            ours, other = mine[name]["features"], theirs[name]["features"]
            return (
                f"modality '{name}' has other features ({len(ours)} for the candidate, {len(other)} for the "
                f"champion; first differing: {_first_difference(ours, other)})"
            )
    return None


def _first_difference(first: list[str], second: list[str]) -> str:
    for a, b in zip(first, second, strict=False):
        if a != b:
            return f"'{a}' vs '{b}'"
    return f"one list is {abs(len(first) - len(second))} longer"


@dataclass
class ValidationSet:
    """The candidate's val split, held so that any model with the same schema can be scored on it."""

    cohort: Cohort
    n_samples: int
    fingerprint: str  # sample IDs, labels and values: equal fingerprints mean the same validation data

    @classmethod
    def of(cls, cohort: Cohort) -> ValidationSet:
        labels = cohort.labels[cohort.labels["split"] == "val"].sort_values("sample_id")
        ids = labels["sample_id"].tolist()
        digest = hashlib.sha256()
        digest.update(json.dumps([ids, labels["label"].tolist()]).encode())
        for name in sorted(cohort.modalities):
            table = cohort.modalities[name].reindex(ids)
            digest.update(name.encode())
            digest.update(json.dumps(list(map(str, table.columns))).encode())
            digest.update(np.ascontiguousarray(table.to_numpy(dtype=np.float64, na_value=np.nan)).tobytes())
        return cls(cohort=cohort, n_samples=len(ids), fingerprint=digest.hexdigest()[:16])

    def score(self, model: LoadedModel) -> dict[str, float]:
        """The val metrics of metrics.json (same function, same rows) for `model`."""
        from oncofusion.evaluation.metrics import predict_split

        return predict_split(model, self.cohort, "val").metrics()
