"""The transparency log: append, prove, checkpoint, export tiles."""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, NewType

from qprov._io import atomic_write
from qprov.errors import ConfigError, EnvironmentProblemError, MalformedInputError, ProofError
from qprov.tlog import _merkle
from qprov.tlog._bundle import ProofBundle
from qprov.tlog._checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from qprov.tlog._merkle import NodeId
from qprov.tlog._note import NoteSigner, parse_note
from qprov.tlog._store import Store, TreeState, open_store
from qprov.tlog._tilepath import TILE_HEIGHT, TILE_WIDTH, TileRef, parse_tile_path, tiles_for_size

__all__ = ["DEFAULT_NODE_CACHE", "MAX_ENTRY_BYTES", "Log", "LogIndex", "write_file_atomic"]

_log = logging.getLogger(__name__)

LogIndex = NewType("LogIndex", int)
#: tlog-tiles entry bundles prefix each entry with a uint16 length.
MAX_ENTRY_BYTES = 0xFFFF
#: Default bound of a :class:`Log`'s node-hash cache, in hashes (about 256 bytes each
#: with the LRU bookkeeping: ~256 KiB). See :class:`_NodeCache` and docs/adr/0015.
DEFAULT_NODE_CACHE: Final = 1024
_MAX_NODE_CACHE: Final = 1 << 24


