"""The `oncofusion` command: one subcommand per pipeline stage, each calling its module in
:mod:`oncofusion.stages` (imported only when that subcommand runs, so `--help` is fast and a stage's
code is the only code it loads). This module parses arguments and prints; it reads and writes nothing.

User errors (bad params, invalid cohort) print a clear message and exit 1, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from oncofusion.cli_dna import DNA_COMMANDS
from oncofusion.config import load_params
from oncofusion.data.decisions import Decisions
from oncofusion.errors import OncofusionError
from oncofusion.prediction.command import predict

if TYPE_CHECKING:
    from oncofusion.stages.cohort import Built

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read")]
ValidationReportsOption = Annotated[Path, typer.Option("--reports", help="the validation reports directory")]
SplitsOption = Annotated[Path, typer.Option("--cohort", help="split cohort directory")]


def _ingest_line(stats: dict) -> str:
    """One line on what the ingest found: bin coverage (segments) or variants and windows."""
    if "variants" in stats:
        return (
            f"{stats['variants']} variants, {stats['windows']} windows; REF disagrees with the FASTA for "
            f"{stats['ref_mismatch_rate']:.2%}"
        )
    return _coverage(stats)


def _coverage(stats: dict) -> str:
    filled = stats.get("fill_uncovered")
    what = "NaN" if filled is None else f"filled with {filled:g}"
    return (
        f"{stats['bins']} bins; {stats['uncovered_bin_fraction']:.1%} of sample bins had no segment ({what})"
    )


def _print_built(built: Built, source: str, out_dir: Path) -> None:
    cohort = built.cohort
    sizes = ", ".join(f"{n} {len(s.features)}" for n, s in cohort.meta.modalities.items())
    verb = "synthesized" if source == "synthetic" else f"read ({source})"
    out.print(
        f"{verb} {len(cohort.labels)} samples, {len(cohort.classes)} classes ({sizes} features) "
        f"into {out_dir}"
    )
    if built.stats:
        out.print(f"  {_ingest_line(built.stats)}")
    for line in built.decisions.lines():
        out.print(f"  decision: {line}")


@app.command()
def cohort(
    params: ParamsOption = Path("params.yaml"),
    out_dir: Annotated[Path, typer.Option("--out", help="cohort directory to write")] = Path("data/cohort"),
) -> None:
    """Build the cohort `cohort.source` names: synthetic, your own tables, or CNV segment files."""
    loaded = load_params(params)
    from oncofusion.stages.cohort import build_cohort

    _print_built(build_cohort(loaded, out_dir), loaded.cohort.source, out_dir)


@app.command("simulate-variants")
def simulate_variants(
    params: ParamsOption = Path("params.yaml"),
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the simulated input files")] = Path(
        "data/variants/raw"
    ),
) -> None:
    """Simulate somatic variants from COSMIC signatures: FASTA, MAF, VCFs and a sample sheet."""
    from oncofusion.stages.variants_simulate import simulate_variants

    summary = simulate_variants(load_params(params), out_dir)
    types = ", ".join(f"{k} {v}" for k, v in summary["variant_types"].items())
    out.print(
        f"simulated {summary['params']['n_donors']} donors, {summary['n_variants']} variants ({types}) on a "
        f"{sum(summary['contigs'].values()) / 1e6:.0f} Mb genome into {out_dir}"
    )


@app.command()
def validate(
    params: ParamsOption = Path("params.yaml"),
    cohort_dir: Annotated[Path, typer.Option("--cohort", help="cohort directory")] = Path("data/cohort"),
    report_dir: ValidationReportsOption = Path("reports/validation"),
) -> None:
    """Run the Great Expectations gate; exit 1 and name every failed check if the cohort is invalid."""
    from oncofusion.stages.validate import validate

    report = validate(load_params(params), cohort_dir, report_dir)
    out.print(report.console_text())


@app.command()
def split(
    params: ParamsOption = Path("params.yaml"),
    cohort_dir: Annotated[Path, typer.Option("--cohort", help="validated cohort directory")] = Path(
        "data/cohort"
    ),
    report_dir: ValidationReportsOption = Path("reports/validation"),
    out_dir: Annotated[Path, typer.Option("--out", help="split cohort directory to write")] = Path(
        "data/splits"
    ),
    metrics: Annotated[Path, typer.Option("--metrics", help="split summary JSON")] = Path(
        "reports/split.json"
    ),
) -> None:
    """Assign a seeded, stratified train/val/test split (only to a cohort that passed validation)."""
    from oncofusion.stages.split import split

    cohort = split(load_params(params), cohort_dir, report_dir, out_dir, metrics)
    counts = cohort.labels["split"].value_counts()
    out.print(
        f"split {len(cohort.labels)} samples: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("train", "val", "test"))
    )


@app.command()
def tune(
    params: ParamsOption = Path("params.yaml"),
    cohort_dir: SplitsOption = Path("data/splits"),
    out_dir: Annotated[Path, typer.Option("--out", help="tuning results directory")] = Path("reports/tune"),
    study: Annotated[str | None, typer.Option("--study", help="study name (default: tune.study)")] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="SQLAlchemy URL (default: tune.storage, $OPTUNA_STORAGE, optuna.db)"),
    ] = None,
    n_trials: Annotated[int | None, typer.Option("--n-trials", help="trials for this worker")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="sampler seed (give parallel workers different ones)")
    ] = None,
) -> None:
    """Tune hyperparameters with Optuna; workers with the same --study and --storage share one study."""
    from oncofusion.stages.tune import tune

    summary = tune(
        load_params(params), cohort_dir, out_dir, study=study, storage=storage, n_trials=n_trials, seed=seed
    )
    if summary["n_trials"] == 0:
        out.print(f"{summary['note']} ({out_dir / 'best_params.json'})")
        return
    out.print(
        f"study {summary['study']}: {summary['n_trials']} trials ({summary['n_complete']} complete, "
        f"{summary['n_pruned']} pruned, {summary['n_failed']} failed) in {summary['seconds']} s; "
        f"best val log-loss {summary['best_value']:.4f} (trial {summary['best_trial']}, val macro-F1 "
        f"{summary['best_val_f1_macro']:.3f}); trials from {summary['spread']['min']:.4f} to "
        f"{summary['spread']['max']:.4f}"
    )


@app.command()
def train(
    params: ParamsOption = Path("params.yaml"),
    cohort_dir: SplitsOption = Path("data/splits"),
    out_dir: Annotated[Path, typer.Option("--out", help="model directory to write")] = Path("models"),
    work_dir: Annotated[Path, typer.Option("--work", help="checkpoints (for --resume)")] = Path(
        "checkpoints"
    ),
    resume: Annotated[bool, typer.Option("--resume", help="continue from the last checkpoint")] = False,
    tuned: Annotated[
        Path | None, typer.Option("--tuned", help="best_params.json from the tune stage")
    ] = None,
) -> None:
    """Train the multi-modal transformer and log the run and model to MLflow."""
    from oncofusion.stages.train import train

    info = train(load_params(params), cohort_dir, out_dir, work_dir, resume=resume, tuned=tuned)
    out.print(
        f"trained {info['epochs']} epochs in {info['train_seconds']} s on {info['device']}: "
        f"best val macro-F1 {info['best_val_f1_macro']:.3f} (MLflow run {info['run_id']})"
    )


@app.command()
def evaluate(
    params: ParamsOption = Path("params.yaml"),
    cohort_dir: SplitsOption = Path("data/splits"),
    model_dir: Annotated[Path, typer.Option("--model", help="trained model directory")] = Path("models"),
    reports_dir: Annotated[Path, typer.Option("--reports", help="reports directory")] = Path("reports"),
) -> None:
    """Test metrics, plots, baselines, ablations and attributions, to reports/ and the MLflow run."""
    from oncofusion.stages.evaluate import evaluate

    result = evaluate(load_params(params), cohort_dir, model_dir, reports_dir)
    test = result["metrics"]["test"]
    out.print("test: " + ", ".join(f"{k} {v:.3f}" for k, v in test.items()))
    for row in result["ablations"]["rows"]:
        out.print(f"  {row['model']:<32} test macro-F1 {row['test_f1_macro']:.3f}")
    shift = result["calibration"].get("label_shift")
    if shift is not None:  # training/label_shift.py; the class mixes are in reports/calibration.json
        out.print(f"label shift: {shift['advice']} (p = {shift['shift_p_value']:.2g})")


@app.command()
def register(
    params: ParamsOption = Path("params.yaml"),
    model_dir: Annotated[Path, typer.Option("--model", help="trained model directory")] = Path("models"),
    metrics: Annotated[Path, typer.Option("--metrics", help="metrics.json from evaluate")] = Path(
        "reports/metrics.json"
    ),
    out_file: Annotated[Path, typer.Option("--out", help="decision record")] = Path("reports/registry.json"),
    cohort: Annotated[
        Path, typer.Option("--cohort", help="the split cohort the model was trained on (its val split)")
    ] = Path("data/splits"),
) -> None:
    """Register the model in MLflow; move the champion alias only if it beats the current champion
    re-scored on this model's val split."""
    from oncofusion.stages.register import register

    decision = register(load_params(params), model_dir, metrics, out_file, cohort)
    out.print(decision["reason"])


