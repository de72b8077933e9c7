"""Progress of long work (tuning trials, training epochs, catalogue building) on a terminal, and none
in logs and CI, where redrawn bars become thousands of lines.

Bars are drawn only when stderr is a terminal and ``CI`` is unset. ``ONCOFUSION_PROGRESS=0`` turns them
off anywhere; ``ONCOFUSION_PROGRESS=1`` turns them on anywhere (to record a session, and for tests).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

SETTING = "ONCOFUSION_PROGRESS"
T = TypeVar("T")


def enabled() -> bool:
    forced = os.environ.get(SETTING, "").strip().lower()
    if forced in ("0", "false", "off", "no"):
        return False
    if forced in ("1", "true", "on", "yes"):
        return True
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    return sys.stderr.isatty()


def console_settings() -> dict[str, Any]:
    """Rich console arguments: stderr (stdout carries results), a terminal when progress is forced."""
    return {"file": sys.stderr, "force_terminal": True if os.environ.get(SETTING) else None}


@contextlib.contextmanager
def task(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(steps=1, note=None)``: a no-op when progress is off, else one rich bar on stderr
    that disappears when the work ends (the stage's own summary line is what stays)."""
    if not enabled():
        yield lambda steps=1, note=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(**console_settings())
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        handle = progress.add_task(description, total=total, note="")

        def advance(steps: int = 1, note: str | None = None) -> None:
            progress.update(handle, advance=steps, **({"note": note} if note is not None else {}))

        yield advance


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items``, advancing one bar per item when progress is on."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with task(description, total) as advance:
        for item in items:
            yield item
            advance()
