"""Fixtures: one real Aer job (module scope) and a baseline authority."""

from __future__ import annotations

import pytest
from admission._env import Keys

from ._world import World, make_world


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture(scope="module")
def world(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(keys, tmp_path_factory.mktemp("reproduce") / "env")
