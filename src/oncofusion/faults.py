"""Named points where a test can stop a real process, to check what a crash there leaves behind.

A test sets ``ONCOFUSION_PAUSE_AT=<point>`` and ``ONCOFUSION_PAUSE_FILE=<path>``; the process writes
the file when it reaches the point and then waits to be killed (SIGKILL). The pause is the only way
to kill a process at an exact instruction without racing it; unset, a point costs one dict lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "ONCOFUSION_PAUSE_AT"
PAUSE_FILE = "ONCOFUSION_PAUSE_FILE"


def point(name: str) -> None:
    if os.environ.get(PAUSE_AT) != name:
        return
    marker = os.environ.get(PAUSE_FILE)
    if marker:
        Path(marker).write_text(f"{os.getpid()}\n")
    while True:  # until the test kills this process
        time.sleep(0.1)
