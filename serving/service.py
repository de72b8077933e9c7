"""BentoML service for the registered champion: `bentoml serve serving.service:OncofusionClassifier`.

The model is a class attribute (`BentoModel`), so `bentoml build` bundles exactly that model into the
bento. `ONCOFUSION_BENTO_MODEL` picks another tag from the BentoML store (default: the latest import).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    import oncofusion  # noqa: F401  (installed: repository venv)
except ImportError:  # inside a built bento the package travels as source under src/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from typing import Annotated

import bentoml
import numpy as np
import yaml
from bentoml.exceptions import InvalidArgument
from bentoml.models import BentoModel
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oncofusion.models.pyfunc import prediction_sets
from oncofusion.serving.limits import MAX_REQUEST_BYTES, BodySizeLimit
from oncofusion.serving.schema import MAX_SAMPLES_PER_REQUEST, Prediction, sample_model
from oncofusion.serving.store import describe, load_served, read_schema


def _model_tag() -> str:
    """The model to serve: $ONCOFUSION_BENTO_MODEL, else the one a built bento pinned, else the latest.

    Inside a bento (<bento>/src/serving/service.py) bento.yaml names the exact model bundled at build
    time; `:latest` there could resolve to a newer import from another checkout sharing the store.
    """
    if os.environ.get("ONCOFUSION_BENTO_MODEL"):
        return os.environ["ONCOFUSION_BENTO_MODEL"]
    bento_yaml = Path(__file__).resolve().parents[2] / "bento.yaml"
    if bento_yaml.exists():
        for service in yaml.safe_load(bento_yaml.read_text()).get("services", []):
            for model in service.get("models", []):
                if str(model.get("tag", "")).startswith("oncofusion-classifier:"):
                    return model["tag"]
    return "oncofusion-classifier:latest"


MODEL_TAG = _model_tag()
_stored = bentoml.models.get(MODEL_TAG)
Sample = sample_model(read_schema(_stored.path))  # request model generated from this model's schema
METADATA = describe(_stored.path, _stored.info.labels, str(_stored.tag), MAX_SAMPLES_PER_REQUEST)


async def _metadata(request: Request) -> JSONResponse:
    return JSONResponse(METADATA)


# GET /metadata: BentoML APIs are POST, so the read-only document is a small ASGI app mounted at the
# root (BentoML's own routes match first; under "/metadata" Starlette would redirect to "/metadata/").
metadata_app = Starlette(routes=[Route("/metadata", _metadata, methods=["GET"])])


@bentoml.asgi_app(metadata_app, path="/")
@bentoml.service(name="oncofusion_classifier", traffic={"timeout": 30, "max_concurrency": 512})
class OncofusionClassifier:
    bento_model = BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        stored = bentoml.models.get(self.bento_model.tag)
        self.served = load_served(stored.path, stored.info.labels, str(stored.tag))
        self.names = self.served.model.modalities
        self.classes = self.served.model.classes

    @bentoml.api(batchable=True, max_batch_size=MAX_SAMPLES_PER_REQUEST, max_latency_ms=2000)
    def classify(
        self,
        samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES_PER_REQUEST)],  # type: ignore[valid-type]
    ) -> list[Prediction]:
        n = len(samples)
        if n == 0:  # every request in this batch was an empty list
            raise InvalidArgument("samples: give at least one sample")
        inputs = {
            m: np.full((n, len(self.served.schema[m]["features"])), np.nan, dtype=np.float32)
            for m in self.names
        }
        present = np.zeros((n, len(self.names)), dtype=bool)
        for i, sample in enumerate(samples):
            for j, name in enumerate(self.names):
                values = getattr(sample.modalities, name)
                if values is not None:
                    inputs[name][i] = values
                    present[i, j] = True
        result = self.served.model.predict(inputs, present)
        sets = (
            prediction_sets(result["sets"], result["probabilities"], self.classes)
            if "sets" in result
            else None
        )
        out = []
        for i, sample in enumerate(samples):
            probabilities = result["probabilities"][i]
            out.append(
                Prediction(
                    sample_id=sample.sample_id,
                    predicted=self.classes[int(probabilities.argmax())],
                    probabilities={c: float(p) for c, p in zip(self.classes, probabilities, strict=True)},
                    attention={m: float(a) for m, a in zip(self.names, result["attention"][i], strict=True)},
                    modalities_used=[m for j, m in enumerate(self.names) if present[i, j]],
                    prediction_set=sets[i] if sets is not None else None,
                    model=self.served.identity,
                )
            )
        return out


OncofusionClassifier.add_asgi_middleware(BodySizeLimit, max_bytes=MAX_REQUEST_BYTES)
