"""The backend interface the job flow runs admitted jobs on. Private: see :mod:`qprov.backends`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from qprov._predicate import Sha256

__all__ = ["Backend", "Execution", "Job"]


@dataclass(frozen=True)
class Job:
    """An admitted job, as the job flow hands it to a backend.

    ``circuit`` is the exact bytes that were admitted (their sha256 is
    ``circuit_sha256``); the backend loads the circuit from them, never from a
    re-serialisation.
    """

    job_id: str
    manifest_sha256: Sha256
    circuit: bytes = field(repr=False)
    circuit_sha256: Sha256
    circuit_format: str
    shots: int
    options: Mapping[str, str | int | bool]


@dataclass(frozen=True)
class Execution:
    """What a backend returns: the counts, the circuit that ran, and how it ran.

    ``result`` is the canonical counts JSON (RFC 8785); ``executed_qpy`` the
    executed circuit as QPY (pinned format version ``qpy_version``) with its
    canonical digest; ``details`` the simulator's execution details
    (:meth:`qprov.repro.ExecutionDetails.to_dict`), ``None`` for hardware;
    ``calibration`` the (sha256, time) of the calibration snapshot, ``None`` for
    an ideal simulator.
    """

    result: bytes = field(repr=False)
    shots: int
    clbits: int
    executed_qpy: bytes = field(repr=False)
    executed_digest: Sha256
    qpy_version: int
    backend_version: str
    started_at: datetime
    finished_at: datetime
    details: Mapping[str, Any] | None = None
    calibration: tuple[Sha256, datetime] | None = None


@runtime_checkable
class Backend(Protocol):
    """Something that runs admitted jobs."""

    @property
    def name(self) -> str:
        """The backend name receipts record (a manifest's ``backend`` must equal it)."""
        ...

    def check(self, backend: str, options: Mapping[str, str | int | bool]) -> None:
        """Raise (before admission, so nothing is consumed) if this backend cannot run
        a job for ``backend`` with ``options``."""
        ...

    def run(self, job: Job) -> Execution:
        """Run ``job`` and return its execution. Raises :class:`qprov.errors.Error`."""
        ...
