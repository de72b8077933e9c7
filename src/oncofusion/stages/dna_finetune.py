"""The dna_finetune stage: masked LM + contrastive tumour/normal fine-tuning of the ESM model on the
cohort's variant windows, then the held-out checks, saved in ``save_pretrained`` format and logged.

Only training-split samples' windows are trained on; the checks use validation-split samples. The
same checks run on the model before fine-tuning, so the report says what fine-tuning added.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import mlflow
import numpy as np
import torch
from lightning.pytorch.loggers import MLFlowLogger
from torch.utils.data import DataLoader, TensorDataset

from oncofusion import atomic, tracking
from oncofusion.config import Params
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.substitutions import sbs96_labels
from oncofusion.dna import model as dna_model
from oncofusion.dna.checks import mlm_metrics, retrieval_top1, sbs96_probe
from oncofusion.dna.inputs import draw, load_variant_inputs
from oncofusion.dna.lm_baselines import compare_to_baselines
from oncofusion.dna.module import DualTaskModule, TokenRoles
from oncofusion.dna.representations import CentredWindows, VariantLayout, centred_windows, represent, span_for
from oncofusion.dna.tokenizers import TOKENIZER_DIR, load_tokenizer, make_kmer_tokenizer, save_tokenizer
from oncofusion.errors import ConfigError

RECORD = "finetune.json"


def make_tokenizer(params: Params, root: Path, work: Path):
    dna = params.dna
    if dna.checkpoint is not None:
        if not (root / dna.checkpoint).is_dir():
            raise ConfigError(
                f"dna.checkpoint: {root / dna.checkpoint} is not a directory (a local checkpoint; "
                "nothing is downloaded)"
            )
        tokenizer = load_tokenizer(root / dna.checkpoint)
        if getattr(tokenizer, "layout", dna.kmer_layout) != dna.kmer_layout:
            raise ConfigError(
                f"dna.kmer_layout is {dna.kmer_layout} but {root / dna.checkpoint}/vocab.txt is NT "
                f"{tokenizer.layout}'s vocabulary"
            )
        return tokenizer
    if dna.tokenizer == "kmer":
        return make_kmer_tokenizer(work / TOKENIZER_DIR, 6, dna.kmer_layout)
    return make_kmer_tokenizer(work / TOKENIZER_DIR, 1, "v1")


def held_out_checks(
    model,
    roles: TokenRoles,
    tokenizer,
    train: CentredWindows,
    val: CentredWindows,
    train_sbs: np.ndarray,
    val_sbs: np.ndarray,
    params: Params,
    device: torch.device,
) -> dict[str, Any]:
    """Retrieval, the SBS96 probe on the variant representation, and masked-LM accuracy beside its
    baselines (see dna/checks.py)."""
    model.eval()
    batch, seed = params.dna.embed.batch_size, params.base.seed
    span = span_for(params.dna, tokenizer)
    # The probe's training pairs: a seeded draw (the pair table is in sample order)
    n_probe = min(len(train.ids), params.dna.finetune.probe_windows)
    probe_rows = np.sort(np.random.default_rng(seed).permutation(len(train.ids))[:n_probe])
    subset = CentredWindows(train.rows.iloc[probe_rows], train.ids[probe_rows], train.anchors[probe_rows])
    fit_x, _ = represent(model, subset, roles, span, batch, device, zero_shot=False)
    val_x, _ = represent(model, val, roles, span, batch, device, zero_shot=False)
    width = val_x.shape[1] // 2

    def features(x: torch.Tensor) -> np.ndarray:  # [tumour, normal, tumour − normal]
        return torch.cat([x, x[:, :width] - x[:, width:]], 1).numpy()

    probe_sbs = train_sbs[probe_rows]
    fit_rows = np.array([s is not None for s in probe_sbs])
    val_rows = np.array([s is not None for s in val_sbs])
    probe = sbs96_probe(
        features(fit_x)[fit_rows],
        probe_sbs[fit_rows].astype(str),
        features(val_x)[val_rows],
        val_sbs[val_rows].astype(str),
        seed,
    )
    forward = [0, 2]  # the tumour and normal windows on the forward strand
    ids = val.ids[:, forward].reshape(-1, val.ids.shape[-1])
    mlm, masked = mlm_metrics(model, ids, roles, params.dna.finetune.mask_rate, batch, device, seed)
    baselines = compare_to_baselines(
        masked,
        train.ids[:, forward].reshape(-1, train.ids.shape[-1]).numpy(),
        ids.numpy(),
        tokenizer.base_offset if tokenizer.k == 1 else None,
        roles.sequence_ids.numpy(),
        seed,
        clusters=masked.window // 2,  # a variant's tumour and normal windows resampled together
    )
    return {
        "retrieval_top1": round(retrieval_top1(val_x[:, :width], val_x[:, width:]), 4),
        "retrieval_chance": round(1 / len(val_x), 5),
        "n_val_pairs": len(val_x),
        "representation": f"[tumour, normal, tumour − normal] at the variant's token ± {span}, RC-averaged",
        "sbs96_probe": probe,
        **mlm,
        "mlm_baselines": baselines,
    }


def _trainer_settings(params: Params) -> dict[str, Any]:
    ft = params.dna.finetune
    if ft.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError("dna.finetune.accelerator is 'gpu' but no CUDA device is available")
    gpu = ft.accelerator != "cpu" and torch.cuda.is_available()
    precision = ft.precision if ft.precision != "auto" else ("bf16-mixed" if gpu else "32")
    if precision == "bf16-mixed" and not gpu:
        raise ConfigError("dna.finetune.precision: bf16-mixed needs a GPU here; use auto or 32")
    return {
        "accelerator": "gpu" if gpu else "cpu",
        "devices": ft.devices,
        "strategy": "ddp" if ft.devices > 1 else "auto",
        "precision": precision,
        "max_steps": ft.max_steps,
        "gradient_clip_val": 1.0,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": ft.log_every_steps,
        "deterministic": not gpu,
        "use_distributed_sampler": True,
    }


def dna_finetune(
    params: Params, cohort_dir: Path, out_dir: Path, metrics_file: Path, root: Path = Path(".")
) -> dict[str, Any]:
    """Fine-tune, check and save; under DDP every rank trains and rank 0 alone checks, saves and logs
    (the others return an empty record). Scratch files live in a temporary directory per process."""
    with tempfile.TemporaryDirectory(prefix="oncofusion-dna-") as work:
        return _finetune(params, cohort_dir, out_dir, metrics_file, root, Path(work))


def _finetune(
    params: Params, cohort_dir: Path, out_dir: Path, metrics_file: Path, root: Path, work: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    dna, ft, seed = params.dna, params.dna.finetune, params.base.seed
    L.seed_everything(seed, workers=True, verbose=False)
    decisions = Decisions()
    inputs = load_variant_inputs(params, cohort_dir, root)
    tokenizer = make_tokenizer(params, root, work)
    model = dna_model.build_model(dna, tokenizer, root, seed)
    layout = VariantLayout.of(tokenizer, dna_model.context_tokens(model.config))
    roles = TokenRoles(tokenizer)

    windows = inputs.windows
    train_rows = draw(windows[windows["split"] == "train"], ft.max_windows, seed)
    val_rows = draw(windows[windows["split"] == "val"], ft.val_windows, seed + 1)
    if train_rows.empty or val_rows.empty:
        raise ConfigError(f"{cohort_dir}: the DNA stages need windows of both train and val samples")
    span = span_for(dna, tokenizer)
    train = centred_windows(
        tokenizer, inputs.reference, train_rows, inputs.germline, layout, decisions, span=span
    )
    val = centred_windows(
        tokenizer, inputs.reference, val_rows, inputs.germline, layout, Decisions(), span=span
    )
    train_sbs = sbs96_labels(inputs.reference, train.rows)
    val_sbs = sbs96_labels(inputs.reference, val.rows)

    settings = _trainer_settings(params)
    # Under DDP, Lightning re-runs this script per rank with LOCAL_RANK set; only rank 0 checks.
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    rank_zero = local_rank == 0 and int(os.environ.get("NODE_RANK", "0")) == 0
    device = torch.device(f"cuda:{local_rank}" if settings["accelerator"] == "gpu" else "cpu")
    before = (
        held_out_checks(model.to(device), roles, tokenizer, train, val, train_sbs, val_sbs, params, device)
        if rank_zero
        else {}
    )
    if dna.lora.enabled:
        model = dna_model.with_lora(model, dna.lora)
    model.train()  # the checks left it in eval mode, which Lightning keeps
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    tracking.ensure_experiment(inputs.cohort.meta.name)
    logger = MLFlowLogger(
        run_id=os.environ.get("MLFLOW_RUN_ID"),
        experiment_name=tracking.experiment_name(inputs.cohort.meta.name),
        tracking_uri=tracking.tracking_uri(),
        artifact_location=tracking.artifact_location(),
        run_name="dna_finetune",
        tags={"oncofusion.stage": "dna_finetune", "oncofusion.cohort": inputs.cohort.meta.name},
        log_model=False,
    )
    module = DualTaskModule(model, roles, ft, seed)
    loader = DataLoader(
        TensorDataset(train.ids, train.anchors),
        batch_size=ft.batch_size,
        shuffle=True,
        # each DDP rank sees 1/devices of the pairs: never drop its only batch
        drop_last=len(train.ids) // ft.devices > ft.batch_size,
    )
    val_loader = DataLoader(TensorDataset(val.ids, val.anchors), batch_size=ft.batch_size)
    trainer = L.Trainer(logger=logger, default_root_dir=str(work), **settings)
    train_started = time.perf_counter()
    try:
        trainer.fit(module, loader, val_loader)
    except BaseException:
        if trainer.is_global_zero:
            logger.finalize("FAILED")
        raise
    train_seconds = time.perf_counter() - train_started
    if not trainer.is_global_zero:  # DDP: rank 0 alone evaluates, saves and logs
        return {}

    after = held_out_checks(module.model, roles, tokenizer, train, val, train_sbs, val_sbs, params, device)
    tokens_seen = int(trainer.global_step) * ft.batch_size * 4 * layout.tokens * ft.devices
    record = {
        "tokenizer": dna.tokenizer
        if dna.checkpoint is None
        else f"checkpoint ({getattr(tokenizer, 'layout', '?')})",
        "vocab_size": len(tokenizer),
        "context_tokens": layout.tokens,
        "window_bases": 2 * layout.flank + 1,  # an SNV's: the variant with layout.flank each side
        "checkpoint": dna.checkpoint,
        "architecture": None if dna.checkpoint else dna_model.resolved_architecture(dna.architecture),
        "parameters": n_params,
        "trainable_parameters": n_trainable,
        "lora": dna.lora.enabled,
        "steps": int(trainer.global_step),
        "devices": ft.devices,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "precision": settings["precision"],
        "train_pairs": len(train.ids),
        "val_pairs": len(val.ids),
        "contrastive_weight": ft.contrastive_weight,
        "contrastive_pooling": ft.contrastive_pooling,
        # which split the fine-tuning and the checks drew on: train only, val only (tests hold to it)
        "train_pair_splits": train.rows["split"].value_counts().to_dict(),
        "val_pair_splits": val.rows["split"].value_counts().to_dict(),
        "tokens_per_second": round(tokens_seen / train_seconds, 1),
        "train_seconds": round(train_seconds, 2),
        "before_finetuning": before,
        "after_finetuning": after,
        "decisions": decisions.items,
    }
    with atomic.atomic_directory(out_dir) as staging:
        dna_model.save_model(module.model, staging, dna.save, {"context_tokens": layout.tokens})
        save_tokenizer(tokenizer, staging / TOKENIZER_DIR)
        record["seconds"] = round(time.perf_counter() - started, 2)
        atomic.write_json(staging / RECORD, record)
        with mlflow.start_run(run_id=logger.run_id):
            mlflow.log_params({f"dna.{k}": v for k, v in _flat(params.dna.model_dump(mode="json")).items()})
            mlflow.log_metrics(_metrics(before, "before") | _metrics(after, "heldout"))
            mlflow.log_metric("tokens_per_second", record["tokens_per_second"])
            mlflow.log_artifacts(str(staging), artifact_path="dna_model")
    logger.finalize("FINISHED")
    record["run_id"] = logger.run_id
    atomic.write_json(
        metrics_file,
        {k: record[k] for k in ("steps", "tokens_per_second", "train_seconds")}
        | {"before": _metrics(before, ""), "heldout": _metrics(after, "")},
    )
    return record


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _metrics(checks: dict[str, Any], prefix: str) -> dict[str, float]:
    lead = f"{prefix}/" if prefix else ""
    baselines = checks["mlm_baselines"]
    out = {
        f"{lead}retrieval_top1": checks["retrieval_top1"],
        f"{lead}sbs96_probe_accuracy": checks["sbs96_probe"]["accuracy"],
        f"{lead}mlm_accuracy": checks["mlm_accuracy"],
        f"{lead}perplexity": checks["perplexity"],
        f"{lead}mlm_most_frequent_accuracy": baselines["most_frequent_token_accuracy"],
    }
    if "markov_accuracy" in baselines:
        best = baselines["best_markov_order"]
        out[f"{lead}mlm_markov_accuracy"] = baselines["markov_accuracy"][f"order {best} each side"]
        difference = baselines["model_minus_best_markov"]
        out[f"{lead}mlm_minus_markov"] = difference["mean"]
        out[f"{lead}mlm_minus_markov_low"], out[f"{lead}mlm_minus_markov_high"] = difference["ci95"]
        out[f"{lead}markov_order"] = best
    return out
