"""The variant bento under load: `POST /classify_variants` latency, throughput and where a request's
time goes; `oncofusion predict` wall time and peak memory; real TCGA MAFs served and predicted alike.

One command sets up its own temporary project as tests/serving/variants/conftest.py does (a simulated
cohort: 200 donors, 48 Mb over 22 contigs, the default 5-member ensemble; trained, registered as
`oncofusion-variants@champion`, imported into a private BentoML store) and starts
`bentoml serve serving.variants_service:OncofusionVariants` on loopback. Then:

1. a 5,000-variant VCF of one tumour (SNVs and indels drawn from the simulated genome, REF from the
   FASTA, ##contig lines): latency p50/p99 and throughput at concurrency 1 and 8, and the server-side
   split (parse, gate, catalogues, signatures, model), measured in-process on the same bytes;
2. a 100,000-variant VCF: end-to-end latency against the target "under 2 s on 2 cores", with the same
   split and a cProfile of one in-process call;
3. `oncofusion predict` wall time and peak RSS on 1,000 multi-omics samples (bring-your-own tables)
   and on a directory of 100 VCFs (with --reference);
4. when ../shared/data/variants holds them, the real TCGA LAML and BRCA MAFs: a FASTA made to match
   them (GRCh37 contig lengths, N except around each variant), a LAML/BRCA model trained on them,
   served, and every served answer compared with `oncofusion predict` on the same files.

    python benchmarks/variants_serving.py [--quick] [--model-dir DIR --reference FASTA]
        [--omics-model /tmp/fresh/models/model.pt] [--keep]

Every serving measurement runs twice, the service as it is and with OMP_NUM_THREADS=1 (one torch
thread), and so does predict on the VCFs. Client, server and predict share the machine's cores: read
the ratios and the phase shares, not the absolute times, as the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import json
import os
import platform
import pstats
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from results_io import RESULTS, cpu_name, write_report

ROOT = Path(__file__).resolve().parents[1]
SHARED_VARIANTS = ROOT.parent / "shared" / "data" / "variants"
MODEL_NAME = "oncofusion-variants"
SERVICE = "serving.variants_service:OncofusionVariants"
TARGET_100K_S = 2.0
PHASES = ("parse", "gate", "catalogues", "signatures", "model")
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
VENV_BIN = Path(sys.executable).parent


# --------------------------------------------------------------------------------------------------
# Settings


def settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "mode": "quick",
            "n_donors": 60,
            "genome_mb": 12.0,
            "n_contigs": 22,
            "n_types": 4,
            "folds": 2,
            "max_epochs": 6,
            "requests_c1": 40,
            "requests_c8": 80,
            "warmup": 3,
            "repeats_5k": 5,
            "repeats_100k": 3,
            "omics_samples": 1000,
            "predict_vcfs": 20,
        }
    return {
        "mode": "full",
        "n_donors": 200,
        "genome_mb": 48.0,
        "n_contigs": 22,
        "n_types": 11,
        "folds": 5,
        "max_epochs": 15,
        "requests_c1": 200,
        "requests_c8": 400,
        "warmup": 5,
        "repeats_5k": 15,
        "repeats_100k": 5,
        "omics_samples": 1000,
        "predict_vcfs": 100,
    }


def simulated_params(cfg: dict[str, Any]) -> dict[str, Any]:
    """params-variants.yaml with a smaller cohort and shorter training (model and catalogues as given)."""
    raw = yaml.safe_load((ROOT / "params-variants.yaml").read_text())
    raw.pop("dna", None)
    raw["simulate"].update(
        {"n_donors": cfg["n_donors"], "genome_mb": cfg["genome_mb"], "n_contigs": cfg["n_contigs"]}
    )
    # Even class weights: the default imbalance leaves a small cohort's rarest classes too few
    # training samples for 5 folds. Quick mode keeps four types.
    types = raw["simulate"]["types"][: cfg["n_types"]]
    raw["simulate"]["types"] = types
    raw["simulate"]["type_weights"] = [1.0] * len(types)
    raw["cohort"]["path"] = "raw"
    # A class drawn too small for the folds is dropped (logged in cohort.json) rather than failing.
    raw["cohort"]["min_class_size"] = 10
    raw["cohort"]["name"] = "variants-serving-bench"
    raw["cohort"]["variants"]["germline"] = None  # germline only feeds the DNA windows
    raw["cohort"]["variants"]["window"] = {"flank": 50, "max_per_sample": 10}
    raw["train"].update({"max_epochs": cfg["max_epochs"], "ensemble": {"folds": cfg["folds"], "workers": 0}})
    raw["tune"]["n_trials"] = 0
    return raw


def real_params(cfg: dict[str, Any]) -> dict[str, Any]:
    """A LAML/BRCA cohort from the two TCGA MAFs: SBS96, DBS78, ID83 only (no density: see the report)."""
    raw = simulated_params(cfg)
    raw.pop("simulate")
    raw["cohort"] = {
        "source": "variants",
        "name": "tcga-laml-brca-bench",
        "path": "raw",
        "unknown_samples": "error",
        "empty_samples": "drop",
        "variants": {
            "variants": "somatic.maf.gz",
            "reference": "reference.fa",
            "sheet": "samples.tsv",
            "label_column": "histology_abbreviation",
            "germline": None,
            "catalogues": ["sbs96", "dbs78", "id83"],
            "window": {"flank": 50, "max_per_sample": 10},
        },
    }
    raw["model"] = {
        "d_model": 32,
        "n_heads": 4,
        "n_layers": 1,
        "dropout": 0.2,
        "fusion": "attention",
        "hidden": 64,
    }
    raw["train"].update(
        {"max_epochs": 20, "ensemble": {"folds": 2 if cfg["mode"] == "quick" else 5, "workers": 0}}
    )
    return raw


# --------------------------------------------------------------------------------------------------
# The project (a child process trains, registers and imports, as the serving tests do)


def store_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def child_build(spec_file: Path) -> None:
    """(In the child) simulate when asked, build, validate, split, train, register @champion, import."""
    import mlflow
    from mlflow.tracking import MlflowClient

    import oncofusion.stages.cohort
    import oncofusion.stages.split
    import oncofusion.stages.validate
    import oncofusion.stages.variants_simulate  # noqa: F401
    from oncofusion import stages, tracking
    from oncofusion.config import parse_params
    from oncofusion.serving.store import import_champion
    from oncofusion.stages.inputs import split_cohort
    from oncofusion.stages.train import train_and_log

    spec = json.loads(spec_file.read_text())
    root = Path(spec["root"])
    params = parse_params(spec["params"])
    seconds: dict[str, float] = {}

    def lap(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 2)

    if spec["simulate"]:
        t = time.perf_counter()
        stages.variants_simulate.simulate_variants(params, root / "raw")
        lap("simulate", t)
    t = time.perf_counter()
    stages.cohort.build_cohort(params, root / "cohort", root)
    lap("cohort", t)
    t = time.perf_counter()
    stages.validate.validate(params, root / "cohort", root / "validation")
    stages.split.split(params, root / "cohort", root / "validation", root / "splits", root / "split.json")
    lap("validate_split", t)
    tracking.use_tracking()
    t = time.perf_counter()
    info = train_and_log(split_cohort(root / "splits")[0], params, root / "model", root / "work")
    lap("train", t)
    t = time.perf_counter()
    registered = mlflow.register_model(info["model_uri"], MODEL_NAME)
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", registered.version)
    tag = str(import_champion(MODEL_NAME, "champion").tag)
    lap("register_import", t)
    result = {"bento_model": tag, "seconds": seconds, "best_val_f1_macro": info.get("best_val_f1_macro")}
    (root / "built.json").write_text(json.dumps(result, indent=2))


def child_import(spec_file: Path) -> None:
    """(In the child) an existing model.pt → logged, registered @champion and imported."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from oncofusion import registry, tracking
    from oncofusion.models.bundle import load_bundle
    from oncofusion.serving.store import import_champion

    spec = json.loads(spec_file.read_text())
    bundle = Path(spec["bundle"])
    model = load_bundle(bundle)
    example = pd.DataFrame({f"{m}/{f}": np.zeros(2) for m, s in model.schema.items() for f in s["features"]})
    tracking.use_tracking()
    mlflow.set_experiment("variants-serving-bench")
    with mlflow.start_run():
        logged = registry.log_model(model, bundle, example)
    registered = mlflow.register_model(logged.model_uri, MODEL_NAME)
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", registered.version)
    tag = str(import_champion(MODEL_NAME, "champion").tag)
    Path(spec["root"], "built.json").write_text(json.dumps({"bento_model": tag, "seconds": {}}))


