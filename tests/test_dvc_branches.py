"""The two branches of dvc.yaml are independent: editing a module only one branch runs leaves every stage
of the other branch up to date in `dvc status`.

Before the restructure, the config package imported the simulator's cancer-type presets and every stage
listed the CLI dispatcher, so editing a simulated tumour re-ran the multi-omics tune, train and evaluate.
Running the whole pipeline to check this would take minutes; instead the test records the current state
of every stage with `dvc commit` over placeholder outputs (real DVC, real hashes of the real sources),
edits one module, and asks `dvc status` which stages changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

COPIED = ["dvc.yaml", "params.yaml", "params-variants.yaml", "params-context.yaml", ".dvcignore",
          "bentofile.yaml", "bentofile-variants.yaml", "serving", "src"]  # fmt: skip
OMICS_STAGES = {"cohort", "validate@omics", "split@omics", "tune@omics", "train@omics", "evaluate@omics",
                "register@omics", "bento"}  # fmt: skip
VARIANT_STAGES = {"variants_simulate", "variants_cohort", "validate@variants", "split@variants",
                  "tune@variants", "train@variants", "evaluate@variants", "register@variants",
                  "variants_bento", "dna_finetune", "dna_embed", "dna_classify", "context_simulate",
                  "context_cohort", "dna_context"}  # fmt: skip


def _run(project: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _placeholder(path: Path) -> None:
    """A file for a path that looks like one (has a suffix), else a directory holding one file."""
    if path.exists():
        return
    if path.suffix:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    else:
        path.mkdir(parents=True)
        (path / "placeholder.txt").write_text("x\n")


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """A copy of the project whose dvc.lock records every stage as up to date."""
    project = tmp_path_factory.mktemp("branches")
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(source, project / name)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    _run(project, "init", "-q")
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        stages = list(repo.index.stages)
        for stage in stages:
            for dep in stage.deps:
                _placeholder(Path(dep.fs_path))
        for stage in stages:
            for out in stage.outs:
                _placeholder(Path(out.fs_path))
    _run(project, "commit", "-f", "-q")
    assert "up to date" in _run(project, "status")
    return project


def _changed_after_editing(project: Path, module: str) -> set[str]:
    path = project / "src" / "oncofusion" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        status = json.loads(_run(project, "status", "--json") or "{}")
    finally:
        path.write_text(original)
    return set(status)


@pytest.mark.parametrize(
    "module",
    [
        "data/synthetic/variants/simulator.py",  # the somatic-variant simulator
        "data/synthetic/variants/cancer_types.py",  # its presets (config used to import them)
        "dna/model.py",
        "stages/dna_finetune.py",
        "stages/variants_simulate.py",
        "serving/variants_app.py",  # the variant bento's endpoint
        "prediction/variants.py",
        "prediction/featurise.py",
    ],
)
def test_editing_a_variant_only_module_re_runs_no_multi_omics_stage(committed: Path, module: str):
    changed = _changed_after_editing(committed, module)
    assert changed, f"editing {module} re-ran nothing: the test no longer sees edits"
    assert not changed & OMICS_STAGES, f"editing {module} re-runs multi-omics stages {changed & OMICS_STAGES}"


@pytest.mark.parametrize("module", ["serving/schema.py"])
def test_editing_a_multi_omics_only_module_re_runs_no_variant_stage(committed: Path, module: str):
    changed = _changed_after_editing(committed, module)
    assert changed, f"editing {module} re-ran nothing: the test no longer sees edits"
    assert not changed & VARIANT_STAGES, f"editing {module} re-runs variant stages {changed & VARIANT_STAGES}"


def test_shared_code_re_runs_both_branches(committed: Path):
    """The guard can fail: the training and serving code is shared, so both branches' stages re-run."""
    changed = _changed_after_editing(committed, "training/train.py")
    assert {"train@omics", "train@variants"} <= changed
    changed = _changed_after_editing(committed, "serving/auth.py")
    assert {"bento", "variants_bento"} <= changed


def test_the_cli_is_no_stage_dependency(committed: Path):
    """Rewording a message in the argument parser re-runs nothing."""
    assert _changed_after_editing(committed, "cli.py") == set()
