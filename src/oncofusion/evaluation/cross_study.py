"""In-study against cross-study: the same model and baselines on the held-out split and on an external
test cohort, side by side with intervals, and whether the prediction sets keep their promise there.

Three things move between studies and each has its own answer here:
- the class mix (label shift): estimated without labels (EM), tested, and acted on: the adapted call and
  sets reweighted to the estimated mix (Podkopaev & Ramdas 2021);
- the inputs themselves (other callers, centres, assays): a classifier two-sample test, val against the
  external cohort, per modality. Where the inputs moved, no conformal guarantee holds, and the report says
  so instead of letting a coverage figure stand as a promise;
- which modalities exist: sets are calibrated per pattern of present modalities.
Labels of the external cohort are used only to score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from oncofusion.cohort import Cohort
from oncofusion.evaluation.intervals import bootstrap_f1
from oncofusion.evaluation.label_shift import SHIFT_ALPHA, shift_p_value
from oncofusion.evaluation.metrics import Predictions, Scored, per_class
from oncofusion.evaluation.repeats import FUSION
from oncofusion.evaluation.set_report import MIN_PER_CLASS, set_figures
from oncofusion.models.bundle import LoadedModel
from oncofusion.models.calibration import apply_temperature, expected_calibration_error
from oncofusion.models.class_mix import estimate_batch_mix
from oncofusion.models.conformal import set_metrics
from oncofusion.models.outliers import transformed
from oncofusion.training.data import CohortTensors, cohort_tensors, concat

MOVED_AUC = 0.55  # with p < SHIFT_ALPHA: a domain classifier this good means the inputs moved
MAX_ROWS_PER_SIDE = 2000  # the two-sample test subsamples larger groups (seeded)
MIN_EFFECTIVE = 30  # fewer effective in-study samples than this: the two-sample test cannot tell


def _accuracy_gap(
    y_in: np.ndarray, p_in: np.ndarray, y_out: np.ndarray, p_out: np.ndarray, n: int, seed: int
) -> dict[str, Any]:
    """In-study minus cross-study accuracy, each resampled independently (two independent samples)."""
    rng = np.random.default_rng(seed)
    a = (y_in == p_in)[rng.integers(0, len(y_in), (n, len(y_in)))].mean(axis=1)
    b = (y_out == p_out)[rng.integers(0, len(y_out), (n, len(y_out)))].mean(axis=1)
    low, high = np.percentile(a - b, [2.5, 97.5])
    return {
        "in_study": round(float((y_in == p_in).mean()), 4),
        "cross_study": round(float((y_out == p_out).mean()), 4),
        "gap": round(float((y_in == p_in).mean() - (y_out == p_out).mean()), 4),
        "gap_ci95": [round(float(low), 4), round(float(high), 4)],
    }


def _weighted_auc(score: np.ndarray, side: np.ndarray, weight: np.ndarray) -> tuple[float, float, float]:
    """AUC of ``score`` for target (side 1) over source rows weighted by ``weight``, its one-sided p under
    no difference (Mann-Whitney's null variance with the source's effective size), and that size."""
    source, target = side == 0, side == 1
    w = weight[source]
    # for each source row: the share of target rows scoring above it (ties count half)
    target_scores = np.sort(score[target])
    above = len(target_scores) - np.searchsorted(target_scores, score[source], side="right")
    ties = np.searchsorted(target_scores, score[source], side="right") - np.searchsorted(
        target_scores, score[source], side="left"
    )
    auc = float(((above + 0.5 * ties) * w).sum() / (w.sum() * target.sum()))
    n_source = float(w.sum() ** 2 / (w**2).sum())
    n_target = float(target.sum())
    sd = np.sqrt((n_source + n_target + 1) / (12 * n_source * n_target))
    return auc, float(norm.sf((auc - 0.5) / sd)), n_source


def _at_most(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= MAX_ROWS_PER_SIDE else np.sort(rng.choice(rows, MAX_ROWS_PER_SIDE, False))


def _mix_weights(y: np.ndarray, mix: np.ndarray | None) -> np.ndarray:
    """w(y) = target mix(y) / source share(y): the source reweighted to the target's class mix. Label
    shift alone changes P(x), so without this a new class mix would read as moved inputs."""
    if mix is None:
        return np.ones(len(y))
    share = np.bincount(y, minlength=len(mix)) / len(y)
    return np.divide(mix, share, out=np.zeros_like(mix), where=share > 0)[y]


def covariate_shift(
    model: LoadedModel,
    source: CohortTensors,
    target: CohortTensors,
    seed: int,
    target_mix: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per modality: can a classifier tell held-out in-study samples (weighted to the target's estimated
    class mix) from external ones on what the network sees? Out-of-fold weighted AUC and its p-value.
    Under label shift alone the answer is no (AUC ≈ 0.5); too few effective source samples: cannot tell."""
    rng = np.random.default_rng(seed)
    weight = _mix_weights(source.target.numpy(), target_mix)
    out: dict[str, Any] = {}
    for j, name in enumerate(model.modalities):
        rows = [
            _at_most(np.flatnonzero(source.present[:, j].numpy() & (weight > 0)), rng),
            _at_most(np.flatnonzero(target.present[:, j].numpy()), rng),
        ]
        if min(len(r) for r in rows) < 10:
            out[name] = {"skipped": "fewer than 10 samples with this modality on one side"}
            continue
        x = np.vstack(
            [
                transformed(model.net.preprocess, name, d.inputs[name].numpy()[r])
                for d, r in zip((source, target), rows, strict=True)
            ]
        )
        x = np.nan_to_num(x, nan=0.0)
        side = np.r_[np.zeros(len(rows[0])), np.ones(len(rows[1]))]
        w = np.r_[weight[rows[0]], np.ones(len(rows[1]))]
        score = np.zeros(len(side))
        for train, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, side):
            classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
            classifier.fit(x[train], side[train], logisticregression__sample_weight=w[train])
            score[held] = classifier.predict_proba(x[held])[:, 1]
        auc, p_value, n_effective = _weighted_auc(score, side, w)
        out[name] = {
            "auc": round(auc, 4),
            "p_value": p_value,
            "n": [len(r) for r in rows],
            "n_source_effective": round(n_effective, 1),
        }
    tested = [r for r in out.values() if "auc" in r]
    moved = [m for m, r in out.items() if "auc" in r and r["auc"] >= MOVED_AUC and r["p_value"] < SHIFT_ALPHA]
    weak = not tested or min(r["n_source_effective"] for r in tested) < MIN_EFFECTIVE
    if moved:
        guarantee = (
            "none: the inputs moved (" + ", ".join(moved) + "), so the sets' coverage is an observation "
            "on this cohort, not a promise"
        )
    elif weak:
        guarantee = (
            f"cannot tell: fewer than {MIN_EFFECTIVE} effective in-study samples for the test; "
            "no coverage guarantee is claimed"
        )
    else:
        guarantee = "holds under label shift: the inputs look like the in-study samples'"
    return {
        "what": "a classifier telling held-out in-study samples (weighted to the estimated class mix) from "
        "the external cohort's, per modality (out-of-fold AUC; 0.5: indistinguishable)",
        "weighted_to_estimated_mix": target_mix is not None,
        "modalities": out,
        "moved": moved,
        "guarantee": guarantee,
    }


