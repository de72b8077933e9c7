"""The BentoML service over real HTTP: `bentoml serve` in a subprocess on a loopback port
(fixtures in conftest.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from oncofusion.models.bundle import load_bundle
from oncofusion.serving.limits import MAX_REQUEST_BYTES
from oncofusion.serving.schema import MAX_SAMPLES_PER_REQUEST

from .conftest import CHAMPION_VERSION, TARGET_MIX, Served
from .metrics import scrape, value

pytestmark = pytest.mark.slow


def _sample(served: Served, i: int, drop: tuple[str, ...] = ()) -> dict:
    return {
        "sample_id": served.test.sample_ids[i],
        "modalities": {
            m: served.test.inputs[m][i].tolist() for m in served.model.modalities if m not in drop
        },
    }


def _classify(served: Served, samples: list[dict]) -> httpx.Response:
    return httpx.post(f"{served.url}/classify", json={"samples": samples}, timeout=30)


def test_predictions_match_the_model_in_process(served: Served):
    response = _classify(served, [_sample(served, i) for i in range(5)])
    assert response.status_code == 200, response.text
    body = response.json()
    direct = served.model.predict(
        {m: v[:5].numpy() for m, v in served.test.inputs.items()}, served.test.present[:5].numpy()
    )
    for i, item in enumerate(body):
        assert item["sample_id"] == served.test.sample_ids[i]
        got = np.array([item["probabilities"][c] for c in served.model.classes])
        np.testing.assert_allclose(got, direct["probabilities"][i], atol=1e-5)
        assert item["predicted"] == served.model.classes[int(direct["predicted"][i])]
        assert sum(item["attention"].values()) == pytest.approx(1.0, abs=1e-5)


def test_served_prediction_sets_and_calls_equal_the_registered_pyfunc(served: Served):
    """The conformal set per sample: the bento's answer, the MLflow pyfunc's (loaded from the registry by
    alias, in a child process) and the bundle's own must be the same list, most probable class first."""
    n = 10
    response = _classify(served, [_sample(served, i) for i in range(n)])
    assert response.status_code == 200, response.text
    served_sets = [item["prediction_set"] for item in response.json()]
    frame = {
        f"{m}/{f}": served.test.inputs[m][:n, j].tolist()
        for m, spec in served.model.schema.items()
        for j, f in enumerate(spec["features"])
    }
    script = f"""
import json, mlflow, pandas as pd
model = mlflow.pyfunc.load_model("models:/oncofusion-classifier@champion")
out = model.predict(pd.DataFrame(json.loads({json.dumps(json.dumps(frame))})))
print(json.dumps([[list(s) for s in out["prediction_set"]], list(out["predicted"])]))
"""
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=served.root, env=served.env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr[-2000:]
    pyfunc_sets, pyfunc_called = json.loads(child.stdout.strip().splitlines()[-1])
    direct = served.model.predict(
        {m: v[:n].numpy() for m, v in served.test.inputs.items()}, served.test.present[:n].numpy()
    )
    order = np.argsort(-direct["probabilities"], axis=1, kind="stable")
    expected = [[served.model.classes[k] for k in row if direct["sets"][i, k]] for i, row in enumerate(order)]
    assert served_sets == pyfunc_sets == expected
    assert (direct["predicted"] != direct["probabilities"].argmax(axis=1)).any(), "no call to tell apart"
    served_called = [item["predicted"] for item in response.json()]
    assert served_called == pyfunc_called == [served.model.classes[k] for k in direct["predicted"]]
    assert served.model.conformal is not None and len(served.model.net.members) == 2


def test_missing_modality_is_masked(served: Served):
    response = _classify(served, [_sample(served, 0, drop=("fragmentomics",))])
    assert response.status_code == 200, response.text
    item = response.json()[0]
    assert item["modalities_used"] == ["methylation", "cna"]
    assert item["attention"]["fragmentomics"] == 0.0
    present = np.array([[True, False, True]])
    direct = served.model.predict({m: v[:1].numpy() for m, v in served.test.inputs.items()}, present)
    got = np.array([item["probabilities"][c] for c in served.model.classes])
    np.testing.assert_allclose(got, direct["probabilities"][0], atol=1e-5)