def run_child(mode: str, spec: dict[str, Any], root: Path) -> dict[str, Any]:
    spec_file = root / f"{mode}-spec.json"
    spec_file.write_text(json.dumps(spec))
    log = root / f"{mode}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), f"--child-{mode}", str(spec_file)],
            cwd=root,
            env=store_env(root),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{log.read_text()[-4000:]}")
    built = json.loads((root / "built.json").read_text())
    built["wall_s"] = round(time.perf_counter() - started, 1)
    return built


# --------------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        parent = psutil.Process(pid)
        return round(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 2**20, 1)
    except psutil.Error:
        return float("nan")


class Server:
    def __init__(
        self, root: Path, reference: Path, tag: str, log: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {
            **store_env(root),
            "ONCOFUSION_REFERENCE": str(reference),
            "ONCOFUSION_VARIANTS_MODEL": tag,
            **(extra_env or {}),
        }
        env.pop("ONCOFUSION_API_TOKEN", None)  # loopback: no token (every request would carry it)
        started = time.perf_counter()
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bentoml",
                    "serve",
                    SERVICE,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bentoml serve exited:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            self.stop()
            raise RuntimeError(f"bentoml serve not ready in 900 s:\n{log.read_text()[-4000:]}")
        self.startup_s = round(time.perf_counter() - started, 1)
        self.processes = 1 + len(self._children())

    def _children(self) -> list[Any]:
        import psutil

        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def rss_mb(self) -> float:
        return tree_rss_mb(self.process.pid)

    def rss_by_process(self) -> list[dict[str, Any]]:
        """Each server process's RSS: `bentoml serve` imports the service module in the parent too."""
        import psutil

        rows = []
        for process in [psutil.Process(self.process.pid), *self._children()]:
            try:
                command = " ".join(process.cmdline())
                rows.append(
                    {
                        "pid": process.pid,
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                        "command": command[-160:],
                    }
                )
            except psutil.Error:
                pass
        return rows

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body of `file` parts, built once (the client then only sends bytes)."""
    import httpx

    request = httpx.Request(
        "POST",
        "http://x/",
        files=[("file", (name, data, "application/octet-stream")) for name, data in files],
    )
    return request.read(), request.headers["content-type"]


async def _load(url: str, body: bytes, content_type: str, requests: int, concurrency: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=300) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers={"content-type": content_type})
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": requests,
        "concurrency": concurrency,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "mean_ms": round(float(ms.mean()), 1),
        "throughput_rps": round(requests / wall, 2),
        "variants_per_s": None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def load(url: str, body: bytes, content_type: str, requests: int, concurrency: int) -> dict[str, Any]:
    return asyncio.run(_load(url, body, content_type, requests, concurrency))


def post(url: str, files: list[tuple[str, bytes]]) -> tuple[float, Any]:
    import httpx

    body, content_type = multipart(files)
    started = time.perf_counter()
    response = httpx.post(url, content=body, headers={"content-type": content_type}, timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:1000]}")
    return seconds, response.json()


# --------------------------------------------------------------------------------------------------
# Uploads made from the simulated genome


def synthetic_vcf(
    reference_path: Path, n: int, seed: int, sample: str = "BENCH-T"
) -> tuple[bytes, dict[str, Any]]:
    """One tumour's bgzipped VCF of ``n`` non-overlapping SNVs (90%), deletions and insertions (5% each,
    1-3 bp) at random places of the FASTA, REF (and the padding base) read from it."""
    import pysam

    fasta = pysam.FastaFile(str(reference_path))
    names, lengths = list(fasta.references), list(fasta.lengths)
    seqs = {name: np.frombuffer(fasta.fetch(name).upper().encode(), dtype=np.uint8) for name in names}
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    rng = np.random.default_rng(seed)
    draw = np.unique(rng.integers(8, offsets[-1] - 8, size=int(n * 1.3)))
    contig = np.searchsorted(offsets, draw, side="right") - 1
    pos0 = draw - offsets[contig]
    keep = np.ones(len(draw), dtype=bool)
    keep[1:] = np.diff(draw) > 6  # no two records within 6 bp (none overlap, none merge into a DBS)
    rows = []
    kinds = rng.choice(3, size=len(draw), p=[0.9, 0.05, 0.05])
    sizes = rng.integers(1, 4, size=len(draw))
    for c, p, kind, k, ok in zip(contig, pos0, kinds, sizes, keep, strict=True):
        if not ok:
            continue
        seq = seqs[names[c]]
        if p - 1 < 0 or p + k >= len(seq) or (seq[p - 1 : p + k + 1] == ord("N")).any():
            continue
        base = chr(seq[p])
        if kind == 0:
            alt = chr(BASES[(np.flatnonzero(seq[p] == BASES)[0] + rng.integers(1, 4)) % 4])
            rows.append((c, p + 1, base, alt))
        elif kind == 1:  # deletion of k bases after the padding base
            ref = seq[p - 1 : p + k].tobytes().decode()
            rows.append((c, p, ref, ref[0]))
        else:  # insertion of k bases after the padding base
            pad = chr(seq[p - 1])
            rows.append((c, p, pad, pad + rng.choice(list("ACGT"), size=k).astype(object).sum()))
    if len(rows) < n:
        raise RuntimeError(f"only {len(rows)} usable positions for {n} variants")
    pick = np.sort(rng.choice(len(rows), size=n, replace=False))
    rows = [rows[i] for i in pick]
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        *(f"##contig=<ID={name},length={length}>" for name, length in zip(names, lengths, strict=True)),
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample]),
    ]
    lines += [f"{names[c]}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t0/1" for c, p, r, a in rows]
    text = ("\n".join(lines) + "\n").encode()
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "x.vcf"
        plain.write_bytes(text)
        pysam.tabix_compress(str(plain), str(plain) + ".gz", force=True)
        data = (Path(tmp) / "x.vcf.gz").read_bytes()
    types = {"SNV": sum(len(r) == len(a) == 1 for _, _, r, a in rows)}
    types["DEL"] = sum(len(r) > len(a) for _, _, r, a in rows)
    types["INS"] = sum(len(r) < len(a) for _, _, r, a in rows)
    return data, {"variants": n, "types": types, "bytes_plain": len(text), "bytes_bgzip": len(data)}


# --------------------------------------------------------------------------------------------------
# In-process split of one request's server-side work


def open_classifier(model_file: Path, reference: Path) -> Any:
    from oncofusion.models.bundle import load_bundle
    from oncofusion.prediction.variants import VariantClassifier

    return VariantClassifier.open(load_bundle(model_file), reference, str(model_file))


def read_upload(data: bytes, name: str) -> Any:
    try:
        from oncofusion.prediction.uploads import read_upload as read
    except ImportError:  # before the featurisation moved to oncofusion.prediction
        from oncofusion.data.variants.uploads import read_upload as read
    return read(data, name)


def one_call(classifier: Any, data: bytes, name: str) -> dict[str, float]:
    started = time.perf_counter()
    upload = read_upload(data, name)
    parsed = time.perf_counter()
    timings: dict[str, float] = {"parse": parsed - started}
    classifier.classify(upload, timings=timings)
    timings["total"] = time.perf_counter() - started
    timings["other"] = timings["total"] - sum(timings.get(p, 0.0) for p in PHASES)
    return timings


def phase_split(classifier: Any, data: bytes, name: str, repeats: int) -> dict[str, Any]:
    one_call(classifier, data, name)  # warm (signature tables, first torch call)
    runs = [one_call(classifier, data, name) for _ in range(repeats)]
    keys = [*PHASES, "other", "total"]
    median = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}
    return {
        "repeats": repeats,
        "median_ms": {k: round(v * 1000, 2) for k, v in median.items()},
        "share_of_total": {k: round(median[k] / median["total"], 3) for k in [*PHASES, "other"]},
    }


def profile_call(classifier: Any, data: bytes, name: str, top: int = 20) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    one_call(classifier, data, name)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        short = file.split("site-packages/")[-1].split("/src/")[-1]
        rows.append(
            {
                "function": f"{short}:{line}({func})",
                "calls": calls,
                "tottime_s": round(tottime, 4),
                "cumtime_s": round(cumtime, 4),
            }
        )
    return {
        "total_s": round(stats.total_tt, 3),  # type: ignore[attr-defined]
        "by_cumulative": sorted(rows, key=lambda r: -r["cumtime_s"])[:top],
        "by_own_time": sorted(rows, key=lambda r: -r["tottime_s"])[:top],
    }


# --------------------------------------------------------------------------------------------------
# `oncofusion predict`


def measure_command(command: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Wall time and peak RSS of a command: GNU time's maximum resident set size when present, else
    getrusage of the children (the largest child so far: run the big one last or alone)."""
    gnu_time = Path("/usr/bin/time")
    wrapped = [str(gnu_time), "-v", *command] if gnu_time.exists() else command
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(wrapped, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    wall = time.perf_counter() - started
    text = log.read_text()
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{text[-3000:]}")
    if gnu_time.exists():
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))  # type: ignore[union-attr]
        how = "/usr/bin/time -v"
    else:
        kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        how = "getrusage(RUSAGE_CHILDREN)"
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(kb / 1024, 1), "peak_rss_from": how}


