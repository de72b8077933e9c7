"""The ``dna`` section: the DNA language model branch (dna_finetune → dna_embed → dna_classify)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from oncofusion.config.common import Fraction, PositiveInt, StrictModel


class DnaArchitecture(StrictModel):
    """A preset, with any field overridden. ``cpu-small`` trains from scratch in about a minute on 2
    cores (so `make repro` stays in budget); ``gpu-50m`` is NT-v1-shaped at ~50M parameters and the full
    1,000-token (5,994 bp) context. Ignored when ``dna.checkpoint`` is set: the checkpoint's config rules."""

    preset: Literal["cpu-small", "gpu-50m"] = "cpu-small"
    hidden_size: PositiveInt | None = None
    num_layers: PositiveInt | None = None
    num_heads: PositiveInt | None = None
    intermediate_size: PositiveInt | None = None
    max_tokens: Annotated[int, Field(ge=8)] | None = None  # context in tokens, <cls> included


class LoraParams(StrictModel):
    enabled: bool = False
    r: PositiveInt = 8
    alpha: PositiveInt = 16
    dropout: Fraction = 0.05
    target_modules: Annotated[list[str], Field(min_length=1)] = ["query", "key", "value", "dense"]


class DnaFinetuneParams(StrictModel):
    max_windows: PositiveInt = 4000  # tumour/normal pairs drawn from train-split samples
    val_windows: PositiveInt = 500  # pairs from val-split samples: retrieval, probe, MLM accuracy
    probe_windows: PositiveInt = 1500  # training pairs the SBS96 probe is fitted on
    max_steps: PositiveInt = 150
    batch_size: Annotated[int, Field(ge=2)] = 32  # pairs per step: 2 × this many sequences
    lr: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.01
    warmup_steps: Annotated[int, Field(ge=0)] = 25
    mask_rate: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15  # then 80% <mask>, 10% random, 10% kept
    contrastive_weight: Annotated[float, Field(ge=0.0)] = 1.0  # λ in MLM + λ·InfoNCE
    # variant: InfoNCE on the variant's token, tumour strands positive, own normal a hard negative;
    # mean: the seed's pairing (mean-pooled tumour and normal windows positive), kept to compare
    contrastive_pooling: Literal["variant", "mean"] = "variant"
    temperature: Annotated[float, Field(gt=0.0)] = 0.1
    gradient_checkpointing: bool = False
    precision: Literal["auto", "32", "bf16-mixed"] = "auto"  # auto: bf16-mixed on a GPU, 32 on CPU
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    devices: PositiveInt = 1  # > 1: Lightning DDP (NCCL on GPUs, gloo on CPU processes)
    log_every_steps: PositiveInt = 10


class DnaEmbedParams(StrictModel):
    # variants embedded per sample (a seeded draw of its windows); null: every variant with a window
    max_per_sample: PositiveInt | None = None
    batch_size: PositiveInt = 64  # variants per forward pass (each is 4 windows: both strands, T and N)
    # tokens each side of the variant's, concatenated: 1 with one base a token (the trinucleotide); 0 with
    # 6-mers (the centred 6-mer already holds it)
    span: Annotated[int, Field(ge=0)] | None = None
    zero_shot: bool = True  # the masked log-likelihood ratio per SNV (two more windows per variant)
    # > 1: Lightning's distributed predict, one shard per rank (GPUs, or CPU processes with gloo)
    devices: PositiveInt = 1
    num_nodes: PositiveInt = 1  # machines, each with `devices` (launched as for training: srun, torchrun)


class DnaSetModelParams(StrictModel):
    """The sample models that read a variant set (``dna/variant_sets.py``): the embedding set model
    and the MuAt baseline share these settings."""

    width: PositiveInt = 64
    layers: Annotated[int, Field(ge=0)] = 1  # 0: attention pooling alone, no attention between variants
    heads: PositiveInt = 4
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    epochs: PositiveInt = 30
    lr: Annotated[float, Field(gt=0.0, lt=1.0)] = 2e-3
    batch_size: PositiveInt = 16  # samples per step
    train_variants: PositiveInt = 128  # variants drawn per sample per epoch; prediction reads them all
    patience: PositiveInt = 10  # epochs without a better validation loss before stopping


class DnaClassifyParams(StrictModel):
    set_model: DnaSetModelParams = DnaSetModelParams()
    bootstrap: Annotated[int, Field(ge=100)] = 1000  # resamples of the test set for the intervals


class DnaContextParams(StrictModel):
    """The beyond-the-96 check (stage dna_context): cross-validated logistic regression on the
    beyond-the-96 cohort's catalogues, its mean variant embeddings, and both."""

    folds: Annotated[int, Field(ge=2)] = 5
    repeats: PositiveInt = 3  # repeated stratified k-fold: every donor predicted `repeats` times
    c: Annotated[float, Field(gt=0.0)] = 1.0  # inverse L2 strength, on standardised features
    bootstrap: Annotated[int, Field(ge=100)] = 1000  # donor resamples for the paired intervals


class DnaParams(StrictModel):
    # char: one base a token (the CPU default: each base's embedding is learnt from the start, and the
    # trinucleotide is three tokens); kmer: NT's 6-mers (with a checkpoint or the gpu-50m preset)
    tokenizer: Literal["kmer", "char"] = "char"
    kmer_layout: Literal["v1", "v2"] = "v1"
    # A local directory holding an NT v1 (ESM) checkpoint: config.json, weights, vocab.txt. Never a hub
    # id: nothing is downloaded. null: a model of `architecture` from scratch.
    checkpoint: str | None = None
    architecture: DnaArchitecture = DnaArchitecture()
    lora: LoraParams = LoraParams()
    save: Literal["merged", "adapter"] = "merged"  # with LoRA: the merged model, or the adapter alone
    finetune: DnaFinetuneParams = DnaFinetuneParams()
    embed: DnaEmbedParams = DnaEmbedParams()
    classify: DnaClassifyParams = DnaClassifyParams()
    context: DnaContextParams = DnaContextParams()

    @model_validator(mode="before")
    @classmethod
    def _checkpoint_tokenizer(cls, data: Any) -> Any:
        """A checkpoint with ``tokenizer`` left unset: its NT 6-mer vocabulary decides."""
        if isinstance(data, dict) and data.get("checkpoint") is not None and "tokenizer" not in data:
            return {**data, "tokenizer": "kmer"}
        return data

    @model_validator(mode="after")
    def _checks(self) -> DnaParams:
        if self.save == "adapter" and not self.lora.enabled:
            raise ValueError("dna.save: adapter needs dna.lora.enabled: true (there is no adapter)")
        if self.checkpoint is not None and self.tokenizer != "kmer":
            raise ValueError("dna.tokenizer: a checkpoint brings NT's 6-mer vocabulary; use kmer with it")
        return self
