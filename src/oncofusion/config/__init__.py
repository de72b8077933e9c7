"""The one typed schema for ``params.yaml``.

Every stage reads its settings through :func:`load_params`, so a typo or an impossible value fails once,
before any work starts, with the key path in the message (``synthesize.methylation.n_informative``).
Sections follow the DVC stages, so ``dvc.yaml`` can declare per stage only the params it reads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from oncofusion.cohort import ModalityKind, Transform
from oncofusion.config.common import Fraction, PositiveInt, StrictModel
from oncofusion.config.dna import DnaParams
from oncofusion.errors import ConfigError


class BaseParams(StrictModel):
    seed: Annotated[int, Field(ge=0)] = 42


Orientation = Literal["samples_by_features", "features_by_samples"]


# A letter first: names become request fields in the served API (no leading "_", no "model_").
def _not_reserved(name: str) -> str:
    if name.startswith("model_"):
        raise ValueError(f"modality name {name!r} may not start with 'model_' (reserved by the served API)")
    if name == "labels":
        raise ValueError("'labels' is not a modality name: the cohort keeps its labels in labels.parquet")
    return name


ModalityName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$"), AfterValidator(_not_reserved)]


class ModalityDecl(StrictModel):
    """One bring-your-own modality: where it is, how to read it, and how the model should see it.

    The transform and top-k are fitted on the training split only, inside the model, so serving
    applies exactly what training fitted."""

    # File in cohort.path; null: the one file named <modality>.csv|.tsv|.txt|.parquet.
    file: str | None = None
    kind: ModalityKind = "tabular"
    orientation: Orientation | None = None  # null: tables.orientation
    transform: Transform = "none"
    top_k: PositiveInt | None = None  # keep the k features of highest training-split variance
    min: float | None = None  # value domain the gate checks (log1p and proportion imply min 0)
    max: float | None = None

    @model_validator(mode="after")
    def _domain(self) -> ModalityDecl:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if self.transform in ("log1p", "proportion") and self.min is not None and self.min < 0:
            raise ValueError(f"transform '{self.transform}' needs values ≥ 0, but min is {self.min:g}")
        return self


class TablesParams(StrictModel):
    # Labels file in cohort.path (sample_id, label, optional split and clinical columns);
    # null: the one file named labels.csv|.tsv|.txt|.parquet.
    labels: str | None = None
    label_column: Annotated[str, Field(min_length=1)] = "label"
    split_column: Annotated[str, Field(min_length=1)] = "split"
    orientation: Orientation = "samples_by_features"
    modalities: dict[ModalityName, ModalityDecl] = {}


class SegmentsParams(StrictModel):
    format: Literal["auto", "pgxseg", "seg"] = "auto"  # auto: by file suffix
    # Labels file in cohort.path, which must then be the directory holding it and the segment file
    # (columns as tables.label_column / tables.split_column say); null: each .pgxseg sample's diagnosis.
    labels: str | None = None
    label_from: Literal["group_id", "group_label"] = "group_id"  # .pgxseg header field used as label
    assembly: Literal["auto", "GRCh37", "GRCh38"] = "auto"  # auto: the .pgxseg assemblyId line
    bin_size: Annotated[int, Field(ge=10_000)] = 1_000_000
    include_x: bool = True
    include_y: bool = False
    gain_threshold: Annotated[float, Field(gt=0)] = 0.15  # bin mean log2 ≥ this: gain (+1)
    loss_threshold: Annotated[float, Field(lt=0)] = -0.15  # bin mean log2 ≤ this: loss (-1)
    overlaps: Literal["error", "later"] = "error"  # overlapping segments of one sample
    # Bins no segment covers are NaN (unknown). Exports that list only aberrant segments (Progenetix)
    # may set 0.0: unlisted regions are then copy-neutral.
    fill_uncovered: float | None = None
    modality: ModalityName = "cna"


CatalogueName = Literal["sbs96", "dbs78", "id83", "density"]


class WindowParams(StrictModel):
    """Tumour/normal windows around each variant, for the DNA language model (data/variants/windows.py)."""

    flank: Annotated[int, Field(ge=0)] = 3000  # bases each side of the allele (PCAWG design: 3000)
    # Variants windowed per sample, drawn by a seeded sample; null: all.
    max_per_sample: PositiveInt | None = 2000


class VariantsParams(StrictModel):
    """Somatic variants (MAF, ICGC TSV or VCFs) + a reference FASTA + a sample sheet, all in cohort.path."""

    format: Literal["auto", "maf", "icgc", "vcf"] = "auto"  # auto: .vcf/.vcf.gz/directory → vcf, else header
    variants: Annotated[str, Field(min_length=1)] = "somatic.maf.gz"  # a file, or a directory of VCFs
    reference: Annotated[str, Field(min_length=1)] = "reference.fa.gz"  # plain or bgzipped FASTA
    sheet: Annotated[str, Field(min_length=1)] = "samples.tsv"  # sample_id, donor, histology, ...
    label_column: Annotated[str, Field(min_length=1)] = "histology_abbreviation"  # or organ_system
    # Column of the variant file naming the sample; null: the format's (Tumor_Sample_Barcode, icgc_sample_id).
    sample_column: str | None = None
    germline: str | None = None  # matched-normal germline VCF(s): a file or directory; null: none
    vcf_sample_from: Literal["header", "filename"] = "header"  # where a VCF's sample name comes from
    pass_only: bool = True  # VCF records whose FILTER is not PASS (or .) are skipped, counted
    merge_adjacent_snvs: bool = True  # adjacent SNVs of one sample → a DBS (3+ → an MNV), counted
    catalogues: Annotated[list[CatalogueName], Field(min_length=1)] = ["sbs96", "dbs78", "id83", "density"]
    density_bin: Annotated[int, Field(ge=10_000)] = 1_000_000  # regional mutation density bin (bp)
    transform: Transform = "proportion"  # counts: shares plus the log total (keeps the burden)
    window: WindowParams = WindowParams()


class CohortParams(StrictModel):
    source: Literal["synthetic", "tables", "segments", "variants"] = "synthetic"
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "synthetic-pan-cancer"
    # Input for tables (a directory) and segments (a .pgxseg or .seg file, or a directory holding one
    # and its labels file), relative to the project; DVC tracks it as the cohort stage's dependency.
    # Unused by the synthetic source.
    path: Annotated[str, Field(min_length=1)] = "data/raw"
    tables: TablesParams = TablesParams()
    segments: SegmentsParams = SegmentsParams()
    variants: VariantsParams = VariantsParams()
    # Samples in a data file but not in the labels: stop (error) or drop them, logged and counted.
    unknown_samples: Literal["error", "drop"] = "error"
    # Labelled samples left with no data in any modality: stop (error) or drop them, logged and counted.
    empty_samples: Literal["error", "drop"] = "error"
    # Classes with fewer samples are dropped (logged and counted); 0 keeps all (the split needs ≥ 3).
    min_class_size: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _source_settings(self) -> CohortParams:
        if self.source == "tables" and not self.tables.modalities:
            raise ValueError("source 'tables' needs tables.modalities (one entry per modality file)")
        return self


class MethylationParams(StrictModel):
    n_features: PositiveInt = 110
    n_informative: Annotated[int, Field(ge=0)] = 30
    hyper_fraction: Fraction = 0.5
    concentration: Annotated[float, Field(gt=0)] = 10.0
    signal: Fraction = 0.1

    @model_validator(mode="after")
    def _informative_fit(self) -> MethylationParams:
        if self.n_informative > self.n_features:
            raise ValueError(
                f"n_informative ({self.n_informative}) cannot exceed n_features ({self.n_features})"
            )
        return self


class FragmentomicsParams(StrictModel):
    min_length: Annotated[int, Field(ge=1)] = 50
    max_length: PositiveInt = 350
    bin_width: PositiveInt = 3
    n_fragments: PositiveInt = 5000
    nucleosome_peak_bp: Annotated[float, Field(gt=0)] = 167.0
    nucleosome_sd_bp: Annotated[float, Field(gt=0)] = 12.0
    periodicity_bp: Annotated[float, Field(gt=0)] = 10.4
    periodicity_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.25
    dinucleosome_weight: Fraction = 0.06
    tumour_peak_bp: Annotated[float, Field(gt=0)] = 145.0
    tumour_sd_bp: Annotated[float, Field(gt=0)] = 10.0
    # YAML has no tuples: pairs arrive as lists, so these fields accept a list of two.
    tumour_fraction_range: Annotated[tuple[Fraction, Fraction], Field(strict=False)] = (0.05, 0.40)
    tumour_fraction_concentration: Annotated[float, Field(gt=0)] = 20.0
    class_peak_shift_bp: Annotated[float, Field(ge=0)] = 8.0
    signal: Fraction = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> FragmentomicsParams:
        if self.max_length <= self.min_length:
            raise ValueError(f"max_length ({self.max_length}) must exceed min_length ({self.min_length})")
        span = self.max_length - self.min_length
        if span % self.bin_width:
            raise ValueError(
                f"bin_width ({self.bin_width}) must divide max_length - min_length ({span}) exactly"
            )
        low, high = self.tumour_fraction_range
        if low > high:
            raise ValueError(f"tumour_fraction_range low ({low}) is above high ({high})")
        return self

    @property
    def n_bins(self) -> int:
        return (self.max_length - self.min_length) // self.bin_width


class CopyNumberParams(StrictModel):
    n_bins: Annotated[int, Field(ge=44)] = 110
    breakpoint_rate: Annotated[float, Field(gt=0, lt=1)] = 0.04
    noise_sd: Annotated[float, Field(ge=0)] = 0.15
    purity_beta: Annotated[
        tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]], Field(strict=False)
    ] = (7.0, 3.0)
    arm_events_per_class: Annotated[int, Field(ge=0)] = 2
    focal_events_per_class: Annotated[int, Field(ge=0)] = 2
    penetrance: Fraction = 0.3
    signal: Fraction = 1.0


SYNTHETIC_MODALITIES = ("methylation", "fragmentomics", "cna")


class InteractionParams(StrictModel):
    """A cross-modal interaction (data/synthetic/interaction.py): class ``twin`` is generated exactly
    like class ``base`` in every modality, except at one locus where methylation silencing (a few CpGs
    turned hyper-methylated) and copy loss (a few CNA bins) are drawn so that each alone has the same
    frequency in every class but their agreement separates ``twin`` from the rest. Only a model that
    combines the two modalities can tell ``twin`` from ``base``."""

    enabled: bool = False
    base: str | None = None  # null: the first class
    twin: str | None = None  # null: the last class
    prevalence: Annotated[float, Field(gt=0.0, le=0.5)] = 0.5  # P(silenced) = P(lost), in every class
    n_cpgs: PositiveInt = 5  # CpGs of the locus (taken from the non-informative ones)
    n_bins: PositiveInt = 3  # contiguous CNA bins of the locus (away from the class hotspots)
    loss_state: Annotated[int, Field(ge=0, le=1)] = 1  # copy number inside a lost locus


class SynthesizeParams(StrictModel):
    n_samples: PositiveInt = 1000
    classes: Annotated[list[str], Field(min_length=2)] = ["BRCA", "LUAD", "COAD", "PRAD", "LIHC"]
    class_weights: list[Annotated[float, Field(gt=0)]] | None = [0.35, 0.25, 0.2, 0.12, 0.08]
    methylation: MethylationParams = MethylationParams()
    fragmentomics: FragmentomicsParams = FragmentomicsParams()
    cna: CopyNumberParams = CopyNumberParams()
    # Per modality, the share of samples that lack it (at random; every sample keeps at least one
    # modality). The cohort then needs validate.require_complete_modalities: false.
    missing_fraction: dict[str, Annotated[float, Field(ge=0.0, lt=1.0)]] = {}
    interaction: InteractionParams = InteractionParams()

    @model_validator(mode="after")
    def _classes_consistent(self) -> SynthesizeParams:
        unknown = sorted(set(self.missing_fraction) - set(SYNTHETIC_MODALITIES))
        if unknown:
            raise ValueError(
                f"missing_fraction: unknown modality {unknown}; "
                f"synthetic modalities: {list(SYNTHETIC_MODALITIES)}"
            )
        if self.interaction.enabled:
            for role in ("base", "twin"):
                name = getattr(self.interaction, role)
                if name is not None and name not in self.classes:
                    raise ValueError(f"interaction.{role} {name!r} is not one of the classes {self.classes}")
            if self.interaction_classes[0] == self.interaction_classes[1]:
                raise ValueError("interaction.base and interaction.twin must be different classes")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be unique, got {self.classes}")
        if self.class_weights is not None and len(self.class_weights) != len(self.classes):
            raise ValueError(
                f"class_weights has {len(self.class_weights)} entries but there are "
                f"{len(self.classes)} classes"
            )
        if self.n_samples < len(self.classes):
            raise ValueError(f"n_samples ({self.n_samples}) is below the number of classes")
        return self

    @property
    def interaction_classes(self) -> tuple[str, str]:
        """(base, twin) with the defaults filled in."""
        return (self.interaction.base or self.classes[0], self.interaction.twin or self.classes[-1])

    @property
    def class_proportions(self) -> list[float]:
        weights = self.class_weights or [1.0] * len(self.classes)
        total = sum(weights)
        return [w / total for w in weights]


class SimulateParams(StrictModel):
    """The somatic-variant simulator (stage variants_simulate): a synthetic genome and donors whose
    mutations are drawn from the COSMIC signatures of their cancer type (data/variants/simulator.py)."""

    n_donors: Annotated[int, Field(ge=2)] = 330
    # Cancer types from data/variants/cancer_types.py (PCAWG histology abbreviations).
    types: Annotated[list[str], Field(min_length=2)] = [
        "Skin-Melanoma",
        "Lung-SCC",
        "Breast-AdenoCa",
        "Bladder-TCC",
        "ColoRect-AdenoCA-MSI",
        "Liver-HCC",
        "Stomach-AdenoCA",
        "Eso-AdenoCa",
        "Ovary-AdenoCA",
        "Prost-AdenoCA",
        "Kidney-RCC",
    ]
    type_weights: list[Annotated[float, Field(gt=0)]] | None = [
        0.12,
        0.1,
        0.14,
        0.07,
        0.05,
        0.1,
        0.08,
        0.06,
        0.1,
        0.1,
        0.08,
    ]
    genome_mb: Annotated[float, Field(gt=0, le=4000)] = 48.0  # split over contigs as GRCh37's autosomes
    n_contigs: Annotated[int, Field(ge=1, le=22)] = 22
    gc_mean: Annotated[float, Field(gt=0.2, lt=0.8)] = 0.41
    gc_sd: Annotated[float, Field(ge=0, lt=0.2)] = 0.04  # between 100-kb blocks (isochores)
    microsatellites_per_mb: Annotated[float, Field(ge=0)] = 1500.0  # planted repeats (soft-masked)
    burden_scale: Annotated[float, Field(gt=0)] = 0.5  # multiplies each type's median burden
    burden_sdlog: Annotated[float, Field(ge=0)] = 1.2  # log-normal: ±2 sd spans ~120× across donors
    max_mutations_per_donor: PositiveInt = 20_000
    exposure_concentration: Annotated[float, Field(gt=0)] = 10.0  # Dirichlet around the type's exposures
    density_sdlog: Annotated[float, Field(ge=0)] = 0.6  # type-specific 1-Mb regional density variation
    germline_per_mb: Annotated[float, Field(ge=0)] = 50.0  # germline SNVs per donor and Mb
    vcf: bool = True  # also write per-sample somatic VCFs beside the MAF

    @model_validator(mode="after")
    def _types_known(self) -> SimulateParams:
        from oncofusion.data.variants.cancer_types import PRESETS

        unknown = [t for t in self.types if t not in PRESETS]
        if unknown:
            raise ValueError(f"unknown cancer type(s) {unknown}; simulated types: {sorted(PRESETS)}")
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"types must be unique, got {self.types}")
        if self.type_weights is not None and len(self.type_weights) != len(self.types):
            raise ValueError(f"type_weights has {len(self.type_weights)} entries for {len(self.types)} types")
        return self


class ValidateParams(StrictModel):
    max_nan_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    # Variant cohorts: the share of variants whose REF allele disagrees with the FASTA above which the
    # gate fails (a wrong assembly gives ~75%; a few liftover artefacts give well under 1%).
    max_ref_mismatch: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    profile_sum_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    # Synthetic cohorts are complete; bring-your-own cohorts may set this false and let the model mask.
    require_complete_modalities: bool = True


class SplitParams(StrictModel):
    train: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.7
    val: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15
    test: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitParams:
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self


EncoderChoice = Literal["mlp", "cnn", "cnn_gru"]


class ModelParams(StrictModel):
    d_model: Annotated[int, Field(ge=8)] = 128
    n_heads: PositiveInt = 4
    n_layers: PositiveInt = 2
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    fusion: Literal["attention", "concat"] = "attention"
    # Per-modality encoder override; by default the modality's kind picks it
    # (tabular → mlp, profile → cnn, genomic → cnn_gru).
    encoders: dict[str, EncoderChoice] = {}
    hidden: PositiveInt = 256
    channels: PositiveInt = 32
    gru_hidden: PositiveInt = 64
    # Restrict training to these modalities (empty: all modalities of the cohort).
    modalities: list[str] = []
    # A linear path from the scaled features of every present modality straight to the logits, added
    # to the transformer's: the model contains the logistic regression it is compared with, and the
    # deep part only has to learn what a linear model cannot.
    wide: bool = True
    # The wide path also sees each feature through a piecewise-linear encoding on this many quantile
    # bins of its training values (Gorishniy et al., 2022): a generalised additive model beside the
    # transformer, so per-feature thresholds (what gradient boosting finds) are within its reach.
    # 0: linear only.
    wide_bins: Annotated[int, Field(ge=0, le=64)] = 8

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelParams:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self


class EnsembleParams(StrictModel):
    """Cross-validated training inside the training split: ``folds`` members, each early-stopped on its
    own held-out fold, averaged (in logit space) at prediction time. 1: one model early-stopped on
    the val split. With val only ~50 samples on a 350-sample cohort, one early-stopping decision on it
    is mostly noise; k folds use every training sample for stopping once and give an ensemble."""

    folds: Annotated[int, Field(ge=1, le=20)] = 5
    # Members trained at once in separate processes; 0: as many as the CPU cores allow (on a GPU,
    # members train one after another).
    workers: Annotated[int, Field(ge=0)] = 0


class CalibrationParams(StrictModel):
    """Fitted on the val split (held out from training and early stopping) and stored in the model."""

    temperature: bool = True  # temperature scaling of the logits (argmax, hence accuracy, unchanged)
    # Split-conformal prediction sets with this coverage; null: no sets.
    coverage: Annotated[float, Field(gt=0.0, lt=1.0)] | None = 0.9
    # Class-conditional (Mondrian) thresholds guarantee the coverage per class but need enough val
    # samples of every class; auto: per class when each has ≥ 1/(1 - coverage) - 1, else one threshold.
    class_conditional: Literal["auto", "always", "never"] = "auto"
    # Which class a sample is called: prevalence, the most probable class, or balanced, the class with
    # the highest probability relative to its training-split frequency (argmax p_k / π_k, the Bayes rule
    # for balanced error when p is calibrated to the training prevalence). Balanced calls do not lean
    # on the training cohort's prevalence: on cfDNA, whose test set is another cohort, +0.049 macro-F1
    # (5 of 5 repeats); where test and training share their prevalence, −0.011 to +0.006. Probabilities
    # and prediction sets are the same either way; a balanced call can change with the temperature.
    # target: the Bayes call for a cohort whose class mix is ``target_mix`` (a deployment site's known
    # prevalence), argmax p_k · τ_k / π_k; balanced is the same rule with equal τ.
    decision: Literal["balanced", "prevalence", "target"] = "prevalence"
    # {class: share} for decision: target, shares > 0 summing to 1, every class of the cohort named.
    target_mix: dict[str, Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]] | None = None

    @field_validator("target_mix", mode="before")
    @classmethod
    def _class_names_as_text(cls, value: object) -> object:
        """Labels are read as text, but YAML reads a class named 0, 1 or yes as a number or a boolean."""
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _target(self) -> CalibrationParams:
        if (self.decision == "target") != (self.target_mix is not None):
            raise ValueError(
                "target_mix goes with decision: target and only with it "
                f"(decision is '{self.decision}', target_mix is "
                f"{'set' if self.target_mix is not None else 'not set'})"
            )
        if self.target_mix is not None and abs(sum(self.target_mix.values()) - 1.0) > 1e-3:
            raise ValueError(f"target_mix shares sum to {sum(self.target_mix.values()):.4f}, not 1")
        return self


class TrainParams(StrictModel):
    max_epochs: PositiveInt = 50
    batch_size: Annotated[int, Field(ge=2)] = 64
    lr: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-2
    warmup_epochs: Annotated[int, Field(ge=0)] = 3
    gradient_clip: Annotated[float, Field(gt=0.0)] = 1.0
    focal_gamma: Annotated[float, Field(ge=0.0)] = 2.0
    # Per-class focal α in class order; null means inverse class frequency on the training split.
    focal_alpha: list[Annotated[float, Field(gt=0.0)]] | None = None
    sparsity_lambda: Annotated[float, Field(ge=0.0)] = 0.01
    modality_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    progressive: bool = True
    pretrain_epochs: Annotated[int, Field(ge=0)] = 5
    early_stopping_patience: PositiveInt = 10
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    # Data-parallel training (Lightning DDP) of the train stage: devices per node × num_nodes processes.
    # 1 × 1 is one device. "auto" is DDP whenever there is more than one process.
    devices: PositiveInt = 1
    num_nodes: PositiveInt = 1
    strategy: Literal["auto", "ddp"] = "auto"
    deterministic: bool = True
    # Final fit on train+val for a fixed number of epochs (the tuned trial's, else max_epochs), without
    # early stopping. Val metrics are then in-sample: the registry's val comparison favours such a model.
    refit_on_train_val: bool = False
    # What early stopping and the checkpoint choice watch: the validation log-loss (smooth, so less
    # noisy on small validation sets) or macro-F1.
    # val_balanced_loss weighs each class by its focal α (inverse frequency by default).
    monitor: Literal["val_loss", "val_balanced_loss", "val_f1_macro"] = "val_loss"
    wide_l2: Annotated[float, Field(ge=0.0)] = 1e-3  # L2 penalty on the wide path's weights
    # Where the wide path starts: a logistic regression fitted on the member's training rows, or zeros.
    wide_init: Literal["logistic", "zeros"] = "logistic"
    # Inverse L2 strength of that logistic regression (scikit-learn's C). Stronger than the baseline's
    # 0.1: with the binned encoding the wide path has (1 + wide_bins) × as many weights.
    wide_init_c: Annotated[float, Field(gt=0.0)] = 0.01
    # That regression sees only the features whose class association passes Benjamini-Hochberg at this
    # false-discovery rate on the member's rows (ANOVA F per feature; training/wide_start.py); the
    # others start at zero weight. null: every feature. The transformer always sees every feature.
    wide_screen_fdr: Annotated[float, Field(gt=0.0, le=1.0)] | None = 0.01
    # The wide path's learning rate as a share of train.lr (0: it keeps its logistic-regression start
    # and the transformer learns only what that misses).
    wide_lr_scale: Annotated[float, Field(ge=0.0)] = 0.0
    # How much of the transformer's logits joins the wide path's: chosen on the k-fold members'
    # out-of-fold log-loss (training/deep_weight.py), or all of it (full). Needs the wide path and
    # ensemble.folds >= 2; otherwise all of it.
    deep_weight: Literal["out_of_fold", "full"] = "out_of_fold"
    input_noise: Annotated[float, Field(ge=0.0)] = 0.0  # Gaussian noise (in sd units) on scaled inputs
    ensemble: EnsembleParams = EnsembleParams()
    calibration: CalibrationParams = CalibrationParams()

    @model_validator(mode="after")
    def _pretrain_fits(self) -> TrainParams:
        if self.progressive and self.pretrain_epochs >= self.max_epochs:
            raise ValueError(
                f"pretrain_epochs ({self.pretrain_epochs}) must be below max_epochs ({self.max_epochs}) "
                "to leave epochs for joint training"
            )
        if self.devices * self.num_nodes > 1 and self.ensemble.folds > 1:
            raise ValueError(
                f"devices ({self.devices}) × num_nodes ({self.num_nodes}) > 1 trains one model with DDP; "
                f"the {self.ensemble.folds}-fold ensemble trains its members in worker processes instead: "
                "set ensemble.folds to 1, or devices and num_nodes to 1"
            )
        calibrating = self.calibration.temperature or self.calibration.coverage is not None
        if self.refit_on_train_val and calibrating:
            raise ValueError(
                "refit_on_train_val trains on the val split, which calibration (temperature scaling and "
                "conformal sets) needs held out: set calibration.temperature false and calibration.coverage "
                "null, or refit_on_train_val false"
            )
        return self


class EvaluateParams(StrictModel):
    baselines: bool = True
    ablations: bool = True
    top_k: PositiveInt = 10
    # Retrain everything this many times (seeds base.seed + r; cohorts whose split was drawn, not given,
    # are also re-split) and report mean ± sd of every row. 1: the trained model only.
    repeats: Annotated[int, Field(ge=1)] = 1
    bootstrap: Annotated[int, Field(ge=100)] = 1000  # resamples for the 95% test-set intervals


class SearchParam(StrictModel):
    """One dimension of the tuning search space (Optuna distribution)."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[bool | int | float | str] | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter needs 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is greater than high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled range needs low > 0, got {self.low:g}")
        return self


