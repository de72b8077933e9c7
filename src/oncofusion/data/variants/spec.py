"""What a variant model records about its cohort's build, so a new tumour is featurised the same way.

Kept apart from the featurisation code: the train stage writes this record into every variant model,
and should not depend on (or be re-run for) the code that reads tumours.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class VariantInputSpec(BaseModel):
    """How the training cohort turned variants into catalogues, and against which reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference_file: str
    reference_sha256: str
    contigs: dict[str, int]  # the reference's contig names and lengths, in reference order
    catalogues: list[str]
    density_bin: int
    merge_adjacent_snvs: bool
    pass_only: bool
    max_ref_mismatch: float


def spec_from_cohort(provenance: dict[str, Any], params: Any) -> VariantInputSpec | None:
    """The record a variant cohort's model carries; None for any other cohort."""
    if provenance.get("source") != "variants":
        return None
    reference = provenance["reference"]
    vp = params.cohort.variants
    return VariantInputSpec(
        reference_file=str(reference["file"]),
        reference_sha256=str(reference["sha256"]),
        contigs={str(k): int(v) for k, v in reference["contigs"].items()},
        catalogues=list(vp.catalogues),
        density_bin=int(vp.density_bin),
        merge_adjacent_snvs=bool(vp.merge_adjacent_snvs),
        pass_only=bool(vp.pass_only),
        max_ref_mismatch=float(params.validation.max_ref_mismatch),
    )
