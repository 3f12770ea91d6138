"""PostgreSQL store: shared by a fleet of gateways (psycopg 3)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from qprov.errors import ReplayError, ServiceUnavailableError
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

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<invalid PostgreSQL URL>"
    user, host = info.get("user", ""), info.get("host", "localhost")
    return f"postgresql://{user}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class _Pool:
    """A small thread-safe pool of autocommit connections, reconnecting on failure."""

    def __init__(self, url: str, size: int, connect_timeout: int) -> None:
        self._url = url
        self._size = size
        self._connect_timeout = connect_timeout
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise ServiceUnavailableError(
                f"PostgreSQL store {_redact(self._url)} unreachable: {str(exc).strip()}"
            ) from None

    def run(self, operation: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``operation`` on a pooled connection.

        A connection taken from the pool may have gone stale; if it fails with
        a connection error the operation is retried once on a new connection.
        A retry can only make the store refuse more (a nonce seen as replayed,
        shots counted twice), never admit more.
        """
        for attempt in (1, 2):
            with self._lock:
                if self._closed:
                    raise ServiceUnavailableError("the PostgreSQL store is closed")
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._connect()
            try:
                result = operation(conn)
            except psycopg.OperationalError as exc:
                conn.close()
                if reused and attempt == 1:
                    logger.info("retrying on a new PostgreSQL connection: %s", exc)
                    continue
                raise ServiceUnavailableError(
                    f"PostgreSQL store {_redact(self._url)}: {str(exc).strip()}"
                ) from None
            except psycopg.Error as exc:
                conn.close()
                raise ServiceUnavailableError(
                    f"PostgreSQL store {_redact(self._url)}: {str(exc).strip()}"
                ) from None
            except BaseException:
                conn.close()
                raise
            with self._lock:
                if not self._closed and len(self._idle) < self._size and not conn.broken:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class PostgresStore(Store):
    """A store in PostgreSQL tables named ``<namespace>_nonces``, ``_quota``, ``_decisions``."""

    def __init__(
        self, url: str, *, namespace: str, pool_size: int = 4, connect_timeout: int = 5
    ) -> None:
        ns = check_namespace(namespace)
        self._ns = ns
        self._nonces = f"{ns}_nonces"
        self._quota = f"{ns}_quota"
        self._decisions = f"{ns}_decisions"
        # Statements built once (names are checked), so each is the same text every time
        # and psycopg prepares it server-side after a few executions on a connection.
        self._sql_admit = (
            f"INSERT INTO {self._nonces} AS n (nonce, expires_us) VALUES (%s, %s) "  # noqa: S608 - checked names
            "ON CONFLICT (nonce) DO UPDATE SET expires_us = EXCLUDED.expires_us "
            "WHERE n.expires_us <= %s RETURNING nonce"
        )
        # One statement, so one round trip and one commit: the decision row is inserted
        # only from the nonce row the first CTE returns, i.e. only if the nonce was admitted.
        self._sql_admit_and_record = (
            f"WITH admitted AS ({self._sql_admit}) "  # noqa: S608 - checked names
            f"INSERT INTO {self._decisions} (record) SELECT %s FROM admitted RETURNING seq"
        )
        self._sql_record = f"INSERT INTO {self._decisions} (record) VALUES (%s)"  # noqa: S608 - checked names
        self._pool = _Pool(url, pool_size, connect_timeout)
        self._pool.run(self._create_schema)

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            # Serialise concurrent CREATE ... IF NOT EXISTS (they race in the catalog).
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"qprov-schema:{self._ns}",),
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._nonces} "
                "(nonce text PRIMARY KEY, expires_us bigint NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._quota} (id bigserial PRIMARY KEY, "
                "submitter text NOT NULL, at_us bigint NOT NULL, shots bigint NOT NULL, "
                "expires_us bigint NOT NULL)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {self._quota}_by_submitter "
                f"ON {self._quota} (submitter, at_us)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._decisions} "
                "(seq bigserial PRIMARY KEY, record text NOT NULL)"
            )

    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        expires_us, now_us = check_nonce(nonce, expires_at, now)

        def insert(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(self._sql_admit, (nonce, expires_us, now_us)).fetchone()
            return row is not None

        if not self._pool.run(insert):
            raise ReplayError(f"nonce {nonce!r} was already admitted")

    def admit_and_record(
        self, nonce: str, expires_at: datetime, now: datetime, record: Mapping[str, Any]
    ) -> None:
        """Nonce and audit record in one statement: one round trip, one commit.

        Atomic like :meth:`admit_nonce` (the primary key decides between
        concurrent writers); the record is written if and only if the nonce is.
        """
        expires_us, now_us = check_nonce(nonce, expires_at, now)
        text = encode_record(record)

        def insert(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(
                self._sql_admit_and_record, (nonce, expires_us, now_us, text)
            ).fetchone()
            return row is not None

        if not self._pool.run(insert):
            raise ReplayError(f"nonce {nonce!r} was already admitted")

    def purge_expired(self, now: datetime) -> int:
        now_us = to_micros(now, "now")

        def purge(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                removed = conn.execute(
                    f"DELETE FROM {self._nonces} WHERE expires_us <= %s",  # noqa: S608 - checked names
                    (now_us,),
                ).rowcount
                conn.execute(f"DELETE FROM {self._quota} WHERE expires_us <= %s", (now_us,))  # noqa: S608 - checked names
            return int(removed)

        return self._pool.run(purge)

    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        now_us = check_quota(submitter, shots, limit, window_seconds, now)
        window_us = window_seconds * 1_000_000

        def consume(conn: psycopg.Connection[Any]) -> tuple[bool, int]:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (f"qprov-quota:{self._ns}:{submitter}",),
                )
                row = conn.execute(
                    f"SELECT COALESCE(SUM(shots), 0) FROM {self._quota} "  # noqa: S608 - checked names
                    "WHERE submitter = %s AND at_us > %s",
                    (submitter, now_us - window_us),
                ).fetchone()
                used = int(row[0]) if row is not None else 0
                if used + shots > limit:
                    return False, used
                conn.execute(
                    f"INSERT INTO {self._quota} (submitter, at_us, shots, expires_us) "  # noqa: S608 - checked names
                    "VALUES (%s, %s, %s, %s)",
                    (submitter, now_us, shots, now_us + window_us),
                )
            return True, used + shots

        consumed, used = self._pool.run(consume)
        if not consumed:
            raise quota_refusal(used, shots, limit, window_seconds)
        return used

    def record_decision(self, record: Mapping[str, Any]) -> None:
        text = encode_record(record)

        def insert(conn: psycopg.Connection[Any]) -> None:
            conn.execute(self._sql_record, (text,))

        self._pool.run(insert)

    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        check_listing(after, limit)

        def select(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(
                f"SELECT seq, record FROM {self._decisions} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608 - checked names
                (after, limit),
            ).fetchall()

        return [decode_record(seq, text) for seq, text in self._pool.run(select)]

    def ping(self) -> None:
        """``SELECT 1`` through the pool (reconnecting a stale connection once);
        raises ServiceUnavailableError when PostgreSQL does not answer."""

        def select(conn: psycopg.Connection[Any]) -> None:
            conn.execute("SELECT 1").fetchone()

        self._pool.run(select)

    def close(self) -> None:
        self._pool.close()
