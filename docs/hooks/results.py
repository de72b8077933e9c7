"""Tables for the docs site, generated from the JSON files that the benchmarks and the pipeline write.

A page asks for a table with an HTML comment on a line of its own; the MkDocs hook at the bottom of this
file replaces it when the site is built, so a number on the site is always the number in its file:

- ``<!-- results: NAME -->``: a table built by ``render(NAME, root)`` (``NAMES`` lists them);
- ``<!-- include: PATH -->``: the file at ``root / PATH`` as a fenced code block (``params.yaml``);
- ``<!-- include-markdown: PATH -->``: the file at ``root / PATH`` as Markdown (``CHANGELOG.md``).

Placeholders inside fenced code blocks are left alone. Every table names its source file(s) and the
machine the file records (the pipeline's own reports do not record one, and the table says so). A
missing file or an unknown name raises ``ResultsError``, which fails the build.

Nothing here imports MkDocs: ``render``, ``replace_placeholders`` and the table functions are plain
functions of the repository root, for tests and for use outside the site.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

RESULTS = "benchmarks/results"
ARCHIVE = "benchmarks/results/archive"
MINUS = "\u2212"
FUSION = "fusion_transformer"
BASELINES = ("logistic_regression", "gradient_boosting")
# n_test / n_train of the seeded stratified split the fusion_vs_baselines files were run with (params.yaml
# split 0.70 / 0.15 / 0.15). A file that records its own ratio (``test_over_train``) takes precedence.
DEFAULT_TEST_OVER_TRAIN = 0.15 / 0.70
SHIFT_ALPHA = 0.01  # the label-shift test's level (evaluation/label_shift.py SHIFT_ALPHA)

PLACEHOLDER = re.compile(r"^[ \t]*<!--\s*(results|include|include-markdown):\s*(\S+)\s*-->[ \t]*$", re.M)
FENCE = re.compile(r"^[ \t]*(```|~~~)")


class ResultsError(Exception):
    """A placeholder names no table, or a table's source file is missing or unreadable."""


# ---------------------------------------------------------------------------------------------------
# Names shown in the tables

COHORTS = {
    "synthetic": "synthetic default",
    "example-tables": "example tables",
    "breast": "TCGA breast, protein absent in test",
    "gbm": "TCGA glioblastoma",
    "cfdna": "plasma cfDNA, liver",
    "catalogues": "TCGA exome catalogues",
    "synthetic-missing": "synthetic, 30% missing per modality",
    "synthetic-interaction": "synthetic, planted interaction",
}
# The order of the benchmark's main table.
MAIN_COHORTS = ("synthetic", "example-tables", "breast", "gbm", "cfdna", "catalogues", "synthetic-missing")

MODELS = {
    FUSION: "fusion transformer",
    "logistic_regression": "logistic regression",
    "gradient_boosting": "gradient boosting",
    "no_cross_attention_concat_mlp": "no cross-modal attention (concat + MLP)",
    "generic_mlp_encoders": "generic MLP encoders",
    "no_progressive_training": "no progressive training",
}


def model_name(key: str) -> str:
    if key in MODELS:
        return MODELS[key]
    if key.startswith("only_"):
        return f"{key[len('only_') :]} only"
    return key.replace("_", " ")


def _pretty(text: str) -> str:
    """Model keys inside a row name or verdict, in words."""
    for key in BASELINES:
        text = text.replace(key, model_name(key))
    return text


def verdict_text(verdict: str | None) -> str:
    if not verdict:
        return ""
    return verdict.replace(FUSION, "fusion").replace("fusion_minus_", "").replace("_", " ")


# ---------------------------------------------------------------------------------------------------
# Formatting


def num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def signed(value: float | None, digits: int = 3) -> str:
    text = num(value, digits)
    if text in ("n/a",) or text.startswith(MINUS) or float(text.replace(MINUS, "-")) == 0.0:
        return text
    return "+" + text


def interval(bounds: Sequence[float] | None, digits: int = 3, sign: bool = False) -> str:
    if not bounds:
        return "n/a"
    fmt = signed if sign else num
    return f"[{fmt(bounds[0], digits)}, {fmt(bounds[1], digits)}]"


def mean_sd(entry: dict[str, Any], digits: int = 3, sign: bool = False) -> str:
    fmt = signed if sign else num
    return f"{fmt(entry['mean'], digits)} ± {num(entry['sd'], digits)}"


def ahead(count: int, total: int, ties: int = 0) -> str:
    return f"{count}/{total}" + (f", {ties} tie" + ("s" if ties > 1 else "") if ties else "")


def ahead_of(diff: dict[str, Any]) -> str:
    """ "k/n" repeats with fusion ahead, from a fusion_vs_baselines difference entry."""
    return ahead(diff["fusion_ahead_in"], diff["repeats"], diff["ties"])


def thousands(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine(doc: dict[str, Any] | None) -> str:
    """The machine a result file records, in words."""
    found = None if doc is None else (doc.get("device") or doc.get("machine"))
    if found is None:
        return "machine not recorded in the file"
    if isinstance(found, dict):
        parts = [str(found[k]) for k in ("cpu", "device", "gpu") if found.get(k)]
        if found.get("cores"):
            parts.append(f"{found['cores']} cores")
        found = ", ".join(parts)
    return re.sub(r"\((R|TM)\)", "", str(found)).replace("  ", " ")


def source(*files: tuple[str, dict[str, Any] | None]) -> str:
    """One line naming each source file with its machine and date."""
    parts = []
    for rel, doc in files:
        date = (doc or {}).get("date", "")[:10]
        parts.append(f"`{rel}` ({machine(doc)}" + (f", {date})" if date else ")"))
    return "*Source: " + "; ".join(parts) + ".*"


# ---------------------------------------------------------------------------------------------------
# Files


def load(root: Path, rel: str) -> dict[str, Any]:
    path = Path(root) / rel
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{rel}: not found (a results table on the docs site is built from it)") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{rel}: cannot read it: {exc}") from None


def bench(root: Path, name: str) -> tuple[str, dict[str, Any]]:
    """A benchmark result by file name, from benchmarks/results/ or, if moved there, its archive."""
    for folder in (RESULTS, ARCHIVE):
        rel = f"{folder}/{name}"
        if (Path(root) / rel).is_file():
            return rel, load(root, rel)
    raise ResultsError(f"{RESULTS}/{name}: not found, nor in {ARCHIVE}/")


def fvb(root: Path, tag: str) -> tuple[str, dict[str, Any]]:
    """A fusion_vs_baselines result by its tag (``cfdna-screen``)."""
    return bench(root, f"fusion_vs_baselines-{tag}.json")


# ---------------------------------------------------------------------------------------------------
# Statistics over repeats (the same formulas as evaluation/repeats.py)


def t_interval(values: Sequence[float], test_over_train: float = 0.0) -> tuple[list[float], float]:
    """95% t-interval and two-sided p of the mean; ``test_over_train`` > 0 gives Nadeau & Bengio's
    corrected resampled interval for repeats that re-split one cohort (variance × (1/n + ratio))."""
    from scipy import stats  # a dependency of oncofusion; imported here so that loading this file is cheap

    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    se = sd * math.sqrt(1.0 / n + test_over_train)
    if se == 0.0:
        return [mean, mean], (0.0 if mean != 0.0 else 1.0)
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return [mean - half, mean + half], float(2.0 * stats.t.sf(abs(mean) / se, n - 1))


def reading(bounds: Sequence[float], better: str = "fusion better", worse: str = "other better") -> str:
    if bounds[0] > 0:
        return better
    if bounds[1] < 0:
        return worse
    return "within noise"


def f1_values(config: dict[str, Any], model: str) -> list[float]:
    return list(config["rows"][model]["f1_macro"]["values"])


def best_baseline(config: dict[str, Any]) -> str:
    present = [b for b in BASELINES if b in config["rows"]]
    return max(present, key=lambda b: config["rows"][b]["f1_macro"]["mean"])


def held_out_ratio(doc: dict[str, Any], config: dict[str, Any]) -> float | None:
    """n_test / n_train where the repeats re-drew the split, None where the test set was given."""
    if doc.get("fresh_cohorts"):
        return 0.0
    if "test_over_train" in config:
        return config["test_over_train"]
    return DEFAULT_TEST_OVER_TRAIN if str(doc.get("split_method", "")).startswith("stratified") else None


