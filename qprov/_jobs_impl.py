"""The gateway's job flow. Private: see :mod:`qprov.jobs`."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from securesystemslib.signer import Signer

from qprov._manifest_impl import MAX_BUNDLE_BYTES, parse_bundle_full
from qprov._predicate import Sha256
from qprov._receipt_impl import (
    ExecutedCircuit,
    LoggedEnvelope,
    ReceiptBundle,
    ResultReceipt,
    log_entry,
    sign_receipt,
)
from qprov.admission import AdmissionDecision, Admitter, ReleaseCache
from qprov.backends import Backend, Execution, Job
from qprov.dsse import Envelope
from qprov.errors import ConfigError, Error, MalformedInputError
from qprov.policy import AdmissionPolicy
from qprov.store import Store
from qprov.tlog import Log, LogIndex, NoteSigner
from qprov.trust import TrustStore

__all__ = [
    "JobGateway",
    "JobOutcome",
    "StatePaths",
    "default_job_id",
    "state_paths",
]

logger = logging.getLogger("qprov.jobs")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_job_id(manifest_sha256: str) -> str:
    """``job-`` and 32 hex digits of the manifest digest: one job per admitted manifest."""
    return "job-" + manifest_sha256[:32]


@dataclass(frozen=True)
class StatePaths:
    """Where a local gateway keeps its state: the replay/audit store and the log."""

    store_url: str
    log_url: str


def state_paths(state_dir: str | Path) -> StatePaths:
    """SQLite files in ``state_dir``: ``store.db`` (replay, quota, audit) and ``log.db``."""
    d = Path(state_dir)
    return StatePaths(f"sqlite:///{d / 'store.db'}", f"sqlite:///{d / 'log.db'}")


@dataclass(frozen=True)
class JobOutcome:
    """What one submission produced.

    Every submission that parsed has a ``decision`` (signed), logged at
    ``decision_index`` with an inclusion ``decision_proof``. An admitted job
    also has the canonical counts (``result``), the ``receipt_bundle`` and the
    receipt's ``receipt_index``.
    """

    decision: AdmissionDecision
    decision_index: LogIndex
    decision_proof: bytes = field(repr=False)
    checkpoint: bytes = field(repr=False)
    result: bytes | None = field(default=None, repr=False)
    receipt_bundle: ReceiptBundle | None = field(default=None, repr=False)
    receipt_index: LogIndex | None = None

    @property
    def admitted(self) -> bool:
        return self.decision.admitted


class JobGateway:
    """Admit → log the decision → run → sign a receipt → log it → bundle with proofs.

    One instance per configuration; :meth:`submit` is safe to call from several
    threads when the log is given as a URL (each thread opens its own
    connection; appends are sequenced by the log store). ``clock`` gives every
    time (admission, queue, checkpoint); ``job_id`` names jobs from the
    manifest digest.

    The admission ``signer`` also signs receipts (role ``gateway``); the log is
    signed by ``log_signers`` (Ed25519 + ML-DSA-44 note signers). A checkpoint
    is signed after each submission, so every outcome carries proofs that
    verify offline.
    """

    def __init__(
        self,
        *,
        trust: TrustStore,
        policy: AdmissionPolicy,
        store: Store,
        log: Log | str,
        signer: Signer,
        log_signers: Sequence[NoteSigner],
        backend: Backend,
        clock: Callable[[], datetime] = _utcnow,
        job_id: Callable[[str], str] = default_job_id,
        release_cache: ReleaseCache | None = None,
        max_bundle_bytes: int = MAX_BUNDLE_BYTES,
    ) -> None:
        if not log_signers:
            raise ConfigError("the job flow needs the log's signing keys to sign checkpoints")
        self.admitter = Admitter(
            trust=trust,
            policy=policy,
            store=store,
            signer=signer,
            release_cache=release_cache,
            max_bundle_bytes=max_bundle_bytes,
        )
        self.trust = trust
        self.signer = signer
        self.backend = backend
        self.log_signers = tuple(log_signers)
        self._clock = clock
        self._job_id = job_id
        self._log_url = log if isinstance(log, str) else None
        self._shared_log = None if isinstance(log, str) else log
        self._local = threading.local()
        self._opened: list[Log] = []
        self._lock = threading.Lock()
        self._max_bundle_bytes = max_bundle_bytes

    # -- the log ---------------------------------------------------------------------------

    def _log(self) -> Log:
        if self._shared_log is not None:
            return self._shared_log
        log: Log | None = getattr(self._local, "log", None)
        if log is None:
            assert self._log_url is not None  # noqa: S101 - one of the two is set
            log = Log.open(self._log_url)
            self._local.log = log
            with self._lock:
                self._opened.append(log)
        return log

    def check_log(self) -> None:
        """Read the log's tree head on this thread's connection (opening it if needed).

        A service calls this before :meth:`decide` or :meth:`submit`, so that a
        log that is away is noticed before a nonce is consumed. Raises
        :class:`~qprov.errors.ServiceUnavailableError` or another
        :class:`~qprov.errors.EnvironmentProblemError`.
        """
        self._log().tree()

    def release_thread_log(self) -> None:
        """Close the calling thread's log connection (one opened from a URL), if any.

        The next use on this thread opens a new one: call it when a worker
        thread exits, and after the log store went away (a PostgreSQL log keeps
        one connection, which does not come back by itself).
        """
        log: Log | None = getattr(self._local, "log", None)
        if log is None:
            return
        self._local.log = None
        with self._lock:
            if log in self._opened:
                self._opened.remove(log)
        with contextlib.suppress(Exception):  # a connection that is already gone
            log.close()

    def close(self) -> None:
        """Close the log connections this gateway opened (not a log it was given)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for log in opened:
            log.close()

    def __enter__(self) -> JobGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkpoint(self, log: Log) -> bytes:
        return log.sign_checkpoint(self.log_signers, timestamp=int(self._clock().timestamp()))

    # -- the flow --------------------------------------------------------------------------

    def decide(self, bundle: bytes, circuit: bytes) -> JobOutcome:
        """Admit or refuse one manifest bundle and log the decision, without running it.

        For a service that only admits (the job runs elsewhere): the same
        admission, signing and logging as :meth:`submit`, so every decision is
        in the log. Returns the outcome with the decision's proof against a
        fresh checkpoint. Raises :class:`MalformedInputError` for a bundle that
        does not parse (nothing consumed).
        """
        if not isinstance(bundle, bytes) or not isinstance(circuit, bytes):
            raise MalformedInputError("the bundle and the circuit must be bytes")
        decision = self.admitter.admit(bundle, circuit, now=self._clock())
        envelope = decision.envelope
        assert envelope is not None  # noqa: S101 - the admitter has a signer
        log = self._log()
        index = log.append(log_entry(envelope))
        checkpoint = self._checkpoint(log)
        proof = log.prove_inclusion(index, checkpoint=checkpoint).to_bytes()
        return JobOutcome(decision, index, proof, checkpoint)

    def submit(self, bundle: bytes, circuit: bytes) -> JobOutcome:
        """Admit one manifest bundle for the circuit bytes received and, if admitted, run it.

        Raises :class:`MalformedInputError` for a bundle that does not parse and
        :class:`~qprov.errors.PolicyError` when this gateway's backend cannot
        run the job (an unserved backend name or option): both before admission,
        so nothing is consumed and no decision exists. Every decision, admitted
        or refused, is appended to the log; a refused one is returned (not
        raised) with its proof. A backend failure after admission raises (the
        admitted decision stays logged; the nonce stays consumed).
        """
        if not isinstance(bundle, bytes) or not isinstance(circuit, bytes):
            raise MalformedInputError("the bundle and the circuit must be bytes")
        parsed = parse_bundle_full(bundle, max_bytes=self._max_bundle_bytes)
        manifest = parsed.manifest.manifest
        self.backend.check(manifest.backend, manifest.options)
        now = self._clock()
        decision = self.admitter.admit(bundle, circuit, now=now)
        envelope = decision.envelope
        assert envelope is not None  # noqa: S101 - the admitter has a signer
        log = self._log()
        decision_index = log.append(log_entry(envelope))
        if not decision.admitted:
            checkpoint = self._checkpoint(log)
            proof = log.prove_inclusion(decision_index, checkpoint=checkpoint).to_bytes()
            return JobOutcome(decision, decision_index, proof, checkpoint)
        job = Job(
            job_id=self._job_id(decision.manifest_sha256),
            manifest_sha256=decision.manifest_sha256,
            circuit=circuit,
            circuit_sha256=decision.circuit_sha256,
            circuit_format=manifest.circuit.format,
            shots=manifest.shots,
            options=dict(manifest.options),
        )
        try:
            execution = self.backend.run(job)
        except Error as exc:
            logger.warning("job %s failed after admission: %s", job.job_id, exc)
            raise type(exc)(f"job {job.job_id} failed after admission: {exc}") from None
        receipt_env, receipt = self._receipt(decision, envelope, job, now, execution)
        receipt_index = log.append(log_entry(receipt_env))
        checkpoint = self._checkpoint(log)
        decision_proof = log.prove_inclusion(decision_index, checkpoint=checkpoint).to_bytes()
        receipt_proof = log.prove_inclusion(receipt_index, checkpoint=checkpoint).to_bytes()
        receipt_bundle = ReceiptBundle(
            receipt=LoggedEnvelope(receipt_env, receipt_proof),
            manifest_sha256=decision.manifest_sha256,
            executed_qpy=execution.executed_qpy,
            decision=LoggedEnvelope(envelope, decision_proof),
        )
        logger.info(
            "job %s ran on %s: receipt logged at %d, decision at %d",
            job.job_id,
            receipt.backend,
            receipt_index,
            decision_index,
        )
        return JobOutcome(
            decision,
            decision_index,
            decision_proof,
            checkpoint,
            execution.result,
            receipt_bundle,
            receipt_index,
        )

    def _receipt(
        self,
        decision: AdmissionDecision,
        decision_env: Envelope,
        job: Job,
        queued_at: datetime,
        execution: Execution,
    ) -> tuple[Envelope, ResultReceipt]:
        calibration = None
        if execution.calibration is not None:
            from qprov._receipt_impl import Calibration

            calibration = Calibration(*execution.calibration)
        receipt = ResultReceipt(
            manifest_sha256=decision.manifest_sha256,
            nonce=decision.nonce,
            circuit_sha256=decision.circuit_sha256,
            shots=execution.shots,
            clbits=execution.clbits,
            backend=self.backend.name,
            backend_version=execution.backend_version,
            job_id=job.job_id,
            queued_at=queued_at,
            started_at=max(execution.started_at, queued_at),
            finished_at=max(execution.finished_at, execution.started_at, queued_at),
            executed_circuit=ExecutedCircuit(
                digest=execution.executed_digest,
                qpy_sha256=Sha256(hashlib.sha256(execution.executed_qpy).hexdigest()),
                qpy_version=execution.qpy_version,
                qpy_size=len(execution.executed_qpy),
            ),
            calibration=calibration,
            execution=dict(execution.details) if execution.details is not None else None,
            admission_sha256=Sha256(hashlib.sha256(decision_env.payload).hexdigest()),
        )
        return sign_receipt(receipt, execution.result, self.signer), receipt
