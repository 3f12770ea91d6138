#!/usr/bin/env python3
"""Benchmark in-process admission against the raw cost of verifying the manifest signature.

In one run: the raw composite verification of a manifest envelope's PAE (the floor: admission
must at least verify it), then full admissions per second with one reused ``Admitter`` on a
SQLite store (WAL, synchronous=normal) and on PostgreSQL (when reachable), each admission a
distinct manifest (fresh nonce) for the same Bell circuit, and the same with the circuit
analysis cache disabled (every admission parses the OpenQASM and expands its gates with
qiskit); then the same with ``--threads`` concurrent callers sharing one Admitter (as a
gateway serves requests), and, on PostgreSQL, the cost of one round trip (``SELECT 1``) and
of one durable commit (a one-row INSERT with ``synchronous_commit`` as the server has it):
the floor of a sequential admission on PostgreSQL is the raw verify plus one such commit.
Also the floor of any admission written in Python: the JSON parse of the bundle and its
statement, the signature verify, and one SQLite transaction (nonce + a small record), with
no check at all; it shows how much of the 0.7 goal is left once the unavoidable work is done.
Prints rates and ratios to the raw rate (goal: >= 0.7).

    python scripts/bench/bench_admission.py [--iterations N] [--alg NAME] [--postgres URL]
        [--threads N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from admission._env import BELL, NOW, Env, Keys, write_env

from qprov._canon import loads_strict
from qprov.admission import Admitter
from qprov.dsse import pae
from qprov.errors import ServiceUnavailableError
from qprov.keys import CompositeSigner, PublicKey, generate_private_key
from qprov.manifest import parse_bundle
from qprov.store import Store, open_store


def rate(fn: Callable[[int], object], n: int) -> float:
    fn(-1)  # warm up (on a spare input)
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def floor(bundles: list[bytes], public: PublicKey, db: Path, n: int) -> float:
    """Admissions with every check removed: what Python must do at the least per submission."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_us INTEGER) WITHOUT ROWID")
    conn.execute("CREATE TABLE decisions (seq INTEGER PRIMARY KEY, record TEXT NOT NULL)")

    def one(i: int) -> None:
        envelope = loads_strict(bundles[i])["manifest"]
        payload = base64.b64decode(envelope["payload"])
        predicate = loads_strict(payload)["predicate"]
        sig = base64.b64decode(envelope["signatures"][0]["sig"])
        public.verify(sig, pae(envelope["payloadType"], payload))
        record = json.dumps(
            {
                "verdict": "admitted",
                "nonce": predicate["nonce"],
                "manifest": hashlib.sha256(payload).hexdigest(),
            }
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO nonces VALUES (?, ?)", (predicate["nonce"], 0))
        conn.execute("INSERT INTO decisions (record) VALUES (?)", (record,))
        conn.execute("COMMIT")

    try:
        return rate(one, n)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--alg", default="MLDSA65-Ed25519-SHA512", help="submitter key algorithm")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--threads", type=int, default=4, help="concurrent callers (0: skip)")
    args = parser.parse_args()
    n = args.iterations

    keys = Keys.generate()
    submitter = generate_private_key(args.alg)
    keys = Keys(submitter, *(getattr(keys, f) for f in list(Keys.__dataclass_fields__)[1:]))
    tmp = Path(tempfile.mkdtemp(prefix="qprov-bench-"))
    write_env(keys, tmp / "env")
    env = Env(keys, tmp / "env")
    print(f"qprov admission benchmark: {n} admissions, submitter {args.alg}, Bell circuit")
    print(f"python {sys.version.split()[0]}, {datetime.now(UTC).isoformat(timespec='seconds')}")

    bundles = [env.bundle(signer="submitter").to_json() for _ in range(2 * n + 1)]
    envelope = parse_bundle(bundles[0]).manifest
    pae, sig = envelope.pae(), envelope.signatures[0].sig
    public = submitter.public_key()
    raw = rate(lambda _: public.verify(sig, pae), n)
    print(f"\n{'raw composite verify of the manifest PAE':<52} {raw:9.0f} /s   1.00x")

    floor_rate = floor(bundles, public, tmp / "floor.db", n)
    print(
        f"{'floor: parse + verify + 1 SQLite commit, no checks':<52} {floor_rate:9.0f} /s   "
        f"{floor_rate / raw:.2f}x"
    )

    trust, policy = env.trust, env.policy
    _ = CompositeSigner  # signer-less admissions: the decision is recorded, not signed

    def bench(label: str, store: Store, cache: int, threads: int = 0) -> None:
        admitter = Admitter(trust=trust, policy=policy, store=store, circuit_cache_size=cache)
        decisions = []

        def one(i: int) -> None:
            decisions.append(admitter.admit(bundles[i], BELL, now=NOW))

        if threads:
            with ThreadPoolExecutor(threads) as pool:
                one(-1)
                start = time.perf_counter()
                list(pool.map(one, range(n, 2 * n)))  # bundles not used by the sequential run
                r = n / (time.perf_counter() - start)
            label = f"{label}, {threads} threads"
        else:
            r = rate(one, n)
        assert all(d.admitted for d in decisions), decisions[-1].failures
        print(f"{label:<52} {r:9.0f} /s   {r / raw:.2f}x")

    def postgres_costs(url: str, ns: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            table = f"{ns}_bench_commit"
            conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, t text NOT NULL)")
            try:
                sync = conn.execute("SHOW synchronous_commit").fetchone()
                text = "x" * 1600  # about an audit record
                for what, sql, params in (
                    ("  PostgreSQL round trip (SELECT 1)", "SELECT 1", None),
                    (
                        f"  PostgreSQL commit (INSERT, synchronous_commit={sync[0] if sync else '?'})",
                        f"INSERT INTO {table} (t) VALUES (%s)",  # noqa: S608 - our own name
                        (text,),
                    ),
                ):
                    r = rate(lambda _: conn.execute(sql, params), min(n, 1000))  # noqa: B023
                    print(f"{what:<52} {1e6 / r:9.0f} us")
            finally:
                conn.execute(f"DROP TABLE IF EXISTS {table}")

    # quota would refuse after a while: the benchmark policy has none
    policy = type(policy)(**{**policy.__dict__, "quota": None})

    runs = [(256, "circuit cache on", 0), (0, "circuit cache off", 0)]
    if args.threads > 0:
        runs.append((256, "circuit cache on", args.threads))
    for cache, what, threads in runs:
        with open_store(f"sqlite:///{tmp / f'store-{cache}-{threads}.db'}") as store:
            bench(f"admit, SQLite store, {what}", store, cache, threads)
        ns = f"b{uuid.uuid4().hex[:12]}"
        try:
            store = open_store(args.postgres, namespace=ns)
        except ServiceUnavailableError as exc:
            print(f"admit, PostgreSQL store: skipped ({exc})")
            continue
        try:
            bench(f"admit, PostgreSQL store, {what}", store, cache, threads)
            if cache and not threads:
                postgres_costs(args.postgres, ns)
        finally:
            store.close()
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                for table in ("nonces", "quota", "decisions"):
                    conn.execute(f"DROP TABLE IF EXISTS {ns}_{table}")


if __name__ == "__main__":
    main()
