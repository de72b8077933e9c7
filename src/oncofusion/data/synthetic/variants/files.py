"""The simulated cohort's variants written as the files a real user has: a TCGA-style MAF and VCF 4.2,
each in the form real callers and consortia write them, so that reading them back exercises the same
conversions (1-based positions, ``-`` alleles, padding bases, doublets split into two records) that real
files need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from oncofusion.data.synthetic.variants.genome import Genome

GENES_FILE = "genes.bed"


def write_maf(table: pd.DataFrame, path: Path) -> None:
    ref_len, alt_len = table["ref"].str.len(), table["alt"].str.len()
    insertion = ref_len == 0
    start1 = np.where(insertion, table["start"], table["start"] + 1)
    end1 = np.where(insertion, table["start"] + 1, table["start"] + ref_len)
    kind = np.select(
        [insertion, alt_len == 0, ref_len == 1, ref_len == 2], ["INS", "DEL", "SNP", "DNP"], "ONP"
    )
    maf = pd.DataFrame(
        {
            "Hugo_Symbol": "Unknown",
            "Chromosome": table["chrom"].str.removeprefix("chr"),
            "Start_Position": start1,
            "End_Position": end1,
            "Variant_Type": kind,
            "Reference_Allele": table["ref"].replace("", "-"),
            "Tumor_Seq_Allele1": table["ref"].replace("", "-"),
            "Tumor_Seq_Allele2": table["alt"].replace("", "-"),
            "Tumor_Sample_Barcode": table["sample_id"],
            "Matched_Norm_Sample_Barcode": table["sample_id"].str.replace("-T", "-N"),
            "Donor_ID": table["sample_id"].str.replace("SA", "DO").str.removesuffix("-T"),
        }
    )
    with pysam.BGZFile(str(path), "wb") as handle:  # gzip-compatible, so any MAF reader opens it
        handle.write(b"#version 2.4\n")
        handle.write(maf.to_csv(sep="\t", index=False).encode())


def write_vcf(table: pd.DataFrame, genome: Genome, path: Path, split_doublets: bool = False) -> None:
    """VCF 4.2 as callers write it: indels padded with the base before, optionally a DBS as two SNVs."""
    sample = str(table["sample_id"].iloc[0]) if len(table) else path.name.split(".")[0]
    ref_len, alt_len = table["ref"].str.len().to_numpy(), table["alt"].str.len().to_numpy()
    substitution = (ref_len == alt_len) & ((ref_len == 1) | split_doublets)
    subs = table[substitution]
    width = subs["ref"].str.len().to_numpy()
    offset = np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
    records = [
        pd.DataFrame(
            {
                "chrom": np.repeat(subs["chrom"].to_numpy(), width),
                "pos": np.repeat(subs["start"].to_numpy(), width) + offset + 1,
                "ref": list("".join(subs["ref"])),
                "alt": list("".join(subs["alt"])),
            }
        )
    ]
    others = table[~substitution]
    if len(others):
        pad = np.array(
            [chr(genome.upper[c][st - 1]) for c, st in zip(others["chrom"], others["start"], strict=True)]
        )
        records.append(
            pd.DataFrame(
                {
                    "chrom": others["chrom"].to_numpy(),
                    "pos": others["start"].to_numpy(),  # 1-based position of the padding base
                    "ref": np.char.add(pad, others["ref"].to_numpy().astype(str)),
                    "alt": np.char.add(pad, others["alt"].to_numpy().astype(str)),
                }
            )
        )
    body = pd.concat(records, ignore_index=True)
    body["rank"] = body["chrom"].map({c: i for i, c in enumerate(genome.names)})
    body = body.sort_values(["rank", "pos"], kind="stable")
    body = body.assign(id=".", qual=".", filter="PASS", info=".", format="GT", genotype="0/1")
    columns = ["chrom", "pos", "id", "ref", "alt", "qual", "filter", "info", "format", "genotype"]
    header = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        *(f"##contig=<ID={c},length={len(genome.upper[c])}>" for c in genome.names),
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample]),
    ]
    plain = path.with_name(path.name.removesuffix(".gz"))
    with plain.open("w") as handle:
        handle.write("\n".join(header) + "\n")
        body[columns].to_csv(handle, sep="\t", header=False, index=False)
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to path and writes path.tbi


def write_genes(genes: np.ndarray, genome: Genome, path: Path) -> None:
    """The simulated genes (global start, end, strand) as BED: contig, 0-based start, end, name, score,
    strand; a gene that runs past its contig's end is cut there."""
    contig, start = genome.locate(genes[:, 0])
    ends = genome.offsets[contig] + np.array([len(genome.upper[genome.names[c]]) for c in contig])
    end = np.minimum(genes[:, 1], ends) - genome.offsets[contig]
    bed = pd.DataFrame(
        {
            "chrom": np.array(genome.names)[contig],
            "start": start,
            "end": end,
            "name": [f"gene{i + 1}" for i in range(len(genes))],
            "score": 0,
            "strand": np.where(genes[:, 2] > 0, "+", "-"),
        }
    )
    bed[bed["end"] > bed["start"]].to_csv(path, sep="\t", header=False, index=False)
