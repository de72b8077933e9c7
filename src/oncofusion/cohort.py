"""The Cohort contract: the one object every stage reads and writes.

A cohort directory holds ``labels.parquet`` (sample_id, label, optional split, clinical columns), one
``<modality>.parquet`` per modality (index ``sample_id``, float32 features) and ``cohort.json`` (the
metadata below). Annotations are tables that travel with a cohort but are not model inputs, such as the
integer copy-number states behind the CNA log2 ratios.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oncofusion import atomic
from oncofusion.errors import CohortError

ModalityKind = Literal["tabular", "profile", "genomic"]
# Input transforms a modality declares; fitted inside the model (models/preprocess.py).
Transform = Literal["none", "log1p", "zscore", "proportion"]
SPLITS = ("train", "val", "test")
META_FILE = "cohort.json"
LABELS_FILE = "labels.parquet"
VALIDATED_FILE = "validated.json"


class Domain(BaseModel):
    """The values a table may hold; the validation gate turns this into expectations."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    integer: bool = False
    row_sum: float | None = Field(None, description="each row sums to this (profiles)")
    max_nan_fraction: float | None = Field(
        None,
        description="NaN share allowed per column, overriding validate.max_nan_fraction "
        "(binned segments: uncovered bins are NaN by design)",
    )

    def describe(self) -> str:
        parts = []
        if self.min is not None or self.max is not None:
            low = "-inf" if self.min is None else f"{self.min:g}"
            high = "inf" if self.max is None else f"{self.max:g}"
            parts.append(f"{'integers' if self.integer else 'values'} in [{low}, {high}]")
        if self.row_sum is not None:
            parts.append(f"rows sum to {self.row_sum:g}")
        return ", ".join(parts) or "any finite value"


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    features: list[str]
    domain: Domain
    description: str = ""

    @property
    def n_features(self) -> int:
        return len(self.features)


class ModalitySpec(TableSpec):
    kind: ModalityKind
    # Fitted inside the model on the training split only (models/preprocess.py), so serving applies it.
    transform: Transform = "none"
    top_k: int | None = Field(None, gt=0, description="keep the k highest-variance training features")
    # Features are channel-major (channels × positions), e.g. binned log2 ratio then gain/loss call.
    channels: int = Field(1, ge=1)


class CohortMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    name: str
    classes: list[str]
    modalities: dict[str, ModalitySpec]
    annotations: dict[str, TableSpec] = {}
    # Files that travel with the cohort but are neither model inputs nor annotations, by relative path,
    # with what they hold (a variant cohort's variants.parquet, windows.parquet, SigProfiler catalogues).
    files: dict[str, str] = {}
    provenance: dict[str, Any] = {}
    ground_truth: dict[str, Any] = Field(
        default_factory=dict, description="what the generator planted: signal features, class parameters"
    )

    def table_specs(self) -> dict[str, TableSpec]:
        return {**self.modalities, **self.annotations}


def _summary(meta: CohortMeta) -> dict[str, Any]:
    """cohort.json puts the feature count beside the feature list, for people reading it."""
    payload = meta.model_dump(mode="json")
    for group in ("modalities", "annotations"):
        for spec in payload[group].values():
            spec["n_features"] = len(spec["features"])
    return payload


