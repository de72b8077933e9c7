"""Per-modality input monitoring exported on BentoML's Prometheus `/metrics`.

- `oncofusion_input_samples_total{modality, status="present"|"missing"}`: samples seen per modality;
- `oncofusion_input_drift_psi{modality}`: population-stability index of the last `window` samples of
  the modality against the training reference stored in the model (largest over its principal
  components), once the window holds `min_samples`;
- `oncofusion_input_drift_window_samples{modality}`: how many samples that figure is computed from;
- `oncofusion_input_profiles_rescaled_total{modality}`: profiles not summing to their total, rescaled;
- `oncofusion_classify_batch_size`: samples per model call, so adaptive batching can be seen working.

Each API worker keeps its own window; under several workers the gauge shows the largest (livemax).
`prometheus_client` is imported when a monitor is made (in the worker), after BentoML has set
PROMETHEUS_MULTIPROC_DIR, so the values reach the multiprocess collector behind `/metrics`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from oncofusion.monitoring.drift import DriftWindow
from oncofusion.monitoring.reference import FORMAT

logger = logging.getLogger("oncofusion.serving.monitoring")

DRIFT_WINDOW = 500  # recent samples per modality the PSI is computed over
DRIFT_MIN_SAMPLES = 100  # no figure before this many: PSI of a handful of samples is noise
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def drift_status(reference: dict[str, Any] | None, names: list[str]) -> dict[str, str]:
    """Per modality, "on" or why drift cannot be measured (what the log and /metadata say)."""
    if reference is None:
        reason = "off: the model carries no training reference (saved before drift monitoring)"
        return dict.fromkeys(names, reason)
    if reference.get("format") != FORMAT:
        return dict.fromkeys(names, f"off: unknown training reference format {reference.get('format')!r}")
    status = {}
    for name in names:
        spec = reference.get("modalities", {}).get(name)
        if spec is None:
            status[name] = "off: no training reference for this modality"
        elif "skipped" in spec:
            status[name] = f"off: {spec['skipped']}"
        else:
            status[name] = "on"
    return status


class InputMonitor:
    """Counts modality presence and tracks drift for every batch the service classifies."""

    def __init__(
        self,
        names: list[str],
        reference: dict[str, Any] | None,
        model: str,
        window: int = DRIFT_WINDOW,
        min_samples: int = DRIFT_MIN_SAMPLES,
        registry: Any = None,
    ) -> None:
        import prometheus_client  # here, not at module import: see the module docstring

        registry = registry if registry is not None else prometheus_client.REGISTRY
        self.names = names
        self.samples = prometheus_client.Counter(
            "oncofusion_input_samples",
            "Samples received per modality, present or missing",
            ["modality", "status"],
            registry=registry,
        )
        self.drift = prometheus_client.Gauge(
            "oncofusion_input_drift_psi",
            "Population-stability index of the recent inputs of a modality against the training reference",
            ["modality"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.window_samples = prometheus_client.Gauge(
            "oncofusion_input_drift_window_samples",
            "Samples in the drift window of a modality",
            ["modality"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.rescaled = prometheus_client.Counter(
            "oncofusion_input_profiles_rescaled",
            "Profiles that did not sum to their total (within 0.001) and were rescaled to it",
            ["modality"],
            registry=registry,
        )
        self.batch_size = prometheus_client.Histogram(
            "oncofusion_classify_batch_size",
            "Samples per model call (adaptive batching merges concurrent requests)",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        for name in names:  # every series exists from the start, at 0
            for status in ("present", "missing"):
                self.samples.labels(modality=name, status=status)
        self.status = drift_status(reference, names)
        self.windows: dict[str, DriftWindow] = {}
        for name, state in self.status.items():
            if state == "on":
                spec = reference["modalities"][name]  # type: ignore[index]
                self.windows[name] = DriftWindow(spec, window, min_samples)
            else:
                reason = state.removeprefix("off: ")
                logger.warning("%s: no drift figure for modality %s (%s)", model, name, reason)
        self._lock = threading.Lock()

    def observe(
        self, inputs: dict[str, np.ndarray], present: np.ndarray, rescaled: dict[str, int] | None = None
    ) -> None:
        """Record one model call: `present[i, j]` says whether sample i has modality `names[j]`;
        `rescaled` counts the profiles per modality the service rescaled to their total."""
        n = len(present)
        self.batch_size.observe(n)
        for name, count in (rescaled or {}).items():
            self.rescaled.labels(modality=name).inc(count)
        for j, name in enumerate(self.names):
            have = int(present[:, j].sum())
            if have:
                self.samples.labels(modality=name, status="present").inc(have)
            if n - have:
                self.samples.labels(modality=name, status="missing").inc(n - have)
        with self._lock:  # batches may be classified in parallel threads
            for j, name in enumerate(self.names):
                window = self.windows.get(name)
                if window is None or not present[:, j].any():
                    continue
                window.add(inputs[name][present[:, j]])
                self.window_samples.labels(modality=name).set(window.filled)
                value = window.psi()
                if value is not None:
                    self.drift.labels(modality=name).set(value)
