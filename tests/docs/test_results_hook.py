"""The results page's tables come from the JSON files, not from typed numbers: change a number in a
copy of a result file and the rendered table changes with it; a missing file stops the build."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from ..conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "docs_results_hook", REPO_ROOT / "docs" / "hooks" / "results.py"
)
results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results)  # type: ignore[union-attr]


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    target = tmp_path / "benchmarks" / "results"
    target.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "benchmarks" / "results" / "train_speed-cpu-2cores.json", target)
    return tmp_path


def test_a_table_follows_its_json(copied: Path):
    path = copied / "benchmarks" / "results" / "train_speed-cpu-2cores.json"
    before = results.render("train_speed", copied)
    document = json.loads(path.read_text())
    document["variants"]["single"]["wall_seconds"] = 12345.6
    path.write_text(json.dumps(document))
    after = results.render("train_speed", copied)
    assert "12345.6" in after and "12345.6" not in before
    assert "benchmarks/results/train_speed-cpu-2cores.json" in after  # the table names its source


def test_a_missing_result_file_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(results.ResultsError, match=r"train_speed-cpu-2cores\.json: not found"):
        results.render("train_speed", tmp_path)
    with pytest.raises(results.ResultsError, match="no results table named 'nope'"):
        results.render("nope", tmp_path)


def test_placeholders_are_replaced_outside_code_blocks_only(copied: Path):
    page = "<!-- results: train_speed -->\n```\n<!-- results: train_speed -->\n```"
    rendered = results.replace_placeholders(page, copied)
    assert rendered.count("<!-- results: train_speed -->") == 1  # the one inside the fence stays
    assert "| variant |" in rendered.split("```")[0]
