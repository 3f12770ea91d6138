"""Seeded Aer simulation of an executed circuit, and exact replay.

:func:`simulate` runs circuits *as given* (no transpilation: the circuit is
the executed ISA circuit) and records what a result receipt needs to replay
them: library versions, resolved method, device, precision, the effective
per-circuit seed Aer reports (``result.results[i].seed_simulator``; Aer shifts
the job seed for each circuit of a job), options, the noise model's canonical
digest, OS and architecture.

:func:`replay` re-runs exactly that circuit with exactly those settings and
compares counts. On the same platform and library versions the counts must be
identical; on a different one the outcome is ``environment_differs`` and the
caller falls back to the statistical test (:mod:`qprov.repro._stats`).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qprov.errors import (
    EnvironmentProblemError,
    MalformedInputError,
    ReproductionMismatchError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from qprov.repro._circuit import require_measurements
from qprov.repro._counts import Counts, key_arrays
from qprov.repro._methods import Limits, choose_method
from qprov.repro._noise import NoiseDigest, noise_model_digest

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit_aer.noise import NoiseModel

__all__ = [
    "EXECUTION_DETAILS_VERSION",
    "CountDifference",
    "ExecutionDetails",
    "ReplayReport",
    "SimulationResult",
    "current_environment",
    "replay",
    "simulate",
    "simulate_job",
    "verify_replay",
]

EXECUTION_DETAILS_VERSION = "qprov-aer-execution/v1"
_METHODS = (
    "automatic",
    "statevector",
    "density_matrix",
    "stabilizer",
    "matrix_product_state",
    "extended_stabilizer",
    "unitary",
    "superop",
)
#: Options that a caller may set and that are recorded (they can change counts).
_ALLOWED_OPTIONS = frozenset(
    {
        "fusion_enable",
        "fusion_threshold",
        "fusion_max_qubit",
        "max_parallel_threads",
        "max_parallel_shots",
        "max_parallel_experiments",
        "max_memory_mb",
        "matrix_product_state_max_bond_dimension",
        "matrix_product_state_truncation_threshold",
        "mps_sample_measure_algorithm",
        "mps_swap_direction",
        "zero_threshold",
        "chop_threshold",
        "statevector_parallel_threshold",
        "statevector_sample_measure_opt",
        "stabilizer_max_snapshot_probabilities",
        "shot_branching_enable",
        "shot_branching_sampling_enable",
        "batched_shots_gpu",
        "enable_truncation",
        "blocking_enable",
        "blocking_qubits",
        "cuStateVec_enable",
        "num_threads_per_device",
        "mps_omp_threads",
        "mps_parallel_threshold",
        "validation_threshold",
    }
)
_ENVIRONMENT_FIELDS = ("qiskit_version", "aer_version", "os", "arch")
_MAX_SHOTS = 10**9


@dataclass(frozen=True)
class ExecutionDetails:
    """Everything a replay of one simulated circuit needs (a receipt records this)."""

    qiskit_version: str
    aer_version: str
    method: str
    device: str
    precision: str
    seed_simulator: int
    shots: int
    options: Mapping[str, bool | int | float | str]
    noise_model_digest: NoiseDigest
    os: str
    arch: str
    simulator: str = "qiskit-aer"
    version: str = EXECUTION_DETAILS_VERSION

    def __post_init__(self) -> None:
        for name in (
            "qiskit_version",
            "aer_version",
            "method",
            "device",
            "precision",
            "noise_model_digest",
            "os",
            "arch",
            "simulator",
        ):
            if not isinstance(getattr(self, name), str):
                raise MalformedInputError(f"execution details: {name} must be a string")
        if self.version != EXECUTION_DETAILS_VERSION:
            raise UnsupportedAlgorithmError(
                f"execution details version {self.version!r} is not supported"
            )
        if self.simulator != "qiskit-aer":
            raise UnsupportedAlgorithmError(f"simulator {self.simulator!r} is not supported")
        if self.method not in _METHODS:
            raise MalformedInputError(f"execution details: unknown method {self.method!r}")
        if self.precision not in ("double", "single"):
            raise MalformedInputError(
                f"execution details: precision must be 'double' or 'single', got {self.precision!r}"
            )
        for name, value in (("seed_simulator", self.seed_simulator), ("shots", self.shots)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise MalformedInputError(
                    f"execution details: {name} must be a non-negative integer"
                )
        if not 0 < self.shots <= _MAX_SHOTS:
            raise MalformedInputError(f"execution details: shots must be 1..{_MAX_SHOTS}")
        _check_options(self.options)
        object.__setattr__(self, "options", dict(sorted(self.options.items())))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats in options are written as JSON numbers)."""
        out = asdict(self)
        out["options"] = dict(self.options)
        return out

    @classmethod
    def from_dict(cls, doc: Any) -> ExecutionDetails:
        """Strict: every field required, unknown fields refused."""
        if not isinstance(doc, dict):
            raise MalformedInputError("execution details must be a JSON object")
        names = set(cls.__dataclass_fields__)
        unknown = doc.keys() - names
        if unknown:
            raise MalformedInputError(f"execution details: unknown field(s) {sorted(unknown)}")
        missing = names - doc.keys()
        if missing:
            raise MalformedInputError(f"execution details: missing field(s) {sorted(missing)}")
        if not isinstance(doc["options"], dict):
            raise MalformedInputError("execution details: options must be an object")
        return cls(**doc)

    def environment(self) -> dict[str, str]:
        """The platform and library fields a replay must match."""
        return {name: getattr(self, name) for name in _ENVIRONMENT_FIELDS}


