"""Helpers shared by the transparency log tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "tlog"
if not VECTORS.is_dir():
    VECTORS = Path("/work/shared/vectors/tlog")
PG_URL = os.environ.get("QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ORIGIN = "log.qprov.test/tlog"


def load_vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM = _pg_reachable()


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable, unless CI is set (then fail)."""
    if _PG_PROBLEM is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable in CI: {_PG_PROBLEM}")
    pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")


def pg_url_with_schema(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
