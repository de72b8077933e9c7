"""The `cohort` section: where a cohort comes from (synthetic, your own tables, CNV segments or somatic
variants) and how each source is read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from oncofusion.cohort import ModalityKind, Transform
from oncofusion.config.common import PositiveInt, StrictModel

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
