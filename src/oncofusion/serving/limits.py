"""Refuse oversized request bodies before they are read: 413 with the limit, not an out-of-memory."""

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
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_bytes:
                reason = f"request body of {int(length)} bytes is over the limit of {self.max_bytes} bytes"
                body = json.dumps({"error": reason}).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
