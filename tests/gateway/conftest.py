"""Fixtures: keys and a trust/policy environment, real gateway servers on loopback.

Every server is a ``qprov gateway serve`` subprocess stopped by a finalizer.
PostgreSQL- and Redis-backed tests are skipped only when the server is
unreachable and CI is not set; in CI they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from qprov.errors import ServiceUnavailableError
from qprov.store import open_store

from ._env import Keys, Server, free_port, write_config, write_env
from ._openapi import ApiSpec

POSTGRES_URL = os.environ.get(
    "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("QPROV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BODY_LIMIT = 64 * 1024


def require(name: str, url: str) -> None:
    """Skip (fail in CI) when the server behind ``url`` is unreachable."""
    try:
        open_store(url, namespace=f"probe{uuid.uuid4().hex[:8]}").close()
    except ServiceUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{name} unreachable in CI: {exc}")
        pytest.skip(f"{name} unreachable: {exc}")


def drop_postgres(namespace: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for table in ("nonces", "quota", "decisions"):
            conn.execute(f"DROP TABLE IF EXISTS {namespace}_{table}")


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture(scope="module")
def env_dir(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("gateway-env")
    write_env(keys, d)
    return d


@pytest.fixture(scope="module")
def server(env_dir: Path) -> Iterator[Server]:
    """One SQLite-backed gateway that signs its decisions; body limit 64 KiB."""
    port = free_port()
    config = write_config(
        env_dir,
        "sqlite-gateway",
        store="sqlite:///gateway.db",
        port=port,
        signing_key="file:gateway.key",
        max_body_bytes=BODY_LIMIT,
    )
    srv = Server(config, port, env_dir / "sqlite-gateway.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> ApiSpec:
    response = requests.get(server.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    return ApiSpec(response.json())
