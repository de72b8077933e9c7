from pathlib import Path

from oncofusion.config import parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic import generate_cohort
from oncofusion.models.bundle import LoadedModel
from oncofusion.training.evaluate import predict_split
from oncofusion.training.interpret import attribution_report
from oncofusion.training.train import fit

from .conftest import small_training_params


def test_attributions_find_the_planted_methylation_markers(tmp_path: Path):
    raw = small_training_params(max_epochs=30, pretrain_epochs=2, lr=0.005, early_stopping_patience=30)
    raw["synthesize"]["n_samples"] = 240
    raw["synthesize"]["methylation"] = {"n_features": 30, "n_informative": 6, "signal": 0.9}
    raw["model"]["modalities"] = ["methylation"]
    params = parse_params(raw)
    cohort = generate_cohort(params.synthesize, seed=3)
    cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
    net = fit(cohort, params, tmp_path).net
    model = LoadedModel(net, cohort.classes, {})
    report = attribution_report(model, cohort, predict_split(model, cohort, "test"), top_k=6)
    entry = report["modalities"]["methylation"]
    assert entry["chance"] == 0.2
    assert entry["precision_at_k"] >= 0.6  # three times the 0.2 a random ranking gets
    assert set(entry["per_class_top_features"]) == {"A", "B", "C"}
