"""New samples' multi-omics tables → the model's inputs, the way `POST /classify` takes them.

Two layouts, as users have them: a directory with one file per modality (``<modality>.csv|.tsv|.txt|
.parquet``, samples × features, the bring-your-own cohort layout; a modality without a file is missing
for every sample, a sample absent from one file is missing that modality), or one wide file with a
column per ``<modality>/<feature>`` (the MLflow pyfunc's input). Features are matched by name to the
model's; a missing feature is an error naming the file, an extra one is counted and left out. Profiles
that do not sum to their total are rescaled to it and counted, as the service does, so both give the
same answer for the same sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.data.decisions import Decisions
from oncofusion.data.tables.files import SUFFIXES, read_matrix
from oncofusion.errors import CohortError
from oncofusion.models.pyfunc import SEPARATOR
from oncofusion.serving.schema import profile_note, profile_total, rescale_profile


@dataclass
class TableInputs:
    sample_ids: list[str]
    inputs: dict[str, np.ndarray]
    present: np.ndarray
    decisions: Decisions = field(default_factory=Decisions)
    notes: list[list[str]] | None = None  # per sample: why it looks unlike training (a rescaled profile)


def _modality_frames(
    path: Path, schema: dict[str, dict[str, Any]], decisions: Decisions
) -> dict[str, pd.DataFrame]:
    if path.is_dir():
        frames = {}
        for modality in schema:
            found = [path / f"{modality}{s}" for s in SUFFIXES if (path / f"{modality}{s}").is_file()]
            if len(found) > 1:
                raise CohortError(
                    f"{path}: several files for modality {modality} ({[p.name for p in found]})"
                )
            if found:
                frames[modality] = read_matrix(found[0], "samples_by_features", decisions).rename_axis(
                    found[0].name
                )
        if not frames:
            names = ", ".join(f"{m}.csv" for m in schema)
            raise CohortError(f"{path}: no file for any of the model's modalities (expected e.g. {names})")
        return frames
    wide = read_matrix(path, "samples_by_features", decisions)
    frames = {}
    for modality in schema:
        prefix = f"{modality}{SEPARATOR}"
        columns = [c for c in wide.columns if c.startswith(prefix)]
        if columns:
            frame = wide[columns]
            frame.columns = [c.removeprefix(prefix) for c in columns]
            frames[modality] = frame.rename_axis(path.name)
    if not frames:
        raise CohortError(
            f"{path}: no column named <modality>/<feature> for the model's modalities {list(schema)}"
        )
    return frames


def read_tables(path: Path, schema: dict[str, dict[str, Any]]) -> TableInputs:
    """The samples in ``path`` as model inputs (NaN rows where a modality is missing)."""
    if not path.exists():
        raise CohortError(f"{path}: input not found")
    decisions = Decisions()
    frames = _modality_frames(path, schema, decisions)
    samples = list(dict.fromkeys(s for frame in frames.values() for s in frame.index.astype(str)))
    inputs, present = {}, np.zeros((len(samples), len(schema)), dtype=bool)
    notes: list[list[str]] = [[] for _ in samples]
    for j, (modality, spec) in enumerate(schema.items()):
        features = [str(f) for f in spec["features"]]
        values = np.full((len(samples), len(features)), np.nan, dtype=np.float32)
        frame = frames.get(modality)
        if frame is not None:
            source = frame.index.name or modality
            missing = [f for f in features if f not in frame.columns]
            if missing:
                raise CohortError(
                    f"{source}: modality {modality} lacks {len(missing)} of the model's {len(features)} "
                    f"features, e.g. {missing[:5]}"
                )
            extra = [c for c in frame.columns if c not in set(features)]
            decisions.record(f"{source}: columns the model does not use, left out", len(extra), extra)
            rows = frame.index.astype(str).get_indexer(samples)
            have = rows >= 0
            values[have] = frame[features].to_numpy(dtype=np.float32)[rows[have]]
            measured = have & ~np.isnan(values).all(axis=1)
            present[:, j] = measured
            total = profile_total(spec)
            if total is not None:
                rescaled = 0
                for i in np.flatnonzero(measured):
                    row = [None if np.isnan(v) else float(v) for v in values[i]]
                    scaled, changed = rescale_profile(row, total)
                    values[i] = [np.nan if v is None else v for v in scaled]
                    rescaled += changed
                    if changed:
                        notes[i].append(profile_note(modality, row, total))
                decisions.record(f"{source}: profiles not summing to {total:g}, rescaled to it", rescaled)
        inputs[modality] = values
    nothing = [s for s, row in zip(samples, present, strict=True) if not row.any()]
    if nothing:
        raise CohortError(
            f"{path}: {len(nothing)} sample(s) have no value in any modality, e.g. {nothing[:5]}"
        )
    return TableInputs(samples, inputs, present, decisions, notes)
