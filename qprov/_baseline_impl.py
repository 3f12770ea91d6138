"""Simulator baselines: the signed predicate, its creation and verification.

Private: see :mod:`qprov.baseline`. Spec: ``attestations/simulator-baseline.md``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self

from securesystemslib.signer import Signer

from qprov._predicate import (
    Fields,
    Predicate,
    Sha256,
    check_sha256,
    digest_dict,
    format_time,
    predicate_type,
)
from qprov.dsse import INTOTO_PAYLOAD_TYPE, Envelope, envelope_from_dict, parse_envelope
from qprov.errors import (
    EnvironmentProblemError,
    MalformedInputError,
    PolicyError,
    SimulationTooLargeError,
    UnsupportedAlgorithmError,
)
from qprov.statement import Statement, Subject, parse_statement, sign_statement, verify_statement
from qprov.trust import TrustStore

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit_aer.noise import NoiseModel

    from qprov.repro import Counts, Distribution

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
    "prepare_for_aer",
    "sign_baseline",
    "verify_baseline",
]

BASELINE_PREDICATE_TYPE: Final = predicate_type("simulator-baseline")
#: The trust role whose keys sign baselines.
BASELINE_ROLE: Final = "baseline-authority"
#: Outcomes listed at most by default (plus the ``other`` mass: 4,096 test bins).
DEFAULT_MAX_OUTCOMES: Final = 4095
#: Outcomes a baseline may list at most.
MAX_OUTCOMES: Final = 65536
#: Shots of a sampled baseline when none are given.
DEFAULT_BASELINE_SHOTS: Final = 100_000
#: ``kind="auto"`` computes exact probabilities up to this many qubits (ideal) ...
AUTO_EXACT_QUBITS: Final = 24
#: ... and up to this many with a noise model (density matrix).
AUTO_EXACT_NOISY_QUBITS: Final = 10
#: Probabilities at or below this are not listed (their mass goes to ``other``).
PROBABILITY_FLOOR: Final = 1e-12
_MAX_CLBITS: Final = 100_000
_MAX_SHOTS: Final = 10**9
_SUBJECT_NAME: Final = "circuit"
_SUM_TOLERANCE: Final = 1e-9
_VERSION_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
_METHODS: Final = (
    "statevector",
    "density_matrix",
    "stabilizer",
    "matrix_product_state",
    "extended_stabilizer",
)
_DEVICES: Final = ("CPU", "GPU", "Thrust")
_PRECISIONS: Final = ("double", "single")
_SEED_TRANSPILER: Final = 1234
#: Standard gates Aer runs natively; a circuit with anything else is unrolled to these.
_AER_BASIS: Final = (
    "ccx", "ch", "cp", "crx", "cry", "crz", "cswap", "cu", "cx", "cy", "cz", "ecr", "h", "id",
    "p", "rx", "rxx", "ry", "ryy", "rz", "rzx", "rzz", "s", "sdg", "swap", "sx", "sxdg", "t",
    "tdg", "u", "u1", "u2", "u3", "x", "y", "z",
)  # fmt: skip
_DIRECTIVES: Final = frozenset({"measure", "barrier", "reset", "delay"})

BaselineKind = Literal["probabilities", "counts"]


# -- the distribution ----------------------------------------------------------------------


def _outcome_key(key: Any, clbits: int, where: str) -> str:
    if not isinstance(key, str) or len(key) != clbits or not set(key) <= {"0", "1"}:
        shown = repr(key)[:40]
        raise MalformedInputError(f"{where}: outcome {shown} is not a {clbits}-bit binary string")
    return key


@dataclass(frozen=True)
class BaselineDistribution:
    """The baseline's distribution over ``clbits``-bit outcomes, bounded in size.

    ``probabilities``: ``outcomes`` maps listed outcomes to exact probabilities
    and ``other`` is the total probability of every unlisted outcome.
    ``counts``: ``outcomes`` maps listed outcomes to shots of a seeded
    simulation and ``other`` is the number of shots on unlisted outcomes;
    ``shots`` is the total. Construction validates.
    """

    kind: BaselineKind
    clbits: int
    outcomes: Mapping[str, float | int] = field(repr=False)
    other: float | int
    shots: int | None = None

    def __post_init__(self) -> None:
        where = "simulator-baseline predicate: distribution"
        if self.kind not in ("probabilities", "counts"):
            raise MalformedInputError(f"{where}.kind must be 'probabilities' or 'counts'")
        if isinstance(self.clbits, bool) or not isinstance(self.clbits, int):
            raise MalformedInputError(f"{where}: clbits must be an integer")
        if not 1 <= self.clbits <= _MAX_CLBITS:
            raise MalformedInputError(f"{where}: clbits must be in [1, {_MAX_CLBITS}]")
        if not self.outcomes:
            raise MalformedInputError(f"{where}.outcomes must list at least one outcome")
        if len(self.outcomes) > MAX_OUTCOMES:
            raise MalformedInputError(f"{where}.outcomes lists more than {MAX_OUTCOMES} outcomes")
        out: dict[str, float | int] = {}
        for key, value in self.outcomes.items():
            k = _outcome_key(key, self.clbits, f"{where}.outcomes")
            out[k] = self._value(value, f"{where}.outcomes[{k}]")
        other = self._value(self.other, f"{where}.other")
        complete = self.clbits < 63 and len(out) == 2**self.clbits
        if complete and other != 0:
            raise MalformedInputError(
                f"{where}.other must be 0 when every one of the 2^{self.clbits} outcomes is listed"
            )
        if self.kind == "probabilities":
            if self.shots is not None:
                raise MalformedInputError(f"{where}: exact probabilities have no shots")
            total = math.fsum([*(float(v) for v in out.values()), float(other)])
            if abs(total - 1.0) > _SUM_TOLERANCE:
                raise MalformedInputError(
                    f"{where}: probabilities and other add up to {total!r}, not 1"
                )
            out = {k: float(v) for k, v in out.items()}
            other = float(other)
        else:
            shots = self.shots
            if (
                isinstance(shots, bool)
                or not isinstance(shots, int)
                or not 1 <= shots <= _MAX_SHOTS
            ):
                raise MalformedInputError(f"{where}: shots must be an integer in [1, {_MAX_SHOTS}]")
            total_shots = sum(int(v) for v in out.values()) + int(other)
            if total_shots != shots:
                raise MalformedInputError(
                    f"{where}: counts and other add up to {total_shots} shots, not {shots}"
                )
        object.__setattr__(self, "outcomes", dict(sorted(out.items())))
        object.__setattr__(self, "other", other)

    def _value(self, value: Any, where: str) -> float | int:
        if self.kind == "counts":
            if isinstance(value, bool) or not isinstance(value, int):
                raise MalformedInputError(f"{where} must be an integer count")
            if value < 0:
                raise MalformedInputError(f"{where} is negative ({value})")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MalformedInputError(f"{where} must be a number")
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise MalformedInputError(f"{where} must be a probability in [0, 1]")
        return float(value)

    @property
    def listed(self) -> int:
        return len(self.outcomes)

    def placeholder(self) -> str | None:
        """The outcome that stands for ``other`` in a test (None when ``other`` is 0).

        The smallest unlisted outcome: bins are chosen from the baseline only,
        never from the data, so coarsening keeps a test's level.
        """
        if not self.other:
            return None
        value = 0
        while True:
            key = format(value, f"0{self.clbits}b")
            if key not in self.outcomes:
                return key
            value += 1

    def for_test(self) -> TestBaseline:
        """The distribution (or sample) a statistical test compares against."""
        from qprov.repro import Counts, Distribution

        holder = self.placeholder()
        entries: dict[str, Any] = dict(self.outcomes)
        if holder is not None:
            entries[holder] = self.other
        if self.kind == "probabilities":
            dist = Distribution.from_mapping({k: float(v) for k, v in entries.items()}, self.clbits)
            return TestBaseline(self, holder, distribution=dist)
        assert self.shots is not None  # noqa: S101 - validated
        counts = Counts.from_mapping(
            {k: int(v) for k, v in entries.items()}, num_clbits=self.clbits, shots=self.shots
        )
        return TestBaseline(self, holder, sample=counts)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "outcomes": dict(self.outcomes), "other": self.other}


@dataclass(frozen=True)
class TestBaseline:
    """A baseline ready for a test: a distribution or a sample, and the ``other`` bin.

    :meth:`coarsen` maps observed outcomes the baseline does not list onto the
    placeholder outcome of the ``other`` bin.
    """

    __test__ = False  # not a pytest class

    source: BaselineDistribution
    placeholder: str | None
    distribution: Distribution | None = None
    sample: Counts | None = None

    def coarsen(self, observed: Counts) -> Counts:
        """``observed`` with unlisted outcomes merged into the ``other`` bin."""
        from qprov.repro import Counts

        if self.placeholder is None:
            return observed
        listed = self.source.outcomes
        merged: dict[str, int] = {}
        for key, value in observed.items():
            target = key if key in listed else self.placeholder
            merged[target] = merged.get(target, 0) + value
        return Counts.from_mapping(merged, num_clbits=observed.num_clbits, shots=observed.shots)


# -- the predicate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorInfo:
    """Which simulator made the baseline, and how."""

    name: str
    version: str
    qiskit_version: str
    method: str
    device: str
    precision: str

    def __post_init__(self) -> None:
        if self.name != "qiskit-aer":
            raise UnsupportedAlgorithmError(f"simulator {self.name!r} is not supported")
        if self.method not in _METHODS:
            raise MalformedInputError(
                f"simulator-baseline predicate: unknown method {self.method!r}"
            )
        if self.device not in _DEVICES:
            raise MalformedInputError(
                f"simulator-baseline predicate: unknown device {self.device!r}"
            )
        if self.precision not in _PRECISIONS:
            raise MalformedInputError(
                "simulator-baseline predicate: precision must be double or single"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "qiskitVersion": self.qiskit_version,
            "method": self.method,
            "device": self.device,
            "precision": self.precision,
        }


@dataclass(frozen=True)
class NoiseSpec:
    """``ideal``, or the calibration snapshot a noise model was built from and its digest."""

    calibration_sha256: Sha256 | None = None
    noise_model_sha256: Sha256 | None = None

    def __post_init__(self) -> None:
        if (self.calibration_sha256 is None) != (self.noise_model_sha256 is None):
            raise MalformedInputError(
                "simulator-baseline predicate: a calibration noise model needs both digests"
            )

    @property
    def ideal(self) -> bool:
        return self.calibration_sha256 is None

    def describe(self) -> str:
        if self.calibration_sha256 is None:
            return "ideal"
        return f"noise model from calibration sha256:{self.calibration_sha256[:16]}…"

    def to_dict(self) -> dict[str, Any]:
        if self.calibration_sha256 is None or self.noise_model_sha256 is None:
            return {"model": "ideal"}
        return {
            "model": "calibration",
            "calibration": digest_dict(self.calibration_sha256),
            "noiseModel": digest_dict(self.noise_model_sha256),
        }


@dataclass(frozen=True)
class SimulatorBaseline(Predicate):
    """The simulator baseline predicate (``attestations/simulator-baseline.md``)."""

    NAME: ClassVar[str] = "simulator-baseline"
    PREDICATE_TYPE: ClassVar[str] = BASELINE_PREDICATE_TYPE

    qubits: int
    executed_sha256: Sha256
    simulator: SimulatorInfo
    noise: NoiseSpec
    distribution: BaselineDistribution
    created_at: datetime
    seed: int | None = None

    def __post_init__(self) -> None:
        sampled = self.distribution.kind == "counts"
        if sampled != (self.seed is not None):
            raise MalformedInputError(
                "simulator-baseline predicate: seed is required for counts and absent for "
                "exact probabilities"
            )

    @property
    def clbits(self) -> int:
        return self.distribution.clbits

    @property
    def shots(self) -> int | None:
        return self.distribution.shots

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        where = "simulator-baseline predicate"
        f = Fields(doc, where)
        c = f.req_fields("circuit")
        qubits = c.req_integer("qubits", minimum=1, maximum=_MAX_CLBITS)
        clbits = c.req_integer("clbits", minimum=1, maximum=_MAX_CLBITS)
        executed = c.req_digest("executed")
        c.done()
        s = f.req_fields("simulator")
        simulator = SimulatorInfo(
            name=s.req_string("name", max_length=64),
            version=s.req_string("version", pattern=_VERSION_RE, max_length=64),
            qiskit_version=s.req_string("qiskitVersion", pattern=_VERSION_RE, max_length=64),
            method=s.req_string("method", max_length=64),
            device=s.req_string("device", max_length=16),
            precision=s.req_string("precision", max_length=16),
        )
        s.done()
        seed = f.integer("seed", required=False, maximum=2**53 - 1)
        shots = f.integer("shots", required=False, minimum=1, maximum=_MAX_SHOTS)
        n = f.req_fields("noise")
        model = n.req_string("model", max_length=32)
        if model == "ideal":
            noise = NoiseSpec()
        elif model == "calibration":
            noise = NoiseSpec(n.req_digest("calibration"), n.req_digest("noiseModel"))
        else:
            raise MalformedInputError(f"{where}: noise.model must be 'ideal' or 'calibration'")
        n.done()
        d = f.req_fields("distribution")
        kind = d.req_string("kind", max_length=32)
        if kind not in ("probabilities", "counts"):
            raise MalformedInputError(f"{where}: distribution.kind must be probabilities or counts")
        outcomes = d.raw_object("outcomes")
        other = d._get("other", True)  # a number: BaselineDistribution checks it
        d.done()
        if (kind == "counts") != (shots is not None):
            raise MalformedInputError(
                f"{where}: shots is required for counts and absent for exact probabilities"
            )
        distribution = BaselineDistribution(
            kind="counts" if kind == "counts" else "probabilities",
            clbits=clbits,
            outcomes=outcomes,
            other=other,
            shots=shots,
        )
        created_at = f.time("createdAt")
        f.done()
        return cls(qubits, executed, simulator, noise, distribution, created_at, seed)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "circuit": {
                "qubits": self.qubits,
                "clbits": self.clbits,
                "executed": digest_dict(self.executed_sha256),
            },
            "simulator": self.simulator.to_dict(),
        }
        if self.seed is not None:
            out["seed"] = self.seed
        if self.shots is not None:
            out["shots"] = self.shots
        out["noise"] = self.noise.to_dict()
        out["distribution"] = self.distribution.to_dict()
        out["createdAt"] = format_time(self.created_at)
        return out

    def statement(self, circuit_sha256: str) -> Statement:
        subject = Subject(_SUBJECT_NAME, {"sha256": check_sha256(circuit_sha256, "circuit digest")})
        return Statement((subject,), BASELINE_PREDICATE_TYPE, self.to_dict())

    def describe(self) -> str:
        d = self.distribution
        what = (
            f"exact probabilities ({d.listed} outcomes listed)"
            if d.kind == "probabilities"
            else f"{d.shots} shots, seed {self.seed} ({d.listed} outcomes listed)"
        )
        return (
            f"{self.simulator.name} {self.simulator.version} {self.simulator.method}, "
            f"{self.noise.describe()}, {what}"
        )


@dataclass(frozen=True)
class ParsedBaseline:
    """A baseline read from its envelope (signature not yet verified)."""

    envelope: Envelope
    baseline: SimulatorBaseline
    circuit_sha256: Sha256
    digest: Sha256
    """sha256 of the signed statement bytes: the baseline's identity."""

    def check_circuit(self, circuit_sha256: str) -> None:
        """Raise PolicyError unless the baseline's subject is this circuit."""
        if circuit_sha256 != self.circuit_sha256:
            raise PolicyError(
                f"the baseline is for another circuit (sha256:{self.circuit_sha256[:16]}…), "
                f"not sha256:{circuit_sha256[:16]}…"
            )


