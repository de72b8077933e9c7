"""Train ensemble members in a worker process:
``python -m oncofusion.training.member_worker JOB OUT [JOB OUT …]``.

Each JOB is a ``torch.save``-d :class:`~oncofusion.training.member.MemberJob`; its
:class:`~oncofusion.training.member.MemberResult` (state dict, history, epochs) is written to the OUT
beside it, whole or not at all.

A worker ends itself when the process that started it dies (a SIGKILL gives that process no chance to
stop its workers): an orphan would keep writing its member's checkpoints while ``train --resume``
trains the same member.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import torch

from oncofusion import atomic
from oncofusion.training.member import train_member


def _exit_with_parent(interval: float = 0.5) -> None:
    # The trainer's PID, passed in: a worker whose trainer died before this line already has another
    # parent, and comparing with getppid() here would watch that one instead.
    parent = int(os.environ.get("ONCOFUSION_TRAINER_PID", os.getppid()))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)  # the trainer is gone: nothing will read this worker's result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(arguments: list[str]) -> None:
    _exit_with_parent()
    for job_file, out_file in zip(arguments[::2], arguments[1::2], strict=True):
        job = torch.load(job_file, weights_only=False)
        result = train_member(job)
        result.module = None  # the state dict travels back; the LightningModule need not
        with atomic.atomic_path(Path(out_file)) as tmp:
            torch.save(result, tmp)


if __name__ == "__main__":
    main(sys.argv[1:])
