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


def _blocked(tmp_path: Path) -> Path:
    """A path under a regular file: unwritable for every user, root included (CI runs as root, which
    ignores directory permissions)."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory must be")
    return blocker / "out"


def test_unwritable_targets_raise_a_clear_error_and_leave_nothing(tmp_path: Path):
    from oncofusion.errors import OutputError

    target = _blocked(tmp_path)
    for attempt in (
        lambda: atomic.write_json(target / "x.json", {"a": 1}),
        lambda: atomic.atomic_directory(target / "d").__enter__(),
        lambda: atomic.require_writable(target / "model"),
    ):
        with pytest.raises(OutputError, match="cannot write this output: Not a directory"):
            attempt()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused_before_any_work(tmp_path: Path):
    from oncofusion.errors import OutputError

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            atomic.require_writable(locked / "models")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    "command",
    [
        ["cohort", "--out", "{blocked}/cohort"],
        ["train", "--cohort", "{missing}", "--out", "{blocked}/models"],
        ["evaluate", "--cohort", "{missing}", "--model", "{missing}", "--reports", "{blocked}/reports"],
        ["tune", "--cohort", "{missing}", "--out", "{blocked}/tune"],
    ],
)
def test_stages_refuse_an_unwritable_output_before_any_work(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
):
    """The check comes first: the cohort it would have read does not even exist, and the error is
    about the output, named, with exit 1 (a user error) and nothing written."""
    from oncofusion.cli import main

    blocked = _blocked(tmp_path)
    argv = [a.format(blocked=blocked, missing=tmp_path / "missing") for a in command]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--params", str(Path(__file__).parents[1] / "params.yaml")])
    assert exit_info.value.code == 1
    message = capsys.readouterr().err
    assert "cannot write this output" in message and str(blocked) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-directory"]


def test_a_directory_where_the_file_must_go_is_an_output_error(tmp_path: Path):
    from oncofusion.errors import OutputError

    (tmp_path / "registry.json").mkdir()
    with pytest.raises(OutputError, match=r"registry\.json: cannot write this output"):
        atomic.write_json(tmp_path / "registry.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json"]