@dataclass(frozen=True)
class VerifiedBaseline:
    """A baseline whose signature verified for the ``baseline-authority`` role."""

    parsed: ParsedBaseline
    keyids: tuple[str, ...]

    @property
    def baseline(self) -> SimulatorBaseline:
        return self.parsed.baseline


def parse_baseline(envelope: Envelope | bytes | Mapping[str, Any]) -> ParsedBaseline:
    """Parse a baseline envelope and its predicate strictly (no signature check)."""
    if isinstance(envelope, bytes):
        env = parse_envelope(envelope)
    elif isinstance(envelope, Envelope):
        env = envelope
    else:
        env = envelope_from_dict(envelope)
    if env.payload_type != INTOTO_PAYLOAD_TYPE:
        raise MalformedInputError(f"baseline envelope payloadType must be {INTOTO_PAYLOAD_TYPE}")
    statement = parse_statement(env.payload)
    baseline = SimulatorBaseline.parse_predicate(statement.predicate_type, statement.predicate)
    subjects = statement.subjects
    if (
        len(subjects) != 1
        or subjects[0].name != _SUBJECT_NAME
        or set(subjects[0].digest) != {"sha256"}
    ):
        raise MalformedInputError(
            "a simulator baseline has exactly one subject: the circuit (named 'circuit'), by sha256"
        )
    circuit = check_sha256(subjects[0].digest["sha256"], "baseline subject digest")
    return ParsedBaseline(env, baseline, circuit, Sha256(hashlib.sha256(env.payload).hexdigest()))


