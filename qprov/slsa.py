"""SLSA Provenance v1 for SDK releases: build attestations, verify them against a policy.

Building::

    predicate = build_predicate()            # GitHub Actions' form in CI, local elsewhere
    bundle = build_attestations(subjects, [signer], predicate=predicate, sbom=sbom_bytes)

``bundle`` is an ``.intoto.jsonl`` file: one DSSE envelope (JSON) per line, the
SLSA provenance statement first, then (with an SBOM) a statement of predicate
type ``https://cyclonedx.org/bom``.

Verifying (what ``qprov attest verify`` and the gateway do)::

    release = verify_release(wheel_bytes, bundle, trust, policy)

checks, and reports every failure rather than only the first: the signature by a
trusted ``release-signer`` key under the crypto policy, the subject digest
against the artifact, the predicate type, the buildType, the builder id, the
source repository and ref, and unknown externalParameters where the policy
rejects them. :func:`check_release` returns the full report without raising.

Upstream Sigstore bundles (GitHub artifact attestations, PEP 740 attestations,
release bundles such as CPython's) are verified by :func:`check_sigstore_release`
/ :func:`verify_sigstore_release`: offline, against a pinned trusted root, with an
identity and issuer policy and GitHub workflow claims; a DSSE bundle's statement
subjects are matched against the artifact and, when it carries SLSA provenance,
the release policy's builder and source checks apply to it as well.
:func:`sigstore_bundles` tells the two kinds of attestation file apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from securesystemslib.signer import Signer

from qprov._canon import loads_strict
from qprov._slsa_impl import (
    CYCLONEDX_BOM,
    GITHUB_WORKFLOW_BUILD_TYPE,
    JOB_WORKFLOW_REF_ENV,
    KNOWN_EXTERNAL_PARAMETERS,
    LOCAL_BUILD_TYPE,
    LOCAL_BUILDER_ID,
    SLSA_GITHUB_WORKFLOW_BUILD_TYPE,
    SLSA_PROVENANCE_V1,
    GitSource,
    Provenance,
    ReleasePolicy,
    ResourceDescriptor,
    SigstoreReleasePolicy,
    build_predicate,
    environment_dependencies,
    git_source,
    github_claims_from_env,
    github_predicate,
    in_github_actions,
    load_release_policy,
    local_predicate,
    parse_provenance,
    parse_provenance_json,
)
from qprov.dsse import Envelope, parse_envelope
from qprov.errors import Error, MalformedInputError, PolicyError
from qprov.sigstore import (
    ArtifactDigest,
    PinnedTrustedRoot,
    SigstorePolicy,
    VerifiedBundle,
    verify_bundle,
)
from qprov.statement import (
    Statement,
    Subject,
    parse_statement,
    sign_statement,
    verify_statement,
)
from qprov.trust import TrustStore

__all__ = [
    "CYCLONEDX_BOM",
    "GITHUB_WORKFLOW_BUILD_TYPE",
    "JOB_WORKFLOW_REF_ENV",
    "KNOWN_EXTERNAL_PARAMETERS",
    "LOCAL_BUILDER_ID",
    "LOCAL_BUILD_TYPE",
    "RELEASE_ROLE",
    "SLSA_GITHUB_WORKFLOW_BUILD_TYPE",
    "SLSA_PROVENANCE_V1",
    "Check",
    "GitSource",
    "Provenance",
    "ReleasePolicy",
    "ReleaseReport",
    "ResourceDescriptor",
    "SigstoreReleasePolicy",
    "VerifiedRelease",
    "build_attestations",
    "build_predicate",
    "check_release",
    "check_sigstore_release",
    "check_release_digest",
    "environment_dependencies",
    "git_source",
    "github_claims_from_env",
    "github_predicate",
    "in_github_actions",
    "load_release_policy",
    "local_predicate",
    "parse_attestation_bundle",
    "parse_provenance",
    "parse_provenance_json",
    "provenance_statement",
    "sbom_statement",
    "subjects_from_files",
    "verify_release",
    "verify_release_digest",
]

#: The trust role whose keys sign release attestations.
RELEASE_ROLE = "release-signer"
_MAX_BUNDLE_LINES = 64


# -- building ----------------------------------------------------------------------


def subjects_from_files(files: Sequence[tuple[str, bytes]]) -> tuple[Subject, ...]:
    """Subjects (name, sha256) for ``(name, content)`` pairs; duplicates are refused."""
    if not files:
        raise MalformedInputError("at least one subject is required")
    out: dict[str, Subject] = {}
    for name, data in files:
        if not name:
            raise MalformedInputError("a subject needs a name")
        subject = Subject(name, {"sha256": hashlib.sha256(data).hexdigest()})
        if name in out:
            if out[name] != subject:
                raise MalformedInputError(f"two different subjects are both named {name!r}")
            continue
        out[name] = subject
    return tuple(out.values())


def provenance_statement(subjects: Sequence[Subject], predicate: Any) -> Statement:
    """A SLSA Provenance v1 statement; the predicate is checked before it is used."""
    if not subjects:
        raise MalformedInputError("at least one subject is required")
    parse_provenance(predicate)
    return Statement(tuple(subjects), SLSA_PROVENANCE_V1, predicate)


def sbom_statement(subjects: Sequence[Subject], sbom: bytes) -> Statement:
    """A statement whose predicate is a CycloneDX JSON SBOM (parsed strictly)."""
    if not subjects:
        raise MalformedInputError("at least one subject is required")
    doc = loads_strict(sbom, what="SBOM")
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise MalformedInputError("SBOM is not a CycloneDX JSON document (bomFormat)")
    if not isinstance(doc.get("specVersion"), str):
        raise MalformedInputError("SBOM has no specVersion")
    return Statement(tuple(subjects), CYCLONEDX_BOM, doc)


def build_attestations(
    subjects: Sequence[Subject],
    signers: Sequence[Signer],
    *,
    predicate: Any,
    sbom: bytes | None = None,
) -> bytes:
    """Sign the provenance (and SBOM) statements; return the ``.intoto.jsonl`` bytes.

    Every statement is built and checked before anything is signed.
    """
    statements = [provenance_statement(subjects, predicate)]
    if sbom is not None:
        statements.append(sbom_statement(subjects, sbom))
    if not signers:
        raise MalformedInputError("at least one signer is required")
    for s in statements:
        s.to_bytes()  # canonicalisable (e.g. no integer beyond 2**53) before any signature
    return b"".join(sign_statement(s, signers).to_json() for s in statements)


# -- verifying -----------------------------------------------------------------------


def parse_attestation_bundle(data: bytes) -> tuple[Envelope, ...]:
    """Envelopes of an ``.intoto.jsonl`` bundle, or of a single envelope JSON document."""
    text = data.strip()
    if not text:
        raise MalformedInputError("attestation is empty")
    if text.startswith(b"{") and b"\n" in text:
        try:
            return (parse_envelope(text),)  # one pretty-printed envelope
        except MalformedInputError:
            pass
    lines = [line for line in text.split(b"\n") if line.strip()]
    if len(lines) > _MAX_BUNDLE_LINES:
        raise MalformedInputError(f"attestation bundle has more than {_MAX_BUNDLE_LINES} lines")
    envelopes = []
    for i, line in enumerate(lines, 1):
        try:
            envelopes.append(parse_envelope(line))
        except MalformedInputError as exc:
            raise MalformedInputError(f"attestation line {i}: {exc}") from None
    return tuple(envelopes)


@dataclass(frozen=True)
class Check:
    """One check of a release verification and its outcome."""

    name: str
    ok: bool
    detail: str
    error: type[Error] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "ok": self.ok, "detail": self.detail}
        if self.error is not None:
            out["error"] = self.error.__name__
        return out


@dataclass(frozen=True)
class ReleaseReport:
    """Every check made on an artifact's attestation."""

    artifact_sha256: str
    checks: tuple[Check, ...]
    statement: Statement | None
    provenance: Provenance | None
    keyids: tuple[str, ...]
    subject: Subject | None
    #: the exact verified payload bytes (empty when the signature did not verify)
    payload: bytes = field(default=b"", repr=False)
    #: what an upstream Sigstore bundle proved (``None`` for qprov's own envelopes)
    sigstore: VerifiedBundle | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verified": self.ok,
            "artifact": {"sha256": self.artifact_sha256},
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.sigstore is not None:
            out["sigstore"] = self.sigstore.to_json_dict()
        if self.ok and self.provenance is not None and self.subject is not None:
            repo, ref = self.provenance.source()
            out.update(
                subject=self.subject.to_dict(),
                keyids=list(self.keyids),
                builderId=self.provenance.builder_id,
                buildType=self.provenance.build_type,
                sourceRepository=repo,
                sourceRef=ref,
            )
        return out

    def raise_for_failures(self) -> None:
        """Raise the error of the first failed check, naming every failure."""
        failures = self.failures
        if not failures:
            return
        error = next((c.error for c in failures if c.error is not None), PolicyError)
        raise error("; ".join(f"{c.name}: {c.detail}" for c in failures))