def predict_command(
    model: Path | str, input_path: Path, out: Path, reference: Path | None = None
) -> list[str]:
    command = [
        str(VENV_BIN / "oncofusion"),
        "predict",
        "--model",
        str(model),
        "--input",
        str(input_path),
        "--out",
        str(out),
    ]
    return [*command, "--reference", str(reference)] if reference else command


def omics_model(args: argparse.Namespace, work: Path) -> tuple[Path, dict[str, Any], str]:
    """A multi-omics model and the synthesize params its features come from (given, or trained small)."""
    if args.omics_model:
        params_file = args.omics_params or next(
            p
            for p in (
                Path(args.omics_model).resolve().parent.parent / "params.yaml",
                ROOT / "params.yaml",
            )
            if p.is_file()
        )
        raw = yaml.safe_load(Path(params_file).read_text())
        return Path(args.omics_model), raw, f"given: {args.omics_model} (features from {params_file})"
    root = work / "omics"
    root.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"] = {**raw.get("train", {}), "max_epochs": 4, "pretrain_epochs": 1, "ensemble": {"folds": 1}}
    raw["tune"] = {**raw.get("tune", {}), "n_trials": 0}
    script = f"""
import json
from pathlib import Path
from oncofusion import tracking
from oncofusion.config import parse_params
from oncofusion.data.split import stratified_split
from oncofusion.data.synthetic.omics.cohort import generate_cohort
from oncofusion.stages.train import train_and_log
root = Path({str(root)!r})
params = parse_params(json.loads({json.dumps(json.dumps(raw))}))
cohort = generate_cohort(params.synthesize, seed=params.base.seed, name="omics-bench")
cohort = cohort.with_split(stratified_split(cohort.labels, params.split, seed=0))
tracking.use_tracking()
train_and_log(cohort, params, root / "model", root / "work")
"""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=store_env(root), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"omics training failed:\n{done.stderr[-3000:]}")
    return (
        root / "model" / "model.pt",
        raw,
        f"trained here: params.yaml, 4 epochs, one member ({time.perf_counter() - started:.0f} s)",
    )


