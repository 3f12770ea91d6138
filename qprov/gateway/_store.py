"""A store opened on first use, so the gateway starts (and answers 503) while its store is away."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from qprov.errors import ServiceUnavailableError
from qprov.store import Store, StoredDecision, open_store

__all__ = ["LazyStore", "store_backend"]

#: After a failed open, fail fast for this long before trying again (seconds).
REOPEN_INTERVAL: Final = 1.0
_HEALTH_NONCE_TTL: Final = timedelta(seconds=2)


def store_backend(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``redis``: the backend a store URL names."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    return "sqlite"


class LazyStore(Store):
    """Delegates to ``open_store(url)``, opened on first use and retried while unreachable.

    A backend that was reached once reconnects by itself (the PostgreSQL pool
    and the Redis client do); only the first connection needs retrying here.
    Opening is single-flight, and after a failure callers fail fast with the
    same :class:`ServiceUnavailableError` for :data:`REOPEN_INTERVAL` seconds.
    """

    def __init__(self, url: str, *, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.backend = store_backend(url)
        self.supports_audit = self.backend != "redis"
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._closed = False

    def _get(self) -> Store:
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._closed:
                raise ServiceUnavailableError("the gateway's store is closed (shutting down)")
            if self._store is not None:
                return self._store
            if self._failed_at is not None and time.monotonic() - self._failed_at < REOPEN_INTERVAL:
                raise ServiceUnavailableError(self._failure)
            try:
                self._store = open_store(self.url, namespace=self.namespace)
            except ServiceUnavailableError as exc:
                self._failed_at = time.monotonic()
                self._failure = str(exc)
                raise
            self._failed_at = None
            return self._store

    def ping(self, now: datetime) -> None:
        """One round trip to the backend; raises ServiceUnavailableError if it does not answer."""
        store = self._get()
        ping = getattr(store, "ping", None)
        if callable(ping):
            ping()
        elif store.supports_audit:
            store.list_decisions(after=2**62, limit=1)  # a read that finds nothing
        else:
            # Redis keeps no audit records: admit a throwaway nonce that expires in seconds.
            store.admit_nonce(f"qprov-health-{uuid.uuid4().hex}", now + _HEALTH_NONCE_TTL, now)

    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        self._get().admit_nonce(nonce, expires_at, now)

    def admit_and_record(
        self, nonce: str, expires_at: datetime, now: datetime, record: Mapping[str, Any]
    ) -> None:
        self._get().admit_and_record(nonce, expires_at, now, record)

    def purge_expired(self, now: datetime) -> int:
        return self._get().purge_expired(now)

    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        return self._get().consume_quota(submitter, shots, limit, window_seconds, now)

    def record_decision(self, record: Mapping[str, Any]) -> None:
        self._get().record_decision(record)

    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        return self._get().list_decisions(after=after, limit=limit)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            store, self._store = self._store, None
        if store is not None:
            store.close()
