#!/usr/bin/env python3
"""Drive a qprov gateway on loopback for a fixed time with concurrent clients.

Starts its own gateway (``qprov gateway serve``) in a temporary directory: SQLite store,
a transparency log and, when the gateway serves ``POST /v1/jobs``, jobs on Aer. Then
``--clients`` threads run a fixed mix for ``--seconds``:

* admissions with distinct, freshly signed manifests (``POST /v1/admissions``);
* jobs with receipts (``POST /v1/jobs``), when the gateway has that route;
* log reads: ``GET /log/checkpoint``, a tile it names, ``GET /v1/log/proof``.

Manifests are signed by a producer thread ahead of the clients (a bounded queue), so
client latency is the gateway's. Prints, per operation and in all: requests,
throughput, p50/p99 latency, errors (anything but a 200 with the expected verdict);
and the server's RSS at start (after warm-up) and end. Loopback only; bounded in time
(``--seconds`` <= 600) and in requests (``--max-requests``); the gateway is stopped on
exit, even on Ctrl-C.

    python scripts/load/load_gateway.py --seconds 60 --clients 4
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import requests

from qprov.keys import CompositeSigner, generate_private_key
from qprov.manifest import create_manifest
from qprov.tlog import SIG_ED25519, SIG_MLDSA44_COSIGNATURE, generate_signer

ALG = "MLDSA44-Ed25519-SHA512"
ORIGIN = "load.qprov.test/log"
BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""
POLICY = """\
version = 1
max_shots = 100000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx", "x", "rz", "sx"]