def omics_tables(raw: dict[str, Any], n: int, out: Path, model_file: Path) -> dict[str, Any]:
    from oncofusion.config import parse_params
    from oncofusion.data.synthetic.omics.cohort import generate_cohort
    from oncofusion.models.bundle import load_bundle

    params = parse_params(raw)
    synth = params.synthesize.model_copy(update={"n_samples": n})
    cohort = generate_cohort(synth, seed=params.base.seed + 1000, name="omics-predict-bench")
    schema = load_bundle(model_file).schema
    out.mkdir(parents=True, exist_ok=True)
    for modality, spec in schema.items():
        frame = cohort.modalities[modality]
        missing = [f for f in spec["features"] if str(f) not in set(map(str, frame.columns))]
        if missing:
            raise RuntimeError(
                f"generated {modality} lacks the model's features {missing[:5]}: give --omics-params"
            )
        frame.rename_axis("sample_id").to_csv(out / f"{modality}.csv")
    return {"samples": n, "modalities": list(schema), "bytes": sum(p.stat().st_size for p in out.iterdir())}


# --------------------------------------------------------------------------------------------------
# Real TCGA MAFs


def real_maf_tables() -> dict[str, pd.DataFrame]:
    from oncofusion.data.decisions import Decisions
    from oncofusion.data.variants.readers import read_maf

    return {
        name: read_maf(SHARED_VARIANTS / name, Decisions())[0] for name in ("tcga_laml.maf.gz", "brca.maf.gz")
    }


def matching_fasta(
    tables: dict[str, pd.DataFrame], path: Path, seed: int = 0, flank: int = 10
) -> dict[str, Any]:
    """A FASTA the MAFs agree with: contigs 1..22, X, Y (those the MAFs name; "23" is X), each its largest
    position + 10 kb long, N except ±``flank`` bp of seeded random bases around each variant and the REF
    alleles at their places. A REF that disagrees with an earlier variant's at a shared base is counted
    and not placed (the variant will read as a REF mismatch)."""
    import pysam

    rng = np.random.default_rng(seed)
    canon = {"23": "X", "24": "Y"}
    frame = pd.concat([t.assign(file=name) for name, t in tables.items()], ignore_index=True)
    frame["contig"] = frame["chrom"].astype(str).map(lambda c: canon.get(c, c.removeprefix("chr")))
    order = [str(i) for i in range(1, 23)] + ["X", "Y"]
    unknown = sorted(set(frame["contig"]) - set(order))
    if unknown:
        raise RuntimeError(f"contigs outside 1..22, X, Y: {unknown}")
    ends = frame["start"].to_numpy() + np.maximum(frame["ref"].str.len().to_numpy(), 1)
    frame["end"] = ends
    lengths = {
        c: int(frame.loc[frame["contig"] == c, "end"].max()) + 10_000
        for c in order
        if (frame["contig"] == c).any()
    }
    conflicts, placed, conflicting_rows = 0, 0, []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for contig, length in lengths.items():
            seq = np.full(length, ord("N"), dtype=np.uint8)
            rows = frame[frame["contig"] == contig]
            for start, end in zip(rows["start"], rows["end"], strict=True):
                lo, hi = max(start - flank, 0), min(end + flank, length)
                seq[lo:hi] = BASES[rng.integers(0, 4, size=hi - lo)]
            assigned: dict[int, int] = {}
            for index, start, ref in zip(rows.index, rows["start"], rows["ref"], strict=True):
                want = {start + i: ord(b) for i, b in enumerate(ref)}
                if any(assigned.get(p, b) != b for p, b in want.items()):
                    conflicts += 1
                    conflicting_rows.append(int(index))
                    continue
                for p, b in want.items():
                    assigned[p] = b
                    seq[p] = b
                placed += 1
            out.write(f">{contig}\n".encode())
            full = length // 60 * 60
            block = np.empty((full // 60, 61), dtype=np.uint8)
            block[:, :60] = seq[:full].reshape(-1, 60)
            block[:, 60] = ord("\n")
            out.write(block.tobytes())
            if length > full:
                out.write(seq[full:].tobytes() + b"\n")
            del seq, block
    pysam.faidx(str(path))
    # Read it back through the index: every placed REF is where the MAF says.
    fasta = pysam.FastaFile(str(path))
    kept = frame.drop(index=conflicting_rows)
    with_ref = kept[kept["ref"] != ""]
    wrong = sum(
        fasta.fetch(c, int(s), int(s) + len(r)) != r
        for c, s, r in zip(with_ref["contig"], with_ref["start"], with_ref["ref"], strict=True)
    )
    return {
        "contigs": lengths,
        "total_bp": int(sum(lengths.values())),
        "file_bytes": path.stat().st_size,
        "variants": len(frame),
        "ref_placed": placed,
        "ref_conflicts_dropped": conflicts,
        "ref_mismatches_on_read_back": int(wrong),
        "conflicting": frame.loc[conflicting_rows, ["file", "sample_id", "chrom", "start", "ref", "alt"]]
        .astype(str)
        .to_dict(orient="records")[:20],
        "_conflicting_index": conflicting_rows,
        "_frame": frame,
    }


def real_cohort_files(raw_dir: Path, made: dict[str, Any], brca_parts: int, seed: int = 0) -> dict[str, Any]:
    """somatic.maf.gz (the 5 required columns of both MAFs, REF conflicts left out) and samples.tsv.
    brca.maf.gz holds one tumour: for training only, its variants are dealt into ``brca_parts``
    pseudo-tumours so the BRCA class has enough samples to split and cross-validate."""
    frame: pd.DataFrame = made["_frame"].drop(index=made["_conflicting_index"]).copy()
    rng = np.random.default_rng(seed)
    is_brca = frame["file"] == "brca.maf.gz"
    brca_samples = sorted(frame.loc[is_brca, "sample_id"].unique())
    part = rng.integers(0, brca_parts, size=int(is_brca.sum()))
    frame.loc[is_brca, "sample_id"] = [
        f"{s}-part{p:02d}" for s, p in zip(frame.loc[is_brca, "sample_id"], part, strict=True)
    ]
    # Back to MAF conventions: 1-based start, the base before an insertion, '-' for an empty allele.
    start1 = np.where(frame["ref"].str.len() == 0, frame["start"], frame["start"] + 1)
    maf = pd.DataFrame(
        {
            "Tumor_Sample_Barcode": frame["sample_id"],
            "Chromosome": frame["chrom"],
            "Start_Position": start1,
            "Reference_Allele": frame["ref"].replace("", "-"),
            "Tumor_Seq_Allele2": frame["alt"].replace("", "-"),
        }
    )
    with gzip.open(raw_dir / "somatic.maf.gz", "wt") as handle:
        maf.to_csv(handle, sep="\t", index=False)
    sheet = (
        frame[["sample_id", "file"]]
        .drop_duplicates("sample_id")
        .assign(histology_abbreviation=lambda f: np.where(f["file"] == "brca.maf.gz", "BRCA", "LAML"))
        .drop(columns="file")
    )
    sheet.to_csv(raw_dir / "samples.tsv", sep="\t", index=False)
    return {
        "cohort_variants": len(maf),
        "cohort_samples": sheet["histology_abbreviation"].value_counts().to_dict(),
        "brca_tumours_in_file": brca_samples,
        "brca_pseudo_tumours": brca_parts,
    }


def predictions_csv_answers(path: Path, classes: list[str]) -> dict[str, dict[str, Any]]:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"sample_id": str})
    out = {}
    for row in frame.to_dict(orient="records"):
        probabilities = {c: (None if row[f"p_{c}"] == "" else float(row[f"p_{c}"])) for c in classes}
        out[row["sample_id"]] = {
            "predicted": row["predicted"],
            # An empty conformal set is "" with set_size 0; a no-call has no set_size at all.
            "prediction_set": None
            if row["set_size"] == ""
            else sorted(row["prediction_set"].split("|"))
            if row["prediction_set"]
            else [],
            "probabilities": probabilities if row["predicted"] != "no call" else None,
            "variants_used": int(row["variants_used"]),
            "variants_dropped": json.loads(row["variants_dropped"]),
        }
    return out


