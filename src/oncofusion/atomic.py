"""Atomic writes: a stage that dies halfway must leave the previous output, or nothing, never half a file.

Files are written next to their target and renamed into place (``os.replace`` is atomic on POSIX within a
file system). Directories are built in a sibling temp directory and swapped in at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oncofusion.errors import OutputError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def require_writable(*targets: str | Path) -> None:
    """Fail before any work when an output cannot be written where it goes, so a long stage does not
    train for an hour and then die on its last line. Probes with a temp file beside each target."""
    for target in map(Path, targets):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as error:
            raise _unwritable(target, error) from None


def _unwritable(target: Path, error: OSError) -> OutputError:
    reason = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(target.parent) else ""
    return OutputError(f"{target}: cannot write this output: {reason}{where}; choose a writable path")


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path in the target's directory; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise _unwritable(target, error) from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should get the usual permissions
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as error:  # e.g. a directory where the file must go
            raise _unwritable(target, error) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        try:
            tmp.write_text(text)
        except OSError as error:  # a full disk
            raise _unwritable(Path(target), error) from None


def write_json(target: str | Path, payload: Any) -> None:
    write_text(target, json.dumps(payload, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty sibling directory; on success it replaces ``target`` (old contents removed)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as error:
        raise _unwritable(target, error) from None
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, retired / "previous")
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
