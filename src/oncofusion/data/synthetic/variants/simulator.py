"""The embedded default variant cohort: donors of several cancer types whose somatic mutations are
drawn from the COSMIC v3 signatures, written as the files a real user has.

Output (one directory): ``reference.fa.gz`` (bgzip + .fai/.gzi), ``somatic.maf.gz`` (TCGA-style MAF:
1-based, ``-`` indel alleles, contig names without ``chr`` while the FASTA has them, as real MAF/FASTA
pairs often do), ``somatic_vcf/<sample>.vcf.gz`` (DBS as two adjacent SNV records, as many callers
write them), ``germline/<donor>.vcf.gz`` (the matched normals' SNVs), ``samples.tsv`` (sample_id,
donor_id, histology_abbreviation, organ_system), and the ground truth: ``simulation.json`` and
``exposures.tsv`` (mutations planted per donor and signature).

Each SBS/DBS class gets positions of exactly its context, drawn from the type's regional density; the
draw keeps a position with probability ∝ (the donor's context share / the genome's), so rare contexts
fill about as fast as common ones instead of wasting most draws. Indels are drawn per ID83 class
from candidate events that the real classifier (indels.id83_label) put in that class, so the
catalogues read back follow the spectrum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion import atomic
from oncofusion.config import SimulateParams
from oncofusion.data.synthetic.variants.cancer_types import PRESETS, CancerType
from oncofusion.data.synthetic.variants.files import write_maf, write_vcf
from oncofusion.data.synthetic.variants.genome import Genome, contig_lengths, synthetic_genome
from oncofusion.data.variants.classes import dbs78_classes, id83_classes, revcomp, sbs96_classes
from oncofusion.data.variants.indels import id83_label
from oncofusion.data.variants.reference import write_fasta
from oncofusion.data.variants.signatures import cosmic
from oncofusion.data.variants.table import variant_type
from oncofusion.errors import ConfigError

COMP = np.array([3, 2, 1, 0, 4], dtype=np.int8)  # A<->T, C<->G, N
LETTERS = np.array(list("ACGTN"))
CANDIDATES_PER_BUCKET = 400


def _sbs_context(codes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pyrimidine-folded trinucleotide id (5' base × centre C/T × 3' base: 0-31) at x, whether the
    context was read from the other strand, and validity (no N)."""
    left, mid, right = codes[x - 1], codes[x], codes[x + 1]
    valid = (left < 4) & (mid < 4) & (right < 4)
    flip = (mid == 0) | (mid == 2)  # A or G centre: read the other strand
    five = np.where(flip, COMP[right], left)
    centre = np.where(flip, COMP[mid], mid)
    three = np.where(flip, COMP[left], right)
    ids = five.astype(np.int64) * 8 + np.where(centre == 1, 0, 1) * 4 + three
    return np.where(valid, ids, 0), flip, valid


DBS_REFS = ["AC", "AT", "CC", "CG", "CT", "GC", "TA", "TC", "TG", "TT"]


