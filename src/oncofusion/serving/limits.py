"""Refuse what the API cannot take before BentoML reads it: oversized bodies (413) and non-JSON
bodies on POST (415; a malformed multipart body otherwise surfaces as a 500 from the form parser).

A body with a Content-Length over the limit is refused before a byte of it is read. A body without
one (`Transfer-Encoding: chunked`) is read here up to the limit and refused as soon as it passes it,
so at most `max_bytes` of it is ever held; one within the limit is handed to the app as received.
"""

from __future__ import annotations

import json
from typing import Any

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # 256 samples of a few hundred features are ~2 MB of JSON
BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodySizeLimit:
    """ASGI middleware bounding request bodies, by Content-Length or by counting chunked bytes."""

    def __init__(
        self, app: Any, max_bytes: int = MAX_REQUEST_BYTES, accept: tuple[str, ...] = ("application/json",)
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.accept = {a.encode() for a in accept}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if scope.get("method") == "POST" and content_type not in self.accept:
            shown = content_type.decode(errors="replace")
            wanted = " or ".join(sorted(a.decode() for a in self.accept))
            await _reply(send, 415, f"send {wanted} (Content-Type), not {shown}")
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            reason = f"request body of {int(length)} bytes is over the limit of {self.max_bytes} bytes"
            await _reply(send, 413, reason)
            return
        if length is None and scope.get("method") in BODY_METHODS:
            receive = await self._bounded(receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _bounded(self, receive: Any, send: Any) -> Any:
        """Read a body of unknown length up to the limit: a replaying `receive`, or None after a 413."""
        messages: list[dict[str, Any]] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client went away: let the app see it
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                reason = f"chunked request body is over the limit of {self.max_bytes} bytes"
                await _reply(send, 413, reason)
                return None
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        return replay


async def _reply(send: Any, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of a refused body is never read
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