@app.command()
def bento(
    params: ParamsOption = Path("params.yaml"),
    out_file: Annotated[Path, typer.Option("--out", help="build record")] = Path("reports/bento.json"),
    bentofile: Annotated[
        Path, typer.Option("--bentofile", help="bentofile.yaml (multi-omics) or bentofile-variants.yaml")
    ] = Path("bentofile.yaml"),
) -> None:
    """Import the registry's champion into the BentoML store and `bentoml build` the service."""
    from oncofusion.stages.bento import bento

    record = bento(load_params(params), out_file, bentofile)
    out.print(
        f"built bento {record['bento']} serving registry v{record['registry_version']} (@{record['alias']})"
    )


@app.command()
def fit(
    params: Annotated[Path, typer.Option("--params", "-p", help="params file naming the cohort")],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the cohort, model and reports")],
    repeats: Annotated[
        int | None,
        typer.Option(
            "--repeats", min=1, help="retrain N times (seeds, re-drawn splits); overrides evaluate.repeats"
        ),
    ] = None,
    test_cohort: Annotated[
        Path | None,
        typer.Option("--test-cohort", help="another study's cohort (same layout) to score across studies"),
    ] = None,
) -> None:
    """Validate, train and evaluate on the cohort in --params without DVC; writes OUT/metrics.json."""
    loaded = load_params(params)
    evaluate_update: dict[str, object] = {"repeats": repeats} if repeats is not None else {}
    if test_cohort is not None:
        evaluate_update["test_cohort"] = str(test_cohort)
    loaded = loaded.model_copy(update={"evaluate": loaded.evaluate.model_copy(update=evaluate_update)})
    from oncofusion.stages.fit import fit

    result = fit(loaded, out_dir)
    sizes = ", ".join(f"{m} {n}" for m, n in result["modalities"].items())
    out.print(f"fit {result['n_samples']} samples ({sizes} features) in {result['seconds']['total']} s")
    if result["ingest"]:
        out.print(f"  {_ingest_line(result['ingest'])}")
    for line in Decisions(result["decisions"]).lines():
        out.print(f"  decision: {line}")
    out.print("test: " + ", ".join(f"{k} {v:.3f}" for k, v in result["test"].items()))
    for line in _comparison_lines(result):
        out.print(f"  {line}")
    if result.get("cross_study"):
        from oncofusion.evaluation.cross_study import summary_line

        out.print(f"cross-study: {summary_line(result['cross_study'])} ({out_dir / 'cross_study.json'})")
    out.print(
        f"metrics: {out_dir / 'metrics.json'}; MLflow run {result['mlflow_run_id']} "
        f"in {result['tracking_uri']}"
    )


