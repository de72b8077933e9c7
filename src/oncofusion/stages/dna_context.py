"""The dna_context stage: does the DNA language model see what the 96 classes cannot?

Reads the beyond-the-96 cohort (variants_simulate with params-context.yaml: pairs of cancer types with
one spectrum each, told apart only by a context rule; then the cohort stage), embeds every variant with
the fine-tuned model of the variant branch, and types the donors three ways, cross-validated: from the
catalogues, from the mean embedding, and from both, fused late (``evaluation/context_typing.py`` says why)
or in one model. Writes
``dna_context.json`` / ``.md`` (the table, the paired difference, each pair's confusion) and logs them
to MLflow.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from oncofusion import atomic, tracking
from oncofusion.config import Params
from oncofusion.data.decisions import Decisions
from oncofusion.dna.embed_run import EmbedJob, run_embedding
from oncofusion.dna.inputs import VariantInputs, load_variant_inputs
from oncofusion.dna.model import context_tokens, load_model_dir
from oncofusion.dna.module import TokenRoles
from oncofusion.dna.representations import VariantLayout, sample_means, span_for
from oncofusion.errors import CohortError
from oncofusion.evaluation.context_typing import catalogue_features, compare, out_of_fold

CATALOGUES, EMBEDDING = "catalogues", "DNA embedding (mean)"
BOTH = "catalogues + DNA embedding (fused log-probabilities)"
CONCATENATED = "catalogues and DNA embedding in one model"


def beyond_96_pairs(raw_dir: Path, classes: list[str]) -> dict[str, tuple[str, str]]:
    """The pairs the simulator planted (simulation.json's beyond_96 ground truth), by group."""
    try:
        truth = json.loads((raw_dir / "simulation.json").read_text())["beyond_96"]["types"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise CohortError(
            f"{raw_dir / 'simulation.json'}: no beyond_96 ground truth ({error!r}); simulate the cohort "
            "with params-context.yaml's beyond-the-96 types"
        ) from None
    groups: dict[str, list[str]] = {}
    for name, entry in truth.items():
        if name in classes and entry.get("group"):
            groups.setdefault(entry["group"], []).append(name)
    return {g: (names[0], names[1]) for g, names in groups.items() if len(names) == 2}


def embed_samples(
    params: Params, inputs: VariantInputs, model_dir: Path, cohort_dir: Path
) -> tuple[pd.DataFrame, dict]:
    """Every variant's representation, averaged per sample (as dna_embed's samples.parquet)."""
    dna = params.dna
    model, tokenizer, _ = load_model_dir(model_dir, dna.finetune.accelerator, move=False)
    layout = VariantLayout.of(tokenizer, context_tokens(model.config))
    span = span_for(dna, tokenizer)
    job = EmbedJob(tokenizer, inputs.reference, inputs.germline, layout, TokenRoles(tokenizer), span, False)
    shards = cohort_dir.with_name(f".{cohort_dir.name}.context-shards")
    shutil.rmtree(shards, ignore_errors=True)
    merged, counts, seconds = run_embedding(
        model, inputs.windows, job, dna.embed.batch_size, dna.finetune.accelerator, 1, shards
    )
    shutil.rmtree(shards, ignore_errors=True)
    if merged is None or not len(merged["row"]):
        raise CohortError(f"{cohort_dir}: no variant could be embedded")
    owners = inputs.windows["sample_id"].to_numpy()[merged["row"]]
    record = {
        "n_variants": len(owners),
        "variants_per_second": round(len(owners) / seconds, 1),
        "decisions": dict(counts),
    }
    return sample_means(owners, merged["representation"]), record


def dna_context(
    params: Params, cohort_dir: Path, model_dir: Path, reports_dir: Path, root: Path = Path(".")
) -> dict[str, Any]:
    started = time.perf_counter()
    decisions = Decisions()
    inputs = load_variant_inputs(params, cohort_dir, root, split=False)
    embeddings, embed_record = embed_samples(params, inputs, model_dir, cohort_dir)
    for what, count in embed_record.pop("decisions").items():
        decisions.record(what, count)
    cohort = inputs.cohort
    labels = cohort.labels.set_index("sample_id")["label"]
    samples = [s for s in labels.index if s in embeddings.index]
    decisions.record(
        "donors with no embedded variant (left out of all three rows)", len(labels) - len(samples)
    )
    classes = sorted(labels.loc[samples].unique())
    ctx = params.dna.context
    sizes = labels.loc[samples].value_counts()
    if (sizes < ctx.folds).any():
        raise CohortError(
            f"{cohort_dir}: types {sorted(sizes.index[sizes < ctx.folds])} have fewer donors than "
            f"dna.context.folds ({ctx.folds}); simulate more donors (simulate.n_donors) or lower folds"
        )
    y = labels.loc[samples].map({c: i for i, c in enumerate(classes)}).to_numpy()
    catalogues = catalogue_features(cohort.modalities, samples).to_numpy()
    embedding = embeddings.loc[samples].to_numpy(dtype=np.float64)
    seed = params.base.seed
    log_probabilities = {
        name: out_of_fold(x, y, ctx.folds, ctx.repeats, ctx.c, seed)
        for name, x in (
            (CATALOGUES, catalogues),
            (EMBEDDING, embedding),
            (CONCATENATED, np.hstack([catalogues, embedding])),
        )
    }
    log_probabilities[BOTH] = log_probabilities[CATALOGUES] + log_probabilities[EMBEDDING]
    order = (CATALOGUES, EMBEDDING, BOTH, CONCATENATED)
    predictions = {name: log_probabilities[name].argmax(axis=-1) for name in order}
    pairs = beyond_96_pairs(root / params.cohort.path, classes)
    result = compare(y, predictions, classes, pairs, BOTH, CATALOGUES, ctx.bootstrap, seed)
    document = {
        "n_donors": len(samples),
        "classes": classes,
        "cross_validation": f"{ctx.repeats} × stratified {ctx.folds}-fold, logistic regression (C={ctx.c})",
        "fusion": "catalogue and embedding models' log-probabilities added",
        **result,
        "embedding": embed_record,
        "decisions": decisions.items,
        "seconds": round(time.perf_counter() - started, 2),
    }
    table = markdown(document)
    atomic.write_json(reports_dir / "dna_context.json", document)
    atomic.write_text(reports_dir / "dna_context.md", table)
    experiment = tracking.ensure_experiment(cohort.meta.name)
    tags = {"oncofusion.stage": "dna_context", "oncofusion.cohort": cohort.meta.name}
    with mlflow.start_run(experiment_id=experiment, run_name="dna_context", tags=tags):
        for i, (name, row) in enumerate(document["rows"].items()):
            mlflow.log_metric(f"cv_f1_macro/{i}", row["f1_macro"])
            mlflow.set_tag(f"row.{i}", name)
        mlflow.log_metric("both_minus_catalogues", document["difference"]["mean"])
        mlflow.log_text(table, "dna_context.md")
        mlflow.log_dict(document, "dna_context.json")
    return document


def markdown(document: dict[str, Any]) -> str:
    """The beyond-the-96 tables: typing over all types, then each pair's accuracy and confusion."""
    diff = document["difference"]
    lines = [
        f"{document['n_donors']} donors, {len(document['classes'])} types; {document['cross_validation']}; "
        "95% intervals from resampling donors.",
        "",
        "| features | macro-F1 [95% CI] | range over repeats |",
        "|---|---|---|",
    ]
    for name, row in document["rows"].items():
        low, high = row["ci95"]
        lines.append(
            f"| {name} | {row['f1_macro']:.3f} [{low:.3f}, {high:.3f}] | "
            f"{row['repeats_range'][0]:.3f}–{row['repeats_range'][1]:.3f} |"
        )
    lines += [
        "",
        f"{diff['what']}: {diff['mean']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}] "
        f"({diff['verdict']}).",
        "",
        "Each pair on its own donors: of those called one of the pair, the share called the right one "
        "(0.5 = the pair cannot be told apart); confusion summed over repeats, rows the true type.",
        "",
        "| pair | features | pair accuracy [95% CI] | confusion (true a: a, b / true b: a, b) |",
        "|---|---|---|---|",
    ]
    for entry in document["pairs"].values():
        a, b = entry["types"]
        for name, model in entry["models"].items():
            (aa, ab), (ba, bb) = model["confusion_over_repeats"]
            low, high = model["ci95"]
            lines.append(
                f"| {a} / {b} | {name} | {model['pair_accuracy']:.3f} [{low:.3f}, {high:.3f}] | "
                f"{aa}, {ab} / {ba}, {bb} |"
            )
        gain = entry["difference"]
        lines.append(
            f"| {a} / {b} | gain of both over catalogues | {gain['mean']:+.3f} "
            f"[{gain['ci95'][0]:+.3f}, {gain['ci95'][1]:+.3f}] {gain['verdict']} | |"
        )
    return "\n".join(lines) + "\n"
