"""Simulator baselines: signed distributions a result can be checked against.

A *simulator baseline* is an in-toto Statement (predicate
``https://qprov.dev/attestations/simulator-baseline/v1``, spec
``attestations/simulator-baseline.md``) whose one subject is the circuit, by
the sha256 of its exact bytes. It records the simulator, its version, method,
seed, the noise model (ideal, or the calibration snapshot it was built from and
the noise model's canonical digest), the shots, and the distribution: exact
probabilities where feasible, counts of a seeded simulation otherwise, bounded
to the most likely outcomes plus an ``other`` mass. It is signed by a key of
the trust file's ``baseline-authority`` role::

    envelope = create_baseline(circuit_bytes, signer=authority, now=now)
    verified = verify_baseline(envelope.to_json(), trust, circuit_sha256=sha)
    reference = verified.baseline.distribution.for_test()

qiskit and qiskit-aer are imported only when a baseline is computed.
"""

from __future__ import annotations

from qprov._baseline_impl import (
    AUTO_EXACT_NOISY_QUBITS,
    AUTO_EXACT_QUBITS,
    BASELINE_PREDICATE_TYPE,
    BASELINE_ROLE,
    DEFAULT_BASELINE_SHOTS,
    DEFAULT_MAX_OUTCOMES,
    MAX_OUTCOMES,
    BaselineDistribution,
    BaselineKind,
    NoiseSpec,
    ParsedBaseline,
    SimulatorBaseline,
    SimulatorInfo,
    TestBaseline,
    VerifiedBaseline,
    check_device,
    compute_baseline,
    create_baseline,
    parse_baseline,
    sign_baseline,
    verify_baseline,
)

__all__ = [
    "AUTO_EXACT_NOISY_QUBITS",
    "AUTO_EXACT_QUBITS",
    "BASELINE_PREDICATE_TYPE",
    "BASELINE_ROLE",
    "DEFAULT_BASELINE_SHOTS",
    "DEFAULT_MAX_OUTCOMES",
    "MAX_OUTCOMES",
    "BaselineDistribution",
    "BaselineKind",
    "NoiseSpec",
    "ParsedBaseline",
    "SimulatorBaseline",
    "SimulatorInfo",
    "TestBaseline",
    "VerifiedBaseline",
    "check_device",
    "compute_baseline",
    "create_baseline",
    "parse_baseline",
    "sign_baseline",
    "verify_baseline",
]
