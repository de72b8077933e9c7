"""A cross-modal interaction (``synthesize.interaction``): a class only the two modalities together reveal.

Class ``twin`` is generated exactly like class ``base`` in every modality: the generators receive a
label index in which twin samples carry base's index (:func:`generative_index`), so the twin's own
planted markers and hotspots are drawn (the other classes' draws stay as they would be) but reach no
sample. Then an overlay at one locus, drawn from its own random stream, is applied to every sample:

* ``n_cpgs`` CpGs chosen among the non-informative ones, and
* ``n_bins`` contiguous CNA bins on one chromosome that no class hotspot touches.

Each sample gets a pair (m, c) ∈ {0, 1}²: twin samples (1, 1) with probability p (the prevalence) and
(0, 0) otherwise; every other sample (1, 0) with probability p, (0, 1) with probability p, (0, 0) with
probability 1 − 2p. So P(m = 1) = P(c = 1) = p in every class, and neither modality alone says anything
about the class, but m ∧ c occurs only in twin and m = c always holds there (at p = 0.5, twin against
base is an exact XOR of the two modalities: no linear model of the locus separates them).

m = 1 silences the locus: its CpGs' β values come from a Beta of mean 1 − h (h: the CpG's hypo-methylated
baseline mean, about 0.1) with the methylation concentration; m = 0 gives the same Beta of mean h. Both
are drawn afresh for every sample, so the locus CpGs differ between samples only through m. c = 1 puts
the locus bins at copy number ``loss_state``, c = 0 at 2 (diploid); the log2 ratio follows the states
through the sample's purity with fresh noise of the cna ``noise_sd``, as elsewhere in the genome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from oncofusion.config import CopyNumberParams, InteractionParams, MethylationParams
from oncofusion.data.synthetic.omics.copy_number import CopyNumberData, expected_log2_ratio
from oncofusion.data.synthetic.omics.fragmentomics import FragmentomicsData
from oncofusion.data.synthetic.omics.methylation import MethylationData, draw_beta_values
from oncofusion.errors import ConfigError


@dataclass(frozen=True)
class InteractionData:
    base: int  # class index
    twin: int
    silenced: np.ndarray  # m, bool per sample
    lost: np.ndarray  # c, bool per sample
    cpgs: list[int]  # column indices in the methylation table
    bins: list[int]  # column indices in the cna table
    methylation_features: list[str]
    cna_features: list[str]


def generative_index(label_index: np.ndarray, base: int, twin: int) -> np.ndarray:
    """The label index the modality generators see: twin samples are generated as base samples."""
    generated = label_index.copy()
    generated[label_index == twin] = base
    return generated


def draw_locus_states(
    label_index: np.ndarray, twin: int, prevalence: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(silenced, lost) per sample: (m, c) as the module docstring describes."""
    if not 0.0 < prevalence <= 0.5:
        raise ValueError(f"prevalence must lie in (0, 0.5], got {prevalence}")
    u = rng.random(len(label_index))
    is_twin = label_index == twin
    both = is_twin & (u < prevalence)
    silenced = both | (~is_twin & (u < prevalence))
    lost = both | (~is_twin & (u >= prevalence) & (u < 2 * prevalence))
    return silenced, lost


def choose_cpgs(meth: MethylationData, n_cpgs: int, rng: np.random.Generator) -> list[int]:
    informative = set(meth.informative)
    candidates = [j for j, feature in enumerate(meth.features) if feature not in informative]
    if len(candidates) < n_cpgs:
        raise ConfigError(
            f"synthesize.interaction.n_cpgs ({n_cpgs}) exceeds the {len(candidates)} non-informative CpGs "
            "(synthesize.methylation.n_features - n_informative)"
        )
    return sorted(int(j) for j in rng.choice(candidates, size=n_cpgs, replace=False))


def choose_bins(cna: CopyNumberData, n_bins: int, rng: np.random.Generator) -> list[int]:
    """``n_bins`` contiguous bins on one chromosome, none in any class's hotspot."""
    hit = {b for spot in cna.hotspots for b in spot.bins}
    starts = [
        start
        for chromosome in cna.bins.chromosome_slices()
        for start in range(chromosome.start, chromosome.stop - n_bins + 1)
        if hit.isdisjoint(range(start, start + n_bins))
    ]
    if not starts:
        raise ConfigError(
            f"synthesize.interaction.n_bins: no {n_bins} contiguous CNA bins on one chromosome are clear of "
            "the class hotspots; raise synthesize.cna.n_bins or lower interaction.n_bins"
        )
    start = starts[int(rng.integers(len(starts)))]
    return list(range(start, start + n_bins))


def apply_interaction(
    label_index: np.ndarray,
    base: int,
    twin: int,
    params: InteractionParams,
    meth: MethylationData,
    methylation_params: MethylationParams,
    cna: CopyNumberData,
    cna_params: CopyNumberParams,
    rng: np.random.Generator,
) -> tuple[MethylationData, CopyNumberData, InteractionData]:
    """Overlay the locus on modalities generated with :func:`generative_index`; ``label_index`` holds the
    true classes. Returns new data (the inputs are not modified)."""
    cpgs = choose_cpgs(meth, params.n_cpgs, rng)
    bins = choose_bins(cna, params.n_bins, rng)
    silenced, lost = draw_locus_states(label_index, twin, params.prevalence, rng)

    baseline = meth.class_means[0, cpgs]  # non-informative CpGs: the same mean in every class
    hypo = np.minimum(baseline, 1.0 - baseline)
    means = np.where(silenced[:, None], 1.0 - hypo, hypo)
    values = meth.values.copy()
    values[:, cpgs] = draw_beta_values(means, methylation_params.concentration, rng)

    states = cna.states.copy()
    states[:, bins] = np.where(lost[:, None], params.loss_state, 2)
    noise = rng.normal(0.0, cna_params.noise_sd, size=(len(label_index), len(bins)))
    log2_ratio = cna.log2_ratio.copy()
    log2_ratio[:, bins] = (expected_log2_ratio(states[:, bins], cna.purity) + noise).astype(np.float32)

    data = InteractionData(
        base=base,
        twin=twin,
        silenced=silenced,
        lost=lost,
        cpgs=cpgs,
        bins=bins,
        methylation_features=[meth.features[j] for j in cpgs],
        cna_features=[cna.features[b] for b in bins],
    )
    return replace(meth, values=values), replace(cna, states=states, log2_ratio=log2_ratio), data


def fragmentomics_informative(frag: FragmentomicsData, generated_classes: list[int]) -> list[str]:
    """Fragmentomics' informative bins among the classes some sample is generated as (the rule of
    generate_fragmentomics: the spread of expected class profiles is at least a quarter of the widest)."""
    expected = frag.expected_class_profiles[sorted(set(generated_classes))]
    spread = expected.max(axis=0) - expected.min(axis=0)
    return [f for f, s in zip(frag.features, spread, strict=True) if s >= 0.25 * spread.max() > 0]
