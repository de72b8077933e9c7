"""One or more new tumours' variants → the model's catalogue inputs, exactly as the cohort built them.

A variant model is only as good as the match between the tumour in front of it and the cohort it was
trained on: same assembly, same catalogues, same merging of adjacent SNVs. The model therefore records
what its cohort was built with (:class:`VariantInputSpec`, saved in the bundle), and everything here
reads that record rather than the caller's settings: the served path (``/classify_variants``) and
``oncofusion predict`` featurise a tumour the same way, with the cohort's own functions.

Nothing is dropped silently: every variant left out is counted per tumour with the reason, and the
checks that make an answer meaningless (another build, REF disagreeing with the FASTA above the
validation gate's rate) are errors naming the file and line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.cohort import file_digest
from oncofusion.data.variants import catalogues as cat
from oncofusion.data.variants.reference import Reference
from oncofusion.data.variants.spec import VariantInputSpec
from oncofusion.data.variants.substitutions import merge_adjacent_snvs
from oncofusion.errors import CohortError, OncofusionError

SIGNATURE_KINDS = ("sbs96", "dbs78", "id83")
TOP_EXPOSURES = 5


class ReferenceMismatch(OncofusionError):
    """The configured FASTA is not the one the model was trained against."""


def verify_reference(spec: VariantInputSpec, path: str | Path) -> Path:
    """``path``, refused unless its bytes are the FASTA the model recorded (SHA-256): a quick check
    (the file is hashed, not loaded) that a server runs before it starts."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceMismatch(f"{path}: reference FASTA not found (the model needs {spec.reference_file})")
    digest = file_digest(path)
    if digest != spec.reference_sha256:
        raise ReferenceMismatch(
            f"{path}: SHA-256 {digest[:16]}… differs from the reference the model was trained against "
            f"({spec.reference_file}, {spec.reference_sha256[:16]}…); give that FASTA"
        )
    return path


def open_reference(spec: VariantInputSpec, path: str | Path, verified: bool = False) -> Reference:
    """The FASTA at ``path`` in memory, refused unless it is the one the model recorded (``verified``:
    its checksum was checked already, by this process's parent)."""
    path = Path(path) if verified else verify_reference(spec, path)
    reference = Reference.load(path)
    if reference.lengths != spec.contigs:
        raise ReferenceMismatch(f"{path}: contigs differ from those the model recorded")
    return reference


@dataclass
class Featurised:
    """Catalogue inputs of the tumours that have at least one usable variant, and what was left out."""

    samples: list[str]  # every tumour named in the input, in first-seen order
    inputs: dict[str, np.ndarray]  # modality → (len(scored), features) counts
    scored: list[str]  # tumours with a usable variant, in the order of ``inputs`` rows
    used: dict[str, int]
    dropped: dict[str, dict[str, int]]  # tumour → reason → variants
    exposures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def check_build(spec: VariantInputSpec, header_contigs: dict[str, int], source: str) -> None:
    """A VCF's ##contig lengths against the model's reference: another assembly is refused outright,
    because its positions would put every variant in the wrong context."""
    from oncofusion.data.variants.reference import contig_aliases

    aliases = contig_aliases(list(spec.contigs))
    differ = [
        (name, length, spec.contigs[aliases[name]])
        for name, length in header_contigs.items()
        if name in aliases and length and length != spec.contigs[aliases[name]]
    ]
    if differ:
        name, theirs, ours = differ[0]
        raise CohortError(
            f"{source}: contig {name} is {theirs:,} bp in the VCF header but {ours:,} bp in the reference "
            f"the model was trained on ({spec.reference_file}); {len(differ)} contig(s) differ: the VCF "
            "was called against another build"
        )


def _reason_counts(table: pd.DataFrame) -> pd.DataFrame:
    """One reason per variant the catalogues cannot use (first that applies), else None."""
    reason = np.full(len(table), None, dtype=object)
    checks = [
        (table["contig"].isna(), "contig not in the reference"),
        (~table["in_contig"], "position outside the contig"),
        ((table["ref"] != "") & ~table["ref_match"], "REF differs from the reference"),
        (table["type"] == "COMPLEX", "complex indel (in no catalogue)"),
        (table["type"] == "MNV", "MNV of 3+ bases (in no catalogue)"),
    ]
    for mask, why in checks:
        fill = np.asarray(mask, dtype=bool) & pd.isna(reason)
        reason[fill] = why
    return reason


