"""A real PostgreSQL server on loopback for the scale-out tests (a throw-away cluster per test).

Without the server binaries (initdb, pg_ctl) or the psycopg driver a test skips on a workstation, and
fails under ``CI=true``: `.ci/run` installs Debian's postgresql, so there its absence is a broken CI.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def unavailable(reason: str) -> None:
    """Skip, or under CI fail: a scale-out test that silently skips in CI guards nothing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL must be installed; see .ci/run)", pytrace=False)
    pytest.skip(reason)


def postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(os.path.realpath(candidates[-1])).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_postgres(databases: list[str]) -> Iterator[str]:
    """Start a cluster, create ``databases``, yield ``postgresql+psycopg://postgres@127.0.0.1:PORT``."""
    try:
        import psycopg
    except ImportError:
        unavailable("the psycopg driver is not installed")
    bindir = postgres_bin()
    if bindir is None:
        unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not installed; "
            "`.ci/run` installs Debian's postgresql"
        )
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="oncofusion-pg-", dir="/tmp"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            unavailable("running as root and there is no 'postgres' user to run the server as")
        os.chown(base, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = base / "data"
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
        pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
        subprocess.run([*pg_ctl, "-o", options, "start"], check=True, capture_output=True)
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            for name in databases:
                conn.execute(f"CREATE DATABASE {name}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)
