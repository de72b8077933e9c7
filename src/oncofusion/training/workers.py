"""The pool that trains an ensemble's members in separate worker processes, when the CPU has cores to
spare for more than one member at a time (a GPU trains members one after another in the calling process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from oncofusion import progress
from oncofusion.config import Params
from oncofusion.training.ddp import TrainingFailed
from oncofusion.training.member import MemberJob, MemberResult

TRAINER_PID = "ONCOFUSION_TRAINER_PID"  # a worker exits when this process is no longer its parent


def worker_count(params: Params, n_jobs: int) -> int:
    if n_jobs < 2 or (params.train.accelerator != "cpu" and torch.cuda.is_available()):
        return 1  # one GPU trains members one after another
    wanted = params.train.ensemble.workers or (os.cpu_count() or 1)
    return max(1, min(wanted, n_jobs, os.cpu_count() or 1))


def train_in_workers(jobs: list[MemberJob], workers: int) -> list[MemberResult]:
    """Members in ``workers`` separate Python processes, each taking every ``workers``-th member.

    Each worker is ``python -m oncofusion.training.member_worker JOB OUT [JOB OUT …]``: a fresh
    interpreter (nothing depends on the caller's ``__main__``, which multiprocessing's spawn re-imports,
    nor on forking a process that holds torch's thread pools), started once for all its members so the
    few seconds of importing torch and Lightning are paid once per worker.
    """
    threads = max(1, torch.get_num_threads() // workers)
    with tempfile.TemporaryDirectory(prefix="oncofusion-members-") as scratch:
        processes = []
        for w in range(workers):
            command = [sys.executable, "-m", "oncofusion.training.member_worker"]
            for job in jobs[w::workers]:
                job.threads = threads
                job_file = Path(scratch) / f"job{job.index}.pt"
                torch.save(job, job_file)
                command += [str(job_file), str(Path(scratch) / f"out{job.index}.pt")]
            log_file = Path(scratch) / f"worker{w}.log"
            with log_file.open("w") as log:
                env = {**os.environ, TRAINER_PID: str(os.getpid())}
                worker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                processes.append((worker, log_file))
        try:
            _wait_for_workers(processes)
        finally:
            for process, _ in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        results = []
        for job in jobs:
            out = Path(scratch) / f"out{job.index}.pt"
            if not out.exists():
                raise TrainingFailed(f"ensemble member {job.index} wrote no result")
            results.append(torch.load(out, weights_only=False))
    return results


def _wait_for_workers(processes: list[tuple[subprocess.Popen, Path]]) -> None:
    """Until all workers end; the first that fails stops the wait at once (the caller kills the rest)."""
    running = list(processes)
    with progress.task("ensemble members", len(processes)) as advance:
        while running:
            for process, log_file in list(running):
                code = process.poll()
                if code is None:
                    continue
                running.remove((process, log_file))
                if code != 0:
                    tail = log_file.read_text()[-3000:]
                    raise TrainingFailed(
                        f"an ensemble worker failed (exit {code}); the end of its log:\n{tail}"
                    )
                advance()
            time.sleep(0.2)
