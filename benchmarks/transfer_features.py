"""Which catalogue features transfer from TCGA's exomes to other studies' exomes? A screen with one fast
model (balanced logistic regression), trained on TCGA's 24 types that the other studies share (SBS96
and DBS78, the modalities both have) and scored on the other studies' 5,879 exomes.

    .venv/bin/python benchmarks/transfer_features.py

Feature sets: the shares alone; the shares and the log burden (what `transform: proportion` gives the
model); the log burden centred per study (each study's median subtracted: a transductive burden
normalisation that needs the target batch); COSMIC v3 signature exposures (NNLS, as shares) alone and
beside the shares. Macro-F1 and accuracy with 95% bootstrap intervals, and each set's paired difference
against the shares + burden default. Writes benchmarks/results/transfer_features.json.
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from oncofusion.data.variants.signatures import cosmic, fit_exposures
from oncofusion.evaluation.intervals import bootstrap_f1
from results_io import RESULTS, cpu_name, write_report

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KINDS = ("sbs96", "dbs78")
DEFAULT = "shares + log burden"


def _load(directory: Path) -> tuple[pd.Series, dict[str, pd.DataFrame]]:
    labels = pd.read_csv(directory / "labels.tsv", sep="\t").set_index("sample_id")["label"]
    blocks = {
        kind: pd.read_csv(directory / f"{kind}.tsv", sep="\t", index_col=0)
        .T.reindex(labels.index)
        .fillna(0.0)
        for kind in KINDS
    }
    return labels, blocks


def _shares(blocks: dict[str, pd.DataFrame]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    shares, burdens = [], []
    for frame in blocks.values():
        total = frame.sum(axis=1).to_numpy()
        shares.append(frame.to_numpy() / np.where(total > 0, total, 1.0)[:, None])
        burdens.append(np.log1p(total)[:, None])
    return shares, burdens


def _exposures(blocks: dict[str, pd.DataFrame]) -> np.ndarray:
    out = []
    for kind, frame in blocks.items():
        signatures = cosmic(kind)
        fitted = np.array([fit_exposures(row, signatures)[0] for row in frame.to_numpy(dtype=float)])
        total = fitted.sum(axis=1, keepdims=True)
        out.append(fitted / np.where(total > 0, total, 1.0))
    return np.hstack(out)


def feature_sets(blocks: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    shares, burdens = _shares(blocks)
    centred = [b - np.median(b) for b in burdens]
    exposures = _exposures(blocks)
    return {
        "shares only": np.hstack(shares),
        DEFAULT: np.hstack(shares + burdens),
        "shares + log burden centred per study": np.hstack(shares + centred),
        "signature exposures only": exposures,
        "shares + signature exposures": np.hstack([*shares, exposures]),
    }


def main() -> None:
    if not (SHARED / "tcga-wes-catalogues").is_dir() or not (SHARED / "other-wes-catalogues").is_dir():
        print("../shared/data catalogues absent: skipped")
        return
    warnings.filterwarnings("ignore")
    y_train, train_blocks = _load(SHARED / "tcga-wes-catalogues")
    y_test, test_blocks = _load(SHARED / "other-wes-catalogues")
    shared = sorted(set(y_test))
    keep = y_train.isin(shared).to_numpy()
    train_blocks = {k: v[keep] for k, v in train_blocks.items()}
    y_train = y_train[keep]
    train_sets, test_sets = feature_sets(train_blocks), feature_sets(test_blocks)
    index = {c: i for i, c in enumerate(shared)}
    y = y_test.map(index).to_numpy()
    called = {}
    for name in train_sets:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced", random_state=0),
        )
        model.fit(train_sets[name], y_train)
        called[name] = pd.Series(model.predict(test_sets[name])).map(index).to_numpy()
    intervals = bootstrap_f1(y, called, 1000, 42, reference=DEFAULT, prefix="default")
    report = {
        "benchmark": "transfer_features",
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "device": "cpu"},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "train": {"cohort": "tcga-wes-catalogues", "n": int(keep.sum()), "types": len(shared)},
        "test": {"cohort": "other-wes-catalogues", "n": len(y)},
        "model": "balanced logistic regression (C 0.1) on standardised features",
        "reference": DEFAULT,
        "results": intervals,
    }
    write_report(report, RESULTS / "transfer_features.json")


if __name__ == "__main__":
    main()
