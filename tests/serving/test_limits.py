"""Request bodies are bounded however they are framed: a chunked body (no Content-Length) over the
limit is refused with 413 while the client is still sending, not after the server read it all."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from oncofusion.serving.limits import MAX_REQUEST_BYTES

from .conftest import Served

pytestmark = pytest.mark.slow

CHUNK = 64 * 1024


def _send_chunked(url: str, total: int) -> tuple[int, bytes]:
    """Stream `total` bytes as a chunked POST over a raw socket, reading the answer meanwhile; stop
    sending once an answer arrives. Returns the bytes sent and the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    answer = bytearray()
    with socket.create_connection((host, int(port)), timeout=30) as raw:

        def read() -> None:
            while True:
                try:
                    data = raw.recv(65536)
                except OSError:  # the server closed on a refused body: what it sent first is kept
                    return
                if not data:
                    return
                answer.extend(data)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        raw.sendall(
            b"POST /classify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b" " * (CHUNK - 1)
        sent = 0
        try:
            while sent < total and not answer:
                raw.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            raw.sendall(b"0\r\n\r\n")
        except OSError:  # reset after the 413: expected
            pass
        reader.join(timeout=30)
    return sent, bytes(answer)


def test_chunked_body_over_the_limit_gets_413_before_it_is_all_sent(served: Served):
    total = 8 * MAX_REQUEST_BYTES  # 64 MiB offered
    sent, answer = _send_chunked(served.url, total)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "over the limit" in json.loads(body)["error"]
    # The server answered while the client was still sending: it read about the limit, not the body.
    assert sent < total / 2, f"the client got to send {sent} of {total} bytes before the 413"
    # ... and it still serves.
    assert httpx.get(f"{served.url}/readyz", timeout=10).status_code == 200


def test_chunked_body_within_the_limit_is_served(served: Served):
    sample = {
        "sample_id": served.test.sample_ids[0],
        "modalities": {m: served.test.inputs[m][0].tolist() for m in served.model.modalities},
    }
    payload = json.dumps({"samples": [sample]}).encode()

    def pieces():  # a generator body: httpx sends it with Transfer-Encoding: chunked
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    response = httpx.post(
        f"{served.url}/classify",
        content=pieces(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.json()[0]["sample_id"] == sample["sample_id"]
