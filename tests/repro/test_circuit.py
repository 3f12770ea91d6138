"""Executed-circuit identity: canonical digest and pinned-version QPY."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.circuit import Gate, Parameter

from qprov.errors import MalformedInputError, UnsupportedAlgorithmError
from qprov.repro import (
    QPY_FORMAT_VERSION,
    canonical_circuit_bytes,
    circuit_digest,
    dump_qpy,
    load_qpy,
    require_measurements,
)


def build(name: str = "c", angle: float = 0.25, metadata: dict[str, object] | None = None,
          qubits: tuple[int, int] = (0, 1)) -> QuantumCircuit:
    theta = Parameter("theta")  # a fresh UUID each call
    qc = QuantumCircuit(2, 2, name=name, metadata=metadata or {})
    qc.h(0)
    qc.rz(theta, 1)
    qc.cx(*qubits)
    qc.measure([0, 1], [0, 1])
    return qc.assign_parameters({theta: angle})


def test_digest_ignores_name_metadata_and_parameter_uuids() -> None:
    a = build("first", metadata={"k": 1})
    b = build("second", metadata={"other": [1, 2]})
    assert circuit_digest(a) == circuit_digest(b)


def test_digest_ignores_unbound_parameter_uuids() -> None:
    def unbound() -> QuantumCircuit:
        qc = QuantumCircuit(1, 1)
        qc.rz(2 * Parameter("t"), 0)
        qc.measure(0, 0)
        return qc

    assert circuit_digest(unbound()) == circuit_digest(unbound())


@pytest.mark.parametrize(
    "other",
    [build(angle=0.25000000000000006), build(angle=-0.25), build(qubits=(1, 0))],
)
def test_digest_changes_with_angle_gate_or_qubits(other: QuantumCircuit) -> None:
    assert circuit_digest(build()) != circuit_digest(other)


def test_digest_changes_with_gate() -> None:
    a, b = build(), build()
    b.data[0] = b.data[0].replace(operation=b.data[0].operation.__class__())
    assert circuit_digest(a) == circuit_digest(b)
    c = QuantumCircuit(2, 2)
    c.x(0)
    c.rz(0.25, 1)
    c.cx(0, 1)
    c.measure([0, 1], [0, 1])
    assert circuit_digest(c) != circuit_digest(a)


def test_custom_gates_are_expanded() -> None:
    sub = QuantumCircuit(2, name="bell")
    sub.h(0)
    sub.cx(0, 1)
    wrapped = QuantumCircuit(2, 2)
    wrapped.append(sub.to_gate(), [0, 1])
    wrapped.measure([0, 1], [0, 1])
    inline = QuantumCircuit(2, 2)
    inline.h(0)
    inline.cx(0, 1)
    inline.measure([0, 1], [0, 1])
    assert circuit_digest(wrapped) == circuit_digest(inline)


def test_custom_gate_named_like_a_standard_gate_is_not_trusted() -> None:
    fake_def = QuantumCircuit(2)
    fake_def.cz(0, 1)
    fake = Gate("cx", 2, [])
    fake.definition = fake_def
    impostor = QuantumCircuit(2, 2)
    impostor.append(fake, [0, 1])
    impostor.measure([0, 1], [0, 1])
    real = QuantumCircuit(2, 2)
    real.cx(0, 1)
    real.measure([0, 1], [0, 1])
    assert circuit_digest(impostor) != circuit_digest(real)
    assert b'"cz"' in canonical_circuit_bytes(impostor)


def test_register_layout_is_included() -> None:
    a = QuantumCircuit(QuantumRegister(2, "q"))
    b = QuantumCircuit(QuantumRegister(1, "q"), QuantumRegister(1, "r"))
    assert circuit_digest(a) != circuit_digest(b)


def test_opaque_instruction_refused() -> None:
    qc = QuantumCircuit(1)
    qc.append(Gate("mystery", 1, []), [0])
    with pytest.raises(UnsupportedAlgorithmError, match="mystery"):
        circuit_digest(qc)


def test_qpy_roundtrip_pinned_version() -> None:
    qc = build("named", metadata={"a": 1})
    data = dump_qpy(qc)
    assert data[:6] == b"QISKIT"
    assert data[6] == QPY_FORMAT_VERSION
    assert circuit_digest(load_qpy(data)) == circuit_digest(qc)


def test_qpy_newer_version_refused() -> None:
    data = bytearray(dump_qpy(build()))
    data[6] = QPY_FORMAT_VERSION + 1
    with pytest.raises(UnsupportedAlgorithmError, match="newer than the pinned version"):
        load_qpy(bytes(data))


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"not qpy", "not a QPY document"), (b"QISKIT\x0d" + b"\x00" * 5, "does not parse")],
)
def test_qpy_garbage_refused(data: bytes, match: str) -> None:
    with pytest.raises(MalformedInputError, match=match):
        load_qpy(data)


def test_truncated_qpy_refused() -> None:
    data = dump_qpy(build())
    with pytest.raises(MalformedInputError, match="does not parse"):
        load_qpy(data[: len(data) // 2])


def test_circuit_without_measurements_refused() -> None:
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    with pytest.raises(MalformedInputError, match="no measurements"):
        require_measurements(qc)
