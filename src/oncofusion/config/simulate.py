"""The `simulate` section: the somatic-variant simulator (stage `variants_simulate`).

The cancer-type names are checked against the simulator's presets when the simulator runs, not here, so
that the config package (a dependency of every stage) does not import simulator data."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from oncofusion.config.common import PositiveInt, StrictModel


class SimulateParams(StrictModel):
    """The somatic-variant simulator (stage variants_simulate, data/synthetic/variants/): a synthetic
    genome and donors whose mutations are drawn from the COSMIC signatures of their cancer type."""

    n_donors: Annotated[int, Field(ge=2)] = 330
    # Cancer types from data/synthetic/variants/cancer_types.py: PCAWG histology abbreviations, and the
    # beyond-the-96 pairs (APOBEC3A-like/-3B-like, Motif-proximal/-control, Strand-biased/-control).
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
    # gc_blocks: bases independent given their block's GC; markov: a 5th-order chain fitted to 2.33 Mb of
    # hg38 (CpG depletion and k-mer structure a masked LM can learn), tilted to each block's GC
    genome_model: Literal["gc_blocks", "markov"] = "gc_blocks"
    burden_scale: Annotated[float, Field(gt=0)] = 0.5  # multiplies each type's median burden
    burden_sdlog: Annotated[float, Field(ge=0)] = 1.2  # log-normal: ±2 sd spans ~120× across donors
    max_mutations_per_donor: PositiveInt = 20_000
    exposure_concentration: Annotated[float, Field(gt=0)] = 10.0  # Dirichlet around the type's exposures
    density_sdlog: Annotated[float, Field(ge=0)] = 0.6  # type-specific 1-Mb regional density variation
    germline_per_mb: Annotated[float, Field(ge=0)] = 50.0  # germline SNVs per donor and Mb
    vcf: bool = True  # also write per-sample somatic VCFs beside the MAF
    # A FASTA (plain or bgzipped) to plant the mutations into instead of the simulator's own genome;
    # genome_mb, n_contigs, gc_mean, gc_sd, microsatellites_per_mb and genome_model then go unused.
    reference: str | None = None

    @model_validator(mode="after")
    def _types_known(self) -> SimulateParams:
        if self.type_weights is not None and len(self.type_weights) != len(self.types):
            raise ValueError(f"type_weights has {len(self.type_weights)} entries for {len(self.types)} types")
        return self