# Which params section each tunable name lives in; anything else in the search space is an error.
TUNABLE = {
    "d_model": "model",
    "n_heads": "model",
    "n_layers": "model",
    "dropout": "model",
    "hidden": "model",
    "channels": "model",
    "gru_hidden": "model",
    "fusion": "model",
    "lr": "train",
    "weight_decay": "train",
    "focal_gamma": "train",
    "sparsity_lambda": "train",
    "modality_dropout": "train",
    "progressive": "train",
    "pretrain_epochs": "train",
    "batch_size": "train",
    "wide": "model",
    "wide_l2": "train",
    "wide_bins": "model",
    "wide_init_c": "train",
    "wide_screen_fdr": "train",
    "wide_lr_scale": "train",
    "input_noise": "train",
}


def _default_search_space() -> dict[str, SearchParam]:
    return {
        "d_model": SearchParam(type="categorical", choices=[64, 128]),
        "n_heads": SearchParam(type="categorical", choices=[2, 4]),
        "n_layers": SearchParam(type="int", low=1, high=3),
        "dropout": SearchParam(type="float", low=0.0, high=0.4),
        "lr": SearchParam(type="float", low=1e-4, high=3e-3, log=True),
        "weight_decay": SearchParam(type="float", low=1e-4, high=1e-1, log=True),
        "focal_gamma": SearchParam(type="float", low=0.0, high=3.0),
        "sparsity_lambda": SearchParam(type="float", low=0.0, high=0.1),
        "modality_dropout": SearchParam(type="float", low=0.0, high=0.3),
        "progressive": SearchParam(type="categorical", choices=[True, False]),
    }


