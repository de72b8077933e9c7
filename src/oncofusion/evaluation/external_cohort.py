"""An external test cohort (`oncofusion fit --test-cohort DIR`, `evaluate.test_cohort`): another study's
samples in the training cohort's layout, read with the training cohort's own settings.

A model trained on one consortium meets data from other studies, centres and callers. This reads such a
cohort as the training cohort was read (same source, same modality declarations, `cohort.path` replaced)
and refuses what cannot be compared, naming what differs:
- a class the model was never trained on (it can never be called, so every metric would be wrong);
- a modality whose features are not the training features (another panel, another catalogue layout);
- a variant cohort against another reference build (its catalogues would not mean the same).
A modality whose file the directory lacks is missing for every sample (the other studies' exomes have
no indel table): a counted decision, and the model answers from the modalities it has.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from oncofusion.cohort import Cohort
from oncofusion.config import Params
from oncofusion.data.decisions import Decisions
from oncofusion.errors import CohortError
from oncofusion.models.bundle import LoadedModel

MIN_SAMPLES = 20  # fewer external samples than this support no interval worth reporting


def _declared_file(directory: Path, modality: str, file: str | None) -> Path | None:
    if file is not None:
        return directory / file if (directory / file).is_file() else None
    for suffix in (".csv", ".tsv", ".txt", ".parquet"):
        if (directory / f"{modality}{suffix}").is_file():
            return directory / f"{modality}{suffix}"
    return None


def _read(params: Params, directory: Path, decisions: Decisions) -> Cohort:
    source = params.cohort.source
    if source == "synthetic":
        raise CohortError(
            "evaluate.test_cohort: the training cohort is synthetic; an external test cohort needs a "
            "tables, segments or variants cohort in the training cohort's layout"
        )
    if not directory.exists():
        raise CohortError(f"{directory}: the external test cohort does not exist")
    cohort = params.cohort.model_copy(update={"path": str(directory)})
    if source == "tables":
        tables = cohort.tables
        kept = {}
        for name, decl in tables.modalities.items():
            if _declared_file(directory, name, decl.file) is None:
                decisions.record(f"test cohort: modality '{name}' has no file in {directory}, missing", 1)
            else:
                kept[name] = decl
        if not kept:
            raise CohortError(
                f"{directory}: none of the training modalities' files ({sorted(tables.modalities)}) is here"
            )
        labels = tables.labels if tables.labels and (directory / tables.labels).is_file() else None
        cohort = cohort.model_copy(
            update={"tables": tables.model_copy(update={"modalities": kept, "labels": labels})}
        )
        from oncofusion.data.tables.build import tables_cohort

        return tables_cohort(cohort, Path("."), decisions)
    if source == "variants":
        from oncofusion.data.variants.build import variants_cohort

        return variants_cohort(cohort, Path("."), decisions)[0]
    from oncofusion.data.segments.build import segments_cohort

    return segments_cohort(cohort, Path("."), decisions)[0]


def _check_build(model: LoadedModel, external: Cohort, directory: Path) -> None:
    if model.variant_input is None:
        return
    trained = model.variant_input.get("reference_sha256")
    provenance = external.meta.provenance
    given = (provenance.get("reference") or {}).get("sha256") if isinstance(provenance, dict) else None
    if trained and given and trained != given:
        raise CohortError(
            f"{directory}: the external cohort's reference FASTA (sha256 {given[:12]}…) is not the one the "
            f"model's cohort was built on ({trained[:12]}…): catalogues of another build do not compare"
        )


def load_external_cohort(
    params: Params, directory: str | Path, model: LoadedModel
) -> tuple[Cohort, Decisions]:
    """The external cohort, every sample in split 'test', classes and features in the model's order."""
    directory = Path(directory)
    decisions = Decisions()
    external = _read(params, directory, decisions)
    extra = sorted(set(external.classes) - set(model.classes))
    if extra:
        raise CohortError(
            f"{directory}: the test cohort has classes the model was not trained on: {extra} "
            f"(the model's classes: {model.classes}); drop those samples or train on them"
        )
    modalities: dict[str, pd.DataFrame] = {}
    for name in model.modalities:
        features = model.schema[name]["features"]
        table = external.modalities.get(name)
        if table is None:
            modalities[name] = pd.DataFrame(columns=features, dtype="float32")
            continue
        missing = [f for f in features if f not in table.columns]
        unknown = [f for f in table.columns if f not in set(features)]
        if missing or unknown:
            raise CohortError(
                f"{directory}: modality '{name}' has other features than training: "
                f"{len(missing)} missing (e.g. {missing[:3]}), {len(unknown)} unknown (e.g. {unknown[:3]})"
            )
        modalities[name] = table[features]
    _check_build(model, external, directory)
    labels = external.labels[["sample_id", "label"]].assign(split="test")
    if len(labels) < MIN_SAMPLES:
        raise CohortError(
            f"{directory}: {len(labels)} labelled samples; an external test cohort needs at least "
            f"{MIN_SAMPLES}"
        )
    meta = external.meta.model_copy(update={"classes": list(model.classes)})
    return Cohort(meta=meta, labels=labels.reset_index(drop=True), modalities=modalities), decisions
