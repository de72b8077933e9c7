"""The conformal prediction set the service answers for a sample is the one the model's own conformal
thresholds give on the same input, as is the MLflow pyfunc's: in process, on a small trained model.
The served HTTP round trip is test_service.py's (slow)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import prometheus_client
import pytest
import yaml

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.models.bundle import LoadedModel, load_bundle, save_bundle
from oncofusion.models.pyfunc import SEPARATOR, OncofusionModel
from oncofusion.monitoring.reference import fit_reference
from oncofusion.serving import store
from oncofusion.stages.train import modality_schema
from oncofusion.training.data import cohort_tensors
from oncofusion.training.train import fit

from ..conftest import REPO_ROOT
from ..training.conftest import small_training_params

TAG = "oncofusion-classifier:in-process"
DROPPED = "fragmentomics"  # left out of every third sample, so masking is on the path too


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cohort]:
    """A two-epoch model with conformal thresholds (coverage 0.9) and a drift reference, saved and
    loaded as the train stage saves it."""
    root = tmp_path_factory.mktemp("sets")
    params = parse_params(small_training_params(max_epochs=2))
    assert params.train.calibration.coverage is not None
    cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="tiny")
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
    result = fit(cohort, params, root / "work")
    train = result.train_data
    reference = fit_reference(
        {m: v.numpy() for m, v in train.inputs.items()}, train.present.numpy(), result.net.names
    )
    schema = modality_schema(cohort, result.net.names)
    path = root / "model.pt"
    save_bundle(result.net, cohort.classes, schema, path, result.calibration.conformal, reference=reference)
    return path, cohort


def _held_out(model: LoadedModel, cohort: Cohort) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    test = cohort_tensors(cohort, model.modalities, "test")
    inputs = {m: v.numpy().copy() for m, v in test.inputs.items()}
    present = test.present.numpy().copy()
    dropped = model.modalities.index(DROPPED)
    inputs[DROPPED][::3] = np.nan
    present[::3, dropped] = False
    return test.sample_ids, inputs, present


def _service(monkeypatch: pytest.MonkeyPatch, model: LoadedModel, root: Path) -> ModuleType:
    """serving/service.py imported in this process, its BentoML store lookup answered with ``model``
    (the store is the slow tests' subject). The metrics go to a fresh Prometheus registry."""
    model_dir = root / "stored"
    (model_dir / "mlflow_model").mkdir(parents=True)
    metadata = {
        "classes": model.classes,
        "modality_schema": model.schema,
        "decision": model.net.decision,
        "target_mix": None,
    }
    (model_dir / "mlflow_model" / "MLmodel").write_text(yaml.safe_dump({"metadata": metadata}))
    stored = SimpleNamespace(path=str(model_dir), info=SimpleNamespace(labels={}), tag=TAG)
    served = store.ServedModel(model=model, schema=model.schema, identity=store.identity({}, TAG))
    monkeypatch.setattr(store, "open_stored", lambda tag: (stored, served))
    monkeypatch.setattr(prometheus_client, "REGISTRY", prometheus_client.CollectorRegistry())
    monkeypatch.setenv("ONCOFUSION_BENTO_MODEL", TAG)
    name = "_oncofusion_service_in_process"
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "serving" / "service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_served_and_pyfunc_prediction_sets_equal_the_model_s_conformal_sets(
    bundle: tuple[Path, Cohort], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    path, cohort = bundle
    model = load_bundle(path)
    assert model.conformal is not None
    ids, inputs, present = _held_out(model, cohort)

    # The model's own: its sets (per pattern of modalities, the called class in), most probable first.
    direct = model.predict(inputs, present)
    probabilities, members = direct["probabilities"], direct["sets"]
    order = np.argsort(-probabilities, axis=1, kind="stable")
    expected = [[model.classes[k] for k in row if members[i, k]] for i, row in enumerate(order)]
    sizes = [len(s) for s in expected]
    assert min(sizes) >= 1 and max(sizes) > 1, sizes  # sets with content, not all one class

    # The service, as BentoML calls it with a batch of validated samples (a missing modality omitted).
    service = _service(monkeypatch, model, tmp_path)
    samples = [
        service.Sample.model_validate(
            {
                "sample_id": sample_id,
                "modalities": {
                    m: [None if math.isnan(v) else float(v) for v in inputs[m][i]]
                    for j, m in enumerate(model.modalities)
                    if present[i, j]
                },
            }
        )
        for i, sample_id in enumerate(ids)
    ]
    answers = service.OncofusionClassifier.inner().classify(samples)
    assert [a.sample_id for a in answers] == ids
    assert answers[0].modalities_used == [m for m in model.modalities if m != DROPPED]
    served = [a.prediction_set for a in answers]

    # The MLflow pyfunc: one column per feature, a missing modality all NaN.
    pyfunc = OncofusionModel()
    pyfunc.load_context(SimpleNamespace(artifacts={"bundle": str(path)}))
    frame = pd.DataFrame(
        {
            f"{m}{SEPARATOR}{feature}": inputs[m][:, j].astype(np.float64)
            for m, spec in model.schema.items()
            for j, feature in enumerate(spec["features"])
        }
    )
    from_pyfunc = [list(s) for s in pyfunc.predict(None, frame)["prediction_set"]]

    assert served == expected
    assert from_pyfunc == expected
