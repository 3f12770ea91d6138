"""Replay (nonce) store, submitter quota and audit records.

Open a store from a URL with :func:`open_store`:

* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (the default
  for one machine; WAL mode; query ``?synchronous=full`` to fsync every commit,
  ``?busy_timeout=SECONDS``);
* ``postgresql://user@host:port/db`` (a fleet of gateways; psycopg 3);
* ``redis://host:port/db`` (the replay fast path; keeps no audit records).

Every operation is atomic across processes and machines; time is always
passed in. See docs/adr/0009-stores.md for the decisions.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from qprov.errors import ConfigError
from qprov.store._base import (
    DEFAULT_NAMESPACE,
    MAX_NONCE_LENGTH,
    QuotaExceededError,
    Store,
    StoredDecision,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_STORE_URL",
    "MAX_NONCE_LENGTH",
    "QuotaExceededError",
    "Store",
    "StoredDecision",
    "open_store",
]

DEFAULT_STORE_URL = "sqlite:///qprov-store.db"


def _sqlite_options(url: str) -> tuple[str, float, str]:
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigError("a sqlite store URL has no host: use sqlite:///PATH or sqlite:////ABS")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    query = parse_qs(parts.query, strict_parsing=False)
    unknown = set(query) - {"synchronous", "busy_timeout"}
    if unknown:
        raise ConfigError(f"unknown sqlite store option(s): {', '.join(sorted(unknown))}")
    synchronous = query.get("synchronous", ["normal"])[-1].lower()
    try:
        busy_timeout = float(query.get("busy_timeout", ["30"])[-1])
    except ValueError:
        raise ConfigError("sqlite busy_timeout must be a number of seconds") from None
    if not 0 < busy_timeout <= 3600:
        raise ConfigError("sqlite busy_timeout must be in (0, 3600] seconds")
    return path or ":memory:", busy_timeout, synchronous


def open_store(url: str = DEFAULT_STORE_URL, *, namespace: str = DEFAULT_NAMESPACE) -> Store:
    """Open (creating its tables if needed) the store at ``url``.

    ``namespace`` prefixes table names (SQL) or keys (Redis), so several
    deployments or test runs can share one database. Raises
    :class:`qprov.errors.ConfigError` for a bad URL and
    :class:`qprov.errors.ServiceUnavailableError` when the store is unreachable.
    """
    if not isinstance(url, str):
        raise ConfigError("a store URL must be a string")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from qprov.store._sqlite import SQLiteStore

        path, busy_timeout, synchronous = _sqlite_options(url)
        return SQLiteStore(
            path, namespace=namespace, busy_timeout=busy_timeout, synchronous=synchronous
        )
    if scheme in ("postgresql", "postgres"):
        from qprov.store._postgres import PostgresStore

        return PostgresStore(url, namespace=namespace)
    if scheme in ("redis", "rediss", "unix"):
        from qprov.store._redis import RedisStore

        return RedisStore(url, namespace=namespace)
    raise ConfigError(
        "unsupported store URL scheme "
        f"{scheme or '(none)'!r}: use sqlite:///PATH, postgresql://... or redis://..."
    )
