"""Circuits as received: exact-bytes digest, loading, and the gate inventory.

A circuit is identified by the sha256 of the exact bytes submitted
(:func:`circuit_digest`, ``"sha256:<hex>"``), never of a re-serialisation.
Its facts (qubits, clbits, depth, gate counts and the primitive gates applied,
every definition expanded) are computed with qiskit from those bytes, so a
verifier never has to trust a manifest's claim about them.

qiskit is imported lazily, on first use.
"""

from __future__ import annotations

from qprov._circuits_impl import (
    CIRCUIT_FORMATS,
    DEFAULT_LIMITS,
    DEFAULT_MAX_CIRCUIT_BYTES,
    DIRECTIVES,
    MIN_QPY_VERSION,
    CircuitFacts,
    CircuitFormat,
    CircuitLimitError,
    CircuitLimits,
    DisallowedGateError,
    GateInventory,
    LoadedCircuit,
    analyze_circuit,
    check_gates,
    circuit_digest,
    circuit_facts,
    detect_format,
    gate_inventory,
    load_circuit,
)

__all__ = [
    "CIRCUIT_FORMATS",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_CIRCUIT_BYTES",
    "DIRECTIVES",
    "MIN_QPY_VERSION",
    "CircuitFacts",
    "CircuitFormat",
    "CircuitLimitError",
    "CircuitLimits",
    "DisallowedGateError",
    "GateInventory",
    "LoadedCircuit",
    "analyze_circuit",
    "check_gates",
    "circuit_digest",
    "circuit_facts",
    "detect_format",
    "gate_inventory",
    "load_circuit",
]