def _sets(sets: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    metrics = set_metrics(sets, y)
    per = metrics.pop("per_class_coverage")
    metrics = {k: round(v, 4) for k, v in metrics.items()}
    metrics["per_class_coverage"] = {
        c: round(float(v), 4)
        for k, (c, v) in enumerate(zip(classes, per, strict=True))
        if v is not None and (y == k).sum() >= MIN_PER_CLASS
    }
    return metrics


def cross_study_report(
    model: LoadedModel,
    cohort: Cohort,
    external: Cohort,
    predictions: dict[str, Predictions],
    others: dict[str, Scored],
    bootstrap: int,
    seed: int,
    decisions: list[str],
) -> dict[str, Any]:
    data = cohort_tensors(external, model.modalities, "test")
    inputs = {m: v.numpy() for m, v in data.inputs.items()}
    present = data.present.numpy()
    y = data.target.numpy()
    result = model.predict(inputs, present)
    probabilities = result["probabilities"]
    in_study = predictions["test"]
    called_out = {FUSION: result["predicted"]}
    called_in = {FUSION: in_study.predicted}
    for name, scored in others.items():
        if scored.external_probabilities is not None:
            called_out[name] = scored.external_probabilities.argmax(axis=1)
            called_in[name] = scored.test_called
    f1_in = bootstrap_f1(in_study.y, called_in, bootstrap, seed, reference=FUSION, prefix=FUSION)
    f1_out = bootstrap_f1(y, called_out, bootstrap, seed, reference=FUSION, prefix=FUSION)
    gaps = {
        name: _accuracy_gap(in_study.y, called_in[name], y, called_out[name], bootstrap, seed)
        for name in called_out
    }
    present_classes = sorted(set(y.tolist()))
    report: dict[str, Any] = {
        "n_in_study": len(in_study.y),
        "n_cross_study": len(y),
        "cross_study_classes": [model.classes[k] for k in present_classes],
        "modalities_present_share": {
            m: round(float(present[:, j].mean()), 4) for j, m in enumerate(model.modalities)
        },
        "ingest_decisions": decisions,
        "f1_macro": {"in_study": f1_in, "cross_study": f1_out},
        "accuracy": gaps,
        "cross_study_per_class": {
            c: v for c, v in per_class(y, result["predicted"], model.classes).items() if v["support"]
        },
        "outside_training_share": round(float(np.mean([bool(r) for r in result["outside"]])), 4),
    }
    if result.get("uncalibrated_logits") is not None:
        before = apply_temperature(result["uncalibrated_logits"], 1.0)
        report["ece"] = {
            "before_temperature": round(expected_calibration_error(before, y), 4),
            "after_temperature": round(expected_calibration_error(probabilities, y), 4),
        }
    training = model.training_frequency
    mix = None
    if training is not None:
        mix = estimate_batch_mix(probabilities, training)
        shift: dict[str, Any] = {"estimated": None, "reason": "batch too small for a mix estimate"}
        if mix is not None:
            shift = {
                "estimated": {c: round(float(v), 4) for c, v in zip(model.classes, mix, strict=True)},
                "observed": {
                    c: round(float(v), 4)
                    for c, v in zip(
                        model.classes, np.bincount(y, minlength=len(model.classes)) / len(y), strict=True
                    )
                },
                "p_value": shift_p_value(probabilities, training, mix),
            }
            adapted = model.adapt(result, present, mix)
            adapted_f1 = bootstrap_f1(
                y,
                {"adapted": adapted["predicted"], FUSION: result["predicted"]},
                bootstrap,
                seed,
                reference="adapted",
                prefix="adapted",
            )
            shift["f1_macro_adapted"] = adapted_f1
            if "sets" in adapted:
                report.setdefault("sets", {})["now_weighted_to_estimated_mix"] = _sets(
                    adapted["sets"], y, model.classes
                )
        report["label_shift"] = shift
    if "sets" in result:
        sets = report.setdefault("sets", {})
        sets["coverage_target"] = model.sets.coverage  # type: ignore[union-attr]
        sets["before"] = _sets(model.conformal.predict_sets(probabilities), y, model.classes)  # type: ignore[union-attr]
        sets["now"] = set_figures(model, result, y, model.classes)
    held_out = concat(predictions["val"].data, in_study.data)  # both exchangeable with calibration
    if len(held_out.target):
        report["covariate_shift"] = covariate_shift(model, held_out, data, seed, mix)
    return report


def summary_line(cross: dict[str, Any]) -> str:
    """Macro-F1 in-study → cross-study for each model, and the sets' coverage there."""
    f1 = cross["f1_macro"]
    parts = [
        f"{name} {f1['in_study'][name]['f1_macro']:.3f} → {row['f1_macro']:.3f}"
        for name, row in f1["cross_study"].items()
        if "f1_macro" in row
    ]
    if "sets" in cross:
        parts.append(
            f"set coverage {cross['sets']['now']['coverage']:.3f} (target {cross['sets']['coverage_target']})"
        )
    return "; ".join(parts)
