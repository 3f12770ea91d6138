"""Baseline distributions from circuits (ideal or noisy) and beyond-statevector checks.

:func:`exact_distribution` computes the exact outcome distribution of a
circuit whose measurements are all final: ideal circuits with a statevector,
noisy ones with a density matrix (Aer) and the noise model's per-qubit readout
errors applied to the result. :func:`outcome_probabilities` gives the ideal
probability of given outcomes for circuits past statevector size: exactly
from a stabilizer state (Clifford circuits) or from Aer's matrix-product state.
:func:`cross_entropy_check` ties it together for the XEB test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qprov.errors import (
    EnvironmentProblemError,
    MalformedInputError,
    SimulationTooLargeError,
    UnsupportedAlgorithmError,
)
from qprov.repro._circuit import require_measurements
from qprov.repro._counts import Counts
from qprov.repro._methods import Limits, choose_method, is_clifford
from qprov.repro._stats import (
    DEFAULT_ALPHA,
    Distribution,
    TestResult,
    cross_entropy_test,
)

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit_aer.noise import NoiseModel

__all__ = [
    "cross_entropy_check",
    "exact_distribution",
    "final_measurements",
    "outcome_probabilities",
]

_MAX_EXACT_QUBITS = 26
_MAX_DENSITY_QUBITS = 13


def final_measurements(circuit: QuantumCircuit) -> tuple[QuantumCircuit, list[int]]:
    """Split off final measurements: (unitary part, measured qubit of each clbit).

    Every clbit must be written by exactly one measurement, and nothing may act
    on a qubit after it is measured (MalformedInputError otherwise).
    """
    require_measurements(circuit)
    body = circuit.copy_empty_like()
    measured: dict[int, int] = {}
    done: set[int] = set()
    for inst in circuit.data:
        qs = [circuit.find_bit(q).index for q in inst.qubits]
        if inst.operation.name == "measure":
            c = circuit.find_bit(inst.clbits[0]).index
            if c in measured:
                raise UnsupportedAlgorithmError(f"clbit {c} is measured twice")
            measured[c] = qs[0]
            done.add(qs[0])
            continue
        if inst.operation.name == "barrier":
            body.append(inst)
            continue
        if done.intersection(qs) or inst.clbits:
            raise UnsupportedAlgorithmError(
                "circuit has mid-circuit measurement or classical control; "
                "an exact distribution needs final measurements only"
            )
        body.append(inst)
    if len(measured) != circuit.num_clbits:
        raise UnsupportedAlgorithmError(
            f"only {len(measured)} of {circuit.num_clbits} clbits are measured"
        )
    return body, [measured[c] for c in range(circuit.num_clbits)]


def _readout_matrices(noise_model: NoiseModel, qubits: Sequence[int]) -> list[Any]:
    mats: list[Any] = []
    doc = noise_model.to_dict(serializable=False)
    local: dict[int, Any] = {}
    default = None
    for entry in doc.get("errors", []):
        if entry.get("type") != "roerror":
            continue
        probs = np.asarray(entry["probabilities"], dtype=np.float64)
        if probs.shape != (2, 2):
            raise UnsupportedAlgorithmError("correlated readout errors are not supported")
        gq = entry.get("gate_qubits")
        if gq is None:
            default = probs
        else:
            for g in gq:
                local[int(g[0])] = probs
    mats.extend(local.get(q, default) for q in qubits)
    return mats


def _aer_probabilities(
    body: QuantumCircuit, qubit_of: list[int], method: str, noise_model: NoiseModel | None
) -> np.ndarray:
    """Probabilities of the measured qubits (clbit order) from Aer's save_probabilities."""
    from qiskit_aer import AerSimulator

    circ = body.copy()
    circ.save_probabilities(qubit_of, label="probs")
    try:
        result = AerSimulator(method=method, noise_model=noise_model).run(circ, shots=1).result()
        return np.asarray(result.data(0)["probs"], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - AerError and friends
        raise EnvironmentProblemError(f"{method} simulation failed: {exc}") from None


def exact_distribution(
    circuit: QuantumCircuit,
    *,
    noise_model: NoiseModel | None = None,
) -> Distribution:
    """Exact distribution over the circuit's clbits (final measurements only)."""
    body, qubit_of = final_measurements(circuit)
    n = circuit.num_qubits
    if noise_model is None:
        if n > _MAX_EXACT_QUBITS:
            raise SimulationTooLargeError(
                f"exact distribution of {n} qubits is too large (limit {_MAX_EXACT_QUBITS})"
            )
        return Distribution.from_dense(_aer_probabilities(body, qubit_of, "statevector", None))
    if n > _MAX_DENSITY_QUBITS:
        raise SimulationTooLargeError(
            f"exact noisy distribution of {n} qubits is too large "
            f"(density matrix limit {_MAX_DENSITY_QUBITS}); use a sampled baseline"
        )
    probs = _aer_probabilities(body, qubit_of, "density_matrix", noise_model)
    mats = _readout_matrices(noise_model, qubit_of)
    m = len(qubit_of)
    tensor = probs.reshape([2] * m)  # axis 0 is the most significant clbit (m - 1)
    for clbit, mat in enumerate(mats):
        if mat is None:
            continue
        axis = m - 1 - clbit
        tensor = np.moveaxis(np.tensordot(tensor, mat, axes=([axis], [0])), -1, axis)
    return Distribution.from_dense(tensor.reshape(-1))


def _mps_probabilities(
    body: QuantumCircuit, qubit_of: list[int], outcomes: Sequence[str], options: dict[str, Any]
) -> np.ndarray:
    from qiskit_aer import AerSimulator

    circ = body.copy()
    circ.save_matrix_product_state(label="mps")
    try:
        result = AerSimulator(method="matrix_product_state", **options).run(circ, shots=1).result()
        gammas, lambdas = result.data(0)["mps"]
    except Exception as exc:  # noqa: BLE001
        raise EnvironmentProblemError(f"MPS simulation failed: {exc}") from None
    n = len(gammas)
    out = np.empty(len(outcomes))
    for j, outcome in enumerate(outcomes):
        bits: dict[int, int] = {}
        for clbit, q in enumerate(qubit_of):
            bits[q] = int(outcome[len(outcome) - 1 - clbit])
        env = np.ones((1, 1), dtype=complex)
        for site in range(n):
            pair = gammas[site]
            lam = lambdas[site] if site < n - 1 else None
            mats = [pair[bits[site]]] if site in bits else [pair[0], pair[1]]
            new = np.zeros((mats[0].shape[1], mats[0].shape[1]), dtype=complex)
            for a in mats:
                m = a * lam[np.newaxis, :] if lam is not None else a
                new += m.conj().T @ env @ m
            env = new
        out[j] = float(env.real.sum())
    return out


def _rowsum(x: np.ndarray, z: np.ndarray, r: np.ndarray, h: int, i: int) -> None:
    """Row h <- row i * row h (Aaronson-Gottesman), phases tracked mod 4."""
    x1, z1 = x[i].astype(np.int64), z[i].astype(np.int64)
    x2, z2 = x[h].astype(np.int64), z[h].astype(np.int64)
    g = np.where(
        (x1 == 1) & (z1 == 1),
        z2 - x2,
        np.where(
            (x1 == 1) & (z1 == 0),
            z2 * (2 * x2 - 1),
            np.where((x1 == 0) & (z1 == 1), x2 * (1 - 2 * z2), 0),
        ),
    )
    total = (2 * int(r[h]) + 2 * int(r[i]) + int(g.sum())) % 4
    r[h] = total == 2
    x[h] ^= x[i]
    z[h] ^= z[i]


def _stabilizer_probabilities(
    body: QuantumCircuit, qubit_of: list[int], outcomes: Sequence[str]
) -> np.ndarray:
    """Exact marginal probabilities from the stabilizer tableau, in O(n^3) bit operations.

    A stabilizer state's Z-basis distribution is uniform on an affine subspace;
    the Z-only stabilizers (after Gaussian elimination of the X part) are the
    parity constraints b.x = r that define it. Eliminating the unmeasured
    qubits from those constraints gives the constraints of the marginal.
    """
    from qiskit.quantum_info import Clifford

    if len(set(qubit_of)) != len(qubit_of):
        raise UnsupportedAlgorithmError("a qubit is measured into more than one clbit")
    plain = body.copy_empty_like()
    for inst in body.data:
        if inst.operation.name not in ("barrier", "delay"):
            plain.append(inst)
    try:
        cliff = Clifford(plain)
    except Exception as exc:  # noqa: BLE001 - QiskitError for non-Clifford input
        raise UnsupportedAlgorithmError(f"not a Clifford circuit: {exc}") from None
    x = np.array(cliff.stab_x, dtype=bool)
    z = np.array(cliff.stab_z, dtype=bool)
    r = np.array(cliff.stab_phase, dtype=bool)
    n = x.shape[1]
    row = 0
    for col in range(n):
        pivots = np.nonzero(x[row:, col])[0]
        if pivots.size == 0:
            continue
        p = row + int(pivots[0])
        if p != row:
            x[[row, p]], z[[row, p]], r[[row, p]] = x[[p, row]], z[[p, row]], r[[p, row]]
        for h in np.nonzero(x[:, col])[0]:
            if h != row:
                _rowsum(x, z, r, int(h), row)
        row += 1
        if row == n:
            break
    cons, rhs = z[row:].copy(), r[row:].copy()
    measured = np.zeros(n, dtype=bool)
    measured[qubit_of] = True
    crow = 0
    for ucol in (int(c) for c in np.nonzero(~measured)[0]):
        pivots = np.nonzero(cons[crow:, ucol])[0]
        if pivots.size == 0:
            continue
        p = crow + int(pivots[0])
        cons[[crow, p]], rhs[[crow, p]] = cons[[p, crow]], rhs[[p, crow]]
        for h in np.nonzero(cons[:, ucol])[0]:
            if h != crow:
                cons[h] ^= cons[crow]
                rhs[h] ^= rhs[crow]
        crow += 1
    cons, rhs = cons[crow:], rhs[crow:]
    free = len(qubit_of) - _gf2_rank(cons)
    out = np.empty(len(outcomes))
    for j, outcome in enumerate(outcomes):
        vec = np.zeros(n, dtype=bool)
        for clbit, q in enumerate(qubit_of):
            vec[q] = outcome[len(outcome) - 1 - clbit] == "1"
        ok = not np.any((cons & vec).sum(axis=1) % 2 != rhs) if len(cons) else True
        out[j] = 2.0 ** (-free) if ok else 0.0
    return out


def _gf2_rank(mat: np.ndarray) -> int:
    m = mat.copy()
    rank = 0
    for col in range(m.shape[1] if m.ndim == 2 else 0):
        pivots = np.nonzero(m[rank:, col])[0]
        if pivots.size == 0:
            continue
        p = rank + int(pivots[0])
        m[[rank, p]] = m[[p, rank]]
        for h in np.nonzero(m[:, col])[0]:
            if h != rank:
                m[h] ^= m[rank]
        rank += 1
        if rank == m.shape[0]:
            break
    return rank


def outcome_probabilities(
    circuit: QuantumCircuit,
    outcomes: Sequence[str],
    *,
    method: str | None = None,
    limits: Limits | None = None,
    mps_options: dict[str, Any] | None = None,
) -> tuple[np.ndarray, str]:
    """Ideal probability of each outcome, and the method that computed it.

    ``method`` None chooses stabilizer (Clifford), statevector or MPS with
    :func:`~qprov.repro._methods.choose_method`.
    """
    body, qubit_of = final_measurements(circuit)
    for o in outcomes:
        if len(o) != circuit.num_clbits or set(o) - {"0", "1"}:
            raise MalformedInputError(f"outcome {o!r} is not a {circuit.num_clbits}-bit string")
    chosen = method or choose_method(circuit, limits=limits).method
    if chosen == "stabilizer":
        if not is_clifford(body):
            raise UnsupportedAlgorithmError("stabilizer method needs a Clifford circuit")
        probs = _stabilizer_probabilities(body, qubit_of, outcomes)
        return probs, "stabilizer"
    if chosen == "statevector":
        dist = exact_distribution(circuit)
        return dist.probabilities_of(list(outcomes)), "statevector"
    if chosen == "matrix_product_state":
        return _mps_probabilities(body, qubit_of, outcomes, dict(mps_options or {})), (
            "matrix_product_state"
        )
    raise UnsupportedAlgorithmError(f"method {chosen!r} cannot compute outcome probabilities")


def cross_entropy_check(
    circuit: QuantumCircuit,
    observed: Counts,
    *,
    rng: np.random.Generator,
    reference_shots: int = 2000,
    alpha: float = DEFAULT_ALPHA,
    effect_size: float = 0.05,
    method: str | None = None,
    limits: Limits | None = None,
) -> TestResult:
    """XEB of ``observed`` against a reference sample from the simulator itself."""
    from qprov.repro._simulate import simulate

    if observed.num_clbits != circuit.num_clbits:
        raise MalformedInputError(
            f"counts have {observed.num_clbits} bits, circuit has {circuit.num_clbits}"
        )
    chosen = method or choose_method(circuit, limits=limits).method
    seed = int(rng.integers(0, 2**62))
    ref = simulate(circuit, shots=reference_shots, seed=seed, method=chosen, limits=limits)
    obs_keys, ref_keys = list(observed), list(ref.counts)
    p_obs, used = outcome_probabilities(circuit, obs_keys, method=chosen, limits=limits)
    p_ref, _ = outcome_probabilities(circuit, ref_keys, method=chosen, limits=limits)
    obs_vals = np.repeat(p_obs, [observed[k] for k in obs_keys])
    ref_vals = np.repeat(p_ref, [ref.counts[k] for k in ref_keys])
    n_measured = len(set(final_measurements(circuit)[1]))
    return cross_entropy_test(
        obs_vals,
        ref_vals,
        num_qubits=n_measured,
        rng=rng,
        alpha=alpha,
        effect_size=effect_size,
        reference_method=used,
    )
