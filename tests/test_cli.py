from pathlib import Path

import pytest
import yaml

from oncofusion.cli import main

from .conftest import tiny_raw_params


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
        raise SystemExit(0)
    return done.value.code


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_raw_params()))
    return path


def test_stages_run_in_order(params_file: Path, tmp_path: Path, capsys):
    cohort, reports, splits = tmp_path / "cohort", tmp_path / "reports", tmp_path / "splits"
    assert _run(["cohort", "-p", str(params_file), "--out", str(cohort)]) == 0
    assert _run(["validate", "-p", str(params_file), "--cohort", str(cohort), "--reports", str(reports)]) == 0
    assert (
        _run(
            [
                "split",
                "-p",
                str(params_file),
                "--cohort",
                str(cohort),
                "--reports",
                str(reports),
                "--out",
                str(splits),
                "--metrics",
                str(tmp_path / "split.json"),
            ]
        )
        == 0
    )
    output = capsys.readouterr().out
    assert "synthesized 60 samples" in output and "PASSED" in output and "split 60 samples" in output


def test_bad_params_exit_1_with_the_key_path(tmp_path: Path, capsys):
    raw = tiny_raw_params()
    raw["synthesize"]["n_samples"] = -1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert _run(["cohort", "-p", str(path), "--out", str(tmp_path / "c")]) == 1
    error = capsys.readouterr().err
    assert "synthesize.n_samples" in error and "Traceback" not in error
    assert not (tmp_path / "c").exists()


def test_validate_failure_exits_1_naming_file_and_column(params_file: Path, tmp_path: Path, capsys):
    import pandas as pd

    cohort = tmp_path / "cohort"
    _run(["cohort", "-p", str(params_file), "--out", str(cohort)])
    frame = pd.read_parquet(cohort / "labels.parquet")
    frame.loc[0, "label"] = "NOT_A_CLASS"
    frame.to_parquet(cohort / "labels.parquet")
    assert (
        _run(["validate", "-p", str(params_file), "--cohort", str(cohort), "--reports", str(tmp_path / "r")])
        == 1
    )
    error = capsys.readouterr().err
    assert "labels.parquet, column label" in error and "NOT_A_CLASS" in error


def test_usage_error_is_not_a_traceback(capsys):
    assert _run(["cohort", "--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err
