"""The `oncofusion predict` subcommand (registered by :mod:`oncofusion.cli`; its work is in :mod:`.run`,
imported when it runs, so `oncofusion --help` stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)


def predict(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="models:/NAME@alias, models:/NAME/VERSION, a model directory or model.pt"
        ),
    ],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="multi-omics: a directory of <modality>.csv|.tsv|.parquet or one <modality>/<feature> file; "
            "variants: a VCF or MAF, or a directory of them",
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="predictions CSV, one row per sample")] = Path(
        "predictions.csv"
    ),
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="variant models: the FASTA the model was trained against"),
    ] = None,
    class_mix: Annotated[
        str | None,
        typer.Option(
            "--class-mix",
            help="the batch's class mix: 'estimate' (from the batch, ≥ 50 samples) or a JSON file "
            "{class: share}; calls and sets are adapted to it",
        ),
    ] = None,
) -> None:
    """Cancer-type calls for new samples: the call, probabilities, the prediction set, and for variants
    what was used; the same answers the bentos give."""
    from oncofusion.prediction.run import predict as run

    summary = run(model, input_path, out_file, reference, class_mix)
    for note in summary["notes"]:
        out.print(f"decision: {note}", markup=False)
    calls = ", ".join(f"{k} {v}" for k, v in sorted(summary["calls"].items()))
    out.print(f"{summary['samples']} samples ({calls}) → {summary['out']}", markup=False)