def _check_options(options: Mapping[str, Any]) -> None:
    if not isinstance(options, Mapping):
        raise MalformedInputError("simulator options must be a mapping")
    for key, value in options.items():
        if key not in _ALLOWED_OPTIONS:
            raise MalformedInputError(
                f"simulator option {key!r} is not allowed (seed, method, device, precision, "
                "shots and noise model have their own fields)"
            )
        if not isinstance(value, bool | int | float | str):
            raise MalformedInputError(f"simulator option {key!r} must be a JSON scalar")


def current_environment() -> dict[str, str]:
    """qiskit and Aer versions, OS and architecture of this process."""
    import qiskit
    import qiskit_aer

    return {
        "qiskit_version": str(qiskit.__version__),
        "aer_version": str(qiskit_aer.__version__),
        "os": platform.system(),
        "arch": platform.machine(),
    }


@dataclass(frozen=True)
class SimulationResult:
    """Counts of one circuit and the details needed to replay them."""

    counts: Counts
    details: ExecutionDetails


def _counts_from_result(result: Any, index: int, circuit: QuantumCircuit, shots: int) -> Counts:
    """Counts of experiment ``index`` from Aer's raw hexadecimal counts.

    Aer keys are hex integers whose bit i is clbit i, so ``format(value, "0nb")``
    is the flat key (clbit 0 rightmost) without qiskit's register formatting.
    """
    try:
        raw = result.results[index].data.counts
        width = circuit.num_clbits
        # map() keeps the per-outcome loops in C (tens of thousands of outcomes).
        keys = map(format, map(int, raw.keys(), repeat(16)), repeat(f"0{width}b"))
        data = dict(zip(keys, map(int, raw.values()), strict=True))
    except (AttributeError, TypeError, ValueError) as exc:
        raise EnvironmentProblemError(f"unexpected Aer result layout: {exc}") from None
    if sum(data.values()) != shots or not set(map(len, data)) <= {width}:
        raise EnvironmentProblemError("Aer returned counts inconsistent with the circuit")
    if 0 in data.values():
        data = {k: v for k, v in data.items() if v}
    return Counts._trusted(width, shots, data)


def _same_as_recorded(result: Any, recorded: Counts) -> bool:
    """True when Aer's raw counts of experiment 0 are exactly ``recorded``.

    Compared as numbers in bulk: Aer's ``0x...`` keys are read into 64-bit
    integers by array operations and the (key, count) pairs compared, after
    sorting, with the recorded ones (:func:`key_arrays`, built when the
    counts were validated). Registers wider than 64 bits are compared in
    Aer's own key format instead. Any other key spelling, a zero entry or a
    layout problem gives False, and the caller converts (and checks) the raw
    counts in full, so the outcome never depends on this.
    """
    try:
        raw = result.results[0].data.counts
    except (AttributeError, IndexError, TypeError):
        return False
    data = recorded.data
    if not isinstance(raw, dict) or len(raw) != len(data):
        return False
    ours = key_arrays(recorded)
    if ours is None:
        try:
            hexed = dict(
                zip(map(hex, map(int, data.keys(), repeat(2))), data.values(), strict=True)
            )
        except (TypeError, ValueError):
            return False
        return hexed == raw
    theirs = _hex_ints(raw)
    if theirs is None:
        return False
    try:
        # As int() reads them in the full conversion (which the caller falls back to).
        their_counts = np.fromiter(raw.values(), np.int64, len(raw))
    except (TypeError, ValueError, OverflowError):
        return False
    keys, counts = ours
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
        order = np.argsort(keys)
        keys, counts = keys[order], counts[order]
    # Equal sizes; sorted, Aer's keys must be the (strictly ascending) recorded ones.
    order = np.argsort(theirs)
    return bool(np.array_equal(theirs[order], keys) and np.array_equal(their_counts[order], counts))


