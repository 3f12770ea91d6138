"""Fixtures: the admission keys and one real Aer job whose artifacts the tamper tests mutate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from admission._env import BELL, Keys

from ._chain_env import ChainEnv, make_env


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def cenv(keys: Keys, tmp_path: Path) -> ChainEnv:
    return make_env(keys, tmp_path / "env")


@dataclass(frozen=True)
class Job:
    """The artifacts of one admitted job that ran on Aer."""

    env: ChainEnv
    manifest: bytes
    circuit: bytes
    result: bytes
    receipt: bytes


@pytest.fixture(scope="module")
def job(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Job:
    env = make_env(keys, tmp_path_factory.mktemp("chain") / "env")
    manifest, outcome = env.submit()
    assert outcome.admitted
    assert outcome.receipt_bundle is not None
    assert outcome.result
    return Job(env, manifest, BELL, outcome.result, outcome.receipt_bundle.to_json())
