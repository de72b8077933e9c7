"""Bring-your-own tables → a cohort: a labels file plus one file per modality, any number of modalities.

Sample IDs are aligned across files. A modality may cover only some samples (the model masks it for
the others); IDs that only one side knows are reported and, by params, either stop the ingest or are
dropped and counted, never lost silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from oncofusion.cohort import SPLITS, Cohort, CohortMeta, Domain, ModalitySpec, file_digest
from oncofusion.config import CohortParams, ModalityDecl
from oncofusion.data.decisions import Decisions
from oncofusion.data.ids import case_hint, normalise_ids
from oncofusion.data.tables.files import find_file, read_matrix, read_raw
from oncofusion.data.tables.values import MISSING_TEXT
from oncofusion.errors import CohortError

EXAMPLES = 5
NON_NEGATIVE_TRANSFORMS = ("log1p", "proportion")


def read_labels(
    path: Path, label_column: str, split_column: str, decisions: Decisions | None = None
) -> pd.DataFrame:
    """sample_id, label, optional split (normalised to train/val/test), clinical columns as given.

    Whitespace around IDs, labels and split names, and the case of split names, are normalised; each
    is counted in ``decisions`` (cohort.json), so a reviewer sees that `"BRCA "` became `"BRCA"`."""
    decisions = decisions if decisions is not None else Decisions()
    raw = read_raw(path, decisions)
    columns = normalise_ids(
        [str(c) for c in raw.columns], f"{path} (header)", "column name", fold_case=False, decisions=decisions
    )
    raw.columns = columns
    id_column = "sample_id" if "sample_id" in columns else columns[0]
    if label_column not in columns:
        raise CohortError(f"{path}: no {label_column!r} column (columns: {', '.join(columns[:10])})")
    for reserved, chosen in (("label", label_column), ("split", split_column)):
        if chosen != reserved and reserved in columns:
            raise CohortError(
                f"{path}: has a {reserved!r} column but {chosen!r} is named as the {reserved} column; "
                f"rename one (the cohort's labels keep '{reserved}' for the {reserved})"
            )
    if split_column != "split" and split_column not in columns:
        raise CohortError(f"{path}: no {split_column!r} column, which params name as the split column")
    labels = pd.DataFrame(
        {"sample_id": normalise_ids(raw[id_column], f"{path} (column {id_column!r})", decisions=decisions)}
    )
    label = _text_cells(raw[label_column])
    _record_rewritten(
        raw[label_column], label, f"{path.name} (column {label_column!r}): labels trimmed", decisions
    )
    if label.isna().any():
        rows = labels.loc[label.isna().to_numpy(), "sample_id"].head(EXAMPLES).tolist()
        raise CohortError(
            f"{path}: {int(label.isna().sum())} sample(s) without a {label_column!r}, e.g. {rows}"
        )
    labels["label"] = label.astype(str).to_numpy()
    require_distinct_classes(labels["label"], str(path))
    if split_column in columns:
        split = _text_cells(raw[split_column]).str.lower()
        _record_rewritten(
            raw[split_column],
            split,
            f"{path.name} (column {split_column!r}): split names trimmed or lower-cased",
            decisions,
        )
        bad = split.isna() | ~split.isin(SPLITS)
        if bad.any():
            rows = [
                f"{sid}: {value!r}"
                for sid, value in zip(
                    labels.loc[bad.to_numpy(), "sample_id"],
                    raw.loc[bad.to_numpy(), split_column],
                    strict=True,
                )
            ]
            raise CohortError(
                f"{path}: column {split_column!r} must be train, val or test for every sample; "
                f"{int(bad.sum())} are not, e.g. {rows[:EXAMPLES]}"
            )
        labels["split"] = split.astype(str).to_numpy()
    for column in columns:
        if column not in (id_column, label_column, split_column, "sample_id", "label", "split"):
            labels[column] = _clinical(raw[column])
    return labels


def _record_rewritten(raw: pd.Series, read: pd.Series, what: str, decisions: Decisions) -> None:
    """Count the cells whose text reading changed them (missing markers are not a rewrite)."""
    original = raw.astype("string")
    changed = (read.notna() & (original != read)).fillna(False).to_numpy(dtype=bool)
    decisions.record(
        what,
        int(changed.sum()),
        [f"{o!r}→{r!r}" for o, r in zip(original[changed], read[changed], strict=True)],
    )


def _text_cells(column: pd.Series) -> pd.Series:
    """Stripped strings, with empty cells and NA markers (NA, null, N/A, .) as missing."""
    text = column.astype("string").str.strip()
    return text.mask(text.isin(MISSING_TEXT) | text.isna())


def _clinical(column: pd.Series) -> pd.Series | object:
    """Clinical columns from text files keep their numbers as numbers (age, stage as 1-4)."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy()
    text = _text_cells(column).to_numpy(dtype=object, na_value=None)
    numbers = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce")
    if numbers.notna().sum() == sum(t is not None for t in text):
        return numbers.to_numpy()
    return text


def require_distinct_classes(labels: pd.Series, where: str) -> None:
    """Labels that differ only in case are one class typed two ways, not two classes."""
    spellings: dict[str, set[str]] = {}
    for value in labels.unique():
        spellings.setdefault(str(value).casefold(), set()).add(str(value))
    clashes = [sorted(v) for v in spellings.values() if len(v) > 1]
    if clashes:
        raise CohortError(
            f"{where}: labels that differ only in case would become separate classes: {clashes[:5]}; "
            "spell each class one way"
        )


