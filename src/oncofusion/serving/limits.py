"""Refuse what the API cannot take before BentoML reads it: oversized bodies (413) and non-JSON
bodies on POST (415; a malformed multipart body otherwise surfaces as a 500 from the form parser)."""

from __future__ import annotations

import json
from typing import Any

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # 256 samples of a few hundred features are ~2 MB of JSON


class BodySizeLimit:
    """ASGI middleware checking Content-Length (chunked bodies without it pass to the app's own limits)."""

    def __init__(self, app: Any, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
            if scope.get("method") == "POST" and content_type != b"application/json":
                shown = content_type.decode(errors="replace")
                await _reply(send, 415, f"send JSON (Content-Type: application/json), not {shown}")
                return
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                reason = f"request body of {int(length)} bytes is over the limit of {self.max_bytes} bytes"
                await _reply(send, 413, reason)
                return
        await self.app(scope, receive, send)


async def _reply(send: Any, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
