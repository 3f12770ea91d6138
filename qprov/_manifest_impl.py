"""Job manifests and manifest bundles. Private: see :mod:`qprov.manifest`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Self

from securesystemslib.signer import Signer

from qprov._canon import loads_strict
from qprov._predicate import (
    Fields,
    Predicate,
    Sha256,
    check_sha256,
    digest_dict,
    format_time,
    non_negative_int,
    option_value,
    predicate_type,
    sorted_dict,
)
from qprov.dsse import (
    INTOTO_PAYLOAD_TYPE,
    Envelope,
    EnvelopeSignature,
    envelope_from_dict,
)
from qprov.errors import MalformedInputError
from qprov.grant import GATE_RE, NAME_RE, ParsedGrant, parse_grant
from qprov.keys import _b64decode
from qprov.statement import Statement, Subject, parse_statement, sign_statement

MANIFEST_PREDICATE_TYPE: Final = predicate_type("job-manifest")
BUNDLE_MEDIA_TYPE: Final = "application/vnd.qprov.manifest-bundle.v1+json"
MAX_BUNDLE_BYTES: Final = 16 * 1024 * 1024
MIN_NONCE_BYTES: Final = 16
_NONCE_RE: Final = re.compile(r"[0-9a-f]{32,128}")
_KEYID_RE: Final = re.compile(r"[0-9a-f]{64}")
_OPTION_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_CIRCUIT_NAME_RE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_FORMATS: Final = ("openqasm2", "openqasm3", "qpy")
_MAX_OPTIONS: Final = 64


def new_nonce() -> str:
    """A fresh nonce: 128 random bits from :mod:`secrets`, as 32 hex digits."""
    return secrets.token_hex(MIN_NONCE_BYTES)


@dataclass(frozen=True)
class CircuitInfo:
    """Facts about the circuit computed with qiskit when the manifest was made.

    Informational: the gateway recomputes them from the bytes it receives and
    never trusts these.
    """

    format: str
    size: int
    qubits: int
    clbits: int
    depth: int
    gate_counts: Mapping[str, int]

    @classmethod
    def from_fields(cls, f: Fields) -> CircuitInfo:
        fmt = f.req_string("format")
        if fmt not in _FORMATS:
            raise MalformedInputError(
                f"job-manifest predicate: circuit.format must be one of {', '.join(_FORMATS)}"
            )
        info = cls(
            format=fmt,
            size=f.req_integer("size", minimum=1),
            qubits=f.req_integer("qubits"),
            clbits=f.req_integer("clbits"),
            depth=f.req_integer("depth"),
            gate_counts=f.mapping("gateCounts", non_negative_int, key_pattern=GATE_RE) or {},
        )
        f.done()
        return info

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "size": self.size,
            "qubits": self.qubits,
            "clbits": self.clbits,
            "depth": self.depth,
            "gateCounts": sorted_dict(self.gate_counts.items()),
        }


@dataclass(frozen=True)
class SdkIdentity:
    """The SDK build the job was made with."""

    name: str
    version: str
    wheel_sha256: Sha256
    attestation_sha256: Sha256 | None = None

    @classmethod
    def from_fields(cls, f: Fields) -> SdkIdentity:
        sdk = cls(
            name=f.req_string("name", max_length=256, pattern=NAME_RE),
            version=f.req_string("version", max_length=128, pattern=NAME_RE),
            wheel_sha256=f.req_digest("wheel"),
            attestation_sha256=f.digest("attestation", required=False),
        )
        f.done()
        return sdk

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "wheel": digest_dict(self.wheel_sha256),
        }
        if self.attestation_sha256 is not None:
            out["attestation"] = digest_dict(self.attestation_sha256)
        return out


@dataclass(frozen=True)
class JobManifest(Predicate):
    """The job manifest predicate (``attestations/job-manifest.md``)."""

    NAME: ClassVar[str] = "job-manifest"
    PREDICATE_TYPE: ClassVar[str] = MANIFEST_PREDICATE_TYPE

    circuit: CircuitInfo
    backend: str
    shots: int
    experiment: str
    submitter: str
    nonce: str
    issued_at: datetime
    expires_at: datetime
    purpose: str | None = None
    owner: str | None = None
    options: Mapping[str, str | int | bool] = field(default_factory=dict)
    sdk: SdkIdentity | None = None

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        f = Fields(doc, "job-manifest predicate")
        circuit = CircuitInfo.from_fields(f.req_fields("circuit"))
        backend = f.req_string("backend", max_length=128, pattern=NAME_RE)
        shots = f.req_integer("shots", minimum=1)
        options = f.mapping(
            "options", option_value, required=False, max_items=_MAX_OPTIONS, key_pattern=_OPTION_RE
        )
        exp = f.req_fields("experiment")
        experiment = exp.req_string("id", max_length=128, pattern=NAME_RE)
        purpose = exp.string("purpose", required=False, max_length=1024)
        exp.done()
        sub = f.req_fields("submitter")
        submitter = sub.req_string("keyid", pattern=_KEYID_RE)
        sub.done()
        owner = f.string("owner", required=False, max_length=256)
        sdk_fields = f.fields("sdk", required=False)
        sdk = SdkIdentity.from_fields(sdk_fields) if sdk_fields is not None else None
        nonce = f.req_string("nonce", pattern=_NONCE_RE, max_length=128)
        issued_at = f.time("issuedAt")
        expires_at = f.time("expiresAt")
        f.done()
        if expires_at <= issued_at:
            raise MalformedInputError("job-manifest predicate: expiresAt must be after issuedAt")
        return cls(
            circuit=circuit,
            backend=backend,
            shots=shots,
            experiment=experiment,
            submitter=submitter,
            nonce=nonce,
            issued_at=issued_at,
            expires_at=expires_at,
            purpose=purpose,
            owner=owner,
            options=dict(options or {}),
            sdk=sdk,
        )

    def to_dict(self) -> dict[str, Any]:
        experiment: dict[str, Any] = {"id": self.experiment}
        if self.purpose is not None:
            experiment["purpose"] = self.purpose
        out: dict[str, Any] = {
            "circuit": self.circuit.to_dict(),
            "backend": self.backend,
            "shots": self.shots,
            "experiment": experiment,
            "submitter": {"keyid": self.submitter},
        }
        if self.options:
            out["options"] = sorted_dict(self.options.items())
        if self.owner is not None:
            out["owner"] = self.owner
        if self.sdk is not None:
            out["sdk"] = self.sdk.to_dict()
        out["nonce"] = self.nonce
        out["issuedAt"] = format_time(self.issued_at)
        out["expiresAt"] = format_time(self.expires_at)
        return out


@dataclass(frozen=True)
class ParsedManifest:
    """A manifest statement read from a bundle (signatures not yet verified)."""

    statement: Statement
    manifest: JobManifest
    circuit_name: str
    circuit_sha256: Sha256
    digest: Sha256
    """sha256 of the signed statement bytes: the manifest's identity."""