def _domain(decl: ModalityDecl) -> Domain:
    low = decl.min
    if decl.transform in NON_NEGATIVE_TRANSFORMS and low is None:
        low = 0.0  # log1p and proportions are defined for non-negative values (counts)
    return Domain(min=low, max=decl.max)


def assemble(
    name: str,
    labels: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    specs: dict[str, ModalitySpec],
    params: CohortParams,
    provenance: dict[str, Any],
    decisions: Decisions,
    labels_file: str,
) -> Cohort:
    """Align samples across labels and modalities, apply the params' policies, and build the cohort."""
    labelled = set(labels["sample_id"])
    for modality, frame in frames.items():
        unknown = [s for s in frame.index if s not in labelled]
        if not unknown:
            continue
        where = f"{specs[modality].description or modality}"
        if params.unknown_samples == "error":
            raise CohortError(
                f"{where}: {len(unknown)} sample ID(s) not in {labels_file}, e.g. {unknown[:EXAMPLES]}"
                f"{case_hint(unknown, labelled)} (set cohort.unknown_samples: drop to drop them)"
            )
        frames[modality] = frame.drop(index=unknown)
        decisions.record(
            f"dropped samples of modality '{modality}' not in {labels_file}", len(unknown), unknown
        )

    covered = set().union(*(set(f.dropna(how="all").index) for f in frames.values()))
    empty = [s for s in labels["sample_id"] if s not in covered]
    if empty:
        if params.empty_samples == "error":
            raise CohortError(
                f"{labels_file}: {len(empty)} labelled sample(s) have no values in any modality, e.g. "
                f"{empty[:EXAMPLES]} (set cohort.empty_samples: drop to drop them)"
            )
        labels = labels[labels["sample_id"].isin(covered)]
        decisions.record("dropped labelled samples with no data in any modality", len(empty), empty)

    if params.min_class_size:
        counts = labels["label"].value_counts()
        small = sorted(counts[counts < params.min_class_size].index)
        if small:
            dropped = labels[labels["label"].isin(small)]
            labels = labels[~labels["label"].isin(small)]
            decisions.record(
                f"dropped samples of classes with fewer than {params.min_class_size} samples "
                f"({len(small)} classes)",
                len(dropped),
                small,
            )
    if labels.empty:
        raise CohortError(f"{labels_file}: no samples left after the filters above")
    kept = set(labels["sample_id"])
    for modality, frame in frames.items():
        frames[modality] = frame[frame.index.isin(kept)]
    meta = CohortMeta(
        name=name,
        classes=sorted(labels["label"].unique()),
        modalities=specs,
        provenance={**provenance, "decisions": decisions.items},
    )
    return Cohort(meta=meta, labels=labels.reset_index(drop=True), modalities=frames)


def inside(directory: Path, name: str, setting: str) -> Path:
    """A file named in params must lie inside cohort.path: that directory is what DVC tracks, so a
    file elsewhere could change without `dvc repro` noticing."""
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise CohortError(
            f"cohort.{setting}: {name!r} is outside cohort.path ({directory}); keep the cohort's files in "
            "that directory so DVC tracks them"
        )
    return path


def tables_cohort(params: CohortParams, root: Path, decisions: Decisions) -> Cohort:
    """Read ``cohort.path`` (a directory of tables) into a cohort."""
    directory = root / params.path
    if directory.suffix == ".h5mu":
        raise CohortError(
            f"{directory}: MuData (.h5mu) input is not supported yet; export each modality to CSV, TSV or "
            "Parquet (e.g. mdata[mod].to_df().to_parquet(...)) and the labels from mdata.obs"
        )
    if not directory.is_dir():
        raise CohortError(f"{directory}: cohort.path is not a directory of tables")
    tp = params.tables
    labels_path = (
        inside(directory, tp.labels, "tables.labels")
        if tp.labels
        else find_file(directory, "labels", "labels")
    )
    labels = read_labels(labels_path, tp.label_column, tp.split_column, decisions)
    frames, specs, files = {}, {}, {labels_path.name: file_digest(labels_path)}
    for modality, decl in tp.modalities.items():
        path = (
            inside(directory, decl.file, f"tables.modalities.{modality}.file")
            if decl.file
            else find_file(directory, modality, f"modality '{modality}'")
        )
        frame = read_matrix(path, decl.orientation or tp.orientation, decisions)
        frames[modality] = frame
        files[path.name] = file_digest(path)
        specs[modality] = ModalitySpec(
            file=f"{modality}.parquet",
            features=list(frame.columns),
            domain=_domain(decl),
            kind=decl.kind,
            transform=decl.transform,
            top_k=decl.top_k,
            description=f"{params.path}/{path.name}",
        )
        if decl.top_k is not None and decl.top_k > frame.shape[1]:
            raise CohortError(
                f"cohort.tables.modalities.{modality}.top_k is {decl.top_k} but {path.name} has only "
                f"{frame.shape[1]} features"
            )
    provenance = {
        "source": "tables",
        "path": params.path,
        "files": files,
        "orientation": {m: d.orientation or tp.orientation for m, d in tp.modalities.items()},
    }
    return assemble(params.name, labels, frames, specs, params, provenance, decisions, labels_path.name)
