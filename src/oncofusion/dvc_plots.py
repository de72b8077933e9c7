"""`dvc plots show` for offline use: one SVG per plot and an index.html with no scripts and no network.

The page `dvc plots show` writes loads Vega from a CDN, so it is blank without a network. Here the
Vega-Lite specs that `dvc plots show --json` prints (data inlined) are rendered to SVG by vl-convert,
which bundles Vega and Vega-Lite, and a plain HTML page shows them as images. Image plots (PNG files
declared in dvc.yaml) are copied beside the SVGs.

    python -m oncofusion.dvc_plots [PROJECT_DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("dvc_plots/offline")


def _file_name(plot_id: str, suffix: str, taken: set[str]) -> str:
    """A flat file name for a plot id (``reports/plots/roc/a.csv`` → ``reports_plots_roc_a.csv.svg``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", plot_id).strip("._") or "plot"
    name, n = f"{stem}{suffix}", 1
    while name.lower() in taken:  # two ids that flatten alike, or one id with several entries
        n += 1
        name = f"{stem}_{n}{suffix}"
    taken.add(name.lower())
    return name


def _svg(spec: dict[str, Any] | str) -> str:
    """SVG of a Vega-Lite (or Vega) spec; external data URLs are refused, so nothing reaches the network."""
    import vl_convert  # lazy: only this module needs it

    if isinstance(spec, str):
        spec = json.loads(spec)
    if "/schema/vega/" in str(spec.get("$schema", "")):  # a full Vega spec, not Vega-Lite
        return vl_convert.vega_to_svg(spec, allowed_base_urls=[])
    return vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])


def _index_html(sections: list[tuple[str, list[str], list[str]]], errors: list[dict[str, Any]]) -> str:
    """The page: a table of contents, then each plot's images; plain HTML and inline CSS only."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>DVC plots</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
        "img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}"
        "h2{font-size:1.1em;margin-top:2em}.muted{color:#666}.error{color:#a00}</style>",
        "</head>",
        "<body>",
        "<h1>DVC plots</h1>",
        '<p class="muted">Rendered offline from <code>dvc plots show --json</code>; no scripts.</p>',
    ]
    if not sections:
        parts.append("<p>No plots: DVC found none (are there plots in dvc.yaml, and their files?).</p>")
    else:
        parts.append("<ul>")
        parts += [
            f'<li><a href="#plot-{i}">{esc(plot_id)}</a></li>' for i, (plot_id, _, _) in enumerate(sections)
        ]
        parts.append("</ul>")
    for i, (plot_id, files, revisions) in enumerate(sections):
        parts.append(f'<h2 id="plot-{i}">{esc(plot_id)}</h2>')
        if revisions:
            parts.append(f'<p class="muted">revisions: {esc(", ".join(revisions))}</p>')
        if not files:
            parts.append('<p class="error">nothing to show (see the errors below)</p>')
        parts += [f'<div><img src="{esc(name)}" alt="{esc(plot_id)}"></div>' for name in files]
    if errors:
        parts.append("<h2>Errors</h2>")
        parts.append("<ul>")
        for error in errors:
            where = " ".join(str(error.get(key, "")) for key in ("name", "rev") if error.get(key))
            message = error.get("msg") or error.get("type") or json.dumps(error)
            parts.append(f'<li class="error">{esc(where)}: {esc(str(message))}</li>')
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def render_plots_json(document: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write one SVG per Vega plot of a ``dvc plots show --json`` document, and out_dir/index.html.

    document: ``{"data": {plot_id: [{"type": "vega", "content": spec, "revisions": [...]}, ...]},
    "errors": [...]}``; entries of type ``image`` (a ``url`` to a file) are copied instead. Returns the
    written files, the plots in the document's order and index.html last.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = {"index.html"}
    written: list[Path] = []
    sections: list[tuple[str, list[str], list[str]]] = []
    for plot_id, entries in document.get("data", {}).items():
        files: list[str] = []
        revisions: list[str] = []
        for entry in entries:
            revisions += [str(rev) for rev in entry.get("revisions", []) if str(rev) not in revisions]
            if entry.get("type") == "vega":
                name = _file_name(plot_id, ".svg", taken)
                (out_dir / name).write_text(_svg(entry["content"]), encoding="utf-8")
            elif entry.get("type") == "image" and entry.get("url") and Path(entry["url"]).is_file():
                source = Path(entry["url"])
                name = _file_name(plot_id, "" if plot_id.endswith(source.suffix) else source.suffix, taken)
                shutil.copyfile(source, out_dir / name)
            else:
                continue
            files.append(name)
            written.append(out_dir / name)
        sections.append((plot_id, files, revisions))
    index = out_dir / "index.html"
    index.write_text(_index_html(sections, list(document.get("errors", []))), encoding="utf-8")
    written.append(index)
    return written


def render_dvc_plots(project_dir: Path, out_dir: Path) -> list[Path]:
    """Run ``dvc plots show --json`` in project_dir (this interpreter's DVC) and render it into out_dir.

    Returns the written files (index.html last). Raises RuntimeError when DVC fails.
    """
    project_dir, out_dir = Path(project_dir), Path(out_dir).resolve()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    # Image plots are copied by DVC into --out; a scratch directory keeps them out of the project.
    with tempfile.TemporaryDirectory(prefix="dvc-plots-") as scratch:
        result = subprocess.run(
            [sys.executable, "-m", "dvc", "plots", "show", "--json", "--out", scratch],
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`dvc plots show --json` failed in {project_dir} (exit {result.returncode}):\n"
                + result.stderr
            )
        try:
            document = json.loads(result.stdout)
        except ValueError as error:
            raise RuntimeError(
                f"`dvc plots show --json` printed no JSON ({error}):\n{result.stdout}"
            ) from None
        return render_plots_json(document, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oncofusion.dvc_plots",
        description="Render `dvc plots show` to SVG files and an index.html that work offline.",
    )
    parser.add_argument("project", nargs="?", type=Path, default=Path("."), help="DVC project (default: .)")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output directory (default: PROJECT/{DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else args.project / DEFAULT_OUT
    written = render_dvc_plots(args.project, out)
    if len(written) == 1:
        print(f"no plots rendered from {args.project} (see {written[-1]})", file=sys.stderr)
        return 1
    print(f"{len(written) - 1} plot file(s); open {written[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
