"""The docs site builds with `mkdocs build --strict`: a broken link, a page missing from the nav, an API
page naming a module that moved, or a results placeholder without its JSON fails `make test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..conftest import REPO_ROOT


def test_the_docs_site_builds_strictly(tmp_path: Path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    for page in ("index.html", "architecture/index.html", "results/index.html", "tutorial/index.html"):
        assert (site / page).is_file(), f"the site has no {page}"
    results = (site / "results" / "index.html").read_text()
    assert "<table>" in results, "the results page has no generated table"
    assert "<!-- results:" not in results, "a results placeholder was left unreplaced"


def test_the_readme_is_a_guide_that_fits_on_a_few_screens():
    readme = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 250, f"README.md has {len(readme)} lines; move detail to docs/"
    for command in ("make repro", "make test", "make serve", "make ui", "make docs"):
        assert any(command in line for line in readme), f"README.md does not show `{command}`"