def test_served_model_is_the_registry_champion(served: Served):
    """@champion is on version 2 of three: serving `latest` (3) or version 1 answers with another
    model's probabilities and version."""
    meta = httpx.get(f"{served.url}/metadata", timeout=10)
    assert meta.status_code == 200
    document = meta.json()
    assert document["model"]["version"] == CHAMPION_VERSION and document["model"]["alias"] == "champion"
    assert document["classes"] == served.model.classes
    assert document["decision"] == "target"  # the served test model calls for a target class mix
    assert document["target_mix"] == pytest.approx(TARGET_MIX)
    assert list(document["target_mix"]) == document["classes"]
    assert {m: d["n_features"] for m, d in document["modalities"].items()} == {
        "methylation": 12,
        "fragmentomics": 15,
        "cna": 44,
    }
    assert document["modalities"]["methylation"]["domain"]["max"] == 1.0
    n = 8
    answers = _classify(served, [_sample(served, i) for i in range(n)]).json()
    assert {a["model"]["version"] for a in answers} == {CHAMPION_VERSION}
    got = np.array([[a["probabilities"][c] for c in served.model.classes] for a in answers])
    inputs = {m: v[:n].numpy() for m, v in served.test.inputs.items()}
    present = served.test.present[:n].numpy()
    for version, path in served.store.bundles.items():
        expected = load_bundle(path).predict(inputs, present)["probabilities"]
        if version == CHAMPION_VERSION:
            np.testing.assert_allclose(got, expected, atol=1e-5)
        else:  # the other versions must be told apart by their answers
            assert np.abs(got - expected).max() > 1e-3, f"v{version} answers like the champion"


def _bad_bodies(served: Served) -> dict[str, tuple[bytes, str]]:
    good = _sample(served, 0)

    def body(**modalities) -> bytes:
        return json.dumps(
            {"samples": [{"sample_id": "x", "modalities": {**good["modalities"], **modalities}}]}
        ).encode()

    return {
        "wrong_length": (body(methylation=[0.5] * 11), "methylation"),
        "nan": (body(methylation=[float("nan")] * 12), "methylation"),  # json.dumps writes NaN literals
        "inf": (body(cna=[float("inf")] * 44), "cna"),
        "beta_above_one": (body(methylation=[1.2] * 12), "methylation"),
        "unknown_modality": (body(rna=[1.0] * 3), "rna"),
        "no_modalities": (
            json.dumps({"samples": [{"sample_id": "x", "modalities": {}}]}).encode(),
            "modalit",
        ),
        "empty_body": (b"", ""),
        "not_json": (b"{samples: oops", ""),
        "no_samples_key": (b"{}", "samples"),
        "too_many_samples": (
            json.dumps({"samples": [good] * (MAX_SAMPLES_PER_REQUEST + 1)}).encode(),
            "samples",
        ),
        "text_values": (body(methylation=["high"] * 12), "methylation"),
        "empty_samples": (b'{"samples": []}', "samples"),
        "profile_without_a_positive_value": (body(fragmentomics=[0.0] * 15), "fragmentomics"),
        "null_modality": (body(methylation=None), "methylation"),
        "string_number": (body(methylation=["0.5"] * 12), "methylation"),
        "oversized_payload": (b'{"samples": [' + b" " * (MAX_REQUEST_BYTES + 1) + b"]}", "bytes"),
    }


def test_non_json_bodies_get_415_not_a_server_error(served: Served):
    broken_form = b"--x\r\nContent-Disposition: form-data; name=samples\r\n\r\n[oops"  # no closing boundary
    for content_type in (
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/x-www-form-urlencoded",
    ):
        headers = {"content-type": content_type}
        response = httpx.post(f"{served.url}/classify", content=broken_form, headers=headers, timeout=30)
        assert response.status_code == 415, f"{content_type}: {response.status_code} {response.text[:200]}"
        assert "application/json" in response.text


def test_bad_inputs_get_4xx_naming_the_field(served: Served):
    for name, (payload, field) in _bad_bodies(served).items():
        response = httpx.post(
            f"{served.url}/classify",
            content=payload,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
        assert field in response.text, f"{name}: reason does not name '{field}': {response.text[:300]}"


def test_concurrent_requests_are_batched_without_changing_answers(served: Served):
    singles = {
        i: _classify(served, [_sample(served, i)]).json()[0] for i in range(len(served.test.sample_ids))
    }
    burst = list(singles) * 3
    # Adaptive batching depends on when requests arrive: one burst of 72 ran as 26 to 69 model calls on
    # a 2-core machine. Up to three bursts, so timing alone does not fail the test; a server that never
    # batches runs every burst as 72 calls and still fails it.
    calls_per_burst = []
    for _ in range(3):
        before = scrape(served.url)
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda i: _classify(served, [_sample(served, i)]), burst))
        after = scrape(served.url)
        assert all(a.status_code == 200 for a in answers)
        for answer in answers:
            item = answer.json()[0]
            expected = singles[served.test.sample_ids.index(item["sample_id"])]
            for c in served.model.classes:
                assert item["probabilities"][c] == pytest.approx(expected["probabilities"][c], abs=1e-5)
        # Batching happened: the model ran fewer times than there were (single-sample) requests.
        calls = value(after, "oncofusion_classify_batch_size_count") - value(
            before, "oncofusion_classify_batch_size_count"
        )
        samples = value(after, "oncofusion_classify_batch_size_sum") - value(
            before, "oncofusion_classify_batch_size_sum"
        )
        assert samples == len(burst)
        calls_per_burst.append(calls)
        if calls < 0.8 * len(burst):
            break
    assert min(calls_per_burst) < 0.8 * len(burst), (
        f"{len(burst)} requests ran as {calls_per_burst} model calls"
    )


