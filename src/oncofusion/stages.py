"""One function per DVC stage: read config, call the library, write outputs atomically.

The CLI and the thin scripts in pipelines/ both call these, so `dvc repro` and `oncofusion <stage>`
do exactly the same thing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.cohort import Cohort, require_validated
from oncofusion.config import Params, parse_params
from oncofusion.data.decisions import Decisions
from oncofusion.data.split import class_counts, split_assignment, split_summary
from oncofusion.data.synthetic import generate_cohort
from oncofusion.errors import CohortError
from oncofusion.validation import ValidationReport, gate, require_passed


@dataclass
class Built:
    cohort: Cohort
    decisions: Decisions
    stats: dict[str, Any]


def build_cohort(params: Params, out_dir: Path, root: Path = Path(".")) -> Built:
    """Make the cohort ``cohort.source`` names (``cohort.path`` is relative to ``root``) and save it."""
    atomic.require_writable(out_dir)
    decisions, stats = Decisions(), {}
    source = params.cohort.source
    if source == "synthetic":
        made = generate_cohort(params.synthesize, seed=params.base.seed, name=params.cohort.name)
    elif source == "tables":
        from oncofusion.data.tables import tables_cohort

        made = tables_cohort(params.cohort, root, decisions)
    elif source == "variants":
        from oncofusion.data.variants.build import variants_cohort

        made, stats = variants_cohort(params.cohort, root, decisions)
    else:
        from oncofusion.data.segments import segments_cohort

        made, stats = segments_cohort(params.cohort, root, decisions)
    made.save(out_dir)
    return Built(made, decisions, stats)


def simulate_variants(params: Params, out_dir: Path) -> dict[str, Any]:
    """Write the simulator's MAF, VCFs, FASTA and sample sheet: the files a real user would have."""
    from oncofusion.data.variants.simulator import simulate

    return simulate(params.simulate, seed=params.base.seed, out_dir=out_dir)


def validate(params: Params, cohort_dir: Path, report_dir: Path) -> ValidationReport:
    atomic.require_writable(report_dir / "report.json")
    return gate(cohort_dir, params.validation, report_dir)


def split(params: Params, cohort_dir: Path, report_dir: Path, out_dir: Path, metrics_file: Path) -> Cohort:
    atomic.require_writable(out_dir, metrics_file)
    report = require_passed(cohort_dir, report_dir)
    cohort = Cohort.load(cohort_dir)
    assignment, how = split_assignment(cohort.labels, params.split, seed=params.base.seed)
    result = cohort.with_split(assignment)
    result.save(
        out_dir,
        validated_by={"report": str(report_dir / "report.json"), "cohort_fingerprint": report.fingerprint},
    )
    atomic.write_json(metrics_file, {**split_summary(result.labels), "method": how})
    atomic.write_json(per_class_path(metrics_file), class_counts(result.labels))
    return result


def per_class_path(metrics_file: Path) -> Path:
    """Where per-class detail goes beside a DVC metrics file (``split.json`` → ``split_per_class.json``):
    plain JSON, not a metric, so `dvc metrics show` keeps one column per headline number."""
    return metrics_file.with_name(f"{metrics_file.stem}_per_class.json")


