"""`dvc metrics show` stays readable: the declared metrics files hold a few headline numbers, so the
table fits a terminal.

Per-class detail made one column per class and statistic (over a hundred on a 16-class cohort), and
declaring every stage's summary made one table of 73 columns; the detail now sits in plain JSON beside
the metrics files, which these tests also check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from oncofusion.data.split import class_counts, split_summary
from oncofusion.stages.dna_classify import summary

ROOT = Path(__file__).resolve().parents[1]
MAX_COLUMNS = 6  # across every declared metrics file: `dvc metrics show` makes one table of them


def _columns(document: Any, prefix: str = "") -> list[str]:
    """The columns `dvc metrics show` makes: one per scalar leaf (lists are not shown)."""
    if isinstance(document, dict):
        return [c for k, v in document.items() for c in _columns(v, f"{prefix}{k}.")]
    return [] if isinstance(document, list) else [prefix[:-1]]


def _declared_metrics() -> list[str]:
    """Every metrics path, foreach stages expanded over their items (as DVC names them)."""
    document = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    branches = document["vars"][0]["branches"]
    paths = []
    for stage in document["stages"].values():
        body = stage.get("do", stage)
        items = branches.values() if "foreach" in stage else [{}]
        for item in items:
            for m in body.get("metrics", []):
                path = next(iter(m)) if isinstance(m, dict) else m
                for key, value in item.items():
                    path = path.replace(f"${{item.{key}}}", value)
                paths.append(path)
    return paths


def test_the_metrics_table_fits_a_terminal():
    from oncofusion.stages.evaluate import headline

    paths = _declared_metrics()
    assert {"reports/headline.json", "reports/variants/headline.json"} <= set(paths)
    document = (
        json.loads((ROOT / "reports" / "metrics.json").read_text())
        if (ROOT / "reports" / "metrics.json").is_file()
        else pytest.skip("reports/metrics.json is written by `dvc repro`")
    )
    columns = set(_columns(headline(document)))
    assert len(columns) <= MAX_COLUMNS, f"`dvc metrics show` would print {len(columns)} columns"
    assert len(paths) == 2, f"only the headline files are DVC metrics, not {paths}"


@pytest.mark.parametrize("path", _declared_metrics())
def test_committed_metrics_files_have_headline_numbers_only(path: str):
    file = ROOT / path
    if not file.exists():
        pytest.skip(f"{path} is written by `dvc repro`")
    columns = _columns(json.loads(file.read_text()))
    assert len(columns) <= MAX_COLUMNS, f"{path}: {len(columns)} columns in `dvc metrics show`"
    assert not [c for c in columns if "per_class" in c], f"{path}: per-class detail belongs beside it"


def test_split_metrics_and_their_per_class_detail():
    labels = pd.DataFrame({"sample_id": [f"s{i}" for i in range(40)], "label": list("AB") * 20})
    labels["split"] = ["train"] * 28 + ["val"] * 6 + ["test"] * 6
    metrics = split_summary(labels)
    assert set(metrics) == {"n_train", "n_val", "n_test", "min_class_count"}
    counts = class_counts(labels)
    assert {part: sum(c.values()) for part, c in counts.items()} == {"train": 28, "val": 6, "test": 6}


def test_dna_classify_metrics_keep_one_number_per_row():
    rows = {
        "a": {"f1_macro": 0.5, "accuracy": 0.6, "ci95": [0.4, 0.6]},
        "b": {"f1_macro": 0.7, "accuracy": 0.7},
    }
    document = {"n_test": 10, "best": "b", "rows": rows, "comparisons": {"x": {"mean": 0.1, "verdict": "y"}}}
    assert summary(document) == {"n_test": 10, "best": "b", "f1_macro": {"a": 0.5, "b": 0.7}}
