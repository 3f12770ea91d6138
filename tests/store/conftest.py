"""Real SQLite, PostgreSQL and Redis stores for one parametrized suite.

A backend is skipped only when its server is unreachable and CI is not set;
in CI an unreachable server fails the tests. Each test gets its own namespace
(table prefix or key prefix), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qprov.errors import ServiceUnavailableError
from qprov.store import Store

from ._workers import Backend

POSTGRES_URL = os.environ.get(
    "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("QPROV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ("sqlite", "postgresql", "redis")


def _drop(backend: Backend) -> None:
    if backend.name == "postgresql":
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for table in ("nonces", "quota", "decisions"):
                conn.execute(f"DROP TABLE IF EXISTS {backend.namespace}_{table}")
    elif backend.name == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{backend.namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def _url(name: str, tmp_path: Path) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return POSTGRES_URL if name == "postgresql" else REDIS_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    name = request.param
    found = Backend(name, _url(name, tmp_path), f"t{uuid.uuid4().hex[:12]}")
    try:
        probe = found.open()
    except ServiceUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{name} unreachable in CI: {exc}")
        pytest.skip(f"{name} unreachable: {exc}")
    probe.close()
    try:
        yield found
    finally:
        _drop(found)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    try:
        yield opened
    finally:
        opened.close()
