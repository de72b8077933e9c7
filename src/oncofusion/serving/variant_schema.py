"""Request and response models of `POST /classify_variants`, and the OpenAPI request body that says
both ways of sending tumours (a VCF/MAF upload, or JSON rows) so a generated client knows them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_VARIANT_BYTES = 64 * 1024 * 1024  # a 100,000-variant VCF is ~10 MB plain, ~2 MB gzipped
MAX_ROWS = 200_000
MAX_FILES = 100
UPLOAD_FIELD = "file"
ALLELE = r"^[ACGTNacgtn]*$|^[-.]$"


class VariantRow(BaseModel):
    """One somatic variant in VCF coordinates: 1-based POS, REF and ALT including any padding base."""

    model_config = ConfigDict(extra="forbid")

    sample: Annotated[str, Field(min_length=1, max_length=256, strict=True)]
    chrom: Annotated[str, Field(min_length=1, max_length=256, strict=True)]
    pos: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
    ref: Annotated[str, Field(min_length=1, max_length=1000, pattern=ALLELE, strict=True)]
    alt: Annotated[str, Field(min_length=1, max_length=1000, pattern=ALLELE, strict=True)]


class VariantRows(BaseModel):
    """Tumours as JSON rows; each distinct `sample` is one tumour and gets one answer."""

    model_config = ConfigDict(extra="forbid")

    rows: Annotated[list[VariantRow], Field(min_length=1, max_length=MAX_ROWS)]


class SignatureExposure(BaseModel):
    signature: str  # COSMIC v3 name, e.g. SBS4
    catalogue: str  # sbs96 | dbs78 | id83
    mutations: float  # NNLS exposure
    share: float  # of the tumour's mutations in that catalogue
    fit_cosine: float  # how well all exposures together reconstruct the catalogue


class VariantAnswer(BaseModel):
    sample_id: str
    # The called cancer type, or "no call" when the tumour has no usable variant (see no_call_reason).
    predicted: str
    probabilities: dict[str, float] | None
    # Conformal prediction set (most probable first) at the model's stated coverage.
    prediction_set: list[str] | None
    # The catalogues whose thresholds made the set (all of them: a tumour's catalogues are all built).
    set_calibrated_for: str | None = None
    # Why the tumour's catalogues look unlike the training tumours' (empty: they do not); such a
    # tumour's set holds every class.
    outside_training: list[str] = []
    attention: dict[str, float] | None  # per catalogue
    modalities_used: list[str]
    variants_used: int
    variants_dropped: dict[str, int]  # reason → count
    signatures: list[SignatureExposure]  # largest exposures first: what the call rests on
    no_call_reason: str | None
    model: dict[str, str]


class VariantMetadata(BaseModel):
    model: dict[str, str]
    classes: list[str]
    catalogues: list[str]
    reference: dict[str, Any]  # the FASTA the model needs: file name, SHA-256, contigs
    max_upload_bytes: int
    max_rows: int
    drift_monitoring: dict[str, str]


def rows_schema() -> dict[str, Any]:
    """VariantRows' JSON schema with the row inlined (FastAPI does not publish models named only in
    `openapi_extra` under components, so a reference would dangle)."""
    schema = VariantRows.model_json_schema()
    schema.pop("$defs", None)
    schema["properties"]["rows"]["items"] = VariantRow.model_json_schema()
    return schema


def request_body() -> dict[str, Any]:
    """The OpenAPI requestBody: multipart (one or more `file` parts) or JSON rows."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [UPLOAD_FIELD],
                    "properties": {
                        UPLOAD_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": MAX_FILES,
                            "description": "VCF (one tumour each) or MAF files; plain, gzip or bgzip",
                        }
                    },
                }
            },
            "application/json": {"schema": rows_schema()},
        },
    }
