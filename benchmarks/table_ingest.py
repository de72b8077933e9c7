"""Reading wide text tables into matrices: a real SigProfiler cohort and a generated 20,000 × 10,000 table.

(a) The TCGA WES mutational catalogues in ../shared/data/tcga-wes-catalogues (sbs96, dbs78, id83: features
× samples, 9,493 sample columns each, first column MutationType), each through
``read_matrix(path, "features_by_samples")``, then the whole ``tables`` cohort build (``tables_cohort``,
labels.tsv included). Side by side, in the same run: the old per-column path (a copy of the string-to-number
conversion that ``to_numeric`` did column by column, kept here for this comparison only) and the careful
path as it is now (what a file the fast path refuses goes through). Skipped, with a note, where that
directory is absent. (b) A generated genes × samples float table (default 20,000 × 10,000, values with
three decimals) written as TSV in a temp dir by Arrow's CSV writer, then read by ``read_matrix``; write and
read times and the file size are reported separately.

Each measurement runs in its own subprocess so that its peak RSS is its own. Writes JSON to
benchmarks/results/table_ingest-cpu-<n>cores.json.

    python benchmarks/table_ingest.py [--genes 20000] [--samples 10000] [--catalogues DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from oncofusion.data.ids import normalise_ids
from oncofusion.data.tables import files as table_files
from oncofusion.data.tables.files import read_matrix, read_raw
from oncofusion.data.tables.values import EXAMPLES, MISSING_TEXT
from oncofusion.errors import CohortError
from results_io import RESULTS, cpu_name, write_report

CATALOGUES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tcga-wes-catalogues"
TABLES = ("sbs96", "dbs78", "id83")


def old_to_numeric(values: pd.DataFrame, path: Path, row_ids: list[str], row_word: str) -> np.ndarray:
    """``to_numeric`` before the fast path: every column converted on its own."""
    result = np.empty(values.shape, dtype=np.float32)
    problems: list[str] = []
    n_bad = 0
    for j, column in enumerate(values.columns):
        series = values.iloc[:, j]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            result[:, j] = series.to_numpy(dtype=np.float32, na_value=np.nan)
            continue
        text = series.astype("string").str.strip()
        missing = text.isna() | text.isin(MISSING_TEXT)
        parsed = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = parsed.isna() & ~missing
        if bad.any():
            n_bad += int(bad.sum())
            for i in np.flatnonzero(bad.to_numpy())[: EXAMPLES - len(problems)]:
                problems.append(f"{row_word} {row_ids[i]!r}, column {column!r}: {series.iloc[i]!r}")
        result[:, j] = parsed.to_numpy(dtype=np.float32, na_value=np.nan)
    if n_bad:
        raise CohortError(f"{path}: {n_bad} non-numeric cell(s), e.g. " + "; ".join(problems))
    if np.isinf(result).any():
        raise CohortError(f"{path}: infinite value(s)")
    return result


def old_read_matrix(path: Path) -> pd.DataFrame:
    """``read_matrix(path, "features_by_samples")`` before the fast path: strings, then old_to_numeric."""
    raw = read_raw(path)
    features = normalise_ids(raw.iloc[:, 0], f"{path} (first column)", "feature name", fold_case=False)
    sample_ids = normalise_ids([str(c) for c in raw.columns][1:], f"{path} (header)")
    matrix = old_to_numeric(raw.iloc[:, 1:], path, features, "feature").T
    frame = pd.DataFrame(np.ascontiguousarray(matrix), columns=features)
    frame.index = pd.Index(sample_ids, name="sample_id")
    return frame


def careful_read_matrix(path: Path) -> pd.DataFrame:
    """``read_matrix`` with the fast path turned off: read_raw and the batched to_numeric of today."""
    fast = table_files._read_text_matrix
    table_files._read_text_matrix = lambda *_: None
    try:
        return read_matrix(path, "features_by_samples")
    finally:
        table_files._read_text_matrix = fast


def tables_cohort_seconds(directory: Path) -> float:
    from oncofusion.config import CohortParams
    from oncofusion.data.decisions import Decisions
    from oncofusion.data.tables.build import tables_cohort

    params = CohortParams.model_validate(
        {
            "source": "tables",
            "name": "tcga-wes-catalogues",
            "path": directory.name,
            "tables": {
                "labels": "labels.tsv",
                "modalities": {
                    name: {"file": f"{name}.tsv", "orientation": "features_by_samples"} for name in TABLES
                },
            },
        }
    )
    started = time.perf_counter()
    tables_cohort(params, directory.parent, Decisions())
    return time.perf_counter() - started


def peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)


def fingerprint(values: np.ndarray, index: list[str], columns: list[str]) -> str:
    """SHA-1 of the float32 samples × features values and the labels: equal means the same matrix."""
    digest = hashlib.sha1(np.ascontiguousarray(values, dtype=np.float32).data)
    digest.update("\0".join(index).encode() + b"\1" + "\0".join(columns).encode())
    return digest.hexdigest()


def child(mode: str, target: Path) -> dict[str, Any]:
    """One measurement, in this process; main runs each in its own subprocess."""
    if mode == "cohort":
        seconds = tables_cohort_seconds(target)
        return {"seconds": round(seconds, 3), "peak_rss_gb": peak_rss_gb()}
    if mode == "write":
        genes, samples = (int(n) for n in os.environ["TABLE_INGEST_SHAPE"].split("x"))
        return write_table(target, genes, samples)
    reader = {
        "new": lambda p: read_matrix(p, "features_by_samples"),
        "old": old_read_matrix,
        "careful": careful_read_matrix,
    }
    paths = [target] if target.is_file() else [target / f"{name}.tsv" for name in TABLES]
    seconds, shapes, sums = {}, {}, {}
    for path in paths:
        started = time.perf_counter()
        frame = reader[mode](path)
        seconds[path.stem] = round(time.perf_counter() - started, 3)
        shapes[path.stem] = list(frame.shape)
        sums[path.stem] = fingerprint(frame.to_numpy(), frame.index.tolist(), frame.columns.tolist())
        del frame
    return {
        "seconds": seconds,
        "total_seconds": round(sum(seconds.values()), 3),
        "shapes": shapes,
        "fingerprints": sums,
        "peak_rss_gb": peak_rss_gb(),
    }


def write_table(path: Path, genes: int, samples: int) -> dict[str, Any]:
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    values = np.round(rng.lognormal(1.0, 1.5, size=(genes, samples)), 3).astype(np.float32)
    gene_names = [f"GENE{i:05d}" for i in range(genes)]
    sample_names = [f"S{j:05d}" for j in range(samples)]
    columns = {"gene": pa.array(gene_names)}
    columns.update({name: pa.array(values[:, j]) for j, name in enumerate(sample_names)})
    table = pa.table(columns)
    expected = fingerprint(values.T, sample_names, gene_names)  # samples × genes, as read_matrix gives
    del values
    generate = time.perf_counter() - started
    started = time.perf_counter()
    options = pa_csv.WriteOptions(delimiter="\t", quoting_style="none", quoting_header="none")
    pa_csv.write_csv(table, path, options)
    return {
        "generate_seconds": round(generate, 2),
        "write_seconds": round(time.perf_counter() - started, 2),
        "file_gb": round(path.stat().st_size / 1024**3, 3),
        "fingerprint": expected,
        "peak_rss_gb": peak_rss_gb(),
    }


def measure(mode: str, target: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(target)],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timing(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in ("seconds", "total_seconds", "peak_rss_gb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--catalogues", type=Path, default=CATALOGUES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return

    report: dict[str, Any] = {
        "benchmark": "table_ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": f"cpu ({cpu_name()}, {os.cpu_count()} cores)",
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }
    catalogues = args.catalogues.resolve()
    if all((catalogues / f"{name}.tsv").is_file() for name in TABLES):
        new, old, careful = (measure(mode, catalogues) for mode in ("new", "old", "careful"))
        cohort = measure("cohort", catalogues)
        report["tcga_wes_catalogues"] = {
            "file_mib": {
                name: round((catalogues / f"{name}.tsv").stat().st_size / 2**20, 2) for name in TABLES
            },
            "shapes_samples_x_features": new["shapes"],
            "read_matrix": _timing(new),
            "old_per_column": _timing(old),
            "careful_path_now": _timing(careful),
            "speedup_vs_old": round(old["total_seconds"] / new["total_seconds"], 1),
            "same_matrices_as_old": new["fingerprints"] == old["fingerprints"] == careful["fingerprints"],
            "tables_cohort_seconds": cohort["seconds"],
            "tables_cohort_peak_rss_gb": cohort["peak_rss_gb"],
        }
    else:
        report["tcga_wes_catalogues"] = f"skipped: {catalogues} is absent"
        print(f"note: {catalogues} is absent; skipping the TCGA catalogues", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="oncofusion-table-ingest-") as work:
        path = Path(work) / "rna.tsv"
        written = measure("write", path, TABLE_INGEST_SHAPE=f"{args.genes}x{args.samples}")
        read = measure("new", path)
    report["generated"] = {
        "genes": args.genes,
        "samples": args.samples,
        "orientation": "features_by_samples",
        "writer": "pyarrow.csv.write_csv, TSV, unquoted",
        "generate_seconds": written["generate_seconds"],
        "write_seconds": written["write_seconds"],
        "write_peak_rss_gb": written["peak_rss_gb"],
        "file_gb": written["file_gb"],
        "read_seconds": read["total_seconds"],
        "read_shape": read["shapes"]["rna"],
        "read_peak_rss_gb": read["peak_rss_gb"],
        "same_matrix_as_written": read["fingerprints"]["rna"] == written["fingerprint"],
    }
    write_report(report, args.out or RESULTS / f"table_ingest-cpu-{os.cpu_count()}cores.json")


if __name__ == "__main__":
    main()
