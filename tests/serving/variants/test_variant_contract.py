"""Schemathesis against the variant service's published contract, authenticated, every check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..test_contract import SEED, _summary
from .conftest import TOKEN, VariantServed

pytestmark = pytest.mark.slow


# A `file` part is a binary string in the schema, which cannot say "a VCF or a MAF": a schema-valid
# upload that is neither (schemathesis sends PNGs) is refused 400 with the reason, and only that is
# allowed besides 2xx. Every other check, and every other status, is as for /classify.
CONFIG = """
[[operations]]
include-path = "/classify_variants"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]
"""


def test_schemathesis_finds_no_contract_failure_on_classify_variants(
    variant_served: VariantServed, tmp_path: Path
):
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{variant_served.url}/docs.json",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--checks",
        "all",
        "--max-examples",
        "30",
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(tmp_path / "events.ndjson"),
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert (tmp_path / "events.ndjson").exists(), (run.stdout + run.stderr)[-3000:]
    summary = _summary(tmp_path / "events.ndjson")
    print(json.dumps(summary, indent=1))
    assert run.returncode == 0, run.stdout[-6000:]
    assert summary["failed_checks"] == 0
    cases = summary["cases"]["POST /classify_variants"]
    assert cases.get("positive", 0) >= 10 and cases.get("negative", 0) >= 10
