"""The simulator writes what a user has, and its catalogues carry the exposures it planted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.config import parse_params
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants import catalogues as cat
from oncofusion.data.variants.build import variants_cohort
from oncofusion.data.variants.readers import read_variants
from oncofusion.data.variants.reference import IndexedReference, Reference
from oncofusion.data.variants.signatures import cosine, cosmic, fit_exposures
from oncofusion.data.variants.substitutions import merge_adjacent_snvs

from .conftest import variant_cohort_params


def test_files_a_user_would_have(simulated):
    raw, summary = simulated
    for name in (
        "reference.fa.gz",
        "reference.fa.gz.fai",
        "reference.fa.gz.gzi",
        "somatic.maf.gz",
        "samples.tsv",
    ):
        assert (raw / name).is_file(), name
    sheet = pd.read_csv(raw / "samples.tsv", sep="\t")
    assert list(sheet.columns[:4]) == ["sample_id", "donor_id", "histology_abbreviation", "organ_system"]
    assert len(list((raw / "somatic_vcf").glob("*.vcf.gz"))) == len(sheet) == 24
    assert len(list((raw / "germline").glob("*.vcf.gz"))) == 24
    reference = IndexedReference(raw / "reference.fa.gz")
    assert list(reference.lengths) == ["chr1", "chr2", "chr3", "chr4"]
    assert abs(sum(reference.lengths.values()) - 6e6) < 1e4
    text = reference.fasta.fetch("chr1", 0, 500_000)
    soft = sum(c.islower() for c in text) / len(text)
    assert 0.01 < soft < 0.3  # repeats are soft-masked
    gc = sum(c in "GCgc" for c in text) / len(text)
    assert 0.35 < gc < 0.5
    assert set(summary["variant_types"]) >= {"SNV", "DBS", "INS", "DEL"}


def test_maf_and_vcf_give_the_same_catalogues(simulated):
    raw, _ = simulated
    reference = Reference.load(raw / "reference.fa.gz")
    out = {}
    for source in ("somatic.maf.gz", "somatic_vcf"):
        table, _ = read_variants(raw / source, "auto", Decisions(), None, "header", True)
        table, _ = merge_adjacent_snvs(table)  # the VCFs write each doublet as two SNV records
        table["chrom"] = table["chrom"].map(reference.aliases)  # the MAF says "1", the FASTA "chr1"
        samples = sorted(table["sample_id"].unique())
        out[source] = cat.build_catalogues(reference, table, samples, 1_000_000)
    for kind in ("sbs96", "dbs78", "id83", "density"):
        pd.testing.assert_frame_equal(out["somatic.maf.gz"][kind], out["somatic_vcf"][kind])
    assert out["somatic_vcf"]["dbs78"].to_numpy().sum() > 0


def test_planted_exposures_are_recovered_by_nnls(simulated, tmp_path: Path):
    """Fit every COSMIC signature to each donor's catalogue: the planted mixture must come back."""
    raw, _summary = simulated
    params = parse_params(variant_cohort_params(raw))
    cohort, _ = variants_cohort(params.cohort, Path("."), Decisions())
    planted = pd.read_csv(raw / "exposures.tsv", sep="\t").set_index("donor_id")
    donors = cohort.labels.set_index("sample_id")["donor_id"]
    scores = {"sbs96": [], "id83": []}
    reconstruction = []
    for kind, scored in scores.items():
        signatures = cosmic(kind)
        for sample, counts in cohort.modalities[kind].iterrows():
            if counts.sum() < 200:
                continue  # too few mutations for a stable fit
            fitted, fit_cosine = fit_exposures(counts.to_numpy(), signatures)
            truth = planted.loc[donors[sample]].reindex(signatures.columns).fillna(0.0).to_numpy()
            scored.append(cosine(fitted, truth))
            reconstruction.append(fit_cosine)
    assert len(scores["sbs96"]) >= 15
    # exposures: median cosine between fitted and planted exposure vectors
    assert np.median(scores["sbs96"]) > 0.85, scores["sbs96"]
    assert np.median(scores["id83"]) > 0.7, scores["id83"]
    assert np.median(reconstruction) > 0.9
    # and a wrong pairing is clearly worse (the test can fail): planted exposures of another type
    other = planted.reindex(cosmic("sbs96").columns, axis=1).fillna(0.0)
    by_type = planted["histology_abbreviation"]
    sample, counts = next(iter(cohort.modalities["sbs96"].iterrows()))
    mine = by_type[donors[sample]]
    stranger = other[by_type != mine].iloc[0].to_numpy()
    fitted, _ = fit_exposures(counts.to_numpy(), cosmic("sbs96"))
    assert cosine(fitted, stranger) < 0.7


def test_burden_spans_two_orders_of_magnitude_and_types_are_imbalanced(simulated):
    raw, _summary = simulated
    table, _ = read_variants(raw / "somatic.maf.gz", "maf", Decisions(), None, "header", True)
    burden = table["sample_id"].value_counts()
    assert burden.max() / burden.min() > 20
    sheet = pd.read_csv(raw / "samples.tsv", sep="\t")
    assert sheet["histology_abbreviation"].nunique() >= 4
    truth = json.loads((raw / "simulation.json").read_text())
    assert truth["id83_classes_without_candidates"] == []  # every indel class can be planted
    assert truth["planted_repeats"]["microsatellites"] > 1000
