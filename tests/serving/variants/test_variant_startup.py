"""The variant service refuses to start on a FASTA that is not the model's, or off loopback without a
token; two servers on one machine keep their own Prometheus counters."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import free_port, stop, wait_ready
from .conftest import TOKEN, VariantServed, VariantStore, start_variant_server

pytestmark = pytest.mark.slow


def _exits(env: dict[str, str], log: Path, host: str = "127.0.0.1", timeout: float = 90) -> str:
    server = start_variant_server(env, log, free_port(), host=host)
    try:
        server.wait(timeout=timeout)
    except Exception:
        stop(server)
        raise AssertionError(f"the server started: {log.read_text()[-2000:]}") from None
    assert server.returncode != 0
    return log.read_text()


def test_a_fasta_other_than_the_models_stops_the_server_at_start(variant_store: VariantStore, tmp_path: Path):
    other = tmp_path / "other.fa"
    other.write_text(">chr1\nACGT\n")
    env = {**variant_store.env, "ONCOFUSION_REFERENCE": str(other)}
    output = _exits(env, tmp_path / "log")
    assert (
        f"{other}: SHA-256" in output and "differs from the reference the model was trained against" in output
    )
    env.pop("ONCOFUSION_REFERENCE")
    assert "ONCOFUSION_REFERENCE is not set" in _exits(env, tmp_path / "log2")


def test_without_a_token_it_will_not_listen_beyond_loopback(variant_store: VariantStore, tmp_path: Path):
    env = {**variant_store.env, "ONCOFUSION_REFERENCE": str(variant_store.reference)}
    env.pop("ONCOFUSION_API_TOKEN", None)
    output = _exits(env, tmp_path / "log", host="0.0.0.0")
    assert "without an API token the service only binds to loopback" in output


def _counter(url: str, headers: dict[str, str]) -> float:
    text = httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
    assert "bentoml_" in text  # BentoML's own request series are still collected
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('oncofusion_input_samples_total{modality="sbs96",status="present"')
    )


def test_a_second_server_does_not_wipe_or_share_the_first_ones_counters(
    variant_served: VariantServed, tmp_path: Path
):
    vcf = sorted((variant_served.store.raw / "somatic_vcf").glob("*.vcf.gz"))[0]
    files = [("file", (vcf.name, vcf.read_bytes(), "application/octet-stream"))]
    url, headers = variant_served.url, variant_served.headers
    for _ in range(3):
        assert (
            httpx.post(f"{url}/classify_variants", files=files, headers=headers, timeout=60).status_code
            == 200
        )
    first = _counter(url, headers)
    assert first >= 3
    env = {
        **variant_served.store.env,
        "ONCOFUSION_REFERENCE": str(variant_served.store.reference),
        "ONCOFUSION_API_TOKEN": TOKEN,
    }
    port, log = free_port(), tmp_path / "second.log"
    second = start_variant_server(env, log, port)  # same BENTOML_HOME: BentoML wipes its shared directory
    other = f"http://127.0.0.1:{port}"
    try:
        wait_ready(second, other, log)
        assert (
            httpx.post(f"{other}/classify_variants", files=files, headers=headers, timeout=60).status_code
            == 200
        )
        time.sleep(0.5)
        assert _counter(other, headers) == 1
        assert _counter(url, headers) == first
    finally:
        stop(second)
    shutil.rmtree(tmp_path, ignore_errors=True)
