"""`dvc plots show` rendered offline: SVG files and an index.html with no scripts and no network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from oncofusion.dvc_plots import main, render_dvc_plots, render_plots_json

LINEAR = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"x": 0, "y": 0.1}, {"x": 1, "y": 0.7}, {"x": 2, "y": 0.9}]},
    "mark": "line",
    "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}},
}


def _no_scripts_or_network(page: str) -> None:
    assert "<script" not in page.lower()
    assert "http" not in page.lower()  # no CDN, no link out: the page works from a file on a laptop offline


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_each_vega_plot_becomes_an_svg_and_the_index_shows_them(tmp_path):
    png = tmp_path / "in" / "figure.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    document = {
        "data": {
            "reports/plots/roc/BRCA.csv": [{"type": "vega", "revisions": ["workspace"], "content": LINEAR}],
            "reports/figures/a b.png": [{"type": "image", "revisions": ["workspace"], "url": str(png)}],
            "reports/missing.csv": [],
        },
        "errors": [{"name": "reports/missing.csv", "rev": "workspace", "msg": "No such file <here>"}],
    }
    out = tmp_path / "out"
    written = render_plots_json(document, out)
    assert [p.name for p in written] == [
        "reports_plots_roc_BRCA.csv.svg",
        "reports_figures_a_b.png",
        "index.html",
    ]
    assert written[0].read_text().lstrip().startswith("<svg")
    assert written[1].read_bytes() == png.read_bytes()
    page = written[-1].read_text()
    _no_scripts_or_network(page)
    assert _images(page) == [written[0].name, written[1].name]
    assert "No such file &lt;here&gt;" in page  # errors listed, escaped


def test_a_spec_that_would_fetch_data_is_refused(tmp_path):
    remote = {**LINEAR, "data": {"url": "https://example.com/data.csv"}}
    with pytest.raises(ValueError, match="not allowed"):
        render_plots_json({"data": {"remote": [{"type": "vega", "content": remote}]}}, tmp_path)


def _env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


@pytest.fixture
def dvc_project(tmp_path: Path) -> Path:
    """A tiny DVC project: a confusion CSV (confusion template) and a directory of x/y CSVs (linear)."""
    project = tmp_path / "project"
    (project / "reports" / "roc").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=_env())
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project, check=True, env=_env())
    rows = ["actual,predicted", "A,A", "A,B", "B,B", "B,B", "C,C", "C,A"]
    (project / "reports" / "confusion.csv").write_text("\n".join(rows) + "\n")
    for name, mid in (("A", 0.8), ("B", 0.6)):
        (project / "reports" / "roc" / f"{name}.csv").write_text(f"fpr,tpr\n0,0\n0.2,{mid}\n1,1\n")
    plots = [
        {"reports/confusion.csv": {"template": "confusion", "x": "predicted", "y": "actual"}},
        {"reports/roc": {"x": "fpr", "y": "tpr"}},
    ]
    (project / "dvc.yaml").write_text(yaml.safe_dump({"plots": plots}))
    return project


def test_render_dvc_plots_writes_svgs_and_a_page_without_scripts(dvc_project, tmp_path):
    out = tmp_path / "offline"
    written = render_dvc_plots(dvc_project, out)
    svgs = sorted(p.name for p in written if p.suffix == ".svg")
    assert svgs == ["reports_confusion.csv.svg", "reports_roc_A.csv.svg", "reports_roc_B.csv.svg"]
    for path in written[:-1]:
        text = path.read_text()
        assert "<svg" in text and "<script" not in text
    assert "predicted" in (out / "reports_confusion.csv.svg").read_text()  # the template's axis title
    assert "tpr" in (out / "reports_roc_A.csv.svg").read_text()
    assert written[-1] == out / "index.html"
    page = written[-1].read_text()
    _no_scripts_or_network(page)
    assert sorted(_images(page)) == svgs and all((out / name).is_file() for name in svgs)
    assert not (dvc_project / "dvc_plots").exists()  # DVC's own output stays out of the project


def test_the_command_line_writes_beside_the_project_by_default(dvc_project, capsys):
    assert main([str(dvc_project)]) == 0
    assert (dvc_project / "dvc_plots" / "offline" / "index.html").is_file()
    assert "open" in capsys.readouterr().out


def test_a_directory_with_no_plots_gives_a_page_that_says_so_and_a_failing_exit(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "No plots" in (tmp_path / "out" / "index.html").read_text()
    assert "no plots rendered" in capsys.readouterr().err


def test_a_dvc_crash_is_reported(tmp_path, monkeypatch):
    def crash(command, **kwargs):
        return subprocess.CompletedProcess(command, 251, stdout="", stderr="ERROR: unexpected error")

    monkeypatch.setattr(subprocess, "run", crash)
    with pytest.raises(RuntimeError, match="unexpected error"):
        render_dvc_plots(tmp_path, tmp_path / "out")
