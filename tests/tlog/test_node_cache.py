"""Bounded memory: the node-hash cache and the SQLite page cache of a log connection.

The cache of complete-subtree hashes never holds more than its bound, however many
entries the log gets and however many proofs it serves, and every root and proof
stays right while it evicts (a reader and a writer on one store included).
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest

from qprov.errors import ConfigError, ProofError
from qprov.tlog import Log, NoteSigner, Store, TreeState, open_store, verify_inclusion_bundle
from qprov.tlog import _merkle as m
from qprov.tlog._log import DEFAULT_NODE_CACHE
from qprov.tlog._merkle import NodeId
from qprov.tlog._store import DEFAULT_SQLITE_CACHE_KIB

TS = 1_700_000_000


class CountingStore:
    """A real store that counts the subtree hashes the log reads from it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.reads: list[NodeId] = []

    def state(self) -> TreeState:
        return self.inner.state()

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> TreeState:
        return self.inner.append(entries, leaf_hashes)

    def hashes(self, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        self.reads += nodes
        return self.inner.hashes(nodes)

    def hash_range(self, level: int, start: int, end: int) -> list[bytes]:
        return self.inner.hash_range(level, start, end)

    def entries(self, start: int, end: int) -> list[bytes]:
        return self.inner.entries(start, end)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self.inner.leaf_hashes(start, end)

    def find_leaf(self, leaf_hash: bytes) -> int | None:
        return self.inner.find_leaf(leaf_hash)

    def put_checkpoint(self, size: int, note: bytes) -> None:
        self.inner.put_checkpoint(size, note)

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        return self.inner.latest_checkpoint()

    def count_entries(self) -> tuple[int, int]:
        return self.inner.count_entries()

    def close(self) -> None:
        self.inner.close()


def _check_proofs(log: Log, leaves: list[bytes], rng: random.Random, bound: int) -> None:
    """Random inclusion and consistency proofs and roots, all against a reference tree."""
    n = len(leaves)
    root = m.root_of_leaves(leaves)
    for _ in range(20):
        i = rng.randrange(n)
        m.verify_inclusion(i, n, leaves[i], log.inclusion_proof(i, n), root)
        assert log.node_cache_size <= bound
    for _ in range(5):
        old = rng.randrange(1, n + 1)
        old_root = m.root_of_leaves(leaves[:old])
        assert log.root_at(old) == old_root
        if old < n:
            m.verify_consistency(old, n, log.consistency_proof(old, n), old_root, root)
        assert log.node_cache_size <= bound


@pytest.mark.parametrize("bound", [1, 16, 64])
def test_cache_stays_within_its_bound_and_every_proof_verifies(store_url: str, bound: int) -> None:
    """Appending over 40x more entries than the bound, with proofs all along."""
    rng = random.Random(bound)
    leaves: list[bytes] = []
    with Log.open(store_url, node_cache=bound) as log:
        for round_ in range(30):
            batch = [b"entry %d-%d" % (round_, i) for i in range(rng.randrange(100, 200))]
            log.append_many(batch)
            leaves += [m.leaf_hash(e) for e in batch]
            assert log.node_cache_size <= bound
            # the gateway's pattern: append one, prove it at the new size
            index = log.append(b"single %d" % round_)
            leaves.append(m.leaf_hash(b"single %d" % round_))
            n = index + 1
            m.verify_inclusion(
                index, n, leaves[index], log.inclusion_proof(index, n), log.root_at(n)
            )
            assert log.root_at(n) == log.tree().root == m.root_of_leaves(leaves)
            _check_proofs(log, leaves, rng, bound)
        assert len(leaves) > 40 * bound
        assert log.verify_integrity().size == len(leaves)


def test_default_bound_holds_over_many_random_proofs(tmp_path: Path) -> None:
    """A log well over the default bound: thousands of distinct proof nodes, bounded cache."""
    entries = [b"e%d" % i for i in range(20_000)]
    leaves = [m.leaf_hash(e) for e in entries]
    root = m.root_of_leaves(leaves)
    rng = random.Random(7)
    with Log.open(f"sqlite:///{tmp_path}/log.sqlite") as log:
        log.append_many(entries)
        distinct: set[NodeId] = set()
        for _ in range(3000):
            i = rng.randrange(len(entries))
            ranges = m.inclusion_ranges(i, len(entries))
            distinct.update(node for a, b in ranges for node in m.range_nodes(a, b))
            m.verify_inclusion(i, len(entries), leaves[i], log.inclusion_proof(i), root)
        assert len(distinct) > 2 * DEFAULT_NODE_CACHE  # the old cache would have kept them all
        assert log.node_cache_size == DEFAULT_NODE_CACHE


def test_memory_stays_flat_while_proving(tmp_path: Path) -> None:
    """Python heap growth over 3000 more random proofs, once the cache is full: none to speak of.

    An unbounded cache grows by ~180 bytes per new node, ~10 new nodes per proof here
    (over 5 MB); the bounded one replaces entries instead.
    """
    n = 50_000
    rng = random.Random(3)
    with Log.open(f"sqlite:///{tmp_path}/log.sqlite", node_cache=512) as log:
        log.append_many([b"e%d" % i for i in range(n)])
        for _ in range(500):  # fill the cache
            log.inclusion_proof(rng.randrange(n), n)
        assert log.node_cache_size == 512
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(3000):
                log.inclusion_proof(rng.randrange(n), n)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert log.node_cache_size == 512
        assert grown < 256 * 1024, f"heap grew by {grown} bytes"


def test_one_call_needing_more_nodes_than_the_bound_still_answers(tmp_path: Path) -> None:
    """Evicting while a call fills the cache never loses a hash that call needs."""
    entries = [b"x%d" % i for i in range(1000)]
    leaves = [m.leaf_hash(e) for e in entries]
    with Log.open(f"sqlite:///{tmp_path}/log.sqlite", node_cache=1) as log:
        log.append_many(entries)
        old, new = 333, 1000  # a proof of many hashes, each a separate node
        proof = log.consistency_proof(old, new)
        assert len(proof) > 1
        m.verify_consistency(
            old, new, proof, m.root_of_leaves(leaves[:old]), m.root_of_leaves(leaves)
        )
        assert log.root_at(999) == m.root_of_leaves(leaves[:999])
        assert log.node_cache_size <= 1


def test_zero_turns_the_cache_off(store_url: str) -> None:
    entries = [b"z%d" % i for i in range(100)]
    leaves = [m.leaf_hash(e) for e in entries]
    with Log.open(store_url, node_cache=0) as log:
        log.append_many(entries)
        for i in (0, 37, 99):
            proof = log.inclusion_proof(i)
            m.verify_inclusion(i, 100, leaves[i], proof, m.root_of_leaves(leaves))
        assert log.root_at(64) == m.root_of_leaves(leaves[:64])
        assert log.node_cache_size == 0


def test_newest_entry_is_proven_from_the_frontier_without_node_reads(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    """The right edge comes from the sequencer row: the gateway's append-then-prove reads
    no subtree hash once its frontier is known."""
    store = CountingStore(open_store(f"sqlite:///{tmp_path}/log.sqlite"))
    with Log(store, node_cache=64) as log:
        log.append_many([b"a%d" % i for i in range(1000)])
        for i in range(50):
            index = log.append(b"new %d" % i)
            store.reads.clear()
            note = log.sign_checkpoint(signers, timestamp=TS)
            bundle = log.prove_inclusion(index, checkpoint=note)
            assert store.reads == [], f"read {store.reads} for entry {index}"
            assert verify_inclusion_bundle(b"new %d" % i, bundle, vkeys).size == index + 1


def test_a_reader_cache_stays_right_while_another_connection_appends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.sqlite"
    leaves: list[bytes] = []
    rng = random.Random(11)
    with Log.open(url) as writer, Log.open(url, node_cache=32) as reader:
        for round_ in range(40):
            batch = [b"w %d %d" % (round_, i) for i in range(rng.randrange(1, 50))]
            writer.append_many(batch)
            leaves += [m.leaf_hash(e) for e in batch]
            n = reader.tree().size
            assert n == len(leaves)
            root = m.root_of_leaves(leaves)
            for i in (n - 1, rng.randrange(n)):
                m.verify_inclusion(i, n, leaves[i], reader.inclusion_proof(i, n), root)
            assert reader.node_cache_size <= 32


def test_a_checkpoint_ahead_of_the_tree_is_refused(
    tmp_path: Path, signers: list[NoteSigner]
) -> None:
    with (
        Log.open(f"sqlite:///{tmp_path}/a.sqlite") as a,
        Log.open(f"sqlite:///{tmp_path}/b.sqlite") as b,
    ):
        a.append_many([b"1", b"2", b"3"])
        b.append_many([b"1", b"2"])
        ahead = a.sign_checkpoint(signers, timestamp=TS)
        with pytest.raises(ProofError, match="checkpoint of size 3 does not match"):
            b.prove_inclusion(0, checkpoint=ahead)


@pytest.mark.parametrize("bad", [-1, 1 << 25, True, 1.5, "10"])
def test_cache_bound_is_checked(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigError, match="node_cache must be an integer"):
        Log.open(f"sqlite:///{tmp_path}/log.sqlite", node_cache=bad)  # type: ignore[arg-type]
    store = open_store(f"sqlite:///{tmp_path}/log.sqlite")
    try:
        with pytest.raises(ConfigError, match="node_cache must be an integer"):
            Log(store, node_cache=bad)  # type: ignore[arg-type]
    finally:
        store.close()


# -- the SQLite page cache ---------------------------------------------------------------------


def _cache_size(url: str) -> int:
    store = open_store(url)
    try:
        db = store._db  # type: ignore[attr-defined]  # the connection itself
        return int(db.execute("PRAGMA cache_size").fetchone()[0])
    finally:
        store.close()


def test_sqlite_page_cache_is_modest_by_default_and_set_by_the_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.sqlite"
    assert DEFAULT_SQLITE_CACHE_KIB <= 8192
    assert _cache_size(url) == -DEFAULT_SQLITE_CACHE_KIB  # negative: KiB
    assert _cache_size(url + "?cache_kib=1024") == -1024
    assert _cache_size(url + "?synchronous=normal&cache_kib=65536") == -65536


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("cache_kib=abc", "not a number of KiB"),
        ("cache_kib=-5", "not a number of KiB"),
        ("cache_kib=", "not a number of KiB"),
        ("cache_kib=10", r"cache_kib must be an integer in 64\.\.1048576"),
        ("cache_kib=2000000", r"cache_kib must be an integer in 64\.\.1048576"),
        ("cache_kib=99999999999", "not a number of KiB"),
        ("page_cache=10", "unknown sqlite URL parameter"),
    ],
)
def test_sqlite_page_cache_parameter_is_checked(tmp_path: Path, query: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_store(f"sqlite:///{tmp_path}/log.sqlite?{query}")
