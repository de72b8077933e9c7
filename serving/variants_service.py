"""BentoML service for the somatic-variant champion:
`bentoml serve serving.variants_service:OncofusionVariants`.

`POST /classify_variants` takes tumours' VCFs or MAFs (or JSON rows) and answers each with a
cancer-type call. The reference FASTA is too large to pack into the bento: `ONCOFUSION_REFERENCE`
names it, and the service refuses to start unless its SHA-256 is the one the model recorded.
`ONCOFUSION_VARIANTS_MODEL` picks another model tag from the BentoML store (default: the one the
built bento pinned, else the latest import).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

try:
    import oncofusion  # noqa: F401  (installed: repository venv)
except ImportError:  # inside a built bento the package travels as source under src/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from oncofusion.serving import prometheus

prometheus.isolate("variants")  # before any metric exists in this worker

import bentoml  # noqa: E402
import yaml  # noqa: E402
from bentoml.models import BentoModel  # noqa: E402

from oncofusion.errors import OncofusionError  # noqa: E402
from oncofusion.prediction.featurise import verify_reference  # noqa: E402
from oncofusion.prediction.variants import VariantClassifier, variant_spec  # noqa: E402
from oncofusion.serving.auth import BearerToken, configured_token, require_token_off_loopback  # noqa: E402
from oncofusion.serving.contract import ContractMiddleware  # noqa: E402
from oncofusion.serving.limits import BodySizeLimit  # noqa: E402
from oncofusion.serving.monitoring import InputMonitor, drift_status  # noqa: E402
from oncofusion.serving.store import open_stored  # noqa: E402
from oncofusion.serving.variant_schema import MAX_ROWS, MAX_VARIANT_BYTES, VariantMetadata  # noqa: E402
from oncofusion.serving.variants_app import VariantService, build_app  # noqa: E402

MODEL_NAME = "oncofusion-variants"
REFERENCE_ENV = "ONCOFUSION_REFERENCE"


def _model_tag() -> str:
    if os.environ.get("ONCOFUSION_VARIANTS_MODEL"):
        return os.environ["ONCOFUSION_VARIANTS_MODEL"]
    bento_yaml = Path(__file__).resolve().parents[2] / "bento.yaml"
    if bento_yaml.exists():
        for service in yaml.safe_load(bento_yaml.read_text()).get("services", []):
            for model in service.get("models", []):
                if str(model.get("tag", "")).startswith(f"{MODEL_NAME}:"):
                    return model["tag"]
    return f"{MODEL_NAME}:latest"


def _reference_path() -> str:
    path = os.environ.get(REFERENCE_ENV)
    if not path:
        raise OncofusionError(
            f"{REFERENCE_ENV} is not set: give the path of the reference FASTA the model was trained "
            "against (the bento does not pack it; `make serve-variants` uses data/variants/raw's)"
        )
    return path


TOKEN = configured_token()
require_token_off_loopback(sys.argv, TOKEN)
MODEL_TAG = _model_tag()
# At import, which `bentoml serve` does before starting workers: a missing model or a FASTA whose
# checksum differs stops the server at start, with an error naming the file.
# Only the checksum is checked here: the FASTA itself (3 GB for a human genome) is loaded once, by
# the worker that serves requests, not also by this parent process.
_stored, SERVED = open_stored(MODEL_TAG)
SPEC = variant_spec(SERVED.model, str(_stored.tag))
REFERENCE = verify_reference(SPEC, _reference_path())
METADATA = VariantMetadata(
    model=SERVED.identity,
    classes=SERVED.model.classes,
    catalogues=SERVED.model.modalities,
    reference={"file": SPEC.reference_file, "sha256": SPEC.reference_sha256, "contigs": len(SPEC.contigs)},
    max_upload_bytes=MAX_VARIANT_BYTES,
    max_rows=MAX_ROWS,
    drift_monitoring=drift_status(SERVED.model.reference, SERVED.model.modalities),
)
SERVICE = VariantService(
    make_classifier=lambda: VariantClassifier.open(SERVED.model, REFERENCE, str(_stored.tag), verified=True),
    identity=SERVED.identity,
    metadata=METADATA,
    make_monitor=lambda: InputMonitor(SERVED.model.modalities, SERVED.model.reference, str(_stored.tag)),
)
variants_app = build_app(SERVICE)


@bentoml.asgi_app(variants_app, path="/")
@bentoml.service(name="oncofusion_variants", traffic={"timeout": 60, "max_concurrency": 64})
class OncofusionVariants:
    bento_model = BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        # In the worker, before the first request: the reference is loaded here, and everything loaded
        # so far is frozen out of the garbage collector's scans (a third of a 100,000-variant parse was
        # collector passes over the model and the genome).
        SERVICE.classifier()
        gc.collect()
        gc.freeze()


# Outermost first: a request without the token is refused before its size or body is looked at.
OncofusionVariants.add_asgi_middleware(BearerToken, token=TOKEN)
OncofusionVariants.add_asgi_middleware(
    BodySizeLimit, max_bytes=MAX_VARIANT_BYTES, accept=("application/json", "multipart/form-data")
)
OncofusionVariants.add_asgi_middleware(ContractMiddleware, max_bytes=MAX_VARIANT_BYTES)
