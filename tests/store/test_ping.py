"""``Store.ping()``: one cheap round trip on every backend; ServiceUnavailableError when away."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tcp_proxy import TcpProxy

from qprov.errors import ServiceUnavailableError
from qprov.store import Store, open_store

from ._workers import Backend
from .conftest import POSTGRES_URL, REDIS_URL, _drop


def test_ping_answers_on_a_live_store(store: Store) -> None:
    ping = getattr(store, "ping", None)
    assert callable(ping)
    assert ping() is None


def test_ping_on_a_closed_store_is_service_unavailable(backend: Backend) -> None:
    opened = backend.open()
    opened.close()
    with pytest.raises(ServiceUnavailableError, match="closed"):
        opened.ping()  # type: ignore[attr-defined]


def test_ping_sqlite_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with open_store(f"sqlite:///{path}", namespace="ping") as store:
        store.ping()  # type: ignore[attr-defined]
        assert store.list_decisions() == []


def _via(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urllib.parse.urlunsplit(
        parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
    )


@pytest.fixture(params=["postgresql", "redis"])
def proxied(request: pytest.FixtureRequest) -> Iterator[tuple[Backend, TcpProxy]]:
    url = POSTGRES_URL if request.param == "postgresql" else REDIS_URL
    parts = urllib.parse.urlsplit(url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 0)).start()
    backend = Backend(request.param, _via(url, proxy.port), f"t{uuid.uuid4().hex[:12]}")
    try:
        try:
            backend.open().close()
        except ServiceUnavailableError as exc:
            pytest.skip(f"{request.param} unreachable: {exc}")
        yield backend, proxy
    finally:
        proxy.stop()
        _drop(Backend(request.param, url, backend.namespace))


def test_ping_fails_while_the_server_is_away_then_recovers(
    proxied: tuple[Backend, TcpProxy],
) -> None:
    backend, proxy = proxied
    store = backend.open()
    try:
        store.ping()  # type: ignore[attr-defined]
        proxy.stop()  # every connection the store holds is cut, nothing listens
        with pytest.raises(ServiceUnavailableError, match=r"PostgreSQL|Redis"):
            store.ping()  # type: ignore[attr-defined]
        proxy.start()  # the same port again: the same store object reconnects
        store.ping()  # type: ignore[attr-defined]
    finally:
        store.close()