def _dbs_context(codes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index in DBS_REFS of the dinucleotide at (x, x+1) or of its reverse complement."""
    table = np.full((5, 5), -1)
    flipped = np.zeros((5, 5), dtype=bool)
    for i, a in enumerate("ACGT"):
        for j, b in enumerate("ACGT"):
            pair = a + b
            rc = "ACGT"[3 - j] + "ACGT"[3 - i]
            if pair in DBS_REFS:
                table[i, j] = DBS_REFS.index(pair)
            elif rc in DBS_REFS:
                table[i, j], flipped[i, j] = DBS_REFS.index(rc), True
    a, b = codes[x], codes[x + 1]
    ids = table[a, b]
    return np.maximum(ids, 0), flipped[a, b], ids >= 0


class Placer:
    """Positions by context, drawn from the regional density; the acceptance ratio (wanted context share
    / genome context share) only spares draws: each class is filled from its own context's pool."""

    def __init__(self, genome: Genome, rng: np.random.Generator) -> None:
        self.genome, self.rng = genome, rng
        x = np.arange(1, len(genome.codes) - 1)
        ids, _, valid = _sbs_context(genome.codes, x)
        self.sbs_freq = np.bincount(ids[valid], minlength=32) / valid.sum()
        ids, _, valid = _dbs_context(genome.codes, x)
        self.dbs_freq = np.bincount(ids[valid], minlength=len(DBS_REFS)) / valid.sum()

    def _draw(self, weights: np.ndarray, n: int) -> np.ndarray:
        p = weights * self.genome.bin_sizes
        chosen = self.rng.choice(len(p), size=n, p=p / p.sum())
        x = self.genome.bins[chosen] + (self.rng.random(n) * self.genome.bin_sizes[chosen]).astype(np.int64)
        return x[(x > 0) & (x < len(self.genome.codes) - 2)]

    def _place(self, need: np.ndarray, freq: np.ndarray, weights: np.ndarray, context) -> dict[int, tuple]:
        """Distinct positions per context id (and their strand flips), ``need[c]`` of each."""
        ratio = np.where(freq > 0, (need / need.sum()) / np.maximum(freq, 1e-12), 0.0)
        accept = ratio / ratio.max()
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        pools: dict[int, list] = {int(c): [] for c in np.flatnonzero(need)}
        for _ in range(200):
            x = self._draw(weights, int(need.sum()) * 4 + 1000)
            ids, flip, valid = context(self.genome.codes, x)
            keep = valid & (self.rng.random(len(x)) < accept[ids])
            for c in list(pools):
                hit = keep & (ids == c)
                pools[c].append((x[hit], flip[hit]))
                xs = np.concatenate([p[0] for p in pools[c]])
                xs, first = np.unique(xs, return_index=True)
                if len(xs) >= need[c]:
                    flips = np.concatenate([p[1] for p in pools[c]])[first]
                    pick = self.rng.permutation(len(xs))[: int(need[c])]
                    found[c] = (xs[pick], flips[pick])
                    del pools[c]
            if not pools:
                return found
        raise RuntimeError("could not place the requested mutations; is the genome mostly N?")

    def _realise(
        self,
        counts: np.ndarray,
        ctx: np.ndarray,
        alleles: list[tuple[str, str]],
        freq: np.ndarray,
        weights: np.ndarray,
        context,
    ) -> list[tuple[int, str, str]]:
        """(global position, ref, alt) on the forward strand realising per-class ``counts``; class k
        needs context ``ctx[k]`` and has ``alleles[k]`` on the context's strand."""
        need = np.bincount(ctx, weights=counts, minlength=len(freq)).astype(np.int64)
        if need.sum() == 0:
            return []
        found = self._place(need, freq, weights, context)
        out: list[tuple[int, str, str]] = []
        used = dict.fromkeys(found, 0)
        for k in np.flatnonzero(counts):
            c, n = int(ctx[k]), int(counts[k])
            xs, flips = found[c]
            ref, alt = alleles[k]
            for x, flip in zip(xs[used[c] : used[c] + n], flips[used[c] : used[c] + n], strict=True):
                out.append((int(x), revcomp(ref) if flip else ref, revcomp(alt) if flip else alt))
            used[c] += n
        return out

    def sbs(self, counts: np.ndarray, weights: np.ndarray) -> list[tuple[int, str, str]]:
        classes = sbs96_classes()
        ctx = np.array(
            ["ACGT".index(c[0]) * 8 + (0 if c[2] == "C" else 1) * 4 + "ACGT".index(c[6]) for c in classes]
        )
        alleles = [(c[2], c[4]) for c in classes]
        return self._realise(counts, ctx, alleles, self.sbs_freq, weights, _sbs_context)

    def dbs(self, counts: np.ndarray, weights: np.ndarray) -> list[tuple[int, str, str]]:
        classes = dbs78_classes()
        ctx = np.array([DBS_REFS.index(c[:2]) for c in classes])
        alleles = [(c[:2], c[3:]) for c in classes]
        return self._realise(counts, ctx, alleles, self.dbs_freq, weights, _dbs_context)


def indel_candidates(
    genome: Genome, repeats: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, list[tuple[str, int, str, str]]]:
    """Candidate indels (contig, start, ref, alt) grouped by the ID83 class the real classifier gives
    them: one-base events in homopolymer runs, unit events in (planted) tandem repeats, and random
    deletions/insertions for the no-repeat and microhomology classes."""
    proposals: list[tuple[str, int, str, str]] = []
    for name in genome.names:
        seq = genome.upper[name]
        n = len(seq)
        change = np.flatnonzero(np.diff(seq) != 0) + 1
        run_starts = np.concatenate([[0], change])
        run_lengths = np.diff(np.concatenate([run_starts, [n]]))
        inner = (run_starts > 20) & (run_starts + run_lengths < n - 20)
        for length in range(1, 8):
            chosen = np.flatnonzero(inner & ((run_lengths == length) if length < 7 else (run_lengths >= 7)))
            for i in rng.choice(chosen, size=min(len(chosen), CANDIDATES_PER_BUCKET // 2), replace=False):
                s, base = int(run_starts[i]), chr(seq[run_starts[i]])
                proposals.append((name, s, base, ""))  # one base of the run deleted
                proposals.append((name, s, "", base))  # one more copy inserted
        for x in rng.integers(50, n - 50, size=CANDIDATES_PER_BUCKET * 4):
            size = int(rng.choice([1, 2, 3, 4, 5, 6, 8]))
            x = int(x)
            proposals.append((name, x, seq[x : x + size].tobytes().decode(), ""))
            inserted = "".join(rng.choice(list("ACGT"), size=size))
            proposals.append((name, x, "", inserted))
            # unit events in tandem repeats: duplicate or delete the unit that starts here
            unit = seq[x : x + size].tobytes().decode()
            proposals.append((name, x, "", unit))
        for start, unit_len in repeats[name]:  # one unit more or less in a planted tandem repeat
            start, unit_len = int(start), int(unit_len)
            unit = seq[start : start + unit_len].tobytes().decode()
            proposals.append((name, start, unit, ""))
            proposals.append((name, start, "", unit))
    by_class: dict[str, list[tuple[str, int, str, str]]] = {}
    for name, start, ref, alt in proposals:
        if "N" in ref or "N" in alt:
            continue
        label = id83_label(genome.upper[name], start, ref, alt)
        if label is not None:
            by_class.setdefault(label, []).append((name, start, ref, alt))
    return by_class


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
    lengths = contig_lengths(params.genome_mb, params.n_contigs)
    contigs, repeats = synthetic_genome(
        rng, lengths, params.gc_mean, params.gc_sd, params.microsatellites_per_mb
    )
    genome = Genome(contigs)
    placer = Placer(genome, rng)
    candidates = indel_candidates(genome, repeats, rng)
    planted = {"microsatellites": int(sum(len(r) for r in repeats.values()))}
    n_bins = len(genome.bins)
    shared = rng.normal(0.0, 0.4, size=n_bins)  # replication-timing-like density common to all types
    types = [PRESETS[t] for t in params.types]
    weights = np.array(params.type_weights or [1.0] * len(types))
    density = {t.name: _type_density(rng, n_bins, shared, params.density_sdlog) for t in types}
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
        for sig_table, exposures, count, place in (
            (sbs_sig, kind.sbs, n_sbs, placer.sbs),
            (dbs_sig, kind.dbs, n_dbs, placer.dbs),
        ):
            names, donor_mix, spectrum = _spectrum(sig_table, exposures, rng, params.exposure_concentration)
            row.update({n: round(float(v) * count, 2) for n, v in zip(names, donor_mix, strict=True)})
            variants += place(rng.multinomial(count, spectrum / spectrum.sum()), density[kind.name])
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
        exposures = pd.DataFrame(exposure_rows).fillna(0.0)
        exposures.to_csv(staging / "exposures.tsv", sep="\t", index=False)
        summary = {
            "generator": "oncofusion.data.synthetic.variants",
            "seed": seed,
            "params": params.model_dump(mode="json"),
            "contigs": lengths,
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
        }
        atomic.write_json(staging / "simulation.json", summary)
    return summary


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
