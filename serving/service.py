"""BentoML service for the registered champion: `bentoml serve serving.service:OncofusionClassifier`.

The model is a class attribute (`BentoModel`), so `bentoml build` bundles exactly that model into the
bento. `ONCOFUSION_BENTO_MODEL` picks another tag from the BentoML store (default: the latest import).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

try:
    import oncofusion  # noqa: F401  (installed: repository venv)
except ImportError:  # inside a built bento the package travels as source under src/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from oncofusion.serving import prometheus

prometheus.isolate("classifier")  # before any metric exists in this worker

from typing import Annotated  # noqa: E402

import bentoml  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from bentoml.exceptions import InvalidArgument  # noqa: E402
from bentoml.models import BentoModel  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import Field  # noqa: E402

from oncofusion.models.class_mix import (  # noqa: E402
    MIN_BATCH_FOR_ESTIMATE,
    estimate_batch_mix,
    stated_mix,
)
from oncofusion.models.pyfunc import prediction_sets  # noqa: E402
from oncofusion.models.set_predictor import widen_flagged  # noqa: E402
from oncofusion.serving.auth import BearerToken, configured_token, require_token_off_loopback  # noqa: E402
from oncofusion.serving.contract import ContractMiddleware  # noqa: E402
from oncofusion.serving.limits import MAX_REQUEST_BYTES, BodySizeLimit  # noqa: E402
from oncofusion.serving.monitoring import InputMonitor, drift_status  # noqa: E402
from oncofusion.serving.schema import (  # noqa: E402
    MAX_SAMPLES_PER_REQUEST,
    CohortAnswer,
    Metadata,
    MixChoice,
    Prediction,
    class_mix_model,
    profile_note,
    profile_total,
    rescale_profile,
    sample_model,
)
from oncofusion.serving.store import describe, open_stored  # noqa: E402


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


logger = logging.getLogger("oncofusion.serving")
TOKEN = configured_token()
require_token_off_loopback(sys.argv, TOKEN)
MODEL_TAG = _model_tag()
# Loaded here, at import, which `bentoml serve` does before starting workers: a missing or damaged
# model stops the server at start with an error naming it. Each worker imports this module too and
# reuses the loaded model.
_stored, SERVED = open_stored(MODEL_TAG)
Sample = sample_model(SERVED.schema)  # request model generated from this model's schema
ClassMix = class_mix_model(SERVED.model.classes)
PROFILES = {m: t for m in SERVED.model.modalities if (t := profile_total(SERVED.schema[m])) is not None}
METADATA = Metadata.model_validate(
    {
        **describe(_stored.path, _stored.info.labels, str(_stored.tag), MAX_SAMPLES_PER_REQUEST),
        "drift_monitoring": drift_status(SERVED.model.reference, SERVED.model.modalities),
    }
)

# GET /metadata: BentoML APIs are POST, so the read-only document is a small FastAPI app mounted at
# the root (BentoML's own routes match first, and BentoML puts a FastAPI app's routes in /docs.json).
metadata_app = FastAPI(title="metadata", docs_url=None, redoc_url=None, openapi_url=None)


@metadata_app.get("/metadata", response_model=Metadata, tags=["Model"])
def metadata() -> Metadata:
    """The served model: registry name and version, classes, modality schema, request limits."""
    return METADATA


@bentoml.asgi_app(metadata_app, path="/")
@bentoml.service(name="oncofusion_classifier", traffic={"timeout": 30, "max_concurrency": 512})
class OncofusionClassifier:
    bento_model = BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        self.served = SERVED
        self.names = self.served.model.modalities
        self.classes = self.served.model.classes
        self.monitor = InputMonitor(self.names, self.served.model.reference, str(_stored.tag))

    @bentoml.api(batchable=True, max_batch_size=MAX_SAMPLES_PER_REQUEST, max_latency_ms=2000)
    def classify(
        self,
        samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES_PER_REQUEST)],  # type: ignore[valid-type]
    ) -> list[Prediction]:
        if len(samples) == 0:  # every request in this batch was an empty list
            raise InvalidArgument("samples: give at least one sample")
        return self._answer(samples)

    @bentoml.api
    def classify_cohort(
        self,
        samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES_PER_REQUEST)],  # type: ignore[valid-type]
        class_mix: MixChoice | ClassMix = MixChoice.estimate,  # type: ignore[valid-type]
    ) -> CohortAnswer:
        """One cohort's samples, called for its class mix: "estimate" (from these samples, at least
        MIN_BATCH_FOR_ESTIMATE of them; fewer are called as /classify calls them, and the answer says
        so) or {class: share}. Not batched with other requests: the mix belongs to this request alone."""
        training = self.served.model.training_frequency
        if training is None:
            raise InvalidArgument("class_mix: this model predates stored training class counts")
        inputs, present, notes = self._inputs(samples)
        result = self.served.model.predict(inputs, present)
        if isinstance(class_mix, MixChoice):
            mix = estimate_batch_mix(result["probabilities"], training)
            note = (
                "class mix estimated from these samples"
                if mix is not None
                else f"{len(samples)} samples (< {MIN_BATCH_FOR_ESTIMATE}): no class mix estimated"
            )
        else:
            mix, note = stated_mix(class_mix.model_dump(by_alias=True), self.classes), "class mix as stated"
        if mix is not None:
            result = self.served.model.adapt(result, present, mix)
        return CohortAnswer(
            predictions=self._predictions(samples, result, present, notes),
            class_mix=_shares(self.classes, mix) if mix is not None else {},
            note=note,
        )

    def _answer(self, samples: list) -> list[Prediction]:
        inputs, present, notes = self._inputs(samples)
        return self._predictions(samples, self.served.model.predict(inputs, present), present, notes)

    def _inputs(self, samples: list) -> tuple[dict[str, np.ndarray], np.ndarray, list[list[str]]]:
        """The samples as model inputs (a rescaled profile noted per sample), observed for drift."""
        n = len(samples)
        inputs = {
            m: np.full((n, len(self.served.schema[m]["features"])), np.nan, dtype=np.float32)
            for m in self.names
        }
        present = np.zeros((n, len(self.names)), dtype=bool)
        rescaled = dict.fromkeys(PROFILES, 0)
        notes: list[list[str]] = [[] for _ in range(n)]
        for i, sample in enumerate(samples):
            for j, name in enumerate(self.names):
                values = getattr(sample.modalities, name)
                if values is None:
                    continue
                if name in PROFILES:
                    sent = values
                    values, changed = rescale_profile(values, PROFILES[name])
                    rescaled[name] += changed
                    if changed:
                        notes[i].append(profile_note(name, sent, PROFILES[name]))
                inputs[name][i] = [np.nan if v is None else v for v in values]
                present[i, j] = True
        try:
            self.monitor.observe(inputs, present, rescaled)
        except Exception:  # monitoring must never cost an answer
            logger.exception("input monitoring failed on a batch of %d samples", n)
        return inputs, present, notes

    def _predictions(
        self, samples: list, result: dict, present: np.ndarray, notes: list[list[str]]
    ) -> list[Prediction]:
        sets = (  # the model widened the sets it flagged itself; a rescaled profile is flagged here
            prediction_sets(
                widen_flagged(result["sets"], [bool(x) for x in notes]), result["probabilities"], self.classes
            )
            if "sets" in result
            else None
        )
        notes = [mine + theirs for mine, theirs in zip(notes, result["outside"], strict=True)]
        out = []
        for i, sample in enumerate(samples):
            probabilities = result["probabilities"][i]
            out.append(
                Prediction(
                    sample_id=sample.sample_id,
                    predicted=self.classes[int(result["predicted"][i])],
                    probabilities={c: float(p) for c, p in zip(self.classes, probabilities, strict=True)},
                    attention={m: float(a) for m, a in zip(self.names, result["attention"][i], strict=True)},
                    modalities_used=[m for j, m in enumerate(self.names) if present[i, j]],
                    prediction_set=sets[i] if sets is not None else None,
                    set_calibrated_for=result["set_calibrated_for"][i] if sets is not None else None,
                    outside_training=notes[i],
                    model=self.served.identity,
                )
            )
        return out


def _shares(classes: list[str], mix: np.ndarray) -> dict[str, float]:
    return {c: round(float(v), 6) for c, v in zip(classes, mix, strict=True)}


# Outermost first: a request without the token is refused before its size or body is looked at.
OncofusionClassifier.add_asgi_middleware(BearerToken, token=TOKEN)
OncofusionClassifier.add_asgi_middleware(BodySizeLimit, max_bytes=MAX_REQUEST_BYTES)
OncofusionClassifier.add_asgi_middleware(ContractMiddleware, max_bytes=MAX_REQUEST_BYTES)