@dataclass(frozen=True)
class VerifiedRelease:
    """A release attestation that passed every check."""

    statement: Statement
    provenance: Provenance
    subject: Subject
    keyids: tuple[str, ...]
    payload: bytes
    report: ReleaseReport


def _fail(name: str, exc: Error) -> Check:
    return Check(name, False, str(exc), type(exc))


def _policy_checks(prov: Provenance, policy: ReleasePolicy) -> list[Check]:
    checks = []
    if policy.allows_build_type(prov.build_type):
        checks.append(Check("build-type", True, prov.build_type))
    else:
        checks.append(
            _fail("build-type", PolicyError(f"buildType {prov.build_type!r} is not allowed"))
        )
    if policy.allows_builder(prov.builder_id):
        checks.append(Check("builder", True, prov.builder_id))
    else:
        checks.append(
            _fail("builder", PolicyError(f"builder id {prov.builder_id!r} is not allowed"))
        )
    repo, ref = prov.source()
    if repo is None:
        checks.append(
            _fail(
                "source-repository",
                PolicyError(f"buildType {prov.build_type!r} names no source repository"),
            )
        )
    elif policy.allows_repository(repo):
        checks.append(Check("source-repository", True, repo))
    else:
        checks.append(
            _fail("source-repository", PolicyError(f"source repository {repo!r} is not allowed"))
        )
    if ref is None:
        checks.append(
            _fail("source-ref", PolicyError(f"buildType {prov.build_type!r} names no source ref"))
        )
    elif policy.allows_ref(ref):
        checks.append(Check("source-ref", True, ref))
    else:
        checks.append(_fail("source-ref", PolicyError(f"source ref {ref!r} is not allowed")))
    unknown = prov.unknown_external_parameters()
    if unknown and policy.reject_unknown_external_parameters:
        checks.append(
            _fail(
                "external-parameters",
                PolicyError(f"unknown externalParameters: {', '.join(unknown)}"),
            )
        )
    else:
        detail = f"ignored unknown: {', '.join(unknown)}" if unknown else "all known"
        checks.append(Check("external-parameters", True, detail))
    return checks


