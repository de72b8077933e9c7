"""The beyond-the-96 presets: pairs of types with one spectrum, told apart only by sequence context or
strand, and planting mutations into a FASTA the user names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.cancer_types import BEYOND_96, PRESETS
from oncofusion.data.synthetic.variants.simulator import simulate
from oncofusion.data.variants.reference import write_fasta
from oncofusion.errors import CohortError, ConfigError


@pytest.fixture(scope="module")
def beyond(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("beyond") / "raw"
    # donors close to their type's exposures, so that a pair's pooled spectra agree up to counting noise
    params = SimulateParams(
        n_donors=36,
        types=list(BEYOND_96),
        type_weights=None,
        genome_mb=6.0,
        n_contigs=4,
        burden_sdlog=0.3,
        exposure_concentration=200.0,
        vcf=False,
    )
    return out, simulate(params, seed=5, out_dir=out)


def _sbs_profile(out: Path, kind: str) -> np.ndarray:
    """The pooled SNV spectrum (6 substitutions, pyrimidine-folded) of one type's donors."""
    maf = pd.read_csv(out / "somatic.maf.gz", sep="\t", comment="#")
    sheet = pd.read_csv(out / "samples.tsv", sep="\t")
    donors = sheet.loc[sheet["histology_abbreviation"] == kind, "sample_id"]
    snv = maf[(maf["Variant_Type"] == "SNP") & maf["Tumor_Sample_Barcode"].isin(donors)]
    flip = str.maketrans("ACGT", "TGCA")
    ref, alt = snv["Reference_Allele"], snv["Tumor_Seq_Allele2"]
    purine = ref.isin(["A", "G"])
    ref = np.where(purine, ref.str.translate(flip), ref)
    alt = np.where(purine, alt.str.translate(flip), alt)
    labels = pd.Series([f"{r}>{a}" for r, a in zip(ref, alt, strict=True)])
    order = ["C>A", "C>G", "C>T", "T>A", "T>C", "T>G"]
    counts = labels.value_counts().reindex(order, fill_value=0).to_numpy(dtype=float)
    return counts / counts.sum()


def test_each_rule_shows_in_the_planted_mutations_and_the_control_does_not(beyond):
    out, summary = beyond
    truth = summary["beyond_96"]["types"]
    measured = {name: entry["measured"] for name, entry in truth.items()}
    a3a = measured["APOBEC3A-like"]["tcw_with_pyrimidine_at_minus2"]
    a3b = measured["APOBEC3B-like"]["tcw_with_pyrimidine_at_minus2"]
    assert a3a > 0.7 and a3b < 0.3, (a3a, a3b)  # YTCA against RTCA
    assert measured["Motif-proximal"]["within_reach_of_CACGTG"] > 0.3
    assert measured["Motif-control"]["within_reach_of_CACGTG"] < 0.05
    biased = measured["Strand-biased"]["in_gene_on_transcribed_strand"]
    control = measured["Strand-control"]["in_gene_on_transcribed_strand"]
    assert biased < control - 0.08, (biased, control)
    assert truth["Motif-control"]["rule"] is None and truth["APOBEC3A-like"]["rule"]["bases"] == "CT"
    genes = pd.read_csv(out / "genes.bed", sep="\t", header=None)
    assert len(genes) == summary["beyond_96"]["genes"] >= len(genes) > 0
    assert set(genes[5]) == {"+", "-"} and (genes[2] > genes[1]).all()


def test_a_pair_shares_its_spectrum_so_the_96_classes_cannot_tell_it_apart(beyond):
    out, _ = beyond
    for a, b in (("APOBEC3A-like", "APOBEC3B-like"), ("Motif-proximal", "Motif-control")):
        assert np.abs(_sbs_profile(out, a) - _sbs_profile(out, b)).max() < 0.06, (a, b)
    # and different pairs do differ: the check can fail
    assert np.abs(_sbs_profile(out, "APOBEC3A-like") - _sbs_profile(out, "Strand-biased")).max() > 0.2