def _train_info(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "train.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CohortError(f"{path}: no usable training record ({error}); run the train stage first") from None


def _split_cohort(cohort_dir: Path) -> tuple[Cohort, dict[str, Any]]:
    """The split cohort and its validation stamp; refuses anything the gate did not pass."""
    stamp = require_validated(cohort_dir)
    cohort = Cohort.load(cohort_dir)
    if "split" not in cohort.labels.columns:
        raise CohortError(
            f"{cohort_dir}: has no split column; train on the split stage's output (data/splits)"
        )
    return cohort, stamp


def tune(
    params: Params,
    cohort_dir: Path,
    out_dir: Path,
    *,
    study: str | None = None,
    storage: str | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    from oncofusion.training.tune import run_study, summarise

    atomic.require_writable(out_dir / "best_params.json", out_dir / "figures")
    cohort, stamp = _split_cohort(cohort_dir)
    if study is None:
        study = default_study_name(params, stamp["data_fingerprint"])
    result = run_study(cohort, params, study_name=study, storage=storage, n_trials=n_trials, seed=seed)
    summary = summarise(result, out_dir / "figures")
    atomic.write_json(out_dir / "best_params.json", summary)
    keys = ("best_value", "n_trials", "n_complete", "n_pruned", "n_failed", "seconds")
    atomic.write_json(out_dir / "summary.json", {k: summary[k] for k in keys})
    return summary


def default_study_name(params: Params, data_fingerprint: str, code: str | None = None) -> str:
    """`<tune.study>-<hash>` of everything a trial depends on: params, data and the code that runs the
    trials. A pipeline re-run after any of them changed is a new study (and a new MLflow parent run),
    so no result depends on trials of an older code version left in a local optuna.db; workers sharing
    a study pass --study."""
    inputs = params.model_dump(mode="json", by_alias=True, include={"base", "model", "train", "tune"})
    identity = [inputs, data_fingerprint, code if code is not None else code_fingerprint()]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{params.tune.study}-{digest[:10]}"


def code_fingerprint(package_dir: Path | None = None) -> str:
    """A content hash of the package's Python sources (paths and bytes), i.e. of what a trial runs."""
    package_dir = package_dir or Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def train(
    params: Params,
    cohort_dir: Path,
    model_dir: Path,
    work_dir: Path,
    resume: bool = False,
    tuned: Path | None = None,
) -> dict[str, Any]:
    from oncofusion.training.run import train_and_log
    from oncofusion.training.tune import apply

    atomic.require_writable(model_dir, work_dir / "checkpoints")
    if tuned is not None:
        try:
            tuning = json.loads(tuned.read_text())
            best = tuning["params"]
        except (OSError, ValueError, KeyError) as error:
            raise CohortError(
                f"{tuned}: no usable tuning result ({error}); run the tune stage first"
            ) from None
        params = apply(params, best)
        if params.train.refit_on_train_val and tuning.get("epochs"):
            # The refit has no held-out data to stop on: it trains as long as the best trial did.
            refit = params.train.model_copy(update={"max_epochs": int(tuning["epochs"])})
            params = params.model_copy(update={"train": refit})
    return train_and_log(_split_cohort(cohort_dir)[0], params, model_dir, work_dir, resume=resume)


def register(
    params: Params, model_dir: Path, metrics_file: Path, out_file: Path, cohort_dir: Path
) -> dict[str, Any]:
    """Register the trained model; the champion is re-scored on this model's val split before comparing."""
    from dataclasses import asdict

    from oncofusion import registry
    from oncofusion.comparison import ValidationSet
    from oncofusion.models.bundle import load_bundle

    atomic.require_writable(out_file)
    info = _train_info(model_dir)
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as error:
        raise CohortError(
            f"{metrics_file}: no usable metrics ({error}); run the evaluate stage first"
        ) from None
    cohort = _split_cohort(cohort_dir)[0]
    validation = ValidationSet.of(cohort)
    candidate = load_bundle(model_dir / "model.pt")
    # metrics.json must describe this model on this val split, or the comparison is not like for like.
    if metrics.get("classes") != candidate.classes or metrics.get("n_val") != validation.n_samples:
        raise CohortError(
            f"{metrics_file} (classes {metrics.get('classes')}, {metrics.get('n_val')} val samples) does not "
            f"describe {model_dir} on {cohort_dir} (classes {candidate.classes}, {validation.n_samples} val "
            "samples); re-run evaluate on this cohort"
        )
    registry.use_tracking()
    decision = asdict(
        registry.register_and_promote(
            info["model_uri"], metrics["val"], params.registration, candidate=candidate, validation=validation
        )
    )
    decision["run_id"] = info["run_id"]
    atomic.write_json(out_file, decision)
    return decision


def evaluate(params: Params, cohort_dir: Path, model_dir: Path, reports_dir: Path) -> dict[str, Any]:
    from oncofusion.training.report import evaluate_and_report

    atomic.require_writable(reports_dir / "metrics.json")
    info = _train_info(model_dir)
    if "params" in info:  # ablations vary the configuration that was trained (tuned values included)
        trained = parse_params(info["params"], source=f"{model_dir / 'train.json'}")
        params = trained.model_copy(update={"evaluate": params.evaluate})
    return evaluate_and_report(_split_cohort(cohort_dir)[0], params, model_dir, reports_dir, info)


def bento(params: Params, out_file: Path) -> dict[str, Any]:
    """Import the registry's champion into the BentoML store and build the bento around it."""
    import bentoml

    from oncofusion import registry
    from oncofusion.serving.store import import_champion

    atomic.require_writable(out_file)
    registry.use_tracking()
    reg = params.registration
    model = import_champion(reg.model_name, reg.alias)
    built = bentoml.bentos.build_bentofile("bentofile.yaml", build_ctx=".", labels={"model": str(model.tag)})
    record = {
        "bento": str(built.tag),
        "bento_model": str(model.tag),
        "registry_name": model.info.labels["registry_name"],
        "registry_version": model.info.labels["registry_version"],
        "alias": reg.alias,
        "serve": f"bentoml serve {built.tag}",
    }
    atomic.write_json(out_file, record)
    return record


def fit(params: Params, out_dir: Path, root: Path = Path(".")) -> dict[str, Any]:
    """cohort → validate → split → train → evaluate without DVC, everything under ``out_dir``.

    Writes ``out_dir/metrics.json`` (the ARCHITECTURE.md schema) and ``out_dir/fit.json`` (what ran,
    how long each step took, the ingest decisions). The model is logged to MLflow as in the pipeline
    (tuning is a pipeline stage; `fit` trains with params.yaml's model and train sections as given).
    """
    atomic.require_writable(out_dir / "metrics.json")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    stale_files = (
        "metrics.json",
        "metrics_per_class.json",
        "split_per_class.json",
        "fit.json",
        "ablations.json",
        "interpretation.json",
        "calibration.json",
    )
    for stale in stale_files:
        (out_dir / stale).unlink(
            missing_ok=True
        )  # a failed re-run must not leave old results looking current
    shutil.rmtree(out_dir / "model", ignore_errors=True)

    def step(name: str, began: float) -> None:
        seconds[name] = round(time.perf_counter() - began, 2)

    began = time.perf_counter()
    built = build_cohort(params, out_dir / "cohort", root)
    step("cohort", began)
    began = time.perf_counter()
    validate(params, out_dir / "cohort", out_dir / "validation")
    step("validate", began)
    began = time.perf_counter()
    split(params, out_dir / "cohort", out_dir / "validation", out_dir / "splits", out_dir / "split.json")
    step("split", began)
    began = time.perf_counter()
    info = train(params, out_dir / "splits", out_dir / "model", out_dir / "checkpoints")
    step("train", began)
    began = time.perf_counter()
    result = evaluate(params, out_dir / "splits", out_dir / "model", out_dir)
    step("evaluate", began)
    seconds["total"] = round(time.perf_counter() - started, 2)
    record = {
        "cohort": params.cohort.name,
        "source": params.cohort.source,
        "n_samples": len(built.cohort.labels),
        "modalities": {m: s.n_features for m, s in built.cohort.meta.modalities.items()},
        "decisions": built.decisions.items,
        "ingest": built.stats,
        "seconds": seconds,
        "mlflow_run_id": info["run_id"],
        "model_uri": info["model_uri"],
        "metrics": str(out_dir / "metrics.json"),
    }
    atomic.write_json(out_dir / "fit.json", record)
    return {
        **record,
        "test": result["metrics"]["test"],
        "val": result["metrics"]["val"],
        "comparison": result["ablations"]["summary"],
        "intervals": result["ablations"]["bootstrap"]["intervals"],
        "repeats": result["ablations"].get("repeats"),
    }


def dna_finetune(params: Params, cohort_dir: Path, out_dir: Path, metrics_file: Path, root: Path = Path(".")):
    """MLM + contrastive fine-tuning of the DNA language model on the split cohort's windows."""
    from oncofusion.dna.finetune import finetune

    return finetune(params, cohort_dir, out_dir, metrics_file, root)


def dna_embed(params: Params, cohort_dir: Path, model_dir: Path, out_dir: Path, root: Path = Path(".")):
    """Variant and sample embeddings from the fine-tuned model."""
    from oncofusion.dna.embed import embed

    return embed(params, cohort_dir, model_dir, out_dir, root)


def dna_classify(params: Params, cohort_dir: Path, embeddings: Path, reports_dir: Path) -> dict[str, Any]:
    """Cancer type from the embeddings, beside the catalogues and the baselines, in one table."""
    from oncofusion.dna.classify import classify

    return classify(params, cohort_dir, embeddings, reports_dir)
