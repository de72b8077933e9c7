"""Make the service's answers match its published contract (`/docs.json`).

BentoML documents a 400 body as `{"error": str, "detail": str}` but answers a request that fails
validation with pydantic's error list in `detail`; this middleware writes that list as one string
naming each field (`samples[0].modalities.methylation[3]: ...`). It also completes the OpenAPI
document: request bodies are required, and the answers the service gives before BentoML sees a request
(413 and 415, from `limits.py`) are listed, so a generated client knows every status it can get.
"""

from __future__ import annotations

import json
from typing import Any

REFUSED_SCHEMA = "RequestRefused"  # the body of a 413 or 415: {"error": str}


def error_detail(errors: list[Any]) -> str:
    """Pydantic's error list as one line per error: `<field path>: <message>`."""
    lines = []
    for error in errors:
        if not isinstance(error, dict):
            lines.append(str(error))
            continue
        path = ""
        for part in error.get("loc") or []:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        lines.append(f"{path or 'body'}: {message}")
    return "; ".join(lines)


def amend_openapi(spec: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Mark every service API's request body required and add its 413 and 415 answers (with their body
    schema): what BentoML's generated document leaves out."""
    refused = {"$ref": f"#/components/schemas/{REFUSED_SCHEMA}"}
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method != "post" or "x-bentoml-name" not in operation:
                continue
            if "requestBody" in operation:  # OpenAPI's default is optional; without one the answer is 400
                operation["requestBody"]["required"] = True
            operation.setdefault("responses", {}).update(
                {
                    "413": {
                        "description": f"Request body over {max_bytes} bytes (Content-Length or chunked)",
                        "content": {"application/json": {"schema": refused}},
                    },
                    "415": {
                        "description": "Request body not sent as JSON (Content-Type: application/json)",
                        "content": {"application/json": {"schema": refused}},
                    },
                }
            )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas[REFUSED_SCHEMA] = {
        "type": "object",
        "title": REFUSED_SCHEMA,
        "required": ["error"],
        "properties": {"error": {"type": "string", "title": "Message"}},
        "description": "Refused before the request was read",
    }
    return spec


class ContractMiddleware:
    """ASGI middleware: amends `GET /docs.json` and rewrites error bodies whose `detail` is not a string."""

    def __init__(self, app: Any, max_bytes: int, docs_path: str = "/docs.json") -> None:
        self.app, self.max_bytes, self.docs_path = app, max_bytes, docs_path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope.get("method") == "GET" and scope.get("path") == self.docs_path
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def rewriting_send(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if is_docs or message["status"] >= 400:
                    start = message  # held until the body is complete
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = self._rewrite(b"".join(chunks), is_docs, _content_type(start))
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, rewriting_send)

    def _rewrite(self, body: bytes, is_docs: bool, content_type: bytes) -> bytes:
        if content_type != b"application/json":
            return body
        try:
            document = json.loads(body)
        except ValueError:
            return body
        if is_docs:
            document = amend_openapi(document, self.max_bytes)
        elif isinstance(document, dict) and "detail" in document and not isinstance(document["detail"], str):
            detail = document["detail"]
            document["detail"] = error_detail(detail) if isinstance(detail, list) else json.dumps(detail)
        else:
            return body
        return json.dumps(document).encode()


def _content_type(start: dict[str, Any]) -> bytes:
    for key, value in start.get("headers", []):
        if key.lower() == b"content-type":
            return value.split(b";")[0].strip().lower()
    return b""
