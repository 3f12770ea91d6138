"""Identity of an executed circuit: canonical digest and pinned-version QPY.

QPY bytes depend on the circuit's name, metadata, parameter UUIDs and the QPY
format version, so they are never hashed. The canonical encoding hashed by
:func:`circuit_digest` is a JSON document (RFC 8785) holding:

* ``encoding``: the version of this encoding (:data:`CANONICAL_ENCODING`);
* ``num_qubits``, ``num_clbits`` and the register layout
  (``[name, [bit indices]]`` for each quantum and classical register, in order);
* ``global_phase`` as ``float.hex()``;
* ``ops``: the ordered instructions, each ``[name, [qubit indices],
  [clbit indices], [params]]``; floats as ``float.hex()``, complex numbers as
  ``[re, im]`` hex pairs, arrays as nested lists, unbound parameters by their
  expression text (never their UUID). Custom gates are replaced, recursively,
  by their definitions until only qiskit standard gates (matched by class, not
  by name, so a custom gate called ``"cx"`` is expanded, not trusted), measure,
  reset, barrier, delay, ``unitary`` and Aer save/set directives remain.
  Control-flow operations keep their name and encode their blocks the same way,
  with their condition; a ``switch_case`` adds its target and the case values of
  each block (``"default"`` for the default case); a ``for_loop``'s range is
  ``{"range": [start, stop, step]}`` and a missing loop parameter ``null``.

Circuit name, metadata, labels and parameter UUIDs do not enter the digest.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NewType

import numpy as np

from qprov._canon import MAX_SAFE_INTEGER, canonical_json_plain
from qprov.errors import MalformedInputError, UnsupportedAlgorithmError

if TYPE_CHECKING:
    from qiskit.circuit import Instruction, QuantumCircuit

__all__ = [
    "CANONICAL_ENCODING",
    "QPY_FORMAT_VERSION",
    "CircuitDigest",
    "canonical_circuit_bytes",
    "circuit_digest",
    "dump_qpy",
    "load_qpy",
    "load_qpy_with_digest",
    "require_measurements",
]

CircuitDigest = NewType("CircuitDigest", str)
"""Hex SHA-256 of :func:`canonical_circuit_bytes`."""

#: Version of the canonical circuit encoding (part of the hashed document).
CANONICAL_ENCODING = "qprov-circuit/v1"
#: QPY format version qprov writes, and the newest it reads. Version 13 is the
#: oldest qiskit 2.x can write and is readable by qiskit >= 1.1.
QPY_FORMAT_VERSION = 13
#: Largest QPY document :func:`load_qpy` accepts.
MAX_QPY_BYTES = 256 * 1024 * 1024
_MAX_DEPTH = 32
_QPY_MAGIC = b"QISKIT"


def require_measurements(circuit: QuantumCircuit) -> None:
    """Raise MalformedInputError if ``circuit`` measures nothing."""
    # CircuitInstruction.name: no Python operation object is built per instruction; from the
    # end, where measurements usually are.
    if circuit.num_clbits == 0 or not any(
        inst.name == "measure" for inst in reversed(circuit.data)
    ):
        raise MalformedInputError(
            f"circuit has no measurements ({circuit.num_qubits} qubits, "
            f"{circuit.num_clbits} clbits): there are no counts to reproduce"
        )


@functools.cache  # read-only: built once per process (qiskit builds ~60 gate objects)
def _leaf_classes() -> dict[str, type]:
    from qiskit.circuit import Barrier, Delay, Measure, Reset
    from qiskit.circuit.library import UnitaryGate, get_standard_gate_name_mapping

    leaves: dict[str, type] = {
        name: gate.base_class for name, gate in get_standard_gate_name_mapping().items()
    }
    leaves.update(
        {
            "barrier": Barrier,
            "measure": Measure,
            "reset": Reset,
            "delay": Delay,
            "unitary": UnitaryGate,
        }
    )
    return leaves


def _hex(value: float) -> str:
    return float(value).hex()


def _param(value: Any) -> Any:
    if type(value) is float:  # nearly every gate parameter: skip the import and the checks
        return value.hex()
    from qiskit.circuit import ParameterExpression

    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return _hex(float(value))
    if isinstance(value, complex | np.complexfloating):
        return [_hex(float(value.real)), _hex(float(value.imag))]
    if isinstance(value, np.ndarray):
        return [_param(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_param(v) for v in value]
    if isinstance(value, str):
        return value
    if isinstance(value, ParameterExpression):
        if not value.parameters:
            numeric = complex(value)
            return _hex(numeric.real) if numeric.imag == 0 else _param(numeric)
        return {"expr": str(value)}
    raise UnsupportedAlgorithmError(
        f"circuit parameter of type {type(value).__name__} cannot be canonically encoded"
    )


def _int(value: Any) -> int:
    number = int(value)
    if abs(number) > MAX_SAFE_INTEGER:  # as RFC 8785 (I-JSON) would refuse it
        raise MalformedInputError(
            f"value cannot be canonicalised: integer {number} is beyond ±(2**53 - 1)"
        )
    return number


def _condition(cond: Any, clbit_index: dict[Any, int]) -> Any:
    from qiskit.circuit import ClassicalRegister, Clbit

    if cond is None:
        return None
    if isinstance(cond, tuple) and len(cond) == 2:
        target, value = cond
        if isinstance(target, Clbit):
            return ["clbit", clbit_index[target], _int(value)]
        if isinstance(target, ClassicalRegister):
            return ["creg", [clbit_index[b] for b in target], _int(value)]
    return {"expr": str(cond)}


def _switch_target(target: Any, clbit_index: dict[Any, int]) -> Any:
    from qiskit.circuit import ClassicalRegister, Clbit

    if isinstance(target, Clbit):
        return ["clbit", clbit_index[target]]
    if isinstance(target, ClassicalRegister):
        return ["creg", [clbit_index[b] for b in target]]
    return {"expr": str(target)}


def _control_flow_param(value: Any) -> Any:
    # for_loop: (indexset, loop parameter or None, body); the body is encoded as a block.
    if value is None:
        return None
    if isinstance(value, range):
        return {"range": [_int(value.start), _int(value.stop), _int(value.step)]}
    return _param(value)


def _encode_ops(
    circuit: QuantumCircuit,
    qmap: Sequence[int],
    cmap: Sequence[int],
    leaves: dict[str, type],
    out: list[Any],
    depth: int,
    rust_standard: bool = False,
) -> None:
    if depth > _MAX_DEPTH:
        raise MalformedInputError(
            f"circuit definitions nest deeper than {_MAX_DEPTH} levels (recursive gate?)"
        )
    from qiskit.circuit import CASE_DEFAULT, ControlFlowOp, SwitchCaseOp

    qindex = {bit: qmap[i] for i, bit in enumerate(circuit.qubits)}
    cindex = {bit: cmap[i] for i, bit in enumerate(circuit.clbits)}
    for inst in circuit.data:
        if rust_standard and inst.is_standard_gate() and inst.name in leaves:
            # Name and parameters from qiskit's Rust data: no Python gate object is built
            # (see load_qpy_with_digest for why this is the leaf encoding below). The name
            # check keeps out standard gates the name mapping does not list (C3XGate, "mcx").
            params = inst.params
            out.append(
                [
                    inst.name,
                    [qindex[q] for q in inst.qubits],
                    [cindex[c] for c in inst.clbits] if inst.clbits else [],
                    [p.hex() if type(p) is float else _param(p) for p in params] if params else [],
                ]
            )
            continue
        op: Instruction = inst.operation
        name = op.name
        qubits = [qindex[q] for q in inst.qubits]
        clbits = [cindex[c] for c in inst.clbits] if inst.clbits else []
        # Standard gates first (nearly every instruction): no control-flow class is a leaf.
        leaf = leaves.get(name)
        if leaf is not None and getattr(op, "base_class", type(op)) is leaf:
            params = op.params
            entry: list[Any] = [
                name,
                qubits,
                clbits,
                [p.hex() if type(p) is float else _param(p) for p in params] if params else [],
            ]
            if name == "delay":
                entry.append({"unit": str(getattr(op, "unit", "dt"))})
            out.append(entry)
            continue
        if isinstance(op, ControlFlowOp):
            blocks = []
            for block in op.blocks:
                sub: list[Any] = []
                _encode_ops(block, qubits, clbits, leaves, sub, depth + 1, rust_standard)
                blocks.append(sub)
            cond = _condition(getattr(op, "condition", None), cindex)
            extra: dict[str, Any] = {"blocks": blocks, "condition": cond}
            if isinstance(op, SwitchCaseOp):
                extra["target"] = _switch_target(op.target, cindex)
                extra["cases"] = [
                    ["default" if v is CASE_DEFAULT else _int(v) for v in values]
                    for values, _ in op.cases_specifier()
                ]
            params = [_control_flow_param(p) for p in op.params if not _is_circuit(p)]
            out.append([name, qubits, clbits, params, extra])
            continue
        if (type(op).__module__ or "").startswith("qiskit_aer.library"):
            out.append([op.name, qubits, clbits, [_param(p) for p in op.params]])
            continue
        definition = op.definition
        if definition is None:
            raise UnsupportedAlgorithmError(
                f"instruction {op.name!r} is not a standard gate and has no definition; "
                "it cannot be canonically encoded"
            )
        _encode_ops(definition, qubits, clbits, leaves, out, depth + 1)


def _is_circuit(value: Any) -> bool:
    from qiskit.circuit import QuantumCircuit

    return isinstance(value, QuantumCircuit)


def canonical_circuit_bytes(circuit: QuantumCircuit) -> bytes:
    """The canonical encoding of ``circuit`` (see the module docstring)."""
    return _canonical_bytes(circuit, rust_standard=False)


def _canonical_bytes(circuit: QuantumCircuit, *, rust_standard: bool) -> bytes:
    from qiskit.circuit import QuantumCircuit

    if not isinstance(circuit, QuantumCircuit):
        raise MalformedInputError(f"expected a QuantumCircuit, got {type(circuit).__name__}")
    qindex = {bit: i for i, bit in enumerate(circuit.qubits)}
    cindex = {bit: i for i, bit in enumerate(circuit.clbits)}
    ops: list[Any] = []
    _encode_ops(
        circuit,
        range(circuit.num_qubits),
        range(circuit.num_clbits),
        _leaf_classes(),
        ops,
        0,
        rust_standard,
    )
    phase = circuit.global_phase
    doc = {
        "encoding": CANONICAL_ENCODING,
        "num_qubits": circuit.num_qubits,
        "num_clbits": circuit.num_clbits,
        "qregs": [[reg.name, [qindex[b] for b in reg]] for reg in circuit.qregs],
        "cregs": [[reg.name, [cindex[b] for b in reg]] for reg in circuit.cregs],
        "global_phase": _param(phase),
        "ops": ops,
    }
    # Plain by construction: str literal keys, floats as float.hex(), integers checked by _int.
    return canonical_json_plain(doc)


def circuit_digest(circuit: QuantumCircuit) -> CircuitDigest:
    """Hex SHA-256 of the canonical encoding of ``circuit``."""
    return CircuitDigest(hashlib.sha256(canonical_circuit_bytes(circuit)).hexdigest())


def dump_qpy(circuit: QuantumCircuit) -> bytes:
    """Serialise ``circuit`` as QPY with the pinned :data:`QPY_FORMAT_VERSION`."""
    from qiskit import qpy

    buf = io.BytesIO()
    try:
        qpy.dump(circuit, buf, version=QPY_FORMAT_VERSION)
    except qpy.QpyError as exc:
        raise UnsupportedAlgorithmError(
            f"circuit cannot be written as QPY version {QPY_FORMAT_VERSION}: {exc}"
        ) from None
    return buf.getvalue()


def qpy_version(data: bytes) -> int:
    """The QPY format version in the header of ``data``."""
    if len(data) < 7 or data[:6] != _QPY_MAGIC:
        raise MalformedInputError("not a QPY document (missing 'QISKIT' header)")
    return data[6]


def load_qpy(data: bytes, *, max_version: int = QPY_FORMAT_VERSION) -> QuantumCircuit:
    """Load exactly one circuit from QPY bytes.

    Refuses (:class:`~qprov.errors.UnsupportedAlgorithmError`) a format version
    newer than ``max_version`` (default: the pinned version) or than the
    installed qiskit reads, and raises MalformedInputError for anything that
    does not parse.
    """
    from qiskit import qpy

    if len(data) > MAX_QPY_BYTES:
        raise MalformedInputError(f"QPY document is over {MAX_QPY_BYTES} bytes")
    version = qpy_version(data)
    if version > max_version or version > qpy.QPY_VERSION:
        raise UnsupportedAlgorithmError(
            f"QPY format version {version} is newer than the pinned version "
            f"{min(max_version, qpy.QPY_VERSION)} this qprov reads; refusing to load it"
        )
    try:
        circuits = qpy.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - qpy raises anything on hostile bytes
        raise MalformedInputError(
            f"QPY document does not parse: {type(exc).__name__}: {exc}"
        ) from None
    if len(circuits) != 1:
        raise MalformedInputError(
            f"QPY document holds {len(circuits)} programs; exactly one circuit expected"
        )
    from qiskit.circuit import QuantumCircuit

    circuit = circuits[0]
    if not isinstance(circuit, QuantumCircuit):
        raise MalformedInputError("QPY document does not hold a QuantumCircuit")
    return circuit


def load_qpy_with_digest(
    data: bytes, *, max_version: int = QPY_FORMAT_VERSION
) -> tuple[QuantumCircuit, CircuitDigest]:
    """:func:`load_qpy`, and the :func:`circuit_digest` of the circuit it loaded.

    The same digest, computed without building a Python gate object per standard
    gate: an instruction qiskit holds as a standard gate is encoded from its name and
    parameters. That is the leaf encoding only for a circuit QPY has just loaded: QPY
    loads a standard gate as qiskit's own class, and a subclass of one (which an
    in-memory circuit also holds as a standard gate) as a generic gate with its
    definition; a standard gate whose name is not a leaf's (C3XGate is "mcx") is
    encoded the general way. Control-flow blocks are QPY-loaded too; gate definitions are not
    (they are encoded the general way).
    """
    circuit = load_qpy(data, max_version=max_version)
    try:
        encoded = _canonical_bytes(circuit, rust_standard=True)
    except (MalformedInputError, UnsupportedAlgorithmError):
        raise
    except Exception as exc:  # noqa: BLE001 - qiskit builds instructions lazily, and fails here
        raise MalformedInputError(
            f"QPY document does not load: {type(exc).__name__}: {exc}"
        ) from None
    return circuit, CircuitDigest(hashlib.sha256(encoded).hexdigest())
