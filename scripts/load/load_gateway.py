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
the server's RSS (all its processes) every 5 s, at start, after ``--warm-up`` seconds
and at the end; and a plateau verdict: the least-squares slope of RSS over the second
half of the run in MiB/min, "flat" when under ``--flat-slope``. Loopback only; bounded
in time (``--seconds`` <= 3600) and in requests (``--max-requests``); the gateway is
stopped on exit, even on Ctrl-C.

``--prefill N`` appends N entries of ``--prefill-bytes`` to the log before the gateway
starts, so that proofs and tiles are read from a tree the size of months of operation
(and caches that track the log's size would show it).

Every 5 s the script also asks each server process (SIGUSR1 to a ``sitecustomize`` on
the server's ``PYTHONPATH``) how much memory SQLite holds (its page caches), so RSS
growth can be told apart from caches filling up to their bound. ``--tracemalloc`` runs
every server process under tracemalloc and prints, per process, the source lines whose
Python allocations grew most between the end of warm-up and the end of the run:
what grows, when RSS does.

    python scripts/load/load_gateway.py --seconds 60 --clients 4
    python scripts/load/load_gateway.py --seconds 900 --workers 2 --prefill 200000   # soak
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
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


#: Imported by every server process (the probe directory is on its PYTHONPATH). On
#: SIGUSR1 a process writes $QPROV_LOAD_PROBE_DIR/<pid>.probe: the memory SQLite holds
#: (all its connections: page caches, schemas, statements). With QPROV_LOAD_TRACEMALLOC
#: set it also traces Python allocations and writes <pid>-<n>.trace on SIGUSR2.
SITECUSTOMIZE = """\
import ctypes, json, os, signal
_dir = os.environ.get("QPROV_LOAD_PROBE_DIR")
if _dir:
    try:
        _lib = ctypes.CDLL("libsqlite3.so.0")
        _lib.sqlite3_memory_used.restype = ctypes.c_int64
    except OSError:
        _lib = None
    def _probe(signum, frame):
        used = _lib.sqlite3_memory_used() if _lib is not None else -1
        path = os.path.join(_dir, f"{os.getpid()}.probe")
        with open(path + ".tmp", "w") as fh:
            json.dump({"sqlite": used}, fh)
        os.replace(path + ".tmp", path)
    signal.signal(signal.SIGUSR1, _probe)
    if os.environ.get("QPROV_LOAD_TRACEMALLOC"):
        import tracemalloc
        tracemalloc.start(1)
        _n = [0]
        def _dump(signum, frame):
            _n[0] += 1
            tracemalloc.take_snapshot().dump(os.path.join(_dir, f"{os.getpid()}-{_n[0]}.trace"))
        signal.signal(signal.SIGUSR2, _dump)
"""


@contextlib.contextmanager
def gateway(
    d: Path, port: int, workers: int, *, probe_dir: Path, trace: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    log = (d / "gateway.log").open("ab")
    env = dict(os.environ)
    site = d / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["QPROV_LOAD_PROBE_DIR"] = str(probe_dir)
    if trace:
        env["QPROV_LOAD_TRACEMALLOC"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from qprov._cli import main; main()", "gateway", "serve",
         "--config", str(d / "gateway.toml"), "--port", str(port), "--workers", str(workers)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd=d, env=env,
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


def prefill(d: Path, count: int, size: int) -> float:
    """Append ``count`` entries of ``size`` bytes to the gateway's log; returns seconds."""
    from qprov.tlog import Log

    began = time.perf_counter()
    pad = b"p" * max(0, size - 24)
    with Log.open(f"sqlite:///{d / 'log.db'}?synchronous=normal") as log:
        for start in range(0, count, 5000):
            stop = min(start + 5000, count)
            log.append_many([b"prefill %012d " % i + pad for i in range(start, stop)])
    return time.perf_counter() - began


def rss(proc: subprocess.Popen[bytes]) -> int:
    """Resident memory of the server and its worker processes, in bytes."""
    try:
        p = psutil.Process(proc.pid)
        return int(sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]))
    except psutil.Error:
        return 0


def rss_by_process(proc: subprocess.Popen[bytes]) -> dict[int, float]:
    """RSS in MiB of each server process (the supervisor and its workers)."""
    out: dict[int, float] = {}
    with contextlib.suppress(psutil.Error):
        p = psutil.Process(proc.pid)
        for q in [p, *p.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                out[q.pid] = round(q.memory_info().rss / 2**20, 1)
    return out


def signal_workers(proc: subprocess.Popen[bytes], sig: int, workers: int) -> None:
    """Send ``sig`` to the server's Python processes."""
    with contextlib.suppress(psutil.Error):
        p = psutil.Process(proc.pid)
        children = p.children(recursive=True)
        # with several workers, uvicorn's supervisor takes USR1/USR2 itself: skip it
        for q in children if workers > 1 else [p, *children]:
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if "python" in q.name().lower():
                    os.kill(q.pid, sig)


def sqlite_memory(proc: subprocess.Popen[bytes], probe_dir: Path, workers: int) -> int:
    """Bytes SQLite holds in all server processes (SIGUSR1, then the probe files)."""
    for f in probe_dir.glob("*.probe"):
        f.unlink()
    signal_workers(proc, signal.SIGUSR1, workers)
    time.sleep(0.5)
    total = 0
    for f in probe_dir.glob("*.probe"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            total += max(0, int(json.loads(f.read_text())["sqlite"]))
    return total


def trace_growth(trace_dir: Path, top: int = 12) -> dict[str, list[str]]:
    """Per process: the lines whose traced memory grew most from first to last snapshot."""
    import tracemalloc

    by_pid: dict[str, list[Path]] = defaultdict(list)
    for f in trace_dir.glob("*.trace"):
        by_pid[f.name.split("-")[0]].append(f)
    out: dict[str, list[str]] = {}
    for pid, files in sorted(by_pid.items()):
        files.sort(key=lambda f: int(f.stem.split("-")[1]))
        if len(files) < 2:
            continue
        first = tracemalloc.Snapshot.load(str(files[0]))
        last = tracemalloc.Snapshot.load(str(files[-1]))
        stats = last.compare_to(first, "lineno")
        total = sum(st.size_diff for st in stats)
        lines = [f"total traced growth {total / 2**20:+.2f} MiB"]
        lines += [str(st) for st in stats[:top]]
        out[pid] = lines
    return out


def _mib_at(samples: list[tuple[float, int]], t: float) -> float | None:
    """The first sample at or after ``t`` seconds, in MiB."""
    later = [b for s, b in samples if s >= t]
    return round(later[0] / 2**20, 1) if later else None


def slope_mib_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS against time, in MiB per minute (nan under 3 samples)."""
    if len(samples) < 3:
        return float("nan")
    ts = [t / 60 for t, _ in samples]
    ms = [b / 2**20 for _, b in samples]
    mt, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (m - mm) for t, m in zip(ts, ms, strict=True)) / var if var else 0.0


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
    parser.add_argument("--warm-up", type=float, default=None,
                        help="seconds before the 'after warm-up' RSS figure "
                        "(default: a quarter of --seconds, at most 120)")  # fmt: skip
    parser.add_argument("--flat-slope", type=float, default=0.5,
                        help="RSS slope over the second half, MiB/min, under which "
                        "memory is called flat")  # fmt: skip
    parser.add_argument("--prefill", type=int, default=0,
                        help="entries appended to the log before the gateway starts")  # fmt: skip
    parser.add_argument("--prefill-bytes", type=int, default=4096,
                        help="size of each prefilled entry")  # fmt: skip
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace the server's Python allocations; print what grew")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600 or not 0 < args.clients <= 64:
        parser.error("--seconds must be in (0, 3600], --clients in 1..64")
    warm_up = min(args.seconds / 4, 120.0) if args.warm_up is None else args.warm_up
    if not 0 <= warm_up < args.seconds:
        parser.error("--warm-up must be in [0, --seconds)")
    if not 0 <= args.prefill <= 10_000_000 or not 24 <= args.prefill_bytes <= 65_535:
        parser.error("--prefill must be in 0..10000000, --prefill-bytes in 24..65535")

    with tempfile.TemporaryDirectory(prefix="qprov-load-") as tmp:
        d = Path(tmp)
        port = free_port()
        signer = write_env(d, port, jobs=True, workers=args.workers)
        prefill_seconds = prefill(d, args.prefill, args.prefill_bytes) if args.prefill else 0.0
        probe_dir = d / "probe"
        probe_dir.mkdir()
        with gateway(d, port, args.workers, probe_dir=probe_dir, trace=args.tracemalloc) as proc:
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
            sqlite_samples: list[tuple[float, int]] = []  # (seconds, SQLite memory)
            next_sample = 0.0
            rss_warm: int | None = None
            warm_by_process: dict[int, float] = {}
            requests_at_warm = 0
            try:
                while time.perf_counter() - began < args.seconds and any(
                    t.is_alive() for t in threads
                ):
                    now = time.perf_counter() - began
                    if now >= next_sample:
                        samples.append((now, rss(proc)))
                        sqlite_samples.append((now, sqlite_memory(proc, probe_dir, args.workers)))
                        next_sample += 5.0
                    if rss_warm is None and now >= warm_up:
                        rss_warm, requests_at_warm = rss(proc), stats.total
                        warm_by_process = rss_by_process(proc)
                        if args.tracemalloc:
                            signal_workers(proc, signal.SIGUSR2, args.workers)
                    time.sleep(0.2)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=150)
            elapsed = time.perf_counter() - began
            rss_end = rss(proc)
            end_by_process = rss_by_process(proc)
            log_size = 0
            with contextlib.suppress(requests.RequestException, ValueError, IndexError):
                cp = requests.get(url + "/log/checkpoint", timeout=30)
                log_size = int(cp.content.split(b"\n")[1])
            growth: dict[str, list[str]] = {}
            if args.tracemalloc:
                signal_workers(proc, signal.SIGUSR2, args.workers)
                time.sleep(5)  # let each process write its snapshot
                growth = trace_growth(probe_dir)
            prod.join(timeout=10)

    second_half = [(t, b) for t, b in samples if t >= elapsed / 2]
    slope = slope_mib_per_min(second_half)
    after_warm = [(t, b) for t, b in samples if t >= warm_up]
    report: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "prefilled_entries": args.prefill,
        "prefill_seconds": round(prefill_seconds, 1),
        "log_size_at_end": log_size,
        "requests_during_warm_up": requests_at_warm,
        "warm_up_seconds": round(warm_up, 1),
        "rss_start_mib": round(rss_start / 2**20, 1),
        "rss_after_warm_up_mib": round((rss_warm or 0) / 2**20, 1),
        "rss_end_mib": round(rss_end / 2**20, 1),
        "rss_by_process_after_warm_up_mib": warm_by_process,
        "rss_by_process_at_end_mib": end_by_process,
        # the plateau verdict: RSS slope over the second half of the run
        "rss_slope_second_half_mib_per_min": round(slope, 3),
        "rss_slope_after_warm_up_mib_per_min": round(slope_mib_per_min(after_warm), 3),
        "rss_growth_second_half_mib": round((second_half[-1][1] - second_half[0][1]) / 2**20, 1)
        if len(second_half) >= 2
        else None,
        "rss_flat": bool(not math.isnan(slope) and abs(slope) < args.flat_slope),
        # SQLite's own memory (page caches...) in all server processes: bounded by design
        "sqlite_mib_after_warm_up": _mib_at(sqlite_samples, warm_up),
        "sqlite_mib_at_end": round(sqlite_samples[-1][1] / 2**20, 1) if sqlite_samples else None,
        "sqlite_slope_second_half_mib_per_min": round(
            slope_mib_per_min([(t, b) for t, b in sqlite_samples if t >= elapsed / 2]), 3
        ),
        "rss_minus_sqlite_slope_second_half_mib_per_min": round(
            slope_mib_per_min(
                [
                    (t, b - q)
                    for (t, b), (_, q) in zip(samples, sqlite_samples, strict=True)
                    if t >= elapsed / 2
                ]
            ),
            3,
        ),
        "sqlite_samples_mib": [[round(t), round(b / 2**20, 1)] for t, b in sqlite_samples],
        # RSS through the run: flat memory shows as a plateau after warm-up
        "rss_samples_mib": [[round(t), round(b / 2**20, 1)] for t, b in samples],
        "operations": {},
    }
    if growth:
        report["tracemalloc_growth"] = growth
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
        print(f"log size at end: {log_size} entries ({args.prefill} prefilled "
              f"in {prefill_seconds:.0f} s)")  # fmt: skip
        print(f"server RSS: {report['rss_start_mib']} MiB at start, "
              f"{report['rss_after_warm_up_mib']} MiB after {warm_up:.0f} s warm-up, "
              f"{report['rss_end_mib']} MiB at end")  # fmt: skip
        print(f"server RSS by process (MiB): after warm-up {warm_by_process}, "
              f"at end {end_by_process}")  # fmt: skip
        trace = ", ".join(f"{t}s {m}" for t, m in report["rss_samples_mib"])
        print(f"server RSS over the run (MiB): {trace}")
        verdict = "FLAT" if report["rss_flat"] else "GROWING"
        print(f"plateau: {verdict}: RSS slope over the second half "
              f"{report['rss_slope_second_half_mib_per_min']:+.3f} MiB/min "
              f"(growth {report['rss_growth_second_half_mib']} MiB; after warm-up "
              f"{report['rss_slope_after_warm_up_mib_per_min']:+.3f} MiB/min; "
              f"flat below {args.flat_slope} MiB/min)")  # fmt: skip
        sq = ", ".join(f"{t}s {m}" for t, m in report["sqlite_samples_mib"][::6])
        print(f"SQLite memory, all server processes (MiB, every 30 s): {sq}")
        print(f"SQLite memory: {report['sqlite_mib_after_warm_up']} MiB after warm-up, "
              f"{report['sqlite_mib_at_end']} MiB at end; slope over the second half "
              f"{report['sqlite_slope_second_half_mib_per_min']:+.3f} MiB/min; RSS minus "
              f"SQLite {report['rss_minus_sqlite_slope_second_half_mib_per_min']:+.3f} "
              "MiB/min")  # fmt: skip
        for pid, lines in growth.items():
            print(f"tracemalloc growth, process {pid}:")
            for line in lines:
                print(f"  {line}")
        for op, row in report["operations"].items():
            for e in row["first_errors"]:
                print(f"error: {op}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
