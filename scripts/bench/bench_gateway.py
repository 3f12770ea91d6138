#!/usr/bin/env python3
"""Benchmark the HTTP gateway against in-process admission, on the same inputs, in one run.

For each store (SQLite, and PostgreSQL when reachable): admissions per second of
``Admitter.admit()`` in this process (sequential), then of ``qprov gateway serve``
with 2 workers on loopback driven by concurrent HTTP clients (requests, one
session per thread), with p50/p99 latency, and the ratio HTTP / in-process.
Every submission is a distinct signed manifest (admitted), so the replay store
is written each time. Only loopback; bounded in count (--count) and time
(--max-seconds per phase).

Then jobs (``--jobs``, 0 to skip): ``JobGateway.submit()`` in this process
(sequential: admit, log the decision, run on Aer, sign and log the receipt,
checkpoints and proofs) against ``POST /v1/jobs`` of a gateway with ``[log]``
and ``[jobs]`` (``--job-clients`` concurrent clients), jobs per second, p50/p99
of each, and the ratio HTTP / in-process, with store and log both on SQLite,
then both on PostgreSQL.

    python scripts/bench/bench_gateway.py [--count 300] [--clients 8] [--workers 2]
        [--jobs 60] [--job-clients 4] [--job-threads 2]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from qprov.admission import Admitter
from qprov.backends import AerBackend
from qprov.errors import ServiceUnavailableError
from qprov.jobs import JobGateway
from qprov.keys import CompositeSigner, generate_private_key, load_signer
from qprov.manifest import create_manifest
from qprov.policy import load_admission_policy
from qprov.store import open_store
from qprov.tlog import generate_signer, parse_skey
from qprov.trust import load_trust

ALG = "MLDSA65-Ed25519-SHA512"  # the default composite
BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""
POLICY = """version = 1
max_shots = 100000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx"]