def paired(a: dict[str, Any], b: dict[str, Any], model: str = FUSION) -> tuple[list[float], int] | None:
    """Per-repeat differences a − b of ``model``'s macro-F1 over the repeats both ran, when they are
    paired (the same splits: every baseline scored identically); None when they are not."""
    n = min(a["repeats"], b["repeats"])
    for baseline in BASELINES:
        both = baseline in a["rows"] and baseline in b["rows"]
        if both and f1_values(a, baseline)[:n] != f1_values(b, baseline)[:n]:
            return None
    va, vb = f1_values(a, model)[:n], f1_values(b, model)[:n]
    return [x - y for x, y in zip(va, vb, strict=True)], n


def diff_cell(entry: dict[str, Any]) -> str:
    """A bootstrap difference: mean [95% CI] and its reading."""
    return (
        f"{signed(entry['mean'])} {interval(entry['ci95'], sign=True)} {verdict_text(entry.get('verdict'))}"
    )


def diff_summary(diffs: Sequence[float]) -> str:
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    better = sum(d > 0 for d in diffs)
    ties = sum(d == 0 for d in diffs)
    return f"{signed(mean)} ± {num(sd)} ({ahead(better, n, ties)})"


# ---------------------------------------------------------------------------------------------------
# The pipeline's reports (make repro)


def default_cohort(root: Path) -> str:
    """The default cohort: fusion against baselines and ablations on one test split, with intervals."""
    rel = "reports/ablations.json"
    doc = load(root, rel)
    metrics_rel = "reports/metrics.json"
    metrics = load(root, metrics_rel)
    boot = doc["bootstrap"]["intervals"]
    weights = doc.get("deep_weight", {})
    rows = []
    for row in doc["rows"]:
        key = row["model"]
        own = boot.get(key, {})
        diff = boot.get(f"fusion_minus_{key}")
        rows.append(
            [
                model_name(key),
                f"{num(row['test_f1_macro'])} {interval(own.get('ci95') or row.get('test_f1_macro_ci95'))}",
                "" if diff is None else f"{signed(diff['mean'])} {interval(diff['ci95'], sign=True)}",
                "" if diff is None else verdict_text(diff["verdict"]),
                "" if key not in weights else num(weights[key], 1),
            ]
        )
    head = ["model", "test macro-F1 [95% CI]", "fusion − model [95% CI, paired]", "reading", "deep weight"]
    test = metrics["test"]
    note = (
        f"Test split: {metrics['n_test']} samples ({metrics['n_train']} train, {metrics['n_val']} val), "
        f"{doc['bootstrap']['resamples']} bootstrap resamples. Fusion test accuracy {num(test['accuracy'])}, "
        f"AUROC {num(test['auroc'])}. Deep weight: the transformer's share of the logits each model chose "
        "(rows without one have no transformer)."
    )
    return "\n\n".join([table(head, rows), note, source((rel, doc), (metrics_rel, metrics))])


def _calibration(root: Path, folder: str) -> str:
    rel = f"{folder}/calibration.json"
    doc = load(root, rel)
    rows = []
    for split in ("val", "test"):
        s = doc[split]
        rows.append(
            [
                split,
                num(s["temperature"], 2),
                f"{num(s['nll_before'])} → {num(s['nll_after'])}",
                f"{num(s['ece_before'])} → {num(s['ece_after'])}",
                f"{num(s['brier_before'])} → {num(s['brier_after'])}",
            ]
        )
    parts = [table(["split", "temperature", "NLL", "ECE", "Brier"], rows)]
    conformal = doc.get("conformal")
    if conformal:
        t = conformal["test"]
        per_class = ", ".join(
            f"{k} {num(v, 2)}" for k, v in conformal.get("test_per_class_coverage", {}).items()
        )
        parts.append(
            table(
                ["target coverage", "thresholds", "test coverage", "mean set size", "one class", "empty"],
                [
                    [
                        num(conformal["coverage"], 2),
                        conformal["mode"].replace("_", "-"),
                        num(t["coverage"]),
                        num(t["mean_set_size"], 2),
                        f"{t['singleton_share']:.0%}",
                        f"{t['empty_share']:.0%}",
                    ]
                ],
            )
        )
        if per_class:
            parts.append(f"Test coverage per class: {per_class}.")
    shift = doc.get("label_shift")
    if shift:
        f1 = shift["test_f1_macro"]
        parts.append(
            f"Label-shift check: test p-value {num(shift['shift_p_value'], 3)} "
            f"(val {num(shift['shift_p_value_val'], 3)}), verdict **{shift['verdict']}**; "
            f"test macro-F1 of the model's calls {num(f1['model'])}, adapted to "
            f"the estimated mix {num(f1['adapted_to_estimated_mix'])}, balanced {num(f1['balanced'])}."
        )
    parts.append(source((rel, doc)))
    return "\n\n".join(parts)


def calibration(root: Path) -> str:
    """Temperature scaling, conformal sets and the label-shift check on the default cohort."""
    return _calibration(root, "reports")


def variants_calibration(root: Path) -> str:
    """The same for the somatic-variant branch's model."""
    return _calibration(root, "reports/variants")


def interpretation(root: Path) -> str:
    """How far the attributions are from adding up, and precision@k against the planted features."""
    rows, files = [], []
    for label, rel in (
        ("default cohort", "reports/interpretation.json"),
        ("somatic-variant catalogues", "reports/variants/interpretation.json"),
    ):
        doc = load(root, rel)
        files.append((rel, doc))
        c = doc["completeness"]
        rows.append([label, doc["method"], num(c["mean_abs_logit_change"], 2), num(c["mean_abs_gap"], 4)])
    parts = [
        table(["model (test set)", "method", "mean |change of the true-class logit|", "mean |gap|"], rows)
    ]
    precision = []
    doc = files[0][1]
    for modality, entry in doc["modalities"].items():
        if entry.get("precision_at_k") is not None:
            precision.append(
                [modality, f"{num(entry['precision_at_k'], 2)} (k = {entry['k']})", num(entry["chance"], 2)]
            )
    if precision:
        parts.append(
            table(["modality", "precision@k of the top features (default cohort)", "chance"], precision)
        )
    parts.append(source(*files))
    return "\n\n".join(parts)


def tune_summary(root: Path) -> str:
    """Each branch's last study: the objective is the val log-loss (lower is better), and the spread of
    the completed trials says whether the study told configurations apart."""
    rows, sources = [], []
    for branch, rel in (
        ("multi-omics", "reports/tune/summary.json"),
        ("variants", "reports/variants/tune/summary.json"),
    ):
        doc = load(root, rel)
        sources.append((rel, doc))
        if not doc["n_trials"]:
            rows.append([branch, 0, "", "", "", "not tuned (tune.n_trials: 0)", "", "", ""])
            continue
        spread = doc.get("spread") or {}
        rows.append(
            [
                branch,
                doc["n_trials"],
                doc["n_complete"],
                doc["n_pruned"],
                doc["n_failed"],
                num(doc["best_value"], 4),
                _trial_range(spread),
                num(doc.get("best_val_f1_macro")),
                f"{doc['seconds']:.0f} s",
            ]
        )
    head = ["branch", "trials", "complete", "pruned", "failed", "best val log-loss",
            "completed trials' range", "its val macro-F1", "time"]  # fmt: skip
    return "\n\n".join([table(head, rows), source(*sources)])


def _trial_range(spread: dict[str, Any]) -> str:
    if not spread:
        return ""
    return f"{num(spread['min'], 4)}–{num(spread['max'], 4)} ({spread['n_distinct']} distinct)"


def variants_default(root: Path) -> str:
    """The somatic-variant branch's model against its baselines, one test split."""
    rel = "reports/variants/ablations.json"
    doc = load(root, rel)
    metrics_rel = "reports/variants/metrics.json"
    metrics = load(root, metrics_rel)
    boot = doc["bootstrap"]["intervals"]
    rows = []
    for row in doc["rows"]:
        key = row["model"]
        diff = boot.get(f"fusion_minus_{key}")
        rows.append(
            [
                model_name(key),
                f"{num(row['test_f1_macro'])} {interval(boot.get(key, {}).get('ci95'))}",
                num(row["test_accuracy"]),
                "" if diff is None else diff_cell(diff),
            ]
        )
    note = (
        f"{metrics['n_test']} test donors of {len(metrics['classes'])} types "
        f"({metrics['n_train']} train, {metrics['n_val']} val), "
        f"{doc['bootstrap']['resamples']} bootstrap resamples."
    )
    head = ["model", "test macro-F1 [95% CI]", "accuracy", "fusion − model [95% CI, paired]"]
    return "\n\n".join([table(head, rows), note, source((rel, doc), (metrics_rel, metrics))])


