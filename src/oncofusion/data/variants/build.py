"""A somatic-variant cohort: sheet + variants + reference → catalogues (the model's modalities), the
variant table and window coordinates (for the DNA language model), under the Cohort contract.

Nothing is dropped silently. Variants the gate must judge (contig unknown to the FASTA, position past
the contig end, REF disagreeing with the reference, sample missing from the sheet) are kept in
``variants.parquet`` with their flags and source line, left out of the catalogues, and fail the gate,
which names file, line and column. Everything else this ingest decides is a counted decision.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.cohort import Cohort, Domain, ModalitySpec, file_digest
from oncofusion.config import CohortParams
from oncofusion.data.decisions import Decisions
from oncofusion.data.tables.build import assemble, inside, read_labels
from oncofusion.data.variants import catalogues as cat
from oncofusion.data.variants.readers import germline_snvs, read_variants
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.substitutions import merge_adjacent_snvs
from oncofusion.data.variants.table import end as variant_end
from oncofusion.data.variants.windows import window_table
from oncofusion.errors import CohortError

VARIANTS_FILE = "variants.parquet"
WINDOWS_FILE = "windows.parquet"
GERMLINE_FILE = "germline.parquet"
KIND = {"sbs96": "tabular", "dbs78": "tabular", "id83": "tabular", "density": "genomic"}
DESCRIPTION = {
    "sbs96": "single-base substitutions in their pyrimidine trinucleotide context (COSMIC SBS96)",
    "dbs78": "doublet-base substitutions folded to the 78 COSMIC classes (DBS78)",
    "id83": "small insertions and deletions by size, repeat units and microhomology (COSMIC ID83)",
    "density": "mutations per genome bin (regional mutation density)",
}


def _lexically_inside(directory: Path, name: str, setting: str) -> Path:
    """Like tables.inside, but a symlink may point anywhere: references are large and shared."""
    path = Path(os.path.normpath(directory.absolute() / name))
    if not path.is_relative_to(directory.absolute()):
        raise CohortError(
            f"cohort.{setting}: {name!r} is outside cohort.path ({directory}); put the file (or a symlink "
            "to it) in that directory so DVC tracks it"
        )
    return path


def reference_flags(reference: Reference, table: pd.DataFrame) -> pd.DataFrame:
    """Resolve contig names and check each variant against the FASTA (columns the gate reads)."""
    contig = table["chrom"].map(reference.aliases)
    ends = variant_end(table)
    length = contig.map(reference.lengths)
    in_contig = contig.notna() & (table["start"] >= 0) & (ends <= length.fillna(-1))
    observed = np.full(len(table), None, dtype=object)
    for name in contig.dropna().unique():
        rows = np.flatnonzero((contig == name).to_numpy() & in_contig.to_numpy())
        seq = reference.contigs[name]
        starts, stops = table["start"].to_numpy()[rows], ends[rows]
        single = stops - starts == 1
        observed[rows[single]] = seq[starts[single]].view("S1").astype(str)
        for i, s, e in zip(rows[~single], starts[~single], stops[~single], strict=True):
            observed[i] = seq[s:e].tobytes().decode()
    out = table.copy()
    out["contig"] = contig.astype(object).where(contig.notna(), None)
    out["in_contig"] = in_contig.to_numpy()
    out["ref_observed"] = observed
    out["ref_match"] = in_contig.to_numpy() & (observed == out["ref"].to_numpy())
    return out


def _simulation_truth(directory: Path) -> dict[str, Any]:
    path = directory / "simulation.json"
    if not path.is_file():
        return {}
    truth = json.loads(path.read_text())
    return {
        "simulation": {k: truth[k] for k in ("generator", "seed", "types", "planted_repeats") if k in truth},
        "exposures_file": "exposures.tsv",
    }


def variants_cohort(params: CohortParams, root: Path, decisions: Decisions) -> tuple[Cohort, dict[str, Any]]:
    directory = root / params.path
    if not directory.is_dir():
        raise CohortError(
            f"{directory}: cohort.path must be the directory holding the variants, FASTA and sheet"
        )
    vp = params.variants
    sheet_path = inside(directory, vp.sheet, "variants.sheet")
    labels = read_labels(sheet_path, vp.label_column, "split", decisions)
    reference_path = _lexically_inside(directory, vp.reference, "variants.reference")
    reference = Reference.load(reference_path)
    variants_path = inside(directory, vp.variants, "variants.variants")
    table, columns = read_variants(
        variants_path, vp.format, decisions, vp.sample_column, vp.vcf_sample_from, vp.pass_only
    )
    if table.empty:
        raise CohortError(f"{variants_path}: no variants")

    known = set(labels["sample_id"])
    unknown = ~table["sample_id"].isin(known)
    if unknown.any() and params.unknown_samples == "drop":
        missing = sorted(table.loc[unknown, "sample_id"].unique())
        decisions.record(f"variants of samples not in {sheet_path.name} dropped", int(unknown.sum()), missing)
        table = table[~unknown].reset_index(drop=True)
    if vp.merge_adjacent_snvs:
        table, merged = merge_adjacent_snvs(table)
        decisions.record("adjacent SNVs of one sample merged into doublets (DBS) or MNVs", merged)
    table = reference_flags(reference, table.reset_index(drop=True))
    table["in_sheet"] = table["sample_id"].isin(known)
    decisions.record(
        "complex indels (both alleles non-empty, lengths differ): in no catalogue",
        int((table["type"] == "COMPLEX").sum()),
    )
    decisions.record("MNVs (3+ adjacent substitutions): in no catalogue", int((table["type"] == "MNV").sum()))
    usable = table["ref_match"] | ((table["ref"] == "") & table["in_contig"])
    clean = table[usable & table["in_sheet"]].copy()
    clean["chrom"] = clean["contig"]

    with_variants = set(clean["sample_id"])
    empty = [s for s in labels["sample_id"] if s not in with_variants]
    if empty:
        if params.empty_samples == "error":
            raise CohortError(
                f"{sheet_path}: {len(empty)} sample(s) have no usable variant in {variants_path.name}, e.g. "
                f"{empty[:5]} (set cohort.empty_samples: drop to drop them)"
            )
        decisions.record("samples with no usable variant dropped", len(empty), empty)
        labels = labels[~labels["sample_id"].isin(empty)].reset_index(drop=True)

    order = labels["sample_id"].tolist()
    built = cat.build_catalogues(reference, clean, order, vp.density_bin)
    frames, specs, sidecars = {}, {}, {}
    for name in vp.catalogues:
        matrix = built[name]
        frame = matrix.T.astype(np.float32)
        frame.index = pd.Index(order, name="sample_id")
        frame.columns = [str(c) for c in frame.columns]
        frames[name] = frame
        specs[name] = ModalitySpec(
            file=f"{name}.parquet",
            features=list(frame.columns),
            domain=Domain(min=0.0),  # counts, stored as float32 like every modality
            kind=KIND[name],
            transform=vp.transform,
            description=DESCRIPTION[name],
        )
        sidecars[f"catalogues/{name}.tsv"] = cat.sigprofiler_text(matrix)

    germline = None
    if vp.germline:
        germline_path = inside(directory, vp.germline, "variants.germline")
        germline = _germline_per_sample(
            germline_snvs(germline_path, decisions, vp.vcf_sample_from), labels, reference, decisions
        )
        sidecars[GERMLINE_FILE] = germline
    windows = window_table(clean, reference.lengths, vp.window.flank, vp.window.max_per_sample, 0, decisions)
    sidecars[VARIANTS_FILE] = table
    sidecars[WINDOWS_FILE] = windows

    files = {p.name: file_digest(p) for p in (sheet_path, reference_path) if p.is_file()}
    if variants_path.is_file():
        files[variants_path.name] = file_digest(variants_path)
    mismatch = (
        float(1 - table.loc[table["ref"] != "", "ref_match"].mean()) if (table["ref"] != "").any() else 0.0
    )
    provenance = {
        "source": "variants",
        "path": params.path,
        "files": files,
        "reference": {
            "file": vp.reference,
            "sha256": files.get(reference_path.name),
            "contigs": reference.lengths,
        },
        "variant_columns": columns.__dict__,
        "variant_types": table["type"].value_counts().to_dict(),
        "ref_mismatch_rate": round(mismatch, 6),
        "window": {
            "flank": vp.window.flank,
            "max_per_sample": vp.window.max_per_sample,
            "n_windows": len(windows),
        },
    }
    cohort = assemble(params.name, labels, frames, specs, params, provenance, decisions, sheet_path.name)
    cohort.meta = cohort.meta.model_copy(
        update={
            "files": {
                VARIANTS_FILE: "every variant read (0-based), with the gate flags and source file and line",
                WINDOWS_FILE: f"tumour/normal window coordinates (flank {vp.window.flank}), read on demand",
                **(
                    {GERMLINE_FILE: "matched-normal germline SNVs applied to both windows"}
                    if germline is not None
                    else {}
                ),
                **{f"catalogues/{n}.tsv": "SigProfilerMatrixGenerator layout" for n in vp.catalogues},
            },
            "ground_truth": _simulation_truth(directory),
        }
    )
    cohort.sidecars = sidecars
    stats = {"variants": len(table), "windows": len(windows), "ref_mismatch_rate": round(mismatch, 6)}
    return cohort, stats


def _germline_per_sample(
    snvs: pd.DataFrame, labels: pd.DataFrame, reference: Reference, decisions: Decisions
) -> pd.DataFrame:
    """Germline VCFs name the donor (or the sample): give each tumour sample its donor's SNVs."""
    donor = labels["donor_id"].astype(str) if "donor_id" in labels.columns else labels["sample_id"]
    by_name = pd.concat(
        [
            pd.DataFrame({"name": labels["sample_id"], "sample_id": labels["sample_id"]}),
            pd.DataFrame({"name": donor.to_numpy(), "sample_id": labels["sample_id"]}),
        ]
    ).drop_duplicates()
    merged = snvs.rename(columns={"sample_id": "name"}).merge(by_name, on="name", how="inner")
    decisions.record(
        "germline SNVs of donors not in the sheet ignored",
        int((~snvs["sample_id"].isin(set(by_name["name"]))).sum()),
    )
    merged["chrom"] = merged["chrom"].map(reference.aliases)
    unknown = merged["chrom"].isna()
    decisions.record("germline SNVs on contigs not in the reference ignored", int(unknown.sum()))
    return merged.loc[~unknown, ["sample_id", "chrom", "start", "ref", "alt"]].reset_index(drop=True)
