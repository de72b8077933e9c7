"""Stage `bento`: import the registry's champion into the BentoML store and build the service around it.

Each branch has its own bentofile (bentofile.yaml: multi-omics `/classify`; bentofile-variants.yaml:
`/classify_variants`) and its own registered model name, which is also the model's name in the
BentoML store, so the two bentos never pick up each other's model.
"""

from __future__ import annotations

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
    built = bentoml.bentos.build_bentofile(str(bentofile), build_ctx=".", labels={"model": str(model.tag)})
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