def dna_finetune(root: Path) -> str:
    """The DNA language model's held-out checks before and after fine-tuning, with the LM's baselines."""
    rel = "reports/variants/dna_finetune.json"
    doc = load(root, rel)
    before, after = doc["before"], doc["heldout"]

    def markov(checks: dict) -> str:
        return f"{num(checks['mlm_markov_accuracy'])} (order {checks['markov_order']} each side)"

    def lead(checks: dict) -> str:
        low, high = checks["mlm_minus_markov_low"], checks["mlm_minus_markov_high"]
        return f"{signed(checks['mlm_minus_markov'])} {interval([low, high], sign=True)}"

    rows = [
        [
            "linear probe: variant representation → SBS96 class (chance 1/96)",
            num(before["sbs96_probe_accuracy"]),
            num(after["sbs96_probe_accuracy"]),
        ],
        ["masked-LM accuracy", num(before["mlm_accuracy"]), num(after["mlm_accuracy"])],
        [
            "the most frequent base, same masked positions",
            num(before["mlm_most_frequent_accuracy"]),
            num(after["mlm_most_frequent_accuracy"]),
        ],
        ["best Markov model of the flanking bases", markov(before), markov(after)],
        ["masked LM − best Markov [95% CI, variants resampled]", lead(before), lead(after)],
        [
            "retrieval top-1 of the tumour window's own normal window",
            num(before["retrieval_top1"]),
            num(after["retrieval_top1"]),
        ],
    ]
    note = (
        f"{doc['steps']} steps, {doc['train_seconds']:.0f} s of training at "
        f"{thousands(doc['tokens_per_second'])} tokens/s."
    )
    return "\n\n".join(
        [
            table(["held-out check (validation-split variants)", "before", "after"], rows),
            note,
            source((rel, doc)),
        ]
    )


LM_GENOMES = (
    ("hg38 chr2", "dna_lm_real-cpu-2cores.json"),
    ("simulator: markov", "dna_lm_real-markov-cpu-2cores.json"),
    ("simulator: gc_blocks (default)", "dna_lm_real-gc_blocks-cpu-2cores.json"),
)


def dna_lm_real(root: Path) -> str:
    """The CPU preset's masked LM on held-out real human DNA (and, where measured, on the simulator's
    two genomes) against its baselines, per seed."""
    rows, notes, sources = [], [], []
    for i, (genome, name) in enumerate(LM_GENOMES):
        if i and not (Path(root) / RESULTS / name).is_file():
            continue  # the simulated genomes are optional rows; real DNA is the claim
        rel, doc = bench(root, name)
        sources.append((rel, doc))
        notes.append(f"{genome}: {doc['sequence']}")
        for run in doc["runs"]:
            best = run["best_markov_order"]
            diff = run["model_minus_best_markov"]
            rows.append(
                [
                    genome,
                    str(run["seed"]),
                    num(run["model_accuracy"]),
                    num(run["most_frequent_token_accuracy"]),
                    f"{num(run['markov_accuracy'][f'order {best} each side'])} (order {best})",
                    f"{signed(diff['mean'])} {interval(diff['ci95'], sign=True)} {diff['verdict']}",
                ]
            )
    doc = sources[0][1]
    head = ["sequence", "seed", "masked LM", "most frequent base", "best Markov", "LM − Markov [95% CI]"]
    note = (
        "; ".join(notes)
        + f". {doc['steps']} steps of {doc['batch_windows']} windows of {doc['window_bases']} bases; "
        f"{thousands(doc['held_out_windows'])} held-out windows."
    )
    return "\n\n".join([table(head, rows), note, source(*sources)])


def dna_contrastive(root: Path) -> str:
    """What the contrastive weight does to the probe, the masked LM and typing, over seeds."""
    rel, doc = bench(root, "dna_contrastive-cpu-2cores.json")
    rows = []
    for name, entry in doc["summary"].items():
        rows.append(
            [name, str(entry["sbs96_probe"].get("n_seeds", "?"))]
            + [
                f"{num(entry[k]['mean'])} ({num(entry[k]['min'])}–{num(entry[k]['max'])})"
                for k in ("sbs96_probe", "mlm_accuracy", "typing_f1_macro")
            ]
        )
    head = ["pairing, λ", "seeds", "SBS96 probe", "masked-LM accuracy", "typing macro-F1"]
    note = (
        f"Mean (range) over the seeds run (of {', '.join(str(s) for s in doc['seeds'])}); typing: "
        f"{doc['typing_model']}, up to {doc['variants_per_sample_for_typing']} variants a sample."
    )
    return "\n\n".join([table(head, rows), note, source((rel, doc))])


def dna_classify(root: Path) -> str:
    """Cancer type from catalogues, DNA embeddings or both: the pipeline's run and the five-seed benchmark."""
    rel = "reports/variants/dna_classify.json"
    doc = load(root, rel)
    seeds_rel, seeds = bench(root, "dna_classify_seeds-cpu-2cores.json")
    comparisons = doc.get("comparisons", {})
    rows = []
    for name, entry in doc["rows"].items():
        comp = comparisons.get(f"fused_minus_{name}")
        seed_row = seeds["rows"].get(name)
        rows.append(
            [
                _pretty(name),
                f"{num(entry['f1_macro'])} {interval(entry['ci95'])}",
                "—"
                if comp is None
                else f"{signed(comp['mean'])} {interval(comp['ci95'], sign=True)} {_pretty(comp['verdict'])}",
                "n/a" if seed_row is None else num(seed_row["mean"]),
                _verdict_counts(seeds.get("verdicts_by_seed", {}).get(f"fused_minus_{name}")),
            ]
        )
    head = [
        "model",
        "test macro-F1 [95% CI], pipeline run",
        "fused − model [95% CI, paired]",
        f"mean over {len(seeds['seeds'])} seeds (benchmark)",
        "fused − model over the seeds",
    ]
    chance = num(1 / len(doc["classes"]), 2)
    note = f"{doc['n_test']} test donors, {len(doc['classes'])} classes (chance macro-F1 about {chance})."
    fused = [
        v
        for k, v in seeds.get("fused_minus_row_by_seed", {}).items()
        if k == "fused_minus_fusion: catalogues"
    ]
    if fused:
        values = fused[0]
        note += (
            f" Over the benchmark's seeds, catalogues + embedding minus catalogues alone (fusion): "
            f"{diff_summary(values)} better."
        )
    return "\n\n".join([table(head, rows), note, source((rel, doc), (seeds_rel, seeds))])


def dna_embedding_gap(root: Path) -> str:
    """What the representation carries by variant type, and what indel and doublet identity is worth
    to MuAt: the explanation of the embedding set model's gap to the motif."""
    rel, doc = bench(root, "dna_embedding_gap-cpu-2cores.json")
    probe_rows = [
        [
            kind,
            entry["probes"],
            str(entry["classes"]),
            f"{num(entry['accuracy'])} {interval(entry['accuracy_ci95'])}",
            f"{num(entry['majority_class'])} {interval(entry['majority_ci95'])}",
            f"{thousands(entry['n_test'])}",
        ]
        for kind, entry in doc["probes_by_type"].items()
    ]
    probe_table = table(
        [
            "variants",
            "probe predicts",
            "classes",
            "probe accuracy [95% CI]",
            "majority class",
            "held-out variants",
        ],
        probe_rows,
    )
    seeds_rel, classify = bench(root, "dna_classify_seeds-cpu-2cores.json")
    entries = dict(doc["rows"])
    if classify["seeds"] == doc["seeds"] and "set transformer: DNA embedding" in classify["rows"]:
        entries["set transformer: DNA embedding (dna_classify_seeds)"] = classify["rows"][
            "set transformer: DNA embedding"
        ]
    model_rows = []
    for name, entry in entries.items():
        by_seed = entry["f1_macro_by_seed"]
        model_rows.append([_pretty(name), num(entry["mean"]), f"{num(min(by_seed))}–{num(max(by_seed))}"])
    model_table = table(["model", f"mean macro-F1 over {len(doc['seeds'])} seeds", "range"], model_rows)
    note = (
        f"{doc['n_test']} test donors. Indel and doublet identity is worth "
        f"{diff_summary(doc['identity_worth_by_seed'])} to MuAt's motif model: full − reduced per seed, "
        "mean ± SD (seeds with the full motif ahead)."
    )
    return "\n\n".join([probe_table, model_table, note, source((rel, doc), (seeds_rel, classify))])