def compare_answers(
    served: list[dict[str, Any]], predicted: dict[str, dict[str, Any]], classes: list[str]
) -> dict[str, Any]:
    differences = []
    max_gap = 0.0
    seen = set()
    for answer in served:
        sample = answer["sample_id"]
        seen.add(sample)
        other = predicted.get(sample)
        if other is None:
            differences.append({"sample_id": sample, "what": "absent from predict's CSV"})
            continue
        if answer["predicted"] != other["predicted"]:
            differences.append(
                {
                    "sample_id": sample,
                    "what": "call",
                    "served": answer["predicted"],
                    "predict": other["predicted"],
                }
            )
        served_set = sorted(answer["prediction_set"]) if answer.get("prediction_set") is not None else None
        if served_set != other["prediction_set"]:
            differences.append(
                {"sample_id": sample, "what": "set", "served": served_set, "predict": other["prediction_set"]}
            )
        if (answer.get("probabilities") is None) != (other["probabilities"] is None):
            differences.append({"sample_id": sample, "what": "probabilities present"})
        elif answer.get("probabilities") is not None:
            gap = max(abs(answer["probabilities"][c] - other["probabilities"][c]) for c in classes)
            max_gap = max(max_gap, gap)
            if gap > 1e-6:
                differences.append({"sample_id": sample, "what": "probabilities", "max_abs_difference": gap})
        if answer["variants_used"] != other["variants_used"]:
            differences.append(
                {
                    "sample_id": sample,
                    "what": "variants_used",
                    "served": answer["variants_used"],
                    "predict": other["variants_used"],
                }
            )
        if answer["variants_dropped"] != other["variants_dropped"]:
            differences.append(
                {
                    "sample_id": sample,
                    "what": "variants_dropped",
                    "served": answer["variants_dropped"],
                    "predict": other["variants_dropped"],
                }
            )
    extra = sorted(set(predicted) - seen)
    for sample in extra:
        differences.append({"sample_id": sample, "what": "absent from the served answers"})
    return {
        "samples_served": len(served),
        "samples_predicted": len(predicted),
        "all_equal": not differences,
        "differences": len(differences),
        "first_differences": differences[:10],
        "max_abs_probability_difference": max_gap,
    }


