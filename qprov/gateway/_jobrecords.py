"""Job records: each completed job's receipt bundle and result, kept beside the log.

The table ``qprov_gateway_jobs`` lives in the log's own database (the SQLite
file, or the PostgreSQL database and ``?schema=`` of the log URL), so every
gateway of a fleet sharing a log answers ``GET /v1/jobs/{id}`` for any job
(docs/adr/0013-gateway-http.md). Rows are written once and never changed.
One connection, guarded by a lock, reopened after a failure: jobs are few
and slow next to these reads and writes.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from qprov.errors import ConfigError, EnvironmentProblemError, ServiceUnavailableError

__all__ = ["JobRecord", "JobRecords"]

_TABLE: Final = "qprov_gateway_jobs"
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SQLITE_DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} (job_id TEXT PRIMARY KEY, "
    "manifest TEXT NOT NULL, created_at TEXT NOT NULL, receipt_index INTEGER NOT NULL, "
    "bundle BLOB NOT NULL, result BLOB NOT NULL)"
)
_PG_DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} (job_id TEXT PRIMARY KEY, "
    "manifest TEXT NOT NULL, created_at TEXT NOT NULL, receipt_index BIGINT NOT NULL, "
    "bundle BYTEA NOT NULL, result BYTEA NOT NULL)"
)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    manifest_sha256: str
    created_at: str
    bundle: bytes
    result: bytes
    receipt_index: int


class JobRecords:
    """Job records in the database at a log URL (``sqlite:///`` or ``postgresql://``)."""

    def __init__(self, log_url: str) -> None:
        parsed = urllib.parse.urlsplit(log_url)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._schema: str | None = None
        if parsed.scheme == "sqlite":
            self._sqlite_path: str | None = parsed.path[1:] if parsed.path.startswith("/") else ""
            self._conninfo = ""
        elif parsed.scheme in ("postgresql", "postgres"):
            self._sqlite_path = None
            self._schema = query.pop("schema", [None])[-1]
            if self._schema is not None and not _SCHEMA_NAME.fullmatch(self._schema):
                raise ConfigError(f"bad PostgreSQL schema name {self._schema!r}")
            rest = urllib.parse.urlencode(query, doseq=True)
            self._conninfo = urllib.parse.urlunsplit(parsed._replace(query=rest))
        else:
            raise ConfigError(f"unsupported log URL for job records: {parsed.scheme!r}")

    # -- connections ---------------------------------------------------------------------

    def _open(self) -> Any:
        if self._sqlite_path is not None:
            try:
                Path(self._sqlite_path).parent.mkdir(parents=True, exist_ok=True)
                lite = sqlite3.connect(
                    self._sqlite_path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                lite.execute("PRAGMA journal_mode=WAL")
                lite.execute(_SQLITE_DDL)
            except (sqlite3.Error, OSError) as exc:
                raise ServiceUnavailableError(f"job records (SQLite): {exc}") from None
            return lite
        import psycopg

        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise ServiceUnavailableError(f"job records (PostgreSQL): {exc}") from None
        try:
            if self._schema is not None:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                conn.execute(f'SET search_path TO "{self._schema}"')
            conn.execute(_PG_DDL)
        except psycopg.errors.UniqueViolation:
            pass  # two gateways created the table at once: it exists
        except psycopg.Error as exc:
            conn.close()
            raise ServiceUnavailableError(f"job records (PostgreSQL): {exc}") from None
        return conn

    def _run(self, sql_sqlite: str, sql_pg: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            try:
                cur = conn.execute(sql_sqlite if self._sqlite_path is not None else sql_pg, params)
                return list(cur.fetchall()) if cur.description is not None else []
            except Exception as exc:
                self._conn = None
                with contextlib.suppress(Exception):  # the connection is dropped anyway
                    conn.close()
                if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
                    raise ServiceUnavailableError(f"job records: {exc}") from None
                raise

    # -- records -----------------------------------------------------------------------

    def put(self, record: JobRecord) -> None:
        """Store a record; a second record for the same job id is ignored."""
        self._run(
            f"INSERT OR IGNORE INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
            f"INSERT INTO {_TABLE} VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608 - constant
            "ON CONFLICT (job_id) DO NOTHING",
            (
                record.job_id,
                record.manifest_sha256,
                record.created_at,
                record.receipt_index,
                record.bundle,
                record.result,
            ),
        )

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._run(
            f"SELECT job_id, manifest, created_at, bundle, result, receipt_index FROM {_TABLE} "  # noqa: S608
            "WHERE job_id = ?",
            f"SELECT job_id, manifest, created_at, bundle, result, receipt_index FROM {_TABLE} "  # noqa: S608
            "WHERE job_id = %s",
            (job_id,),
        )
        if not rows:
            return None
        job, manifest, created, bundle, result, index = rows[0]
        if not isinstance(job, str) or not isinstance(manifest, str):
            raise EnvironmentProblemError(f"job record {job_id!r} is corrupt")
        return JobRecord(job, manifest, str(created), bytes(bundle), bytes(result), int(index))

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing at shutdown
                conn.close()
