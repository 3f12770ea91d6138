"""Helpers shared by the reproducibility tests."""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure(range(n), range(n))
    return qc


CALIBRATION: dict[str, Any] = {
    "format": "qprov-calibration/v1",
    "backend": "example_3q",
    "taken_at": "2025-01-01T00:00:00Z",
    "qubits": [
        {"t1": 1.2e-4, "t2": 9.0e-5, "readout_error": 0.02},
        {"t1": 1.0e-4, "t2": 1.1e-4, "readout_error": 0.03,
         "prob_meas1_prep0": 0.01, "prob_meas0_prep1": 0.05},
        {"t1": 8.0e-5, "t2": 6.0e-5, "readout_error": 0.015, "frequency": 5.1e9},
    ],
    "gates": [
        {"name": "sx", "qubits": [0], "error": 3e-4, "duration": 3.5e-8},
        {"name": "sx", "qubits": [1], "error": 4e-4, "duration": 3.5e-8},
        {"name": "sx", "qubits": [2], "error": 2e-4, "duration": 3.5e-8},
        {"name": "x", "qubits": [0], "error": 3e-4, "duration": 3.5e-8},
        {"name": "rz", "qubits": [0], "error": 0.0, "duration": 0.0},
        {"name": "rz", "qubits": [1], "error": 0.0, "duration": 0.0},
        {"name": "rz", "qubits": [2], "error": 0.0, "duration": 0.0},
        {"name": "cx", "qubits": [0, 1], "error": 8e-3, "duration": 3.0e-7},
        {"name": "cx", "qubits": [1, 2], "error": 9e-3, "duration": 3.2e-7},
    ],
}