def _hex_ints(raw: dict[Any, Any]) -> np.ndarray[Any, Any] | None:
    """Aer's keys (``0x`` and 1-16 lowercase hex digits) as 64-bit integers; None otherwise.

    The keys are joined with commas; exactly ``n`` commas (one per key, the
    last appended) means no key holds one, so they mark the key boundaries.
    Each key then starts with ``0x``, and the character counts leave room for
    nothing but hex digits after it.
    """
    n = len(raw)
    try:
        joined = ",".join(raw) + ","  # TypeError unless every key is a str
    except TypeError:
        return None
    if not n or not joined.isascii():
        return None
    chars = np.frombuffer(joined.encode("ascii"), np.uint8)
    ends = np.flatnonzero(chars == _COMMA)  # one past each key
    if len(ends) != n:
        return None
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    if lengths.min() < 3 or lengths.max() > 18:
        return None
    if not ((chars[starts] == _ZERO).all() and (chars[starts + 1] == _X).all()):
        return None
    # n commas, n x's (all at a key's second character), and hex digits for the rest.
    decimal = (chars - _ZERO) < 10  # uint8: codes below '0' wrap round to large ones
    letter = (chars - _A) < 6
    if (
        np.count_nonzero(chars == _X) != n
        or np.count_nonzero(decimal | letter) != len(chars) - 2 * n
    ):
        return None
    # Right-align the digits in an (n, widest) array (the 'x' before them reads as 0);
    # column j weighs 16 ** (widest - 1 - j).
    widest = int(lengths.max()) - 2
    at = np.maximum(ends[:, None] + np.arange(-widest, 0), (starts + 1)[:, None])
    table = _HEX_VALUE[chars[at]].astype(np.uint64)
    values: np.ndarray[Any, Any] = table[:, 0]
    for j in range(1, widest):
        values = (values << np.uint64(4)) | table[:, j]
    return values