def write_file_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent directories (never partial)."""
    atomic_write(path, data, make_parents=True)


class _NodeCache:
    """A bounded LRU map of complete-subtree hashes, ``(level, index) -> hash``.

    A complete subtree's hash never changes once its last leaf is appended, so
    any subset of them is a correct cache and nothing ever needs invalidating;
    the only question is which subset is worth the memory. Two sets are hot:

    * the tree's right edge: the frontier (the complete subtrees covering
      ``[0, size)``) is exactly what the root at the current size and the
      inclusion proof of the newest entry are made of. :meth:`Log.append_many`
      and :meth:`Log.tree` insert it from the sequencer row, with no read;
    * the top of the tree: every inclusion proof at a large size passes through
      the few nodes of the upper levels, while its lower-level nodes are one-off.

    Both are touched by nearly every request and so stay recent; the one-off
    lower-level nodes of random-index proofs are the least recently used and go
    first. ``limit`` 0 turns the cache off (every proof reads all its nodes).
    """

    __slots__ = ("_data", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: OrderedDict[NodeId, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, node: NodeId) -> bytes | None:
        found = self._data.get(node)
        if found is not None:
            self._data.move_to_end(node)
        return found

    def put(self, node: NodeId, value: bytes) -> None:
        if self.limit <= 0:
            return
        data = self._data
        data[node] = value
        data.move_to_end(node)
        while len(data) > self.limit:
            data.popitem(last=False)


def _check_node_cache(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _MAX_NODE_CACHE:
        raise ConfigError(f"node_cache must be an integer in 0..{_MAX_NODE_CACHE}, not {limit!r}")
    return limit


class Log:
    """An RFC 9162 log over a :class:`Store`. Not thread-safe; one per thread.

    ``node_cache`` bounds the in-memory cache of subtree hashes that proofs are
    made of (in hashes; 0 turns it off): memory stays flat however large the
    log grows.
    """

    def __init__(self, store: Store, *, node_cache: int = DEFAULT_NODE_CACHE) -> None:
        self._nodes = _NodeCache(_check_node_cache(node_cache))
        self._store = store

    @classmethod
    def open(cls, url: str, *, node_cache: int = DEFAULT_NODE_CACHE) -> Log:
        """Open (creating if needed) the log at a store URL (sqlite:///, postgresql://)."""
        _check_node_cache(node_cache)
        return cls(open_store(url), node_cache=node_cache)

    @property
    def node_cache_size(self) -> int:
        """Subtree hashes held in memory now (never more than the ``node_cache`` bound)."""
        return len(self._nodes)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self._store.url

    # -- writing -----------------------------------------------------------------

    def append(self, entry: bytes) -> LogIndex:
        """Append one entry; returns its index once it is durably committed."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Sequence[bytes]) -> list[LogIndex]:
        """Append a batch in one transaction; returns the indexes, in order."""
        items = [bytes(e) for e in entries]
        if not items:
            return []
        for i, e in enumerate(items):
            if len(e) > MAX_ENTRY_BYTES:
                raise MalformedInputError(
                    f"entry {i} is {len(e)} bytes; the limit is {MAX_ENTRY_BYTES}"
                )
        leaves = [_merkle.leaf_hash(e) for e in items]
        state = self._remember(self._store.append(items, leaves))
        first = state.size - len(items)
        return [LogIndex(first + i) for i in range(len(items))]

    # -- reading -------------------------------------------------------------------

    def tree(self) -> TreeState:
        """Current size, root and frontier."""
        return self._remember(self._store.state())

    def _remember(self, state: TreeState) -> TreeState:
        """Cache the frontier of ``state``: the nodes the newest proofs and root are made of."""
        size, put = state.size, self._nodes.put
        for level, h in zip(_merkle.frontier_levels(size), state.frontier, strict=True):
            put((level, (size >> level) - 1), h)
        return state

    def entry(self, index: int) -> bytes:
        rows = self._store.entries(index, index + 1)
        if not rows:
            raise ProofError(f"log has no entry {index}")
        return rows[0]

    def index_of(self, entry: bytes) -> LogIndex:
        """Index of the first occurrence of ``entry``."""
        found = self._store.find_leaf(_merkle.leaf_hash(bytes(entry)))
        if found is None:
            raise ProofError("entry is not in the log")
        return LogIndex(found)

    def _hashes(self, nodes: Sequence[NodeId]) -> Callable[[NodeId], bytes]:
        # The answer is a local map, so the cache may evict while filling without
        # losing a hash this call needs.
        found: dict[NodeId, bytes] = {}
        missing: list[NodeId] = []
        get = self._nodes.get
        for node in nodes:
            if node in found:
                continue
            h = get(node)
            if h is None:
                missing.append(node)
            else:
                found[node] = h
        if missing:
            missing = list(dict.fromkeys(missing))
            got = self._store.hashes(missing)
            if len(got) != len(missing) or not all(n in got for n in missing):
                raise EnvironmentProblemError("log storage lacks hashes it should have")
            put = self._nodes.put
            for node in missing:
                h = got[node]
                found[node] = h
                put(node, h)  # complete subtrees never change
        return found.__getitem__

    def _range_hashes(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        ranges = list(ranges)
        nodes = [n for a, b in ranges for n in _merkle.range_nodes(a, b)]
        get = self._hashes(nodes)
        return [_merkle.range_hash(a, b, get) for a, b in ranges]

    def root_at(self, size: int) -> bytes:
        """Root hash of the tree at an earlier (or the current) size."""
        if size == 0:
            return _merkle.EMPTY_ROOT
        return self._range_hashes([(0, size)])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``."""
        size = self.tree().size if size is None else size
        self._check_size(size)
        return self._range_hashes(_merkle.inclusion_ranges(index, size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof; empty for old_size 0 or old_size == new_size."""
        new_size = self.tree().size if new_size is None else new_size
        self._check_size(new_size)
        if old_size < 0 or old_size > new_size:
            raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        return self._range_hashes(_merkle.consistency_ranges(old_size, new_size))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.tree().size:
            raise ProofError(f"log has no tree of size {size}")

    # -- checkpoints ---------------------------------------------------------------

    def sign_checkpoint(
        self,
        signers: Sequence[NoteSigner],
        *,
        origin: str | None = None,
        timestamp: int | None = None,
        extensions: Sequence[str] = (),
    ) -> bytes:
        """Sign the current tree head, store it as the latest checkpoint, return the note."""
        if not signers:
            raise MalformedInputError("a checkpoint needs at least one signer")
        state = self.tree()
        cp = Checkpoint(origin or signers[0].name, state.size, state.root, tuple(extensions))
        note = sign_checkpoint(
            cp, signers, timestamp=int(time.time()) if timestamp is None else timestamp
        )
        self._store.put_checkpoint(state.size, note)
        return note

    def latest_checkpoint(self) -> bytes:
        """The latest signed checkpoint stored by :meth:`sign_checkpoint`."""
        found = self._store.latest_checkpoint()
        if found is None:
            raise ProofError("log has no signed checkpoint yet (run 'qprov log checkpoint')")
        return found[1]

    def prove_inclusion(
        self, entry: int | bytes, *, checkpoint: bytes | None = None, extra: bytes | None = None
    ) -> ProofBundle:
        """A c2sp.org/tlog-proof bundle for an entry (by index, or by its bytes)
        against ``checkpoint`` (default: the latest stored one)."""
        note = self.latest_checkpoint() if checkpoint is None else checkpoint
        cp = parse_checkpoint(parse_note(note).text)
        index = self.index_of(entry) if isinstance(entry, bytes | bytearray) else int(entry)
        state = self.tree()
        if cp.size > state.size or cp.root != (
            state.root if cp.size == state.size else self.root_at(cp.size)
        ):
            raise ProofError(f"checkpoint of size {cp.size} does not match this log's tree")
        if not 0 <= index < cp.size:
            raise ProofError(f"entry {index} is not covered by the checkpoint of size {cp.size}")
        hashes = self._range_hashes(_merkle.inclusion_ranges(index, cp.size))
        return ProofBundle(index, tuple(hashes), note, extra)

    # -- integrity -----------------------------------------------------------------

    def verify_integrity(self, *, chunk: int = 65536) -> TreeState:
        """Recompute the root from every stored leaf and compare it with the
        sequencer state and the latest checkpoint. Raises ProofError."""
        state = self.tree()
        count, end = self._store.count_entries()
        if count != state.size or end != state.size:
            raise ProofError(
                f"log has {count} entry rows up to index {end - 1} but tree size {state.size}"
            )
        latest = self._store.latest_checkpoint()
        cp = parse_checkpoint(parse_note(latest[1]).text) if latest else None
        if cp is not None and cp.size > state.size:
            raise ProofError(f"checkpoint of size {cp.size} is ahead of the tree ({state.size})")
        size, frontier = 0, list[bytes]()
        for start in range(0, state.size, chunk):
            stop = min(start + chunk, state.size)
            data = self._store.entries(start, stop)
            leaves = self._store.leaf_hashes(start, stop)
            for i, (d, h) in enumerate(zip(data, leaves, strict=True)):
                if _merkle.leaf_hash(d) != h:
                    raise ProofError(f"entry {start + i} does not match its stored leaf hash")
            if cp is not None and start < cp.size <= stop:
                _, f, _ = _merkle.extend_frontier(size, frontier, leaves[: cp.size - start])
                if _merkle.root_from_frontier(f) != cp.root:
                    raise ProofError(f"checkpoint of size {cp.size} does not match the entries")
            size, frontier, _ = _merkle.extend_frontier(size, frontier, leaves)
        if cp is not None and cp.size == 0 and cp.root != _merkle.EMPTY_ROOT:
            raise ProofError("checkpoint of size 0 has a non-empty root")
        if _merkle.root_from_frontier(frontier) != state.root:
            raise ProofError("recomputed root does not match the stored tree root")
        return state

    # -- tlog-tiles ----------------------------------------------------------------

    def read_tile(self, path: str, *, size: int | None = None) -> bytes:
        """Contents of a tlog-tiles resource of the tree of ``size`` (default: current).

        ``checkpoint`` is the latest signed checkpoint; ``tile/<L>/<N>[.p/<W>]``
        are concatenated hashes; ``tile/entries/<N>[.p/<W>]`` are entries each
        prefixed by a big-endian uint16 length.
        """
        if path == "checkpoint":
            return self.latest_checkpoint()
        ref = parse_tile_path(path)
        size = self.tree().size if size is None else size
        return self._tile(ref, size)

    def _tile(self, ref: TileRef, size: int) -> bytes:
        start, count = ref.index * TILE_WIDTH, ref.count
        if ref.level is None:
            if start + count > size:
                raise ProofError(f"{ref.path()} is beyond the tree of size {size}")
            rows = self._store.entries(start, start + count)
            return b"".join(len(e).to_bytes(2, "big") + e for e in rows)
        level = ref.level * TILE_HEIGHT
        if start + count > size >> level:
            raise ProofError(f"{ref.path()} is beyond the tree of size {size}")
        hashes = self._store.hash_range(level, start, start + count)
        if len(hashes) != count:
            raise EnvironmentProblemError(f"log storage lacks hashes of {ref.path()}")
        return b"".join(hashes)

    def export_tiles(self, directory: str | os.PathLike[str]) -> int:
        """Write the latest checkpoint and every tile of its tree under ``directory``.

        Files are written atomically; the checkpoint goes last, so a reader never
        sees a checkpoint whose tiles are missing. Returns the tree size.
        """
        note = self.latest_checkpoint()
        size = parse_checkpoint(parse_note(note).text).size
        root = Path(directory)
        refs = tiles_for_size(size)
        refs += [TileRef(None, i, 0) for i in range(size // TILE_WIDTH)]
        if size % TILE_WIDTH:
            refs.append(TileRef(None, size // TILE_WIDTH, size % TILE_WIDTH))
        for ref in refs:
            target = root / ref.path()
            if ref.width == 0 and target.exists():
                continue  # full tiles never change
            write_file_atomic(target, self._tile(ref, size))
        write_file_atomic(root / "checkpoint", note)
        return size