def test_the_old_presets_are_still_there_and_draw_no_context_rule():
    assert {"Skin-Melanoma", "Breast-AdenoCa", "Kidney-RCC"} <= set(PRESETS)
    assert all(PRESETS[name].context is None for name in ("Skin-Melanoma", "Breast-AdenoCa"))


def _user_fasta(path: Path) -> dict[str, str]:
    rng = np.random.default_rng(0)
    contigs = {}
    for name, length in (("chrA", 120_000), ("chrB", 90_000)):
        seq = np.array(list("ACGT"))[rng.integers(0, 4, size=length)]
        seq[5_000:6_000] = "N"  # an assembly gap
        seq[20_000:20_400] = np.char.lower(seq[20_000:20_400])  # a soft-masked repeat
        contigs[name] = "".join(seq)
    write_fasta(contigs, path)
    return contigs


def test_mutations_are_planted_into_a_fasta_the_user_names(tmp_path: Path):
    contigs = _user_fasta(tmp_path / "mine.fa.gz")
    params = SimulateParams(
        n_donors=6,
        types=["Skin-Melanoma", "Lung-SCC"],
        type_weights=None,
        reference=str(tmp_path / "mine.fa.gz"),
    )
    summary = simulate(params, seed=1, out_dir=tmp_path / "raw")
    assert summary["contigs"] == {"chrA": 120_000, "chrB": 90_000}
    assert summary["reference"] == str(tmp_path / "mine.fa.gz")
    maf = pd.read_csv(tmp_path / "raw/somatic.maf.gz", sep="\t", comment="#")
    snv = maf[maf["Variant_Type"] == "SNP"]
    assert len(snv) > 50
    for chrom, start, ref in snv[["Chromosome", "Start_Position", "Reference_Allele"]].itertuples(
        index=False
    ):
        assert contigs[f"chr{chrom}"][start - 1].upper() == ref
    assert not (snv["Start_Position"].between(5_001, 6_000)).any()  # nothing planted in the gap
    import pysam

    copied = pysam.FastaFile(str(tmp_path / "raw/reference.fa.gz"))
    assert copied.fetch("chrA") == contigs["chrA"]  # the user's sequence, soft-masking kept


def test_a_missing_or_base_free_reference_is_a_clear_error(tmp_path: Path):
    missing = SimulateParams(
        n_donors=2, types=["Skin-Melanoma", "Lung-SCC"], type_weights=None, reference=str(tmp_path / "no.fa")
    )
    with pytest.raises(ConfigError, match=r"simulate\.reference: .*no\.fa does not exist"):
        simulate(missing, seed=1, out_dir=tmp_path / "raw")
    write_fasta({"chr1": "N" * 5000}, tmp_path / "gaps.fa.gz")
    gaps = SimulateParams(
        n_donors=2,
        types=["Skin-Melanoma", "Lung-SCC"],
        type_weights=None,
        reference=str(tmp_path / "gaps.fa.gz"),
    )
    with pytest.raises(ConfigError, match="no A, C, G or T"):
        simulate(gaps, seed=1, out_dir=tmp_path / "raw")
    (tmp_path / "text.fa").write_text("this is not a FASTA\n")
    broken = SimulateParams(
        n_donors=2,
        types=["Skin-Melanoma", "Lung-SCC"],
        type_weights=None,
        reference=str(tmp_path / "text.fa"),
    )
    with pytest.raises((CohortError, ConfigError)):
        simulate(broken, seed=1, out_dir=tmp_path / "raw")
    assert not (tmp_path / "raw").exists()  # nothing half-written


def test_simulation_json_records_the_ground_truth(beyond):
    out, _ = beyond
    written = json.loads((out / "simulation.json").read_text())
    assert written["beyond_96"]["types"]["Strand-biased"]["rule"]["kind"] == "strand"
    assert written["reference"] is None
