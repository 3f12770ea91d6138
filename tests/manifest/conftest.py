"""Fixtures for manifest, grant and predicate tests (the admission environment is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest
from admission._env import Env, Keys, write_env  # tests/ is on sys.path (rootdir packages)


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def env(keys: Keys, tmp_path: Path) -> Env:
    write_env(keys, tmp_path / "env")
    return Env(keys, tmp_path / "env")
