"""Benchmark of qprov.tlog: appends/s (single, batched) on SQLite and PostgreSQL,
and proof generation/verification at a large tree size (default 1,000,000).

Proofs are measured three ways on the large tree: 100 spread indexes from a cold
node-hash cache (each proof's first read of its nodes), the gateway's pattern
(append one entry, then the root and the inclusion proof of that entry at the new
size), and --random warm proofs of random indexes; the node-hash cache's entries
and approximate bytes are printed after each, so its bound can be judged.

Prints figures against published anchors as ratios:
  Trillian on MySQL ~400-500 appends/s (we use 450); Tessera on POSIX up to ~10,000/s.
And against the raw primitive: SHA-256 leaf+node hashing of the same entries.

    python scripts/bench/bench_tlog.py --size 1000000
    python scripts/bench/bench_tlog.py --size 100000 --no-postgres
    python scripts/bench/bench_tlog.py --node-cache 0 --cache-kib 65536   # compare settings
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import uuid

from qprov.tlog import Log
from qprov.tlog import _merkle as m
from qprov.tlog._log import DEFAULT_NODE_CACHE
from qprov.tlog._store import DEFAULT_SQLITE_CACHE_KIB

TRILLIAN_MYSQL = 450.0
TESSERA_POSIX = 10_000.0
NODE_CACHE = DEFAULT_NODE_CACHE  # --node-cache
PG_URL = os.environ.get("QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _line(label: str, per_s: float) -> None:
    print(
        f"  {label:<34} {per_s:>12,.0f}/s   x{per_s / TRILLIAN_MYSQL:7.2f} Trillian/MySQL"
        f"   x{per_s / TESSERA_POSIX:6.2f} Tessera/POSIX"
    )


def bench_appends(url: str, name: str, singles: int, batch: int, batches: int) -> None:
    with Log.open(url, node_cache=NODE_CACHE) as log:
        t = time.perf_counter()
        for i in range(singles):
            log.append(b"single %d" % i)
        _line(f"{name} single append", _rate(singles, time.perf_counter() - t))
        t = time.perf_counter()
        for b in range(batches):
            log.append_many([b"batch %d %d" % (b, i) for i in range(batch)])
        _line(f"{name} append_many({batch})", _rate(batch * batches, time.perf_counter() - t))


def _cache(log: Log) -> str:
    """Entries and approximate bytes of the log's node-hash cache (a private attribute)."""
    cache = log._nodes._data  # measuring the cache itself
    size = sys.getsizeof(cache) + sum(
        sys.getsizeof(k) + sys.getsizeof(v) for k, v in list(cache.items())
    )
    return f"node cache {len(cache):,} entries ~{size / 2**20:.2f} MiB"


def bench_workloads(url: str, name: str, appends: int, randoms: int) -> None:
    """The gateway's pattern (append, then prove the new entry) and random warm proofs."""
    with Log.open(url, node_cache=NODE_CACHE) as log:
        prove = 0.0
        t = time.perf_counter()
        for i in range(appends):
            index = log.append(b"gateway %d" % i)
            p = time.perf_counter()
            n = index + 1
            root = log.root_at(n)
            proof = log.inclusion_proof(index, n)
            prove += time.perf_counter() - p
            m.verify_inclusion(index, n, m.leaf_hash(b"gateway %d" % i), proof, root)
        total = time.perf_counter() - t
        print(
            f"  {name} append+prove latest: {_rate(appends, total):,.0f}/s,"
            f" prove part {prove / appends * 1e3:.3f} ms; {_cache(log)}"
        )
        n = log.tree().size
        rng = random.Random(1)
        idxs = [rng.randrange(n) for _ in range(randoms)]
        t = time.perf_counter()
        for i in idxs:
            log.inclusion_proof(i, n)
        gen = (time.perf_counter() - t) / randoms
        print(
            f"  {name} {randoms} random inclusion proofs at size {n:,}: "
            f"generate {gen * 1e3:.3f} ms each; {_cache(log)}"
        )


