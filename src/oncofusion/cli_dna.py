"""The DNA language model's commands (``dna-finetune``, ``dna-embed``, ``dna-classify``, ``dna-context``,
``dna-score``):
argument parsing and printing only; each calls its module in :mod:`oncofusion.stages`, imported when it
runs. :mod:`oncofusion.cli` registers them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oncofusion.config import load_params
from oncofusion.data.decisions import Decisions

out = Console(highlight=False, soft_wrap=True)
ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read")]


CohortOption = Annotated[Path, typer.Option("--cohort", help="split variant cohort directory")]


def dna_finetune(
    params: ParamsOption = Path("params-variants.yaml"),
    cohort_dir: CohortOption = Path("data/variants/splits"),
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the model and tokenizer")] = Path(
        "data/variants/dna_model"
    ),
    metrics: Annotated[Path, typer.Option("--metrics", help="held-out checks (JSON)")] = Path(
        "reports/variants/dna_finetune.json"
    ),
) -> None:
    """Fine-tune the DNA language model (masked LM + contrastive tumour/normal) and log it to MLflow."""
    from oncofusion.stages.dna_finetune import dna_finetune

    record = dna_finetune(load_params(params), cohort_dir, out_dir, metrics)
    if not record:  # a DDP worker other than rank 0
        return
    for line in Decisions(record["decisions"]).lines():
        out.print(f"  decision: {line}", markup=False)
    after, before = record["after_finetuning"], record["before_finetuning"]
    lm = after["mlm_baselines"]
    markov = ""
    if "markov_accuracy" in lm:
        order = lm["best_markov_order"]
        markov = f", Markov baseline {lm['markov_accuracy'][f'order {order} each side']:.3f}"
    out.print(
        f"fine-tuned {record['parameters']:,} parameters ({record['trainable_parameters']:,} trainable) for "
        f"{record['steps']} steps on {record['device']}: {record['tokens_per_second']:,.0f} tokens/s; "
        f"held out: MLM accuracy {after['mlm_accuracy']:.3f} (before {before['mlm_accuracy']:.3f}; most "
        f"frequent token {lm['most_frequent_token_accuracy']:.3f}{markov}), SBS96 probe "
        f"{after['sbs96_probe']['accuracy']:.3f} (before {before['sbs96_probe']['accuracy']:.3f}, chance "
        f"{after['sbs96_probe']['chance']:.3f}) (MLflow run {record['run_id']})"
    )


def dna_embed(
    params: ParamsOption = Path("params-variants.yaml"),
    cohort_dir: CohortOption = Path("data/variants/splits"),
    model_dir: Annotated[Path, typer.Option("--model", help="dna-finetune's output")] = Path(
        "data/variants/dna_model"
    ),
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the embeddings")] = Path(
        "data/variants/dna_embeddings"
    ),
) -> None:
    """Represent every variant (its token, both strands, tumour and normal) and score it zero-shot."""
    from oncofusion.stages.dna_embed import dna_embed

    record = dna_embed(load_params(params), cohort_dir, model_dir, out_dir)
    if not record:  # a data-parallel rank other than 0
        return
    for line in Decisions(record["decisions"]).lines():
        out.print(f"  decision: {line}", markup=False)
    out.print(
        f"embedded {record['n_variants']:,} variants of {record['n_samples']} samples on {record['device']}: "
        f"{record['windows_per_second']:,.0f} windows/s ({record['variants_per_second']:,.0f} variants/s)"
    )


def dna_classify(
    params: ParamsOption = Path("params-variants.yaml"),
    cohort_dir: CohortOption = Path("data/variants/splits"),
    embeddings: Annotated[Path, typer.Option("--embeddings", help="dna-embed's output")] = Path(
        "data/variants/dna_embeddings"
    ),
    reports: Annotated[Path, typer.Option("--reports", help="reports directory")] = Path("reports/variants"),
) -> None:
    """Cancer type from variant embeddings vs catalogues vs both, with the baselines, in one table."""
    from oncofusion.stages.dna_classify import dna_classify

    document = dna_classify(load_params(params), cohort_dir, embeddings, reports)
    out.print((reports / "dna_classify.md").read_text(), markup=False)
    out.print(f"wrote {reports / 'dna_classify.json'} in {document['seconds']} s")


def dna_context(
    params: ParamsOption = Path("params-context.yaml"),
    cohort_dir: Annotated[
        Path, typer.Option("--cohort", help="the beyond-the-96 cohort (cohort stage)")
    ] = Path("data/variants/context/cohort"),
    model_dir: Annotated[Path, typer.Option("--model", help="dna-finetune's output")] = Path(
        "data/variants/dna_model"
    ),
    reports: Annotated[Path, typer.Option("--reports", help="reports directory")] = Path("reports/variants"),
) -> None:
    """What sequence context adds beyond the 96 classes: catalogues vs embeddings vs both, per pair."""
    from oncofusion.stages.dna_context import dna_context as run

    document = run(load_params(params), cohort_dir, model_dir, reports)
    for line in Decisions(document["decisions"]).lines():
        out.print(f"  decision: {line}", markup=False)
    out.print((reports / "dna_context.md").read_text(), markup=False)
    out.print(f"wrote {reports / 'dna_context.json'} in {document['seconds']} s")


def dna_score(
    variants: Annotated[Path, typer.Argument(help="a VCF (or a directory of them) or a MAF")],
    reference: Annotated[Path, typer.Option("--reference", help="the FASTA the variants are called on")],
    model_dir: Annotated[Path, typer.Option("--model", help="a saved DNA model directory")] = Path(
        "data/variants/dna_model"
    ),
    out_file: Annotated[Path, typer.Option("--out", help="TSV to write")] = Path("zero_shot.tsv"),
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 256,
) -> None:
    """Zero-shot score of each SNV: log p(alt) − log p(ref) at the masked variant, both strands."""
    from oncofusion.stages.dna_score import dna_score as run

    record = run(variants, reference, model_dir, out_file, batch_size)
    for line in Decisions(record["decisions"]).lines():
        out.print(f"  decision: {line}", markup=False)
    out.print(
        f"scored {record['n_scored']:,} SNVs (mean {record['mean']:+.3f}) into {out_file} in "
        f"{record['seconds']} s"
    )


DNA_COMMANDS = {
    "dna-finetune": dna_finetune,
    "dna-embed": dna_embed,
    "dna-classify": dna_classify,
    "dna-context": dna_context,
    "dna-score": dna_score,
}
