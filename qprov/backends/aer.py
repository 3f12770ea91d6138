"""The built-in local backend: admitted jobs run on qiskit-aer's ``AerSimulator``.

A job's circuit is loaded from the exact bytes admitted (:func:`qprov.circuits.load_circuit`),
transpiled **once** for ``AerSimulator`` with a fixed ``seed_transpiler``, and
that transpiled circuit — the executed circuit — is what runs (never
re-transpiled: qiskit's routing is not deterministic across runs even for a
fixed seed) and what the receipt records: as QPY with the pinned format
version, identified by :func:`qprov.repro.circuit_digest`. The simulation is
:func:`qprov.repro.simulate`, which records the effective per-circuit seed Aer
reports, the resolved method, device, precision, versions, OS and architecture.

Manifest options this backend understands (anything else is refused before
admission): ``seed`` (simulator seed, integer), ``seed_transpiler`` (integer),
``optimization_level`` (0-3), ``method`` (an Aer method name). Without ``seed``
the seed is derived from the manifest digest, so a job's seed is fixed by what
was signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from qprov._predicate import Sha256
from qprov.backends._base import Execution, Job
from qprov.errors import MalformedInputError, PolicyError, UnsupportedAlgorithmError

__all__ = ["AER_OPTIONS", "DEFAULT_NAMES", "AerBackend", "derive_seed"]

#: Manifest options the Aer backend accepts, and what each must be.
AER_OPTIONS: Final = ("seed", "seed_transpiler", "optimization_level", "method")
DEFAULT_NAMES: Final = ("aer_simulator",)
DEFAULT_SEED_TRANSPILER: Final = 1234
_METHODS: Final = frozenset(
    {"automatic", "statevector", "density_matrix", "stabilizer", "matrix_product_state"}
)
_MAX_SEED: Final = 2**52


def derive_seed(manifest_sha256: str) -> int:
    """The simulator seed of a job whose manifest sets none: 52 bits of a sha256.

    Below 2**53, so that the seed is an exact JSON integer in the signed receipt (RFC 8785).
    """
    digest = hashlib.sha256(b"qprov-aer-seed\x00" + manifest_sha256.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> 12


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _int_option(options: Mapping[str, str | int | bool], name: str, top: int) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise PolicyError(f"Aer backend: option {name} must be an integer in [0, {top}]")
    return value


class AerBackend:
    """Runs admitted jobs on ``AerSimulator`` (ideal, CPU, double precision).

    ``names`` are the manifest backend names served (the first one is what
    receipts record); ``clock`` gives the start and finish times (inject it in
    tests).
    """

    def __init__(
        self,
        *,
        names: tuple[str, ...] = DEFAULT_NAMES,
        seed_transpiler: int = DEFAULT_SEED_TRANSPILER,
        optimization_level: int = 1,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not names:
            raise MalformedInputError("the Aer backend needs at least one name")
        if not 0 <= optimization_level <= 3:
            raise MalformedInputError("optimization_level must be 0..3")
        self._names = tuple(names)
        self._seed_transpiler = seed_transpiler
        self._optimization_level = optimization_level
        self._clock = clock

    @property
    def name(self) -> str:
        return self._names[0]

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def check(self, backend: str, options: Mapping[str, str | int | bool]) -> None:
        if backend not in self._names:
            raise PolicyError(
                f"backend {backend!r} is not served here (this gateway runs "
                f"{', '.join(self._names)} on qiskit-aer)"
            )
        unknown = sorted(set(options) - set(AER_OPTIONS))
        if unknown:
            raise PolicyError(
                f"Aer backend: unsupported option(s) {', '.join(unknown)} "
                f"(supported: {', '.join(AER_OPTIONS)})"
            )
        _int_option(options, "seed", _MAX_SEED)
        _int_option(options, "seed_transpiler", 2**32 - 1)
        _int_option(options, "optimization_level", 3)
        method = options.get("method")
        if method is not None and method not in _METHODS:
            raise PolicyError(f"Aer backend: method must be one of {', '.join(sorted(_METHODS))}")

    def run(self, job: Job) -> Execution:
        from qiskit import transpile
        from qiskit_aer import AerSimulator
        from qiskit_aer import __version__ as aer_version

        from qprov.circuits import load_circuit
        from qprov.repro import QPY_FORMAT_VERSION, dump_qpy, load_qpy_with_digest, simulate

        self.check(self.name, job.options)
        started = self._clock()
        loaded = load_circuit(job.circuit, format=job.circuit_format)
        if "sha256:" + job.circuit_sha256 != loaded.digest:
            raise PolicyError("the job's circuit bytes are not the ones admitted")
        seed = _int_option(job.options, "seed", _MAX_SEED)
        seed_transpiler = _int_option(job.options, "seed_transpiler", 2**32 - 1)
        level = _int_option(job.options, "optimization_level", 3)
        method = str(job.options.get("method", "automatic"))
        try:
            executed = transpile(
                loaded.circuit,
                backend=AerSimulator(),
                optimization_level=self._optimization_level if level is None else level,
                seed_transpiler=self._seed_transpiler
                if seed_transpiler is None
                else seed_transpiler,
            )
        except Exception as exc:  # noqa: BLE001 - the transpiler raises many types
            raise MalformedInputError(f"cannot transpile the circuit for Aer: {exc}") from None
        # What runs is what the receipt's QPY holds, and its digest is the one a verifier
        # recomputes from that QPY: QPY does not keep everything (a delay's unit, for one).
        qpy = dump_qpy(executed)
        try:
            executed, executed_digest = load_qpy_with_digest(qpy)
        except MalformedInputError as exc:  # qiskit 2.6 cannot read back a delay in ns
            raise UnsupportedAlgorithmError(
                "the transpiled circuit does not survive a QPY round trip, so its receipt "
                f"could not be verified: {exc}"
            ) from None
        simulated = simulate(
            executed,
            shots=job.shots,
            seed=derive_seed(job.manifest_sha256) if seed is None else seed,
            method=method,
        )
        finished = self._clock()
        return Execution(
            result=simulated.counts.to_json(),
            shots=job.shots,
            clbits=simulated.counts.num_clbits,
            executed_qpy=qpy,
            executed_digest=Sha256(executed_digest),
            qpy_version=QPY_FORMAT_VERSION,
            backend_version=str(aer_version),
            started_at=started,
            finished_at=max(finished, started),
            details=simulated.details.to_dict(),
            calibration=None,
        )
