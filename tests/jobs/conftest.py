"""Fixtures: the chain environment (keys, trust with [log], policy, log signers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from admission._env import Keys
from chain._chain_env import ChainEnv, make_env


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def cenv(keys: Keys, tmp_path: Path) -> ChainEnv:
    return make_env(keys, tmp_path / "env")
