"""The `synthesize` section: the synthetic multi-omics generator (methylation, cfDNA fragment lengths, copy
number, and an optional interaction signal)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from oncofusion.config.common import Fraction, PositiveInt, StrictModel


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
    """A cross-modal interaction (data/synthetic/omics/interaction.py): class ``twin`` is generated exactly
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
