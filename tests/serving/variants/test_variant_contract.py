"""Schemathesis against the variant service's published contract, authenticated, every check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..test_contract import run_schemathesis
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
    run, summary = run_schemathesis(
        variant_served.url, tmp_path, 30, "--header", f"Authorization: Bearer {TOKEN}"
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert summary["failed_checks"] == 0
    cases = summary["cases"]["POST /classify_variants"]
    assert cases.get("positive", 0) >= 10 and cases.get("negative", 0) >= 10