def verify_baseline(
    baseline: ParsedBaseline | Envelope | bytes,
    trust: TrustStore,
    *,
    circuit_sha256: str | None = None,
) -> VerifiedBaseline:
    """Verify the signature (role ``baseline-authority``) and, if given, the circuit; or raise."""
    parsed = baseline if isinstance(baseline, ParsedBaseline) else parse_baseline(baseline)
    verified = verify_statement(
        parsed.envelope, trust, BASELINE_ROLE, predicate_type=BASELINE_PREDICATE_TYPE
    )
    if circuit_sha256 is not None:
        parsed.check_circuit(circuit_sha256)
    return VerifiedBaseline(parsed, verified.verified.keyids)


# -- computing a baseline ------------------------------------------------------------------------


def check_device(device: str) -> None:
    """Raise unless Aer can use ``device`` here (GPU needs qiskit-aer's GPU build)."""
    if device not in _DEVICES:
        raise MalformedInputError(f"unknown Aer device {device!r} (choose from {list(_DEVICES)})")
    if device == "CPU":
        return
    from qiskit_aer import AerSimulator

    available = tuple(AerSimulator().available_devices())
    if device not in available:
        raise EnvironmentProblemError(
            f"Aer device {device!r} is not available here (available: {', '.join(available)}); "
            "it needs qiskit-aer's GPU build (qiskit-aer-gpu) and a CUDA device"
        )


