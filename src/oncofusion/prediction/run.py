"""`oncofusion predict`: a registered or local model, new samples (multi-omics tables, or VCF/MAF files
with the reference FASTA) → one CSV row per sample, written whole or not at all."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion import atomic, progress
from oncofusion.errors import CohortError, OncofusionError
from oncofusion.models.bundle import LoadedModel, load_bundle
from oncofusion.models.class_mix import MIN_BATCH_FOR_ESTIMATE, estimate_batch_mix, stated_mix

VARIANT_SUFFIXES = (".vcf", ".vcf.gz", ".bcf", ".maf", ".maf.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")


def load_model(reference: str) -> tuple[LoadedModel, str]:
    """`models:/NAME@alias`, `models:/NAME/version`, a model directory (holding model.pt) or a bundle;
    the model and what to call it in the output."""
    if reference.startswith("models:/"):
        from mlflow.artifacts import download_artifacts

        from oncofusion import tracking

        tracking.use_tracking()
        try:
            local = Path(
                download_artifacts(
                    artifact_uri=reference, dst_path=tempfile.mkdtemp(prefix="oncofusion-model-")
                )
            )
        except Exception as error:  # MLflow raises several types for an unknown name or alias
            raise OncofusionError(
                f"{reference}: not in the MLflow registry at {tracking.tracking_uri()} ({error})"
            ) from None
        bundles = sorted(local.glob("artifacts/*.pt"))
        if not bundles:
            raise OncofusionError(f"{reference}: holds no oncofusion model bundle")
        return load_bundle(bundles[0]), reference
    path = Path(reference)
    bundle = path / "model.pt" if path.is_dir() else path
    if not bundle.is_file():
        raise OncofusionError(
            f"{reference}: no model here (give models:/NAME@alias, a model directory or model.pt)"
        )
    return load_bundle(bundle), str(bundle)


def variant_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CohortError(f"{path}: input not found")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(VARIANT_SUFFIXES))
    if not found:
        raise CohortError(f"{path}: no VCF or MAF files ({', '.join(VARIANT_SUFFIXES)})")
    return found


def predict_variants(
    model: LoadedModel, where: str, input_path: Path, reference: Path | None
) -> list[dict[str, Any]]:
    from oncofusion.prediction.uploads import read_upload
    from oncofusion.prediction.variants import VariantClassifier, one_torch_thread

    if reference is None:
        raise OncofusionError(
            f"{where} is a somatic-variant model: give --reference, the FASTA it was trained against"
        )
    classifier = VariantClassifier.open(model, reference, where)
    rows: list[dict[str, Any]] = []
    with one_torch_thread():
        for path in progress.track(variant_files(input_path), "tumours (files)"):
            rows.extend(classifier.classify(read_upload(path.read_bytes(), str(path))))
    return rows


def predict_tables(
    model: LoadedModel, input_path: Path, class_mix: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Answers for every sample of the tables at ``input_path`` (read once), and the decisions taken;
    ``class_mix`` ("estimate" or a JSON file) adapts the calls and sets to the batch's class mix."""
    from oncofusion.prediction.answers import answers_from
    from oncofusion.prediction.tables import read_tables

    tables = read_tables(input_path, model.schema)
    notes = tables.decisions.lines()
    step = 4096
    chunks = [(lo, min(lo + step, len(tables.sample_ids))) for lo in range(0, len(tables.sample_ids), step)]
    results = []
    with progress.task("samples", len(tables.sample_ids)) as advance:
        for lo, hi in chunks:
            results.append(
                model.predict({m: v[lo:hi] for m, v in tables.inputs.items()}, tables.present[lo:hi])
            )
            advance(hi - lo)
    if class_mix is not None:  # one network pass: the mix adapts the calls and sets made above
        probabilities = np.concatenate([r["probabilities"] for r in results]) if results else np.zeros((0, 0))
        mix, line = _class_mix(model, probabilities, class_mix)
        notes.append(line)
        if mix is not None:
            results = [
                model.adapt(r, tables.present[lo:hi], mix)
                for r, (lo, hi) in zip(results, chunks, strict=True)
            ]
    rows = []
    for result, (lo, hi) in zip(results, chunks, strict=True):
        flags = tables.notes[lo:hi] if tables.notes else None
        found = answers_from(model, result, tables.present[lo:hi], flags)
        rows.extend(
            {"sample_id": sample, **answer}
            for sample, answer in zip(tables.sample_ids[lo:hi], found, strict=True)
        )
    return rows, notes


