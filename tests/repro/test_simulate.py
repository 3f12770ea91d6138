"""Seeded simulation, exact replay, and method choice."""

from __future__ import annotations

import dataclasses
import json

import pytest
from qiskit import QuantumCircuit

from qprov.errors import EnvironmentProblemError, MalformedInputError, VerificationError
from qprov.repro import (
    CalibrationSnapshot,
    Counts,
    ExecutionDetails,
    choose_method,
    noise_model_from_calibration,
    replay,
    simulate,
    simulate_job,
    verify_replay,
)

from ._helpers import CALIBRATION, ghz


def test_seeded_replay_gives_identical_counts(skewed3: QuantumCircuit) -> None:
    res = simulate(skewed3, shots=2000, seed=1234)
    assert res.details.seed_simulator == 1234
    assert res.details.method == "statevector"
    report = verify_replay(skewed3, res.details, res.counts)
    assert report.status == "reproduced"
    assert report.replayed.to_json() == res.counts.to_json()


def test_per_circuit_seed_of_a_job_replays(skewed3: QuantumCircuit, ghz3: QuantumCircuit) -> None:
    first, second = simulate_job([ghz3, skewed3], shots=500, seed=99)
    assert first.details.seed_simulator == 99
    assert second.details.seed_simulator != 99  # Aer shifts the seed per circuit
    assert verify_replay(skewed3, second.details, second.counts).status == "reproduced"


def test_details_roundtrip_strict(skewed3: QuantumCircuit) -> None:
    res = simulate(skewed3, shots=100, seed=5, options={"fusion_enable": False})
    doc = json.loads(json.dumps(res.details.to_dict()))
    assert ExecutionDetails.from_dict(doc) == res.details
    with pytest.raises(MalformedInputError, match="unknown field"):
        ExecutionDetails.from_dict({**doc, "extra": 1})
    with pytest.raises(MalformedInputError, match="missing field"):
        ExecutionDetails.from_dict({k: v for k, v in doc.items() if k != "seed_simulator"})
    with pytest.raises(MalformedInputError, match="not allowed"):
        simulate(skewed3, shots=100, seed=5, options={"seed_simulator": 3})


def test_changed_count_is_detected_with_difference(skewed3: QuantumCircuit) -> None:
    res = simulate(skewed3, shots=1000, seed=7)
    data = res.counts.as_dict()
    keys = sorted(data)
    data[keys[0]] -= 1
    data[keys[1]] += 1
    tampered = Counts.from_mapping(data, num_clbits=3, shots=1000)
    report = replay(skewed3, res.details, tampered)
    assert report.status == "mismatch"
    assert {d.outcome for d in report.differences} == {keys[0], keys[1]}
    with pytest.raises(VerificationError, match=rf"2 outcome\(s\) differ: .*{keys[0]}: recorded"):
        verify_replay(skewed3, res.details, tampered)


def test_other_environment_falls_back(skewed3: QuantumCircuit) -> None:
    res = simulate(skewed3, shots=300, seed=3)
    foreign = dataclasses.replace(res.details, aer_version="0.0.1", arch="riscv64")
    report = verify_replay(skewed3, foreign, res.counts)
    assert report.status == "environment_differs"
    assert report.needs_statistical_test
    assert set(report.environment_differences) == {"aer_version", "arch"}
    assert "aer_version recorded '0.0.1'" in report.describe()


def test_noisy_replay_and_noise_digest_check(skewed3: QuantumCircuit) -> None:
    from qiskit import transpile

    snap = CalibrationSnapshot.from_json(json.dumps(CALIBRATION).encode())
    model = noise_model_from_calibration(snap)
    isa = transpile(skewed3, basis_gates=["sx", "rz", "cx", "x"], optimization_level=0)
    res = simulate(isa, shots=500, seed=11, noise_model=model)
    assert res.details.noise_model_digest != "ideal"
    rebuilt = noise_model_from_calibration(CalibrationSnapshot.from_json(
        json.dumps(CALIBRATION).encode()))
    assert verify_replay(isa, res.details, res.counts, noise_model=rebuilt).status == "reproduced"
    with pytest.raises(VerificationError, match="noise model digest"):
        verify_replay(isa, res.details, res.counts, noise_model=None)


def test_circuit_without_measurements_refused() -> None:
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    with pytest.raises(MalformedInputError, match="no measurements"):
        simulate(qc, shots=10, seed=1)


def test_method_choice_for_large_circuits() -> None:
    assert choose_method(ghz(100)).method == "stabilizer"
    assert choose_method(ghz(10)).method == "stabilizer"
    chain = QuantumCircuit(40, 40)
    for q in range(40):
        chain.ry(0.3, q)
    for q in range(39):
        chain.cx(q, q + 1)
    chain.measure(range(40), range(40))
    choice = choose_method(chain)
    assert choice.method == "matrix_product_state"
    small = QuantumCircuit(3, 3)
    small.t(0)
    small.measure(range(3), range(3))
    assert choose_method(small).method == "statevector"


def dense_random(n: int, layers: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    for layer in range(layers):
        for q in range(n):
            qc.ry(0.1 * (q + layer + 1), q)
            qc.t(q)
        for q in range(layer % 2, n - 1, 2):
            qc.cx(q, q + 1)
        qc.cx(0, n - 1)
    qc.measure(range(n), range(n))
    return qc


def test_circuit_too_large_for_every_method_is_refused_early() -> None:
    qc = dense_random(60, 60)
    with pytest.raises(EnvironmentProblemError, match="too large for every simulation method") as e:
        simulate(qc, shots=10, seed=1)
    message = str(e.value)
    assert "stabilizer: circuit has non-Clifford gates" in message
    assert "statevector: needs" in message
    assert "matrix_product_state: bond dimension bound" in message


def test_unavailable_device_refused(skewed3: QuantumCircuit) -> None:
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("a GPU is available here")
    with pytest.raises(EnvironmentProblemError, match="'GPU' is not available"):
        simulate(skewed3, shots=10, seed=1, device="GPU")


def test_counts_match_qiskit_register_formatting() -> None:
    from qiskit import ClassicalRegister, QuantumRegister
    from qiskit_aer import AerSimulator

    q = QuantumRegister(4)
    a, b = ClassicalRegister(3, "a"), ClassicalRegister(1, "b")
    qc = QuantumCircuit(q, a, b)
    qc.h(0)
    qc.x(3)
    qc.cx(0, 1)
    qc.ry(0.7, 2)
    qc.measure([0, 1, 2], a)
    qc.measure(3, b)
    res = simulate(qc, shots=400, seed=8, method="statevector")
    raw = AerSimulator(method="statevector").run(qc, shots=400, seed_simulator=8).result()
    expected = Counts.from_mapping(raw.get_counts(0), num_clbits=4, register_sizes=[3, 1])
    assert res.counts.as_dict() == expected.as_dict()
    assert all(k[0] == "1" for k in res.counts)  # register b (clbit 3) is leftmost
