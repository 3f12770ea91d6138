"""Result receipts and receipt bundles. Private: see :mod:`qprov.receipt`."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Literal, Self

from securesystemslib.signer import Signer

from qprov._canon import canonical_json, loads_strict
from qprov._predicate import (
    Fields,
    Predicate,
    Sha256,
    check_sha256,
    digest_dict,
    format_time,
    predicate_type,
)
from qprov.dsse import INTOTO_PAYLOAD_TYPE, Envelope, envelope_from_dict
from qprov.errors import Error, MalformedInputError, PolicyError, VerificationError
from qprov.keys import _b64decode
from qprov.statement import Statement, Subject, parse_statement, sign_statement, verify_statement
from qprov.trust import TrustStore

RECEIPT_PREDICATE_TYPE: Final = predicate_type("result-receipt")
RECEIPT_BUNDLE_MEDIA_TYPE: Final = "application/vnd.qprov.receipt-bundle.v1+json"
#: The media type of the result a receipt's subject names: canonical counts JSON (RFC 8785).
COUNTS_MEDIA_TYPE: Final = "application/vnd.qprov.counts.v1+json"
#: The canonical executed-circuit encoding a receipt's ``executedCircuit.digest`` is over.
CIRCUIT_ENCODING: Final = "qprov-circuit/v1"
#: Roles whose keys may sign receipts, in the order a verifier tries them.
RECEIPT_ROLES: Final = ("gateway", "provider")
MAX_RECEIPT_BUNDLE_BYTES: Final = 64 * 1024 * 1024
_MAX_QPY_BYTES: Final = 48 * 1024 * 1024
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:@/-]{0,127}")
_VERSION_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_JOB_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NONCE_RE: Final = re.compile(r"[0-9a-f]{32,128}")
_RESULT_NAME: Final = "result.json"

ReceiptRole = Literal["gateway", "provider"]


@dataclass(frozen=True)
class ExecutedCircuit:
    """The circuit that actually ran: its canonical digest and its QPY serialisation.

    ``digest`` is :func:`qprov.repro.circuit_digest` (independent of the
    circuit's name, metadata and parameter UUIDs); ``qpy_sha256`` is the sha256
    of the exact QPY bytes (format ``qpy_version``) shipped in the receipt bundle.
    """

    digest: Sha256
    qpy_sha256: Sha256
    qpy_version: int
    qpy_size: int
    encoding: str = CIRCUIT_ENCODING

    @classmethod
    def from_fields(cls, f: Fields) -> ExecutedCircuit:
        encoding = f.req_string("encoding", max_length=64)
        if encoding != CIRCUIT_ENCODING:
            raise MalformedInputError(
                f"result-receipt predicate: executedCircuit.encoding must be {CIRCUIT_ENCODING!r}"
            )
        digest = f.req_digest("digest")
        qpy = f.req_fields("qpy")
        out = cls(
            digest=digest,
            qpy_sha256=qpy.req_digest("digest"),
            qpy_version=qpy.req_integer("version", minimum=1, maximum=255),
            qpy_size=qpy.req_integer("size", minimum=1, maximum=_MAX_QPY_BYTES),
            encoding=encoding,
        )
        qpy.done()
        f.done()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "digest": digest_dict(self.digest),
            "qpy": {
                "digest": digest_dict(self.qpy_sha256),
                "version": self.qpy_version,
                "size": self.qpy_size,
            },
        }


@dataclass(frozen=True)
class Calibration:
    """The calibration snapshot the backend ran with (absent for ideal simulators)."""

    digest: Sha256
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"digest": digest_dict(self.digest), "time": format_time(self.time)}


def _execution(value: Any, where: str) -> dict[str, Any]:
    """Execution details of a simulator: :class:`qprov.repro.ExecutionDetails` checks them."""
    from qprov.repro._simulate import ExecutionDetails

    if not isinstance(value, dict):
        raise MalformedInputError(f"{where} must be an object")
    try:
        details = ExecutionDetails.from_dict(dict(value))
    except MalformedInputError as exc:
        raise MalformedInputError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise MalformedInputError(f"{where}: {exc}") from None
    out = details.to_dict()
    canonical_json(out)  # floats and integers must be canonicalisable
    return out


@dataclass(frozen=True)
class ResultReceipt(Predicate):
    """The result receipt predicate (``attestations/result-receipt.md``)."""

    NAME: ClassVar[str] = "result-receipt"
    PREDICATE_TYPE: ClassVar[str] = RECEIPT_PREDICATE_TYPE

    manifest_sha256: Sha256
    nonce: str
    circuit_sha256: Sha256
    shots: int
    clbits: int
    backend: str
    backend_version: str
    job_id: str
    queued_at: datetime
    started_at: datetime
    finished_at: datetime
    executed_circuit: ExecutedCircuit
    calibration: Calibration | None = None
    execution: dict[str, Any] | None = field(default=None, compare=True)
    admission_sha256: Sha256 | None = None

    def __post_init__(self) -> None:
        if not self.queued_at <= self.started_at <= self.finished_at:
            raise MalformedInputError(
                "result-receipt predicate: job times must be ordered queuedAt <= startedAt "
                "<= finishedAt"
            )
        if self.execution is not None and self.execution.get("shots") != self.shots:
            raise MalformedInputError(
                "result-receipt predicate: execution.shots differs from result.shots"
            )

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        f = Fields(doc, "result-receipt predicate")
        m = f.req_fields("manifest")
        manifest_sha256 = m.req_digest("digest")
        nonce = m.req_string("nonce", pattern=_NONCE_RE, max_length=128)
        m.done()
        c = f.req_fields("circuit")
        circuit_sha256 = c.req_digest("digest")
        c.done()
        r = f.req_fields("result")
        media_type = r.req_string("mediaType", max_length=128)
        if media_type != COUNTS_MEDIA_TYPE:
            raise MalformedInputError(
                f"result-receipt predicate: result.mediaType must be {COUNTS_MEDIA_TYPE!r}"
            )
        shots = r.req_integer("shots", minimum=1, maximum=10**9)
        clbits = r.req_integer("clbits", minimum=1, maximum=100_000)
        r.done()
        b = f.req_fields("backend")
        backend = b.req_string("name", max_length=128, pattern=_NAME_RE)
        backend_version = b.req_string("version", max_length=64, pattern=_VERSION_RE)
        b.done()
        calibration = None
        cal = f.fields("calibration", required=False)
        if cal is not None:
            calibration = Calibration(cal.req_digest("digest"), cal.time("time"))
            cal.done()
        j = f.req_fields("job")
        job_id = j.req_string("id", max_length=128, pattern=_JOB_ID_RE)
        queued_at, started_at, finished_at = (
            j.time("queuedAt"),
            j.time("startedAt"),
            j.time("finishedAt"),
        )
        j.done()
        executed = ExecutedCircuit.from_fields(f.req_fields("executedCircuit"))
        execution = None
        if f.has("execution"):
            f.req_fields("execution")  # an object, not null
            execution = _execution(doc["execution"], "result-receipt predicate: execution")
        admission = f.digest("admission", required=False)
        f.done()
        return cls(
            manifest_sha256=manifest_sha256,
            nonce=nonce,
            circuit_sha256=circuit_sha256,
            shots=shots,
            clbits=clbits,
            backend=backend,
            backend_version=backend_version,
            job_id=job_id,
            queued_at=queued_at,
            started_at=started_at,
            finished_at=finished_at,
            executed_circuit=executed,
            calibration=calibration,
            execution=execution,
            admission_sha256=admission,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manifest": {"digest": digest_dict(self.manifest_sha256), "nonce": self.nonce},
            "circuit": {"digest": digest_dict(self.circuit_sha256)},
            "result": {"mediaType": COUNTS_MEDIA_TYPE, "shots": self.shots, "clbits": self.clbits},
            "backend": {"name": self.backend, "version": self.backend_version},
        }
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        out["job"] = {
            "id": self.job_id,
            "queuedAt": format_time(self.queued_at),
            "startedAt": format_time(self.started_at),
            "finishedAt": format_time(self.finished_at),
        }
        out["executedCircuit"] = self.executed_circuit.to_dict()
        if self.execution is not None:
            out["execution"] = dict(self.execution)
        if self.admission_sha256 is not None:
            out["admission"] = digest_dict(self.admission_sha256)
        return out

    def statement(self, result_sha256: str) -> Statement:
        subject = Subject(_RESULT_NAME, {"sha256": check_sha256(result_sha256, "result digest")})
        return Statement((subject,), RECEIPT_PREDICATE_TYPE, self.to_dict())


@dataclass(frozen=True)
class ParsedReceipt:
    """A receipt read from its envelope (signature not yet verified)."""

    envelope: Envelope
    statement: Statement
    receipt: ResultReceipt
    result_sha256: Sha256
    digest: Sha256
    """sha256 of the signed statement bytes: the receipt's identity."""


@dataclass(frozen=True)
class VerifiedReceipt:
    """A receipt whose signature verified for a receipt role."""

    parsed: ParsedReceipt
    role: ReceiptRole
    keyids: tuple[str, ...]

    @property
    def receipt(self) -> ResultReceipt:
        return self.parsed.receipt


def parse_receipt(envelope: Envelope | bytes | dict[str, Any]) -> ParsedReceipt:
    """Parse a receipt envelope and its predicate strictly (no signature check)."""
    if isinstance(envelope, bytes):
        env = envelope_from_dict(loads_strict(envelope, what="receipt envelope"))
    elif isinstance(envelope, Envelope):
        env = envelope
    else:
        env = envelope_from_dict(envelope)
    if env.payload_type != INTOTO_PAYLOAD_TYPE:
        raise MalformedInputError(f"receipt envelope payloadType must be {INTOTO_PAYLOAD_TYPE}")
    statement = parse_statement(env.payload)
    receipt = ResultReceipt.parse_predicate(statement.predicate_type, statement.predicate)
    if len(statement.subjects) != 1 or set(statement.subjects[0].digest) != {"sha256"}:
        raise MalformedInputError("a result receipt has exactly one subject: the result, by sha256")
    subject = statement.subjects[0]
    if subject.name != _RESULT_NAME:
        raise MalformedInputError(f"the result receipt's subject must be named {_RESULT_NAME!r}")
    result_sha = check_sha256(subject.digest["sha256"], "result subject digest")
    digest = Sha256(hashlib.sha256(env.payload).hexdigest())
    return ParsedReceipt(env, statement, receipt, result_sha, digest)


def sign_receipt(receipt: ResultReceipt, result: bytes, signer: Signer) -> Envelope:
    """Sign ``receipt`` for the result bytes (canonical counts JSON).

    The result must already be canonical (RFC 8785): a receipt never names
    bytes a verifier would reject.
    """
    check_canonical_result(result, shots=receipt.shots, clbits=receipt.clbits)
    statement = receipt.statement(hashlib.sha256(result).hexdigest())
    # the predicate must round-trip through the strict parser before it is signed
    ResultReceipt.parse_predicate(statement.predicate_type, statement.predicate)
    return sign_statement(statement, [signer])


def check_canonical_result(data: bytes, *, shots: int, clbits: int) -> None:
    """Raise unless ``data`` is valid counts JSON in its canonical form.

    MalformedInputError when it is not counts of ``clbits`` bits adding up to
    ``shots``; PolicyError when it is valid but not byte-for-byte canonical
    (RFC 8785, zero entries dropped): only canonical bytes are signed.
    """
    from qprov.repro._counts import parse_counts

    counts = parse_counts(data, num_clbits=clbits, shots=shots)
    if counts.to_json() != data:
        raise PolicyError(
            "the result JSON is not in canonical form (RFC 8785: sorted keys, no whitespace, "
            "no zero entries); re-serialised bytes would not match the signed digest"
        )


def verify_receipt(envelope: Envelope | ParsedReceipt, trust: TrustStore) -> VerifiedReceipt:
    """Verify a receipt's signature by a trusted ``gateway`` or ``provider`` key, or raise.

    A role missing from the trust file is skipped; a trust file with neither
    role is a :class:`~qprov.errors.ConfigError`.
    """
    parsed = envelope if isinstance(envelope, ParsedReceipt) else parse_receipt(envelope)
    roles = [r for r in RECEIPT_ROLES if r in trust.roles]
    if not roles:
        trust.role(RECEIPT_ROLES[0])  # raises ConfigError naming the roles
    errors: list[Error] = []
    for role in roles:
        try:
            verified = verify_statement(
                parsed.envelope, trust, role, predicate_type=RECEIPT_PREDICATE_TYPE
            )
        except VerificationError as exc:
            errors.append(exc)
            continue
        which: ReceiptRole = "gateway" if role == "gateway" else "provider"
        return VerifiedReceipt(parsed, which, verified.verified.keyids)
    first = errors[0]
    if len(errors) == 1:
        raise first
    raise type(first)("; ".join(f"{r}: {e}" for r, e in zip(roles, errors, strict=True)))


# -- log entries -------------------------------------------------------------------------


def log_entry(envelope: Envelope) -> bytes:
    """The transparency-log entry of a signed envelope: its RFC 8785 JSON.

    Deterministic from the envelope's content (payload, payloadType and
    signatures, in order), so a verifier derives the same bytes from the
    envelope in a bundle.
    """
    return canonical_json(envelope.to_dict())


# -- receipt bundle ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedEnvelope:
    """A signed envelope and its c2sp.org/tlog-proof (inclusion proof + checkpoint)."""

    envelope: Envelope
    proof: bytes = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"envelope": self.envelope.to_dict(), "proof": self.proof.decode("utf-8")}

    @classmethod
    def from_fields(cls, f: Fields, doc: dict[str, Any], where: str) -> LoggedEnvelope:
        from qprov.tlog import ProofBundle

        f.req_fields("envelope")
        envelope = envelope_from_dict(doc["envelope"])
        text = f.req_string("proof", max_length=1 << 20)
        f.done()
        proof = text.encode("utf-8")
        try:
            ProofBundle.from_bytes(proof)
        except MalformedInputError as exc:
            raise MalformedInputError(f"{where}.proof: {exc}") from None
        return cls(envelope, proof)


