"""The published contract (`/docs.json`) is what the live service does: schemathesis against it, and
the constraints and error shapes checked one by one."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest

from oncofusion.serving.limits import MAX_REQUEST_BYTES

from .conftest import Served

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40  # per operation and phase; ~20 s on 2 cores
SEED = 20261202


def _docs(served: Served) -> dict:
    response = httpx.get(f"{served.url}/docs.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def _request_schema(docs: dict) -> dict:
    """The /classify request body schema, components inlined (resolved by jsonschema's $ref)."""
    body = docs["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**body, "components": docs["components"]}


def _post(served: Served, payload: dict) -> httpx.Response:
    return httpx.post(f"{served.url}/classify", json=payload, timeout=30)


def run_schemathesis(
    url: str, cwd: Path, max_examples: int, *extra: str
) -> tuple[subprocess.CompletedProcess, dict]:
    """`st run` against the live `/docs.json` with every check, seeded and deterministic; the run and a
    summary of its events (printed to the test's output, `-s`, for the record)."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{url}/docs.json",
        *extra,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(SEED),
        "--generation-deterministic",  # no example database either: the same cases every run
        "--workers",
        "1",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(cwd / "events.ndjson"),
    ]
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert (cwd / "events.ndjson").exists(), (run.stdout + run.stderr)[-3000:]
    summary = _summary(cwd / "events.ndjson")
    print(json.dumps(summary, indent=1))
    return run, summary


def test_schemathesis_finds_no_contract_failure(served: Served, tmp_path: Path):
    """Every schemathesis check, positive and negative data, bounded and seeded."""
    run, summary = run_schemathesis(served.url, tmp_path, MAX_EXAMPLES)
    assert run.returncode == 0, run.stdout[-6000:]
    assert summary["failed_checks"] == 0 and summary["operations"] >= 2
    # Both kinds of data reached /classify: valid requests (answered 200) and invalid ones (4xx).
    assert summary["cases"]["POST /classify"]["positive"] >= 10
    assert summary["cases"]["POST /classify"]["negative"] >= 10


def _summary(path: Path) -> dict:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cases: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    checks: collections.Counter = collections.Counter()
    failed = 0
    for event in events:
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for case in recorder.get("cases", {}).values():
            mode = ((case["value"].get("meta") or {}).get("generation") or {}).get("mode", "unknown")
            cases[recorder["label"]][mode] += 1
        for results in recorder.get("checks", {}).values():
            for result in results:
                checks[result["name"]] += 1
                failed += result["status"] == "failure"
    return {
        "operations": len(cases),
        "cases": {label: dict(counts) for label, counts in cases.items()},
        "examples": sum(sum(c.values()) for c in cases.values()),
        "check_runs": sum(checks.values()),
        "checks": sorted(checks),
        "failed_checks": failed,
    }


def test_request_schema_publishes_what_the_service_enforces(served: Served):
    docs = _docs(served)
    modalities = docs["components"]["schemas"]["Modalities"]
    assert modalities["minProperties"] == 1 and modalities["additionalProperties"] is False
    for name, spec in served.model.schema.items():
        field = modalities["properties"][name]
        n = len(spec["features"])
        assert field["type"] == "array" and field["minItems"] == n and field["maxItems"] == n
        low, high = spec["domain"]["min"], spec["domain"]["max"]
        if low is not None:
            assert field["items"]["minimum"] == low
        if high is not None:
            assert field["items"]["maximum"] == high
    samples = docs["components"]["schemas"]["classify__Input"]["properties"]["samples"]
    assert samples["minItems"] == 1 and samples["maxItems"] == 256
    responses = docs["paths"]["/classify"]["post"]["responses"]
    assert {"400", "413", "415"} <= set(responses)
    assert "/metadata" in docs["paths"]


def test_a_sample_without_modalities_is_schema_invalid_and_refused(served: Served):
    schema = _request_schema(_docs(served))
    empty = {"samples": [{"sample_id": "0", "modalities": {}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(empty, schema)
    assert _post(served, empty).status_code == 400
    one = {"samples": [{"sample_id": "0", "modalities": {"methylation": [0.5] * 12}}]}
    jsonschema.validate(one, schema)
    assert _post(served, one).status_code == 200


def test_error_bodies_match_their_documented_schema(served: Served):
    docs = _docs(served)
    cases = {
        400: httpx.post(
            f"{served.url}/classify",
            json={"samples": [{"sample_id": "0", "modalities": {"methylation": [2.0] * 12}}]},
            timeout=30,
        ),
        413: httpx.post(
            f"{served.url}/classify",
            content=b" " * (MAX_REQUEST_BYTES + 1),
            headers={"content-type": "application/json"},
            timeout=30,
        ),
        415: httpx.post(
            f"{served.url}/classify", content=b"x", headers={"content-type": "text/plain"}, timeout=30
        ),
    }
    for status, response in cases.items():
        assert response.status_code == status, response.text[:300]
        ref = docs["paths"]["/classify"]["post"]["responses"][str(status)]["content"]["application/json"]
        jsonschema.validate(response.json(), {**ref["schema"], "components": docs["components"]})
    detail = cases[400].json()["detail"]
    assert isinstance(detail, str) and "samples[0].modalities.methylation[0]" in detail
