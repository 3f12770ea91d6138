"""Worker processes for the concurrency tests (module-level, so they pickle)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qprov.errors import PolicyError, ReplayError
from qprov.store import Store, open_store


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    namespace: str

    def open(self) -> Store:
        return open_store(self.url, namespace=self.namespace)


def admit_many(
    url: str,
    namespace: str,
    nonce: str,
    attempts: int,
    now: datetime,
    expires_at: datetime,
    barrier: Any,
) -> tuple[int, int]:
    """Try to admit ``nonce`` ``attempts`` times from threads; (admitted, replayed)."""
    store = open_store(url, namespace=namespace)

    def attempt(_: int) -> bool:
        try:
            store.admit_nonce(nonce, expires_at, now)
        except ReplayError:
            return False
        return True

    barrier.wait()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(attempts)))
    store.close()
    return sum(results), len(results) - sum(results)


def consume_many(
    url: str, namespace: str, submitter: str, attempts: int, limit: int, now: datetime, barrier: Any
) -> tuple[int, int]:
    """Consume one shot ``attempts`` times from threads; (granted, refused)."""
    store = open_store(url, namespace=namespace)

    def attempt(_: int) -> bool:
        try:
            store.consume_quota(submitter, 1, limit, 3600, now)
        except PolicyError:
            return False
        return True

    barrier.wait()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(attempts)))
    store.close()
    return sum(results), len(results) - sum(results)


def admit_and_record_many(
    url: str,
    namespace: str,
    nonce: str,
    attempts: int,
    now: datetime,
    expires_at: datetime,
    barrier: Any,
) -> tuple[int, int]:
    """Try ``admit_and_record`` of ``nonce`` ``attempts`` times from threads; (admitted, replayed).

    Each attempt carries its own "admitted" audit record naming the process and attempt.
    """
    import os

    store = open_store(url, namespace=namespace)

    def attempt(i: int) -> bool:
        record = {"verdict": "admitted", "nonce": nonce, "pid": os.getpid(), "attempt": i}
        try:
            store.admit_and_record(nonce, expires_at, now, record)
        except ReplayError:
            return False
        return True

    barrier.wait()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(attempts)))
    store.close()
    return sum(results), len(results) - sum(results)
