"""Stage `bento`: import the registry's champion into the BentoML store and build the service around it.

Each branch has its own bentofile (bentofile.yaml: multi-omics `/classify`; bentofile-variants.yaml:
`/classify_variants`) and its own registered model name, which is also the model's name in the
BentoML store, so the two bentos never pick up each other's model.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oncofusion import atomic
from oncofusion.config import Params


def bento(params: Params, out_file: Path, bentofile: Path = Path("bentofile.yaml")) -> dict[str, Any]:
    """Import the registry's champion into the BentoML store and build the bento around it."""
    import bentoml

    from oncofusion import tracking
    from oncofusion.serving.store import import_champion

    atomic.require_writable(out_file)
    tracking.use_tracking()
    reg = params.registration
    model = import_champion(reg.model_name, reg.alias)
    with _reference_for_build(params):
        built = bentoml.bentos.build_bentofile(
            str(bentofile), build_ctx=".", labels={"model": str(model.tag)}
        )
    record = {
        "bento": str(built.tag),
        "bento_model": str(model.tag),
        "registry_name": model.info.labels["registry_name"],
        "registry_version": model.info.labels["registry_version"],
        "alias": reg.alias,
        "serve": f"bentoml serve {built.tag}",
    }
    atomic.write_json(out_file, record)
    return record


@contextlib.contextmanager
def _reference_for_build(params: Params) -> Iterator[None]:
    """`bentoml build` imports the service, and the variant service checks its FASTA when imported: give
    it the cohort's own FASTA (unless ONCOFUSION_REFERENCE names one), so the build also proves the
    bento's model and that FASTA belong together."""
    variable = "ONCOFUSION_REFERENCE"
    if params.cohort.source != "variants" or os.environ.get(variable):
        yield
        return
    os.environ[variable] = str(Path(params.cohort.path) / params.cohort.variants.reference)
    try:
        yield
    finally:
        os.environ.pop(variable, None)