class TuneParams(StrictModel):
    study: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "oncofusion"
    # SQLAlchemy URL; null means $OPTUNA_STORAGE, else sqlite:///<project>/optuna.db.
    storage: str | None = None
    n_trials: PositiveInt = 6
    timeout_s: Annotated[float, Field(gt=0)] = 900.0
    max_epochs: PositiveInt = 12
    pruner: Literal["median", "hyperband", "none"] = "median"
    pruner_warmup_epochs: Annotated[int, Field(ge=0)] = 6  # > train.pretrain_epochs: no pruning on -1
    heartbeat_s: Annotated[int, Field(ge=1)] = 10
    max_retry: Annotated[int, Field(ge=0)] = 2
    search_space: dict[str, SearchParam] = Field(default_factory=_default_search_space)

    @model_validator(mode="after")
    def _known_names(self) -> TuneParams:
        unknown = sorted(set(self.search_space) - set(TUNABLE))
        if unknown:
            raise ValueError(f"unknown search_space parameter(s) {unknown}; tunable: {sorted(TUNABLE)}")
        return self


class RegisterParams(StrictModel):
    model_name: Annotated[str, Field(min_length=1)] = "oncofusion-classifier"
    alias: Annotated[str, Field(min_length=1)] = "champion"
    # Validation metric (from metrics.json's "val" block) that decides promotion; higher is better.
    metric: Literal["f1_macro", "accuracy", "f1_weighted", "auroc"] = "f1_macro"


class Params(StrictModel):
    base: BaseParams = BaseParams()
    cohort: CohortParams = CohortParams()
    synthesize: SynthesizeParams = SynthesizeParams()
    simulate: SimulateParams = SimulateParams()
    # The section is named after its stage; the attribute avoids shadowing BaseModel.validate.
    validation: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    tune: TuneParams = TuneParams()
    # Named after its stage; the attribute avoids shadowing BaseModel.register.
    registration: RegisterParams = Field(RegisterParams(), alias="register")
    dna: DnaParams = DnaParams()

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, protected_namespaces=()
    )


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"{source}: {error.error_count()} invalid setting(s)"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see params.yaml for the allowed keys)"
        got = item.get("input")
        suffix = (
            ""
            if item["type"] in {"extra_forbidden", "missing"} or isinstance(got, dict)
            else f" (got {got!r})"
        )
        lines.append(f"  {path}: {message}{suffix}")
    return "\n".join(lines)


def parse_params(raw: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate an already-loaded mapping; ``source`` names it in error messages."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(source, error)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read params file ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, source=str(path))