def manifest_from_envelope(envelope: Envelope) -> ParsedManifest:
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise MalformedInputError(f"manifest envelope payloadType must be {INTOTO_PAYLOAD_TYPE}")
    statement = parse_statement(envelope.payload)
    manifest = JobManifest.parse_predicate(statement.predicate_type, statement.predicate)
    if len(statement.subjects) != 1:
        raise MalformedInputError("a job manifest has exactly one subject: the circuit")
    subject = statement.subjects[0]
    if set(subject.digest) != {"sha256"}:
        raise MalformedInputError("the circuit subject's digest must be exactly one sha256")
    sha = check_sha256(subject.digest["sha256"], "circuit subject digest")
    if not _CIRCUIT_NAME_RE.fullmatch(subject.name):
        raise MalformedInputError("the circuit subject needs a printable name (<= 255 chars)")
    digest = Sha256(hashlib.sha256(envelope.payload).hexdigest())
    return ParsedManifest(statement, manifest, subject.name, sha, digest)


@dataclass(frozen=True)
class ManifestBundle:
    """One JSON document: the manifest envelope and what a gateway needs with it.

    ``manifest`` is the DSSE envelope (signed by the submitter or an agent; an
    approver's co-signature is one more signature in the same envelope);
    ``grant`` is the owner's grant envelope when an agent signs;
    ``sdk_attestation`` is the exact bytes of the SDK's release attestation
    (``.intoto.jsonl``) whose sha256 the manifest names.
    """

    manifest: Envelope
    grant: Envelope | None = None
    sdk_attestation: bytes | None = None

    @property
    def parsed(self) -> ParsedManifest:
        return manifest_from_envelope(self.manifest)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": BUNDLE_MEDIA_TYPE, "manifest": self.manifest.to_dict()}
        if self.grant is not None:
            out["grant"] = self.grant.to_dict()
        if self.sdk_attestation is not None:
            out["sdkAttestation"] = base64.b64encode(self.sdk_attestation).decode("ascii")
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode("ascii") + b"\n"


