"""``oncofusion dna-score``: the zero-shot score of every SNV in a user's VCF or MAF against their FASTA,
with a fine-tuned (or any NT-v1-compatible saved) model: log p(alt) − log p(ref) at the variant's masked
token, averaged over both strands. Negative: the model finds the alt allele less likely than the
reference in its context (GPN's and the Nucleotide Transformer's zero-shot variant-effect score).

The file is read by the cohort's own readers; every contig must be in the FASTA and every ref allele
must match it, or the command stops naming the sample and variant, and writes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion import atomic
from oncofusion.data.decisions import Decisions
from oncofusion.data.variants.readers import read_variants
from oncofusion.data.variants.reference import IndexedReference
from oncofusion.dna.model import context_tokens, load_model_dir
from oncofusion.dna.module import TokenRoles
from oncofusion.dna.representations import VariantLayout, centred_windows, represent
from oncofusion.errors import CohortError

COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "type", "zero_shot"]


def read_snvs(variants: Path, reference: IndexedReference, fasta: Path, decisions: Decisions) -> pd.DataFrame:
    """The file's variants with contigs spelt as the FASTA spells them; only SNVs are scored."""
    table, _ = read_variants(variants, "auto", decisions, None, "header", pass_only=True)
    contig = table["chrom"].map(reference.aliases)
    if contig.isna().any():
        row = table[contig.isna()].iloc[0]
        known = ", ".join(list(reference.lengths)[:8])
        source = variants / row["source_file"] if variants.is_dir() else variants
        raise CohortError(
            f"{source}, line {row['source_line']}: sample {row['sample_id']}, contig {row['chrom']!r} is "
            f"not in {fasta} (it has {known}, ...): another build or a naming mismatch"
        )
    table = table.assign(chrom=contig)
    snv = table["type"] == "SNV"
    decisions.record("variants other than SNVs not scored", int((~snv).sum()))
    return table[snv].reset_index(drop=True)


def dna_score(
    variants: Path, fasta: Path, model_dir: Path, out: Path, batch_size: int = 256, accelerator: str = "auto"
) -> dict[str, Any]:
    started = time.perf_counter()
    decisions = Decisions()
    reference = IndexedReference(fasta)
    table = read_snvs(variants, reference, fasta, decisions)
    if table.empty:
        raise CohortError(f"{variants}: no SNV to score")
    model, tokenizer, device = load_model_dir(model_dir, accelerator)
    layout = VariantLayout.of(tokenizer, context_tokens(model.config))
    windows = centred_windows(
        tokenizer, reference, table, None, layout, decisions, on_mismatch="error", where=str(fasta)
    )
    table = windows.rows  # less any variant an N pushed past the context (counted)
    _, score = represent(model, windows, TokenRoles(tokenizer), 0, batch_size, device, states=False)
    result = pd.DataFrame(
        {
            "sample_id": table["sample_id"],
            "chrom": table["chrom"],
            "pos": table["start"].to_numpy() + 1,
            "ref": table["ref"],
            "alt": table["alt"],
            "type": table["type"],
            "zero_shot": np.round(score.numpy(), 5),
        }
    )[COLUMNS]
    atomic.write_text(out, result.to_csv(sep="\t", index=False))
    return {
        "n_scored": len(result),
        "mean": float(result["zero_shot"].mean()),
        "seconds": round(time.perf_counter() - started, 2),
        "decisions": decisions.items,
    }
