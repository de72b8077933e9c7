"""fine-tune → embed → classify on a tiny simulated cohort through the stage functions, a DDP step on two
CPU processes (gloo), and the stages' bad-input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import oncofusion.stages.cohort
import oncofusion.stages.dna_classify
import oncofusion.stages.dna_embed
import oncofusion.stages.dna_finetune
import oncofusion.stages.split
import oncofusion.stages.validate
import oncofusion.stages.variants_simulate  # noqa: F401
from oncofusion import stages
from oncofusion.config import Params, parse_params
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.errors import CohortError, ConfigError

from ..training.conftest import small_training_params

TINY_DNA = {
    "architecture": {
        "hidden_size": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 64,
        "max_tokens": 12,
    },
    "finetune": {
        "max_windows": 96,
        "val_windows": 24,
        "max_steps": 6,
        "batch_size": 8,
        "accelerator": "cpu",
        "warmup_steps": 1,
        "log_every_steps": 2,
    },
    "embed": {"max_per_sample": 6, "batch_size": 64},
    "classify": {"mil_epochs": 5, "bootstrap": 100},
}


def tiny_variant_raw(root: Path, **dna) -> dict:
    return {
        "base": {"seed": 3},
        "simulate": {
            "n_donors": 27,
            "types": ["Skin-Melanoma", "Lung-SCC", "ColoRect-AdenoCA-MSI"],
            "type_weights": [0.34, 0.33, 0.33],
            "genome_mb": 3.0,
            "n_contigs": 3,
            "burden_scale": 0.2,
        },
        "cohort": {
            "source": "variants",
            "name": "dna-tiny",
            "path": "raw",
            "variants": {"germline": "germline", "window": {"flank": 60, "max_per_sample": 40}},
        },
        "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "hidden": 16, "channels": 4, "gru_hidden": 4},
        "train": {
            "max_epochs": 3,
            "pretrain_epochs": 1,
            "batch_size": 16,
            "warmup_epochs": 1,
            "ensemble": {"folds": 2, "workers": 1},  # 4 training donors in the smallest type
        },
        "dna": {**TINY_DNA, **dna},
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params]:
    root = tmp_path_factory.mktemp("dna")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/mlflow.db"
    params = parse_params(tiny_variant_raw(root))
    stages.variants_simulate.simulate_variants(params, root / "raw")
    stages.cohort.build_cohort(params, root / "cohort", root)
    stages.validate.validate(params, root / "cohort", root / "validation")
    stages.split.split(params, root / "cohort", root / "validation", root / "splits", root / "split.json")
    yield root, params
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def test_finetune_embed_classify_end_to_end(project):
    root, params = project
    record = stages.dna_finetune.dna_finetune(
        params, root / "splits", root / "dna_model", root / "finetune.json", root
    )
    assert record["steps"] == 6 and record["context_tokens"] == 12
    # only training-split samples' windows are trained on; the checks use validation samples
    assert record["train_pair_splits"] == {"train": record["train_pairs"]}
    assert record["val_pair_splits"] == {"val": record["val_pairs"]}
    for checks in (record["before_finetuning"], record["after_finetuning"]):
        assert 0 <= checks["retrieval_top1"] <= 1 and checks["perplexity"] > 1
        assert checks["sbs96_probe"]["chance"] == round(1 / 96, 4)
    assert any(
        "centre-cropped" in d["decision"] for d in record["decisions"]
    )  # 121-bp windows, 66-bp context
    assert {"config.json", "model.safetensors", "tokenizer", "finetune.json"} <= {
        p.name for p in (root / "dna_model").iterdir()
    }
    metrics = json.loads((root / "finetune.json").read_text())
    assert set(metrics["heldout"]) == {"retrieval_top1", "sbs96_probe_accuracy", "mlm_accuracy", "perplexity"}

    embedded = stages.dna_embed.dna_embed(params, root / "splits", root / "dna_model", root / "emb", root)
    table = pd.read_parquet(root / "emb/variants.parquet")
    tumour, difference = np.load(root / "emb/tumour.npy"), np.load(root / "emb/difference.npy")
    assert len(table) == embedded["n_variants"] == len(tumour) == len(difference)
    assert table.groupby("sample_id").size().max() <= 6
    samples = pd.read_parquet(root / "emb/samples.parquet")
    assert samples.shape == (embedded["n_samples"], 2 * 32)
    first = table["sample_id"].iloc[0]
    expected = tumour[(table["sample_id"] == first).to_numpy()].mean(0)
    assert np.allclose(samples.loc[first].to_numpy()[:32], expected, atol=1e-5)  # mean pooling

    document = stages.dna_classify.dna_classify(params, root / "splits", root / "emb", root / "reports")
    assert set(document["rows"]) == {
        "fusion: catalogues",
        "fusion: DNA embedding (mean)",
        "fusion: DNA embedding (attention-MIL)",
        "fusion: catalogues + DNA embedding",
        "logistic_regression: catalogues",
        "gradient_boosting: catalogues",
        "logistic_regression: catalogues + DNA embedding",
        "gradient_boosting: catalogues + DNA embedding",
    }
    for row in document["rows"].values():
        assert row["ci95"][0] <= row["f1_macro"] <= row["ci95"][1]
    assert "| fusion: catalogues + DNA embedding |" in (root / "reports/dna_classify.md").read_text()

    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("oncofusion/dna-tiny").experiment_id])
    stages_logged = {r.data.tags.get("oncofusion.stage") for r in runs}
    assert {"dna_finetune", "dna_classify"} <= stages_logged
    finetune_run = next(r for r in runs if r.data.tags.get("oncofusion.stage") == "dna_finetune")
    assert (
        "heldout/sbs96_probe_accuracy" in finetune_run.data.metrics
        and "train/mlm_loss" in finetune_run.data.metrics
    )
    logged = {a.path for a in client.list_artifacts(finetune_run.info.run_id, "dna_model")}
    assert "dna_model/tokenizer" in logged and "dna_model/model.safetensors" in logged


def test_tiling_and_bpe(project, tmp_path: Path):
    """long_windows: tile embeds every tile of the full 121-bp window; the BPE tokenizer trains on the
    training windows and fine-tunes like the others."""
    root, _ = project
    bpe = parse_params(
        tiny_variant_raw(
            root,
            tokenizer="bpe",
            bpe_vocab_size=40,
            long_windows="tile",
            finetune={**TINY_DNA["finetune"], "max_steps": 2},
        )
    )
    record = stages.dna_finetune.dna_finetune(
        bpe, root / "splits", tmp_path / "model", tmp_path / "m.json", root
    )
    assert record["tokenizer"] == "bpe" and record["vocab_size"] == 40
    embedded = stages.dna_embed.dna_embed(bpe, root / "splits", tmp_path / "model", tmp_path / "emb", root)
    assert embedded["long_windows"] == "tile"
    made = [d["decision"] for d in embedded["decisions"]]
    assert not any("centre-cropped" in d or "after tokenising" in d for d in made)  # tiles fit whole
    assert np.isfinite(np.load(tmp_path / "emb/tumour.npy")).all()


def test_ddp_on_two_cpu_processes(project, tmp_path: Path):
    root, _ = project
    raw = tiny_variant_raw(root, finetune={**TINY_DNA["finetune"], "devices": 2, "max_steps": 2})
    raw["cohort"]["path"] = str(root / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "oncofusion.cli",
            "dna-finetune",
            "--params",
            str(tmp_path / "params.yaml"),
            "--cohort",
            str(root / "splits"),
            "--out",
            str(tmp_path / "model"),
            "--metrics",
            str(tmp_path / "m.json"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "model/finetune.json").read_text())
    assert record["devices"] == 2 and record["steps"] == 2
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    assert "All distributed processes registered. Starting with 2 processes" in done.stderr + done.stdout


def test_bad_inputs_give_clear_errors(project, tmp_path: Path):
    root, params = project
    synthetic = parse_params(small_training_params()).synthesize
    generate_cohort(synthetic, seed=0, name="multimodal").save(tmp_path / "multimodal")
    with pytest.raises(CohortError, match=r"multimodal: no windows.parquet; the DNA stages need a variant"):
        stages.dna_finetune.dna_finetune(
            params, tmp_path / "multimodal", tmp_path / "m", tmp_path / "m.json", root
        )
    error_policy = parse_params(tiny_variant_raw(root, long_windows="error"))
    with pytest.raises(ConfigError, match=r"dna.long_windows: error"):
        stages.dna_finetune.dna_finetune(
            error_policy, root / "splits", tmp_path / "m", tmp_path / "m.json", root
        )
    missing = parse_params(tiny_variant_raw(root, checkpoint="no-such-checkpoint"))
    with pytest.raises(ConfigError, match=r"dna.checkpoint: .*no-such-checkpoint is not a directory"):
        stages.dna_finetune.dna_finetune(missing, root / "splits", tmp_path / "m", tmp_path / "m.json", root)
    with pytest.raises(ConfigError, match=r"no usable fine-tuned DNA model"):
        stages.dna_embed.dna_embed(params, root / "splits", tmp_path / "nothing", tmp_path / "e", root)
    assert not (tmp_path / "m").exists()  # nothing half-written
