"""`oncofusion predict` on multi-omics tables gives the answers `POST /classify` gives for the same
samples, from the registry's champion; bad input is an error naming the file, and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from .conftest import Served

pytestmark = pytest.mark.slow


def _write_tables(served: Served, directory: Path, drop: dict[str, list[int]]) -> list[str]:
    """One samples × features CSV per modality; sample i leaves out the modalities in drop[i]."""
    directory.mkdir()
    ids = served.test.sample_ids[:12]
    for m in served.model.modalities:
        keep = [i for i in range(len(ids)) if m not in drop.get(i, [])]
        frame = pd.DataFrame(
            served.test.inputs[m][keep].numpy().astype(np.float64),
            columns=served.model.schema[m]["features"],
            index=pd.Index([ids[i] for i in keep], name="sample_id"),
        )
        frame.to_csv(directory / f"{m}.csv", float_format="%.9g")
    return list(ids)


def _predict(served: Served, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**served.env, "ONCOFUSION_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "oncofusion.cli", "predict", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def test_predict_on_tables_equals_the_service(served: Served, tmp_path: Path):
    first = served.model.modalities[0]
    ids = _write_tables(served, tmp_path / "tables", {1: [first], 4: [first]})
    done = _predict(
        served,
        "--model",
        "models:/oncofusion-classifier@champion",
        "--input",
        "tables",
        "--out",
        "p.csv",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "p.csv").set_index("sample_id")
    samples = []
    for i, sample in enumerate(ids):  # the same values the CSVs hold, as JSON
        modalities = {}
        for m in served.model.modalities:
            if i in (1, 4) and m == first:
                continue
            path = tmp_path / "tables" / f"{m}.csv"
            modalities[m] = pd.read_csv(path, index_col=0).loc[sample].astype(float).tolist()
        samples.append({"sample_id": sample, "modalities": modalities})
    answers = httpx.post(f"{served.url}/classify", json={"samples": samples}, timeout=30).json()
    assert sorted(table.index) == sorted(ids)
    for answer in answers:
        row = table.loc[answer["sample_id"]]
        assert row["predicted"] == answer["predicted"]
        assert row["prediction_set"].split("|") == answer["prediction_set"]
        for c, p in answer["probabilities"].items():
            assert row[f"p_{c}"] == pytest.approx(p, abs=1e-6)
        assert row["modalities_used"].split("|") == answer["modalities_used"]
    assert first not in table.loc[ids[1], "modalities_used"].split("|")


def test_predict_refuses_tables_missing_a_feature_and_writes_nothing(served: Served, tmp_path: Path):
    _write_tables(served, tmp_path / "tables", {})
    m = served.model.modalities[0]
    frame = pd.read_csv(tmp_path / "tables" / f"{m}.csv", index_col=0)
    dropped = frame.columns[3]
    frame.drop(columns=[dropped]).to_csv(tmp_path / "tables" / f"{m}.csv")
    done = _predict(served, "--model", str(served.store.bundles["2"]), "--input", "tables", cwd=tmp_path)
    assert done.returncode == 1
    assert f"{m}.csv: modality {m} lacks 1 of the model's" in done.stderr and dropped in done.stderr
    assert not (tmp_path / "predictions.csv").exists()
    unknown = _predict(served, "--model", "models:/no-such-model@champion", "--input", "tables", cwd=tmp_path)
    assert unknown.returncode == 1 and "no-such-model" in unknown.stderr
    reference = _predict(
        served,
        "--model",
        str(served.store.bundles["2"]),
        "--input",
        "tables",
        "--reference",
        "x.fa",
        cwd=tmp_path,
    )
    assert reference.returncode == 1 and "--reference is only for variant models" in reference.stderr
    assert os.listdir(tmp_path) == ["tables"]


def test_predict_with_a_stated_class_mix_gives_the_model_s_call_under_it(served: Served, tmp_path: Path):
    """--class-mix FILE: the calls are the model's under that mix; a batch too small to estimate one is
    called as usual and the command says so; a mix naming an unknown class is refused, nothing written."""
    ids = _write_tables(served, tmp_path / "tables", {})
    stated = dict(zip(served.model.classes, (0.7, 0.2, 0.1), strict=True))
    (tmp_path / "mix.json").write_text(__import__("json").dumps(stated))
    args = ("--model", "models:/oncofusion-classifier@champion", "--input", "tables")
    done = _predict(served, *args, "--out", "p.csv", "--class-mix", "mix.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "class mix as stated in mix.json" in done.stdout
    mix = np.array([stated[c] for c in served.model.classes])
    direct = served.model.predict(
        {m: v[: len(ids)].numpy() for m, v in served.test.inputs.items()},
        served.test.present[: len(ids)].numpy(),
        class_mix=mix / mix.sum(),
    )
    calls = pd.read_csv(tmp_path / "p.csv")
    assert list(calls["predicted"]) == [served.model.classes[k] for k in direct["predicted"]]
    assert all(p in s.split("|") for p, s in zip(calls["predicted"], calls["prediction_set"], strict=True))
    few = _predict(served, *args, "--out", "q.csv", "--class-mix", "estimate", cwd=tmp_path)
    assert few.returncode == 0 and "class mix not estimated: 12 samples" in few.stdout
    (tmp_path / "bad.json").write_text('{"A": 0.5, "Z": 0.5}')
    bad = _predict(served, *args, "--out", "r.csv", "--class-mix", "bad.json", cwd=tmp_path)
    assert bad.returncode != 0 and "unknown classes ['Z']" in bad.stderr and not (tmp_path / "r.csv").exists()
