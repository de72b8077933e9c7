"""`train --resume` after a SIGKILL: the same MLflow run, and the same model as an uninterrupted run.

Real processes: `python -m oncofusion.cli train` is started, killed with SIGKILL once a checkpoint
exists, and started again with `--resume`; a third, uninterrupted run with the same seed is the
reference. MLflow stores are SQLite files in the test's directory (the reference has its own, as it
trains alongside).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from oncofusion.training.resume import RUN_RECORD

from .conftest import prepare_split_cohort, small_training_params, train_command

pytestmark = pytest.mark.slow

TIMING = {"train_seconds"}  # wall-clock metrics differ between any two runs


prepare = prepare_split_cohort


def store(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path}/{name}-mlflow.db"


def start_training(
    tmp_path: Path, name: str, params_file: Path, splits: Path, *, resume: bool = False
) -> subprocess.Popen[str]:
    command = train_command(
        params_file,
        splits,
        tmp_path / name / "model",
        tmp_path / name / "work",
        *(["--resume"] if resume else []),
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": store(tmp_path, name), "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / f"{name}{'-resume' if resume else ''}.log").open("w")
    # Its own session, so the test can clean up any process it leaves behind.
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], log: Path) -> None:
    assert process.wait(timeout=300) == 0, log.read_text()[-4000:]


def kill_after_checkpoint(process: subprocess.Popen[str], checkpoint: Path, log: Path) -> int:
    """SIGKILL the trainer (only it, as an OOM killer would) once ``checkpoint`` exists; its epoch."""
    deadline = time.monotonic() + 240
    while not checkpoint.exists():
        assert process.poll() is None, f"training ended before a checkpoint:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL  # killed mid-training, not finished
    return int(torch.load(checkpoint, weights_only=False)["epoch"])


def _alive_in_group(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: without an init that reaps
    orphans (some containers), a dead worker stays a zombie and killpg(pgid, 0) still succeeds."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for_session_to_end(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive_in_group(pgid):
            return True
        time.sleep(0.1)
    return False


def curves(client: MlflowClient, run_id: str) -> dict[str, dict[int, set[float]]]:
    """Every metric of the run as {step: the values logged at that step}."""
    out: dict[str, dict[int, set[float]]] = {}
    for key in client.get_run(run_id).data.metrics:
        if key in TIMING:
            continue
        for entry in client.get_metric_history(run_id, key):
            out.setdefault(key, {}).setdefault(entry.step, set()).add(entry.value)
    return out


@pytest.mark.parametrize(
    ("ensemble", "checkpoint"),
    [
        ({"folds": 1}, "work/checkpoints/last.ckpt"),
        ({"folds": 2, "workers": 2}, "work/fold0/checkpoints/last.ckpt"),
    ],
    ids=["one-model", "ensemble-in-workers"],
)
def test_killed_training_resumes_in_its_run_and_ends_as_an_uninterrupted_one(
    tmp_path: Path, ensemble: dict[str, int], checkpoint: str
):
    max_epochs = 8
    raw = small_training_params(
        max_epochs=max_epochs, pretrain_epochs=1, early_stopping_patience=4, ensemble=ensemble
    )
    raw["model"]["dropout"] = 0.2  # randomness in every epoch, which a resume must reproduce
    params_file, splits = prepare(tmp_path, raw)

    # The uninterrupted reference trains alongside (the results do not depend on timing).
    reference = start_training(tmp_path, "reference", params_file, splits)
    cut = start_training(tmp_path, "cut", params_file, splits)
    epoch = kill_after_checkpoint(cut, tmp_path / "cut" / checkpoint, tmp_path / "cut.log")
    assert epoch < max_epochs - 2  # the resume has epochs left to train
    # The trainer's ensemble workers end themselves once it is gone (no orphan keeps training).
    assert wait_for_session_to_end(cut.pid, 15), "processes of the killed training are still running"
    assert not (tmp_path / "cut" / "model").exists()  # a killed training leaves no model behind
    started_run = json.loads((tmp_path / "cut" / "work" / RUN_RECORD).read_text())["run_id"]

    resumed = start_training(tmp_path, "cut", params_file, splits, resume=True)
    finish(resumed, tmp_path / "cut-resume.log")
    finish(reference, tmp_path / "reference.log")

    # One MLflow run for the model: the resume continued the run the killed training started.
    info = json.loads((tmp_path / "cut" / "model" / "train.json").read_text())
    expected = json.loads((tmp_path / "reference" / "model" / "train.json").read_text())
    assert info["run_id"] == started_run
    client = MlflowClient(store(tmp_path, "cut"))
    runs = client.search_runs([info["experiment_id"]])
    assert [r.info.run_id for r in runs] == [started_run]
    assert client.get_run(started_run).info.status == "FINISHED"

    # Its curves are continuous and equal the uninterrupted run's: the same metrics at the same steps,
    # one value per step (a re-trained epoch logs the value it logged before the kill).
    got = curves(client, started_run)
    want = curves(MlflowClient(store(tmp_path, "reference")), expected["run_id"])
    assert sorted(got) == sorted(want)
    for key, steps in want.items():
        assert got[key] == steps, key

    # The same model: bit-identical weights, the same stopping epochs and scores.
    weights = torch.load(tmp_path / "cut" / "model" / "model.pt", weights_only=False)["state_dict"]
    reference_weights = torch.load(tmp_path / "reference" / "model" / "model.pt", weights_only=False)[
        "state_dict"
    ]
    assert weights.keys() == reference_weights.keys()
    for key, value in reference_weights.items():
        assert torch.equal(weights[key], value), key
    assert info["members"] == expected["members"]
    assert info["best_val_f1_macro"] == expected["best_val_f1_macro"]
    assert info["calibration"] == expected["calibration"]