def real_mafs(cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    if not SHARED_VARIANTS.is_dir() or not all(
        (SHARED_VARIANTS / f).is_file() for f in ("tcga_laml.maf.gz", "brca.maf.gz")
    ):
        return {"skipped": "skipped: shared data absent"}
    root = work / "real"
    raw_dir = root / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "files": ["tcga_laml.maf.gz", "brca.maf.gz"],
        "assembly": "GRCh37 (as the MAFs say)",
    }
    t = time.perf_counter()
    tables = real_maf_tables()
    made = matching_fasta(tables, raw_dir / "reference.fa")
    result["fasta"] = {k: v for k, v in made.items() if not k.startswith("_")}
    result["fasta"]["seconds"] = round(time.perf_counter() - t, 1)
    result["cohort"] = real_cohort_files(raw_dir, made, brca_parts=64)
    built = run_child("build", {"root": str(root), "params": real_params(cfg), "simulate": False}, root)
    result["setup"] = built
    reference = raw_dir / "reference.fa"
    server = Server(root, reference, built["bento_model"], root / "server.log")
    try:
        result["server"] = {
            "startup_s": server.startup_s,
            "processes": server.processes,
            "rss_mb": server.rss_mb(),
            "rss_by_process": server.rss_by_process(),
        }
        files = [(name, (SHARED_VARIANTS / name).read_bytes()) for name in result["files"]]
        seconds, served = post(f"{server.url}/classify_variants", files)
        result["server"]["request_s"] = round(seconds, 3)
        result["server"]["rss_mb_after"] = server.rss_mb()
    finally:
        server.stop()
    # predict after the server is gone: one 3-Gb reference process at a time beside this one.
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    for name in result["files"]:
        shutil.copy(SHARED_VARIANTS / name, inputs / name)
    out_csv = root / "predict.csv"
    result["predict"] = measure_command(
        predict_command(root / "model", inputs, out_csv, reference), store_env(root), root / "predict.log"
    )
    from oncofusion.models.bundle import load_bundle

    classes = load_bundle(root / "model" / "model.pt").classes
    result["equality"] = compare_answers(served, predictions_csv_answers(out_csv, classes), classes)
    # Accuracy of the served calls (samples all seen in training except the LAML test split: say so).
    splits = (
        pd.read_parquet(root / "splits" / "labels.parquet")
        if (root / "splits" / "labels.parquet").exists()
        else None
    )
    truth = {s: "BRCA" for s in result["cohort"]["brca_tumours_in_file"]}
    laml = tables["tcga_laml.maf.gz"]["sample_id"].unique()
    truth.update({s: "LAML" for s in laml})
    split_of = dict(zip(splits["sample_id"], splits["split"], strict=True)) if splits is not None else {}
    rows = [
        {
            "sample_id": a["sample_id"],
            "truth": truth.get(a["sample_id"]),
            "call": a["predicted"],
            "split": split_of.get(a["sample_id"], "not in cohort"),
        }
        for a in served
    ]
    frame = pd.DataFrame(rows)
    accuracy = {}
    for (label, split), group in frame.groupby(["truth", "split"]):
        accuracy[f"{label}/{split}"] = {
            "n": len(group),
            "correct": int((group["call"] == group["truth"]).sum()),
        }
    result["accuracy"] = {
        "note": "in-sample-ish: LAML train/val samples and the BRCA tumour's variants (as pseudo-tumours) "
        "were in training; only LAML 'test' samples were held out",
        "overall": round(float((frame["call"] == frame["truth"]).mean()), 4),
        "by_truth_and_split": accuracy,
        "calls": frame["call"].value_counts().to_dict(),
        "no_calls": int((frame["call"] == "no call").sum()),
    }
    result["variants"] = {
        "used": int(sum(a["variants_used"] for a in served)),
        "dropped": _sum_dropped(served),
    }
    return result


def _sum_dropped(answers: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for a in answers:
        for k, v in a["variants_dropped"].items():
            total[k] = total.get(k, 0) + int(v)
    return total


# --------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import bentoml
    import torch

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "bentoml": bentoml.__version__,
        "note": "client, server and predict share these cores",
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def tree_state() -> dict[str, Any]:
    """The commit and the files edited beside it (the measured code is the working tree's)."""

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "uncommitted": git("status", "--short").splitlines()}


def simulated_project(args: argparse.Namespace, cfg: dict[str, Any], sim: Path) -> dict[str, Any]:
    if args.model_dir:
        model_file = args.model_dir / "model.pt" if args.model_dir.is_dir() else args.model_dir
        reference = args.reference.resolve()
        if args.reuse and (sim / "built.json").is_file():
            built = {**json.loads((sim / "built.json").read_text()), "wall_s": None, "reused": str(sim)}
        else:
            built = run_child("import", {"root": str(sim), "bundle": str(model_file.resolve())}, sim)
        about = {"model": f"given: {model_file}", "reference": str(reference), **built}
        return {
            "model_file": model_file,
            "reference": reference,
            "vcf_dir": args.vcf_dir,
            "built": built,
            "about": about,
        }
    raw = simulated_params(cfg)
    if args.reuse and (sim / "built.json").is_file():
        built = {**json.loads((sim / "built.json").read_text()), "wall_s": None, "reused": str(sim)}
    else:
        built = run_child("build", {"root": str(sim), "params": raw, "simulate": True}, sim)
    about = {
        "model": "trained here (params-variants.yaml, smaller cohort, shorter training)",
        "params": {k: raw[k] for k in ("simulate", "cohort", "model", "train")},
        **built,
    }
    return {
        "model_file": sim / "model" / "model.pt",
        "reference": sim / "raw" / "reference.fa.gz",
        "vcf_dir": args.vcf_dir or sim / "raw" / "somatic_vcf",
        "built": built,
        "about": about,
    }


def serve_pass(
    cfg: dict[str, Any],
    project: dict[str, Any],
    sim: Path,
    uploads: dict[str, bytes],
    name: str,
    extra_env: dict[str, str],
) -> dict[str, Any]:
    """One `bentoml serve`: the 5k VCF at c=1 and c=8, then the 100k VCF one request at a time."""
    vcf_5k, vcf_100k = uploads["5k"], uploads["100k"]
    server = Server(
        sim, project["reference"], project["built"]["bento_model"], sim / f"server-{name}.log", extra_env
    )
    url = f"{server.url}/classify_variants"
    try:
        out: dict[str, Any] = {
            "env": extra_env,
            "startup_s": server.startup_s,
            "processes": server.processes,
            "rss_mb_idle": server.rss_mb(),
            "rss_by_process": server.rss_by_process(),
        }
        body, content_type = multipart([("tumour.vcf.gz", vcf_5k)])
        _, check = post(url, [("tumour.vcf.gz", vcf_5k)])
        out["answer_5k"] = {k: check[0][k] for k in ("predicted", "variants_used", "variants_dropped")}
        load(url, body, content_type, cfg["warmup"], 1)
        levels = []
        for requests, concurrency in ((cfg["requests_c1"], 1), (cfg["requests_c8"], 8)):
            before = load_average()
            level = load(url, body, content_type, requests, concurrency)
            level["variants_per_s"] = round(level["throughput_rps"] * 5_000)
            level["load_average_before"], level["load_average_after"] = before, load_average()
            levels.append(level)
            print(f"[{name}] 5k VCF c={concurrency}: {level}", flush=True)
        out["levels_5k"] = levels
        out["throughput_ratio_c8_over_c1"] = round(
            levels[1]["throughput_rps"] / levels[0]["throughput_rps"], 2
        )
        out["p50_ratio_c8_over_c1"] = round(levels[1]["p50_ms"] / levels[0]["p50_ms"], 2)
        out["rss_mb_after_5k"] = server.rss_mb()
        post(url, [("tumour.vcf.gz", vcf_100k)])  # warm
        out["load_average_before_100k"] = load_average()
        http_100k = [post(url, [("tumour.vcf.gz", vcf_100k)])[0] for _ in range(cfg["repeats_100k"])]
        out["http_100k_s"] = [round(t, 3) for t in http_100k]
        out["http_100k_median_s"] = round(statistics.median(http_100k), 3)
        out["rss_mb_after_100k"] = server.rss_mb()
        print(f"[{name}] 100k VCF over HTTP: {out['http_100k_s']}", flush=True)
        return out
    finally:
        server.stop()


