"""The transparency log: append, prove, checkpoint, export tiles."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NewType

from qprov._io import atomic_write
from qprov.errors import EnvironmentProblemError, MalformedInputError, ProofError
from qprov.tlog import _merkle
from qprov.tlog._bundle import ProofBundle
from qprov.tlog._checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from qprov.tlog._merkle import NodeId
from qprov.tlog._note import NoteSigner, parse_note
from qprov.tlog._store import Store, TreeState, open_store
from qprov.tlog._tilepath import TILE_HEIGHT, TILE_WIDTH, TileRef, parse_tile_path, tiles_for_size

__all__ = ["MAX_ENTRY_BYTES", "Log", "LogIndex", "write_file_atomic"]

_log = logging.getLogger(__name__)

LogIndex = NewType("LogIndex", int)
#: tlog-tiles entry bundles prefix each entry with a uint16 length.
MAX_ENTRY_BYTES = 0xFFFF
_CACHE_LIMIT = 1 << 18


def write_file_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent directories (never partial)."""
    atomic_write(path, data, make_parents=True)


class Log:
    """An RFC 9162 log over a :class:`Store`. Not thread-safe; one per thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[NodeId, bytes] = {}

    @classmethod
    def open(cls, url: str) -> Log:
        """Open (creating if needed) the log at a store URL (sqlite:///, postgresql://)."""
        return cls(open_store(url))

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
        state = self._store.append(items, leaves)
        first = state.size - len(items)
        return [LogIndex(first + i) for i in range(len(items))]

    # -- reading -------------------------------------------------------------------

    def tree(self) -> TreeState:
        """Current size, root and frontier."""
        return self._store.state()

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
        missing = [n for n in nodes if n not in self._cache]
        if missing:
            got = self._store.hashes(missing)
            if len(got) != len(set(missing)):
                raise EnvironmentProblemError("log storage lacks hashes it should have")
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache.update(got)  # complete subtrees never change
        return self._cache.__getitem__

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
        if cp.root != self.root_at(cp.size):
            raise ProofError(f"checkpoint of size {cp.size} does not match this log's tree")
        if not 0 <= index < cp.size:
            raise ProofError(f"entry {index} is not covered by the checkpoint of size {cp.size}")
        return ProofBundle(index, tuple(self.inclusion_proof(index, cp.size)), note, extra)

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