def _comparison_lines(result: dict) -> list[str]:
    """The fusion model against the best baseline, with the 95% bootstrap intervals, and the repeats."""
    lines = []
    intervals, summary = result.get("intervals") or {}, result.get("comparison") or {}
    fusion = intervals.get("fusion_transformer")
    if fusion:
        low, high = fusion["ci95"]
        lines.append(f"fusion test macro-F1 {fusion['f1_macro']:.3f} [95% CI {low:.3f}, {high:.3f}]")
    best = summary.get("best_baseline")
    if best and f"fusion_minus_{best}" in intervals:
        diff = intervals[f"fusion_minus_{best}"]
        lines.append(
            f"vs {best} {intervals[best]['f1_macro']:.3f}: difference {diff['mean']:+.3f} "
            f"[{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}], {diff['verdict']}"
        )
    repeats = result.get("repeats")
    if repeats:
        rows = ", ".join(
            f"{name} {row['f1_macro']['mean']:.3f} ± {row['f1_macro']['sd']:.3f}"
            for name, row in repeats["rows"].items()
        )
        lines.append(f"over {repeats['repeats']} repeats (test macro-F1 mean ± sd): {rows}")
    return lines


@app.command("example-tables")
def example_tables(
    out_dir: Annotated[Path, typer.Option("--out", help="directory to write the tables into")],
    samples: Annotated[int, typer.Option("--samples", min=30)] = 300,
    features: Annotated[int, typer.Option("--features", min=10, help="per modality")] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write a small bring-your-own cohort (three modalities, mixed formats, a missing-modality subset)."""
    from oncofusion.data.synthetic.example_tables import write_example_tables

    written = write_example_tables(out_dir, n_samples=samples, n_features=features, seed=seed)
    out.print(f"wrote {', '.join(p.name for p in written)} into {out_dir}")


for _name, _command in DNA_COMMANDS.items():
    app.command(_name)(_command)
app.command()(predict)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors exit 2 (click's convention), user errors exit 1 with a message."""
    try:
        app(args=argv, standalone_mode=True)
    except OncofusionError as error:
        err.print(f"error: {error}", markup=False, style="bold red")
        sys.exit(1)


if __name__ == "__main__":
    main()
