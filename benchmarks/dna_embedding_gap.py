"""Where the embedding set model's gap to MuAt's motif comes from, measured on the pipeline's own run.

Two measurements on the default variant cohort:

1. **Linear probes by variant type.** The SBS96 probe says the representation carries a substitution's
   trinucleotide class; does it carry what the other motifs say, a doublet's ``ref>alt`` and an
   indel's length? A logistic regression on ``[tumour, normal, tumour − normal]``, fitted on
   training-split variants and scored on held-out samples' variants, beside the majority class.
2. **MuAt with indel and doublet identity removed.** The MuAt motif model again, but every doublet,
   insertion and deletion reduced to its type (``DBS``, ``INS``, ``DEL``), as the probes find the
   embedding does: how much of MuAt's lead that identity is worth, over the same seeds as
   ``dna_classify_seeds.py``.

    .venv/bin/python benchmarks/dna_embedding_gap.py [--seeds 1 2 3 4 5]

Reads data/variants/splits and data/variants/dna_embeddings (run `make repro` first). Writes
benchmarks/results/dna_embedding_gap-cpu-<cores>cores.json.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from results_io import RESULTS, cpu_name, variant_seed_arguments, write_report

PROBE_VARIANTS = 12_000  # per type and split, a seeded draw: enough for 117 doublet classes


def wilson(successes: int, n: int) -> list[float]:
    """95% Wilson interval, as cross_study.py reports coverage."""
    from scipy.stats import binomtest

    interval = binomtest(successes, n).proportion_ci(0.95, method="wilson")
    return [round(float(interval.low), 4), round(float(interval.high), 4)]


def probes(table: pd.DataFrame, representation: np.ndarray, motif: np.ndarray, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    width = representation.shape[1] // 2
    rng = np.random.default_rng(seed)
    kinds = table["type"].astype(str).to_numpy()
    in_train = table["split"].astype(str).to_numpy() == "train"
    out = {}
    for kind, says in (("SNV", "SBS96 class"), ("DBS", "ref>alt"), ("INS", "length"), ("DEL", "length")):
        picked = []
        for rows in (np.flatnonzero((kinds == kind) & in_train), np.flatnonzero((kinds == kind) & ~in_train)):
            picked.append(np.sort(rng.choice(rows, size=min(len(rows), PROBE_VARIANTS), replace=False)))
        if min(len(p) for p in picked) < 50:
            continue

        def features(rows: np.ndarray) -> np.ndarray:
            x = np.asarray(representation[rows], dtype=np.float32)
            return np.hstack([x, x[:, :width] - x[:, width:]])

        (train_rows, test_rows) = picked
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
        probe.fit(features(train_rows), motif[train_rows])
        correct = int((probe.predict(features(test_rows)) == motif[test_rows]).sum())
        values, counts = np.unique(motif[train_rows], return_counts=True)
        majority = int((motif[test_rows] == values[counts.argmax()]).sum())
        out[kind] = {
            "probes": says,
            "classes": len(values),
            "n_train": len(train_rows),
            "n_test": len(test_rows),
            "accuracy": round(correct / len(test_rows), 4),
            "accuracy_ci95": wilson(correct, len(test_rows)),
            "majority_class": round(majority / len(test_rows), 4),
            "majority_ci95": wilson(majority, len(test_rows)),
        }
    return out


def main() -> None:
    args = variant_seed_arguments(__doc__).parse_args()
    from sklearn.metrics import f1_score

    from oncofusion.cohort import Cohort
    from oncofusion.config import load_params
    from oncofusion.dna.muat import motifs, vocabulary_ids
    from oncofusion.dna.representations import REPRESENTATION
    from oncofusion.dna.variant_sets import VariantSets, fit_set_model, predict_sets

    params = load_params(args.params)
    cohort = Cohort.load(Path("data/variants/splits"))
    embeddings = Path("data/variants/dna_embeddings")
    table = pd.read_parquet(embeddings / "variants.parquet")
    table["split"] = table["sample_id"].map(cohort.labels.set_index("sample_id")["split"])
    representation = np.load(embeddings / REPRESENTATION, mmap_mode="r")
    motif = motifs(table).astype(str)
    kinds = table["type"].astype(str).to_numpy()
    in_train = table["split"].to_numpy() == "train"
    owners = table["sample_id"].astype(str).to_numpy()
    inputs = {
        "MuAt: motif": motif,
        "MuAt: motif, doublets and indels as their type only": np.where(kinds == "SNV", motif, kinds),
    }
    index = {c: i for i, c in enumerate(cohort.classes)}

    def split(name: str) -> tuple[list[str], np.ndarray]:
        rows = cohort.labels[cohort.labels["split"] == name]
        return rows["sample_id"].astype(str).tolist(), rows["label"].map(index).to_numpy(dtype=np.int64)

    train, val, (test_samples, test_y) = split("train"), split("val"), split("test")
    rows: dict[str, list[float]] = {}
    for name, tokens in inputs.items():
        sets = VariantSets.of(owners, None, {"motif": vocabulary_ids(tokens, in_train)})
        rows[name] = []
        for seed in args.seeds:
            model, _ = fit_set_model(
                sets, train, val, len(cohort.classes), params.dna.classify.set_model, seed
            )
            predicted = predict_sets(model, sets, test_samples).argmax(1)
            rows[name].append(round(float(f1_score(test_y, predicted, average="macro")), 4))
            print(name, seed, rows[name][-1], flush=True)
    full, reduced = rows.values()
    report = {
        "benchmark": "dna_embedding_gap",
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "seeds": args.seeds,
        "n_test": len(test_samples),
        "probes_by_type": probes(table, representation, motif, args.seeds[0]),
        "rows": {
            name: {"f1_macro_by_seed": values, "mean": round(statistics.mean(values), 4)}
            for name, values in rows.items()
        },
        "identity_worth_by_seed": [round(a - b, 4) for a, b in zip(full, reduced, strict=True)],
    }
    write_report(report, RESULTS / f"dna_embedding_gap-cpu-{os.cpu_count()}cores.json")


if __name__ == "__main__":
    main()
