"""Train ensemble members in a worker process:
``python -m oncofusion.training.member_worker JOB OUT [JOB OUT …]``.

Each JOB is a ``torch.save``-d :class:`~oncofusion.training.train.MemberJob`; its
:class:`~oncofusion.training.train.MemberResult` (state dict, history, epochs) is written to the OUT
beside it, whole or not at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from oncofusion import atomic
from oncofusion.training.train import train_member


def main(arguments: list[str]) -> None:
    for job_file, out_file in zip(arguments[::2], arguments[1::2], strict=True):
        job = torch.load(job_file, weights_only=False)
        result = train_member(job)
        result.module = None  # the state dict travels back; the LightningModule need not
        with atomic.atomic_path(Path(out_file)) as tmp:
            torch.save(result, tmp)


if __name__ == "__main__":
    main(sys.argv[1:])
