"""Loading circuits from exact bytes, and the expanded gate inventory."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov.circuits import (
    CircuitLimitError,
    CircuitLimits,
    DisallowedGateError,
    analyze_circuit,
    check_gates,
    circuit_digest,
    detect_format,
    load_circuit,
)
from qprov.errors import (
    ConfigError,
    Error,
    MalformedInputError,
    PolicyError,
    UnsupportedAlgorithmError,
)

QASM2 = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""
QASM2_RESPACED = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2]; creg c[2];
h q[0];  cx q[0],q[1];
measure q -> c;
"""
QASM3 = b"""OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def _qpy(circuit: object, version: int | None = None) -> bytes:
    from qiskit import qpy

    buffer = io.BytesIO()
    if version is None:
        qpy.dump(circuit, buffer)
    else:
        qpy.dump(circuit, buffer, version=version)
    return buffer.getvalue()


def _bell_qpy() -> bytes:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return _qpy(circuit)


# -- formats and digests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"), [(QASM2, "openqasm2"), (QASM3, "openqasm3"), (None, "qpy")]
)
def test_each_format_loads_with_the_same_facts(data: bytes | None, fmt: str) -> None:
    raw = _bell_qpy() if data is None else data
    facts = analyze_circuit(raw)
    assert facts.format == fmt
    assert (facts.num_qubits, facts.num_clbits) == (2, 2)
    assert facts.depth == 3
    assert facts.inventory.counts == {"h": 1, "cx": 1, "measure": 2}
    assert facts.digest == circuit_digest(raw)
    assert facts.to_dict()["qubits"] == 2


def test_digest_is_of_the_exact_bytes() -> None:
    loaded = load_circuit(QASM2)
    import hashlib

    assert loaded.digest == "sha256:" + hashlib.sha256(QASM2).hexdigest()
    assert loaded.data == QASM2
    # The same circuit, written differently: same facts, different digest.
    other = analyze_circuit(QASM2_RESPACED)
    assert other.inventory.counts == analyze_circuit(QASM2).inventory.counts
    assert other.digest != loaded.digest


def test_format_hint_must_match_content() -> None:
    assert detect_format(QASM3, "openqasm3") == "openqasm3"
    with pytest.raises(MalformedInputError, match="mismatch"):
        load_circuit(QASM2, format="openqasm3")
    with pytest.raises(MalformedInputError, match="mismatch"):
        load_circuit(_bell_qpy(), format="openqasm2")
    with pytest.raises(MalformedInputError, match="unknown circuit format"):
        load_circuit(QASM2, format="quil")


def test_headerless_openqasm3_needs_the_hint() -> None:
    source = b'include "stdgates.inc"; qubit[1] q; x q[0];'
    with pytest.raises(MalformedInputError, match="cannot tell"):
        load_circuit(source)
    assert load_circuit(source, format="openqasm3").circuit.num_qubits == 1


def test_header_after_comments_is_found() -> None:
    source = b"// a comment\n/* block\n comment */\n" + QASM3
    assert detect_format(source) == "openqasm3"


def test_unsupported_qasm_version() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="OpenQASM version 4"):
        load_circuit(b"OPENQASM 4.0; qubit q;")


# -- hidden gates ---------------------------------------------------------------------

ALLOWED = {"h", "cx", "x", "rz", "sx"}


def _assert_hidden_t(data: bytes, where: str) -> None:
    facts = analyze_circuit(data)
    assert "t" in facts.inventory.gates
    with pytest.raises(DisallowedGateError, match=r"t \(in " + where) as refused:
        check_gates(facts.inventory, ALLOWED)
    assert refused.value.gates == {"t"}
    assert isinstance(refused.value, PolicyError)


def test_disallowed_gate_in_qasm2_custom_gate() -> None:
    _assert_hidden_t(
        b'OPENQASM 2.0; include "qelib1.inc"; gate safe a { h a; t a; } qreg q[1]; safe q[0];',
        "safe",
    )


def test_custom_gate_named_like_a_standard_gate_is_expanded() -> None:
    # No qelib1.inc: this "h" is a user gate hiding a t, not the Hadamard.
    _assert_hidden_t(b"OPENQASM 2.0; opaque t a; gate h a { t a; } qreg q[1]; h q[0];", "h")


def test_disallowed_gate_in_nested_definitions() -> None:
    _assert_hidden_t(
        b'OPENQASM 2.0; include "qelib1.inc"; gate inner a { t a; } gate mid a { inner a; } '
        b"gate outer a, b { cx a, b; mid b; } qreg q[2]; outer q[0], q[1];",
        "outer > mid > inner",
    )


def test_disallowed_gate_in_openqasm3_gate_definition() -> None:
    _assert_hidden_t(
        b'OPENQASM 3.0; include "stdgates.inc"; gate g a, b { cx a, b; t b; } '
        b"qubit[2] q; g q[0], q[1];",
        "g",
    )


def test_openqasm3_subroutine_is_refused_not_skipped() -> None:
    # qiskit's importer cannot load `def`: the circuit is refused, never admitted
    # with the subroutine's gates unseen.
    with pytest.raises(MalformedInputError, match="SubroutineDefinition"):
        analyze_circuit(
            b'OPENQASM 3.0; include "stdgates.inc"; def f(qubit a) { t a; } qubit[1] q; f(q[0]);'
        )


def test_disallowed_gate_in_control_flow() -> None:
    _assert_hidden_t(
        b'OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; bit[1] c; c[0] = measure q[0]; '
        b"if (c[0]) { h q[1]; } else { t q[1]; }",
        "if_else",
    )
    _assert_hidden_t(
        b'OPENQASM 3.0; include "stdgates.inc"; gate g a { t a; } qubit[1] q; '
        b"for uint i in [0:9] { g q[0]; }",
        "for_loop > g",
    )


def test_disallowed_gate_in_qpy_composite_and_control_flow() -> None:
    from qiskit import QuantumCircuit

    inner = QuantumCircuit(1, name="inner")
    inner.t(0)
    outer = QuantumCircuit(1, name="outer")
    outer.append(inner.to_gate(), [0])
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.append(outer.to_instruction(), [0])
    _assert_hidden_t(_qpy(circuit), "if_else > outer > inner")


def test_open_controlled_standard_gate_is_expanded() -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import CXGate

    circuit = QuantumCircuit(2)
    circuit.append(CXGate(ctrl_state=0), [0, 1])
    facts = analyze_circuit(_qpy(circuit))
    assert "cx_o0" not in facts.inventory.counts
    assert facts.inventory.gates <= {"x", "cx"}


def test_unitary_is_reported_not_synthesised() -> None:
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate

    circuit = QuantumCircuit(1)
    circuit.append(UnitaryGate(np.eye(2)), [0])
    assert analyze_circuit(_qpy(circuit)).inventory.gates == {"unitary"}


def test_directives_are_reported_and_exempt_by_default() -> None:
    facts = analyze_circuit(QASM2)
    assert "measure" in facts.inventory.names
    check_gates(facts.inventory, {"h", "cx"})
    with pytest.raises(DisallowedGateError, match="measure"):
        check_gates(facts.inventory, {"h", "cx"}, check_directives=True)
    with pytest.raises(ConfigError, match="empty"):
        check_gates(facts.inventory, set())


# -- bombs and limits -----------------------------------------------------------------


def _bomb(levels: int) -> bytes:
    lines = ['OPENQASM 2.0; include "qelib1.inc"; gate g0 a { t a; }']
    lines += [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels)]
    lines.append(f"qreg q[1]; g{levels - 1} q[0];")
    return "\n".join(lines).encode()


def test_definition_bomb_is_refused() -> None:
    with pytest.raises(CircuitLimitError, match="more than 20000 definitions"):
        analyze_circuit(_bomb(30))


def test_deep_nesting_is_refused() -> None:
    lines = ['OPENQASM 2.0; include "qelib1.inc"; gate g0 a { t a; }']
    lines += [f"gate g{i} a {{ g{i - 1} a; }}" for i in range(1, 50)]
    lines.append("qreg q[1]; g49 q[0];")
    with pytest.raises(CircuitLimitError, match="nest deeper than 32"):
        analyze_circuit("\n".join(lines).encode())


def test_operation_limit() -> None:
    with pytest.raises(CircuitLimitError, match="more than 100 operations"):
        analyze_circuit(_bomb(9), limits=CircuitLimits(max_operations=100))


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (b"OPENQASM 2.0; qreg q[2000000000];", "declares 2000000000 qubits"),
        (b"OPENQASM 3.0; qubit[2000000000] q;", "declares 2000000000 qubits"),
        (b"OPENQASM 3.0; bit[2000000000] c;", "clbits"),
        (b"OPENQASM 3.0; qubit[1000*1000] q;", "integer literal"),
    ],
)
def test_register_bombs_are_refused_before_parsing(source: bytes, match: str) -> None:
    with pytest.raises(CircuitLimitError, match=match):
        load_circuit(source)


def test_broadcast_fan_out_is_bounded() -> None:
    source = b'OPENQASM 2.0; include "qelib1.inc"; qreg q[1000];' + b"h q;" * 3000
    with pytest.raises(CircuitLimitError, match="broadcasts"):
        load_circuit(source, limits=CircuitLimits(max_operations=1_000_000))


def test_size_limit() -> None:
    with pytest.raises(CircuitLimitError, match="bytes"):
        load_circuit(QASM2, limits=CircuitLimits(max_bytes=10))


def test_includes_never_read_local_files(tmp_path: object) -> None:
    with pytest.raises(MalformedInputError, match="include"):
        load_circuit(b'OPENQASM 2.0; include "/etc/passwd"; qreg q[1];')
    with pytest.raises(MalformedInputError):
        load_circuit(b'OPENQASM 3.0; include "/etc/passwd"; qubit q;')


# -- QPY versions and corruption -------------------------------------------------------


def test_qpy_from_a_newer_format_version_is_refused() -> None:
    import qiskit.qpy

    data = bytearray(_bell_qpy())
    data[6] = qiskit.qpy.QPY_VERSION + 1
    with pytest.raises(UnsupportedAlgorithmError, match=r"newer than this qiskit supports"):
        load_circuit(bytes(data))


def test_qpy_older_than_the_minimum_is_refused() -> None:
    data = bytearray(_bell_qpy())
    data[6] = 9
    with pytest.raises(UnsupportedAlgorithmError, match="older than the oldest accepted"):
        load_circuit(bytes(data))


def test_qpy_qubit_count_bomb_is_refused() -> None:
    import struct

    from qiskit import QuantumCircuit

    data = bytearray(_qpy(QuantumCircuit(1), version=15))  # no circuit table before v16
    struct.pack_into("!I", data, 20 + 5, 2_000_000_000)  # num_qubits in the circuit header
    with pytest.raises(CircuitLimitError, match="2000000000 qubits"):
        load_circuit(bytes(data))


@pytest.mark.parametrize("cut", [7, 19, 30, -5])
def test_truncated_qpy_is_malformed(cut: int) -> None:
    with pytest.raises(MalformedInputError):
        load_circuit(_bell_qpy()[:cut])


def test_corrupt_qpy_is_malformed() -> None:
    data = bytearray(_bell_qpy())
    for i in range(40, len(data) - 8, 7):
        data[i] ^= 0xFF
    with pytest.raises(MalformedInputError):
        load_circuit(bytes(data))


@pytest.mark.parametrize(
    "source",
    [
        b"OPENQASM 2.0; qreg q[1]; h q[0];",  # h undefined without qelib1.inc
        b"OPENQASM 2.0; qreg q[1] garbage",
        b"OPENQASM 3.0; qubit q; frobnicate q;",
        b"OPENQASM 2.0; \xff\xfe",
        b"OPENQASM 2.0; qreg q[1];\x00",
    ],
)
def test_unparseable_qasm_is_malformed(source: bytes) -> None:
    with pytest.raises(MalformedInputError):
        load_circuit(source)


def test_loaded_circuit_is_not_imported_eagerly() -> None:
    import subprocess
    import sys

    code = "import sys, qprov.circuits; assert 'qiskit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- property: arbitrary bytes ----------------------------------------------------------

_SEEDS = [QASM2, QASM3]


@st.composite
def _inputs(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["raw", "qasm", "qpy"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "qasm":
        seed = draw(st.sampled_from(_SEEDS))
        cut = draw(st.integers(0, len(seed)))
        noise = draw(st.binary(max_size=30))
        return seed[:cut] + noise + seed[cut:]
    data = bytearray(_QPY_SEED)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(6, len(data)))])


_QPY_SEED = _bell_qpy()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_inputs())
def test_arbitrary_bytes_give_a_circuit_or_a_qprov_error(data: bytes) -> None:
    try:
        facts = analyze_circuit(data)
    except Error:
        return
    assert facts.digest == circuit_digest(data)


def test_parsing_from_many_threads_at_once_is_safe() -> None:
    """qiskit's OpenQASM parsers crashed the process when threads parsed together."""
    from concurrent.futures import ThreadPoolExecutor

    from qprov.circuits import analyze_circuit

    qasm2 = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\n'
    qasm2 += b"cx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n"
    qasm3 = b'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\n'
    qasm3 += b"cx q[0], q[1];\nc = measure q;\n"
    inputs = [qasm2 if i % 2 else qasm3 for i in range(60)]
    with ThreadPoolExecutor(6) as pool:
        facts = list(pool.map(analyze_circuit, inputs))
    assert {f.num_qubits for f in facts} == {2, 3}
    assert all(f.gate_counts.get("cx") for f in facts)
