"""The embedded default variant cohort: donors of several cancer types whose somatic mutations are
drawn from the COSMIC v3 signatures, written as the files a real user has.

Output (one directory): ``reference.fa.gz`` (bgzip + .fai/.gzi), ``somatic.maf.gz`` (TCGA-style MAF:
1-based, ``-`` indel alleles, contig names without ``chr`` while the FASTA has them, as real MAF/FASTA
pairs often do), ``somatic_vcf/<sample>.vcf.gz`` (DBS as two adjacent SNV records, as many callers
write them), ``germline/<donor>.vcf.gz`` (the matched normals' SNVs), ``samples.tsv`` (sample_id,
donor_id, histology_abbreviation, organ_system), and the ground truth: ``simulation.json`` and
``exposures.tsv`` (mutations planted per donor and signature).

Positions come from placer.py; indels from candidate events that the real classifier put in each ID83
class (indel_candidates.py), so the catalogues read back follow the spectrum. The genome is the
simulator's own (genome.py) or, with ``simulate.reference``, the user's FASTA, copied into the output.

The beyond-the-96 presets (cancer_types.BEYOND_96) add a context rule per type; ``simulation.json``'s
``beyond_96`` section records each rule and what the planted mutations show of it, and ``genes.bed``
the simulated genes that the strand rule reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion import atomic
from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.cancer_types import PRESETS, CancerType
from oncofusion.data.synthetic.variants.context_rules import (
    Preference,
    beyond_96_truth,
    measure,
    preferences,
    simulated_genes,
)
from oncofusion.data.synthetic.variants.files import GENES_FILE, write_genes, write_maf, write_vcf
from oncofusion.data.synthetic.variants.genome import Genome, contig_lengths, load_fasta, synthetic_genome
from oncofusion.data.synthetic.variants.indel_candidates import indel_candidates
from oncofusion.data.synthetic.variants.placer import LETTERS, Placer
from oncofusion.data.variants.classes import id83_classes
from oncofusion.data.variants.reference import write_fasta
from oncofusion.data.variants.signatures import cosmic
from oncofusion.data.variants.table import variant_type
from oncofusion.errors import ConfigError


def _type_density(rng: np.random.Generator, n_bins: int, shared: np.ndarray, sdlog: float) -> np.ndarray:
    return np.exp(shared + rng.normal(0.0, sdlog, size=n_bins))


def _spectrum(signatures: pd.DataFrame, exposures: dict[str, float], rng, concentration: float):
    names = list(exposures)
    mean = np.array([exposures[n] for n in names])
    donor = rng.dirichlet(mean / mean.sum() * concentration)
    return names, donor, signatures[names].to_numpy() @ donor


def check_types(types: list[str]) -> None:
    """Every ``simulate.types`` entry must be a preset (checked here, not in the config package, which
    every stage imports: the presets are the simulator's data)."""
    unknown = [t for t in types if t not in PRESETS]
    if unknown:
        raise ConfigError(
            f"simulate.types: unknown cancer type(s) {unknown}; simulated types: {sorted(PRESETS)}"
        )
    if len(set(types)) != len(types):
        raise ConfigError(f"simulate.types: must be unique, got {types}")


def simulate(params: SimulateParams, seed: int, out_dir: Path) -> dict[str, Any]:
    """Write a full variant cohort's input files into ``out_dir`` (atomically: all or nothing)."""
    check_types(params.types)
    rng = np.random.default_rng(seed)
    if params.reference:  # plant into the user's FASTA: no planted repeats to list
        contigs = load_fasta(Path(params.reference))
        repeats = {name: np.empty((0, 2), dtype=np.int64) for name in contigs}
        lengths = {name: len(seq) for name, seq in contigs.items()}
    else:
        lengths = contig_lengths(params.genome_mb, params.n_contigs)
        contigs, repeats = synthetic_genome(
            rng,
            lengths,
            params.gc_mean,
            params.gc_sd,
            params.microsatellites_per_mb,
            params.genome_model,
        )
    genome = Genome(contigs)
    placer = Placer(genome, rng)
    candidates = indel_candidates(genome, repeats, rng)
    planted = {"microsatellites": int(sum(len(r) for r in repeats.values()))}
    n_bins = len(genome.bins)
    shared = rng.normal(0.0, 0.4, size=n_bins)  # replication-timing-like density common to all types
    types = [PRESETS[t] for t in params.types]
    weights = np.array(params.type_weights or [1.0] * len(types))
    regional: dict[str, np.ndarray] = {}
    for t in types:  # one density per group: a beyond-the-96 pair shares it
        group = t.density_group or t.name
        if group not in regional:
            regional[group] = _type_density(rng, n_bins, shared, params.density_sdlog)
    density = {t.name: regional[t.density_group or t.name] for t in types}
    rules = list(dict.fromkeys(t.context for t in types if t.context is not None))
    genes_table, genes = None, None
    if any(rule.kind == "strand" for rule in rules):
        genes_table, genes = simulated_genes(rng, len(genome.codes))
    prefs = preferences(rules, genome.codes, genes)
    measured: dict[str, list[dict[str, float]]] = {t.name: [] for t in types}
    sbs_sig, dbs_sig, id_sig = cosmic("sbs96"), cosmic("dbs78"), cosmic("id83")
    id_classes = id83_classes()
    available = np.array([len(candidates.get(c, [])) > 0 for c in id_classes])

    donors = rng.choice(len(types), size=params.n_donors, p=weights / weights.sum())
    somatic, germline, sheet, exposure_rows = [], [], [], []
    for d, t_index in enumerate(donors):
        kind: CancerType = types[t_index]
        donor_id, sample_id = f"DO{d + 1:04d}", f"SA{d + 1:04d}-T"
        burden = kind.burden_median * params.burden_scale * np.exp(rng.normal(0.0, params.burden_sdlog))
        total = int(min(max(burden, 20), params.max_mutations_per_donor))
        n_id = rng.binomial(total, kind.indel_share)
        n_dbs = rng.binomial(total - n_id, kind.dbs_share)
        n_sbs = total - n_id - n_dbs
        row = {"donor_id": donor_id, "histology_abbreviation": kind.name}
        variants: list[tuple[int, str, str]] = []
        for sig_table, exposures, count, place, rule in (
            (sbs_sig, kind.sbs, n_sbs, placer.sbs, kind.context),
            (dbs_sig, kind.dbs, n_dbs, placer.dbs, None),
        ):
            names, donor_mix, spectrum = _spectrum(sig_table, exposures, rng, params.exposure_concentration)
            row.update({n: round(float(v) * count, 2) for n, v in zip(names, donor_mix, strict=True)})
            counts = rng.multinomial(count, spectrum / spectrum.sum())
            if rule is None:
                variants += place(counts, density[kind.name])
            else:
                variants += _place_ruled(
                    placer,
                    prefs[rule],
                    counts,
                    sig_table[names].to_numpy(),
                    names,
                    donor_mix,
                    density[kind.name],
                    rng,
                )
        if rules:
            snvs = [(x, ref) for x, ref, _ in variants if len(ref) == 1]
            x_snv = np.array([v[0] for v in snvs], dtype=np.int64)
            near = {r.motif: prefs[r].domain for r in rules if r.kind == "motif"}
            ref_snv = np.array([v[1] for v in snvs])
            measured[kind.name].append(measure(genome.codes, x_snv, ref_snv, genes, near))
        names, donor_mix, spectrum = _spectrum(id_sig, kind.indels, rng, params.exposure_concentration)
        row.update({n: round(float(v) * n_id, 2) for n, v in zip(names, donor_mix, strict=True)})
        spectrum = np.where(available, spectrum, 0.0)
        xs = np.array([v[0] for v in variants], dtype=np.int64)
        contig, pos = genome.locate(xs)
        somatic_rows = [
            (genome.names[c], int(p), ref, alt)
            for c, p, (_, ref, alt) in zip(contig, pos, variants, strict=True)
        ]
        id_counts = rng.multinomial(n_id, spectrum / spectrum.sum())
        for k in np.flatnonzero(id_counts):
            pool = candidates[id_classes[k]]
            somatic_rows += [pool[i] for i in rng.choice(len(pool), size=int(id_counts[k]))]
        somatic.append(_dedupe(somatic_rows, sample_id))
        exposure_rows.append(row)
        germline.append(_germline(rng, genome, params.germline_per_mb, donor_id))
        sheet.append(
            {
                "sample_id": sample_id,
                "donor_id": donor_id,
                "histology_abbreviation": kind.name,
                "organ_system": kind.organ_system,
                "project_code": "SIM",
            }
        )

    with atomic.atomic_directory(out_dir) as staging:
        write_fasta({n: contigs[n].tobytes().decode() for n in genome.names}, staging / "reference.fa.gz")
        table = pd.concat(somatic, ignore_index=True)
        write_maf(table, staging / "somatic.maf.gz")
        if params.vcf:
            (staging / "somatic_vcf").mkdir()
            for frame in somatic:
                name = f"{frame['sample_id'].iloc[0]}.vcf.gz"
                write_vcf(frame, genome, staging / "somatic_vcf" / name, split_doublets=True)
        (staging / "germline").mkdir()
        for frame in germline:
            write_vcf(frame, genome, staging / "germline" / f"{frame['sample_id'].iloc[0]}.vcf.gz")
        pd.DataFrame(sheet).to_csv(staging / "samples.tsv", sep="\t", index=False)
        if genes_table is not None:
            write_genes(genes_table, genome, staging / GENES_FILE)
        exposures = pd.DataFrame(exposure_rows).fillna(0.0)
        exposures.to_csv(staging / "exposures.tsv", sep="\t", index=False)
        summary = {
            "generator": "oncofusion.data.synthetic.variants",
            "seed": seed,
            "params": params.model_dump(mode="json"),
            "contigs": lengths,
            "reference": params.reference,  # null: the simulator's own genome
            "planted_repeats": planted,
            "n_variants": len(table),
            "variant_types": table["type"].value_counts().to_dict(),
            "id83_classes_without_candidates": [
                c for c, ok in zip(id_classes, available, strict=True) if not ok
            ],
            "types": {
                t.name: {
                    "sbs": t.sbs,
                    "dbs": t.dbs,
                    "id": t.indels,
                    "burden_median": t.burden_median,
                    "indel_share": t.indel_share,
                    "dbs_share": t.dbs_share,
                }
                for t in types
            },
            "beyond_96": beyond_96_truth(types, measured, genes_table),
        }
        atomic.write_json(staging / "simulation.json", summary)
    return summary


def _place_ruled(
    placer: Placer,
    preference: Preference,
    counts: np.ndarray,
    signatures: np.ndarray,
    names: list[str],
    donor_mix: np.ndarray,
    weights: np.ndarray,
    rng: np.random.Generator,
) -> list[tuple[int, str, str]]:
    """Split each class's count between the rule's signatures and the rest (in proportion to what
    each contributes to that class), and place the rule's share where the rule says."""
    ruled = np.isin(names, preference.rule.signatures)
    whole = signatures @ donor_mix
    part = signatures[:, ruled] @ donor_mix[ruled]
    share = np.divide(part, whole, out=np.zeros_like(whole), where=whole > 0)
    under_rule = rng.binomial(counts, np.clip(share, 0.0, 1.0))
    if preference.rule.kind == "motif":  # the rest of these signatures' mutations fall anywhere
        under_rule = placer.domain_capacity(rng.binomial(under_rule, preference.rule.share), preference)
    return placer.sbs(counts - under_rule, weights) + placer.sbs(under_rule, weights, preference)


def _dedupe(rows: list[tuple[str, int, str, str]], sample_id: str) -> pd.DataFrame:
    """One event per locus and sample: events that overlap or touch an earlier one are dropped (two
    draws at one base are one mutation; an SNV beside a doublet would read back as an MNV from VCFs)."""
    frame = pd.DataFrame(rows, columns=["chrom", "start", "ref", "alt"]).sort_values(["chrom", "start"])
    ends = frame["start"].to_numpy() + np.maximum(frame["ref"].str.len().to_numpy(), 1)
    keep = np.ones(len(frame), dtype=bool)
    for _, index in frame.groupby("chrom", sort=False).indices.items():
        previous_end = np.maximum.accumulate(ends[index])
        keep[index[1:]] = frame["start"].to_numpy()[index[1:]] > previous_end[:-1]
    frame = frame[keep]
    frame.insert(0, "sample_id", sample_id)
    frame["type"] = variant_type(frame["ref"], frame["alt"])
    return frame.reset_index(drop=True)


def _germline(rng: np.random.Generator, genome: Genome, per_mb: float, donor_id: str) -> pd.DataFrame:
    n = int(per_mb * len(genome.codes) / 1e6)
    x = rng.integers(1, len(genome.codes) - 1, size=n)
    x = np.unique(x[genome.codes[x] < 4])
    contig, pos = genome.locate(x)
    ref = genome.codes[x]
    alt = (ref + rng.integers(1, 4, size=len(x))) % 4
    return pd.DataFrame(
        {
            "sample_id": donor_id,
            "chrom": np.array(genome.names)[contig],
            "start": pos,
            "ref": LETTERS[ref],
            "alt": LETTERS[alt],
        }
    )