_ZERO, _A, _X, _COMMA = (ord(c) for c in "0ax,")
#: Value of each hex digit (and 0 for the 'x' of the prefix), by ASCII code.
_HEX_VALUE = np.zeros(256, np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def _simulator(
    method: str,
    device: str,
    precision: str,
    noise_model: NoiseModel | None,
    options: Mapping[str, Any],
) -> Any:
    from qiskit_aer import AerSimulator

    if device != "CPU":
        available = AerSimulator().available_devices()
        if device not in available:
            raise EnvironmentProblemError(
                f"Aer device {device!r} is not available here (available: {list(available)})"
            )
    try:
        return AerSimulator(
            method=method,
            device=device,
            precision=precision,
            noise_model=noise_model,
            **dict(options),
        )
    except Exception as exc:  # noqa: BLE001 - AerError, ValueError from options
        raise EnvironmentProblemError(f"cannot configure AerSimulator: {exc}") from None


def _run(sim: Any, circuits: Sequence[QuantumCircuit], shots: int, seed: int) -> Any:
    try:
        result = sim.run(list(circuits), shots=shots, seed_simulator=seed).result()
    except Exception as exc:  # noqa: BLE001 - Aer raises AerError/QiskitError/RuntimeError
        raise EnvironmentProblemError(f"Aer simulation failed: {exc}") from None
    if not result.success:
        raise EnvironmentProblemError(f"Aer simulation failed: {result.status}")
    return result


def _check_inputs(circuits: Sequence[QuantumCircuit], shots: int, seed: int) -> None:
    from qiskit.circuit import QuantumCircuit

    if not circuits:
        raise MalformedInputError("no circuits to simulate")
    for c in circuits:
        if not isinstance(c, QuantumCircuit):
            raise MalformedInputError(f"expected a QuantumCircuit, got {type(c).__name__}")
        if c.parameters:
            raise MalformedInputError(
                f"circuit has unbound parameters {sorted(p.name for p in c.parameters)}"
            )
        require_measurements(c)
    if isinstance(shots, bool) or not isinstance(shots, int) or not 0 < shots <= _MAX_SHOTS:
        raise MalformedInputError(f"shots must be an integer in 1..{_MAX_SHOTS}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise MalformedInputError("seed must be an integer in [0, 2**63)")


def simulate_job(
    circuits: Sequence[QuantumCircuit],
    *,
    shots: int,
    seed: int,
    method: str = "automatic",
    device: str = "CPU",
    precision: Literal["double", "single"] = "double",
    noise_model: NoiseModel | None = None,
    options: Mapping[str, bool | int | float | str] | None = None,
    limits: Limits | None = None,
) -> list[SimulationResult]:
    """Run ``circuits`` as one Aer job; one result per circuit.

    ``method="automatic"`` resolves through :func:`choose_method` first (so
    an impossible circuit is refused before any work); an explicit method is
    run as asked. The circuits are never transpiled.
    """
    opts = dict(options or {})
    _check_options(opts)
    _check_inputs(circuits, shots, seed)
    if method not in _METHODS:
        raise MalformedInputError(f"unknown simulation method {method!r}")
    if method == "automatic":
        chosen = {
            choose_method(c, noise_model=noise_model, precision=precision, limits=limits).method
            for c in circuits
        }
        # One job runs one method: take the most general one needed.
        for candidate in ("matrix_product_state", "statevector", "stabilizer"):
            if candidate in chosen:
                method = candidate
                break
    digest = noise_model_digest(noise_model)
    sim = _simulator(method, device, precision, noise_model, opts)
    result = _run(sim, circuits, shots, seed)
    env = current_environment()
    out = []
    for i, circuit in enumerate(circuits):
        exp = result.results[i]
        meta = dict(getattr(exp, "metadata", {}) or {})
        counts = _counts_from_result(result, i, circuit, shots)
        details = ExecutionDetails(
            qiskit_version=env["qiskit_version"],
            aer_version=env["aer_version"],
            method=str(meta.get("method", method)),
            device=str(meta.get("device", device)),
            precision=precision,
            seed_simulator=int(exp.seed_simulator),
            shots=shots,
            options=opts,
            noise_model_digest=digest,
            os=env["os"],
            arch=env["arch"],
        )
        out.append(SimulationResult(counts=counts, details=details))
    return out


def simulate(
    circuit: QuantumCircuit,
    *,
    shots: int,
    seed: int,
    method: str = "automatic",
    device: str = "CPU",
    precision: Literal["double", "single"] = "double",
    noise_model: NoiseModel | None = None,
    options: Mapping[str, bool | int | float | str] | None = None,
    limits: Limits | None = None,
) -> SimulationResult:
    """Run one circuit; see :func:`simulate_job`."""
    return simulate_job(
        [circuit],
        shots=shots,
        seed=seed,
        method=method,
        device=device,
        precision=precision,
        noise_model=noise_model,
        options=options,
        limits=limits,
    )[0]


@dataclass(frozen=True)
class CountDifference:
    """One outcome whose count differs between the recorded and the replayed run."""

    outcome: str
    recorded: int
    replayed: int


@dataclass(frozen=True)
class ReplayReport:
    """Outcome of a replay.

    ``status`` is ``reproduced`` (identical counts, same environment),
    ``mismatch`` (different counts in the recorded environment: a failure) or
    ``environment_differs`` (platform or library version differs from the
    record: exact equality is not expected; fall back to the statistical test).
    """

    status: Literal["reproduced", "mismatch", "environment_differs"]
    counts_identical: bool
    differences: tuple[CountDifference, ...]
    environment_differences: Mapping[str, tuple[str, str]]
    replayed: Counts = field(repr=False)

    @property
    def needs_statistical_test(self) -> bool:
        """True when exact replay could not decide (environment differs)."""
        return self.status == "environment_differs"

    def describe(self, limit: int = 10) -> str:
        """Human-readable summary, with the largest count differences first."""
        if self.status == "reproduced":
            return f"reproduced: identical counts over {self.replayed.shots} shots"
        parts = []
        if self.environment_differences:
            env = ", ".join(
                f"{k} recorded {a!r}, here {b!r}"
                for k, a, b in ((k, *v) for k, v in self.environment_differences.items())
            )
            parts.append(f"environment differs ({env})")
        if self.differences:
            shown = ", ".join(
                f"{d.outcome}: recorded {d.recorded}, replayed {d.replayed}"
                for d in self.differences[:limit]
            )
            more = len(self.differences) - limit
            parts.append(
                f"{len(self.differences)} outcome(s) differ: {shown}"
                + (f" (and {more} more)" if more > 0 else "")
            )
        else:
            parts.append("counts identical")
        return "; ".join(parts)


def _differences(recorded: Counts, replayed: Counts) -> tuple[CountDifference, ...]:
    keys = set(recorded) | set(replayed)
    diffs = [
        CountDifference(k, recorded.get(k, 0), replayed.get(k, 0))
        for k in keys
        if recorded.get(k, 0) != replayed.get(k, 0)
    ]
    diffs.sort(key=lambda d: (-abs(d.recorded - d.replayed), d.outcome))
    return tuple(diffs)


def replay(
    circuit: QuantumCircuit,
    details: ExecutionDetails,
    recorded: Counts,
    *,
    noise_model: NoiseModel | None = None,
) -> ReplayReport:
    """Re-run exactly ``circuit`` with the recorded settings and compare counts.

    The noise model must have the recorded canonical digest (a
    :class:`~qprov.errors.VerificationError` otherwise). The circuit is never
    transpiled.
    """
    if not isinstance(details, ExecutionDetails) or not isinstance(recorded, Counts):
        raise MalformedInputError("replay needs ExecutionDetails and Counts")
    _check_inputs([circuit], details.shots, details.seed_simulator)
    if recorded.shots != details.shots or recorded.num_clbits != circuit.num_clbits:
        raise MalformedInputError(
            f"recorded counts ({recorded.shots} shots, {recorded.num_clbits} bits) do not "
            f"match the execution details ({details.shots} shots) and circuit "
            f"({circuit.num_clbits} clbits)"
        )
    digest = noise_model_digest(noise_model)
    if digest != details.noise_model_digest:
        raise VerificationError(
            f"noise model digest {digest} does not match the recorded {details.noise_model_digest}"
        )
    env = current_environment()
    env_diff = {
        k: (details.environment()[k], env[k])
        for k in _ENVIRONMENT_FIELDS
        if details.environment()[k] != env[k]
    }
    precision: Literal["double", "single"] = "single" if details.precision == "single" else "double"
    sim = _simulator(details.method, details.device, precision, noise_model, details.options)
    result = _run(sim, [circuit], details.shots, details.seed_simulator)
    if _same_as_recorded(result, recorded):
        # Identical counts: the conversion below would rebuild ``recorded`` key for key.
        replayed = Counts._trusted(
            recorded.num_clbits, recorded.shots, recorded.data, key_arrays(recorded)
        )
    else:
        replayed = _counts_from_result(result, 0, circuit, details.shots)
    same = replayed.data is recorded.data or recorded.data == replayed.data
    diffs = () if same else _differences(recorded, replayed)
    status: Literal["reproduced", "mismatch", "environment_differs"]
    if env_diff:
        status = "environment_differs"
    elif diffs:
        status = "mismatch"
    else:
        status = "reproduced"
    return ReplayReport(
        status=status,
        counts_identical=not diffs,
        differences=diffs,
        environment_differences=env_diff,
        replayed=replayed,
    )


def verify_replay(
    circuit: QuantumCircuit,
    details: ExecutionDetails,
    recorded: Counts,
    *,
    noise_model: NoiseModel | None = None,
) -> ReplayReport:
    """:func:`replay`, raising :class:`~qprov.errors.VerificationError` on a mismatch.

    Returns the report when the counts were reproduced, or when the environment
    differs (``report.needs_statistical_test`` is then True).
    """
    report = replay(circuit, details, recorded, noise_model=noise_model)
    if report.status == "mismatch":
        raise ReproductionMismatchError(
            f"replay does not reproduce the counts: {report.describe()}"
        )
    return report