def parse_bundle(data: bytes, *, max_bytes: int = MAX_BUNDLE_BYTES) -> ManifestBundle:
    """Parse a manifest bundle strictly (unknown fields rejected); no signature check.

    Also parses the manifest statement and predicate (and the grant's), so that
    a bundle that parses is well-formed all the way down.
    """
    return parse_bundle_full(data, max_bytes=max_bytes).bundle


@dataclass(frozen=True)
class ParsedBundle:
    """A bundle with its manifest and grant parsed (nothing verified)."""

    bundle: ManifestBundle
    manifest: ParsedManifest
    grant: ParsedGrant | None


def parse_bundle_full(data: bytes, *, max_bytes: int = MAX_BUNDLE_BYTES) -> ParsedBundle:
    """:func:`parse_bundle`, keeping the parsed manifest and grant."""
    doc = loads_strict(data, what="manifest bundle", max_bytes=max_bytes)
    f = Fields(doc, "manifest bundle")
    media_type = f.req_string("mediaType", max_length=128)
    if media_type != BUNDLE_MEDIA_TYPE:
        raise MalformedInputError(
            f"manifest bundle mediaType is {media_type!r}, expected {BUNDLE_MEDIA_TYPE!r}"
        )
    manifest = envelope_from_dict(f.raw_object("manifest"))  # DSSE: parsed by qprov.dsse
    grant = envelope_from_dict(f.raw_object("grant")) if f.has("grant") else None
    attestation = None
    if f.has("sdkAttestation"):
        text = f.req_string("sdkAttestation", max_length=max_bytes)
        attestation = _b64decode(text, "manifest bundle sdkAttestation")
        if not attestation:
            raise MalformedInputError("manifest bundle sdkAttestation is empty")
    f.done()
    bundle = ManifestBundle(manifest, grant, attestation)
    return ParsedBundle(
        bundle,
        manifest_from_envelope(manifest),
        parse_grant(grant) if grant is not None else None,
    )


def build_manifest(
    circuit: bytes,
    *,
    backend: str,
    shots: int,
    experiment: str,
    submitter: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
    purpose: str | None = None,
    owner: str | None = None,
    options: Mapping[str, str | int | bool] | None = None,
    sdk: SdkIdentity | None = None,
    nonce: str | None = None,
    circuit_format: str | None = None,
) -> JobManifest:
    """The manifest for ``circuit`` (its facts computed with qiskit). Validates every field."""
    from qprov.circuits import analyze_circuit

    facts = analyze_circuit(circuit, format=circuit_format)
    issued = now.replace(microsecond=0)
    info = CircuitInfo(
        format=facts.format,
        size=facts.size,
        qubits=facts.num_qubits,
        clbits=facts.num_clbits,
        depth=facts.depth,
        gate_counts=dict(facts.gate_counts),
    )
    manifest = JobManifest(
        circuit=info,
        backend=backend,
        shots=shots,
        experiment=experiment,
        submitter=submitter,
        nonce=new_nonce() if nonce is None else nonce,
        issued_at=issued,
        expires_at=issued + lifetime,
        purpose=purpose,
        owner=owner,
        options=dict(options or {}),
        sdk=sdk,
    )
    return JobManifest.from_dict(manifest.to_dict())  # every field checked as a verifier will


def manifest_statement(manifest: JobManifest, circuit_name: str, circuit: bytes) -> Statement:
    subject = Subject(circuit_name, {"sha256": hashlib.sha256(circuit).hexdigest()})
    return Statement((subject,), MANIFEST_PREDICATE_TYPE, manifest.to_dict())


