"""The same storage suite on SQLite and on real PostgreSQL; concurrency; crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qprov.errors import ConfigError, MalformedInputError, ProofError
from qprov.tlog import (
    MAX_ENTRY_BYTES,
    Log,
    NoteSigner,
    parse_tile_path,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion_bundle,
)
from qprov.tlog import _merkle as m

TS = 1_700_000_000


def test_empty_log(store_url: str) -> None:
    with Log.open(store_url) as log:
        st = log.tree()
        assert (st.size, st.root) == (0, m.EMPTY_ROOT)
        assert log.consistency_proof(0, 0) == []
        with pytest.raises(ProofError, match="not in a tree of size 0"):
            log.inclusion_proof(0)
        with pytest.raises(ProofError, match="no signed checkpoint"):
            log.latest_checkpoint()
        log.verify_integrity()


def test_append_roots_and_proofs_match_reference(store_url: str) -> None:
    entries = [b"e%d" % i for i in range(300)]
    leaves = [m.leaf_hash(e) for e in entries]
    with Log.open(store_url) as log:
        assert log.append_many(entries[:100]) == list(range(100))
        for i in range(100, 110):
            assert log.append(entries[i]) == i
        assert log.append_many(entries[110:]) == list(range(110, 300))
        assert log.tree().root == m.root_of_leaves(leaves)
        for size in (1, 2, 7, 64, 255, 256, 257, 300):
            assert log.root_at(size) == m.root_of_leaves(leaves[:size])
        for index, size in [(0, 1), (5, 300), (255, 256), (299, 300), (128, 257)]:
            proof = log.inclusion_proof(index, size)
            m.verify_inclusion(index, size, leaves[index], proof, m.root_of_leaves(leaves[:size]))
        for old, new in [(1, 300), (7, 8), (100, 257), (256, 300), (300, 300)]:
            proof = log.consistency_proof(old, new)
            r1, r2 = m.root_of_leaves(leaves[:old]), m.root_of_leaves(leaves[:new])
            m.verify_consistency(old, new, proof, r1, r2)
        assert log.entry(42) == b"e42"
        assert log.index_of(b"e42") == 42
        with pytest.raises(ProofError, match="not in the log"):
            log.index_of(b"absent")
        assert log.verify_integrity().size == 300


def test_checkpoint_bundle_and_consistency(
    store_url: str, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    with Log.open(store_url) as log:
        log.append_many([b"a", b"b", b"c"])
        first = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS), vkeys)
        log.append_many([b"d", b"e"])
        note = log.sign_checkpoint(signers, timestamp=TS + 5)
        second = verify_checkpoint(note, vkeys)
        assert log.latest_checkpoint() == note
        verify_consistency(first, second, log.consistency_proof(first.size, second.size))
        bundle = log.prove_inclusion(b"d")
        assert bundle.index == 3
        assert verify_inclusion_bundle(b"d", bundle.to_bytes(), vkeys).size == 5


def test_entry_size_limit(store_url: str) -> None:
    with Log.open(store_url) as log:
        with pytest.raises(MalformedInputError, match="limit"):
            log.append(b"x" * (MAX_ENTRY_BYTES + 1))
        assert log.tree().size == 0


def test_tiles_export_and_read(store_url: str, tmp_path: Path, signers: list[NoteSigner]) -> None:
    entries = [b"entry %d" % i for i in range(600)]
    with Log.open(store_url) as log:
        log.append_many(entries)
        log.sign_checkpoint(signers, timestamp=TS)
        assert log.export_tiles(tmp_path / "www") == 600
        log.append(b"after the checkpoint")  # export follows the checkpoint, not the tree
        files = sorted(
            p.relative_to(tmp_path / "www").as_posix()
            for p in (tmp_path / "www").rglob("*")
            if p.is_file()
        )
        assert files == [
            "checkpoint",
            "tile/0/000",
            "tile/0/001",
            "tile/0/002.p/88",
            "tile/1/000.p/2",
            "tile/entries/000",
            "tile/entries/001",
            "tile/entries/002.p/88",
        ]
        for f in files:
            assert (tmp_path / "www" / f).read_bytes() == log.read_tile(f, size=600)
        leaves = [m.leaf_hash(e) for e in entries]
        assert log.read_tile("tile/0/001") == b"".join(leaves[256:512])
        # Level-1 tile: hashes of level 8, i.e. of each full 256-leaf subtree.
        lvl1 = log.read_tile("tile/1/000.p/2", size=600)
        assert lvl1 == m.root_of_leaves(leaves[:256]) + m.root_of_leaves(leaves[256:512])
        bundle = log.read_tile("tile/entries/002.p/88", size=600)
        assert bundle[:2] == len(entries[512]).to_bytes(2, "big")
        with pytest.raises(ProofError, match="beyond the tree"):
            log.read_tile("tile/0/003")
        assert parse_tile_path("tile/0/002.p/88").count == 88


def test_bad_store_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported"):
        Log.open("mysql://x")
    with pytest.raises(ConfigError, match="three slashes"):
        Log.open("sqlite://host/x")
    with pytest.raises(ConfigError, match="unknown sqlite URL parameter"):
        Log.open(f"sqlite:///{tmp_path}/x.sqlite?bogus=1")


_WRITER = textwrap.dedent(
    """
    import sys
    from qprov.tlog import Log
    url, tag, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with Log.open(url) as log:
        for i in range(0, count, batch):
            items = [f"{tag}-{j}".encode() for j in range(i, min(i + batch, count))]
            for idx in log.append_many(items):
                print(idx, flush=True)
    """
)


def _writer(url: str, tag: str, count: int, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, tag, str(count), str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres
def test_concurrent_writers_postgres(pg_schema: str) -> None:
    """Several processes appending at once: no gap, no duplicate index, tree verifies."""
    from ._util import pg_url_with_schema

    url = pg_url_with_schema(pg_schema)
    Log.open(url).close()  # create tables once; writers also race to create them
    procs = [_writer(url, f"w{k}", 120, 1 + k * 3) for k in range(4)]
    acked: list[int] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        acked.extend(int(x) for x in out.split())
    assert sorted(acked) == list(range(480))
    with Log.open(url) as log:
        assert log.verify_integrity().size == 480
        stored = set(log._store.entries(0, 480))
        assert stored == {f"w{k}-{j}".encode() for k in range(4) for j in range(120)}


def test_concurrent_writers_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.sqlite"
    procs = [_writer(url, f"w{k}", 80, 5) for k in range(3)]
    acked = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        acked.extend(int(x) for x in out.split())
    assert sorted(acked) == list(range(240))
    with Log.open(url) as log:
        assert log.verify_integrity().size == 240


_CRASHER = textwrap.dedent(
    """
    import sys
    from qprov.tlog import Log, generate_signer
    url = sys.argv[1]
    signer = generate_signer("crash.test/log", 1, seed=bytes(32))
    log = Log.open(url)
    i = 0
    while True:
        batch = [f"entry-{j}".encode() for j in range(i, i + 1 + i % 7)]
        for idx in log.append_many(batch):
            print(idx, flush=True)
        i += len(batch)
        if i % 5 == 0:
            log.sign_checkpoint([signer], timestamp=1)
    """
)


def test_crash_safety_sigkill(store_url: str) -> None:
    """SIGKILL in the middle of appends: the log reopens, verifies, and holds
    every acknowledged entry."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, store_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 60
    while len(acked) < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 400, "writer did not get going"
    # Lines printed before the kill but not yet read are acknowledged too.
    rest = proc.stdout.read()
    proc.stdout.close()
    acked.extend(int(x) for x in rest.split())
    with Log.open(store_url) as log:
        state = log.verify_integrity()
        assert state.size >= len(acked)
        assert acked == list(range(len(acked)))
        stored = log._store.entries(0, len(acked))
        assert stored == [f"entry-{i}".encode() for i in acked]
        # The log accepts appends again after the crash.
        assert log.append(b"after crash") == state.size
        assert log.verify_integrity().size == state.size + 1
