"""Fixtures: a receipt predicate and signed envelope built without running a job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from admission._env import NOW, Env, Keys, write_env

from qprov.receipt import ExecutedCircuit, ResultReceipt

RESULT = b'{"00":503,"11":497}'
EXECUTION = {
    "qiskit_version": "2.6.2",
    "aer_version": "0.18.2",
    "method": "stabilizer",
    "device": "CPU",
    "precision": "double",
    "seed_simulator": 1234,
    "shots": 1000,
    "options": {},
    "noise_model_digest": "ideal",
    "os": "Linux",
    "arch": "x86_64",
    "simulator": "qiskit-aer",
    "version": "qprov-aer-execution/v1",
}


def make_receipt(**changes: object) -> ResultReceipt:
    args: dict[str, object] = {
        "manifest_sha256": "a" * 64,
        "nonce": "0123456789abcdef" * 2,
        "circuit_sha256": "b" * 64,
        "shots": 1000,
        "clbits": 2,
        "backend": "aer_simulator",
        "backend_version": "0.18.2",
        "job_id": "job-1",
        "queued_at": NOW,
        "started_at": NOW + timedelta(seconds=1),
        "finished_at": NOW + timedelta(seconds=2, microseconds=5),
        "executed_circuit": ExecutedCircuit("c" * 64, "d" * 64, 13, 352),
        "execution": dict(EXECUTION),
        "admission_sha256": "e" * 64,
    }
    args.update(changes)
    return ResultReceipt(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def env(keys: Keys, tmp_path: Path) -> Env:
    write_env(keys, tmp_path / "env")
    return Env(keys, tmp_path / "env")
