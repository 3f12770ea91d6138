"""Wire models of the HTTP API, used for the OpenAPI document.

Requests are parsed by hand (strict JSON: duplicate keys refused, size limit
while reading), and responses are written by hand from the library's own
``to_dict()``; these models describe both, and the tests validate every
response against the document generated from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qprov.admission import CheckName

__all__ = [
    "AdmissionRequest",
    "AdmissionResponse",
    "CheckModel",
    "DecisionModel",
    "DigestModel",
    "EnvelopeModel",
    "ErrorCode",
    "ErrorResponse",
    "FailureModel",
    "HealthResponse",
    "JobModel",
    "JobResponse",
    "LogEntryModel",
    "ProofResponse",
    "StoreHealth",
]


ErrorCode = Literal[
    "malformed_json",
    "invalid_request",
    "malformed_bundle",
    "body_too_large",
    "unsupported_media_type",
    "not_found",
    "method_not_allowed",
    "store_unavailable",
    "log_unavailable",
    "backend_unsupported",
    "job_failed",
    "service_error",
    "internal_error",
]

_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdmissionRequest(_Strict):
    """``POST /v1/admissions`` body (``application/json``)."""

    bundle: dict[str, object] = Field(
        description="The manifest bundle (application/vnd.qprov.manifest-bundle.v1+json), "
        "as the JSON object `qprov manifest create` writes; see "
        "attestations/schemas/manifest-bundle.v1.json.",
    )
    circuit: str = Field(
        description="The circuit's exact bytes (OpenQASM 2/3 text or QPY), standard base64 "
        "(RFC 4648 section 4, with padding). The gateway hashes these bytes.",
        min_length=1,
        json_schema_extra={"contentEncoding": "base64"},
    )


class DigestModel(_Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CheckModel(_Strict):
    """One admission check."""

    name: CheckName
    ok: bool
    reason: str = Field(max_length=8192)
    skipped: Literal[True] | None = Field(
        default=None, description="Present (true) when the check did not run."
    )


class SubmitterModel(_Strict):
    keyid: str = Field(min_length=1, max_length=256)


class DecisionModel(_Strict):
    """The admission-decision predicate (attestations/schemas/admission-decision.v1.json)."""

    verdict: Literal["admitted", "refused"]
    checks: list[CheckModel] = Field(min_length=1, max_length=64)
    manifest: DigestModel
    circuit: DigestModel
    nonce: str = Field(min_length=1, max_length=256)
    submitter: SubmitterModel
    backend: str = Field(min_length=1, max_length=128)
    shots: int = Field(ge=0)
    decidedAt: str = Field(pattern=_TIMESTAMP)  # noqa: N815 - wire name


class EnvelopeSignature(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    keyid: str
    sig: str


class EnvelopeModel(BaseModel):
    """A DSSE envelope: the decision statement signed by the gateway's key."""

    model_config = ConfigDict(extra="allow", frozen=True)
    payload: str
    payloadType: Literal["application/vnd.in-toto+json"]  # noqa: N815 - wire name
    signatures: list[EnvelopeSignature] = Field(min_length=1)


class FailureModel(_Strict):
    """A failed check (``ok`` false and not skipped) and why."""

    check: CheckName
    reason: str


class LogEntryModel(_Strict):
    """Where the signed decision is in the transparency log."""

    index: int = Field(ge=0, description="The decision's index in the log.")
    proof: str = Field(
        description="A c2sp.org/tlog-proof inclusion proof of the decision envelope's log "
        "entry, checkpoint included (qprov.tlog.verify_inclusion_bundle)."
    )
    checkpoint: str = Field(
        description="The signed checkpoint (c2sp.org/tlog-checkpoint note) the proof is against."
    )


class AdmissionResponse(_Strict):
    """An admission decision. HTTP 200 for both verdicts: read ``verdict``."""

    verdict: Literal["admitted", "refused"]
    decision: DecisionModel
    failures: list[FailureModel] = Field(
        description="Every check that ran and failed, with its reason (empty when admitted)."
    )
    envelope: EnvelopeModel | None = Field(
        description="The decision as a signed in-toto statement (DSSE), when the gateway "
        "has a signing key; null otherwise."
    )
    log: LogEntryModel | None = Field(
        default=None,
        description="Present when the gateway keeps a transparency log: every decision, "
        "admitted or refused, is appended to it.",
    )


class JobModel(_Strict):
    """A completed job: ``POST /v1/jobs`` (admitted) and ``GET /v1/jobs/{job_id}``."""

    job_id: str = Field(min_length=1, max_length=128)
    manifest: DigestModel
    created_at: str = Field(pattern=_TIMESTAMP)
    receipt_index: int = Field(ge=0, description="The signed receipt's index in the log.")
    result: str = Field(
        description="The exact result bytes (canonical counts JSON, RFC 8785) the receipt "
        "signs, as text: verify them as they are, never re-serialised."
    )
    receipt_bundle: dict[str, object] = Field(
        description="The receipt bundle (application/vnd.qprov.receipt-bundle.v1+json): the "
        "signed receipt and admission decision with inclusion proofs and checkpoint, and the "
        "executed circuit's QPY; verifies offline with `qprov verify chain`."
    )


class JobResponse(_Strict):
    """``POST /v1/jobs``: the decision and, when admitted, the job that ran."""

    verdict: Literal["admitted", "refused"]
    decision: DecisionModel
    failures: list[FailureModel]
    envelope: EnvelopeModel | None
    log: LogEntryModel
    job: JobModel | None = Field(description="The completed job; null when refused.")


class ProofResponse(_Strict):
    """``GET /v1/log/proof?index=N``: an inclusion proof against the latest checkpoint."""

    index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    proof: str = Field(description="c2sp.org/tlog-proof text, checkpoint included.")
    checkpoint: str = Field(description="The signed checkpoint the proof is against.")


class ErrorResponse(_Strict):
    """Every non-2xx answer."""

    error: ErrorCode
    reason: str = Field(description="What was wrong, for a human.")


class StoreHealth(_Strict):
    backend: Literal["sqlite", "postgresql", "redis"]
    reachable: bool
    reason: str | None = Field(default=None, description="Why the store is unreachable.")


class HealthResponse(_Strict):
    """``200`` when serving and the store (and log) answer; ``503`` (same body) otherwise."""

    status: Literal["ok", "unavailable"]
    version: str
    store: StoreHealth
    log: StoreHealth | None = Field(
        default=None, description="The transparency log's store, when the gateway keeps one."
    )
