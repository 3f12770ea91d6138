"""Log storage behind a small interface: SQLite (default) and PostgreSQL.

Both backends keep the same three tables:

* ``state``: one row (size, root, frontier), the sequencer. Every append
  locks it (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT ... FOR UPDATE``),
  so several writers (threads, processes, machines) get gap-free, duplicate-free
  indexes, and the new entries, interior nodes and new state commit atomically.
* ``entries``: (index, leaf hash, data).
* ``nodes``: every complete subtree hash of level >= 1, (level, index, hash),
  written once and never changed; proofs read O(log n) of them.

Checkpoints signed by the log are kept in ``checkpoints`` (size, note).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from qprov.errors import ConfigError, EnvironmentProblemError, ServiceUnavailableError
from qprov.tlog import _merkle
from qprov.tlog._merkle import NodeId

__all__ = [
    "DEFAULT_SQLITE_CACHE_KIB",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "TreeState",
    "open_store",
]

_log = logging.getLogger(__name__)
#: SQLite page cache per log connection, in KiB (``?cache_kib=`` in a sqlite URL).
#: Each connection fills its own cache up to this bound as it reads (until another
#: connection writes), and a gateway keeps one log connection per thread: 4 MiB keeps
#: the right edge of every table and the upper levels of its indexes in memory; the
#: rest comes from the OS page cache, which all connections and processes share
#: (docs/adr/0015).
DEFAULT_SQLITE_CACHE_KIB: Final = 4096
MIN_SQLITE_CACHE_KIB: Final = 64
MAX_SQLITE_CACHE_KIB: Final = 1 << 20
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_H = _merkle.HASH_SIZE


@dataclass(frozen=True)
class TreeState:
    """The sequencer row: tree size, root and frontier (compact range)."""

    size: int
    root: bytes
    frontier: tuple[bytes, ...]


def _pack(frontier: Sequence[bytes]) -> bytes:
    return b"".join(frontier)


def _unpack(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob[i : i + _H] for i in range(0, len(blob), _H))


def _state(size: int, root: bytes, frontier: bytes) -> TreeState:
    st = TreeState(int(size), bytes(root), _unpack(bytes(frontier)))
    if (
        len(st.frontier) != bin(st.size).count("1")
        or _merkle.root_from_frontier(st.frontier) != st.root
    ):
        raise EnvironmentProblemError("log state row is corrupt: frontier does not match root")
    return st


class Store(Protocol):
    """What the log needs from a database."""

    url: str

    def state(self) -> TreeState: ...

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> TreeState:
        """Sequence entries atomically; returns the new state (first index = size - len)."""
        ...

    def hashes(self, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]: ...

    def hash_range(self, level: int, start: int, end: int) -> list[bytes]: ...

    def entries(self, start: int, end: int) -> list[bytes]: ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...

    def find_leaf(self, leaf_hash: bytes) -> int | None: ...

    def put_checkpoint(self, size: int, note: bytes) -> None: ...

    def latest_checkpoint(self) -> tuple[int, bytes] | None: ...

    def count_entries(self) -> tuple[int, int]:
        """(number of entry rows, highest index + 1)."""
        ...

    def close(self) -> None: ...


# -- SQLite -----------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tlog_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL, root BLOB NOT NULL, frontier BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_entries (
    idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS tlog_entries_leaf ON tlog_entries (leaf_hash);
CREATE TABLE IF NOT EXISTS tlog_nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tlog_checkpoints (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
"""