@dataclass(frozen=True)
class ReceiptBundle:
    """One JSON document that lets a result be verified offline.

    ``receipt`` is the signed receipt with its log inclusion proof and the
    signed checkpoint; ``decision`` is the gateway's signed admission decision
    with its own proof (absent when a provider issued the receipt without one);
    ``manifest_sha256`` names the manifest (whose bundle the researcher keeps);
    ``executed_qpy`` is the exact QPY the receipt's ``executedCircuit`` names.
    """

    receipt: LoggedEnvelope
    manifest_sha256: Sha256
    executed_qpy: bytes = field(repr=False)
    decision: LoggedEnvelope | None = None

    @functools.cached_property
    def parsed(self) -> ParsedReceipt:
        """The receipt parsed (once: the bundle is immutable)."""
        return parse_receipt(self.receipt.envelope)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": RECEIPT_BUNDLE_MEDIA_TYPE,
            "receipt": self.receipt.to_dict(),
            "manifest": digest_dict(self.manifest_sha256),
            "executedCircuit": base64.b64encode(self.executed_qpy).decode("ascii"),
        }
        if self.decision is not None:
            out["decision"] = self.decision.to_dict()
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode("ascii") + b"\n"


def parse_receipt_bundle(
    data: bytes, *, max_bytes: int = MAX_RECEIPT_BUNDLE_BYTES
) -> ReceiptBundle:
    """Parse a receipt bundle strictly (unknown fields rejected); nothing verified.

    The receipt predicate, both proofs and the QPY's digest are checked for
    form, so a bundle that parses is well-formed all the way down.
    """
    doc = loads_strict(data, what="receipt bundle", max_bytes=max_bytes)
    f = Fields(doc, "receipt bundle")
    media_type = f.req_string("mediaType", max_length=128)
    if media_type != RECEIPT_BUNDLE_MEDIA_TYPE:
        raise MalformedInputError(
            f"receipt bundle mediaType is {media_type!r}, expected {RECEIPT_BUNDLE_MEDIA_TYPE!r}"
        )
    receipt = LoggedEnvelope.from_fields(
        f.req_fields("receipt"), doc["receipt"], "receipt bundle receipt"
    )
    manifest = f.req_digest("manifest")
    qpy_text = f.req_string("executedCircuit", max_length=max_bytes)
    qpy = _b64decode(qpy_text, "receipt bundle executedCircuit")
    decision = None
    d = f.fields("decision", required=False)
    if d is not None:
        decision = LoggedEnvelope.from_fields(d, doc["decision"], "receipt bundle decision")
    f.done()
    bundle = ReceiptBundle(receipt, manifest, qpy, decision)
    parsed = bundle.parsed
    if parsed.receipt.manifest_sha256 != manifest:
        raise MalformedInputError(
            "receipt bundle: the manifest digest differs from the one the receipt names"
        )
    return bundle


def qpy_matches(bundle: ReceiptBundle) -> Sha256:
    """sha256 of the bundle's QPY; raise PolicyError unless the receipt names it."""
    executed = bundle.parsed.receipt.executed_circuit
    sha = Sha256(hashlib.sha256(bundle.executed_qpy).hexdigest())
    if sha != executed.qpy_sha256 or len(bundle.executed_qpy) != executed.qpy_size:
        raise PolicyError(
            f"the executed-circuit QPY in the bundle (sha256:{sha[:16]}…, "
            f"{len(bundle.executed_qpy)} bytes) is not the one the receipt names "
            f"(sha256:{executed.qpy_sha256[:16]}…, {executed.qpy_size} bytes)"
        )
    return sha
