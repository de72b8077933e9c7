"""A Prometheus multiprocess directory of each server's own.

`bentoml serve` points every server's workers at one directory (``$BENTOML_HOME/prometheus_multiproc_dir``)
and wipes it when a server starts: a second bento served on the same machine deleted the first one's
counters, and `/metrics` of either then summed both services' series. Each worker of a server moves to
a directory named after its service and its server process (the workers' parent) before any metric is
created, so two servers never share one, and a restart of one leaves the other's counters alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def isolate(service: str) -> str | None:
    """Point this worker at ``<tmp>/oncofusion-prometheus-<service>-<server pid>``; the path, or None
    outside a BentoML worker (no multiprocess directory set)."""
    if not os.environ.get(ENV) or os.environ.get("ONCOFUSION_PROMETHEUS_ISOLATED"):
        return os.environ.get(ENV) if os.environ.get("ONCOFUSION_PROMETHEUS_ISOLATED") else None
    own = Path(tempfile.gettempdir()) / f"oncofusion-prometheus-{service}-{os.getppid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    os.environ[ENV] = str(own)
    os.environ["ONCOFUSION_PROMETHEUS_ISOLATED"] = "1"
    return str(own)