def dna_context(root: Path) -> str:
    """Beyond the 96 classes: typing the context pairs from catalogues, embeddings and both."""
    rel = "reports/variants/dna_context.json"
    doc = load(root, rel)
    rows = [
        [
            name,
            f"{num(row['f1_macro'])} {interval(row['ci95'])}",
            f"{num(row['repeats_range'][0])}–{num(row['repeats_range'][1])}",
        ]
        for name, row in doc["rows"].items()
    ]
    diff = doc["difference"]
    overall = (
        f"{doc['n_donors']} donors, {len(doc['classes'])} types; {doc['cross_validation']}; "
        f"{doc['fusion']}. {diff['what']}: {signed(diff['mean'])} {interval(diff['ci95'], sign=True)}, "
        f"{diff['verdict']}."
    )
    pair_rows = []
    for entry in doc["pairs"].values():
        a, b = entry["types"]
        for name, model in entry["models"].items():
            (aa, ab), (ba, bb) = model["confusion_over_repeats"]
            pair_rows.append(
                [
                    f"{a} / {b}",
                    name,
                    f"{num(model['pair_accuracy'])} {interval(model['ci95'])}",
                    f"{aa}, {ab} / {ba}, {bb}",
                ]
            )
        gain = entry["difference"]
        pair_rows.append(
            [
                f"{a} / {b}",
                "**both − catalogues**",
                f"{signed(gain['mean'])} {interval(gain['ci95'], sign=True)} {gain['verdict']}",
                "",
            ]
        )
    pair_head = [
        "pair",
        "features",
        "pair accuracy [95% CI] (0.5: cannot tell apart)",
        "confusion over repeats (true a: a, b / true b: a, b)",
    ]
    return "\n\n".join(
        [
            overall,
            table(["features", "macro-F1 [95% CI]", "range over repeats"], rows),
            table(pair_head, pair_rows),
            source((rel, doc)),
        ]
    )


def _verdict_counts(verdicts: Sequence[str] | None) -> str:
    if not verdicts:
        return "—"
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v] = counts.get(v, 0) + 1
    return "; ".join(
        f"{_pretty(v).replace('fusion: catalogues + DNA embedding', 'fused')} in {n} of {len(verdicts)}"
        for v, n in counts.items()
    )


# ---------------------------------------------------------------------------------------------------
# fusion_vs_baselines: the fusion model against the baselines over repeats


