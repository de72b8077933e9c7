"""What `make repro` does on a fresh clone: every stage whose results live outside git and DVC runs.

The tune stage once had all its outputs committed to git, so on a fresh clone DVC found it up to date and
skipped it: no Optuna study, no tuning runs in MLflow, nothing for `make dashboard`. These tests copy
the files git tracks into a new repository (what a clone holds, with no DVC cache) and ask DVC itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import oncofusion.stages.tune  # noqa: F401
from oncofusion import stages
from oncofusion.config import parse_params

ROOT = Path(__file__).resolve().parents[1]
# Stages whose results are stored outside git and DVC (Optuna storage, the MLflow store): a fresh clone
# must re-run them, so DVC has to see one of their outputs missing, not only a dependency to rebuild.
LOCAL_STATE_STAGES = {
    f"{stage}@{branch}": what
    for stage, what in (("tune", "Optuna study and MLflow tuning runs"), ("train", "MLflow training run"))
    for branch in ("omics", "variants")
}


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = tmp_path_factory.mktemp("clone")
    for name in _tracked_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=clone, check=True)
    subprocess.run([*git, "add", "-A"], cwd=clone, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "clone"], cwd=clone, check=True)
    return clone


def _dvc_status(project: Path) -> dict:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    dvc = shutil.which("dvc") or str(Path(os.sys.executable).parent / "dvc")
    done = subprocess.run(
        [dvc, "status", "--json"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


@pytest.mark.slow
def test_a_fresh_clone_reruns_every_stage_that_keeps_local_state(fresh_clone: Path):
    status = _dvc_status(fresh_clone)
    for stage, what in LOCAL_STATE_STAGES.items():
        changes = status.get(stage, [])
        changed_outs = [c for c in changes if isinstance(c, dict) and "changed outs" in c]
        assert changed_outs, (
            f"on a fresh clone DVC would skip '{stage}' once its inputs are rebuilt, so its {what} "
            f"would never be created: give it an output cached by DVC rather than committed to git "
            f"(dvc status: {changes})"
        )


def test_the_study_name_changes_with_the_code(tmp_path: Path):
    params = parse_params({})
    package = tmp_path / "package"
    shutil.copytree(Path(stages.__file__).parents[1], package, ignore=shutil.ignore_patterns("__pycache__"))
    before = stages.tune.code_fingerprint(package)
    assert stages.tune.code_fingerprint(package) == before  # stable
    with (package / "training" / "train.py").open("a") as handle:
        handle.write("\n# an edit\n")
    after = stages.tune.code_fingerprint(package)
    assert after != before
    named = {stages.tune.default_study_name(params, "data", code) for code in (before, after)}
    assert len(named) == 2
    assert stages.tune.default_study_name(params, "data", before) == stages.tune.default_study_name(
        params, "data", before
    )
    assert stages.tune.default_study_name(params, "other data", before) not in named
