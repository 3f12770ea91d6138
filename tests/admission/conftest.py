"""Fixtures: keys, a written trust/policy environment, and real stores of every backend.

A server backend is skipped only when unreachable and CI is not set; in CI an
unreachable server fails the tests. Each test gets its own store namespace.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qprov.errors import ServiceUnavailableError
from qprov.store import Store, open_store

from ._env import Env, Keys, write_env

POSTGRES_URL = os.environ.get(
    "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("QPROV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def env(keys: Keys, tmp_path: Path) -> Env:
    write_env(keys, tmp_path / "env")
    return Env(keys, tmp_path / "env")


def _drop(name: str, namespace: str) -> None:
    if name == "postgresql":
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for table in ("nonces", "quota", "decisions"):
                conn.execute(f"DROP TABLE IF EXISTS {namespace}_{table}")
    elif name == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        found = list(client.scan_iter(match=f"{namespace}:*"))
        if found:
            client.delete(*found)
        client.close()


def store_url(name: str, tmp_path: Path) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return POSTGRES_URL if name == "postgresql" else REDIS_URL


def open_or_skip(name: str, url: str, namespace: str) -> Store:
    try:
        return open_store(url, namespace=namespace)
    except ServiceUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{name} unreachable in CI: {exc}")
        pytest.skip(f"{name} unreachable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    name = request.param
    namespace = f"a{uuid.uuid4().hex[:12]}"
    opened = open_or_skip(name, store_url(name, tmp_path), namespace)
    try:
        yield opened
    finally:
        opened.close()
        _drop(name, namespace)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened
