"""fine-tune → embed → classify on a tiny simulated cohort through the stage functions, a DDP step on two
CPU processes (gloo), and the stages' bad-input errors."""

from __future__ import annotations

import json
import os
import shutil
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
from oncofusion.dna.tokenizers import make_kmer_tokenizer, save_tokenizer
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
    "embed": {"max_per_sample": 6, "batch_size": 16},
    "classify": {"set_model": {"epochs": 3}, "bootstrap": 100},
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
    assert record["steps"] == 6 and record["context_tokens"] == 12 and record["window_bases"] == 11
    # only training-split samples' windows are trained on; the checks use validation samples
    assert record["train_pair_splits"] == {"train": record["train_pairs"]}
    assert record["val_pair_splits"] == {"val": record["val_pairs"]}
    for checks in (record["before_finetuning"], record["after_finetuning"]):
        assert 0 <= checks["retrieval_top1"] <= 1 and checks["perplexity"] > 1
        assert checks["sbs96_probe"]["chance"] == round(1 / 96, 4)
        baselines = checks["mlm_baselines"]
        assert baselines["n_masked"] == checks["n_masked"] and baselines["best_markov_order"] in (1, 2, 3)
        low, high = baselines["model_minus_best_markov"]["ci95"]
        assert low <= baselines["model_minus_best_markov"]["mean"] <= high
    assert {"config.json", "model.safetensors", "tokenizer", "finetune.json"} <= {
        p.name for p in (root / "dna_model").iterdir()
    }
    assert (root / "dna_model/tokenizer/tokenizer.json").is_file()
    metrics = json.loads((root / "finetune.json").read_text())
    assert {"retrieval_top1", "sbs96_probe_accuracy", "mlm_accuracy", "mlm_markov_accuracy"} <= set(
        metrics["heldout"]
    )

    embedded = stages.dna_embed.dna_embed(params, root / "splits", root / "dna_model", root / "emb", root)
    table = pd.read_parquet(root / "emb/variants.parquet")
    representation = np.load(root / "emb/representation.npy")
    assert representation.dtype == np.float16 and len(table) == embedded["n_variants"] == len(representation)
    assert representation.shape[1] == 2 * 3 * 32  # [tumour, normal] × the trinucleotide's tokens × width
    assert table.groupby("sample_id").size().max() <= 6
    snv = table["type"] == "SNV"
    assert table.loc[snv, "zero_shot"].notna().all() and table.loc[~snv, "zero_shot"].isna().all()
    samples = pd.read_parquet(root / "emb/samples.parquet")
    assert samples.shape == (embedded["n_samples"], 2 * 96)
    first = table["sample_id"].iloc[0]
    expected = representation[(table["sample_id"] == first).to_numpy(), :96].astype(np.float32).mean(0)
    assert np.allclose(samples.loc[first].to_numpy()[:96], expected, atol=1e-5)  # mean pooling

    document = stages.dna_classify.dna_classify(params, root / "splits", root / "emb", root / "reports")
    assert set(document["rows"]) == {
        "fusion: catalogues",
        "fusion: DNA embedding (mean)",
        "fusion: catalogues + DNA embedding",
        "logistic_regression: catalogues without density",
        "set transformer: DNA embedding",
        "set transformer: DNA embedding + 1-Mb position",
        "MuAt: motif",
        "MuAt: motif + 1-Mb position",
        "logistic_regression: catalogues",
        "gradient_boosting: catalogues",
        "logistic_regression: DNA embedding (mean)",
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


def test_nt_kmers_and_every_variant(project, tmp_path: Path):
    """NT's 6-mers: the window's flank puts the variant at offset 2 of its token; with
    max_per_sample null every variant with a window is represented."""
    root, _ = project
    kmer = parse_params(
        tiny_variant_raw(
            root,
            tokenizer="kmer",
            finetune={**TINY_DNA["finetune"], "max_steps": 2},
            embed={"max_per_sample": None, "batch_size": 32, "zero_shot": False},
        )
    )
    record = stages.dna_finetune.dna_finetune(
        kmer, root / "splits", tmp_path / "model", tmp_path / "m.json", root
    )
    assert record["tokenizer"] == "kmer" and record["vocab_size"] == 4105 and record["window_bases"] == 41
    embedded = stages.dna_embed.dna_embed(kmer, root / "splits", tmp_path / "model", tmp_path / "emb", root)
    windows = pd.read_parquet(root / "splits/windows.parquet")
    assert embedded["n_variants"] == len(windows)  # the gate's ref mismatches aside: none here
    assert np.load(tmp_path / "emb/representation.npy").shape[1] == 2 * 32  # the variant's 6-mer alone
    assert pd.read_parquet(tmp_path / "emb/variants.parquet")["zero_shot"].isna().all()


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


def test_data_parallel_embedding_on_two_cpu_processes_equals_one(project, tmp_path: Path):
    """dna.embed.devices: 2 runs Lightning's distributed predict (gloo): each rank embeds its share
    into a shard and rank 0 merges them; the result is the one-process result, row for row."""
    root, _ = project
    raw = tiny_variant_raw(root, embed={**TINY_DNA["embed"], "devices": 2})
    raw["cohort"]["path"] = str(root / "raw")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    command = [sys.executable, "-m", "oncofusion.cli", "dna-embed", "--params", str(tmp_path / "params.yaml")]
    command += [
        "--cohort",
        str(root / "splits"),
        "--model",
        str(root / "dna_model"),
        "--out",
        str(tmp_path / "emb"),
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    record = json.loads((tmp_path / "emb/embed.json").read_text())
    assert record["devices"] == 2
    one = pd.read_parquet(root / "emb/variants.parquet")
    two = pd.read_parquet(tmp_path / "emb/variants.parquet")
    pd.testing.assert_frame_equal(one, two)
    assert np.allclose(
        np.load(root / "emb/representation.npy").astype(np.float32),
        np.load(tmp_path / "emb/representation.npy").astype(np.float32),
        atol=2e-3,
    )
    assert not (tmp_path / ".emb.shards").exists()  # the shards are merged and removed


def test_bad_inputs_give_clear_errors(project, tmp_path: Path):
    root, params = project
    synthetic = parse_params(small_training_params()).synthesize
    generate_cohort(synthetic, seed=0, name="multimodal").save(tmp_path / "multimodal")
    with pytest.raises(CohortError, match=r"multimodal: no windows.parquet; the DNA stages need a variant"):
        stages.dna_finetune.dna_finetune(
            params, tmp_path / "multimodal", tmp_path / "m", tmp_path / "m.json", root
        )
    missing = parse_params(tiny_variant_raw(root, checkpoint="no-such-checkpoint"))
    with pytest.raises(ConfigError, match=r"dna.checkpoint: .*no-such-checkpoint is not a directory"):
        stages.dna_finetune.dna_finetune(missing, root / "splits", tmp_path / "m", tmp_path / "m.json", root)
    with pytest.raises(ConfigError, match=r"no usable fine-tuned DNA model"):
        stages.dna_embed.dna_embed(params, root / "splits", tmp_path / "nothing", tmp_path / "e", root)
    # a model directory whose tokenizer is another one (6-mers beside a one-base-a-token model)
    shutil.copytree(root / "dna_model", tmp_path / "mixed")
    shutil.rmtree(tmp_path / "mixed/tokenizer")
    save_tokenizer(make_kmer_tokenizer(tmp_path / "kmer", 6), tmp_path / "mixed/tokenizer")
    with pytest.raises(
        ConfigError, match=r"mixed/config.json: vocab_size 9 but the tokenizer.*another tokenizer"
    ):
        stages.dna_embed.dna_embed(params, root / "splits", tmp_path / "mixed", tmp_path / "e", root)
    assert not (tmp_path / "m").exists() and not (tmp_path / "e").exists()  # nothing half-written
