"""`oncofusion predict` on VCFs and a MAF equals `/classify_variants` on the same files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from .conftest import VariantServed

pytestmark = pytest.mark.slow


def _predict(served: VariantServed, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oncofusion.cli", "predict", *args],
        cwd=cwd,
        env={**served.store.env, "ONCOFUSION_PROGRESS": "0"},
        capture_output=True,
        text=True,
    )


def test_predict_on_a_vcf_directory_equals_the_service(variant_served: VariantServed, tmp_path: Path):
    vcfs = sorted((variant_served.store.raw / "somatic_vcf").glob("*.vcf.gz"))[:4]
    (tmp_path / "vcfs").mkdir()
    for path in vcfs:
        (tmp_path / "vcfs" / path.name).write_bytes(path.read_bytes())
    reference = str(variant_served.store.reference)
    done = _predict(
        variant_served,
        "--model",
        "models:/oncofusion-variants@champion",
        "--input",
        "vcfs",
        "--reference",
        reference,
        "--out",
        "calls.csv",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "calls.csv").set_index("sample_id")
    files = [("file", (p.name, p.read_bytes(), "application/octet-stream")) for p in vcfs]
    answers = httpx.post(
        f"{variant_served.url}/classify_variants", files=files, headers=variant_served.headers, timeout=60
    ).json()
    assert list(table.index) == [a["sample_id"] for a in answers]
    for answer in answers:
        row = table.loc[answer["sample_id"]]
        assert row["predicted"] == answer["predicted"]
        assert row["prediction_set"].split("|") == answer["prediction_set"]
        assert row["variants_used"] == answer["variants_used"]
        assert json.loads(row["variants_dropped"]) == answer["variants_dropped"]
        for c, p in answer["probabilities"].items():
            assert row[f"p_{c}"] == pytest.approx(p, abs=1e-6)
        assert row["top_signatures"].split("|")[0].split(":")[0] == answer["signatures"][0]["signature"]


def test_a_variant_model_needs_its_reference(variant_served: VariantServed, tmp_path: Path):
    model = str(variant_served.store.model_dir)
    maf = str(variant_served.store.raw / "somatic.maf.gz")
    missing = _predict(variant_served, "--model", model, "--input", maf, cwd=tmp_path)
    assert missing.returncode == 1 and "give --reference" in missing.stderr
    other = tmp_path / "other.fa"
    other.write_text(">chr1\nACGT\n")
    wrong = _predict(
        variant_served, "--model", model, "--input", maf, "--reference", str(other), cwd=tmp_path
    )
    assert wrong.returncode == 1 and f"{other}: SHA-256" in wrong.stderr
    assert not (tmp_path / "predictions.csv").exists()