def featurise(
    table: pd.DataFrame,
    reference: Reference,
    spec: VariantInputSpec,
    source: str,
    timings: dict[str, float] | None = None,
) -> Featurised:
    """Catalogues of every tumour in ``table`` (the normalised variant table of :mod:`.table`);
    ``timings`` gets the seconds spent in the gate, the catalogues and the signature fits."""
    from oncofusion.data.variants.build import reference_flags

    clock = _Clock(timings)
    samples = list(dict.fromkeys(table["sample_id"].astype(str)))
    if spec.merge_adjacent_snvs and len(table):
        table, _ = merge_adjacent_snvs(table.reset_index(drop=True))
    table = reference_flags(reference, table.reset_index(drop=True))
    with_ref = table["ref"] != ""
    checked = table["in_contig"] & with_ref
    if checked.any():
        mismatch = float((~table.loc[checked, "ref_match"]).mean())
        if mismatch > spec.max_ref_mismatch:
            bad = table[checked & ~table["ref_match"]].head(3)
            where = "; ".join(
                f"line {int(r.source_line)}: {r.chrom}:{int(r.start) + 1} REF {r.ref} but the FASTA has "
                f"{r.ref_observed}"
                for r in bad.itertuples()
            )
            raise CohortError(
                f"{source}: {mismatch:.1%} of REF alleles differ from the reference the model was trained "
                f"on (the gate allows {spec.max_ref_mismatch:.1%}), e.g. {where}; was it called against "
                "another build?"
            )
    clock.lap("gate")
    reason = _reason_counts(table)
    usable = pd.isna(reason)
    dropped: dict[str, dict[str, int]] = {s: {} for s in samples}
    for (sample, why), count in (
        pd.DataFrame({"s": table["sample_id"].astype(str), "r": reason})[~usable].value_counts().items()
    ):
        dropped[sample][why] = int(count)
    clean = table[usable].copy()
    clean["chrom"] = clean["contig"]
    used = clean["sample_id"].astype(str).value_counts().to_dict()
    scored = [s for s in samples if used.get(s, 0) > 0]
    built = cat.build_catalogues(reference, clean, scored, spec.density_bin) if scored else {}
    inputs = {
        name: np.array(built[name].T, dtype=np.float32) if scored else np.zeros((0, 0), np.float32)
        for name in spec.catalogues
    }
    clock.lap("catalogues")
    exposures = {s: top_exposures(built, i) for i, s in enumerate(scored)} if scored else {}
    clock.lap("signatures")
    return Featurised(
        samples=samples,
        inputs=inputs,
        scored=scored,
        used={s: int(used.get(s, 0)) for s in samples},
        dropped=dropped,
        exposures=exposures,
    )


class _Clock:
    """Seconds per phase, added into a caller's dict (benchmarks split a request's time this way)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[phase] = self.timings.get(phase, 0.0) + now - self.last
        self.last = now


def top_exposures(
    built: dict[str, pd.DataFrame], column: int, top: int = TOP_EXPOSURES
) -> list[dict[str, Any]]:
    """The COSMIC signatures that explain most of the tumour's catalogues (NNLS), largest first: what
    a clinician reads next to the call (e.g. SBS4, tobacco, behind a lung call)."""
    from oncofusion.data.variants.signatures import cosmic, fit_exposures

    rows = []
    for kind in SIGNATURE_KINDS:
        if kind not in built:
            continue
        counts = built[kind].iloc[:, column].to_numpy(dtype=float)
        total = counts.sum()
        if total <= 0:
            continue
        signatures = cosmic(kind).loc[list(built[kind].index)]
        exposure, similarity = fit_exposures(counts, signatures)
        for name, value in zip(signatures.columns, exposure, strict=True):
            if value > 0:
                rows.append(
                    {
                        "signature": str(name),
                        "catalogue": kind,
                        "mutations": round(float(value), 2),
                        "share": round(float(value / total), 4),
                        "fit_cosine": round(similarity, 4),
                    }
                )
    rows.sort(key=lambda r: -r["mutations"])
    return rows[:top]
