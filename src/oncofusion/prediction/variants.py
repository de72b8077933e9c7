"""Tumours' somatic variants → cancer-type calls, with what was used, what was left out and why, and
the COSMIC signatures behind each catalogue.

A tumour with no usable variant gets "no call" and the reason, never a guess from an empty catalogue.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.data.variants.reference import Reference
from oncofusion.errors import OncofusionError
from oncofusion.models.bundle import LoadedModel
from oncofusion.prediction.answers import answers
from oncofusion.prediction.featurise import (
    VariantInputSpec,
    check_build,
    featurise,
    open_reference,
)
from oncofusion.prediction.uploads import Upload

NO_CALL = "no call"


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """A few tumours are a tiny forward pass: with torch's default thread per core it waits for a busy
    core (measured with one core taken by another process: 412 ms a call with two threads, 9 ms with
    one; the service's throughput at concurrency 1 was 3.4× higher with one)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def variant_spec(model: LoadedModel, where: str) -> VariantInputSpec:
    if not model.variant_input:
        raise OncofusionError(
            f"{where}: this model was not trained on somatic variants (it has no reference record); "
            "give a variant model (oncofusion-variants) or multi-omics tables"
        )
    return VariantInputSpec.model_validate(model.variant_input)


@dataclass
class VariantClassifier:
    """A variant model with the FASTA it was trained against (checked by checksum when opened)."""

    model: LoadedModel
    spec: VariantInputSpec
    reference: Reference

    @classmethod
    def open(
        cls, model: LoadedModel, reference_path: str | Path, where: str = "model", verified: bool = False
    ) -> VariantClassifier:
        spec = variant_spec(model, where)
        return cls(model=model, spec=spec, reference=open_reference(spec, reference_path, verified))

    def classify(
        self,
        upload: Upload,
        observe: Callable[..., None] | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[dict[str, Any]]:
        """One answer per tumour in the upload, in the order the tumours first appear; ``observe``
        (the service's drift monitor) sees the catalogues the model is given; ``timings`` gets seconds
        per phase (gate, catalogues, signatures, model)."""
        check_build(self.spec, upload.header_contigs, upload.source)
        features = featurise(upload.table, self.reference, self.spec, upload.source, timings)
        started = time.perf_counter()
        names = self.model.modalities
        n = len(features.scored)
        inputs = {m: features.inputs[m] for m in names}
        present = np.ones((n, len(names)), dtype=bool)
        if observe is not None and n:
            observe(inputs, present)
        scored = dict(zip(features.scored, answers(self.model, inputs, present), strict=True))
        if timings is not None:
            timings["model"] = timings.get("model", 0.0) + time.perf_counter() - started
        out = []
        for sample in features.samples:
            dropped = (
                {**upload.skipped, **features.dropped[sample]}
                if len(features.samples) == 1
                else dict(features.dropped[sample])
            )
            answer: dict[str, Any] = {
                "sample_id": sample,
                "variants_used": features.used[sample],
                "variants_dropped": dropped,
            }
            if sample in scored:
                answer.update(scored[sample])
                answer["signatures"] = features.exposures.get(sample, [])
                answer["no_call_reason"] = None
            else:
                reasons = ", ".join(f"{k}: {v}" for k, v in dropped.items()) or "no variants"
                answer.update(
                    {
                        "predicted": NO_CALL,
                        "probabilities": None,
                        "prediction_set": None,
                        "attention": None,
                        "modalities_used": [],
                        "signatures": [],
                        "no_call_reason": f"no usable variant ({reasons})",
                    }
                )
            out.append(answer)
        return out
