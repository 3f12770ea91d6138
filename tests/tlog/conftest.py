"""Fixtures for the transparency log tests: keys, and real SQLite/PostgreSQL stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qprov.tlog import SIG_ED25519, SIG_MLDSA44_COSIGNATURE, NoteSigner, generate_signer

from ._util import ORIGIN, drop_schema, pg_url_with_schema, require_postgres


@pytest.fixture
def pg_schema() -> Iterator[str]:
    require_postgres()
    schema = f"qprov_t_{uuid.uuid4().hex[:12]}"
    yield schema
    drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same storage tests run on SQLite and on real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/log.sqlite"
        return
    require_postgres()
    schema = f"qprov_t_{uuid.uuid4().hex[:12]}"
    yield pg_url_with_schema(schema)
    drop_schema(schema)


@pytest.fixture(scope="session")
def signers() -> list[NoteSigner]:
    """Deterministic log keys: Ed25519 (0x01) and ML-DSA-44 (0x06)."""
    return [
        generate_signer(ORIGIN, SIG_ED25519, seed=bytes(range(32))),
        generate_signer(ORIGIN, SIG_MLDSA44_COSIGNATURE, seed=bytes(range(32, 64))),
    ]


@pytest.fixture(scope="session")
def vkeys(signers: list[NoteSigner]) -> list[str]:
    return [s.verifier().to_vkey() for s in signers]