def served_uploads(cfg: dict[str, Any], project: dict[str, Any], sim: Path, report: dict[str, Any]) -> None:
    import gc

    import torch

    reference, model_file = project["reference"], project["model_file"]
    vcf_5k, about_5k = synthetic_vcf(reference, 5_000, seed=1)
    vcf_100k, about_100k = synthetic_vcf(reference, 100_000, seed=2)
    uploads = {"5k": vcf_5k, "100k": vcf_100k}
    # The service as it is (torch's default: a thread per core), then the same with one torch thread
    # (OMP_NUM_THREADS=1): on 2 shared cores the model's small forward passes can wait on a busy core.
    default = serve_pass(cfg, project, sim, uploads, "default", {})
    one = serve_pass(cfg, project, sim, uploads, "one_torch_thread", {"OMP_NUM_THREADS": "1"})
    report["server"] = {k: default[k] for k in default if k.startswith(("startup", "processes", "rss"))}
    report["server_one_torch_thread"] = {k: one[k] for k in one if k.startswith(("startup", "rss", "env"))}
    report["upload_5k"] = {
        "vcf": about_5k,
        "answer": default["answer_5k"],
        "levels": default["levels_5k"],
        "throughput_ratio_c8_over_c1": default["throughput_ratio_c8_over_c1"],
        "p50_ratio_c8_over_c1": default["p50_ratio_c8_over_c1"],
        "one_torch_thread": {
            "levels": one["levels_5k"],
            "throughput_ratio_c8_over_c1": one["throughput_ratio_c8_over_c1"],
            "throughput_ratio_over_default": [
                round(o["throughput_rps"] / d["throughput_rps"], 2)
                for o, d in zip(one["levels_5k"], default["levels_5k"], strict=True)
            ],
            "same_answer": one["answer_5k"] == default["answer_5k"],
        },
    }

    classifier = open_classifier(model_file, reference)
    threads = torch.get_num_threads()

    def both(data: bytes, repeats: int) -> tuple[dict[str, Any], dict[str, Any]]:
        torch.set_num_threads(threads)
        split = phase_split(classifier, data, "tumour.vcf.gz", repeats)
        torch.set_num_threads(1)
        single = phase_split(classifier, data, "tumour.vcf.gz", repeats)
        torch.set_num_threads(threads)
        return split, single

    split_5k, single_5k = both(vcf_5k, cfg["repeats_5k"])
    report["upload_5k"]["in_process"] = {"torch_threads": threads, **split_5k}
    report["upload_5k"]["in_process_one_torch_thread"] = single_5k
    split_100k, single_100k = both(vcf_100k, cfg["repeats_100k"])
    # Python's cyclic GC walks every long-lived object (torch, pandas, the model) each time the parser's
    # 100,000 row tuples trigger a full collection; gc.freeze() moves what exists now out of its sight.
    torch.set_num_threads(1)
    gc.freeze()
    frozen_100k = phase_split(classifier, vcf_100k, "tumour.vcf.gz", cfg["repeats_100k"])
    gc.unfreeze()
    torch.set_num_threads(threads)
    median_http = default["http_100k_median_s"]
    report["upload_100k"] = {
        "vcf": about_100k,
        "http_s": default["http_100k_s"],
        "http_median_s": median_http,
        "target_s": TARGET_100K_S,
        "meets_target": median_http < TARGET_100K_S,
        "load_average_before_http": default["load_average_before_100k"],
        "one_torch_thread_http_s": one["http_100k_s"],
        "one_torch_thread_http_median_s": one["http_100k_median_s"],
        "in_process": {"torch_threads": threads, **split_100k},
        "in_process_one_torch_thread": single_100k,
        "in_process_one_torch_thread_gc_frozen": frozen_100k,
        "http_minus_in_process_ms": round(median_http * 1000 - split_100k["median_ms"]["total"], 1),
    }
    # The CPU work itself: one torch thread, so the profile shows no wait on a busy core.
    torch.set_num_threads(1)
    report["upload_100k"]["profile_one_torch_thread"] = profile_call(classifier, vcf_100k, "tumour.vcf.gz")
    torch.set_num_threads(threads)
    print(f"100k VCF: {median_http:.2f} s over HTTP; in-process {split_100k['median_ms']}", flush=True)