class SqliteStore:
    """SQLite in WAL mode. ``synchronous=full`` by default: an acknowledged
    append survives a crash of the process and of the machine. ``cache_kib``
    bounds this connection's page cache."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "full",
        cache_kib: int = DEFAULT_SQLITE_CACHE_KIB,
        url: str = "",
    ) -> None:
        self.url = url or f"sqlite:///{path}"
        if synchronous.lower() not in ("full", "normal"):
            raise ConfigError("sqlite synchronous must be 'full' or 'normal'")
        if (
            isinstance(cache_kib, bool)
            or not isinstance(cache_kib, int)
            or not MIN_SQLITE_CACHE_KIB <= cache_kib <= MAX_SQLITE_CACHE_KIB
        ):
            raise ConfigError(
                f"sqlite cache_kib must be an integer in "
                f"{MIN_SQLITE_CACHE_KIB}..{MAX_SQLITE_CACHE_KIB}, not {cache_kib!r}"
            )
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EnvironmentProblemError(f"cannot open SQLite log {path}: {exc}") from None
        # Several processes may open a fresh log at once; SQLite can answer "database is
        # locked" without waiting (switching to WAL, WAL recovery): retry for a while.
        deadline = time.monotonic() + 60.0
        while True:
            try:
                self._db = self._open(path, synchronous, cache_kib)
                break
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise EnvironmentProblemError(f"cannot open SQLite log {path}: {exc}") from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                raise EnvironmentProblemError(f"cannot open SQLite log {path}: {exc}") from None

    @staticmethod
    def _open(path: str, synchronous: str, cache_kib: int) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
            db.execute("BEGIN IMMEDIATE")
            for stmt in _SQLITE_SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute(
                "INSERT OR IGNORE INTO tlog_state VALUES (1, 0, ?, ?)",
                (_merkle.EMPTY_ROOT, b""),
            )
            db.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.close()
            raise
        return db

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise EnvironmentProblemError(f"SQLite log: {what}: {exc}") from None

    def state(self) -> TreeState:
        with self._errors("read state"):
            row = self._db.execute("SELECT size, root, frontier FROM tlog_state").fetchone()
        return _state(*row)

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> TreeState:
        db = self._db
        with self._errors("append"):
            db.execute("BEGIN IMMEDIATE")
            try:
                st = _state(*db.execute("SELECT size, root, frontier FROM tlog_state").fetchone())
                size, frontier, nodes = _merkle.extend_frontier(st.size, st.frontier, leaf_hashes)
                db.executemany(
                    "INSERT INTO tlog_entries (idx, leaf_hash, data) VALUES (?, ?, ?)",
                    zip(range(st.size, size), leaf_hashes, entries, strict=True),
                )
                db.executemany("INSERT INTO tlog_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
                root = _merkle.root_from_frontier(frontier)
                db.execute(
                    "UPDATE tlog_state SET size = ?, root = ?, frontier = ? WHERE id = 1",
                    (size, root, _pack(frontier)),
                )
                db.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (e.g. SQLITE_FULL): a second
                # ROLLBACK would fail and hide the real error.
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        return TreeState(size, root, tuple(frontier))

    def hashes(self, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        out: dict[NodeId, bytes] = {}
        with self._errors("read hashes"):
            for level, idx in nodes:
                if level == 0:
                    row = self._db.execute(
                        "SELECT leaf_hash FROM tlog_entries WHERE idx = ?", (idx,)
                    ).fetchone()
                else:
                    row = self._db.execute(
                        "SELECT hash FROM tlog_nodes WHERE level = ? AND idx = ?", (level, idx)
                    ).fetchone()
                if row is not None:
                    out[(level, idx)] = bytes(row[0])
        return out

    def hash_range(self, level: int, start: int, end: int) -> list[bytes]:
        with self._errors("read hashes"):
            if level == 0:
                return self.leaf_hashes(start, end)
            rows = self._db.execute(
                "SELECT hash FROM tlog_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
                (level, start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._errors("read leaf hashes"):
            rows = self._db.execute(
                "SELECT leaf_hash FROM tlog_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def entries(self, start: int, end: int) -> list[bytes]:
        with self._errors("read entries"):
            rows = self._db.execute(
                "SELECT data FROM tlog_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                (start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def find_leaf(self, leaf_hash: bytes) -> int | None:
        with self._errors("find entry"):
            row = self._db.execute(
                "SELECT MIN(idx) FROM tlog_entries WHERE leaf_hash = ?", (leaf_hash,)
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def put_checkpoint(self, size: int, note: bytes) -> None:
        with self._errors("store checkpoint"):
            self._db.execute(
                "INSERT OR REPLACE INTO tlog_checkpoints (size, note) VALUES (?, ?)", (size, note)
            )

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        with self._errors("read checkpoint"):
            row = self._db.execute(
                "SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def count_entries(self) -> tuple[int, int]:
        with self._errors("count entries"):
            row = self._db.execute("SELECT COUNT(*), MAX(idx) FROM tlog_entries").fetchone()
        return int(row[0]), (-1 if row[1] is None else int(row[1])) + 1

    def close(self) -> None:
        self._db.close()


# -- PostgreSQL -------------------------------------------------------------------

_PG_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tlog_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size BIGINT NOT NULL, root BYTEA NOT NULL, frontier BYTEA NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tlog_entries (
        idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, data BYTEA NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tlog_entries_leaf ON tlog_entries (leaf_hash)",
    """CREATE TABLE IF NOT EXISTS tlog_nodes (
        level SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx))""",
    """CREATE TABLE IF NOT EXISTS tlog_checkpoints (
        size BIGINT PRIMARY KEY, note BYTEA NOT NULL)""",
]
_PG_INIT_LOCK = 0x71_70_72_6F_76_6C_6F_67  # "qprovlog"


class PostgresStore:
    """PostgreSQL (psycopg 3), for a fleet of writers sharing one log."""

    def __init__(self, conninfo: str, *, schema: str | None = None, url: str = "") -> None:
        import psycopg

        self.url = url or conninfo
        self._psycopg = psycopg
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(f"bad PostgreSQL schema name {schema!r}")
        try:
            self._db: Any = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"cannot reach PostgreSQL log: {exc}") from None
        with self._errors("create tables"), self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_INIT_LOCK,))
            if schema is not None:
                self._db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                self._db.execute(f'SET search_path TO "{schema}"')
            for stmt in _PG_SCHEMA:
                self._db.execute(stmt)
            self._db.execute(
                "INSERT INTO tlog_state VALUES (1, 0, %s, %s) ON CONFLICT (id) DO NOTHING",
                (_merkle.EMPTY_ROOT, b""),
            )
        if schema is not None:
            self._db.execute(f'SET search_path TO "{schema}"')

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.OperationalError as exc:
            raise ServiceUnavailableError(f"PostgreSQL log: {what}: {exc}") from None
        except self._psycopg.Error as exc:
            raise EnvironmentProblemError(f"PostgreSQL log: {what}: {exc}") from None

    def state(self) -> TreeState:
        with self._errors("read state"):
            row = self._db.execute("SELECT size, root, frontier FROM tlog_state").fetchone()
        return _state(*row)

    def append(self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> TreeState:
        db = self._db
        with self._errors("append"), db.transaction():
            row = db.execute(
                "SELECT size, root, frontier FROM tlog_state WHERE id = 1 FOR UPDATE"
            ).fetchone()
            st = _state(*row)
            size, frontier, nodes = _merkle.extend_frontier(st.size, st.frontier, leaf_hashes)
            cur = db.cursor()
            with cur.copy(
                "COPY tlog_entries (idx, leaf_hash, data) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "bytea", "bytea"])
                for row_values in zip(range(st.size, size), leaf_hashes, entries, strict=True):
                    copy.write_row(row_values)
            if nodes:
                with cur.copy(
                    "COPY tlog_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int2", "int8", "bytea"])
                    for node in nodes:
                        copy.write_row(node)
            root = _merkle.root_from_frontier(frontier)
            db.execute(
                "UPDATE tlog_state SET size = %s, root = %s, frontier = %s WHERE id = 1",
                (size, root, _pack(frontier)),
            )
        return TreeState(size, root, tuple(frontier))

    def hashes(self, nodes: Sequence[NodeId]) -> dict[NodeId, bytes]:
        out: dict[NodeId, bytes] = {}
        leaves = [idx for level, idx in nodes if level == 0]
        inner = [(level, idx) for level, idx in nodes if level > 0]
        with self._errors("read hashes"):
            if leaves:
                for idx, h in self._db.execute(
                    "SELECT idx, leaf_hash FROM tlog_entries WHERE idx = ANY(%s)", (leaves,)
                ).fetchall():
                    out[(0, int(idx))] = bytes(h)
            if inner:
                rows = self._db.execute(
                    "SELECT n.level, n.idx, n.hash FROM tlog_nodes n "
                    "JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) "
                    "ON n.level = w.level AND n.idx = w.idx",
                    ([lv for lv, _ in inner], [i for _, i in inner]),
                ).fetchall()
                for level, idx, h in rows:
                    out[(int(level), int(idx))] = bytes(h)
        return out

    def hash_range(self, level: int, start: int, end: int) -> list[bytes]:
        if level == 0:
            return self.leaf_hashes(start, end)
        with self._errors("read hashes"):
            rows = self._db.execute(
                "SELECT hash FROM tlog_nodes WHERE level = %s AND idx >= %s AND idx < %s "
                "ORDER BY idx",
                (level, start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._errors("read leaf hashes"):
            rows = self._db.execute(
                "SELECT leaf_hash FROM tlog_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def entries(self, start: int, end: int) -> list[bytes]:
        with self._errors("read entries"):
            rows = self._db.execute(
                "SELECT data FROM tlog_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, end),
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def find_leaf(self, leaf_hash: bytes) -> int | None:
        with self._errors("find entry"):
            row = self._db.execute(
                "SELECT MIN(idx) FROM tlog_entries WHERE leaf_hash = %s", (leaf_hash,)
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def put_checkpoint(self, size: int, note: bytes) -> None:
        with self._errors("store checkpoint"):
            self._db.execute(
                "INSERT INTO tlog_checkpoints (size, note) VALUES (%s, %s) "
                "ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note",
                (size, note),
            )

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        with self._errors("read checkpoint"):
            row = self._db.execute(
                "SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def count_entries(self) -> tuple[int, int]:
        with self._errors("count entries"):
            row = self._db.execute("SELECT COUNT(*), MAX(idx) FROM tlog_entries").fetchone()
        return int(row[0]), (-1 if row[1] is None else int(row[1])) + 1

    def close(self) -> None:
        self._db.close()


def open_store(url: str) -> Store:
    """Open (creating if needed) the store named by a URL.

    * ``sqlite:///relative/path.sqlite``, ``sqlite:////absolute/path.sqlite``;
      query ``?synchronous=normal`` trades machine-crash durability for speed,
      ``?cache_kib=N`` sets the connection's page cache (default
      :data:`DEFAULT_SQLITE_CACHE_KIB`).
    * ``postgresql://user@host:port/db?schema=NAME``: ``schema`` is qprov's own
      parameter (tables go into that schema); the rest goes to libpq.
    """
    parsed = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    if parsed.scheme == "sqlite":
        if parsed.netloc:
            raise ConfigError("sqlite URL must be sqlite:///PATH (three slashes)")
        path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
        if not path:
            raise ConfigError("sqlite URL has no path")
        unknown = set(query) - {"synchronous", "cache_kib"}
        if unknown:
            raise ConfigError(f"unknown sqlite URL parameter(s): {', '.join(sorted(unknown))}")
        sync = query.get("synchronous", ["full"])[-1]
        cache_kib = DEFAULT_SQLITE_CACHE_KIB
        if "cache_kib" in query:
            text = query["cache_kib"][-1]
            if not text.isdigit() or len(text) > 9:
                raise ConfigError(f"sqlite cache_kib {text[:20]!r} is not a number of KiB")
            cache_kib = int(text)
        return SqliteStore(path, synchronous=sync, cache_kib=cache_kib, url=url)
    if parsed.scheme in ("postgresql", "postgres"):
        schema = query.pop("schema", [None])[-1]
        rest = urllib.parse.urlencode(query, doseq=True)
        conninfo = urllib.parse.urlunsplit(parsed._replace(query=rest))
        return PostgresStore(conninfo, schema=schema, url=url)
    raise ConfigError(f"unsupported log store URL {url!r} (use sqlite:/// or postgresql://)")