def _check_one(
    envelope: Envelope,
    fallback: Statement,
    digest: str,
    trust: TrustStore,
    policy: ReleasePolicy,
    role: str,
) -> ReleaseReport:
    checks: list[Check] = []
    statement = fallback  # unverified: used only to report the other checks
    keyids: tuple[str, ...] = ()
    payload = b""
    try:
        verified = verify_statement(envelope, trust, role)
        statement = verified.statement
        keyids, payload = verified.verified.keyids, verified.verified.payload
        checks.append(Check("signature", True, f"signed for {role} by {', '.join(keyids)}"))
    except Error as exc:
        checks.append(_fail("signature", exc))
    subject = next((s for s in statement.subjects if s.digest.get("sha256") == digest), None)
    if subject is not None:
        checks.append(Check("subject", True, f"{subject.name} sha256:{digest}"))
    else:
        checks.append(
            _fail("subject", PolicyError(f"no subject of the statement matches sha256:{digest}"))
        )
    if statement.predicate_type == policy.predicate_type:
        checks.append(Check("predicate-type", True, statement.predicate_type))
    else:
        checks.append(
            _fail(
                "predicate-type",
                PolicyError(
                    f"predicateType is {statement.predicate_type!r}, "
                    f"expected {policy.predicate_type!r}"
                ),
            )
        )
    provenance: Provenance | None = None
    if statement.predicate_type == SLSA_PROVENANCE_V1:
        try:
            provenance = parse_provenance(statement.predicate)
        except MalformedInputError as exc:
            checks.append(_fail("predicate", exc))
        else:
            checks.append(Check("predicate", True, "valid SLSA Provenance v1"))
            checks.extend(_policy_checks(provenance, policy))
    return ReleaseReport(digest, tuple(checks), statement, provenance, keyids, subject, payload)


