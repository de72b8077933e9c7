"""The evaluate stage's ROC files are named after the classes: a class name with a '/' (cfDNA's
"Advanced Fibrosis/Cirrhosis") must not become a directory and stop the stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from oncofusion.evaluation.metrics import Predictions
from oncofusion.stages.evaluate import _write_plot_data
from oncofusion.training.data import CohortTensors


def test_a_class_name_with_a_slash_gets_a_roc_file(tmp_path: Path):
    y = np.array([0, 1, 0, 1, 1, 0])
    data = CohortTensors([f"S{i}" for i in range(6)], {}, torch.ones(6, 0, dtype=torch.bool), torch.tensor(y))
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.2, 0.8], [0.9, 0.1]])
    test = Predictions(data, probabilities, np.zeros((6, 0)), np.zeros((6, 2)))
    _write_plot_data(test, ["No liver disease", "Advanced Fibrosis/Cirrhosis"], tmp_path)
    assert sorted(p.name for p in (tmp_path / "roc").iterdir()) == [
        "Advanced Fibrosis_Cirrhosis.csv",
        "No liver disease.csv",
    ]