def _after(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["configs"]["after"]


def fusion_vs_baselines(root: Path) -> str:
    """The default model against both baselines on seven cohorts, 5 repeats each."""
    rows, files = [], []
    for cohort in MAIN_COHORTS:
        rel, doc = fvb(root, f"{cohort}-screen")
        files.append((rel, doc))
        config = _after(doc)
        best = best_baseline(config)
        diff = config["f1_macro_differences"][f"fusion_minus_{best}"]
        boot = config["repeat0_bootstrap"][f"fusion_minus_{best}"]
        ratio = held_out_ratio(doc, config)
        if diff.get("ci95_corrected"):
            corrected = f"{interval(diff['ci95_corrected'], sign=True)} {verdict_text(diff.get('verdict'))}"
        elif ratio:
            bounds, _ = t_interval(
                [a - b for a, b in zip(f1_values(config, FUSION), f1_values(config, best), strict=True)],
                ratio,
            )
            corrected = f"{interval(bounds, sign=True)} {reading(bounds)}"
        else:
            corrected = "n/a: the test set is given"
        rows.append(
            [
                COHORTS.get(cohort, cohort),
                f"{doc['n_samples']}, {len(doc['classes'])}",
                mean_sd(config["rows"]["logistic_regression"]["f1_macro"]),
                mean_sd(config["rows"]["gradient_boosting"]["f1_macro"]),
                mean_sd(config["rows"][FUSION]["f1_macro"]),
                f"{mean_sd(diff, sign=True)} vs {_short(best)} ({ahead_of(diff)})",
                diff_cell(boot),
                corrected,
            ]
        )
    head = [
        "cohort",
        "samples, classes",
        "logistic regression (LR)",
        "gradient boosting (GB)",
        "fusion (default)",
        "fusion − best baseline (repeats ahead)",
        "repeat 0: paired bootstrap 95% CI",
        "over repeats: corrected 95% CI",
    ]
    note = (
        "Test macro-F1, mean ± sd over the repeats. The corrected interval is Nadeau & Bengio's resampled t "
        f"over repeats that re-split one cohort (n_test/n_train {DEFAULT_TEST_OVER_TRAIN:.3f} unless the "
        "file records its own); cohorts whose test set is given get none, and repeat 0's bootstrap "
        "interval is the one that counts their test set's noise."
    )
    return "\n\n".join([table(head, rows), note, _sources(files)])


def _sources(files: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """One source line for many files: the list of files, then each distinct machine and the date range."""
    machines = sorted({machine(doc) for _, doc in files})
    dates = sorted({doc.get("date", "")[:10] for _, doc in files if doc.get("date")})
    when = "" if not dates else f"; {dates[0]}" + ("" if len(dates) == 1 else f" to {dates[-1]}")
    names = ", ".join(f"`{rel}`" for rel, _ in files)
    return f"*Sources: {names} ({'; '.join(machines)}{when}).*"


def repeated_synthetic(root: Path) -> str:
    """The synthetic cohorts over 30 repeats: re-splits of one cohort against 30 freshly generated cohorts."""
    rows, files = [], []
    for tag, label in (
        ("synthetic-fresh-30", "synthetic default, 30 fresh cohorts"),
        ("synthetic-missing-fresh-30", "30% missing, 30 fresh cohorts"),
        ("synthetic-missing-screen-30", "30% missing, 30 re-splits of one cohort"),
    ):
        rel, doc = fvb(root, tag)
        files.append((rel, doc))
        config = _after(doc)
        ratio = held_out_ratio(doc, config) or 0.0
        fusion = f1_values(config, FUSION)
        gb = [a - b for a, b in zip(fusion, f1_values(config, "gradient_boosting"), strict=True)]
        better = [
            f - max(lr, g)
            for f, lr, g in zip(
                fusion,
                f1_values(config, "logistic_regression"),
                f1_values(config, "gradient_boosting"),
                strict=True,
            )
        ]
        gb_bounds, gb_p = t_interval(gb, ratio)
        recorded = config["f1_macro_differences"].get("fusion_minus_gradient_boosting", {})
        if recorded.get("ci95_corrected"):  # the file's own interval wins where it has one
            gb_bounds, gb_p = recorded["ci95_corrected"], recorded["p_value_corrected"]
        best_bounds, _ = t_interval(better, ratio)
        kind = "plain t (independent cohorts)" if doc.get("fresh_cohorts") else "corrected resampled t"
        auroc = [
            a - b
            for a, b in zip(
                config["rows"][FUSION]["auroc"]["values"],
                config["rows"]["gradient_boosting"]["auroc"]["values"],
                strict=True,
            )
        ]
        rows.append(
            [
                label,
                mean_sd(config["rows"]["logistic_regression"]["f1_macro"]),
                mean_sd(config["rows"]["gradient_boosting"]["f1_macro"]),
                mean_sd(config["rows"][FUSION]["f1_macro"]),
                f"{diff_summary(gb)}; {interval(gb_bounds, sign=True)}, p {_p(gb_p, 4)}",
                f"{diff_summary(better)}; {interval(best_bounds, sign=True)}",
                kind,
                diff_summary(auroc),
            ]
        )
    head = [
        "repeats",
        "logistic regression",
        "gradient boosting",
        "fusion (default)",
        "fusion − GB (ahead); 95% CI",
        "fusion − each repeat's better baseline (ahead); 95% CI",
        "interval",
        "AUROC: fusion − GB (ahead)",
    ]
    return "\n\n".join([table(head, rows), _sources(files)])


def modalities_present(root: Path) -> str:
    """Test accuracy by the number of modalities a sample has, over the 30 fresh 30%-missing cohorts."""
    rel, doc = fvb(root, "synthetic-missing-fresh-30")
    per_cohort = _after(doc)["accuracy_by_modalities_present"]
    rows = []
    for k in sorted({k for cohort in per_cohort for k in cohort}, key=int):
        present = [c[k] for c in per_cohort if k in c and c[k]["n"]]
        n = sum(c["n"] for c in present)
        pooled = {m: sum(c[m] * c["n"] for c in present) / n for m in (FUSION, *BASELINES)}
        bounds, _ = t_interval([c[FUSION] - c["gradient_boosting"] for c in present])
        mean = sum(c[FUSION] - c["gradient_boosting"] for c in present) / len(present)
        rows.append(
            [
                k,
                thousands(n),
                num(pooled[FUSION]),
                num(pooled["logistic_regression"]),
                num(pooled["gradient_boosting"]),
                f"{signed(mean)} {interval(bounds, sign=True)}",
            ]
        )
    head = [
        "modalities present",
        "test samples (pooled)",
        "fusion",
        "logistic regression",
        "gradient boosting",
        "fusion − GB per cohort, mean [95% CI]",
    ]
    return "\n\n".join([table(head, rows), source((rel, doc))])


def decision(root: Path) -> str:
    """The opt-in decision rules (balanced, target mix) against the default call, paired per repeat."""
    specs = [("cfdna-screen", "cfdna-screen-balanced", "cfdna-target-observed", "with the feature screen")]
    specs += [(f"{c}-gam", f"{c}-balanced", None, "before the feature screen") for c in MAIN_COHORTS]
    rows, files = [], []
    for ref_tag, bal_tag, target_tag, model in specs:
        ref_rel, ref = fvb(root, ref_tag)
        bal_rel, bal = fvb(root, bal_tag)
        files += [(ref_rel, ref), (bal_rel, bal)]
        ref_c, bal_c = _after(ref), _after(bal)
        d = paired(bal_c, ref_c)
        best = best_baseline(ref_c)
        gap = [b - x for b, x in zip(f1_values(bal_c, FUSION), f1_values(bal_c, best), strict=True)]
        target = ""
        if target_tag:
            t_rel, t_doc = fvb(root, target_tag)
            files.append((t_rel, t_doc))
            td = paired(_after(t_doc), ref_c)
            t_c = _after(t_doc)
            t_best = [a - b for a, b in zip(f1_values(t_c, FUSION), f1_values(t_c, best), strict=True)]
            target = (
                f"{mean_sd(t_c['rows'][FUSION]['f1_macro'])}; − default "
                + ("unpaired" if td is None else diff_summary(td[0]))
                + f"; − {_short(best)} {diff_summary(t_best)}"
            )
        rows.append(
            [
                COHORTS.get(ref["cohort"], ref["cohort"]),
                model,
                mean_sd(ref_c["rows"][FUSION]["f1_macro"]),
                mean_sd(bal_c["rows"][FUSION]["f1_macro"]),
                "unpaired" if d is None else diff_summary(d[0]),
                f"{diff_summary(gap)} vs {_short(best)}",
                target or "—",
            ]
        )
    head = [
        "cohort",
        "model",
        "default call (most probable class)",
        "balanced call",
        "balanced − default (better)",
        "balanced − best baseline (ahead)",
        "target mix (the observed test mix): macro-F1; − default; − best baseline",
    ]
    return "\n\n".join([table(head, rows), _sources(files)])


def label_shift(root: Path) -> str:
    """The label-shift check on the benchmark's cohorts: flagged repeats and what adapting would give."""
    rows, files = [], []
    for cohort in MAIN_COHORTS:
        try:
            rel, doc = fvb(root, f"{cohort}-shift")
        except ResultsError:
            continue
        files.append((rel, doc))
        shifts = [s for s in _after(doc)["label_shift"] if s]
        n = len(shifts)
        unreadable = sum(1 for s in shifts if s.get("shift_p_value_val", 1.0) < SHIFT_ALPHA)
        flagged = sum(1 for s in shifts if s["shifted"])
        p = [s["shift_p_value"] for s in shifts]
        f1 = {
            k: sum(s["test_f1_macro"][k] for s in shifts) / n
            for k in ("model", "adapted_to_estimated_mix", "balanced")
        }
        adapted_better = sum(
            s["test_f1_macro"]["adapted_to_estimated_mix"] > s["test_f1_macro"]["model"] for s in shifts
        )
        adapted_worse = sum(
            s["test_f1_macro"]["adapted_to_estimated_mix"] < s["test_f1_macro"]["model"] for s in shifts
        )
        rows.append(
            [
                COHORTS.get(cohort, cohort),
                f"{flagged} of {n}" + (f" ({unreadable} cannot tell)" if unreadable else ""),
                f"{_p(min(p))} – {_p(max(p))}",
                f"{num(f1['model'])} / {num(f1['adapted_to_estimated_mix'])} / {num(f1['balanced'])}",
                f"{adapted_better} better, {adapted_worse} worse",
            ]
        )
    head = [
        "cohort",
        "flagged (of repeats)",
        "test p-value range",
        "test macro-F1: model / adapted to the estimate / balanced",
        "adapted call against the model's",
    ]
    note = (
        f"A repeat is flagged when the test p-value is below {SHIFT_ALPHA} "
        "and the validation split's is not; "
        '"cannot tell" when the validation split\'s p-value is below it too.'
    )
    return "\n\n".join([table(head, rows), note, _sources(files)])


def _short(baseline: str) -> str:
    return {"logistic_regression": "LR", "gradient_boosting": "GB"}.get(baseline, model_name(baseline))


def _p(value: float, decimals: int = 6) -> str:
    """A p-value as its file rounded it (``decimals`` places): 0 there means below the last place."""
    if value == 0:
        return f"< 10{_superscript(-decimals)}"
    if value < 0.001:
        exponent = math.floor(math.log10(value))
        return f"{value / 10**exponent:.0f}·10{_superscript(exponent)}"
    return num(value, 3) if value < 0.1 else num(value, 2)


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def interaction_claims(root: Path) -> str:
    """The planted cross-modal interaction: attention and specific encoders against their ablations."""
    rel, doc = fvb(root, "synthetic-interaction-claims-screen")
    config = _after(doc)
    rows = []
    for key, entry in config["rows"].items():
        diff = config["f1_macro_differences"].get(f"fusion_minus_{key}")
        boot = config["repeat0_bootstrap"].get(f"fusion_minus_{key}")
        rows.append(
            [
                model_name(key),
                mean_sd(entry["f1_macro"]),
                "" if diff is None else f"{mean_sd(diff, sign=True)} ({ahead_of(diff)})",
                "" if boot is None else diff_cell(boot),
            ]
        )
    head = [
        "model",
        f"test macro-F1 ({config['repeats']} repeats)",
        "fusion − model (fusion ahead)",
        "repeat 0: paired bootstrap 95% CI",
    ]
    return "\n\n".join([table(head, rows), source((rel, doc))])


# Measured and not adopted (or superseded): each variant against the file it was compared with.
# (the variant's file tag, what it tried, the reference's tag; "#before": that file's 'before' config)
NOT_ADOPTED: dict[str, list[tuple[str, str, str]]] = {
    "30% missing modalities: levers on the default model": [
        (
            "synthetic-missing-md0.0",
            "`train.modality_dropout: 0.0` (default 0.1)",
            "synthetic-missing-screen",
        ),
        ("synthetic-missing-md0.3", "`train.modality_dropout: 0.3`", "synthetic-missing-screen"),
        (
            "synthetic-missing-mheads",
            "per-modality heads added to the fused head (late fusion; code not kept)",
            "synthetic-missing-screen",
        ),
        (
            "synthetic-missing-folds10",
            "10 ensemble members instead of 5 (twice the training time)",
            "synthetic-missing-screen",
        ),
        (
            "synthetic-missing-noise0.1",
            "Gaussian input noise 0.1 for the transformer (`train.input_noise`)",
            "synthetic-missing-screen",
        ),
        ("synthetic-missing-noise0.3", "Gaussian input noise 0.3", "synthetic-missing-screen"),
        (
            "synthetic-missing-ema0.95",
            "moving average of each member's weights, decay 0.95 (code not kept)",
            "synthetic-missing-screen",
        ),
    ],
    "The wide start's feature screen": [
        *[(f"{c}-gam", "no screen (`train.wide_screen_fdr: null`)", f"{c}-screen") for c in MAIN_COHORTS],
        *[
            (f"{c}-screen-anova", "screen on class means only (F test, no bin test)", f"{c}-screen")
            for c in ("synthetic", "example-tables", "breast", "cfdna", "synthetic-missing")
        ],
        *[
            (f"{c}-wide-md", "modality dropout in the wide start's regression (code not kept)", f"{c}-screen")
            for c in ("synthetic", "example-tables", "breast", "gbm", "cfdna", "synthetic-missing")
        ],
    ],
    "The wide path": [
        *[
            (
                f"{c}-val-loss-rerun",
                "linear wide path trained jointly (the model before the additive path)",
                f"{c}-gam",
            )
            for c in ("synthetic", "example-tables", "breast", "gbm", "cfdna")
        ],
        ("cfdna-ple", "binned wide path trained jointly at the transformer's learning rate", "cfdna-gam"),
        (
            "cfdna-ple-l2",
            "binned wide path with a stronger L2 (`train.wide_l2: 0.15`) instead of freezing",
            "cfdna-ple-frozen",
        ),
        ("cfdna-ple-frozen", "binned wide path frozen at its start (3 repeats; adopted)", "cfdna-ple"),
    ],
    "Early stopping": [
        *[
            (
                f"{c}-balanced-loss",
                "stop on the class-balanced val log-loss (`train.monitor: val_balanced_loss`)",
                f"{c}-val-loss-rerun",
            )
            for c in ("synthetic", "example-tables", "breast", "gbm", "cfdna")
        ],
    ],
    "The first small-cohort model (wide path, ensemble, log-loss stopping) against the model before it": [
        *[(c, "'after' config against the file's own 'before' config", f"{c}#before") for c in MAIN_COHORTS],
    ],
}


def _config(root: Path, tag: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    name, _, which = tag.partition("#")
    rel, doc = fvb(root, name)
    return rel, doc, doc["configs"][which or "after"]


def not_adopted(root: Path) -> str:
    """Variants measured and not adopted, each paired against the model it was compared with."""
    parts = []
    for group, variants in NOT_ADOPTED.items():
        rows = []
        for tag, what, ref_tag in variants:
            rel, doc, config = _config(root, tag)
            ref_rel, _, ref = _config(root, ref_tag)
            d = paired(config, ref)
            rows.append(
                [
                    doc.get("date", "")[:10],
                    COHORTS.get(doc["cohort"], doc["cohort"]),
                    what,
                    f"{mean_sd(config['rows'][FUSION]['f1_macro'])} (n = {config['repeats']})",
                    f"`{Path(ref_rel).name}`" + ("" if "#" not in ref_tag else " (before)"),
                    "unpaired: the splits differ" if d is None else diff_summary(d[0]),
                    f"`{Path(rel).name}`",
                    machine(doc).replace("cpu (", "").rstrip(")"),
                ]
            )
        head = [
            "date",
            "cohort",
            "what it tried",
            "fusion macro-F1",
            "compared with",
            "Δ tried − compared, paired (tried better)",
            "file",
            "machine",
        ]
        parts.append(f"**{group}**\n\n" + table(head, rows))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------
# Speed and scale benchmarks


def catalogue_intervals(root: Path) -> str:
    """Test macro-F1 with bootstrap intervals on the simulated and the real TCGA exome catalogues."""
    rows, files = [], []
    for name in ("intervals-somatic-variants-sim.json", "intervals-tcga-wes-catalogues.json"):
        rel, doc = bench(root, name)
        files.append((rel, doc))
        test = doc["test"]
        for key in (FUSION, *BASELINES):
            diff = test.get(f"fusion_minus_{key}")
            rows.append(
                [
                    doc["cohort"],
                    f"{doc['n_train']} / {doc['n_test']} / {doc['n_classes']}",
                    model_name(key),
                    f"{num(test[key]['f1_macro'])} {interval(test[key]['ci95'])}",
                    num(test[key]["accuracy"], 2),
                    "" if diff is None else diff_cell(diff),
                ]
            )
    head = [
        "cohort",
        "train / test / classes",
        "model",
        "test macro-F1 [95% CI]",
        "accuracy",
        "fusion − model [95% CI]",
    ]
    return "\n\n".join([table(head, rows), source(*files)])


def train_speed(root: Path) -> str:
    """Training time of the transformer alone, the default model and the 5-member ensemble."""
    rel, doc = bench(root, "train_speed-cpu-2cores.json")
    v, r = doc["variants"], doc["ratios"]
    labels = {
        "single_transformer": ("transformer alone, one model", "1"),
        "single": (
            "default model (additive wide path), one model",
            f"{r['single_over_single_transformer']:.2f} × the transformer alone",
        ),
        "ensemble_sequential": (
            "5-member ensemble, members in turn",
            f"{r['ensemble_sequential_over_single']:.2f} × one model",
        ),
        "ensemble_parallel": (
            "5-member ensemble, worker processes",
            f"{r['ensemble_parallel_over_single']:.2f} × one model; "
            f"{r['parallel_speed_up']:.2f}× faster than in turn",
        ),
    }
    rows = [
        [labels[k][0], num(v[k]["wall_seconds"], 1), labels[k][1], num(v[k]["val_f1_macro"])]
        for k in labels
        if k in v
    ]
    note = (
        f"{doc['epochs']} epochs per member, no early stopping, {doc['train_samples']} training samples; "
        f"peak RSS {doc['peak_rss_gb']} GB."
    )
    return "\n\n".join(
        [table(["variant", "wall s", "ratio", "val macro-F1"], rows), note, source((rel, doc))]
    )


def fit_tables(root: Path) -> str:
    """`oncofusion fit` on a 500-sample, 3 × 1000-feature table cohort, through the real CLI."""
    rel, doc = bench(root, "fit_tables-cpu-2cores.json")
    steps = doc["step_seconds"]
    row = [f"{doc['wall_seconds']:.1f}"] + [
        f"{steps[k]:.1f}" for k in ("cohort", "validate", "split", "train", "evaluate")
    ]
    row.append(f"{doc['peak_rss_gb']:.2f}")
    models = ", ".join(f"{model_name(k)} {num(v)}" for k, v in doc["models_test_f1_macro"].items())
    note = f"Test macro-F1 in that run: {models} (ablations {'on' if doc['ablations'] else 'off'})."
    return "\n\n".join(
        [
            table(["wall s", "cohort", "validate", "split", "train", "evaluate", "peak RSS GB"], [row]),
            note,
            source((rel, doc)),
        ]
    )


def serve_load(root: Path) -> str:
    """Single-sample requests against the bento and against `mlflow models serve`."""
    parts = []
    for name in ("serve_load-cpu-2cores.json", "serve_load-10000-c32-cpu-2cores.json"):
        rel, doc = bench(root, name)
        rows = []
        for server, entry in doc["servers"].items():
            for level in entry["levels"]:
                rows.append(
                    [
                        "bentoml serve" if server == "bentoml" else "mlflow models serve",
                        thousands(level["requests"]),
                        level["concurrency"],
                        num(level["p50_ms"], 1),
                        num(level["p99_ms"], 1),
                        num(level["throughput_rps"], 1),
                        level["errors"],
                        num(level["mean_batch_size"], 1) if "mean_batch_size" in level else "",
                        f"{entry['rss_mb_before']:.0f} → {entry['rss_mb_after']:.0f}",
                    ]
                )
        head = [
            "server",
            "requests",
            "concurrency",
            "p50 ms",
            "p99 ms",
            "requests/s",
            "errors",
            "samples per model call",
            "RSS MB",
        ]
        extra = doc.get("model", {}).get("note")
        parts.append(
            table(head, rows) + ("" if not extra else f"\n\nModel: {extra}.") + "\n\n" + source((rel, doc))
        )
    return "\n\n".join(parts)


def variants_speed(root: Path) -> str:
    """Window reads, catalogue building and MAF parsing for the somatic-variant cohort."""
    rel, doc = bench(root, "variants_speed-cpu-2cores.json")
    w, c, m = doc["windows"], doc["catalogues"], doc["maf_parse"]
    stored = w["materialised_parquet"]
    rows = [
        [
            f"{w['flank'] * 2 + 1:,} bp tumour/normal window pairs, on demand from the in-memory reference",
            f"{thousands(w['memory_windows_per_s_per_core'])} per second per core",
        ],
        [
            "the same from an indexed bgzip FASTA",
            f"{thousands(w['indexed_bgzip_fasta_windows_per_s_per_core'])} per second per core",
        ],
        [
            "materialised windows read back from Parquet",
            f"{thousands(stored['read_windows_per_s'])} per second "
            f"({thousands(stored['bytes_per_window_on_disk'])} bytes a window on disk)",
        ],
        [
            f"all catalogues for {thousands(c['variants'])} variants, streamed",
            f"{c['seconds']:.1f} s; peak RSS {thousands(c['peak_rss_mb'])} MB "
            f"(reference alone {thousands(c['reference_rss_mb'])} MB)",
        ],
        [f"parse a {thousands(m['lines'])}-line MAF ({m['file_mb']} MB)", f"{m['seconds']:.2f} s"],
    ]
    return "\n\n".join([table(["operation", "speed"], rows), source((rel, doc))])


def table_ingest(root: Path) -> str:
    """Reading wide tables: the real TCGA catalogues and a generated 20,000 × 10,000 TSV."""
    rel, doc = bench(root, "table_ingest-cpu-2cores.json")
    t, g = doc["tcga_wes_catalogues"], doc["generated"]
    rows = [
        [
            "TCGA exome catalogues (3 tables, 9,493 tumours), fast path",
            f"{t['read_matrix']['total_seconds']:.2f} s",
        ],
        [
            "the same, the old per-column path",
            f"{t['old_per_column']['total_seconds']:.1f} s (same matrices: {t['same_matrices_as_old']})",
        ],
        ["the tables cohort built from them", f"{t['tables_cohort_seconds']:.2f} s"],
        [
            f"generated {thousands(g['genes'])} genes × {thousands(g['samples'])} samples TSV "
            f"({g['file_gb']:.1f} GB)",
            f"{g['read_seconds']:.1f} s, peak RSS {g['read_peak_rss_gb']:.1f} GB",
        ],
    ]
    return "\n\n".join([table(["read", "time"], rows), source((rel, doc))])


def dna_lm_speed(root: Path) -> str:
    """The fine-tuning step (masked LM + contrastive) against a plain EsmForMaskedLM step."""
    rel, doc = bench(root, "dna_lm_speed-cpu-2threads.json")
    rows = []
    for key, label in (
        ("dual_mlm_contrastive", "MLM + contrastive (the LM head on masked positions only)"),
        ("plain_esm_mlm", "plain `EsmForMaskedLM`, MLM only"),
    ):
        e = doc[key]
        rows.append([label, thousands(e["tokens_per_second"]), f"{e['peak_rss_mb']:.0f}"])
    per_round = ", ".join(f"{x:.2f}" for x in doc["speedup_per_round"])
    note = (
        f"Preset `{doc['preset']}` ({thousands(doc['parameters'])} parameters), "
        f"{doc['tokens_per_step']:,} tokens a step, "
        f"{doc['rounds']} rounds alternating: {doc['speedup_tokens_per_second']:.2f}× "
        f"(per round {per_round}; target ≥ {doc['target_speedup']}×). "
        f"Embedding: {doc['embed']['variants_per_second']:.0f} variants/s "
        f"({doc['embed']['windows_per_second']:.0f} windows/s). "
        f"GPU run: {doc.get('gpu_run', 'see the file')}."
    )
    return "\n\n".join([table(["step", "tokens/s", "peak RSS MB"], rows), note, source((rel, doc))])


# ---------------------------------------------------------------------------------------------------
# Reference pages


def cli(root: Path) -> str:
    """Every `oncofusion` subcommand with its options, read from the command itself."""
    import typer  # the CLI's own library; imported only when this table is asked for

    from oncofusion.cli import app

    command = typer.main.get_command(app)
    parts = []
    for name, sub in command.commands.items():
        help_text = (sub.help or "").strip().split("\n\n")[0].replace("\n", " ")
        rows = []
        for param in sub.params:
            if param.name == "help":
                continue
            opts = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            default = param.default
            shown = "" if default is None or callable(default) else f"`{default}`"
            rows.append([opts, getattr(param, "help", None) or "", shown])
        body = f"### `oncofusion {name}`\n\n{help_text}"
        if rows:
            body += "\n\n" + table(["option", "what", "default"], rows)
        parts.append(body)
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------
# Dispatch


def ensemble_forward(root: Path) -> str:
    """The served ensemble's forward pass: members one by one against one vectorised pass."""
    rel, doc = bench(root, "ensemble_forward.json")
    rows = [
        [
            entry["batch"],
            num(entry["median_ms"]["loop"], 2),
            num(entry["median_ms"]["vectorised"], 2),
            f"{entry['speed_up_vectorised_over_loop']:.2f}×",
            f"{max(entry['max_abs_difference'].values()):.1e}",
        ]
        for entry in doc["results"]
    ]
    head = ["samples", "members one by one, ms", "one vectorised pass, ms", "speed-up", "largest difference"]
    return table(head, rows) + "\n\n" + source((rel, doc))


def variants_serving(root: Path) -> str:
    """`POST /classify_variants` under load, its phases, `oncofusion predict`, real MAFs served."""
    rel, doc = bench(root, "variants_serving.json")
    five, hundred = doc["upload_5k"], doc["upload_100k"]
    load_rows = []
    for label, levels in (
        ("torch default threads", five["levels"]),
        ("one torch thread", five["one_torch_thread"]["levels"]),
    ):
        for level in levels:
            load_rows.append(
                [
                    label,
                    level["concurrency"],
                    num(level["p50_ms"], 1),
                    num(level["p99_ms"], 1),
                    num(level["throughput_rps"], 1),
                ]
            )
    phases = ["parse", "gate", "catalogues", "signatures", "model", "total"]
    phase_rows = [
        [name, *(num(part["median_ms"][p], 1) for p in phases)]
        for name, part in (
            ("5,000 variants", five["in_process"]),
            ("5,000 variants, one thread", five["in_process_one_torch_thread"]),
            ("100,000 variants", hundred["in_process"]),
            ("100,000 variants, one thread", hundred["in_process_one_torch_thread"]),
        )
    ]
    predict = doc["predict"]
    predict_rows = [
        [what, num(entry["wall_s"], 1), f"{entry['peak_rss_mb']:.0f}"]
        for what, entry in (
            ("1,000 multi-omics samples", predict["omics"]),
            ("100 VCFs, default threads", predict["vcfs"]),
            ("100 VCFs, one thread", predict["vcfs_one_torch_thread"]),
            ("one VCF (start-up cost)", predict["one_vcf"]),
        )
    ]
    real = doc["real_mafs"]
    equality = real["equality"]
    lines = [
        table(["threads", "concurrency", "p50 ms", "p99 ms", "requests/s"], load_rows),
        "Time per phase in the server's code, medians in ms:",
        table(["upload", *phases], phase_rows),
        f"A 100,000-variant VCF over HTTP: {hundred['http_median_s']:.2f} s (median; target under "
        f"{hundred['target_s']:.0f} s).",
        table(["`oncofusion predict` on", "wall s", "peak RSS MB"], predict_rows),
        f"Real TCGA MAFs (LAML, BRCA) served against a FASTA made to match them: "
        f"{equality['samples_served']} tumours, served and predicted answers "
        f"{'identical' if equality['all_equal'] else 'different'} (largest probability difference "
        f"{equality['max_abs_probability_difference']:g}).",
        source((rel, doc)),
    ]
    return "\n\n".join(lines)


def _pattern_rows(patterns: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, row in sorted(patterns.items(), key=lambda kv: (kv[0].count("+"), kv[0])):
        now, before = row["now"], row["before"]
        rows.append(
            [
                key.replace("+", " + "),
                str(row["n"]),
                f"{num(before['coverage'])} → {num(now['coverage'])}",
                f"{num(before['mean_set_size'], 2)} → {num(now['mean_set_size'], 2)}",
                f"{before['empty_share']:.1%} → {now['empty_share']:.1%}",
                f"{before['called_in_set_share']:.1%} → {now['called_in_set_share']:.1%}",
            ]
        )
    return rows


PATTERN_HEADER = ["modalities present", "test samples", "coverage", "mean set size", "empty", "call in set"]


def set_patterns(root: Path) -> str:
    """The default cohort's prediction sets per pattern of present modalities, before → now."""
    rel = "reports/calibration.json"
    doc = load(root, rel)
    found = (doc.get("conformal") or {}).get("patterns")
    if not found:
        raise ResultsError(f"{rel}: no conformal.patterns (re-run evaluate)")
    return "\n\n".join(
        [
            f"Target coverage {num(found['coverage_target'], 2)}. Each pattern is simulated on the test "
            "samples that have its modalities (the others masked). Before: complete-sample thresholds and no "
            "called-class rule; now: the pattern's own thresholds, the call always in its set.",
            table(PATTERN_HEADER, _pattern_rows(found["patterns"])),
            "*Source: `reports/calibration.json` (the pipeline's evaluate stage; machine not recorded).*",
        ]
    )


def _coverage(entry: dict[str, Any]) -> str:
    return f"{num(entry['coverage'])} {interval(entry['ci95'])}"


def cross_study(root: Path) -> str:
    """In-study against cross-study on the shared exome pair, and the sets on both shifted cohorts."""
    parts, files = [], []
    for pair, title in (("tcga-other", "TCGA exomes → other studies' exomes"), ("cfdna", "cfDNA, liver")):
        rel, doc = bench(root, f"cross_study-{pair}.json")
        files.append((rel, doc))
        parts.append(
            f"**{title}** (sets scored on {doc['scored_on']}; target {num(doc['coverage_target'], 2)}, "
            f"{str(doc['threshold_mode']).replace('_', '-')} thresholds)"
        )
        cross = doc.get("cross_study")
        if cross:
            f1, acc = cross["f1_macro"], cross["accuracy"]
            rows = [
                [
                    model_name(name),
                    f"{num(f1['in_study'][name]['f1_macro'])} {interval(f1['in_study'][name]['ci95'])}",
                    f"{num(f1['cross_study'][name]['f1_macro'])} {interval(f1['cross_study'][name]['ci95'])}",
                    f"{num(acc[name]['in_study'])} → {num(acc[name]['cross_study'])}",
                    f"{num(acc[name]['gap'])} {interval(acc[name]['gap_ci95'])}",
                ]
                for name in (FUSION, *BASELINES)
            ]
            parts.append(
                table(["model", "macro-F1 in-study", "macro-F1 cross-study", "accuracy", "gap"], rows)
            )
            paired = {b: f1["cross_study"][f"{FUSION}_minus_{b}"] for b in BASELINES}
            diffs = [
                f"fusion − {model_name(b)} cross-study {signed(d['mean'])} {interval(d['ci95'], sign=True)}"
                for b, d in paired.items()
            ]
            parts.append(f"Paired: {'; '.join(diffs)}.")
        shift = (cross or {}).get("covariate_shift") or doc.get("covariate_shift") or {}
        aucs = ", ".join(
            f"{m} AUC {num(r['auc'])}" for m, r in (shift.get("modalities") or {}).items() if "auc" in r
        )
        parts.append(
            f"Inputs against the in-study held-out samples ({aucs or 'not tested'}): coverage guarantee "
            f"{shift.get('guarantee', 'not tested')}."
        )
        rows = [
            [
                name,
                _coverage(entry),
                num(entry["mean_set_size"], 2),
                f"{entry['empty_share']:.1%}",
                f"{entry['called_in_set_share']:.1%}",
                num(entry["accuracy"]),
                num(entry["f1_macro"]),
            ]
            for name, entry in doc["sets"].items()
        ]
        parts.append(
            table(
                [
                    "sets and calls",
                    "coverage (95% CI)",
                    "mean size",
                    "empty",
                    "call in set",
                    "accuracy",
                    "macro-F1",
                ],
                rows,
            )
        )
    parts.append(source(*files))
    return "\n\n".join(parts)


def transfer_features(root: Path) -> str:
    """Which catalogue features carry from TCGA's exomes to other studies' (one fast model, screened)."""
    rel, doc = bench(root, "transfer_features.json")
    results = doc["results"]
    names = [k for k in results if not k.startswith("default_minus_")]
    rows = []
    for name in names:
        diff = results.get(f"default_minus_{name}")
        rows.append(
            [
                name,
                f"{num(results[name]['f1_macro'])} {interval(results[name]['ci95'])}",
                num(results[name]["accuracy"]),
                "reference"
                if diff is None
                else f"{signed(-diff['mean'])} {interval([-diff['ci95'][1], -diff['ci95'][0]], sign=True)}",
            ]
        )
    return "\n\n".join(
        [
            f"{doc['model']}; trained on {doc['train']['n']} TCGA exomes of the "
            f"{doc['train']['types']} shared types, scored on {doc['test']['n']} exomes from other studies.",
            table(["features", "macro-F1 (95% CI)", "accuracy", "vs shares + log burden"], rows),
            source((rel, doc)),
        ]
    )


RENDERERS: dict[str, Callable[[Path], str]] = {
    "default_cohort": default_cohort,
    "calibration": calibration,
    "variants_calibration": variants_calibration,
    "interpretation": interpretation,
    "tune_summary": tune_summary,
    "variants_default": variants_default,
    "dna_finetune": dna_finetune,
    "dna_lm_real": dna_lm_real,
    "dna_contrastive": dna_contrastive,
    "dna_classify": dna_classify,
    "dna_embedding_gap": dna_embedding_gap,
    "dna_context": dna_context,
    "fusion_vs_baselines": fusion_vs_baselines,
    "repeated_synthetic": repeated_synthetic,
    "modalities_present": modalities_present,
    "decision": decision,
    "label_shift": label_shift,
    "set_patterns": set_patterns,
    "cross_study": cross_study,
    "transfer_features": transfer_features,
    "interaction_claims": interaction_claims,
    "not_adopted": not_adopted,
    "catalogue_intervals": catalogue_intervals,
    "train_speed": train_speed,
    "fit_tables": fit_tables,
    "serve_load": serve_load,
    "ensemble_forward": ensemble_forward,
    "variants_serving": variants_serving,
    "variants_speed": variants_speed,
    "table_ingest": table_ingest,
    "dna_lm_speed": dna_lm_speed,
    "cli": cli,
}
NAMES = tuple(RENDERERS)


def render(name: str, root: Path) -> str:
    """The Markdown that replaces ``<!-- results: NAME -->``."""
    try:
        renderer = RENDERERS[name]
    except KeyError:
        raise ResultsError(f"no results table named {name!r}; known: {', '.join(NAMES)}") from None
    return renderer(Path(root))


def include(rel: str, root: Path, markdown: bool = False) -> str:
    """A file of the repository, as Markdown or as a fenced code block."""
    path = Path(root) / rel
    try:
        text = path.read_text()
    except OSError as exc:
        raise ResultsError(f"{rel}: cannot include it: {exc}") from None
    if markdown:
        return text.rstrip("\n")
    language = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".py": "python", ".toml": "toml"}.get(
        path.suffix, "text"
    )
    return f"```{language}\n{text.rstrip()}\n```"


def replace_placeholders(markdown: str, root: Path) -> str:
    """Every placeholder outside fenced code blocks replaced by what it names."""
    out, fence = [], None
    for line in markdown.split("\n"):
        marker = FENCE.match(line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif marker.group(1) == fence:
                fence = None
        match = PLACEHOLDER.match(line) if fence is None else None
        if match is None:
            out.append(line)
            continue
        kind, arg = match.groups()
        if kind == "results":
            out.append(render(arg, root))
        else:
            out.append(include(arg, root, markdown=kind == "include-markdown"))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# The MkDocs hook (mkdocs.yml: hooks: [docs/hooks/results.py])


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    from mkdocs.exceptions import PluginError  # only when MkDocs runs the hook

    root = Path(config["config_file_path"]).resolve().parent
    try:
        return replace_placeholders(markdown, root)
    except ResultsError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from None
