"""Bounded HTTP load on loopback: `bentoml serve` vs `mlflow models serve` on the same champion model.

Starts both servers on free loopback ports, sends single-sample requests (real test-split samples) at
several concurrency levels, and writes p50/p95/p99 latency, throughput, error counts and server RSS
before/after as JSON to benchmarks/results/. Needs `make repro` first (a champion in the registry and
its import in the BentoML store), or `--bento-json` naming a model in the store $BENTOML_HOME points at.
Each level also reads the bento's own Prometheus `/metrics` (adaptive batch sizes, 5xx count).

    python benchmarks/serve_load.py [--requests 2000] [--concurrency 1 8 32] [--servers bentoml mlflow]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from prometheus_client.parser import text_string_to_metric_families

from oncofusion import tracking
from oncofusion.cohort import Cohort
from oncofusion.training.data import cohort_tensors
from results_io import RESULTS, cpu_name, write_report

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(process: subprocess.Popen) -> float:
    parent = psutil.Process(process.pid)
    return round(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 2**20, 1)


def start(command: list[str], ready_url: str, log: Path) -> subprocess.Popen:
    # mlflow models serve execs `uvicorn` by name: the venv's bin must be on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{command[:3]} exited; see {log}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"{command[:3]} not ready after 180 s; see {log}")


async def load(url: str, bodies: list[bytes], requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post(
                        url, content=bodies[i % len(bodies)], headers={"content-type": "application/json"}
                    )
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": requests,
        "concurrency": concurrency,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "throughput_rps": round(requests / wall, 1),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--cohort", type=Path, default=ROOT / "data" / "splits")
    parser.add_argument("--bento-json", type=Path, default=ROOT / "reports" / "bento.json")
    parser.add_argument("--servers", nargs="+", choices=["bentoml", "mlflow"], default=["bentoml", "mlflow"])
    parser.add_argument("--out", default=None, help="result file name under benchmarks/results/")
    parser.add_argument("--note", default="", help="what the model is, recorded in the result")
    args = parser.parse_args()

    uri = tracking.use_tracking(ROOT)
    # The same model on both servers: the bento's model and the registry version it was imported from.
    built = json.loads(args.bento_json.read_text())
    os.environ["ONCOFUSION_BENTO_MODEL"] = built["bento_model"]
    mlflow_model = f"models:/{built['registry_name']}/{built['registry_version']}"
    cohort = Cohort.load(args.cohort)
    modalities = list(cohort.meta.modalities)
    test = cohort_tensors(cohort, modalities, "test")
    bento_bodies, mlflow_bodies = [], []
    for i, sample_id in enumerate(test.sample_ids):
        values = {m: test.inputs[m][i].tolist() for m in modalities}
        bento_bodies.append(
            json.dumps({"samples": [{"sample_id": sample_id, "modalities": values}]}).encode()
        )
        columns = [f"{m}/{f}" for m in modalities for f in cohort.meta.modalities[m].features]
        row = [v for m in modalities for v in values[m]]
        mlflow_bodies.append(json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}).encode())

    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in args.servers}
    commands = {
        "bentoml": (
            [sys.executable, "-m", "bentoml", "serve", "serving.service:OncofusionClassifier"],
            "/readyz",
            "/classify",
            bento_bodies,
        ),
        "mlflow": (
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", mlflow_model, "--env-manager", "local"],
            "/ping",
            "/invocations",
            mlflow_bodies,
        ),
    }
    servers: dict[str, subprocess.Popen] = {}
    report: dict[str, Any] = {
        "benchmark": "serve_load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} cores shared by the client "
        "and the server(s)",
        "tracking_uri": uri,
        "model": {"bentoml": built["bento_model"], "mlflow": mlflow_model, "note": args.note},
        "servers": {},
    }
    try:
        for name in args.servers:
            command, ready, path, bodies = commands[name]
            base = f"http://127.0.0.1:{ports[name]}"
            command = [*command, "--host", "127.0.0.1", "--port", str(ports[name])]
            servers[name] = start(command, base + ready, logs / f"{name}.log")
            asyncio.run(load(base + path, bodies, 50, 1))  # warm-up
            before = rss_mb(servers[name])
            levels = []
            for c in args.concurrency:
                batches_before = model_calls(base) if name == "bentoml" else None
                level = asyncio.run(load(base + path, bodies, args.requests, c))
                if batches_before is not None:
                    calls, samples = (a - b for a, b in zip(model_calls(base), batches_before, strict=True))
                    level["model_calls"] = int(calls)
                    level["mean_batch_size"] = round(samples / calls, 2) if calls else None
                levels.append(level)
            report["servers"][name] = {
                "rss_mb_before": before,
                "rss_mb_after": rss_mb(servers[name]),
                "levels": levels,
                # Other work on the machine slows both client and server: the 1-minute load average.
                "load_average_after": round(os.getloadavg()[0], 2),
            }
    finally:
        for server in servers.values():
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    if {"bentoml", "mlflow"} <= set(report["servers"]):
        bento, mlf = report["servers"]["bentoml"], report["servers"]["mlflow"]
        report["throughput_ratio_bentoml_over_mlflow"] = [
            round(b["throughput_rps"] / m["throughput_rps"], 2)
            for b, m in zip(bento["levels"], mlf["levels"], strict=True)
        ]
    write_report(report, RESULTS / (args.out or f"serve_load-cpu-{os.cpu_count()}cores.json"))


def model_calls(base: str) -> tuple[float, float]:
    """(model calls, samples) so far, from the bento's own batch-size histogram on /metrics."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = {"count": 0.0, "sum": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("oncofusion_classify_batch_size_count", "oncofusion_classify_batch_size_sum"):
                found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found["count"], found["sum"]


if __name__ == "__main__":
    main()
