"""One suite, three real backends: replay, expiry, quota, audit, failures."""

from __future__ import annotations

import multiprocessing
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qprov.errors import (
    ConfigError,
    ExpiredError,
    MalformedInputError,
    PolicyError,
    ReplayError,
    ServiceUnavailableError,
)
from qprov.store import QuotaExceededError, Store, open_store

from ._workers import Backend, admit_and_record_many, admit_many, consume_many

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
PROCESSES = 4
ATTEMPTS = 200
AUDIT_BACKENDS = ["sqlite", "postgresql"]  # the backends that keep audit records


# -- replay ---------------------------------------------------------------------------


def test_nonce_admitted_once(store: Store) -> None:
    store.admit_nonce("n-1", LATER, NOW)
    with pytest.raises(ReplayError, match="already admitted"):
        store.admit_nonce("n-1", LATER, NOW)
    # A different nonce is independent.
    store.admit_nonce("n-2", LATER, NOW)


def test_replay_refused_across_store_instances(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    try:
        first.admit_nonce("shared", LATER, NOW)
        with pytest.raises(ReplayError):
            second.admit_nonce("shared", LATER, NOW + timedelta(minutes=5))
    finally:
        first.close()
        second.close()


def test_replay_refused_until_expiry_then_purged(backend: Backend, store: Store) -> None:
    store.admit_nonce("old", NOW + timedelta(seconds=30), NOW)
    store.admit_nonce("young", LATER, NOW)
    just_before = NOW + timedelta(seconds=29)
    with pytest.raises(ReplayError):
        store.admit_nonce("old", LATER, just_before)
    after = NOW + timedelta(seconds=31)
    removed = store.purge_expired(after)
    # SQL stores delete the expired row; Redis reclaims keys by TTL itself.
    assert removed == (0 if backend.name == "redis" else 1)
    assert store.purge_expired(after) == 0
    # Expired: the nonce may be admitted again (the manifest's own expiry
    # check is what refuses an old manifest); the unexpired one still counts.
    store.admit_nonce("old", LATER, after)
    with pytest.raises(ReplayError):
        store.admit_nonce("young", LATER, after)


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_nonce_keys_carry_ttl(backend: Backend, store: Store) -> None:
    import redis

    store.admit_nonce("ttl", NOW + timedelta(seconds=90), NOW)
    client = redis.Redis.from_url(backend.url)
    ttl = client.pttl(f"{backend.namespace}:nonce:ttl")
    client.close()
    assert 0 < ttl <= 90_000


def test_expired_or_bad_arguments_refused(store: Store) -> None:
    with pytest.raises(ExpiredError):
        store.admit_nonce("late", NOW, NOW)
    with pytest.raises(MalformedInputError, match="timezone-aware"):
        store.admit_nonce("naive", datetime(2030, 1, 1), NOW)
    with pytest.raises(MalformedInputError, match="non-empty"):
        store.admit_nonce("", LATER, NOW)
    with pytest.raises(MalformedInputError, match="printable"):
        store.admit_nonce("x" * 257, LATER, NOW)
    with pytest.raises(MalformedInputError, match="printable"):
        store.admit_nonce("a\nb", LATER, NOW)


def test_concurrent_admissions_of_one_nonce_admit_exactly_once(backend: Backend) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = _spawn(
        ctx,
        barrier,
        admit_many,
        (backend.url, backend.namespace, "contested", ATTEMPTS // PROCESSES, NOW, LATER),
    )
    assert sum(r[0] for r in results) == 1
    assert sum(r[0] + r[1] for r in results) == ATTEMPTS


def _spawn(
    ctx: multiprocessing.context.BaseContext,
    barrier: object,
    target: object,
    args: tuple[object, ...],
) -> list[tuple[int, int]]:
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(queue, target, (*args, barrier)))  # type: ignore[attr-defined]
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return results


def _child(queue: object, target: object, args: tuple[object, ...]) -> None:
    queue.put(target(*args))  # type: ignore[attr-defined,operator]


# -- quota ----------------------------------------------------------------------------


def test_quota_within_window(store: Store) -> None:
    assert store.consume_quota("alice", 40, 100, 3600, NOW) == 40
    assert store.consume_quota("alice", 60, 100, 3600, NOW + timedelta(minutes=1)) == 100
    with pytest.raises(QuotaExceededError, match="quota exceeded") as refused:
        store.consume_quota("alice", 1, 100, 3600, NOW + timedelta(minutes=2))
    assert refused.value.used == 100
    assert isinstance(refused.value, PolicyError)
    # A refusal consumes nothing; other submitters are independent.
    assert store.consume_quota("bob", 100, 100, 3600, NOW) == 100
    # The first 40 leave the window after an hour; the 60 stay.
    assert store.consume_quota("alice", 40, 100, 3600, NOW + timedelta(minutes=60)) == 100


def test_quota_refuses_single_request_over_limit(store: Store) -> None:
    with pytest.raises(QuotaExceededError):
        store.consume_quota("carol", 101, 100, 60, NOW)
    assert store.consume_quota("carol", 100, 100, 60, NOW) == 100


@pytest.mark.parametrize(
    ("shots", "limit", "window", "error"),
    [
        (0, 10, 60, MalformedInputError),
        (1, 0, 60, ConfigError),
        (1, 10, 0, ConfigError),
        (True, 10, 60, MalformedInputError),
    ],
)
def test_quota_rejects_non_positive_arguments(
    store: Store, shots: int, limit: int, window: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.consume_quota("dave", shots, limit, window, NOW)


def test_quota_is_atomic_under_concurrency(backend: Backend) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = _spawn(
        ctx,
        barrier,
        consume_many,
        (backend.url, backend.namespace, "eve", ATTEMPTS // PROCESSES, 75, NOW),
    )
    assert sum(r[0] for r in results) == 75
    assert sum(r[1] for r in results) == ATTEMPTS - 75
    check = backend.open()
    try:
        with pytest.raises(QuotaExceededError):
            check.consume_quota("eve", 1, 75, 3600, NOW)
    finally:
        check.close()


# -- audit ----------------------------------------------------------------------------


def test_audit_records(backend: Backend, store: Store) -> None:
    if not store.supports_audit:
        with pytest.raises(ConfigError, match="no audit records"):
            store.record_decision({"verdict": "admit"})
        with pytest.raises(ConfigError):
            store.list_decisions()
        return
    for i in range(5):
        store.record_decision({"verdict": "admit" if i % 2 else "refuse", "i": i})
    records = store.list_decisions()
    assert [r.record["i"] for r in records] == [0, 1, 2, 3, 4]
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    tail = store.list_decisions(after=records[2].seq, limit=1)
    assert [r.record["i"] for r in tail] == [3]
    with pytest.raises(MalformedInputError, match="JSON"):
        store.record_decision({"bad": object()})
    with pytest.raises(MalformedInputError):
        store.list_decisions(limit=0)


# -- nonce and audit record together ----------------------------------------------------


def test_admit_and_record_writes_both_or_neither(store: Store) -> None:
    if not store.supports_audit:
        # Redis keeps no audit records: refused, and the nonce is not consumed.
        with pytest.raises(ConfigError, match="no audit records"):
            store.admit_and_record("ar-1", LATER, NOW, {"verdict": "admitted"})
        store.admit_nonce("ar-1", LATER, NOW)
        return
    store.admit_and_record("ar-1", LATER, NOW, {"verdict": "admitted", "i": 1})
    assert [r.record for r in store.list_decisions()] == [{"verdict": "admitted", "i": 1}]
    # Replayed: ReplayError, no record; the nonce is the one admit_nonce sees.
    with pytest.raises(ReplayError, match="already admitted"):
        store.admit_and_record("ar-1", LATER, NOW + timedelta(minutes=1), {"i": 2})
    with pytest.raises(ReplayError):
        store.admit_nonce("ar-1", LATER, NOW)
    store.admit_nonce("ar-2", LATER, NOW)
    with pytest.raises(ReplayError):
        store.admit_and_record("ar-2", LATER, NOW, {"i": 3})
    assert [r.record["i"] for r in store.list_decisions()] == [1]
    # Bad arguments and bad records consume nothing and record nothing.
    with pytest.raises(ExpiredError):
        store.admit_and_record("ar-3", NOW, NOW, {"i": 4})
    with pytest.raises(MalformedInputError, match="JSON"):
        store.admit_and_record("ar-3", LATER, NOW, {"bad": object()})
    with pytest.raises(MalformedInputError, match="printable"):
        store.admit_and_record("a\nb", LATER, NOW, {"i": 5})
    assert [r.record["i"] for r in store.list_decisions()] == [1]
    store.admit_and_record("ar-3", LATER, NOW, {"i": 6})  # still fresh
    # After its expiry a nonce may be admitted again, with its new record.
    store.admit_and_record("ar-3", LATER + timedelta(minutes=5), LATER, {"i": 7})
    assert [r.record["i"] for r in store.list_decisions()] == [1, 6, 7]
    # The refusal is then recorded on its own, as admission does.
    store.record_decision({"verdict": "refused", "i": 8})
    records = store.list_decisions()
    assert [r.record["i"] for r in records] == [1, 6, 7, 8]
    assert [r.seq for r in records] == sorted(r.seq for r in records)


@pytest.mark.parametrize("backend", AUDIT_BACKENDS, indirect=True)
def test_admit_and_record_atomic_under_concurrency(backend: Backend) -> None:
    """200 concurrent attempts on one nonce: one admitted, one "admitted" record.

    (Redis keeps no audit records; its refusal is tested above.)
    """
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = _spawn(
        ctx,
        barrier,
        admit_and_record_many,
        (backend.url, backend.namespace, "contested", ATTEMPTS // PROCESSES, NOW, LATER),
    )
    assert sum(r[0] for r in results) == 1
    assert sum(r[0] + r[1] for r in results) == ATTEMPTS
    check = backend.open()
    try:
        records = [r.record for r in check.list_decisions(limit=10_000)]
        with pytest.raises(ReplayError):
            check.admit_nonce("contested", LATER, NOW)
    finally:
        check.close()
    assert len(records) == 1
    assert records[0]["verdict"] == "admitted"
    assert records[0]["nonce"] == "contested"


@pytest.mark.parametrize("backend", AUDIT_BACKENDS, indirect=True)
def test_admit_and_record_and_admit_nonce_race_on_one_nonce(backend: Backend) -> None:
    """Both entry points share one nonce table: across them, one admission in total."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    queue = ctx.Queue()
    args = (backend.url, backend.namespace, "mixed", ATTEMPTS // PROCESSES, NOW, LATER, barrier)
    procs = [
        ctx.Process(
            target=_child,
            args=(queue, admit_and_record_many if i % 2 else admit_many, args),
        )
        for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert sum(r[0] for r in results) == 1
    check = backend.open()
    try:
        records = check.list_decisions(limit=10_000)
    finally:
        check.close()
    assert len(records) <= 1  # one record if admit_and_record won, none if admit_nonce did


# -- failures -------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "scheme", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"]
)
def test_unreachable_server_is_service_unavailable(scheme: str) -> None:
    with pytest.raises(ServiceUnavailableError, match="unreachable"):
        open_store(scheme.format(port=_closed_port()))


def test_unwritable_sqlite_is_service_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailableError, match="cannot open SQLite"):
        open_store(f"sqlite:///{tmp_path}/missing/dir/store.db")


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    with pytest.raises(ServiceUnavailableError, match="closed"):
        store.admit_nonce("after-close", LATER, NOW)
    if store.supports_audit:
        with pytest.raises(ServiceUnavailableError, match="closed"):
            store.admit_and_record("after-close", LATER, NOW, {"verdict": "admitted"})


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://x", "unsupported store URL"),
        ("sqlite://host/x.db", "no host"),
        ("sqlite:///x.db?journal=off", "unknown sqlite"),
        ("sqlite:///x.db?synchronous=bogus", "synchronous"),
    ],
)
def test_bad_urls_are_config_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_store(url)


def test_bad_namespace_is_config_error() -> None:
    with pytest.raises(ConfigError, match="namespace"):
        open_store("sqlite://", namespace="x; DROP TABLE y")


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
