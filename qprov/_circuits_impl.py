"""Loading circuits from the exact bytes received, and their gate inventory.

Private: the public names are re-exported by :mod:`qprov.circuits`.

qiskit is imported inside functions only, so that importing this module (and
the CLI commands that never touch a circuit) stays cheap.

Untrusted input is checked *before* qiskit sees it wherever qiskit would
otherwise allocate without bound: the declared register sizes and the fan-out
of register broadcasts in OpenQASM, the qubit and clbit counts in the QPY
header. Everything qiskit raises (including the ``PanicException`` its Rust
parsers raise, which is a ``BaseException``) is translated into
:class:`qprov.errors.MalformedInputError`.
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from qprov.errors import (
    ConfigError,
    MalformedInputError,
    PolicyError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

CircuitFormat = Literal["openqasm2", "openqasm3", "qpy"]
CIRCUIT_FORMATS: Final[tuple[CircuitFormat, ...]] = get_args(CircuitFormat)

DEFAULT_MAX_CIRCUIT_BYTES: Final = 8 * 1024 * 1024
MIN_QPY_VERSION: Final = 13
"""Oldest QPY format version accepted (the first one qiskit 2 reads natively)."""

DIRECTIVES: Final = frozenset({"measure", "reset", "barrier", "delay"})
"""Non-unitary instructions that are reported in the inventory like gates."""

_QPY_MAGIC: Final = b"QISKIT"
_QPY_FILE_HEADER: Final = struct.Struct("!6sBBBBQc")
_QPY_CIRCUIT_HEADER: Final = struct.Struct("!H1cHIIQIQI")
_QPY_TABLE_ENTRY: Final = struct.Struct("!Q")
_QPY_FIRST_TABLE_VERSION: Final = 16


class CircuitLimitError(MalformedInputError):
    """A circuit exceeds a size limit (bytes, qubits, expansion depth or size)."""


class DisallowedGateError(PolicyError):
    """The circuit applies a gate outside the allowed set."""

    def __init__(self, message: str, gates: frozenset[str]) -> None:
        super().__init__(message)
        self.gates = gates


@dataclass(frozen=True)
class CircuitLimits:
    """Bounds applied to untrusted circuits. Every bound must be positive."""

    max_bytes: int = DEFAULT_MAX_CIRCUIT_BYTES
    max_qubits: int = 10_000
    max_clbits: int = 100_000
    max_operations: int = 2_000_000
    """Instructions in the statically expanded program (and broadcast fan-out)."""
    max_expansions: int = 20_000
    """Definitions opened while expanding (each costs qiskit a circuit build)."""
    max_nesting: int = 32
    """Nesting of definitions and control-flow bodies."""

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_qubits",
            "max_clbits",
            "max_operations",
            "max_expansions",
            "max_nesting",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"circuit limit {name} must be a positive integer")


DEFAULT_LIMITS: Final = CircuitLimits()


@dataclass(frozen=True)
class GateInventory:
    """The primitive operations a circuit applies, with every definition expanded.

    ``counts`` maps each primitive name to the number of times it occurs in the
    static expansion (both branches of a conditional count; a loop body counts
    once). ``origins`` gives, for each primitive, the first chain of enclosing
    definitions or control-flow blocks it was found in (``()`` = top level).
    """

    counts: Mapping[str, int]
    origins: Mapping[str, tuple[str, ...]]
    control_flow: Mapping[str, int]
    expanded: frozenset[str]

    @property
    def names(self) -> frozenset[str]:
        """Every primitive name, directives (measure, reset...) included."""
        return frozenset(self.counts)

    @property
    def gates(self) -> frozenset[str]:
        """The primitive names that are not directives."""
        return frozenset(self.counts) - DIRECTIVES


@dataclass(frozen=True)
class LoadedCircuit:
    """A circuit with the exact bytes it was loaded from."""

    format: CircuitFormat
    digest: str
    data: bytes = field(repr=False)
    circuit: QuantumCircuit = field(repr=False)


@dataclass(frozen=True)
class CircuitFacts:
    """Facts computed from a circuit with qiskit (never taken from a claim)."""

    format: CircuitFormat
    digest: str
    size: int
    num_qubits: int
    num_clbits: int
    depth: int
    gate_counts: Mapping[str, int]
    """Top-level operation counts, as ``QuantumCircuit.count_ops`` reports them."""
    inventory: GateInventory

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (keys in camelCase, sorted counts)."""
        return {
            "format": self.format,
            "digest": self.digest,
            "size": self.size,
            "qubits": self.num_qubits,
            "clbits": self.num_clbits,
            "depth": self.depth,
            "gateCounts": dict(sorted(self.gate_counts.items())),
            "primitiveGates": dict(sorted(self.inventory.counts.items())),
            "controlFlow": dict(sorted(self.inventory.control_flow.items())),
        }