def check_release(
    artifact: bytes,
    attestation: bytes,
    trust: TrustStore,
    policy: ReleasePolicy,
    *,
    role: str = RELEASE_ROLE,
) -> ReleaseReport:
    """Run every check; return the report. Raises only for malformed input.

    In a bundle with several statements, the one for the policy's predicate type
    whose subject matches the artifact is checked (the best candidate otherwise,
    so that the report says what is wrong with it).
    """
    return check_release_digest(
        hashlib.sha256(artifact).hexdigest(), attestation, trust, policy, role=role
    )


def check_release_digest(
    artifact_sha256: str,
    attestation: bytes,
    trust: TrustStore,
    policy: ReleasePolicy,
    *,
    role: str = RELEASE_ROLE,
) -> ReleaseReport:
    """:func:`check_release` for an artifact known only by its sha256 (lowercase hex).

    The gateway has the SDK wheel's digest from a job manifest, not the wheel.
    """
    trust.role(role)  # a trust file without the role is a configuration error
    digest = artifact_sha256
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise MalformedInputError("an artifact sha256 must be 64 lowercase hex digits")
    candidates: list[tuple[int, Envelope, Statement]] = []
    for envelope in parse_attestation_bundle(attestation):
        try:
            statement = parse_statement(envelope.payload)
        except MalformedInputError:
            continue
        matches = any(s.digest.get("sha256") == digest for s in statement.subjects)
        rank = 2 * (statement.predicate_type == policy.predicate_type) + int(matches)
        candidates.append((rank, envelope, statement))
    if not candidates:
        raise MalformedInputError("attestation holds no in-toto statement")
    candidates.sort(key=lambda c: -c[0])
    first: ReleaseReport | None = None
    for _, envelope, statement in candidates:
        report = _check_one(envelope, statement, digest, trust, policy, role)
        if report.ok:
            return report
        first = first or report
    assert first is not None  # noqa: S101 - candidates is not empty
    return first


def verify_release(
    artifact: bytes,
    attestation: bytes,
    trust: TrustStore,
    policy: ReleasePolicy,
    *,
    role: str = RELEASE_ROLE,
) -> VerifiedRelease:
    """Verify a release attestation for ``artifact``; return it or raise.

    Raises SignatureError/TrustError/PolicyError (every failed check named in
    the message) or MalformedInputError.
    """
    return verify_release_digest(
        hashlib.sha256(artifact).hexdigest(), attestation, trust, policy, role=role
    )


def verify_release_digest(
    artifact_sha256: str,
    attestation: bytes,
    trust: TrustStore,
    policy: ReleasePolicy,
    *,
    role: str = RELEASE_ROLE,
) -> VerifiedRelease:
    """:func:`verify_release` for an artifact known only by its sha256 (lowercase hex)."""
    report = check_release_digest(artifact_sha256, attestation, trust, policy, role=role)
    report.raise_for_failures()
    assert report.statement is not None  # noqa: S101 - a passing report has them all
    assert report.provenance is not None  # noqa: S101
    assert report.subject is not None  # noqa: S101
    return VerifiedRelease(
        report.statement, report.provenance, report.subject, report.keyids, report.payload, report
    )


# -- upstream Sigstore bundles -----------------------------------------------------

_SIGSTORE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"