[backends.aer]
max_qubits = 5
"""


def write_env(d: Path) -> CompositeSigner:
    submitter, gateway = generate_private_key(ALG), generate_private_key(ALG)
    (d / "submitter.pub").write_bytes(submitter.public_key().to_pem())
    (d / "gateway.pub").write_bytes(gateway.public_key().to_pem())
    (d / "gateway.key").write_bytes(gateway.to_unencrypted_pem())
    log_signers = [generate_signer("bench.qprov/log", alg) for alg in (0x01, 0x06)]
    (d / "log.skey").write_text("".join(s.to_skey() + "\n" for s in log_signers))
    vkeys = json.dumps([s.verifier().to_vkey() for s in log_signers])
    (d / "trust.toml").write_text(
        'version = 1\n[crypto]\nsignatures = "composite"\n'
        '[roles.submitter]\nkeys = [{ file = "submitter.pub" }]\n'
        '[roles.gateway]\nkeys = [{ file = "gateway.pub" }]\n'
        f'[log]\norigin = "bench.qprov/log"\nvkeys = {vkeys}\n'
    )
    (d / "policy.toml").write_text(POLICY)
    return CompositeSigner(submitter)


def bundles(signer: CompositeSigner, n: int) -> list[bytes]:
    now = datetime.now(UTC)
    return [
        create_manifest(
            BELL,
            circuit_name="bell.qasm",
            backend="aer",
            shots=100,
            experiment="bench",
            signer=signer,
            now=now,
            lifetime=timedelta(minutes=30),
        ).to_json()
        for _ in range(n)
    ]


def in_process(d: Path, url: str, namespace: str, items: list[bytes], budget: float) -> float:
    """Sequential admissions per second through one Admitter."""
    with open_store(url, namespace=namespace) as store:
        admitter = Admitter(
            trust=load_trust(d / "trust.toml"),
            policy=load_admission_policy(d / "policy.toml"),
            store=store,
        )
        admitter.admit(items[0], BELL, now=datetime.now(UTC))  # warm-up (qiskit, caches)
        done = 0
        t0 = time.perf_counter()
        for item in items[1:]:
            decision = admitter.admit(item, BELL, now=datetime.now(UTC))
            assert decision.admitted, decision.failures
            done += 1
            if time.perf_counter() - t0 > budget:
                break
        return done / (time.perf_counter() - t0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gateway(d: Path, url: str, namespace: str, workers: int, extra: str = ""):  # type: ignore[no-untyped-def]
    port = free_port()
    config = d / f"gw-{namespace}.toml"
    config.write_text(
        f'version = 1\ntrust = "trust.toml"\npolicy = "policy.toml"\nstore = {json.dumps(url)}\n'
        f'store_namespace = "{namespace}"\nhost = "127.0.0.1"\nport = {port}\n'
        f'workers = {workers}\nlog_level = "warning"\nadmission_threads = 8\n' + extra
    )
    log = (d / f"gw-{namespace}.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from qprov._cli import main; main()",
            "gateway",
            "serve",
            "--config",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # workers import qiskit and warm Aer up
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("gateway exited at start")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(base + "/v1/health", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("gateway did not start")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def over_http(
    base: str, items: list[bytes], clients: int, budget: float, path: str = "/v1/admissions"
) -> tuple[float, list[float]]:
    """Admissions (or jobs) per second and per-request latencies with ``clients`` clients."""
    bodies = [
        json.dumps({"bundle": json.loads(b), "circuit": base64.b64encode(BELL).decode()}).encode()
        for b in items
    ]
    local = threading.local()
    headers = {"Content-Type": "application/json"}
    stop_at = time.perf_counter() + budget

    def one(body: bytes) -> float | None:
        if time.perf_counter() > stop_at:
            return None
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        t0 = time.perf_counter()
        response = session.post(base + path, data=body, headers=headers, timeout=120)
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200, response.text
        assert response.json()["verdict"] == "admitted", response.text
        return elapsed

    with ThreadPoolExecutor(clients) as pool:  # warm-up: one request per client thread
        list(pool.map(one, bodies[:clients]))
        t0 = time.perf_counter()
        latencies = [x for x in pool.map(one, bodies[clients:]) if x is not None]
        wall = time.perf_counter() - t0
    return len(latencies) / wall, latencies


def jobs_in_process(
    d: Path, store_url: str, log_url: str, namespace: str, items: list[bytes], budget: float
) -> tuple[float, list[float]]:
    """Sequential ``JobGateway.submit()``: jobs per second and latencies."""
    lines = (d / "log.skey").read_text().splitlines()
    with (
        open_store(store_url, namespace=namespace) as store,
        JobGateway(
            trust=load_trust(d / "trust.toml"),
            policy=load_admission_policy(d / "policy.toml"),
            store=store,
            log=log_url,
            signer=load_signer(f"file:{d / 'gateway.key'}"),
            log_signers=[parse_skey(line) for line in lines if line.strip()],
            backend=AerBackend(names=("aer",)),
        ) as jobs,
    ):
        assert jobs.submit(items[0], BELL).admitted  # warm-up (qiskit, Aer, caches)
        latencies: list[float] = []
        t0 = time.perf_counter()
        for item in items[1:]:
            s = time.perf_counter()
            outcome = jobs.submit(item, BELL)
            latencies.append(time.perf_counter() - s)
            assert outcome.admitted
            assert outcome.receipt_bundle is not None
            if time.perf_counter() - t0 > budget:
                break
        return len(latencies) / (time.perf_counter() - t0), latencies


def jobs_config(log_url: str, threads: int) -> str:
    return (
        'signing_key = "file:gateway.key"\n'
        f'[log]\nurl = {json.dumps(log_url)}\nkeys = "log.skey"\n'
        f'[jobs]\nbackend_names = ["aer"]\nthreads = {threads}\n'
    )


def bench_jobs(d: Path, signer: CompositeSigner, stores: list[tuple[str, str]], args: Any) -> None:
    n = max(5, min(args.jobs, 2000))
    print(
        f"\n# jobs: {n} distinct manifests per phase (Bell, 100 shots, Aer), "
        f"{args.job_clients} HTTP clients, {args.workers} workers x {args.job_threads} job threads"
    )
    print(
        f"{'store+log':<11} {'in-proc/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'HTTP/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'n':>5}"
    )
    for name, url in stores:
        ns_in, ns_http = f"ji{uuid.uuid4().hex[:10]}", f"jh{uuid.uuid4().hex[:10]}"
        if name == "sqlite":
            log_in, log_http = (
                f"sqlite:///{d / (ns_in + '-log.db')}",
                f"sqlite:///{d / (ns_http + '-log.db')}",
            )
        else:
            log_in, log_http = f"{url}?schema={ns_in}", f"{url}?schema={ns_http}"
        try:
            rate_in, lat_in = jobs_in_process(
                d, url, log_in, ns_in, bundles(signer, n + 1), args.max_seconds
            )
            extra = jobs_config(log_http, args.job_threads)
            with gateway(d, url, ns_http, args.workers, extra) as base:
                rate_http, lat = over_http(
                    base,
                    bundles(signer, n + args.job_clients),
                    args.job_clients,
                    args.max_seconds,
                    "/v1/jobs",
                )
        finally:
            if name == "postgresql":
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    for ns in (ns_in, ns_http):
                        for table in ("nonces", "quota", "decisions"):
                            conn.execute(f"DROP TABLE IF EXISTS {ns}_{table}")
                        conn.execute(f'DROP SCHEMA IF EXISTS "{ns}" CASCADE')
        print(
            f"{name:<11} {rate_in:>10.1f} {1000 * statistics.median(lat_in):>8.1f} "
            f"{1000 * pct(lat_in, 0.99):>8.1f} {rate_http:>8.1f} "
            f"{1000 * statistics.median(lat):>8.1f} {1000 * pct(lat, 0.99):>8.1f} "
            f"{rate_http / rate_in:>6.2f} {len(lat):>5}"
        )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="admissions per phase (<= 5000)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per phase")
    parser.add_argument("--jobs", type=int, default=60, help="jobs per phase (0: skip)")
    parser.add_argument("--job-clients", type=int, default=4)
    parser.add_argument("--job-threads", type=int, default=2, help="[jobs] threads")
    parser.add_argument("--skip-admissions", action="store_true")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    count = max(20, min(args.count, 5000))
    print(
        f"# {count} distinct manifests per phase ({ALG}), {args.clients} HTTP clients, "
        f"{args.workers} workers, {os.cpu_count()} CPUs, loopback"
    )
    with tempfile.TemporaryDirectory(prefix="qprov-bench-gw-") as tmp:
        d = Path(tmp)
        signer = write_env(d)
        stores = [("sqlite", f"sqlite:///{d / 'bench.db'}")]
        try:
            open_store(args.postgres, namespace="benchprobe").close()
            stores.append(("postgresql", args.postgres))
        except ServiceUnavailableError as exc:
            print(f"# PostgreSQL skipped: {exc}")
        print(
            f"{'store':<11} {'in-process/s':>13} {'HTTP/s':>9} {'ratio':>6} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'n':>5}"
        )
        for name, url in [] if args.skip_admissions else stores:
            ns_in, ns_http = f"bi{uuid.uuid4().hex[:10]}", f"bh{uuid.uuid4().hex[:10]}"
            try:
                rate_in = in_process(d, url, ns_in, bundles(signer, count + 1), args.max_seconds)
                with gateway(d, url, ns_http, args.workers) as base:
                    rate_http, lat = over_http(
                        base, bundles(signer, count + args.clients), args.clients, args.max_seconds
                    )
            finally:
                if name == "postgresql":
                    import psycopg

                    with psycopg.connect(url, autocommit=True) as conn:
                        for ns in (ns_in, ns_http):
                            for table in ("nonces", "quota", "decisions"):
                                conn.execute(f"DROP TABLE IF EXISTS {ns}_{table}")
            print(
                f"{name:<11} {rate_in:>13.1f} {rate_http:>9.1f} {rate_http / rate_in:>6.2f} "
                f"{1000 * statistics.median(lat):>8.2f} {1000 * pct(lat, 0.99):>8.2f} "
                f"{len(lat):>5}"
            )
        if args.jobs > 0:
            bench_jobs(d, signer, stores, args)


if __name__ == "__main__":
    main()
