"""A trained model as one file: architecture, weights (with preprocessing), classes and modality schema.

Serving, evaluation and the MLflow pyfunc all load this, so they run exactly the network that was
trained, with the scaling fitted on its training split.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oncofusion import atomic
from oncofusion.errors import CohortError
from oncofusion.models.network import Architecture, MultiModalNet

FORMAT = "oncofusion-model/1"


@dataclass
class LoadedModel:
    net: MultiModalNet
    classes: list[str]
    schema: dict[str, dict[str, Any]]  # modality → {kind, features, domain}

    @property
    def modalities(self) -> list[str]:
        return self.net.names

    @torch.no_grad()
    def predict(self, inputs: dict[str, np.ndarray], present: np.ndarray) -> dict[str, np.ndarray]:
        """Probabilities, embedding and per-modality attention for a batch of samples."""
        self.net.eval()
        tensors = {m: torch.as_tensor(inputs[m], dtype=torch.float32) for m in self.modalities}
        out = self.net(tensors, torch.as_tensor(present, dtype=torch.bool))
        attention = out.modality_attention()
        return {
            "probabilities": out.logits.float().softmax(dim=-1).numpy(),
            "embedding": out.embedding.float().numpy(),
            "attention": attention.numpy()
            if attention is not None
            else np.where(present, 1.0, 0.0) / present.sum(1, keepdims=True),
        }


def save_bundle(
    net: MultiModalNet, classes: list[str], schema: dict[str, dict[str, Any]], path: Path
) -> None:
    payload = {
        "format": FORMAT,
        "architecture": net.arch.model_dump(),
        "classes": list(classes),
        "schema": schema,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    with atomic.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _with_identity_preprocessing(
    net: MultiModalNet, state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Models saved before input transforms existed have no ``preprocess.*`` buffers: their inputs went
    straight to scaling, which is the identity transform, whose reference input is the scaling mean."""
    if any(key.startswith("preprocess.") for key in state):
        return state
    filled = dict(state)
    for key, value in net.state_dict().items():
        if key.startswith("preprocess."):
            filled[key] = value
    for name in net.names:
        mean = state.get(f"mean_{name}")
        if mean is not None and net.preprocess[name].identity:
            filled[f"preprocess.{name}.raw_mean"] = mean
    return filled


def load_bundle(path: str | Path) -> LoadedModel:
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise CohortError(f"{path}: not a readable oncofusion model ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CohortError(f"{path}: not an oncofusion model bundle (format {FORMAT})")
    try:
        net = MultiModalNet(Architecture.model_validate(payload["architecture"]))
        net.load_state_dict(_with_identity_preprocessing(net, payload["state_dict"]))
    except (KeyError, ValueError, RuntimeError) as error:
        raise CohortError(f"{path}: damaged oncofusion model bundle ({error})") from None
    net.eval()
    return LoadedModel(net=net, classes=payload["classes"], schema=payload["schema"])
