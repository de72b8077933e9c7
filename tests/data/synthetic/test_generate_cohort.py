import hashlib
import json
from pathlib import Path

import numpy as np

from oncofusion.cohort import Cohort
from oncofusion.config import parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort

from ...conftest import tiny_raw_params


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_gives_bit_identical_files(tmp_path: Path, tiny_params):
    for name in ("first", "second"):
        generate_cohort(tiny_params.synthesize, seed=3).save(tmp_path / name)
    assert _digests(tmp_path / "first") == _digests(tmp_path / "second")
    generate_cohort(tiny_params.synthesize, seed=4).save(tmp_path / "other")
    assert (
        _digests(tmp_path / "other")["methylation.parquet"]
        != _digests(tmp_path / "first")["methylation.parquet"]
    )


def test_changing_one_modality_leaves_the_others_identical():
    raw = tiny_raw_params()
    base = generate_cohort(parse_params(raw).synthesize, seed=1)
    raw["synthesize"]["cna"]["noise_sd"] = 0.5
    changed = generate_cohort(parse_params(raw).synthesize, seed=1)
    assert base.modalities["methylation"].equals(changed.modalities["methylation"])
    assert not base.modalities["cna"].equals(changed.modalities["cna"])


def test_cohort_follows_the_contract(tiny_cohort_dir: Path, tiny_params):
    cohort = Cohort.load(tiny_cohort_dir)
    meta = json.loads((tiny_cohort_dir / "cohort.json").read_text())
    assert set(meta["modalities"]) == {"methylation", "fragmentomics", "cna"}
    assert {m["kind"] for m in meta["modalities"].values()} == {"tabular", "profile", "genomic"}
    assert meta["modalities"]["methylation"]["n_features"] == 12
    assert meta["provenance"]["seed"] == tiny_params.base.seed
    assert meta["provenance"]["params"]["n_samples"] == 60
    assert cohort.labels["sample_id"].is_unique
    assert cohort.labels["label"].value_counts().to_dict() == {"A": 30, "B": 18, "C": 12}
    for name, frame in cohort.modalities.items():
        assert frame.index.name == "sample_id"
        assert (frame.dtypes == np.float32).all(), name
        assert frame.index.tolist() == cohort.sample_ids
    states = cohort.annotations["cna_states"]
    assert states.columns.tolist() == cohort.modalities["cna"].columns.tolist()


def test_ground_truth_names_real_features(tiny_cohort):
    truth = tiny_cohort.meta.ground_truth["signal_features"]
    for modality, features in truth.items():
        assert set(features) <= set(tiny_cohort.modalities[modality].columns), modality
    assert len(truth["methylation"]) == 6
    assert truth["cna"], "CNA hotspots should mark signal bins"