def create_manifest(
    circuit: bytes,
    *,
    circuit_name: str,
    backend: str,
    shots: int,
    experiment: str,
    signer: Signer,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
    purpose: str | None = None,
    owner: str | None = None,
    options: Mapping[str, str | int | bool] | None = None,
    sdk: SdkIdentity | None = None,
    sdk_attestation: bytes | None = None,
    grant: Envelope | None = None,
    nonce: str | None = None,
) -> ManifestBundle:
    """Build, sign and bundle a job manifest for ``circuit``.

    The submitter named in the manifest is the signer's key id. ``grant`` (an
    owner's grant envelope) is needed when ``signer`` is an agent key;
    ``sdk_attestation`` is carried so the gateway can verify the SDK build.
    """
    if sdk_attestation is not None:
        att = hashlib.sha256(sdk_attestation).hexdigest()
        if sdk is None:
            raise MalformedInputError("an SDK attestation needs the SDK identity it attests")
        if sdk.attestation_sha256 is None:
            sdk = replace(sdk, attestation_sha256=Sha256(att))
        elif sdk.attestation_sha256 != att:
            raise MalformedInputError("the SDK attestation is not the one the SDK identity names")
    if grant is not None:
        parsed_grant = parse_grant(grant)
        if parsed_grant.grant.agent_keyid != signer.public_key.keyid:
            raise MalformedInputError("the grant is for another agent key than the signer's")
    if not _CIRCUIT_NAME_RE.fullmatch(circuit_name):
        raise MalformedInputError("the circuit name must be printable (<= 255 chars)")
    manifest = build_manifest(
        circuit,
        backend=backend,
        shots=shots,
        experiment=experiment,
        submitter=signer.public_key.keyid,
        now=now,
        lifetime=lifetime,
        purpose=purpose,
        owner=owner,
        options=options,
        sdk=sdk,
        nonce=nonce,
    )
    envelope = sign_statement(manifest_statement(manifest, circuit_name, circuit), [signer])
    return ManifestBundle(envelope, grant, sdk_attestation)


def approve_bundle(bundle: ManifestBundle, signer: Signer) -> ManifestBundle:
    """Add ``signer``'s co-signature (same PAE) to the manifest envelope."""
    manifest_from_envelope(bundle.manifest)  # approve only what parses
    keyid = signer.public_key.keyid
    if any(s.keyid == keyid for s in bundle.manifest.signatures):
        raise MalformedInputError(f"key {keyid[:16]}… has already signed this manifest")
    sig = signer.sign(bundle.manifest.pae())
    envelope = replace(
        bundle.manifest,
        signatures=(
            *bundle.manifest.signatures,
            EnvelopeSignature(sig.keyid, bytes.fromhex(sig.signature)),
        ),
    )
    return replace(bundle, manifest=envelope)


def sdk_from_wheel(filename: str, wheel: bytes, attestation: bytes | None = None) -> SdkIdentity:
    """SDK identity from a wheel file name (PEP 427) and its bytes."""
    name, version = _wheel_name_version(filename)
    att = hashlib.sha256(attestation).hexdigest() if attestation is not None else None
    return SdkIdentity(
        name,
        version,
        Sha256(hashlib.sha256(wheel).hexdigest()),
        Sha256(att) if att is not None else None,
    )


def sdk_from_attestation(attestation: bytes) -> SdkIdentity:
    """SDK identity from a release attestation whose subjects name exactly one wheel."""
    from qprov.slsa import parse_attestation_bundle

    wheels: dict[str, str] = {}
    for envelope in parse_attestation_bundle(attestation):
        statement = parse_statement(envelope.payload)
        for s in statement.subjects:
            if s.name.endswith(".whl") and "sha256" in s.digest:
                wheels[s.name] = s.digest["sha256"]
    if len(wheels) != 1:
        raise MalformedInputError(
            f"the SDK attestation names {len(wheels)} wheels; give the wheel with --sdk-wheel"
        )
    ((filename, sha),) = wheels.items()
    name, version = _wheel_name_version(filename)
    return SdkIdentity(
        name,
        version,
        check_sha256(sha, "wheel subject digest"),
        Sha256(hashlib.sha256(attestation).hexdigest()),
    )


def _wheel_name_version(filename: str) -> tuple[str, str]:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        name, version, _build, _tags = parse_wheel_filename(base)
    except InvalidWheelFilename as exc:
        raise MalformedInputError(f"not a wheel file name: {exc}") from None
    return str(name), str(version)
