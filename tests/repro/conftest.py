"""Shared fixtures for the reproducibility tests."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit

from ._helpers import ghz


@pytest.fixture
def ghz3() -> QuantumCircuit:
    return ghz(3)


@pytest.fixture
def skewed3() -> QuantumCircuit:
    """A 3-qubit circuit with a non-uniform, full-support distribution."""
    qc = QuantumCircuit(3, 3)
    qc.ry(0.9, 0)
    qc.ry(1.7, 1)
    qc.cx(0, 2)
    qc.ry(0.4, 2)
    qc.cx(1, 0)
    qc.measure(range(3), range(3))
    return qc
