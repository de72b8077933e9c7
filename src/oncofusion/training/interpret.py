"""Which features drive the predictions: integrated gradients (Captum), checked against ground truth.

On a synthetic cohort the generator wrote which features carry signal (cohort.json ground_truth). The
precision@k of the top-attributed features against that set tells whether the model learned the planted
biology or something else; chance level is the share of signal features in the modality.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients

from oncofusion.cohort import Cohort
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.evaluate import Predictions


def attributions(model: LoadedModel, predictions: Predictions, n_steps: int = 32) -> dict[str, np.ndarray]:
    """IG attributions of each sample's true-class logit to its raw inputs (before the model's own
    transforms, so names match the cohort's features), from the training mean of the raw values."""
    net = model.net.eval()
    names = model.modalities
    present = predictions.data.present
    inputs, baselines = [], []
    for name in names:
        mean = net.preprocess[name].raw_mean
        values = predictions.data.inputs[name]
        inputs.append(
            torch.where(torch.isnan(values), mean.expand_as(values), values).clone().requires_grad_(True)
        )
        baselines.append(mean.expand_as(values).clone())

    def forward(*args: torch.Tensor) -> torch.Tensor:
        *xs, mask = args
        return net(dict(zip(names, xs, strict=True)), mask).logits

    ig = IntegratedGradients(forward)
    result = ig.attribute(
        tuple(inputs),
        baselines=tuple(baselines),
        target=predictions.data.target,
        additional_forward_args=(present,),
        n_steps=n_steps,
        internal_batch_size=512,
    )
    return {
        name: a.detach().numpy() * present[:, i : i + 1].numpy()
        for i, (name, a) in enumerate(zip(names, result, strict=True))
    }


def attribution_report(
    model: LoadedModel, cohort: Cohort, predictions: Predictions, top_k: int
) -> dict[str, object]:
    attr = attributions(model, predictions)
    y = predictions.y
    truth = cohort.meta.ground_truth.get("signal_features", {})
    report: dict[str, object] = {"method": "integrated_gradients", "top_k": top_k, "modalities": {}}
    for name, values in attr.items():
        features = cohort.meta.modalities[name].features
        per_class = {
            cls: np.abs(values[y == k]).mean(axis=0) for k, cls in enumerate(cohort.classes) if (y == k).any()
        }
        overall = np.mean(list(per_class.values()), axis=0)
        ranked = [features[i] for i in np.argsort(-overall)]
        entry: dict[str, object] = {
            "top_features": ranked[:top_k],
            "per_class_top_features": {
                c: [features[i] for i in np.argsort(-v)[:top_k]] for c, v in per_class.items()
            },
        }
        signal = set(truth.get(name, []))
        if signal:
            k = min(top_k, len(signal))
            entry["precision_at_k"] = len(set(ranked[:k]) & signal) / k
            entry["k"] = k
            entry["chance"] = len(signal) / len(features)
        report["modalities"][name] = entry  # type: ignore[index]
    return report
