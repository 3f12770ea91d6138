"""Choosing a simulation method before doing any work.

The choice is made from the circuit alone, cheaply, so that a circuit no method
can handle is refused with the reason in milliseconds instead of after an hour:

1. ``stabilizer`` for Clifford circuits (any width up to :attr:`Limits.max_stabilizer_qubits`),
   when the noise model (if any) has only Pauli and reset errors;
2. ``statevector`` when ``2**n`` amplitudes fit in the memory limit and the
   estimated work (gates x amplitudes) fits the work limit;
3. ``matrix_product_state`` when an upper bound on the bond dimension fits:
   every two-qubit gate across a cut multiplies the Schmidt rank across that
   cut by at most its operator Schmidt rank (2 for controlled and ``rzz``-like
   gates, 4 otherwise), and the rank is at most ``2**min(left, right)``;
4. otherwise :class:`~qprov.errors.EnvironmentProblemError` naming why each
   method was ruled out.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from qprov.errors import MalformedInputError, SimulationTooLargeError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit_aer.noise import NoiseModel

__all__ = ["Limits", "Method", "MethodChoice", "choose_method", "is_clifford"]

Method = Literal["statevector", "density_matrix", "stabilizer", "matrix_product_state"]

_CLIFFORD = frozenset(
    {
        "cx",
        "cy",
        "cz",
        "ecr",
        "h",
        "id",
        "x",
        "y",
        "z",
        "s",
        "sdg",
        "sx",
        "sxdg",
        "swap",
        "pauli",
        "delay",
        "barrier",
        "measure",
        "reset",
    }
)
_DIRECTIVES = frozenset({"barrier", "measure", "reset", "delay"})
_RANK2 = frozenset(
    {
        "cx",
        "cy",
        "cz",
        "ch",
        "cp",
        "crx",
        "cry",
        "crz",
        "cs",
        "csdg",
        "csx",
        "cu",
        "cu1",
        "cu3",
        "ecr",
        "rzz",
        "rxx",
        "ryy",
        "rzx",
        "cx_o0",
    }
)
_PAULI_NOISE = frozenset({"id", "x", "y", "z", "pauli", "reset"})


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 1024**3


@dataclass(frozen=True)
class Limits:
    """Resource limits for :func:`choose_method` (bytes, and abstract work units)."""

    memory_bytes: int = _physical_memory() // 2
    max_work: float = 2e12
    max_bond_dimension: int = 2048
    max_stabilizer_qubits: int = 10_000


@dataclass(frozen=True)
class MethodChoice:
    """The method and why it was chosen (or why the others were not)."""

    method: Method
    reason: str


def is_clifford(circuit: QuantumCircuit) -> bool:
    """True when every instruction is Clifford (rz only at multiples of pi/2)."""
    for inst in circuit.data:
        name = inst.operation.name
        if name in _CLIFFORD:
            continue
        if name in ("rz", "p", "u1") and _quarter_turn(inst.operation.params[0]):
            continue
        return False
    return True


def _quarter_turn(angle: object) -> bool:
    try:
        value = float(angle)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    ratio = value / (math.pi / 2)
    return abs(ratio - round(ratio)) < 1e-9


def _noise_is_pauli(noise_model: NoiseModel | None) -> bool:
    if noise_model is None:
        return True
    for entry in noise_model.to_dict(serializable=False).get("errors", []):
        if entry.get("type") != "qerror":
            continue
        for circuit in entry.get("instructions", []):
            if any(op.get("name") not in _PAULI_NOISE for op in circuit):
                return False
    return True


def _mps_estimate(circuit: QuantumCircuit) -> tuple[int, float]:
    """(log2 of the bond-dimension bound, work estimate) for MPS simulation."""
    n = circuit.num_qubits
    log_bond = [0] * max(n - 1, 0)
    cap = [min(k + 1, n - k - 1) for k in range(n - 1)]
    work = 0.0
    for inst in circuit.data:
        if inst.operation.name in _DIRECTIVES or len(inst.qubits) < 2:
            work += 1.0
            continue
        idx = sorted(circuit.find_bit(q).index for q in inst.qubits)
        factor = 1 if inst.operation.name in _RANK2 and len(idx) == 2 else 2
        lo, hi = idx[0], idx[-1]
        for k in range(lo, hi):
            log_bond[k] = min(cap[k], log_bond[k] + factor)
        chi = 2.0 ** max((log_bond[k] for k in range(lo, hi)), default=0)
        # SVD of a (2 chi x 2 chi) matrix per step, and swaps for distant qubits.
        work += (hi - lo) * 10.0 * (2 * chi) ** 3
    return max(log_bond, default=0), work


def choose_method(
    circuit: QuantumCircuit,
    *,
    noise_model: NoiseModel | None = None,
    precision: Literal["double", "single"] = "double",
    limits: Limits | None = None,
    allowed: tuple[Method, ...] = ("stabilizer", "statevector", "matrix_product_state"),
) -> MethodChoice:
    """Pick a method for ``circuit`` or refuse before any simulation work."""
    from qiskit.circuit import QuantumCircuit

    if not isinstance(circuit, QuantumCircuit):
        raise MalformedInputError(f"expected a QuantumCircuit, got {type(circuit).__name__}")
    lim = limits or Limits()
    n = circuit.num_qubits
    reasons: list[str] = []
    if "stabilizer" in allowed:
        if not is_clifford(circuit):
            reasons.append("stabilizer: circuit has non-Clifford gates")
        elif not _noise_is_pauli(noise_model):
            reasons.append("stabilizer: noise model has non-Pauli errors")
        elif n > lim.max_stabilizer_qubits:
            reasons.append(f"stabilizer: {n} qubits > {lim.max_stabilizer_qubits}")
        else:
            return MethodChoice("stabilizer", f"Clifford circuit on {n} qubits")
    amp = 16 if precision == "double" else 8
    if "statevector" in allowed:
        need = amp * 2.0**n
        work = 2.0**n * max(len(circuit.data), 1)
        if need > lim.memory_bytes:
            reasons.append(
                f"statevector: needs {_size(need)} for {n} qubits, limit {_size(lim.memory_bytes)}"
            )
        elif work > lim.max_work:
            reasons.append(f"statevector: estimated work {work:.3g} > limit {lim.max_work:.3g}")
        else:
            return MethodChoice("statevector", f"{n} qubits fit in {_size(need)}")
    if "density_matrix" in allowed:
        need = amp * 4.0**n
        if need <= lim.memory_bytes:
            return MethodChoice("density_matrix", f"{n} qubits fit in {_size(need)}")
        reasons.append(f"density_matrix: needs {_size(need)}")
    if "matrix_product_state" in allowed:
        log_bond, work = _mps_estimate(circuit)
        bond = 2**log_bond
        need = amp * 2.0 * n * float(bond) ** 2
        if bond > lim.max_bond_dimension:
            reasons.append(
                f"matrix_product_state: bond dimension bound 2^{log_bond} > "
                f"{lim.max_bond_dimension}"
            )
        elif need > lim.memory_bytes:
            reasons.append(f"matrix_product_state: needs {_size(need)}")
        elif work > lim.max_work:
            reasons.append(
                f"matrix_product_state: estimated work {work:.3g} > limit {lim.max_work:.3g}"
            )
        else:
            return MethodChoice(
                "matrix_product_state", f"bond dimension at most {bond} on {n} qubits"
            )
    raise SimulationTooLargeError(
        f"circuit on {n} qubits with {len(circuit.data)} instructions is too large for "
        "every simulation method: " + "; ".join(reasons)
    )


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024:
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} EiB"
