"""`oncofusion fit` on a CNV segment file: binning, the two-channel genomic encoder, and masking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from oncofusion.cli import main
from oncofusion.cohort import Cohort
from oncofusion.models.bundle import load_bundle

from .test_fit import TINY_MODEL, TINY_TRAIN

CLASSES = {"NCIT:C3512": ("7", 0.6), "NCIT:C4004": ("8", 0.6), "NCIT:C3510": ("9", -0.6)}


def _write_pgxseg(path: Path, per_class: int = 10, seed: int = 0) -> None:
    """Each diagnosis gains or loses its own chromosome; every sample has noise segments elsewhere."""
    rng = np.random.default_rng(seed)
    meta, rows = (
        ["#meta=>assemblyId=GRCh38"],
        ["biosample_id\treference_name\tstart\tend\tlog2\tvariant_type"],
    )
    for code, (chrom, shift) in CLASSES.items():
        for i in range(per_class):
            sample = f"pgx-{code[-4:]}-{i}"
            meta.append(f"#biosample_id=>biosample_id={sample};group_id={code};group_label=type {code}")
            value = shift + rng.normal(0, 0.1)
            rows.append(f"{sample}\t{chrom}\t0\t120000000\t{value:.3f}\t{'DUP' if value > 0 else 'DEL'}")
            for _ in range(3):
                noise_chrom = str(rng.integers(1, 7))
                start = int(rng.integers(0, 100_000_000))
                log2 = rng.normal(0, 0.4)
                rows.append(f"{sample}\t{noise_chrom}\t{start}\t{start + 20_000_000}\t{log2:.3f}\tDUP")
    path.write_text("\n".join(meta + rows) + "\n")


def test_fit_on_segments_trains_the_two_channel_genomic_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    _write_pgxseg(tmp_path / "cohort.pgxseg")
    params = {
        "cohort": {
            "source": "segments",
            "name": "segments",
            "path": "cohort.pgxseg",
            "segments": {"bin_size": 10_000_000, "overlaps": "later"},
        },
        "validate": {"require_complete_modalities": False},
        "split": {"train": 0.6, "val": 0.2, "test": 0.2},
        "model": TINY_MODEL,
        "train": TINY_TRAIN,
        "evaluate": {"ablations": False, "top_k": 3},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        main(["fit", "--params", "params.yaml", "--out", "run"])
    except SystemExit as exit_:
        assert exit_.code in (0, None)

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 30
    assert sorted(metrics["classes"]) == sorted(CLASSES)
    model = load_bundle(tmp_path / "run" / "model" / "model.pt")
    (arch,) = model.net.arch.modalities
    assert (arch.name, arch.kind, arch.encoder, arch.channels) == ("cna", "genomic", "cnn_gru", 2)
    assert model.schema["cna"]["domain"]["max_nan_fraction"] == 1.0

    # Each planted event is a gain (+1) or loss (-1) call over its chromosome's first 12 bins.
    cohort = Cohort.load(tmp_path / "run" / "cohort")
    cna, labels = cohort.modalities["cna"], cohort.labels.set_index("sample_id")["label"]
    for code, (chrom, shift) in CLASSES.items():
        sample = labels.index[labels == code][0]
        calls = cna.loc[
            sample, [f"call:chr{chrom}:{i * 10_000_000}-{(i + 1) * 10_000_000}" for i in range(12)]
        ]
        assert (calls == np.sign(shift)).all(), (code, calls.tolist())

    # Uncovered bins are NaN in the cohort, and the model answers on them (NaN is the training mean).
    record = json.loads((tmp_path / "run" / "fit.json").read_text())
    assert 0.5 < record["ingest"]["uncovered_bin_fraction"] < 1.0
    values = cna.iloc[:2].to_numpy(dtype=np.float32)
    assert np.isnan(values).any()
    result = model.predict({"cna": values}, np.ones((2, 1), dtype=bool))
    assert np.isfinite(result["probabilities"]).all()
    np.testing.assert_allclose(result["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
