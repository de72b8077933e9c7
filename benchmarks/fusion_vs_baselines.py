"""The fusion model against the baselines it ships with, on the synthetic default and the real cohorts,
repeated over seeds (and over splits where a cohort has no fixed split), before and after the
small-cohort changes (wide path, cross-validated ensemble, log-loss early stopping).

    python benchmarks/fusion_vs_baselines.py [--cohorts synthetic example-tables breast gbm cfdna catalogues
        synthetic-missing synthetic-interaction] [--repeats 5] [--configs before after] [--bootstrap 1000]
        [--claims] [--set train.monitor=val_balanced_loss ...] [--tag -suffix] [--fresh-cohorts]

--claims adds the paper's component ablations (no cross-modal attention, generic encoders) to 'after';
--set overrides params for 'after' (values are YAML: --set "train.calibration.target_mix={A: 0.3, B: 0.7}");
--tag names a variant's result file. A target_mix names one cohort's classes: give one cohort per call.
--fresh-cohorts (synthetic cohorts only) generates a new cohort for each repeat (generator seed 42 + r), so
the repeats' test sets are independent draws and the plain t-interval over repeats is valid; without it
the repeats re-split one cohort and get the corrected resampled interval. It also reports each model's
test accuracy by the number of modalities a sample has.

Real cohorts come from ../shared/data (skipped when absent). Each repeat r trains with seed 42 + r and
re-draws the split where the cohort gives none (gbm, synthetic) or re-carves validation from the given
training samples (breast, cfdna). Writes benchmarks/results/fusion_vs_baselines-<cohort>.json: per config
and model, test macro-F1 mean ± sd over repeats with the per-repeat values, the paired per-repeat
difference fusion − each baseline, and for repeat 0 the 95% bootstrap intervals of every model and of
the paired difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import oncofusion.stages.cohort
import oncofusion.stages.validate  # noqa: F401
from oncofusion import stages
from oncofusion.cohort import Cohort
from oncofusion.config import Params, parse_params
from oncofusion.data.split import resplit, split_assignment
from oncofusion.data.synthetic.example_tables import example_params, write_example_tables
from oncofusion.evaluation.baselines import run_baselines
from oncofusion.evaluation.intervals import bootstrap_f1
from oncofusion.evaluation.label_shift import label_shift_document, training_counts
from oncofusion.evaluation.metrics import predict_split
from oncofusion.evaluation.repeats import FUSION, held_out_ratio, summarise, with_seed
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.train import fit
from results_io import RESULTS, cpu_name, write_report

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REAL = SHARED / "real-cohorts"

# The small-cohort levers switched off: today's model before this change.
BEFORE = {
    "model": {"wide": False},
    "train": {
        "monitor": "val_f1_macro",
        "ensemble": {"folds": 1},
        "calibration": {"temperature": False, "coverage": None},
    },
}
CONFIGS = {"before": BEFORE, "after": {}}


def _tables(name: str, path: Path, modalities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "cohort": {"source": "tables", "name": name, "path": str(path), "tables": {"modalities": modalities}},
        "validate": {"require_complete_modalities": False},
    }


def cohort_sections(name: str, scratch: Path) -> dict[str, Any] | None:
    """params.yaml sections that build the named cohort (None: its data is absent)."""
    if name == "synthetic":
        return {}
    if name == "synthetic-missing":
        return {
            "synthesize": {"missing_fraction": {"methylation": 0.3, "fragmentomics": 0.3, "cna": 0.3}},
            "validate": {"require_complete_modalities": False},
        }
    if name == "synthetic-interaction":
        return {"synthesize": {"interaction": {"enabled": True}}}
    if name == "example-tables":  # the bring-your-own example at full size: 500 × 3 modalities × 1000
        write_example_tables(scratch / "example", n_samples=500, n_features=1000, seed=0)
        return {
            "cohort": example_params(str(scratch / "example"), 1000),
            "validate": {"require_complete_modalities": False},
        }
    if name == "breast":
        path = REAL / "breast-tcga-subtypes"
        mods = {m: {"file": f"{m}.csv"} for m in ("mrna", "mirna", "protein")}
        return _tables("breast-tcga-subtypes", path, mods) if path.is_dir() else None
    if name == "gbm":
        path = REAL / "gbm-subtypes"
        mods = {"mrna": {"file": "mrna.csv", "top_k": 300}, "mirna": {"file": "mirna.csv"}}
        return _tables("gbm-subtypes", path, mods) if path.is_dir() else None
    if name == "cfdna":
        path = REAL / "cfdna-liver"
        mods = {
            "fragment_lengths": {
                "file": "fragment_lengths.csv",
                "kind": "profile",
                "transform": "proportion",
            },
            "arm_zscores": {"file": "arm_zscores.csv", "kind": "genomic"},
        }
        return _tables("cfdna-liver", path, mods) if path.is_dir() else None
    if name == "catalogues":
        source = SHARED / "tcga-wes-catalogues"
        if not source.is_dir():
            return None
        # 30 tumour types with ≥ 50 exomes, at most 90 each (seeded): 2,609 tumours.
        labels = pd.read_csv(source / "labels.tsv", sep="\t")
        counts = labels["label"].value_counts()
        kept = labels[labels["label"].isin(counts[counts >= 50].index)]
        chosen = kept.sample(frac=1.0, random_state=0).groupby("label").head(90).sort_values("sample_id")
        out = scratch / "catalogues"
        out.mkdir(parents=True, exist_ok=True)
        chosen[["sample_id", "label"]].to_csv(out / "labels.csv", index=False)
        for kind in ("sbs96", "dbs78", "id83"):
            table = pd.read_csv(source / f"{kind}.tsv", sep="\t", index_col="MutationType")
            table[chosen["sample_id"]].to_csv(out / f"{kind}.tsv", sep="\t")
        mods = {
            k: {"file": f"{k}.tsv", "orientation": "features_by_samples", "transform": "proportion"}
            for k in ("sbs96", "dbs78", "id83")
        }
        return _tables("tcga-wes-catalogues", out, mods)
    raise SystemExit(f"unknown cohort {name}")


def merged(base: dict[str, Any], *overrides: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = value
    return out


def build(params: Params, scratch: Path) -> tuple[Cohort, str]:
    built = stages.cohort.build_cohort(params, scratch / "cohort", ROOT)
    stages.validate.validate(params, scratch / "cohort", scratch / "validation")
    assignment, method = split_assignment(built.cohort.labels, params.split, seed=params.base.seed)
    return built.cohort.with_split(assignment), method


CLAIMS = {  # the paper's component claims, as ablations of the same model
    "no_cross_attention_concat_mlp": lambda mods: {"model": {"fusion": "concat"}},
    "generic_mlp_encoders": lambda mods: {"model": {"encoders": {m: "mlp" for m in mods}}},
}


def claim_scores(cohort: Cohort, seed: int, raw: dict[str, Any]) -> tuple[dict, dict]:
    """Test metrics and predictions of the claim ablations (same split, seed and settings)."""
    scores, predicted = {}, {}
    for name, change in CLAIMS.items():
        ablated = parse_params(merged(raw, change(list(cohort.meta.modalities)), {"base": {"seed": seed}}))
        with tempfile.TemporaryDirectory(prefix="oncofusion-claim-") as work:
            result = fit(cohort, ablated, Path(work))
        test = predict_split(LoadedModel(result.net, cohort.classes, {}), cohort, "test")
        scores[name] = test.metrics()
        predicted[name] = test.predicted
    return scores, predicted


def accuracy_by_modalities_present(cohort: Cohort, predicted: dict[str, Any]) -> dict[str, Any]:
    """Test accuracy of each model among samples with 1, 2, ... modalities present: where the fusion
    model gains or loses against the baselines' handling of absent modalities (before --claims adds
    its ablations, so those are not in it)."""
    test = cohort.labels["split"].eq("test").to_numpy()
    ids = cohort.labels.loc[test, "sample_id"]
    present = sum(
        frame.reindex(ids).notna().any(axis=1).to_numpy().astype(int) for frame in cohort.modalities.values()
    )
    y = predicted["_y"]
    out: dict[str, Any] = {}
    for k in sorted(set(present.tolist())):
        rows = present == k
        out[str(k)] = {"n": int(rows.sum())} | {
            name: round(float((calls[rows] == y[rows]).mean()), 4)
            for name, calls in predicted.items()
            if not name.startswith("_")
        }
    return out


def one_repeat(cohort: Cohort, params: Params) -> tuple[dict[str, dict[str, float]], dict[str, Any], float]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oncofusion-bench-") as work:
        result = fit(cohort, params, Path(work))
    seconds = time.perf_counter() - started
    model = LoadedModel(result.net, cohort.classes, {})
    test = predict_split(model, cohort, "test")
    shift = label_shift_document(
        predict_split(model, cohort, "val"),
        test,
        training_counts(cohort.labels, cohort.classes),
        cohort.classes,
        decision=model.net.decision,
    )
    scores = {FUSION: test.metrics()}
    predicted = {FUSION: test.predicted}
    for name, scored in run_baselines(
        cohort, model.modalities, params.base.seed, model.net.preprocess
    ).items():
        scores[name] = scored["test"]
        predicted[name] = scored.test_called
    predicted["_y"] = test.y
    predicted["_label_shift"] = shift
    return scores, predicted, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cohorts",
        nargs="+",
        default=[
            "synthetic",
            "example-tables",
            "breast",
            "gbm",
            "cfdna",
            "catalogues",
            "synthetic-missing",
            "synthetic-interaction",
        ],
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--claims", action="store_true", help="also the paper's component ablations ('after')"
    )
    parser.add_argument("--tag", default="", help="suffix of the result file name")
    parser.add_argument(
        "--fresh-cohorts",
        action="store_true",
        help="synthetic cohorts: a new cohort per repeat (independent test sets)",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], help="extra overrides for 'after', e.g. train.wide_l2=0.01"
    )
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///:memory:")
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    extra: dict[str, Any] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        *path, leaf = key.split(".")
        node = extra
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    not_synthetic = [name for name in args.cohorts if not name.startswith("synthetic")]
    if args.fresh_cohorts and not_synthetic:
        raise SystemExit(f"--fresh-cohorts generates synthetic cohorts only; not {', '.join(not_synthetic)}")
    for name in args.cohorts:
        with tempfile.TemporaryDirectory(prefix=f"oncofusion-{name}-") as scratch_dir:
            scratch = Path(scratch_dir)
            sections = cohort_sections(name, scratch)
            if sections is None:
                print(f"{name}: data absent, skipped", file=sys.stderr)
                continue
            base_raw = merged(defaults, sections)
            cohort, method = build(parse_params(base_raw), scratch)
            report: dict[str, Any] = {
                "benchmark": "fusion_vs_baselines",
                "cohort": name,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "device": f"cpu ({cpu_name()}, {os.cpu_count()} cores)",
                "n_samples": len(cohort.labels),
                "classes": cohort.classes,
                "modalities": {m: s.n_features for m, s in cohort.meta.modalities.items()},
                "split_method": method,
                "repeats": args.repeats,
                "fresh_cohorts": args.fresh_cohorts,
                "configs": {},
            }
            for config in args.configs:
                overrides = merged(CONFIGS[config], extra if config == "after" else {})
                params = parse_params(merged(base_raw, overrides))
                runs, seconds, shifts = [], [], []
                by_present = []
                for r in range(args.repeats):
                    seed = params.base.seed + r
                    if args.fresh_cohorts:
                        split, _ = build(with_seed(params, seed), scratch / f"repeat-{r}")
                    else:
                        split = cohort.with_split(resplit(cohort.labels, method, params.split, seed))
                    scores, predicted, took = one_repeat(split, with_seed(params, seed))
                    if args.fresh_cohorts:
                        by_present.append(accuracy_by_modalities_present(split, predicted))
                    if args.claims and config == "after":
                        more = claim_scores(split, seed, merged(base_raw, overrides))
                        scores.update(more[0])
                        predicted.update(more[1])
                    shifts.append(predicted.pop("_label_shift"))
                    runs.append(scores)
                    seconds.append(round(took, 1))
                    if r == 0:
                        y = predicted.pop("_y")
                        intervals = bootstrap_f1(
                            y, predicted, args.bootstrap, 0, reference=FUSION, prefix="fusion"
                        )
                    print(
                        name,
                        config,
                        r,
                        {k: round(v["f1_macro"], 3) for k, v in scores.items()},
                        took,
                        flush=True,
                    )
                # Fresh cohorts: independent test sets, so the uncorrected t (ratio 0) is the right one.
                ratio = 0.0 if args.fresh_cohorts else held_out_ratio(cohort.labels, method)
                summary = summarise(runs, ratio)
                if args.fresh_cohorts:
                    summary["interval"] = (
                        "plain t over repeats, each on a freshly generated cohort (independent test sets):"
                        " the *_corrected fields have a correction term of 0"
                    )
                    summary["accuracy_by_modalities_present"] = by_present
                report["configs"][config] = {
                    "overrides": overrides,
                    **summary,
                    "repeat0_bootstrap": intervals,
                    "fusion_train_seconds": seconds,
                    # training/label_shift.py per repeat: the test mix against training, from outputs only
                    "label_shift": [
                        None
                        if shift is None
                        else {
                            k: shift[k]
                            for k in (
                                "shift_p_value",
                                "shift_p_value_val",
                                "shifted",
                                "training_frequency",
                                "estimated_frequency",
                                "test_f1_macro",
                            )
                        }
                        for shift in shifts
                    ],
                }
            write_report(report, RESULTS / f"fusion_vs_baselines-{name}{args.tag}.json")


if __name__ == "__main__":
    main()