# -- digest and format ---------------------------------------------------------


def circuit_digest(data: bytes) -> str:
    """``"sha256:<hex>"`` of the exact bytes (never of a re-serialisation)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedInputError("a circuit must be given as bytes")
    return "sha256:" + hashlib.sha256(bytes(data)).hexdigest()


# Comments, string literals and everything else, for scanning OpenQASM source.
_TOKEN_RE: Final = re.compile(
    r'(?P<line>//[^\n]*)|(?P<block>/\*.*?(?:\*/|\Z))|(?P<str>"[^"\n]*"?)',
    re.DOTALL,
)
_HEADER_RE: Final = re.compile(r"OPENQASM\s+(\d+)(?:\.(\d+))?\s*;")


def _strip_comments(text: str) -> str:
    """Replace comments by a space; keep string literals (include names)."""

    def repl(match: re.Match[str]) -> str:
        return match.group(0) if match.group("str") is not None else " "

    return _TOKEN_RE.sub(repl, text)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"OpenQASM source is not valid UTF-8: {exc.reason}") from None
    return text.removeprefix("\ufeff")


def _qasm_version(stripped: str) -> int | None:
    match = _HEADER_RE.match(stripped.lstrip())
    if match is None:
        return None
    major = int(match.group(1))
    if major not in (2, 3):
        raise UnsupportedAlgorithmError(f"OpenQASM version {match.group(1)} is not supported")
    return major


def detect_format(data: bytes, hint: str | None = None) -> CircuitFormat:
    """Find the format from the content; ``hint``, if given, must agree with it.

    QPY starts with ``QISKIT``; OpenQASM with an ``OPENQASM 2``/``OPENQASM 3``
    header (after comments). OpenQASM 3 allows omitting the header: such
    source is accepted only with ``hint="openqasm3"``.
    """
    if hint is not None and hint not in CIRCUIT_FORMATS:
        raise MalformedInputError(
            f"unknown circuit format {hint!r} (expected one of {', '.join(CIRCUIT_FORMATS)})"
        )
    detected: CircuitFormat | None
    if bytes(data[:6]) == _QPY_MAGIC:
        detected = "qpy"
    else:
        try:
            text = bytes(data).decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            text = None
        version = None if text is None else _qasm_version(_strip_comments(text))
        detected = None if version is None else ("openqasm2" if version == 2 else "openqasm3")
    if detected is None:
        if hint == "openqasm3" and bytes(data[:6]) != _QPY_MAGIC:
            return "openqasm3"
        raise MalformedInputError(
            "cannot tell the circuit format: no QPY magic and no OPENQASM 2/3 header"
        )
    if hint is not None and hint != detected:
        raise MalformedInputError(
            f"circuit format mismatch: declared {hint}, content is {detected}"
        )
    return detected


# -- pre-parse bounds ------------------------------------------------------------

_QASM2_DECL_RE: Final = re.compile(r"\b(qreg|creg)\s+([A-Za-z_]\w*)\s*\[\s*([^\]]*?)\s*\]")
_QASM3_REG_RE: Final = re.compile(
    r"\b(qubit|bit|qreg|creg)\b\s*(?:\[\s*([^\]]*?)\s*\]\s*([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*"
    r"(?:\[\s*([^\]]*?)\s*\])?)"
)
_IDENT_RE: Final = re.compile(r"[A-Za-z_]\w*")
_INT_RE: Final = re.compile(r"\d+")


def _literal_size(text: str, what: str) -> int:
    cleaned = text.replace("_", "")
    if not _INT_RE.fullmatch(cleaned):
        raise CircuitLimitError(f"{what} size must be an integer literal, not {text[:40]!r}")
    return int(cleaned)


def _check_qasm_bounds(stripped: str, version: int, limits: CircuitLimits) -> None:
    """Bound qubits, clbits and broadcast fan-out before qiskit allocates them."""
    sizes: dict[str, int] = {}
    qubits = clbits = 0
    if version == 2:
        for kind, name, size_text in _QASM2_DECL_RE.findall(stripped):
            size = _literal_size(size_text, f"register {name}")
            sizes[name] = max(sizes.get(name, 0), size)
            if kind == "qreg":
                qubits += size
            else:
                clbits += size
    else:
        for match in _QASM3_REG_RE.finditer(stripped):
            kind = match.group(1)
            if match.group(3) is not None:  # qubit[N] name / bit[N] name
                name, size_text = match.group(3), match.group(2)
            else:  # qubit name / qreg name[N]
                name, size_text = match.group(4), match.group(5)
            size = 1 if size_text is None else _literal_size(size_text, f"register {name}")
            sizes[name] = max(sizes.get(name, 0), size)
            if kind in ("qubit", "qreg"):
                qubits += size
            else:
                clbits += size
    if qubits > limits.max_qubits:
        raise CircuitLimitError(f"circuit declares {qubits} qubits (limit {limits.max_qubits})")
    if clbits > limits.max_clbits:
        raise CircuitLimitError(f"circuit declares {clbits} clbits (limit {limits.max_clbits})")
    # A bare register name as an argument broadcasts the statement over the
    # register; bound the instructions this can create (over-estimates: a
    # statement counts its largest bare register once per occurrence).
    fan_out = 0
    for statement in stripped.split(";"):
        widest = 1
        for ident in _IDENT_RE.findall(statement):
            widest = max(widest, sizes.get(ident, 1))
        fan_out += widest
        if fan_out > limits.max_operations:
            raise CircuitLimitError(
                f"circuit may expand to more than {limits.max_operations} instructions "
                "(register broadcasts)"
            )


def _check_qpy_header(data: bytes, limits: CircuitLimits) -> None:
    import qiskit.qpy

    if len(data) < _QPY_FILE_HEADER.size + 1:
        raise MalformedInputError("QPY file truncated in its header")
    _, version, *_rest, num_programs, _encoding = _QPY_FILE_HEADER.unpack_from(data)
    supported = int(qiskit.qpy.QPY_VERSION)
    if version > supported:
        raise UnsupportedAlgorithmError(
            f"QPY format version {version} is newer than this qiskit supports "
            f"(at most {supported}); upgrade qiskit or export with an older QPY version"
        )
    if version < MIN_QPY_VERSION:
        raise UnsupportedAlgorithmError(
            f"QPY format version {version} is older than the oldest accepted "
            f"({MIN_QPY_VERSION}); export again with qiskit.qpy.dump(version>={MIN_QPY_VERSION})"
        )
    if num_programs != 1:
        raise MalformedInputError(f"QPY file holds {num_programs} programs; exactly one expected")
    offset = _QPY_FILE_HEADER.size + 1  # file header, then the program type key
    if version >= _QPY_FIRST_TABLE_VERSION:
        if len(data) < offset + _QPY_TABLE_ENTRY.size:
            raise MalformedInputError("QPY file truncated in its circuit table")
        (offset,) = _QPY_TABLE_ENTRY.unpack_from(data, offset)
    if offset + _QPY_CIRCUIT_HEADER.size > len(data):
        raise MalformedInputError("QPY file truncated in its circuit header")
    header = _QPY_CIRCUIT_HEADER.unpack_from(data, offset)
    qubits, clbits = header[3], header[4]
    if qubits > limits.max_qubits:
        raise CircuitLimitError(f"QPY circuit has {qubits} qubits (limit {limits.max_qubits})")
    if clbits > limits.max_clbits:
        raise CircuitLimitError(f"QPY circuit has {clbits} clbits (limit {limits.max_clbits})")


# -- loading ---------------------------------------------------------------------


def _translate(exc: BaseException, what: str) -> MalformedInputError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return MalformedInputError(f"{what}: {reason[:500]}")


#: qiskit's OpenQASM parsers are not safe to run from several threads at once (the
#: OpenQASM 2 parser was seen to crash the process with a segfault when three threads
#: parsed together), and the gateway decides admissions on a thread pool: parse one
#: circuit at a time. The gateway caches parsed circuits by digest, so this costs little.
_PARSER_LOCK = threading.Lock()


def _run_parser(what: str, parse: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a qiskit parser (one at a time), translating everything it raises."""
    try:
        with _PARSER_LOCK:
            return parse(*args, **kwargs)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except RecursionError:
        raise CircuitLimitError(f"{what}: nesting too deep") from None
    except MemoryError:
        raise CircuitLimitError(f"{what}: circuit too large") from None
    except BaseException as exc:  # noqa: BLE001 - qiskit raises many types, PanicException too
        raise _translate(exc, what) from None