def predict_runs(
    args: argparse.Namespace, cfg: dict[str, Any], project: dict[str, Any], sim: Path, work: Path
) -> dict[str, Any]:
    """`oncofusion predict`: 100 VCFs, one VCF (the fixed cost), 1,000 multi-omics samples."""
    reference, model_file, vcf_dir = project["reference"], project["model_file"], project["vcf_dir"]
    predict: dict[str, Any] = {}
    if vcf_dir is not None:
        chosen = sorted(p for p in Path(vcf_dir).iterdir() if p.name.endswith((".vcf", ".vcf.gz")))
        chosen = chosen[: cfg["predict_vcfs"]]
        inputs = work / "predict-vcfs"
        inputs.mkdir(exist_ok=True)
        for p in chosen:
            shutil.copy(p, inputs / p.name)
        records = 0
        for p in chosen:
            with gzip.open(p, "rt") if p.name.endswith(".gz") else p.open() as handle:
                records += sum(1 for line in handle if not line.startswith("#"))
        predict["vcfs"] = {
            "files": len(chosen),
            "records": records,
            "load_average_before": load_average(),
            **measure_command(
                predict_command(model_file, inputs, work / "vcfs.csv", reference),
                store_env(sim),
                work / "predict-vcfs.log",
            ),
        }
        predict["vcfs_one_torch_thread"] = {
            "files": len(chosen),
            "records": records,
            "env": {"OMP_NUM_THREADS": "1"},
            "load_average_before": load_average(),
            **measure_command(
                predict_command(model_file, inputs, work / "vcfs-1.csv", reference),
                {**store_env(sim), "OMP_NUM_THREADS": "1"},
                work / "predict-vcfs-1.log",
            ),
        }
        single = work / "predict-one-vcf"
        single.mkdir(exist_ok=True)
        shutil.copy(chosen[0], single / chosen[0].name)
        predict["one_vcf"] = {
            "files": 1,
            "note": "the fixed cost: interpreter and imports, model and reference load (with its SHA-256)",
            "load_average_before": load_average(),
            **measure_command(
                predict_command(model_file, single, work / "one.csv", reference),
                store_env(sim),
                work / "predict-one.log",
            ),
        }
    omics_file, omics_raw, omics_note = omics_model(args, work)
    tables = work / "omics-tables"
    about = omics_tables(omics_raw, cfg["omics_samples"], tables, omics_file)
    predict["omics"] = {
        **about,
        "model": omics_note,
        "load_average_before": load_average(),
        **measure_command(
            predict_command(omics_file, tables, work / "omics.csv"),
            store_env(sim),
            work / "predict-omics.log",
        ),
    }
    print(f"predict: {predict}", flush=True)
    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small cohort and fewer requests")
    parser.add_argument("--model-dir", type=Path, help="an existing variant model directory (model.pt)")
    parser.add_argument("--reference", type=Path, help="the FASTA --model-dir was trained against")
    parser.add_argument("--vcf-dir", type=Path, help="VCFs for predict (default: the simulated somatic_vcf/)")
    parser.add_argument(
        "--omics-model", type=Path, help="a multi-omics model.pt (default: train a small one)"
    )
    parser.add_argument(
        "--omics-params", type=Path, help="the params.yaml --omics-model's features come from"
    )
    parser.add_argument(
        "--sections", nargs="+", choices=["serve", "predict", "real"], default=["serve", "predict", "real"]
    )
    parser.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the simulated project a kept --work holds"
    )
    parser.add_argument(
        "--out", default="variants_serving.json", help="result file name under benchmarks/results/"
    )
    parser.add_argument("--child-build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-import", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        return child_build(args.child_build)
    if args.child_import:
        return child_import(args.child_import)
    if (args.model_dir is None) != (args.reference is None):
        parser.error("--model-dir and --reference go together")

    cfg = settings(args.quick)
    work = args.work or Path(tempfile.mkdtemp(prefix="variants-serving-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    report: dict[str, Any] = {
        "benchmark": "variants_serving",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tree": tree_state(),
        "settings": {**cfg, "sections": args.sections},
        "load_average_start": load_average(),
    }
    failed = None
    try:
        if {"serve", "predict"} & set(args.sections):
            sim = work / "sim"
            sim.mkdir(exist_ok=True)
            project = simulated_project(args, cfg, sim)
            report["project"] = project["about"]
            print(f"project ready in {project['built'].get('wall_s')} s", flush=True)
            if "serve" in args.sections:
                served_uploads(cfg, project, sim, report)
            if "predict" in args.sections:
                report["predict"] = predict_runs(args, cfg, project, sim, work)
        if "real" in args.sections:
            report["real_mafs"] = real_mafs(cfg, work)
    except Exception as error:
        import traceback

        failed = error
        report["error"] = traceback.format_exc()[-4000:]
    finally:
        report["load_average_end"] = load_average()
        report["wall_s"] = round(time.perf_counter() - began, 1)
        report["work_dir"] = str(work) if args.keep or args.work else None
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    write_report(report, RESULTS / args.out)
    summary(report)
    if failed is not None:
        raise SystemExit(f"failed: {failed!r} (the partial result is in {RESULTS / args.out})")


def summary(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"\n== variants_serving ({report['settings']['mode']}) on {m['cpu_model']}, {m['cpu_count']} cores")
    u5 = report.get("upload_5k")
    if u5:
        for level in u5["levels"]:
            print(
                f"5k VCF c={level['concurrency']}: p50 {level['p50_ms']} ms, p99 {level['p99_ms']} ms, "
                f"{level['throughput_rps']} req/s, errors {level['errors']}"
            )
        one = u5.get("one_torch_thread")
        if one:
            for level in one["levels"]:
                print(
                    f"  one torch thread, c={level['concurrency']}: p50 {level['p50_ms']} ms, p99 "
                    f"{level['p99_ms']} ms, {level['throughput_rps']} req/s"
                )
        print("5k in-process median ms:", u5["in_process"]["median_ms"])
        if "in_process_one_torch_thread" in u5:
            print("  one torch thread:", u5["in_process_one_torch_thread"]["median_ms"])
    u100 = report.get("upload_100k")
    if u100:
        verdict = "met" if u100["meets_target"] else "missed"
        print(f"100k VCF: HTTP median {u100['http_median_s']} s (target < {u100['target_s']} s: {verdict})")
        print("100k in-process median ms:", u100["in_process"]["median_ms"])
        if "in_process_one_torch_thread_gc_frozen" in u100:
            print("  one torch thread:", u100["in_process_one_torch_thread"]["median_ms"])
            print("  and gc.freeze():", u100["in_process_one_torch_thread_gc_frozen"]["median_ms"])
    for name, p in report.get("predict", {}).items():
        print(f"predict {name}: {p['wall_s']} s, peak RSS {p['peak_rss_mb']} MB")
    real = report.get("real_mafs", {})
    if "equality" in real:
        eq = real["equality"]
        print(
            f"real MAFs: served == predict: {eq['all_equal']} ({eq['samples_served']} tumours); "
            f"accuracy {real['accuracy']['overall']} (in-sample-ish)"
        )
    elif real:
        print("real MAFs:", real.get("skipped"))
    if "error" in report:
        print("ERROR:", report["error"][-800:])


if __name__ == "__main__":
    main()