[backends.aer]
max_qubits = 5
"""
JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- environment and server ---------------------------------------------------------------------


def write_env(d: Path, port: int, *, jobs: bool, workers: int) -> CompositeSigner:
    submitter = generate_private_key(ALG)
    gateway = generate_private_key(ALG)
    (d / "submitter.pub").write_bytes(submitter.public_key().to_pem())
    (d / "gateway.pub").write_bytes(gateway.public_key().to_pem())
    (d / "gateway.key").write_bytes(gateway.to_unencrypted_pem())
    signers = [generate_signer(ORIGIN, alg) for alg in (SIG_ED25519, SIG_MLDSA44_COSIGNATURE)]
    (d / "log.skey").write_text("".join(s.to_skey() + "\n" for s in signers))
    vkeys = [s.verifier().to_vkey() for s in signers]
    (d / "trust.toml").write_text(
        'version = 1\n\n[crypto]\nsignatures = "composite"\n\n'
        '[roles.submitter]\nkeys = [{ file = "submitter.pub" }]\n\n'
        '[roles.gateway]\nkeys = [{ file = "gateway.pub" }]\n\n'
        f"[log]\norigin = {json.dumps(ORIGIN)}\nvkeys = {json.dumps(vkeys)}\n"
    )
    (d / "policy.toml").write_text(POLICY)
    lines = [
        "version = 1",
        'trust = "trust.toml"',
        'policy = "policy.toml"',
        'store = "sqlite:///store.db"',
        'host = "127.0.0.1"',
        f"port = {port}",
        f"workers = {workers}",
        'signing_key = "file:gateway.key"',
        "graceful_timeout = 10",
        'log_level = "warning"',
        "",
        "[log]",
        'url = "sqlite:///log.db"',
        'keys = "log.skey"',
    ]
    if jobs:
        lines += ["", "[jobs]", 'backend_names = ["aer"]', "threads = 2"]
    (d / "gateway.toml").write_text("\n".join(lines) + "\n")
    return CompositeSigner(submitter)


@contextlib.contextmanager
def gateway(d: Path, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    log = (d / "gateway.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from qprov._cli import main; main()", "gateway", "serve",
         "--config", str(d / "gateway.toml"), "--port", str(port), "--workers", str(workers)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd=d,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gateway exited: {(d / 'gateway.log').read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/v1/health", timeout=10).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("gateway did not become healthy in 180 s")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def rss(proc: subprocess.Popen[bytes]) -> int:
    """Resident memory of the server and its worker processes, in bytes."""
    try:
        p = psutil.Process(proc.pid)
        return int(sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]))
    except psutil.Error:
        return 0


# -- the clients ------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    total: int = 0

    def record(self, op: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.total += 1
            self.latencies[op].append(seconds)
            if error is not None:
                self.errors[op].append(error)


def producer(signer: CompositeSigner, out: queue.Queue[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        bundle = create_manifest(
            BELL, circuit_name="bell.qasm", backend="aer", shots=100, experiment="load",
            signer=signer, now=datetime.now(UTC), lifetime=timedelta(minutes=30),
        )  # fmt: skip
        doc = {"bundle": bundle.to_dict(), "circuit": base64.b64encode(BELL).decode()}
        body = json.dumps(doc).encode()
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                out.put(body, timeout=0.2)
                break


def client(
    url: str,
    ops: list[str],
    manifests: queue.Queue[bytes],
    stats: Stats,
    stop: threading.Event,
    max_requests: int,
    seed: int,
) -> None:
    rng = random.Random(seed)
    with requests.Session() as session:
        while not stop.is_set() and stats.total < max_requests:
            op = rng.choice(ops)
            body = b""
            if op in ("admission", "job"):
                try:
                    body = manifests.get(timeout=1)
                except queue.Empty:
                    continue
            start = time.perf_counter()
            error = None
            try:
                error = one(session, url, op, body, rng)
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            stats.record(op, time.perf_counter() - start, error)


def one(
    session: requests.Session, url: str, op: str, body: bytes, rng: random.Random
) -> str | None:
    if op in ("admission", "job"):
        path = "/v1/admissions" if op == "admission" else "/v1/jobs"
        r = session.post(url + path, data=body, headers=JSON, timeout=120)
        if r.status_code != 200:
            return f"{r.status_code} {r.text[:200]}"
        doc = r.json()
        if doc["verdict"] != "admitted":
            return f"refused: {doc['failures']}"
        if op == "job" and doc.get("job") is None:
            return "admitted without a job"
        return None
    # a log read: the checkpoint, then a proof of a random entry and the tile holding it
    r = session.get(url + "/log/checkpoint", timeout=60)
    if r.status_code != 200:
        return f"checkpoint {r.status_code} {r.text[:200]}"
    size = int(r.content.split(b"\n")[1])
    if size == 0:
        return None
    index = rng.randrange(size)
    p = session.get(url + "/v1/log/proof", params={"index": index}, timeout=60)
    if p.status_code != 200:
        return f"proof {p.status_code} {p.text[:200]}"
    tile = index // 256
    full = (tile + 1) * 256 <= size
    suffix = "" if full else f".p/{size - tile * 256}"
    t = session.get(f"{url}/log/tile/0/{_tile_index(tile)}{suffix}", timeout=60)
    if t.status_code not in (200, 404):  # a partial tile may have grown since: 404 is fine
        return f"tile {t.status_code} {t.text[:200]}"
    return None


def _tile_index(n: int) -> str:
    """c2sp.org/tlog-tiles index encoding: groups of three digits, x-prefixed but the last."""
    parts = []
    while True:
        parts.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    parts.reverse()
    return "/".join(["x" + p for p in parts[:-1]] + [parts[-1]])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--mix", default="admission,admission,job,log",
                        help="operations drawn uniformly (admission, job, log)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.clients <= 64:
        parser.error("--seconds must be in (0, 600], --clients in 1..64")

    with tempfile.TemporaryDirectory(prefix="qprov-load-") as tmp:
        d = Path(tmp)
        port = free_port()
        signer = write_env(d, port, jobs=True, workers=args.workers)
        with gateway(d, port, args.workers) as proc:
            url = f"http://127.0.0.1:{port}"
            paths = requests.get(url + "/openapi.json", timeout=30).json()["paths"]
            ops = [op.strip() for op in args.mix.split(",") if op.strip()]
            if "/v1/jobs" not in paths:
                ops = [op for op in ops if op != "job"]
            stop = threading.Event()
            manifests: queue.Queue[bytes] = queue.Queue(maxsize=256)
            prod = threading.Thread(target=producer, args=(signer, manifests, stop), daemon=True)
            prod.start()
            # warm up: one of each operation, then the start figures
            stats = Stats()
            with requests.Session() as s:
                for op in dict.fromkeys(ops):
                    body = manifests.get(timeout=60) if op != "log" else b""
                    error = one(s, url, op, body, random.Random(0))
                    if error:
                        raise SystemExit(f"warm-up {op} failed: {error}")
            rss_start = rss(proc)
            threads = [
                threading.Thread(
                    target=client,
                    args=(url, ops, manifests, stats, stop, args.max_requests, i),
                    daemon=True,
                )
                for i in range(args.clients)
            ]
            began = time.perf_counter()
            for t in threads:
                t.start()
            samples: list[tuple[float, int]] = []  # (seconds, RSS) every ~5 s
            next_sample = 0.0
            try:
                while time.perf_counter() - began < args.seconds and any(
                    t.is_alive() for t in threads
                ):
                    now = time.perf_counter() - began
                    if now >= next_sample:
                        samples.append((now, rss(proc)))
                        next_sample += 5.0
                    time.sleep(0.2)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=150)
            elapsed = time.perf_counter() - began
            rss_end = rss(proc)
            prod.join(timeout=10)

    report: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "rss_start_mib": round(rss_start / 2**20, 1),
        "rss_end_mib": round(rss_end / 2**20, 1),
        # RSS through the run: flat memory shows as a plateau after warm-up
        "rss_samples_mib": [[round(t), round(b / 2**20, 1)] for t, b in samples],
        "operations": {},
    }
    all_lat: list[float] = []
    errors = 0
    for op, lat in sorted(stats.latencies.items()):
        all_lat += lat
        errors += len(stats.errors[op])
        report["operations"][op] = {
            "requests": len(lat),
            "per_second": round(len(lat) / elapsed, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "errors": len(stats.errors[op]),
            "first_errors": stats.errors[op][:3],
        }
    report["total"] = {
        "requests": len(all_lat),
        "per_second": round(len(all_lat) / elapsed, 1),
        "p50_ms": round(percentile(all_lat, 50) * 1000, 1),
        "p99_ms": round(percentile(all_lat, 99) * 1000, 1),
        "errors": errors,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{elapsed:.1f} s, {args.clients} clients, {args.workers} worker(s), "
              f"{os.cpu_count()} CPUs, loopback")  # fmt: skip
        print(f"{'operation':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>6}")  # fmt: skip
        for op, row in [*report["operations"].items(), ("total", report["total"])]:
            print(f"{op:<10} {row['requests']:>8} {row['per_second']:>7} {row['p50_ms']:>8} "
                  f"{row['p99_ms']:>8} {row['errors']:>6}")  # fmt: skip
        print(f"server RSS: {report['rss_start_mib']} MiB at start, "
              f"{report['rss_end_mib']} MiB at end")  # fmt: skip
        trace = ", ".join(f"{t}s {m}" for t, m in report["rss_samples_mib"])
        print(f"server RSS over the run (MiB): {trace}")
        for op, row in report["operations"].items():
            for e in row["first_errors"]:
                print(f"error: {op}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
