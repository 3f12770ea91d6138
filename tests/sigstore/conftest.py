"""Fixtures for the offline Sigstore tests: vectors, a network tripwire, the CLI."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli

_REPO = Path(__file__).resolve().parents[2]


def _vectors_root() -> Path:
    env = os.environ.get("QPROV_VECTORS")
    return Path(env) if env else _REPO.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def sigstore_vectors() -> Path:
    """``$QPROV_VECTORS/sigstore`` (default ``<repo>/../shared/vectors/sigstore``)."""
    path = _vectors_root() / "sigstore"
    if not (path / "manifest.json").is_file():
        pytest.skip(f"Sigstore vectors not found at {path} (set QPROV_VECTORS)")
    return path


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Block every way Python code opens a connection or resolves a name.

    Each attempt is recorded (and fails with OSError, as if the machine were
    offline); tests assert the record is empty. ``test_network_guard_*``
    proves the tripwire fires when sigstore-python does go online.
    """
    attempts: list[tuple[str, Any]] = []

    def tripwire(name: str) -> Callable[..., NoReturn]:
        def blocked(*args: Any, **kwargs: Any) -> NoReturn:
            attempts.append((name, args[1:] if name.startswith("socket.") else args))
            raise OSError(f"network access blocked in tests ({name})")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", tripwire("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", tripwire("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", tripwire("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", tripwire("getaddrinfo"))
    return attempts


RunCli = Callable[[Sequence[str]], Result]


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``qprov ARGS`` in-process; stdout and stderr are kept apart."""

    def run(args: Sequence[str]) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run
