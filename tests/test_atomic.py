import os
from pathlib import Path

import pytest

from oncofusion import atomic


def test_write_replaces_only_on_success(tmp_path: Path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text().strip().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_directory_swap_is_all_or_nothing(tmp_path: Path):
    target = tmp_path / "cohort"
    with atomic.atomic_directory(target) as staging:
        (staging / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic.atomic_directory(target) as staging:
        (staging / "a").write_text("2")
        raise RuntimeError("crash")
    assert (target / "a").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_outputs_get_ordinary_permissions(tmp_path: Path):
    atomic.write_text(tmp_path / "f", "x")
    with atomic.atomic_directory(tmp_path / "d"):
        pass
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~umask