def read_meta(directory: str | Path) -> CohortMeta:
    path = Path(directory) / META_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CohortError(f"{path}: missing; is {directory} a cohort directory?") from None
    except (OSError, json.JSONDecodeError) as error:
        raise CohortError(f"{path}: unreadable ({error})") from None
    if not isinstance(raw, dict):
        raise CohortError(f"{path}: must hold a JSON object, not {type(raw).__name__}")
    for group in ("modalities", "annotations"):
        for name, spec in (raw.get(group) or {}).items():
            if not isinstance(spec, dict):
                continue
            declared = spec.pop("n_features", None)
            if declared is not None and declared != len(spec.get("features", [])):
                raise CohortError(
                    f"{path}: {group}.{name}.n_features is {declared} but {len(spec.get('features', []))} "
                    "features are listed"
                )
    try:
        return CohortMeta.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(".".join(map(str, e["loc"])) + f": {e['msg']}" for e in error.errors())
        raise CohortError(f"{path}: does not follow the cohort contract: {problems}") from None


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet table, turning every reader failure into a message naming the file."""
    if not path.exists():
        raise CohortError(f"{path}: file is missing")
    if path.stat().st_size == 0:
        raise CohortError(f"{path}: file is empty (0 bytes)")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for corrupt/truncated files
        raise CohortError(f"{path}: not a readable Parquet file ({type(error).__name__}: {error})") from None


@dataclass
class Cohort:
    meta: CohortMeta
    labels: pd.DataFrame
    modalities: dict[str, pd.DataFrame]
    annotations: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Written with the cohort (Parquet for frames, text for anything else) under meta.files' paths and
    # carried through the split, so the split cohort still holds a variant cohort's windows.
    sidecars: dict[str, pd.DataFrame | str] = field(default_factory=dict)

    @property
    def sample_ids(self) -> list[str]:
        return self.labels["sample_id"].tolist()

    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    def with_split(self, split: pd.Series) -> Cohort:
        """Return a copy whose labels carry ``split`` (indexed by sample_id)."""
        labels = self.labels.copy()
        labels["split"] = labels["sample_id"].map(split)
        if labels["split"].isna().any():
            missing = labels.loc[labels["split"].isna(), "sample_id"].head(5).tolist()
            raise CohortError(f"split assigns no partition to samples such as {missing}")
        return Cohort(self.meta, labels, self.modalities, self.annotations, self.sidecars)

    def save(self, directory: str | Path, validated_by: dict[str, Any] | None = None) -> None:
        """Write all files into a staging directory and swap it in, so readers never see half a cohort.

        ``validated_by`` (the validation report it passed) is written to validated.json with a content
        fingerprint of the files, which later stages check with :func:`require_validated`.
        """
        with atomic.atomic_directory(directory) as staging:
            self.labels.reset_index(drop=True).to_parquet(staging / LABELS_FILE, index=False)
            for name, spec in self.meta.table_specs().items():
                table = self.modalities.get(name, self.annotations.get(name))
                if table is None:
                    raise CohortError(f"cohort.json declares table '{name}' but no data was given for it")
                table.to_parquet(staging / spec.file, index=True)
            for relative, content in self.sidecars.items():
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, str):
                    target.write_text(content)
                else:
                    content.to_parquet(target, index=False)
            (staging / META_FILE).write_text(json.dumps(_summary(self.meta), indent=2) + "\n")
            if validated_by is not None:
                stamp = {**validated_by, "data_fingerprint": fingerprint(staging)}
                (staging / VALIDATED_FILE).write_text(json.dumps(stamp, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Cohort:
        directory = Path(directory)
        meta = read_meta(directory)
        labels = read_table(directory / LABELS_FILE)
        modalities = {n: read_table(directory / s.file) for n, s in meta.modalities.items()}
        annotations = {n: read_table(directory / s.file) for n, s in meta.annotations.items()}
        sidecars = {
            name: read_table(directory / name)
            if name.endswith(".parquet")
            else (directory / name).read_text()
            for name in meta.files
        }
        return cls(meta, labels, modalities, annotations, sidecars)


def fingerprint(directory: str | Path) -> str:
    """A content hash of a cohort directory, so a validation report can be tied to the exact files."""
    directory = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != VALIDATED_FILE):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def as_float32_frame(values: np.ndarray, sample_ids: list[str], features: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(values.astype(np.float32), columns=features)
    frame.index = pd.Index(sample_ids, name="sample_id")
    return frame


def require_validated(directory: str | Path) -> dict[str, Any]:
    """Refuse a cohort that did not come out of a passed gate, or was edited since."""
    directory = Path(directory)
    path = directory / VALIDATED_FILE
    try:
        stamp = json.loads(path.read_text())
    except FileNotFoundError:
        raise CohortError(
            f"{directory}: no {VALIDATED_FILE}; only cohorts written by the split stage after a passed "
            "validation can be trained on (run `oncofusion validate` and `oncofusion split`)"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise CohortError(f"{path}: unreadable ({error})") from None
    if stamp.get("data_fingerprint") != fingerprint(directory):
        raise CohortError(f"{directory}: files changed since validation; re-run validate and split")
    return stamp


def file_digest(path: Path) -> str:
    """SHA-256 of a source file, read in chunks: the provenance a cohort records for each input."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
