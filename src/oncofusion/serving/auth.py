"""Optional bearer-token authentication for both services.

A tumour's variants are patient data. With a token configured (``ONCOFUSION_API_TOKEN``, or a file
named by ``ONCOFUSION_API_TOKEN_FILE``), every request except the health probes must carry
``Authorization: Bearer <token>``; anything else is answered 401 before a byte of its body is read,
and only the refusal is logged. Without a token the service must stay on loopback: starting it on
another address is refused (:func:`require_token_off_loopback`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oncofusion.errors import OncofusionError

TOKEN_ENV = "ONCOFUSION_API_TOKEN"
TOKEN_FILE_ENV = "ONCOFUSION_API_TOKEN_FILE"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz"})  # probes carry no patient data
log = logging.getLogger("oncofusion.serving.auth")


def configured_token(environ: dict[str, str] | None = None) -> str | None:
    environ = dict(os.environ) if environ is None else environ
    token = environ.get(TOKEN_ENV)
    if not token and environ.get(TOKEN_FILE_ENV):
        path = Path(environ[TOKEN_FILE_ENV])
        try:
            token = path.read_text().strip()
        except OSError as error:
            raise OncofusionError(f"{TOKEN_FILE_ENV}={path}: cannot read the API token ({error})") from None
    if token is not None and len(token) < 16:
        raise OncofusionError(f"{TOKEN_ENV}: the API token must be at least 16 characters")
    return token or None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _default_host() -> str:
    """The address `bentoml serve` binds without --host: BentoML's configured default (0.0.0.0)."""
    try:
        from bentoml._internal.configuration.containers import BentoMLContainer

        return str(BentoMLContainer.http.host.get())
    except Exception:  # BentoML's internals moved: assume the worst
        return "0.0.0.0"


def require_token_off_loopback(argv: Sequence[str], token: str | None) -> None:
    """`bentoml serve` without a token: refuse any address that is not loopback, including BentoML's
    default (0.0.0.0) when no --host is given. Only the `serve` command is judged: `bentoml build` and
    the server's worker processes import the service too, with other arguments."""
    if token or "serve" not in argv[1:3]:
        return
    host = None
    for i, arg in enumerate(argv):
        if arg == "--host" and i + 1 < len(argv):
            host = argv[i + 1]
        elif arg.startswith("--host="):
            host = arg.split("=", 1)[1]
    if host is None:
        host = _default_host()
    if not _is_loopback(host):
        raise OncofusionError(
            f"--host {host}: without an API token the service only binds to loopback; pass --host "
            f"127.0.0.1 (BentoML's default is 0.0.0.0), or set {TOKEN_ENV} (or {TOKEN_FILE_ENV}) to serve "
            "on another address"
        )


class BearerToken:
    """ASGI middleware: 401 for any request without the configured token (probes excepted)."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.expected is None or scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        log.warning(
            "refused %s %s: %s",
            scope.get("method"),
            scope.get("path"),
            "wrong token" if given else "no token",
        )
        body = json.dumps({"error": "missing or wrong bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="oncofusion"'),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
