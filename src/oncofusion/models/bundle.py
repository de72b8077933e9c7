"""A trained model as one file: architecture, every ensemble member's weights (with preprocessing), the
temperature, the conformal thresholds, classes and modality schema.

Serving, evaluation and the MLflow pyfunc all load this, so they run exactly the network that was
trained, with the scaling fitted on its training split and the calibration fitted on its val split.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oncofusion import atomic
from oncofusion.errors import CohortError, OncofusionError
from oncofusion.models.class_mix import adapted_call
from oncofusion.models.conformal import ConformalSets
from oncofusion.models.network import Architecture, EnsembleNet, MultiModalNet
from oncofusion.models.outliers import flag_outliers
from oncofusion.models.set_predictor import SetPredictor
from oncofusion.models.vectorised import modules_of

FORMAT = "oncofusion-model/5"  # 5: the target mix (decision: target); 4: the decision offset
OLDER_FORMATS = ("oncofusion-model/1",)  # one network, no calibration: loads as a one-member ensemble
# 4 has no target mix; 3 calls the most probable class; 2 has, besides, no bins (wide_bins 0) and no
# deep weight.
ENSEMBLE_FORMATS = (FORMAT, "oncofusion-model/4", "oncofusion-model/3", "oncofusion-model/2")
WITH_DECISION_OFFSET = (FORMAT, "oncofusion-model/4")


@dataclass
class LoadedModel:
    net: EnsembleNet
    classes: list[str]
    schema: dict[str, dict[str, Any]]  # modality → {kind, features, domain}
    conformal: ConformalSets | None = None
    calibration: dict[str, Any] | None = None  # what was fitted on val (temperature, before/after)
    # Training-split input reference for drift monitoring (oncofusion.monitoring.reference); None in
    # models saved before it existed, which serve without drift figures.
    reference: dict[str, Any] | None = None
    # A somatic-variant model: how its cohort built catalogues and against which FASTA (checksum,
    # contigs), so a new tumour is featurised the same way (prediction/featurise.py). None otherwise.
    variant_input: dict[str, Any] | None = None
    # Conformal thresholds per pattern of present modalities (models/set_predictor.py); empty in older
    # models, whose every sample gets the thresholds fitted on val as it was.
    conformal_patterns: dict[str, Any] | None = None
    # Training-split rows per class: the mix the probabilities carry, which a batch's class mix adapts.
    class_counts: list[int] | None = None
    # Per-sample outside-the-training-data check (models/outliers.py); None in older models.
    outliers: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.sets = (
            SetPredictor.from_stored(self.conformal, self.modalities, self.conformal_patterns)
            if self.conformal is not None
            else None
        )

    @property
    def modalities(self) -> list[str]:
        return self.net.names

    @property
    def training_frequency(self) -> np.ndarray | None:
        """The training class mix (each class at least one row, as the balanced decision counts)."""
        if self.class_counts is None:
            return None
        counts = np.clip(np.asarray(self.class_counts, dtype=np.float64), 1.0, None)
        return counts / counts.sum()

    @torch.inference_mode()
    def predict(
        self,
        inputs: dict[str, np.ndarray],
        present: np.ndarray,
        class_mix: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Called classes, probabilities, sets, embedding and per-modality attention for a batch.

        ``class_mix`` (shares per class, e.g. estimate_batch_mix's) is the cohort's class mix: the calls
        become the most probable class under it (the adapted call of evaluate's label-shift report) and
        the sets are reweighted to it. A sample ``outside`` the training data gets every class in its set.
        """
        # Switching an ensemble to eval walks (and sets) every submodule: only where one is training.
        if any(module.training for module in modules_of(self.net)):
            self.net.eval()
        tensors = {m: torch.as_tensor(inputs[m], dtype=torch.float32) for m in self.modalities}
        out = self.net(tensors, torch.as_tensor(present, dtype=torch.bool))
        attention = out.modality_attention()
        logits = out.logits.float()
        probabilities = logits.softmax(dim=-1).numpy()
        result = {
            "predicted": self.net.decide(logits).numpy(),
            "probabilities": probabilities,
            # Before the temperature: what the calibration report's "before" figures are computed from.
            "uncalibrated_logits": (logits * self.net.temperature).numpy(),
            "embedding": out.embedding.float().numpy(),
            "attention": attention.numpy()
            if attention is not None
            else np.where(present, 1.0, 0.0) / present.sum(1, keepdims=True),
        }
        result["outside"] = flag_outliers(
            self.outliers,
            inputs,
            present,
            self.modalities,
            self.net.preprocess,
            {m: spec["features"] for m, spec in self.schema.items()},
        )
        return self.adapt(result, present, class_mix)

    def adapt(
        self, result: dict[str, Any], present: np.ndarray, class_mix: np.ndarray | None
    ) -> dict[str, Any]:
        """``result`` (predict's, for these rows) with its calls and sets for the class mix: the network
        does not run again, so an estimated mix costs one pass, not two."""
        adapted = dict(result)
        if class_mix is not None:
            training = self.training_frequency
            if training is None:
                raise CohortError("this model predates stored training class counts: no class mix applies")
            adapted["predicted"] = adapted_call(result["probabilities"], training, class_mix)
        if self.sets is not None:
            answer = self.sets.predict(result["probabilities"], present, adapted["predicted"], class_mix)
            sets = answer.sets
            sets[np.array([bool(r) for r in result["outside"]], dtype=bool)] = True  # no coverage known
            adapted["sets"] = sets
            adapted["set_calibrated_for"] = answer.calibrated_for
            adapted["called_added"] = answer.called_added
        return adapted