def to_frame(rows: list[dict[str, Any]], classes: list[str], modalities: list[str]) -> pd.DataFrame:
    """Flat CSV columns: the call and its set, one probability and attention column each, and for
    variant input what was used, dropped and the leading signatures."""
    records = []
    for row in rows:
        probabilities = row.get("probabilities") or {}
        attention = row.get("attention") or {}
        record: dict[str, Any] = {
            "sample_id": row["sample_id"],
            "predicted": row["predicted"],
            "prediction_set": "|".join(row["prediction_set"])
            if row.get("prediction_set") is not None
            else "",
            "set_size": len(row["prediction_set"]) if row.get("prediction_set") is not None else None,
            **{f"p_{c}": probabilities.get(c) for c in classes},
            **{f"attention_{m}": attention.get(m) for m in modalities},
            "modalities_used": "|".join(row.get("modalities_used") or []),
            "set_calibrated_for": row.get("set_calibrated_for") or "",
            "outside_training": "; ".join(row.get("outside_training") or []),
        }
        if "variants_used" in row:
            record["variants_used"] = row["variants_used"]
            record["variants_dropped"] = json.dumps(row["variants_dropped"], sort_keys=True)
            record["top_signatures"] = "|".join(
                f"{s['signature']}:{s['share']:.3f}" for s in row.get("signatures") or []
            )
            record["no_call_reason"] = row.get("no_call_reason") or ""
        records.append(record)
    return pd.DataFrame.from_records(records)


def _class_mix(model: LoadedModel, probabilities: np.ndarray, wanted: str) -> tuple[np.ndarray | None, str]:
    """The class mix --class-mix asks for ("estimate" from this batch, or a JSON file of shares) and a
    line saying what was applied; None where a batch is too small to estimate one."""
    if model.training_frequency is None:
        raise OncofusionError(
            "this model predates stored training class counts: --class-mix needs a re-trained one"
        )
    if wanted == "estimate":
        mix = estimate_batch_mix(probabilities, model.training_frequency)
        if mix is None:
            return None, (
                f"class mix not estimated: {len(probabilities)} samples (< {MIN_BATCH_FOR_ESTIMATE}); calls "
                "and sets as the model makes them"
            )
        how = "estimated from this batch"
    else:
        try:
            stated = json.loads(Path(wanted).read_text())
        except (OSError, ValueError) as error:
            raise OncofusionError(
                f"--class-mix {wanted}: not 'estimate' or a readable JSON file ({error})"
            ) from None
        if not isinstance(stated, dict):
            raise OncofusionError(f"--class-mix {wanted}: expected a JSON object of class → share")
        mix = stated_mix(stated, model.classes)
        how = f"as stated in {wanted}"
    shares = ", ".join(f"{c} {v:.3f}" for c, v in zip(model.classes, mix, strict=True))
    return mix, f"class mix {how}: {shares}"


def predict(
    model_ref: str,
    input_path: Path,
    out_file: Path,
    reference: Path | None = None,
    class_mix: str | None = None,
) -> dict[str, Any]:
    atomic.require_writable(out_file)
    model, where = load_model(model_ref)
    notes: list[str] = []
    if model.variant_input:
        if class_mix is not None:
            raise OncofusionError(
                f"{where}: --class-mix applies to multi-omics models only, not yet to variant models"
            )
        rows = predict_variants(model, where, input_path, reference)
    else:
        if reference is not None:
            raise OncofusionError(f"{where} is a multi-omics model: --reference is only for variant models")
        rows, notes = predict_tables(model, input_path, class_mix)
    frame = to_frame(rows, model.classes, model.modalities)
    with atomic.atomic_path(out_file) as tmp:
        frame.to_csv(tmp, index=False)
    calls = frame["predicted"].value_counts().to_dict()
    return {"samples": len(frame), "calls": calls, "notes": notes, "model": where, "out": str(out_file)}
