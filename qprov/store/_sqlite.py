"""SQLite store: the single-machine default (WAL, atomic upsert, busy timeout)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from qprov.errors import ConfigError, ReplayError, ServiceUnavailableError
from qprov.store._base import (
    Store,
    StoredDecision,
    check_listing,
    check_namespace,
    check_nonce,
    check_quota,
    decode_record,
    encode_record,
    quota_refusal,
    to_micros,
)

_SYNCHRONOUS: Final = {"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}


class SQLiteStore(Store):
    """A store in one SQLite file, shared by the processes of one machine.

    ``synchronous`` is ``normal`` by default: with WAL, a commit survives a
    crash of the process but not of the machine; ``full`` survives both, at
    the cost of an fsync per admission.
    """

    def __init__(
        self,
        path: str,
        *,
        namespace: str,
        busy_timeout: float = 30.0,
        synchronous: str = "normal",
    ) -> None:
        ns = check_namespace(namespace)
        if synchronous not in _SYNCHRONOUS:
            raise ConfigError(f"sqlite synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._nonces = f"{ns}_nonces"
        self._quota = f"{ns}_quota"
        self._decisions = f"{ns}_decisions"
        self._lock = threading.Lock()
        self._path = path
        self._conn: sqlite3.Connection | None = None
        # Several processes (gateway workers) may open a fresh database at once; SQLite
        # can then answer "database is locked" without waiting (switching to WAL, WAL
        # recovery), so opening is retried until the busy timeout runs out.
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._conn = self._open(path, busy_timeout, synchronous)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise ServiceUnavailableError(
                        f"cannot open SQLite store {path!r}: {exc}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise ServiceUnavailableError(
                        f"cannot open SQLite store {path!r}: {exc}"
                    ) from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                raise ServiceUnavailableError(f"cannot open SQLite store {path!r}: {exc}") from None
        # Statements built once (names are checked): the hot path only binds parameters.
        self._sql_admit = (
            f"INSERT INTO {self._nonces} (nonce, expires_us) VALUES (?, ?) "  # noqa: S608 - checked names
            "ON CONFLICT (nonce) DO UPDATE SET expires_us = excluded.expires_us "
            f"WHERE {self._nonces}.expires_us <= ? RETURNING nonce"
        )
        self._sql_record = f"INSERT INTO {self._decisions} (record) VALUES (?)"  # noqa: S608 - checked names

    def _open(self, path: str, busy_timeout: float, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[synchronous]}")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._nonces} "
                "(nonce TEXT PRIMARY KEY, expires_us INTEGER NOT NULL) WITHOUT ROWID"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._quota} (id INTEGER PRIMARY KEY, "
                "submitter TEXT NOT NULL, at_us INTEGER NOT NULL, shots INTEGER NOT NULL, "
                "expires_us INTEGER NOT NULL)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {self._quota}_by_submitter "
                f"ON {self._quota} (submitter, at_us)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._decisions} "
                "(seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL)"
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise ServiceUnavailableError("the SQLite store is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                self._rollback()
                raise ServiceUnavailableError(f"SQLite store {self._path!r}: {exc}") from None
            except BaseException:
                self._rollback()  # never leave a transaction open on the shared connection
                raise

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the transaction may already be gone
                conn.execute("ROLLBACK")

    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        expires_us, now_us = check_nonce(nonce, expires_at, now)
        with self._connection() as conn:
            rows = conn.execute(self._sql_admit, (nonce, expires_us, now_us)).fetchall()
        if not rows:
            raise ReplayError(f"nonce {nonce!r} was already admitted")

    def admit_and_record(
        self, nonce: str, expires_at: datetime, now: datetime, record: Mapping[str, Any]
    ) -> None:
        """Nonce and audit record in one ``BEGIN IMMEDIATE`` transaction (one commit)."""
        expires_us, now_us = check_nonce(nonce, expires_at, now)
        text = encode_record(record)
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if not conn.execute(self._sql_admit, (nonce, expires_us, now_us)).fetchall():
                conn.execute("ROLLBACK")
                raise ReplayError(f"nonce {nonce!r} was already admitted")
            conn.execute(self._sql_record, (text,))
            conn.execute("COMMIT")

    def purge_expired(self, now: datetime) -> int:
        now_us = to_micros(now, "now")
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            removed = conn.execute(
                f"DELETE FROM {self._nonces} WHERE expires_us <= ?",  # noqa: S608 - checked names
                (now_us,),
            ).rowcount
            conn.execute(f"DELETE FROM {self._quota} WHERE expires_us <= ?", (now_us,))  # noqa: S608 - checked names
            conn.execute("COMMIT")
        return int(removed)

    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        now_us = check_quota(submitter, shots, limit, window_seconds, now)
        window_us = window_seconds * 1_000_000
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            (used,) = conn.execute(
                f"SELECT COALESCE(SUM(shots), 0) FROM {self._quota} "  # noqa: S608 - checked names
                "WHERE submitter = ? AND at_us > ?",
                (submitter, now_us - window_us),
            ).fetchone()
            if used + shots > limit:
                conn.execute("ROLLBACK")
                raise quota_refusal(int(used), shots, limit, window_seconds)
            conn.execute(
                f"INSERT INTO {self._quota} (submitter, at_us, shots, expires_us) "  # noqa: S608 - checked names
                "VALUES (?, ?, ?, ?)",
                (submitter, now_us, shots, now_us + window_us),
            )
            conn.execute("COMMIT")
        return int(used) + shots

    def record_decision(self, record: Mapping[str, Any]) -> None:
        text = encode_record(record)
        with self._connection() as conn:
            conn.execute(self._sql_record, (text,))

    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        check_listing(after, limit)
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT seq, record FROM {self._decisions} WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608 - checked names
                (after, limit),
            ).fetchall()
        return [decode_record(seq, text) for seq, text in rows]

    def ping(self) -> None:
        """One cheap round trip (``SELECT 1``); raises ServiceUnavailableError when it fails."""
        with self._connection() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
