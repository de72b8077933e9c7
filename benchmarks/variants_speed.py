"""Variant-path speed: windows per second per core (on demand from an indexed FASTA and from memory,
against reading materialised windows), catalogue building for 10 million variants (streaming, peak
RSS), and parsing a 1,000,000-line MAF.

    .venv/bin/python benchmarks/variants_speed.py [--catalogue-variants 10000000] [--maf-lines 1000000]

One process, one core for every per-core figure (the catalogue step is single-threaded numpy too), so
figures on the same machine are ratios measured side by side. Writes
benchmarks/results/variants_speed-cpu-<cores>cores.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from oncofusion.data.decisions import Decisions
from oncofusion.data.synthetic.variants.genome import contig_lengths, synthetic_genome
from oncofusion.data.variants import catalogues as cat
from oncofusion.data.variants.readers import read_maf
from oncofusion.data.variants.reference import IndexedReference, Reference, write_fasta
from oncofusion.data.variants.table import make_table, variant_type
from oncofusion.data.variants.windows import window_pair, window_table
from results_io import RESULTS, cpu_name, write_report

FLANK = 3000
BASES = np.array(list("ACGT"))


def random_snvs(reference: Reference, n: int, rng: np.random.Generator, n_samples: int = 200) -> pd.DataFrame:
    names = list(reference.lengths)
    sizes = np.array([reference.lengths[c] for c in names], dtype=float)
    contig = rng.choice(len(names), size=n, p=sizes / sizes.sum())
    pos = (rng.random(n) * (sizes[contig] - 2)).astype(np.int64) + 1
    ref = np.array([reference.contigs[names[c]][p] for c, p in zip(contig, pos, strict=True)], dtype=np.uint8)
    alt = BASES[(np.searchsorted(np.frombuffer(b"ACGT", np.uint8), ref) + rng.integers(1, 4, n)) % 4]
    samples = np.char.add("S", (rng.integers(0, n_samples, n)).astype(str))
    return make_table(
        samples, np.array(names)[contig], pos, ref.view("S1").astype(str), alt, "bench", np.arange(n)
    )


def windows_rate(reference, windows: pd.DataFrame) -> float:
    started = time.perf_counter()
    total = 0
    for row in windows.itertuples(index=False):
        tumour, _normal = window_pair(reference, row)
        total += len(tumour)
    seconds = time.perf_counter() - started
    assert total == len(windows) * (2 * FLANK + 1)
    return len(windows) / seconds


def materialised_rate(reference: Reference, windows: pd.DataFrame, directory: Path) -> dict[str, float]:
    """The alternative design: write every (tumour, normal) pair as text, then read them back."""
    pairs = [window_pair(reference, row) for row in windows.itertuples(index=False)]
    table = pa.table({"tumour": [p[0] for p in pairs], "normal": [p[1] for p in pairs]})
    path = directory / "windows.parquet"
    started = time.perf_counter()
    pq.write_table(table, path)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    back = pq.read_table(path)
    total = sum(len(s) for s in back.column("tumour").to_pylist())
    read_s = time.perf_counter() - started
    assert total == len(windows) * (2 * FLANK + 1)
    return {
        "read_windows_per_s": round(len(windows) / read_s),
        "write_windows_per_s": round(len(windows) / write_s),
        "bytes_per_window_on_disk": round(path.stat().st_size / len(windows)),
    }


def _catalogue_child(parquet: str, contigs_path: str, queue) -> None:
    reference = Reference.load(contigs_path)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    file = pq.ParquetFile(parquet)
    samples = sorted(set(file.read(columns=["sample_id"]).column("sample_id").to_pylist()))
    started = time.perf_counter()
    chunks = (file.read_row_group(i).to_pandas() for i in range(file.num_row_groups))
    built = cat.build_catalogues(reference, chunks, samples, 1_000_000)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "seconds": round(seconds, 2),
            "variants_per_s": round(file.metadata.num_rows / seconds),
            "peak_rss_mb": round(peak / 1024),
            "reference_rss_mb": round(base_rss / 1024),
            "counted": {k: int(v.to_numpy().sum()) for k, v in built.items()},
        }
    )


def catalogue_benchmark(reference: Reference, fasta: Path, n: int, directory: Path, rng) -> dict:
    """Write n variants (90% SNV, 10% indels of 1-5 bp) as Parquet row groups of 1M, then build all four
    catalogues streaming over the row groups in a fresh process (its peak RSS is the figure)."""
    path = directory / "variants.parquet"
    writer = None
    for start in range(0, n, 1_000_000):
        rows = min(1_000_000, n - start)
        chunk = random_snvs(reference, rows, rng, n_samples=2000)
        indel = rng.random(rows) < 0.1
        size = rng.integers(1, 6, rows)
        deleted = [
            reference.fetch(c, s, s + k)
            for c, s, k in zip(chunk["chrom"][indel], chunk["start"][indel], size[indel], strict=True)
        ]
        ins = rng.random(int(indel.sum())) < 0.5
        chunk.loc[indel, "ref"] = np.where(ins, "", deleted)
        chunk.loc[indel, "alt"] = np.where(ins, [d[::-1] for d in deleted], "")
        chunk["type"] = variant_type(chunk["ref"], chunk["alt"])
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=_catalogue_child, args=(str(path), str(fasta), queue)
    )
    child.start()
    result = queue.get()
    child.join()
    return {"variants": n, **result}


def maf_benchmark(reference: Reference, n: int, directory: Path, rng) -> dict:
    snvs = random_snvs(reference, n, rng)
    maf = pd.DataFrame(
        {
            "Hugo_Symbol": "Unknown",
            "Chromosome": snvs["chrom"].str.removeprefix("chr"),
            "Start_Position": snvs["start"] + 1,
            "End_Position": snvs["start"] + 1,
            "Variant_Type": "SNP",
            "Reference_Allele": snvs["ref"],
            "Tumor_Seq_Allele2": snvs["alt"],
            "Tumor_Sample_Barcode": snvs["sample_id"],
        }
    )
    path = directory / "big.maf"
    maf.to_csv(path, sep="\t", index=False)
    started = time.perf_counter()
    table, _ = read_maf(path, Decisions())
    seconds = time.perf_counter() - started
    assert len(table) == n
    return {
        "lines": n,
        "seconds": round(seconds, 2),
        "lines_per_s": round(n / seconds),
        "file_mb": round(path.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--genome-mb", type=float, default=100.0)
    parser.add_argument("--windows", type=int, default=50_000)
    parser.add_argument("--catalogue-variants", type=int, default=10_000_000)
    parser.add_argument("--maf-lines", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        contigs, _ = synthetic_genome(rng, contig_lengths(args.genome_mb, 22), 0.41, 0.04, 1500.0)
        fasta = directory / "reference.fa.gz"
        write_fasta({n: s.tobytes().decode() for n, s in contigs.items()}, fasta)
        memory = Reference.load(fasta)
        indexed = IndexedReference(fasta)
        snvs = random_snvs(memory, args.windows, rng)
        windows = window_table(snvs, memory.lengths, FLANK, None, 0, Decisions())
        report = {
            "benchmark": "variants_speed",
            "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
            "genome_mb": args.genome_mb,
            "windows": {
                "flank": FLANK,
                "n": len(windows),
                "memory_windows_per_s_per_core": round(windows_rate(memory, windows)),
                "indexed_bgzip_fasta_windows_per_s_per_core": round(windows_rate(indexed, windows[:10_000])),
                "materialised_parquet": materialised_rate(memory, windows[:10_000], directory),
                "note": "each window is a (tumour, normal) pair of 6,001 bp; on demand stores ~40 bytes of "
                "coordinates per window instead of ~2 × 6 kB of text",
            },
            "catalogues": catalogue_benchmark(memory, fasta, args.catalogue_variants, directory, rng),
            "maf_parse": maf_benchmark(memory, args.maf_lines, directory, rng),
        }
    write_report(report, RESULTS / f"variants_speed-cpu-{os.cpu_count()}cores.json")


if __name__ == "__main__":
    main()