def prepare_for_aer(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` as is when Aer runs every instruction, else unrolled (no routing)."""
    from qiskit import transpile

    if all(
        inst.operation.name in _AER_BASIS or inst.operation.name in _DIRECTIVES
        for inst in circuit.data
    ):
        return circuit
    try:
        out: QuantumCircuit = transpile(circuit, basis_gates=list(_AER_BASIS), optimization_level=0)
    except Exception as exc:  # noqa: BLE001 - the transpiler raises many types
        raise UnsupportedAlgorithmError(f"cannot unroll the circuit for Aer: {exc}") from None
    return out


def _for_calibration(circuit: QuantumCircuit, noise: NoiseModel, qubits: int) -> QuantumCircuit:
    """Map ``circuit`` onto the calibrated device (basis and coupling), with a fixed seed."""
    from qiskit import transpile

    if circuit.num_qubits > qubits:
        raise MalformedInputError(
            f"the circuit has {circuit.num_qubits} qubits; the calibration describes {qubits}"
        )
    coupling = sorted(
        {tuple(q) for q in _two_qubit_pairs(noise)} | {(b, a) for a, b in _two_qubit_pairs(noise)}
    )
    try:
        out: QuantumCircuit = transpile(
            circuit,
            basis_gates=sorted(set(noise.basis_gates) - {"measure", "reset", "delay"}),
            coupling_map=[list(p) for p in coupling] or None,
            optimization_level=1,
            seed_transpiler=_SEED_TRANSPILER,
        )
    except Exception as exc:  # noqa: BLE001
        raise MalformedInputError(
            f"cannot map the circuit onto the calibrated device: {exc}"
        ) from None
    return out


def _two_qubit_pairs(noise: NoiseModel) -> list[tuple[int, int]]:
    return [
        (int(qs[0]), int(qs[1]))
        for entry in noise.to_dict(serializable=False).get("errors", [])
        for qs in entry.get("gate_qubits") or []
        if len(qs) == 2
    ]


def _exact_feasible(circuit: QuantumCircuit, noisy: bool) -> str | None:
    """None when exact probabilities can be computed, else the reason why not."""
    from qprov.repro import final_measurements

    try:
        final_measurements(circuit)
    except (UnsupportedAlgorithmError, MalformedInputError) as exc:
        return str(exc)
    limit = AUTO_EXACT_NOISY_QUBITS if noisy else AUTO_EXACT_QUBITS
    if circuit.num_qubits > limit:
        return f"{circuit.num_qubits} qubits is past the exact-distribution limit of {limit}" + (
            " with a noise model" if noisy else ""
        )
    return None


def _seed_for(circuit_sha256: str) -> int:
    digest = hashlib.sha256(b"qprov-baseline-seed\x00" + circuit_sha256.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> 12


def compute_baseline(
    circuit: bytes,
    *,
    now: datetime,
    calibration: bytes | None = None,
    kind: Literal["auto", "probabilities", "counts"] = "auto",
    method: str = "automatic",
    shots: int | None = None,
    seed: int | None = None,
    device: str = "CPU",
    max_outcomes: int = DEFAULT_MAX_OUTCOMES,
) -> tuple[Sha256, SimulatorBaseline]:
    """Simulate ``circuit`` (exact bytes) and return (its sha256, the baseline predicate).

    ``kind="auto"``: exact probabilities when the circuit has final measurements
    only and is small enough (:data:`AUTO_EXACT_QUBITS`, or
    :data:`AUTO_EXACT_NOISY_QUBITS` with a noise model), the method is
    ``automatic``, ``statevector`` or ``density_matrix``, and no shots were
    asked for; otherwise a seeded sample of ``shots`` (default
    :data:`DEFAULT_BASELINE_SHOTS`). A circuit no method can simulate is refused
    before any simulation work (:class:`~qprov.errors.SimulationTooLargeError`).
    """
    from qprov.circuits import load_circuit
    from qprov.repro import (
        CalibrationSnapshot,
        choose_method,
        circuit_digest,
        current_environment,
        exact_distribution,
        noise_model_digest,
        noise_model_from_calibration,
        require_measurements,
        simulate,
    )

    if kind not in ("auto", "probabilities", "counts"):
        raise MalformedInputError(f"unknown baseline kind {kind!r}")
    if method != "automatic" and method not in _METHODS:
        raise MalformedInputError(f"unknown simulation method {method!r}")
    if isinstance(max_outcomes, bool) or not 1 <= max_outcomes <= MAX_OUTCOMES:
        raise MalformedInputError(f"max outcomes must be in [1, {MAX_OUTCOMES}]")
    if shots is not None and (isinstance(shots, bool) or not 1 <= shots <= _MAX_SHOTS):
        raise MalformedInputError(f"shots must be in [1, {_MAX_SHOTS}]")
    if seed is not None and (isinstance(seed, bool) or not 0 <= seed < 2**53):
        raise MalformedInputError("seed must be an integer in [0, 2**53)")
    check_device(device)
    loaded = load_circuit(circuit)
    circuit_sha = Sha256(hashlib.sha256(circuit).hexdigest())
    qc = loaded.circuit
    require_measurements(qc)
    if qc.parameters:
        raise MalformedInputError(
            f"circuit has unbound parameters {sorted(p.name for p in qc.parameters)}"
        )
    noise_model = None
    noise = NoiseSpec()
    if calibration is not None:
        snapshot = CalibrationSnapshot.from_json(calibration)
        noise_model = noise_model_from_calibration(snapshot)
        qc = _for_calibration(qc, noise_model, len(snapshot.qubits))
        noise = NoiseSpec(
            check_sha256(snapshot.digest, "calibration digest"),
            check_sha256(noise_model_digest(noise_model), "noise model digest"),
        )
    else:
        qc = prepare_for_aer(qc)
    executed = Sha256(circuit_digest(qc))
    env = current_environment()
    noisy = noise_model is not None
    why_not = _exact_feasible(qc, noisy)
    exact_methods = ("automatic", "density_matrix" if noisy else "statevector")
    if kind == "auto":
        kind = (
            "probabilities"
            if why_not is None and shots is None and seed is None and method in exact_methods
            else "counts"
        )
    if kind == "probabilities":
        if why_not is not None:
            raise SimulationTooLargeError(f"exact probabilities are not feasible: {why_not}")
        if method not in exact_methods:
            raise MalformedInputError(
                f"exact probabilities are computed with {exact_methods[1]}, not {method}"
            )
        dist = exact_distribution(qc, noise_model=noise_model)
        names, probs = dist.top(max_outcomes)
        listed = {
            k: float(p) for k, p in zip(names, probs.tolist(), strict=True) if p > PROBABILITY_FLOOR
        }
        other = (
            0.0 if len(listed) == 2**qc.num_clbits else max(0.0, 1.0 - math.fsum(listed.values()))
        )
        distribution = BaselineDistribution("probabilities", qc.num_clbits, listed, other)
        info = SimulatorInfo(
            "qiskit-aer",
            env["aer_version"],
            env["qiskit_version"],
            exact_methods[1],
            "CPU",
            "double",
        )
        return circuit_sha, SimulatorBaseline(
            qc.num_qubits, executed, info, noise, distribution, now, None
        )
    if method == "automatic":
        method = choose_method(qc, noise_model=noise_model).method
    else:
        choose_method(qc, noise_model=noise_model, allowed=(method,))  # type: ignore[arg-type]
    run = simulate(
        qc,
        shots=shots or DEFAULT_BASELINE_SHOTS,
        seed=_seed_for(circuit_sha) if seed is None else seed,
        method=method,
        device=device,
        noise_model=noise_model,
    )
    ranked = sorted(run.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_outcomes]
    listed_counts = dict(ranked)
    distribution = BaselineDistribution(
        "counts",
        qc.num_clbits,
        listed_counts,
        run.counts.shots - sum(listed_counts.values()),
        run.counts.shots,
    )
    d = run.details
    info = SimulatorInfo(
        "qiskit-aer", d.aer_version, d.qiskit_version, d.method, d.device, d.precision
    )
    return circuit_sha, SimulatorBaseline(
        qc.num_qubits, executed, info, noise, distribution, now, d.seed_simulator
    )


def create_baseline(
    circuit: bytes,
    *,
    signer: Signer,
    now: datetime,
    calibration: bytes | None = None,
    kind: Literal["auto", "probabilities", "counts"] = "auto",
    method: str = "automatic",
    shots: int | None = None,
    seed: int | None = None,
    device: str = "CPU",
    max_outcomes: int = DEFAULT_MAX_OUTCOMES,
) -> Envelope:
    """:func:`compute_baseline`, then sign it with a ``baseline-authority`` key."""
    circuit_sha, baseline = compute_baseline(
        circuit,
        now=now,
        calibration=calibration,
        kind=kind,
        method=method,
        shots=shots,
        seed=seed,
        device=device,
        max_outcomes=max_outcomes,
    )
    return sign_baseline(baseline, circuit_sha, signer)


def sign_baseline(baseline: SimulatorBaseline, circuit_sha256: str, signer: Signer) -> Envelope:
    """Sign a baseline predicate for the circuit ``circuit_sha256`` (round-trips it first)."""
    statement = baseline.statement(circuit_sha256)
    SimulatorBaseline.parse_predicate(statement.predicate_type, statement.predicate)
    return sign_statement(statement, [signer])
