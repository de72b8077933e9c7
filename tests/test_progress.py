"""Progress bars on a terminal, silence in logs and CI."""

from __future__ import annotations

import pytest

from oncofusion import progress


@pytest.fixture(autouse=True)
def _no_inherited_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.SETTING, raising=False)
    monkeypatch.delenv("CI", raising=False)


def test_off_in_ci_and_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch):
    assert not progress.enabled()  # pytest captures stderr: not a terminal
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert progress.enabled()
    monkeypatch.setenv("CI", "true")
    assert not progress.enabled()
    monkeypatch.setenv(progress.SETTING, "1")
    assert progress.enabled()  # forced on, even in CI
    monkeypatch.setenv(progress.SETTING, "0")
    assert not progress.enabled()


def test_a_bar_is_drawn_only_when_enabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    assert list(progress.track(range(3), "quiet work")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(progress.SETTING, "1")
    with progress.task("loud work", total=2) as advance:
        advance(note="first")
        advance(note="second")
    drawn = capsys.readouterr().err
    assert "loud work" in drawn and "2/2" in drawn


def test_catalogue_building_reports_rows(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    import pandas as pd

    from oncofusion.data.variants.catalogues import build_catalogues
    from oncofusion.data.variants.reference import Reference

    reference = Reference.from_strings({"1": "ACGTACGTAC" * 100})
    variants = pd.DataFrame(
        {"sample_id": ["a", "b"], "chrom": ["1", "1"], "start": [5, 9], "ref": ["A", "A"], "alt": ["C", "T"]}
        | {"type": ["SNV", "SNV"]}
    )
    monkeypatch.setenv(progress.SETTING, "1")
    build_catalogues(reference, variants, ["a", "b"], bin_size=500)
    assert "catalogues (variants)" in capsys.readouterr().err


def test_training_draws_epoch_bars_only_when_enabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
):
    from oncofusion.config import parse_params
    from oncofusion.data.split import stratified_split
    from oncofusion.data.synthetic.omics.cohort import generate_cohort
    from oncofusion.training.train import fit

    from .training.conftest import small_training_params

    params = parse_params(small_training_params(max_epochs=2, pretrain_epochs=0, progressive=False))
    cohort = generate_cohort(params.synthesize, seed=0, name="tiny")
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
    fit(cohort, params, tmp_path / "quiet")
    assert "Epoch" not in capsys.readouterr().err
    monkeypatch.setenv(progress.SETTING, "1")
    fit(cohort, params, tmp_path / "shown")
    assert "Epoch" in capsys.readouterr().err