def load_circuit(
    data: bytes,
    *,
    format: str | None = None,
    limits: CircuitLimits = DEFAULT_LIMITS,
) -> LoadedCircuit:
    """Load one circuit from the exact bytes received.

    Raises :class:`MalformedInputError` (with the reason) for anything that is
    not a loadable circuit, :class:`UnsupportedAlgorithmError` for a QPY
    version this qiskit cannot read, :class:`CircuitLimitError` past a limit.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedInputError("a circuit must be given as bytes")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise CircuitLimitError(f"circuit is {len(data)} bytes (limit {limits.max_bytes})")
    fmt = detect_format(data, format)
    digest = circuit_digest(data)
    circuit = _load_qpy(data, limits) if fmt == "qpy" else _load_qasm(data, fmt, limits)
    return LoadedCircuit(format=fmt, digest=digest, data=data, circuit=circuit)


def _load_qasm(data: bytes, fmt: CircuitFormat, limits: CircuitLimits) -> QuantumCircuit:
    text = _decode(data)
    if "\x00" in text:
        raise MalformedInputError("OpenQASM source contains a NUL character")
    stripped = _strip_comments(text)
    _check_qasm_bounds(stripped, 2 if fmt == "openqasm2" else 3, limits)
    if fmt == "openqasm2":
        import qiskit.qasm2

        # include_path=() : only the built-in qelib1.inc; never read local files.
        return _run_parser("unparseable OpenQASM 2", qiskit.qasm2.loads, text, include_path=())
    import qiskit.qasm3

    # qiskit's OpenQASM 3 importer resolves only the built-in stdgates.inc.
    return _run_parser("unparseable OpenQASM 3", qiskit.qasm3.loads, text)


def _load_qpy(data: bytes, limits: CircuitLimits) -> QuantumCircuit:
    import io

    import qiskit.qpy
    from qiskit.circuit import QuantumCircuit

    _check_qpy_header(data, limits)
    programs = _run_parser("corrupt QPY", qiskit.qpy.load, io.BytesIO(data))
    if len(programs) != 1 or not isinstance(programs[0], QuantumCircuit):
        raise MalformedInputError("QPY file does not hold exactly one circuit")
    return programs[0]


# -- inventory --------------------------------------------------------------------


def _matrix_defined_classes() -> dict[type, str]:
    """Library instructions defined by a matrix or vector: reported, not synthesised.

    Synthesising their definitions costs time exponential in their width, and a
    policy must name them explicitly anyway (they can apply any unitary).
    """
    from qiskit.circuit.library import (
        DiagonalGate,
        HamiltonianGate,
        Initialize,
        Isometry,
        StatePreparation,
        UCGate,
        UCPauliRotGate,
        UnitaryGate,
    )

    return {
        UnitaryGate: "unitary",
        HamiltonianGate: "hamiltonian",
        Isometry: "isometry",
        Initialize: "initialize",
        StatePreparation: "state_preparation",
        DiagonalGate: "diagonal",
        UCGate: "multiplexer",
        UCPauliRotGate: "uc_pauli_rot",
    }


def _standard_classes() -> dict[str, type]:
    from qiskit.circuit import Barrier
    from qiskit.circuit.library import get_standard_gate_name_mapping

    classes = {name: op.base_class for name, op in get_standard_gate_name_mapping().items()}
    classes["barrier"] = Barrier
    return classes


def gate_inventory(
    circuit: QuantumCircuit, *, limits: CircuitLimits = DEFAULT_LIMITS
) -> GateInventory:
    """Expand every definition down to the primitive operations applied.

    Primitive, reported by name and never expanded:

    * qiskit's standard gates (``get_standard_gate_name_mapping``), recognised by
      their exact class, canonical name and all-ones control state: a custom gate
      *named* ``h`` is expanded like any other custom gate;
    * ``measure``, ``reset``, ``barrier``, ``delay``;
    * operations with no definition (OpenQASM ``opaque`` gates, QPY opaque
      instructions), by their name;
    * matrix-defined library instructions (``unitary``, ``hamiltonian``,
      ``isometry``, ``initialize``, ``state_preparation``...) by a fixed name;
    * operations that are not instructions (e.g. ``clifford``), by their name.

    Everything else (custom gates, composite instructions, OpenQASM gate
    definitions, controlled and library gates such as ``qft``) is expanded
    through its definition; control-flow bodies (``if_else``, ``while_loop``,
    ``for_loop``, ``switch_case``, ``box``) are walked and counted in
    ``control_flow``. An ``annotated`` operation (inverse/control/power
    modifiers) is reported as ``annotated`` *and* its base operation is
    expanded, so a disallowed gate inside it is still found.

    Raises :class:`CircuitLimitError` past ``max_nesting``, ``max_expansions``
    or ``max_operations`` (a bomb of nested definitions fails fast), and
    :class:`MalformedInputError` when qiskit cannot build a definition.
    """
    try:
        return _inventory(circuit, limits)
    except MalformedInputError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except RecursionError:
        raise CircuitLimitError("circuit definitions nest too deeply") from None
    except MemoryError:
        raise CircuitLimitError("circuit expands beyond available memory") from None
    except BaseException as exc:  # noqa: BLE001 - qiskit raises many types, PanicException too
        raise _translate(exc, "cannot expand circuit") from None


def _inventory(circuit: QuantumCircuit, limits: CircuitLimits) -> GateInventory:
    from qiskit.circuit import AnnotatedOperation, ControlFlowOp, ControlledGate, Instruction

    standard = _standard_classes()
    matrix_defined = _matrix_defined_classes()
    counts: Counter[str] = Counter()
    flow: Counter[str] = Counter()
    origins: dict[str, tuple[str, ...]] = {}
    expanded: set[str] = set()
    operations = 0
    expansions = 0

    def primitive(name: str, path: tuple[str, ...]) -> None:
        counts[name] += 1
        origins.setdefault(name, path)

    # An explicit stack (no Python recursion): (operations, path).
    stack: list[tuple[list[Any], tuple[str, ...]]] = [([ci.operation for ci in circuit.data], ())]

    def push(body: Any, path: tuple[str, ...]) -> None:
        nonlocal expansions
        if len(path) > limits.max_nesting:
            raise CircuitLimitError(
                f"definitions nest deeper than {limits.max_nesting} levels "
                f"(at {' > '.join(path[:8])} > ...)"
            )
        expansions += 1
        if expansions > limits.max_expansions:
            raise CircuitLimitError(
                f"expanding the circuit opens more than {limits.max_expansions} definitions"
            )
        stack.append(([ci.operation for ci in body.data], path))

    while stack:
        ops, path = stack.pop()
        for op in ops:
            operations += 1
            if operations > limits.max_operations:
                raise CircuitLimitError(
                    f"circuit expands to more than {limits.max_operations} operations"
                )
            name = op.name
            base = getattr(op, "base_class", type(op))
            if isinstance(op, ControlFlowOp):
                flow[name] += 1
                for block in op.blocks:
                    push(block, (*path, name))
                continue
            if isinstance(op, AnnotatedOperation):
                primitive("annotated", path)
                push(_OneOpBody(op.base_op), (*path, "annotated"))
                continue
            if (
                name in standard
                and standard[name] is base
                and (
                    not isinstance(op, ControlledGate)
                    or op.ctrl_state == (1 << op.num_ctrl_qubits) - 1
                )
            ):
                primitive(name, path)
                continue
            if base in matrix_defined:
                primitive(matrix_defined[base], path)
                continue
            if not isinstance(op, Instruction):
                primitive(name, path)
                continue
            definition = op.definition
            if definition is None:
                primitive(name, path)
                continue
            expanded.add(name)
            push(definition, (*path, name))
    return GateInventory(
        counts=MappingProxyType(dict(counts)),
        origins=MappingProxyType(origins),
        control_flow=MappingProxyType(dict(flow)),
        expanded=frozenset(expanded),
    )


class _OneOp:
    __slots__ = ("operation",)

    def __init__(self, operation: Any) -> None:
        self.operation = operation


class _OneOpBody:
    """A body of one operation (the base of an annotated operation)."""

    __slots__ = ("data",)

    def __init__(self, operation: Any) -> None:
        self.data = [_OneOp(operation)]


# -- facts and gate policy -------------------------------------------------------------


def circuit_facts(loaded: LoadedCircuit, *, limits: CircuitLimits = DEFAULT_LIMITS) -> CircuitFacts:
    """Compute the facts of a loaded circuit with qiskit."""
    circuit = loaded.circuit
    inventory = gate_inventory(circuit, limits=limits)
    try:
        depth = int(circuit.depth())
        gate_counts = {str(k): int(v) for k, v in circuit.count_ops().items()}
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - qiskit raises many types
        raise _translate(exc, "cannot analyse circuit") from None
    return CircuitFacts(
        format=loaded.format,
        digest=loaded.digest,
        size=len(loaded.data),
        num_qubits=int(circuit.num_qubits),
        num_clbits=int(circuit.num_clbits),
        depth=depth,
        gate_counts=MappingProxyType(gate_counts),
        inventory=inventory,
    )


def analyze_circuit(
    data: bytes,
    *,
    format: str | None = None,
    limits: CircuitLimits = DEFAULT_LIMITS,
) -> CircuitFacts:
    """Load ``data`` and compute its facts in one step."""
    return circuit_facts(load_circuit(data, format=format, limits=limits), limits=limits)


def check_gates(
    inventory: GateInventory, allowed: Iterable[str], *, check_directives: bool = False
) -> None:
    """Raise :class:`DisallowedGateError` unless every primitive gate is allowed.

    The directives (measure, reset, barrier, delay) are exempt unless
    ``check_directives`` is true, in which case ``allowed`` must name them too.
    The reason names each disallowed gate with where it was found. An empty
    ``allowed`` set is a configuration error, not "nothing to check".
    """
    allowed_set = frozenset(allowed)
    if not allowed_set:
        raise ConfigError("the allowed gate set is empty")
    used = inventory.names if check_directives else inventory.gates
    bad = used - allowed_set
    if bad:
        details = []
        for gate in sorted(bad):
            where = inventory.origins.get(gate, ())
            details.append(f"{gate} (in {' > '.join(where)})" if where else gate)
        raise DisallowedGateError(f"gates not allowed: {', '.join(details)}", bad)