def test_malformed_burst_and_disconnects_leave_the_server_healthy(served: Served):
    rng = np.random.default_rng(0)
    statuses = []
    good = json.dumps({"samples": [_sample(served, 0)]}).encode()
    for _ in range(100):
        cut = bytearray(good[: int(rng.integers(0, len(good)))])
        for _ in range(int(rng.integers(0, 5))):  # flip a few bytes
            if cut:
                cut[int(rng.integers(0, len(cut)))] = int(rng.integers(32, 127))
        statuses.append(
            httpx.post(
                f"{served.url}/classify",
                content=bytes(cut),
                headers={"content-type": "application/json"},
                timeout=30,
            ).status_code
        )
    assert not [s for s in statuses if s >= 500], statuses
    # A client that sends half a request and hangs up must not hurt anyone else.
    host, port = served.url.removeprefix("http://").split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port))) as raw:
            head = b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            raw.sendall(head + b'Content-Length: 100000\r\n\r\n{"samples": [')
    assert _classify(served, [_sample(served, 1)]).status_code == 200


def test_swagger_s_default_example_is_flagged_and_sets_follow_the_sample_s_modalities(served: Served):
    """Every value at its field's maximum, as Swagger UI fills the form (copy number 8, profile shares
    1e12): called at probability ~1, so the answer must flag it and give every class. A sample missing a
    modality gets its own pattern's thresholds, and its called class is in its set."""
    from oncofusion.serving.schema import MAX_ABS_VALUE

    absurd = {
        m: [float((spec["domain"] or {}).get("max") or MAX_ABS_VALUE)] * len(spec["features"])
        for m, spec in served.model.schema.items()
    }
    samples = [{"sample_id": "swagger", "modalities": absurd}, _sample(served, 0, drop=("fragmentomics",))]
    response = _classify(served, samples)
    assert response.status_code == 200, response.text
    flagged, partial = response.json()
    assert flagged["outside_training"], flagged
    assert sorted(flagged["prediction_set"]) == sorted(served.model.classes)
    assert partial["set_calibrated_for"] == "methylation+cna"
    assert partial["predicted"] in partial["prediction_set"]


def test_a_cohort_request_is_called_for_its_class_mix(served: Served):
    """POST /classify_cohort: a stated mix gives the model's call under that mix; too few samples for an
    estimate are answered as /classify answers them, and the answer says so."""
    n = min(40, len(served.test.sample_ids))
    samples = [_sample(served, i) for i in range(n)]
    stated = {c: share for c, share in zip(served.model.classes, (0.8, 0.1, 0.1), strict=True)}
    response = httpx.post(
        f"{served.url}/classify_cohort", json={"samples": samples, "class_mix": stated}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    mix = np.array([stated[c] for c in served.model.classes])
    direct = served.model.predict(
        {m: v[:n].numpy() for m, v in served.test.inputs.items()},
        served.test.present[:n].numpy(),
        class_mix=mix / mix.sum(),
    )
    assert [p["predicted"] for p in body["predictions"]] == [
        served.model.classes[k] for k in direct["predicted"]
    ]
    few = httpx.post(f"{served.url}/classify_cohort", json={"samples": samples[:5]}, timeout=30).json()
    assert few["class_mix"] == {} and "no class mix estimated" in few["note"]
    plain = _classify(served, samples[:5]).json()
    assert [p["predicted"] for p in few["predictions"]] == [p["predicted"] for p in plain]
    wrong = httpx.post(
        f"{served.url}/classify_cohort", json={"samples": samples[:5], "class_mix": {"A": 1.0}}, timeout=30
    )
    assert wrong.status_code == 400 and "class_mix" in wrong.text