def save_bundle(
    net: EnsembleNet,
    classes: list[str],
    schema: dict[str, dict[str, Any]],
    path: Path,
    conformal: ConformalSets | None = None,
    calibration: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
    variant_input: dict[str, Any] | None = None,
    conformal_patterns: dict[str, ConformalSets] | None = None,
    class_counts: list[int] | None = None,
    outliers: dict[str, Any] | None = None,
) -> None:
    payload = {
        "format": FORMAT,
        "architecture": net.arch.model_dump(),
        "members": len(net.members),
        "classes": list(classes),
        "schema": schema,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "conformal": conformal.to_dict() if conformal is not None else None,
        "calibration": calibration,
        "reference": reference,
        "variant_input": variant_input,
        "conformal_patterns": (  # None: no per-pattern thresholds, every sample gets the complete ones
            {k: v.to_dict() for k, v in conformal_patterns.items()}
            if conformal_patterns is not None
            else None
        ),
        "class_counts": [int(c) for c in class_counts] if class_counts is not None else None,
        "outliers": outliers,
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
    if not isinstance(payload, dict) or payload.get("format") not in (*ENSEMBLE_FORMATS, *OLDER_FORMATS):
        raise CohortError(f"{path}: not an oncofusion model bundle (format {FORMAT})")
    try:
        arch = Architecture.model_validate(payload["architecture"])
        net = EnsembleNet(arch, n_members=int(payload.get("members", 1)))
        state = payload["state_dict"]
        if payload["format"] in OLDER_FORMATS:
            single = MultiModalNet(arch)
            state = {f"members.0.{k}": v for k, v in _with_identity_preprocessing(single, state).items()}
            state["temperature"] = net.temperature
        for key, value in net.state_dict().items():
            if key.endswith("deep_weight"):  # bundles from before the deep weight: the full deep part
                state.setdefault(key, torch.ones_like(value))
            if key == "decision_offset" and payload["format"] not in WITH_DECISION_OFFSET:
                state.setdefault(key, torch.zeros_like(value))  # before format 4: the most probable class
            if key == "target_mix" and payload["format"] != FORMAT:
                state.setdefault(key, torch.zeros_like(value))  # before format 5: no target mix
        net.load_state_dict(state)
        conformal = payload.get("conformal")
        conformal = ConformalSets.from_dict(conformal) if conformal is not None else None
        loaded = LoadedModel(
            net=net,
            classes=payload["classes"],
            schema=payload["schema"],
            conformal=conformal,
            calibration=payload.get("calibration"),
            reference=payload.get("reference"),
            variant_input=payload.get("variant_input"),
            conformal_patterns=payload.get("conformal_patterns"),
            class_counts=payload.get("class_counts"),
            outliers=payload.get("outliers"),
        )
    except (KeyError, ValueError, RuntimeError, TypeError, OncofusionError) as error:
        raise CohortError(f"{path}: damaged oncofusion model bundle ({error})") from None
    net.eval()
    return loaded
