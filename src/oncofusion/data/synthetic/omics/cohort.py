"""Synthetic multi-modal cohorts with known ground truth.

Each part draws from its own random stream (seed, stream id), so changing one modality's params leaves
the others bit-identical, and the whole cohort is bit-identical for a given seed. Two optional features
draw from streams of their own, so a cohort without them is bit-identical to one made before they
existed: missing modalities (``synthesize.missing_fraction``, see missing.py) and a cross-modal
interaction class (``synthesize.interaction``, see interaction.py).

What the generator planted goes into cohort.json's ``ground_truth``:

* ``signal_features``: per modality, the features some class's samples actually differ in. With the
  interaction on, the twin class's own markers and hotspots reach no sample, so they are left out
  (of ``methylation.marker_class`` and ``cna.hotspots`` too; the twin's fragmentomics parameters are
  reported as base's), and the locus CpGs and bins are added: they are the twin class's only signal
  (jointly, not one by one), so a model that tells twin from base must use them.
* ``interaction`` (when on): ``base``, ``twin``, ``prevalence``, ``loss_state``,
  ``methylation_features`` and ``cna_features`` (the locus).
* ``missing`` (when ``missing_fraction`` lists a modality): ``n_missing``, per synthetic modality the
  number of samples absent from its table, and ``n_rescued``, the samples drawn to lose every modality
  that kept one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion import __version__
from oncofusion.cohort import Cohort, CohortMeta, Domain, ModalitySpec, TableSpec, as_float32_frame
from oncofusion.config import SYNTHETIC_MODALITIES, SynthesizeParams
from oncofusion.data.synthetic.omics.copy_number import CopyNumberData, generate_copy_number
from oncofusion.data.synthetic.omics.fragmentomics import FragmentomicsData, generate_fragmentomics
from oncofusion.data.synthetic.omics.interaction import (
    InteractionData,
    apply_interaction,
    fragmentomics_informative,
    generative_index,
)
from oncofusion.data.synthetic.omics.labels import draw_labels
from oncofusion.data.synthetic.omics.methylation import MethylationData, generate_methylation
from oncofusion.data.synthetic.omics.missing import Missingness, draw_missing

# Append new streams; never renumber one, or every cohort drawn with it changes.
_STREAMS = {
    "labels": 0,
    "methylation": 1,
    "fragmentomics": 2,
    "cna": 3,
    "interaction": 4,
    "missing.methylation": 5,
    "missing.fragmentomics": 6,
    "missing.cna": 7,
    "missing.rescue": 8,
}
# A log2 ratio beyond ±8 (256-fold) is not a copy-number measurement; the gate treats it as corrupt.
LOG2_DOMAIN = Domain(min=-8.0, max=8.0)


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS[name],)))


def generate_cohort(params: SynthesizeParams, seed: int, name: str = "synthetic") -> Cohort:
    """A synthetic cohort: labels, the three modalities and cna_states, and cohort.json metadata."""
    n_classes = len(params.classes)
    label_index = draw_labels(params.n_samples, params.class_proportions, _stream(seed, "labels"))
    width = len(str(params.n_samples - 1))
    sample_ids = [f"SYN-{i:0{width}d}" for i in range(params.n_samples)]
    labels = pd.DataFrame({"sample_id": sample_ids, "label": [params.classes[k] for k in label_index]})

    generated_as = list(range(n_classes))  # class k's samples are generated with class generated_as[k]
    model_index = label_index
    base = twin = -1
    if params.interaction.enabled:
        base, twin = (params.classes.index(c) for c in params.interaction_classes)
        generated_as[twin] = base
        model_index = generative_index(label_index, base, twin)

    meth = generate_methylation(model_index, n_classes, params.methylation, _stream(seed, "methylation"))
    frag = generate_fragmentomics(
        model_index, n_classes, params.fragmentomics, _stream(seed, "fragmentomics")
    )
    cna = generate_copy_number(model_index, n_classes, params.cna, _stream(seed, "cna"))
    interaction = None
    if params.interaction.enabled:
        meth, cna, interaction = apply_interaction(
            label_index,
            base,
            twin,
            params.interaction,
            meth,
            params.methylation,
            cna,
            params.cna,
            _stream(seed, "interaction"),
        )

    missing = None
    if params.missing_fraction:
        missing = draw_missing(
            params.n_samples,
            params.missing_fraction,
            SYNTHETIC_MODALITIES,
            lambda modality: _stream(seed, f"missing.{modality}"),
            lambda: _stream(seed, "missing.rescue"),
        )

    def rows(modality: str, frame: pd.DataFrame) -> pd.DataFrame:
        return frame if missing is None else frame[missing.present[modality]]

    states = pd.DataFrame(cna.states, columns=cna.features, index=pd.Index(sample_ids, name="sample_id"))
    meta = CohortMeta(
        name=name,
        classes=list(params.classes),
        modalities={
            "methylation": ModalitySpec(
                kind="tabular",
                file="methylation.parquet",
                features=meth.features,
                domain=Domain(min=0.0, max=1.0),
                description="CpG β values (fraction methylated)",
            ),
            "fragmentomics": ModalitySpec(
                kind="profile",
                file="fragmentomics.parquet",
                features=frag.features,
                domain=Domain(min=0.0, row_sum=1.0),
                description=f"cfDNA fragment-length histogram, {params.fragmentomics.bin_width} bp bins",
            ),
            "cna": ModalitySpec(
                kind="genomic",
                file="cna.parquet",
                features=cna.features,
                domain=LOG2_DOMAIN,
                description="copy-number log2 ratio per genome bin (GRCh38 autosomes)",
            ),
        },
        annotations={
            "cna_states": TableSpec(
                file="cna_states.parquet",
                features=cna.features,
                domain=Domain(min=0, max=5, integer=True),
                description="integer copy-number state behind each cna bin (5 means 5 or more)",
            )
        },
        provenance={
            "source": "synthetic",
            "generator": f"oncofusion {__version__} oncofusion.data.synthetic",
            "seed": seed,
            "params": params.model_dump(mode="json"),
        },
        ground_truth=_ground_truth(params, generated_as, meth, frag, cna, interaction, missing),
    )
    return Cohort(
        meta=meta,
        labels=labels,
        modalities={
            "methylation": rows("methylation", as_float32_frame(meth.values, sample_ids, meth.features)),
            "fragmentomics": rows("fragmentomics", as_float32_frame(frag.values, sample_ids, frag.features)),
            "cna": rows("cna", as_float32_frame(cna.log2_ratio, sample_ids, cna.features)),
        },
        annotations={"cna_states": rows("cna", states)},
    )


def _in_feature_order(features: list[str], chosen: set[str]) -> list[str]:
    return [f for f in features if f in chosen]


def _ground_truth(
    params: SynthesizeParams,
    generated_as: list[int],
    meth: MethylationData,
    frag: FragmentomicsData,
    cna: CopyNumberData,
    interaction: InteractionData | None,
    missing: Missingness | None,
) -> dict[str, object]:
    """What the generator planted (module docstring); ``generated_as[k]`` is the class whose
    parameters generated class k's samples."""
    classes = params.classes
    used = set(generated_as)
    marker_class = {f: k for f, k in meth.marker_class.items() if k in used}
    hotspots = [h for h in cna.hotspots if h.cls in used]
    signal = {
        "methylation": [f for f in meth.informative if f in marker_class],
        "fragmentomics": frag.informative
        if interaction is None
        else fragmentomics_informative(frag, generated_as),
        "cna": [cna.features[b] for b in sorted({b for h in hotspots for b in h.bins})],
    }
    if interaction is not None:
        signal["methylation"] = _in_feature_order(
            meth.features, {*signal["methylation"], *interaction.methylation_features}
        )
        signal["cna"] = _in_feature_order(cna.features, {*signal["cna"], *interaction.cna_features})
    fraction = frag.class_tumour_fraction[generated_as]
    peak = frag.class_tumour_peak_bp[generated_as]
    truth: dict[str, object] = {
        "signal_features": signal,
        "methylation": {"marker_class": {f: classes[k] for f, k in marker_class.items()}},
        "fragmentomics": {
            "class_tumour_fraction": dict(zip(classes, fraction.round(4).tolist(), strict=True)),
            "class_tumour_peak_bp": dict(zip(classes, peak.round(2).tolist(), strict=True)),
        },
        "cna": {
            "hotspots": [
                {"class": classes[h.cls], "kind": h.kind, "region": h.region, "state": h.state}
                for h in hotspots
            ]
        },
    }
    if interaction is not None:
        truth["interaction"] = {
            "base": classes[interaction.base],
            "twin": classes[interaction.twin],
            "prevalence": params.interaction.prevalence,
            "loss_state": params.interaction.loss_state,
            "methylation_features": interaction.methylation_features,
            "cna_features": interaction.cna_features,
        }
    if missing is not None:
        truth["missing"] = {"n_missing": missing.n_missing(), "n_rescued": missing.n_rescued}
    return truth
