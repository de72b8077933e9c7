"""Synthetic multi-modal cohorts with known ground truth.

Each part draws from its own random stream (seed, stream id), so changing one modality's params leaves
the others bit-identical, and the whole cohort is bit-identical for a given seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncofusion import __version__
from oncofusion.cohort import Cohort, CohortMeta, Domain, ModalitySpec, TableSpec, as_float32_frame
from oncofusion.config import SynthesizeParams
from oncofusion.data.synthetic.copy_number import generate_copy_number
from oncofusion.data.synthetic.fragmentomics import generate_fragmentomics
from oncofusion.data.synthetic.labels import draw_labels
from oncofusion.data.synthetic.methylation import generate_methylation

_STREAMS = {"labels": 0, "methylation": 1, "fragmentomics": 2, "cna": 3}
# A log2 ratio beyond ±8 (256-fold) is not a copy-number measurement; the gate treats it as corrupt.
LOG2_DOMAIN = Domain(min=-8.0, max=8.0)


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS[name],)))


def generate_cohort(params: SynthesizeParams, seed: int, name: str = "synthetic") -> Cohort:
    n_classes = len(params.classes)
    label_index = draw_labels(params.n_samples, params.class_proportions, _stream(seed, "labels"))
    width = len(str(params.n_samples - 1))
    sample_ids = [f"SYN-{i:0{width}d}" for i in range(params.n_samples)]
    labels = pd.DataFrame({"sample_id": sample_ids, "label": [params.classes[k] for k in label_index]})

    meth = generate_methylation(label_index, n_classes, params.methylation, _stream(seed, "methylation"))
    frag = generate_fragmentomics(
        label_index, n_classes, params.fragmentomics, _stream(seed, "fragmentomics")
    )
    cna = generate_copy_number(label_index, n_classes, params.cna, _stream(seed, "cna"))

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
        ground_truth={
            "signal_features": {
                "methylation": meth.informative,
                "fragmentomics": frag.informative,
                "cna": cna.informative,
            },
            "methylation": {"marker_class": {f: params.classes[k] for f, k in meth.marker_class.items()}},
            "fragmentomics": {
                "class_tumour_fraction": dict(
                    zip(params.classes, frag.class_tumour_fraction.round(4).tolist(), strict=True)
                ),
                "class_tumour_peak_bp": dict(
                    zip(params.classes, frag.class_tumour_peak_bp.round(2).tolist(), strict=True)
                ),
            },
            "cna": {
                "hotspots": [
                    {"class": params.classes[h.cls], "kind": h.kind, "region": h.region, "state": h.state}
                    for h in cna.hotspots
                ]
            },
        },
    )
    return Cohort(
        meta=meta,
        labels=labels,
        modalities={
            "methylation": as_float32_frame(meth.values, sample_ids, meth.features),
            "fragmentomics": as_float32_frame(frag.values, sample_ids, frag.features),
            "cna": as_float32_frame(cna.log2_ratio, sample_ids, cna.features),
        },
        annotations={"cna_states": states},
    )
