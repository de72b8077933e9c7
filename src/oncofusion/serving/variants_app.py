"""`POST /classify_variants` and `GET /metadata` of the variant bento, as a FastAPI app BentoML mounts.

The endpoint parses the request itself rather than through a BentoML file argument: BentoML names the
temporary file of an upload after the client's filename and fetches a form value given as a URL, and
neither may happen with patient data. Here an upload is read from Starlette's spooled temporary file
(memory, then an anonymous file, removed when the request ends), the client's filename only appears in
messages, and JSON rows are validated by pydantic.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from oncofusion.errors import OncofusionError
from oncofusion.prediction.uploads import Upload, read_upload, rows_table
from oncofusion.prediction.variants import VariantClassifier, one_torch_thread
from oncofusion.serving.contract import error_detail
from oncofusion.serving.variant_schema import (
    MAX_FILES,
    MAX_VARIANT_BYTES,
    UPLOAD_FIELD,
    VariantAnswer,
    VariantMetadata,
    VariantRows,
    request_body,
)

log = logging.getLogger("oncofusion.serving.variants")
ERRORS = {
    "400": {"description": "Unreadable input, another build, REF mismatches, no usable record"},
    "401": {"description": "Missing or wrong bearer token (when the service has one)"},
    "413": {"description": f"Request body over {MAX_VARIANT_BYTES} bytes"},
    "415": {"description": "Neither multipart/form-data nor application/json"},
    "422": {"description": "JSON rows that do not match the schema"},
}


def _safe_name(name: str | None, index: int) -> str:
    """The client's filename for messages only: printable, short, never a path."""
    shown = "".join(c for c in (name or "") if c.isprintable() and c not in "/\\")[:120]
    return shown or f"upload {index + 1}"


@dataclass
class VariantService:
    make_classifier: Callable[[], VariantClassifier]  # loads the FASTA: once per worker
    identity: dict[str, str]
    metadata: VariantMetadata
    make_monitor: Any  # called once per worker, after BentoML has set up Prometheus
    _classifier: VariantClassifier | None = None
    _monitor: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def classifier(self) -> VariantClassifier:
        with self._lock:
            if self._classifier is None:
                self._classifier = self.make_classifier()
            return self._classifier

    def monitor(self) -> Any:
        with self._lock:
            if self._monitor is None:
                self._monitor = self.make_monitor()
            return self._monitor

    def answer(self, uploads: list[Upload]) -> list[dict[str, Any]]:
        out = []
        classifier = self.classifier()
        with one_torch_thread():
            for upload in uploads:
                answers = classifier.classify(upload, observe=self._observe)
                out.extend({**a, "model": self.identity} for a in answers)
        return out

    def _observe(self, inputs: dict[str, Any], present: Any) -> None:
        try:
            self.monitor().observe(inputs, present)
        except Exception:  # monitoring must never cost an answer
            log.exception("input monitoring failed on %d tumours", len(present))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def build_app(service: VariantService) -> FastAPI:
    app = FastAPI(title="variants", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/metadata", response_model=VariantMetadata, tags=["Model"])
    def metadata() -> VariantMetadata:
        """The served model, the reference FASTA it needs and the request limits."""
        return service.metadata

    @app.post(
        "/classify_variants",
        response_model=list[VariantAnswer],
        tags=["Service APIs"],
        openapi_extra={"requestBody": request_body(), "responses": ERRORS},
    )
    async def classify_variants(request: Request) -> Any:
        """Cancer type of one or more tumours from their somatic variants: a VCF per tumour or a MAF
        (multipart `file` parts; plain, gzip or bgzip) or JSON rows. Each tumour's answer has the call,
        calibrated probabilities, the conformal prediction set, the variants used and dropped (with
        why) and the COSMIC signatures behind its catalogues."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == "multipart/form-data":
                uploads = await _uploads(request)
            elif content_type == "application/json":
                uploads = [await _rows(request)]
            else:
                return _error(
                    415, f"send multipart/form-data or application/json, not {content_type or 'nothing'}"
                )
            answers = await run_in_threadpool(service.answer, uploads)
        except _Refused as refused:
            return _error(refused.status, str(refused))
        except OncofusionError as error:
            return _error(400, str(error))
        return JSONResponse([VariantAnswer.model_validate(a).model_dump(mode="json") for a in answers])

    return app


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _uploads(request: Request) -> list[Upload]:
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=10, max_part_size=MAX_VARIANT_BYTES)
    except Exception as error:  # python-multipart and Starlette raise several types
        raise _Refused(400, f"unreadable multipart body ({error})") from None
    try:
        parts = form.getlist(UPLOAD_FIELD)
        files = [p for p in parts if isinstance(p, UploadFile)]
        if not files or len(files) != len(parts):
            raise _Refused(400, f"give the variants as one or more '{UPLOAD_FIELD}' file parts")
        uploads = []
        for index, part in enumerate(files):
            name = _safe_name(part.filename, index)
            data = await part.read()
            uploads.append(await run_in_threadpool(read_upload, data, name))
        return uploads
    finally:
        await form.close()  # the spooled temporary files go now


async def _rows(request: Request) -> Upload:
    body = await request.body()
    try:
        rows = VariantRows.model_validate_json(body)
    except ValidationError as error:
        raise _Refused(422, error_detail(json.loads(error.json()))) from None
    return rows_table(rows.rows, source="rows")
