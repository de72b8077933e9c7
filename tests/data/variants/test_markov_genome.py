"""The Markov genome carries real DNA's short-range structure (CpG depletion) that the default
genome lacks, keeps each block's GC, and a cohort simulated on it reads like any other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.genome import synthetic_genome
from oncofusion.data.synthetic.variants.markov_genome import fit_counts, load_counts, markov_bases
from oncofusion.data.synthetic.variants.simulator import simulate
from tests.data.variants.conftest import SMALL_SIMULATION


def _cpg_observed_over_expected(sequence: bytes) -> float:
    text = sequence.upper().decode()
    n = len(text)
    return (text.count("CG") / (n - 1)) / ((text.count("C") / n) * (text.count("G") / n))


def test_counts_are_the_transitions_seen_and_skip_n():
    counts = fit_counts([b"ACGTA", b"acgtNAC"], order=2)
    index = {"AC": 1, "CG": 6, "GT": 11}
    assert counts.sum() == 3 + 2  # ACG, CGT, GTA; acg, cgt (lowercase counts); windows with N skipped
    assert counts[index["AC"], 2] == 2 and counts[index["CG"], 3] == 2 and counts[index["GT"], 0] == 1


def test_the_shipped_chain_is_cpg_depleted_where_the_default_genome_is_not():
    assert load_counts().shape == (4**5, 4)
    rng = np.random.default_rng(0)
    lengths = {"chr1": 300_000}
    markov, _ = synthetic_genome(rng, lengths, 0.41, 0.0, 0.0, "markov")
    plain, _ = synthetic_genome(np.random.default_rng(0), lengths, 0.41, 0.0, 0.0)
    assert _cpg_observed_over_expected(markov["chr1"].tobytes()) < 0.45  # hg38: about 0.25
    assert _cpg_observed_over_expected(plain["chr1"].tobytes()) > 0.85


def test_each_block_keeps_its_gc():
    gc = np.array([0.33, 0.55])
    bases = markov_bases(np.random.default_rng(1), 200_000, gc, 100_000)
    for block, target in enumerate(gc):
        chunk = bases[block * 100_000 : (block + 1) * 100_000]
        share = np.isin(chunk, np.frombuffer(b"CG", dtype=np.uint8)).mean()
        assert abs(share - target) < 0.03


def test_a_cohort_simulated_on_the_markov_genome(tmp_path: Path):
    params = SimulateParams(**{**SMALL_SIMULATION, "genome_model": "markov"})
    summary = simulate(params, seed=3, out_dir=tmp_path)
    assert set(summary["variant_types"]) >= {"SNV", "DBS", "INS", "DEL"}
    assert (tmp_path / "reference.fa.gz").exists() and (tmp_path / "somatic.maf.gz").exists()