def _is_sigstore_document(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    media_type = doc.get("mediaType")
    if isinstance(media_type, str):
        return media_type.startswith(_SIGSTORE_MEDIA_TYPE_PREFIX)
    # PEP 740 attestation object (no media type of its own)
    return {"version", "verification_material", "envelope"} <= set(doc)


def _pypi_provenance(doc: Any) -> tuple[bytes, ...] | None:
    """The attestations of a PyPI provenance object (PEP 740 Integrity API)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("attestation_bundles"), list):
        return None
    out: list[bytes] = []
    for i, entry in enumerate(doc["attestation_bundles"]):
        attestations = entry.get("attestations") if isinstance(entry, dict) else None
        if not isinstance(attestations, list) or not attestations:
            raise MalformedInputError(f"PyPI provenance: attestation_bundles[{i}] has none")
        for attestation in attestations:
            if not _is_sigstore_document(attestation):
                raise MalformedInputError("PyPI provenance holds a non-PEP 740 attestation")
            # the signed content sits base64-encoded inside: re-encoding the
            # container does not touch a signed byte
            out.append(json.dumps(attestation).encode())
    if not out:
        raise MalformedInputError("PyPI provenance holds no attestation")
    return tuple(out)


def sigstore_bundles(data: bytes) -> tuple[bytes, ...] | None:
    """The upstream Sigstore bundles an attestation file holds, or ``None``.

    ``None`` means the file is not a Sigstore attestation (for example qprov's
    own ``.intoto.jsonl`` of DSSE envelopes). Recognised: one Sigstore bundle
    (media type ``application/vnd.dev.sigstore.bundle...``, v0.1 to v0.3) or
    PEP 740 attestation object; JSON Lines of them (``gh attestation
    download``); a PyPI provenance object (``attestation_bundles``).
    """
    text = data.strip()
    if not text:
        raise MalformedInputError("attestation is empty")
    try:
        doc = loads_strict(text, what="attestation")
    except MalformedInputError:
        doc = None  # JSON Lines, or not JSON at all
    if doc is not None:
        if _is_sigstore_document(doc):
            return (text,)
        return _pypi_provenance(doc)
    lines = [line.strip() for line in text.split(b"\n") if line.strip()]
    if len(lines) > _MAX_BUNDLE_LINES:
        raise MalformedInputError(f"attestation bundle has more than {_MAX_BUNDLE_LINES} lines")
    try:
        first = loads_strict(lines[0], what="attestation line 1")
    except MalformedInputError:
        return None  # let the in-toto parser report what is wrong
    if not _is_sigstore_document(first):
        return None
    for i, line in enumerate(lines[1:], 2):
        if not _is_sigstore_document(loads_strict(line, what=f"attestation line {i}")):
            raise MalformedInputError(f"attestation line {i} is not a Sigstore bundle")
    return tuple(lines)


def _statement_parts(payload: bytes, digest: str) -> tuple[Statement | None, Subject, Any]:
    """(statement if qprov's parser accepts it, the artifact's subject, the predicate)."""
    doc = loads_strict(payload, what="in-toto statement")
    try:
        statement: Statement | None = parse_statement(payload)
    except MalformedInputError:
        statement = None  # a foreign statement sigstore verified (e.g. Statement v0.1)
    name = "?"
    for entry in doc.get("subject", []):
        entry_digest = entry.get("digest", {}) if isinstance(entry, dict) else {}
        value = entry_digest.get("sha256") if isinstance(entry_digest, dict) else None
        if isinstance(value, str) and value.lower() == digest:
            name = str(entry.get("name", "?"))
            break
    return statement, Subject(name, {"sha256": digest}), doc.get("predicate")


def _check_sigstore_one(
    bundle: bytes,
    artifact: ArtifactDigest,
    identity: SigstorePolicy,
    policy: ReleasePolicy | None,
    root: PinnedTrustedRoot,
    require_provenance: bool,
) -> ReleaseReport:
    digest = artifact.sha256
    checks: list[Check] = []
    try:
        verified = verify_bundle(bundle, artifact, identity, trusted_root=root)
    except MalformedInputError:
        raise
    except Error as exc:
        checks.append(_fail("sigstore", exc))
        return ReleaseReport(digest, tuple(checks), None, None, (), None)
    what = "DSSE statement" if verified.kind == "dsse" else "message signature"
    checks.append(
        Check(
            "sigstore",
            True,
            f"{what} by {verified.identity} ({verified.issuer}), logged, "
            f"trusted root {verified.trusted_root}",
        )
    )
    statement: Statement | None = None
    subject = Subject(artifact.name or "?", {"sha256": digest})
    predicate: Any = None
    if verified.payload is not None:
        statement, subject, predicate = _statement_parts(verified.payload, digest)
        checks.append(Check("subject", True, f"{subject.name} sha256:{digest}"))
    else:
        checks.append(Check("subject", True, f"signature over sha256:{digest}"))
    provenance: Provenance | None = None
    if verified.predicate_type == SLSA_PROVENANCE_V1:
        checks.append(Check("predicate-type", True, SLSA_PROVENANCE_V1))
        try:
            provenance = parse_provenance(predicate)
        except MalformedInputError as exc:
            checks.append(_fail("predicate", exc))
        else:
            checks.append(Check("predicate", True, "valid SLSA Provenance v1"))
            if policy is not None:
                checks.extend(_policy_checks(provenance, policy))
            else:
                checks.append(
                    Check("release-policy", True, "none given: builder and source not checked")
                )
    else:
        carried = verified.predicate_type or "a plain signature"
        if require_provenance:
            checks.append(
                _fail(
                    "predicate-type",
                    PolicyError(f"bundle carries {carried}, not SLSA provenance (required)"),
                )
            )
        else:
            checks.append(Check("predicate-type", True, f"{carried}: no SLSA provenance to check"))
    payload = verified.payload or b""
    return ReleaseReport(
        digest, tuple(checks), statement, provenance, (), subject, payload, verified
    )


def check_sigstore_release(
    artifact: ArtifactDigest | bytes,
    attestation: bytes,
    identity: SigstorePolicy,
    policy: ReleasePolicy | None = None,
    *,
    trusted_root: PinnedTrustedRoot | None = None,
    require_provenance: bool | None = None,
) -> ReleaseReport:
    """Verify an upstream Sigstore attestation offline; return the report.

    ``attestation`` is anything :func:`sigstore_bundles` recognises; each bundle
    is verified with :func:`qprov.sigstore.verify_bundle` against the pinned
    ``trusted_root`` (default: the release policy's ``[sigstore]`` root, else
    Sigstore's production root) and the ``identity`` policy (certificate SAN,
    issuer, GitHub workflow claims). When a bundle carries SLSA Provenance v1,
    ``policy``'s buildType, builder, source repository, ref and
    externalParameters checks apply to it; ``require_provenance`` (default: the
    policy's ``[sigstore] require_provenance``) refuses bundles without it.

    The first bundle that passes every check is reported; when none does, the
    first one's report. Raises only for malformed input and configuration
    errors (an unpinned or unusable trusted root).
    """
    if isinstance(artifact, bytes):
        artifact = ArtifactDigest.of_bytes(artifact)
    bundles = sigstore_bundles(attestation)
    if bundles is None:
        raise MalformedInputError("attestation is not a Sigstore bundle or PEP 740 attestation")
    table = policy.sigstore if policy is not None else None
    if trusted_root is None:
        trusted_root = (
            table.pinned_trusted_root() if table is not None else PinnedTrustedRoot.production()
        )
    if require_provenance is None:
        require_provenance = table.require_provenance if table is not None else False
    first: ReleaseReport | None = None
    for bundle in bundles:
        report = _check_sigstore_one(
            bundle, artifact, identity, policy, trusted_root, require_provenance
        )
        if report.ok:
            return report
        first = first or report
    assert first is not None  # noqa: S101 - sigstore_bundles never returns ()
    return first


def verify_sigstore_release(
    artifact: ArtifactDigest | bytes,
    attestation: bytes,
    identity: SigstorePolicy,
    policy: ReleasePolicy | None = None,
    *,
    trusted_root: PinnedTrustedRoot | None = None,
    require_provenance: bool | None = None,
) -> ReleaseReport:
    """:func:`check_sigstore_release`, raising the first failure (naming them all)."""
    report = check_sigstore_release(
        artifact,
        attestation,
        identity,
        policy,
        trusted_root=trusted_root,
        require_provenance=require_provenance,
    )
    report.raise_for_failures()
    return report