def bench_proofs(url: str, name: str, size: int, chunk: int) -> None:
    with Log.open(url, node_cache=NODE_CACHE) as log:
        have = log.tree().size
        t = time.perf_counter()
        for start in range(have, size, chunk):
            stop = min(start + chunk, size)
            log.append_many([b"entry %d" % i for i in range(start, stop)])
        if size > have:
            _line(
                f"{name} build {size:,} (batch {chunk})",
                _rate(size - have, time.perf_counter() - t),
            )
        tree = log.tree()
        n = tree.size
        idxs = [(n * k) // 101 for k in range(100)]
        t = time.perf_counter()
        proofs = [log.inclusion_proof(i) for i in idxs]
        gen = (time.perf_counter() - t) / len(idxs)
        leaves = [m.leaf_hash(log.entry(i)) for i in idxs]
        t = time.perf_counter()
        for i, leaf, proof in zip(idxs, leaves, proofs, strict=True):
            m.verify_inclusion(i, n, leaf, proof, tree.root)
        ver = (time.perf_counter() - t) / len(idxs)
        print(
            f"  {name} inclusion proof at size {n:,}: generate {gen * 1e3:.3f} ms,"
            f" verify {ver * 1e3:.3f} ms, {len(proofs[1])} hashes"
        )
        olds = [max(1, (n * k) // 97) for k in range(1, 96)]
        t = time.perf_counter()
        cproofs = [log.consistency_proof(o, n) for o in olds]
        gen = (time.perf_counter() - t) / len(olds)
        roots = [log.root_at(o) for o in olds]
        t = time.perf_counter()
        for o, r, p in zip(olds, roots, cproofs, strict=True):
            m.verify_consistency(o, n, p, r, tree.root)
        ver = (time.perf_counter() - t) / len(olds)
        print(
            f"  {name} consistency proof to size {n:,}: generate {gen * 1e3:.3f} ms,"
            f" verify {ver * 1e3:.3f} ms"
        )


def bench_primitive(n: int) -> None:
    data = [b"entry %d" % i for i in range(n)]
    t = time.perf_counter()
    leaves = [m.leaf_hash(d) for d in data]
    m.extend_frontier(0, [], leaves)
    _line("raw hashing (leaf+nodes, no I/O)", _rate(n, time.perf_counter() - t))
    t = time.perf_counter()
    for d in data:
        hashlib.sha256(d).digest()
    _line("raw SHA-256 only", _rate(n, time.perf_counter() - t))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1_000_000, help="tree size for proof figures")
    ap.add_argument("--singles", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--gateway-appends", type=int, default=300, help="append+prove rounds")
    ap.add_argument("--random", type=int, default=5000, help="random warm proofs")
    ap.add_argument("--node-cache", type=int, default=DEFAULT_NODE_CACHE,
                    help="node-hash cache bound per Log, in hashes (0: off)")  # fmt: skip
    ap.add_argument("--cache-kib", type=int, default=DEFAULT_SQLITE_CACHE_KIB,
                    help="SQLite page cache per connection, KiB")  # fmt: skip
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    global NODE_CACHE  # noqa: PLW0603 - a script's setting
    NODE_CACHE = args.node_cache
    tmp = tempfile.mkdtemp(prefix="qprov-bench-")
    print(
        f"qprov.tlog benchmark (anchors: Trillian/MySQL {TRILLIAN_MYSQL:.0f}/s, "
        f"Tessera/POSIX {TESSERA_POSIX:.0f}/s); node cache {args.node_cache} hashes, "
        f"SQLite page cache {args.cache_kib} KiB"
    )
    bench_primitive(200_000)
    targets = [
        (f"sqlite:///{tmp}/bench.sqlite?cache_kib={args.cache_kib}", "SQLite(WAL,sync=FULL)")
    ]
    if not args.no_postgres:
        schema = f"qprov_bench_{uuid.uuid4().hex[:8]}"
        targets.append((f"{PG_URL}?schema={schema}", "PostgreSQL"))
    for url, name in targets:
        bench_appends(url, name, args.singles, args.batch, args.batches)
    for url, name in targets:
        bench_proofs(url, name, args.size, 10_000)
        bench_workloads(url, name, args.gateway_appends, args.random)
    if not args.no_postgres:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
