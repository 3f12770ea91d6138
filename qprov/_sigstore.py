"""Offline verification of upstream Sigstore bundles against a pinned trusted root.

This is the one module that talks to sigstore-python. It is imported lazily (by
:mod:`qprov.sigstore` and ``qprov sigstore``) and imports sigstore itself only
inside :func:`verify_bundle`, so ``import qprov`` never pays for sigstore.

Guarantees (see docs/adr/0008-sigstore-offline.md):

* **Offline.** The verifier is built from a :class:`PinnedTrustedRoot` only;
  sigstore's TUF client (``Verifier.production()``, ``ClientTrustConfig``) is
  never called, so no refresh and no connection can happen.
* **Pinned.** A trusted root is used only when the sha256 of its exact bytes
  equals a pin: one that qprov ships (:data:`PRODUCTION_TRUSTED_ROOT_SHA256`,
  :data:`STAGING_TRUSTED_ROOT_SHA256`) or one the caller gives. The bytes that
  were hashed are the bytes that are parsed.
* **Policy is mandatory.** An identity (certificate SAN) and an OIDC issuer are
  required; GitHub workflow claims are optional extra checks. Each check fails
  with its own reason.
* **Subjects are checked.** For a DSSE bundle, sigstore verifies the envelope
  but not what it is about: the in-toto statement must name the artifact's
  sha256 among its subjects.
* **Nothing foreign leaks.** sigstore's exceptions, ``ValueError`` and friends
  are translated into :mod:`qprov.errors`.

Keyed bundles (``cosign sign-blob --key``), which sigstore-python cannot parse,
are verified by :mod:`qprov._sigstore_keyed`; :func:`verify_bundle` refuses them
with a :class:`~qprov.errors.PolicyError` pointing there.

PEP 740 attestation objects (PyPI's ``*.attestation`` files) are converted to a
Sigstore bundle v0.3 by the mapping PEP 740 defines, the same one
``pypi_attestations.Attestation.to_bundle()`` performs (a test checks the two
agree byte for byte on the JSON level).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NewType

from qprov._canon import loads_strict
from qprov.errors import (
    ConfigError,
    EnvironmentProblemError,
    Error,
    ExpiredError,
    MalformedInputError,
    PolicyError,
    ProofError,
    SignatureError,
    TrustError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "PRODUCTION_TRUSTED_ROOT_SHA256",
    "STAGING_TRUSTED_ROOT_SHA256",
    "ArtifactDigest",
    "PinnedTrustedRoot",
    "Sha256Hex",
    "SigstorePolicy",
    "VerifiedBundle",
    "pep740_to_bundle",
    "verify_bundle",
]

_logger = logging.getLogger(__name__)

#: Lower-case hex sha256 digest (64 characters).
Sha256Hex = NewType("Sha256Hex", str)

#: sha256 of ``qprov/_data/sigstore/production.trusted_root.json`` (the public-good
#: production TrustedRoot embedded in sigstore-python 4.5.1).
PRODUCTION_TRUSTED_ROOT_SHA256: Final = Sha256Hex(
    "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"
)
#: sha256 of ``qprov/_data/sigstore/staging.trusted_root.json`` (sigstage.dev).
STAGING_TRUSTED_ROOT_SHA256: Final = Sha256Hex(
    "81f5af777952d2c3955062ad56924c05ca916b5d49f3a0bce945faa475a8b1cc"
)
_SHIPPED_ROOTS: Final[dict[str, tuple[str, Sha256Hex]]] = {
    "production": ("production.trusted_root.json", PRODUCTION_TRUSTED_ROOT_SHA256),
    "staging": ("staging.trusted_root.json", STAGING_TRUSTED_ROOT_SHA256),
}

IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
_STATEMENT_TYPES: Final = frozenset(
    {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
)
#: What pypi-attestations writes when converting PEP 740 objects (Bundle v0.3).
_PEP740_BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Trusted roots and bundles are small; refuse anything larger.
MAX_TRUSTED_ROOT_BYTES: Final = 1024 * 1024
MAX_BUNDLE_BYTES: Final = 8 * 1024 * 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024

# Foreign exceptions that parsing or checking hostile input may raise inside
# sigstore-python, pydantic, cryptography or rfc3161-client.
_FOREIGN_INPUT_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    UnicodeError,
    binascii.Error,
)


def _parse_sha256(value: str, *, what: str) -> Sha256Hex:
    """Accept ``HEX`` or ``sha256:HEX`` (any case); return lower-case hex."""
    if not isinstance(value, str):
        raise MalformedInputError(f"{what} must be a string, not {type(value).__name__}")
    text = value.strip()
    if text[:7].lower() == "sha256:":
        text = text[7:]
    text = text.lower()
    if not _HEX64.fullmatch(text):
        raise MalformedInputError(f"{what} is not a sha256 digest (64 hex digits): {value!r}")
    return Sha256Hex(text)


def _read_limited(path: Path, limit: int, *, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise EnvironmentProblemError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise EnvironmentProblemError(f"{what} {path}: cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise MalformedInputError(f"{what} {path} is larger than {limit} bytes")
    return data


# -- inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class PinnedTrustedRoot:
    """A Sigstore ``TrustedRoot`` whose exact bytes matched a pinned sha256.

    Construction verifies the pin and raises :class:`~qprov.errors.TrustError`
    when the digest differs: an unpinned root can never reach the verifier.
    """

    name: str
    sha256: Sha256Hex
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        pin = _parse_sha256(self.sha256, what="trusted root sha256 pin")
        object.__setattr__(self, "sha256", pin)
        actual = hashlib.sha256(self.data).hexdigest()
        if not hmac.compare_digest(actual, pin):
            raise TrustError(
                f"trusted root {self.name}: sha256 mismatch: pinned {pin}, got {actual}; refusing"
            )

    @classmethod
    def shipped(cls, instance: Literal["production", "staging"]) -> PinnedTrustedRoot:
        """The production or staging root that qprov ships, checked against its pin."""
        try:
            filename, pin = _SHIPPED_ROOTS[instance]
        except KeyError:
            raise ConfigError(f"unknown Sigstore instance {instance!r}") from None
        resource = resources.files("qprov").joinpath("_data", "sigstore", filename)
        try:
            data = resource.read_bytes()
        except OSError as exc:
            raise EnvironmentProblemError(
                f"shipped trusted root {filename} is missing: {exc}"
            ) from None
        return cls(name=f"sigstore-{instance}", sha256=pin, data=data)

    @classmethod
    def production(cls) -> PinnedTrustedRoot:
        """Sigstore's public-good production instance (the default)."""
        return cls.shipped("production")

    @classmethod
    def staging(cls) -> PinnedTrustedRoot:
        """Sigstore's staging instance (sigstage.dev): for tests only."""
        return cls.shipped("staging")

    @classmethod
    def from_file(cls, path: str | Path, sha256: str) -> PinnedTrustedRoot:
        """A trusted root file and the sha256 the caller expects of it."""
        pin = _parse_sha256(sha256, what="trusted root sha256 pin")
        path = Path(path)
        data = _read_limited(path, MAX_TRUSTED_ROOT_BYTES, what="trusted root")
        return cls(name=str(path), sha256=pin, data=data)

    @classmethod
    def from_known_file(cls, path: str | Path) -> PinnedTrustedRoot:
        """A trusted root file that must be byte-identical to one qprov ships.

        For callers (such as the sigstore-conformance protocol) that pass a
        root without a digest: the file is accepted only if its sha256 is one
        of qprov's own pins; anything else needs :meth:`from_file` with a pin.
        """
        path = Path(path)
        data = _read_limited(path, MAX_TRUSTED_ROOT_BYTES, what="trusted root")
        actual = hashlib.sha256(data).hexdigest()
        for _filename, pin in _SHIPPED_ROOTS.values():
            if hmac.compare_digest(actual, pin):
                return cls(name=str(path), sha256=pin, data=data)
        raise TrustError(
            f"trusted root {path} (sha256 {actual}) is not one qprov pins; "
            "pass its expected sha256 to trust it"
        )


@dataclass(frozen=True)
class ArtifactDigest:
    """The digests of the artifact a bundle must cover, and its file name if known.

    ``sha256`` is always known. ``sha384`` and ``sha512`` are needed only for
    keyed message-signature bundles whose digest follows the signing key
    (cosign signs with SHA-384 for P-384 keys, SHA-512 for P-521 keys); they
    are computed when the artifact itself is at hand (:meth:`of_bytes` or
    :meth:`of_file` with ``all_sha2=True``).

    The name is used only for PEP 740 attestations, whose single subject must
    be named after the distribution file.
    """

    sha256: Sha256Hex
    name: str | None = None
    sha384: str | None = None
    sha512: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", _parse_sha256(self.sha256, what="artifact digest"))
        if self.name is not None and (not self.name or "/" in self.name):
            raise MalformedInputError(f"artifact name must be a bare file name: {self.name!r}")
        for attr, length in (("sha384", 96), ("sha512", 128)):
            value = getattr(self, attr)
            if value is not None and not (
                isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{length}}}", value)
            ):
                raise MalformedInputError(f"artifact {attr} must be {length} lower-case hex digits")

    def hexdigest(self, algorithm: Literal["sha256", "sha384", "sha512"]) -> str | None:
        """The artifact's digest with ``algorithm``, or None if it was not computed."""
        value: str | None = getattr(self, algorithm)
        return value

    @classmethod
    def of_bytes(
        cls, data: bytes, name: str | None = None, *, all_sha2: bool = False
    ) -> ArtifactDigest:
        """Digest of artifact bytes held in memory (``all_sha2``: also SHA-384, SHA-512)."""
        sha256 = Sha256Hex(hashlib.sha256(data).hexdigest())
        if not all_sha2:
            return cls(sha256, name)
        return cls(
            sha256,
            name,
            sha384=hashlib.sha384(data).hexdigest(),
            sha512=hashlib.sha512(data).hexdigest(),
        )

    @classmethod
    def of_file(cls, path: str | Path, *, all_sha2: bool = False) -> ArtifactDigest:
        """Digest of a file, streamed; named after the file.

        ``all_sha2`` also computes SHA-384 and SHA-512 in the same pass (for
        keyed bundles; see the class documentation).
        """
        path = Path(path)
        hashers = [hashlib.sha256()]
        if all_sha2:
            hashers += [hashlib.sha384(), hashlib.sha512()]
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    for hasher in hashers:
                        hasher.update(chunk)
        except FileNotFoundError:
            raise EnvironmentProblemError(f"artifact {path}: no such file") from None
        except OSError as exc:
            raise EnvironmentProblemError(f"artifact {path}: cannot read: {exc.strerror}") from None
        sha256 = Sha256Hex(hashers[0].hexdigest())
        if not all_sha2:
            return cls(sha256, path.name)
        return cls(sha256, path.name, sha384=hashers[1].hexdigest(), sha512=hashers[2].hexdigest())

    @classmethod
    def parse(cls, text: str) -> ArtifactDigest:
        """``sha256:HEX`` (the sigstore-conformance digest form)."""
        if not isinstance(text, str) or text[:7].lower() != "sha256:":
            raise MalformedInputError(f"artifact digest must be sha256:HEX, got {text!r}")
        return cls(_parse_sha256(text, what="artifact digest"))

    def __str__(self) -> str:
        return f"sha256:{self.sha256}"


@dataclass(frozen=True)
class SigstorePolicy:
    """Who must have signed: certificate identity and issuer, plus optional claims.

    ``identity`` is matched exactly against the certificate's SANs (e-mail,
    URI, or Sigstore other-name); ``issuer`` against its OIDC issuer claim.
    The optional fields check Fulcio's GitHub workflow and source claims:

    ========================= =============================================
    field                     certificate extension (sigstore policy class)
    ========================= =============================================
    ``repository``            GitHubWorkflowRepository (``owner/name``)
    ``ref``                   GitHubWorkflowRef (``refs/tags/v1``)
    ``trigger``               GitHubWorkflowTrigger (``push``, ``release``)
    ``sha``                   GitHubWorkflowSHA (commit)
    ``workflow_name``         GitHubWorkflowName
    ``runner``                OIDCRunnerEnvironment (``github-hosted``)
    ``visibility``            OIDCSourceRepositoryVisibility (``public``)
    ``source_repository_uri`` OIDCSourceRepositoryURI (GitHub and GitLab)
    ========================= =============================================
    """

    identity: str
    issuer: str
    repository: str | None = None
    ref: str | None = None
    trigger: str | None = None
    sha: str | None = None
    workflow_name: str | None = None
    runner: str | None = None
    visibility: str | None = None
    source_repository_uri: str | None = None

    def __post_init__(self) -> None:
        for name in ("identity", "issuer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"Sigstore policy needs a non-empty {name}")
        for name, _label, _cls in _CLAIM_CHECKS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"Sigstore policy field {name} is empty; omit it instead")


# (policy field, reason label, sigstore.verify.policy class name)
_CLAIM_CHECKS: Final = (
    ("repository", "GitHub workflow repository", "GitHubWorkflowRepository"),
    ("ref", "GitHub workflow ref", "GitHubWorkflowRef"),
    ("trigger", "GitHub workflow trigger", "GitHubWorkflowTrigger"),
    ("sha", "GitHub workflow sha", "GitHubWorkflowSHA"),
    ("workflow_name", "GitHub workflow name", "GitHubWorkflowName"),
    ("runner", "runner environment", "OIDCRunnerEnvironment"),
    ("visibility", "source repository visibility", "OIDCSourceRepositoryVisibility"),
    ("source_repository_uri", "source repository URI", "OIDCSourceRepositoryURI"),
)


# -- result ---------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedBundle:
    """What a verified bundle proves.

    Keyless bundles name the signer by certificate ``identity`` and
    ``issuer``; keyed bundles (:func:`qprov.sigstore.verify_keyed_bundle`) by
    the sha256 of the given public key's SubjectPublicKeyInfo (``key_sha256``)
    and carry the verified log entry's ``log_url``, ``log_index`` and
    ``integrated_time``. Exactly one of the two signer forms is set.

    ``payload`` is the exact DSSE payload bytes that were verified (the
    in-toto statement) for DSSE bundles, ``None`` for plain message
    signatures. Hand those bytes on; never a re-serialisation.
    """

    kind: Literal["message_signature", "dsse"]
    source_format: Literal["bundle", "pep740"]
    media_type: str
    artifact: ArtifactDigest
    identity: str | None
    issuer: str | None
    trusted_root: str
    trusted_root_sha256: Sha256Hex
    payload_type: str | None = None
    payload: bytes | None = field(default=None, repr=False)
    predicate_type: str | None = None
    key_sha256: Sha256Hex | None = None
    log_url: str | None = None
    log_index: int | None = None
    integrated_time: datetime | None = None

    def __post_init__(self) -> None:
        keyless = self.identity is not None and self.issuer is not None
        keyed = self.key_sha256 is not None
        if keyless == keyed or (self.identity is None) != (self.issuer is None):
            raise ConfigError("VerifiedBundle names its signer by identity+issuer or by key_sha256")

    @property
    def signer(self) -> str:
        """A short human-readable name of who signed."""
        if self.key_sha256 is not None:
            return f"key sha256:{self.key_sha256}"
        return f"{self.identity} ({self.issuer})"

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the payload as its sha256, not inline)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "source_format": self.source_format,
            "media_type": self.media_type,
            "artifact": str(self.artifact),
            "trusted_root": {"name": self.trusted_root, "sha256": self.trusted_root_sha256},
        }
        if self.key_sha256 is not None:
            out["key_sha256"] = self.key_sha256
            out["transparency_log"] = {
                "url": self.log_url,
                "log_index": self.log_index,
                "integrated_time": (
                    None
                    if self.integrated_time is None
                    else self.integrated_time.strftime("%Y-%m-%dT%H:%M:%SZ")
                ),
            }
        else:
            out["identity"] = self.identity
            out["issuer"] = self.issuer
        if self.payload is not None:
            out["payload_type"] = self.payload_type
            out["payload_sha256"] = hashlib.sha256(self.payload).hexdigest()
            out["predicate_type"] = self.predicate_type
        return out


# -- PEP 740 ----------------------------------------------------------------------


def _b64_field(obj: dict[str, Any], key: str, *, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedInputError(f"{what}: {key} must be a non-empty base64 string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
        raise MalformedInputError(f"{what}: {key} is not valid base64: {exc}") from None
    return value


def _object_field(obj: dict[str, Any], key: str, *, what: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise MalformedInputError(f"{what}: {key} must be an object")
    return value


def pep740_to_bundle(attestation: dict[str, Any]) -> dict[str, Any]:
    """Map a PEP 740 attestation object to a Sigstore bundle v0.3 (JSON object).

    The mapping is PEP 740's own and the one pypi-attestations implements
    (``Attestation.to_bundle``): certificate -> ``certificate.rawBytes``, the
    first transparency entry -> the bundle's single tlog entry, statement and
    signature -> a one-signature in-toto DSSE envelope. Unknown fields are
    ignored (foreign format). Nothing is verified here.
    """
    what = "PEP 740 attestation"
    if not isinstance(attestation, dict):
        raise MalformedInputError(f"{what} must be a JSON object")
    version = attestation.get("version")
    if version != 1 or isinstance(version, bool):
        raise UnsupportedAlgorithmError(f"{what} version {version!r} is not supported (only 1)")
    material = _object_field(attestation, "verification_material", what=what)
    envelope = _object_field(attestation, "envelope", what=what)
    certificate = _b64_field(material, "certificate", what=what)
    entries = material.get("transparency_entries")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise MalformedInputError(f"{what}: transparency_entries must be a non-empty list")
    if len(entries) > 1:
        _logger.info("%s has %d transparency entries; using the first", what, len(entries))
    return {
        "mediaType": _PEP740_BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "certificate": {"rawBytes": certificate},
            "tlogEntries": [entries[0]],
        },
        "dsseEnvelope": {
            "payload": _b64_field(envelope, "statement", what=what),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64_field(envelope, "signature", what=what)}],
        },
    }


def _is_pep740(doc: dict[str, Any]) -> bool:
    return "mediaType" not in doc and {"version", "verification_material", "envelope"} <= set(doc)


# -- policy adapter ------------------------------------------------------------------


class _LabelledCheck:
    """A sigstore policy whose failure becomes a qprov PolicyError with a reason.

    sigstore-python raises one ``VerificationError`` class for every failure;
    wrapping each policy check lets the caller tell a policy refusal from a bad
    signature or an untrusted chain.
    """

    def __init__(self, label: str, inner: Any) -> None:
        self._label = label
        self._inner = inner

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import Error as SigstoreError

        try:
            self._inner.verify(cert)
        except SigstoreError as exc:
            raise PolicyError(f"{self._label} mismatch: {_one_line(str(exc))}") from None
        except (*_FOREIGN_INPUT_ERRORS, AttributeError) as exc:
            # e.g. a certificate without a SAN extension, or an undecodable claim
            raise PolicyError(f"{self._label} cannot be checked: {_one_line(str(exc))}") from None


class _AllChecks:
    def __init__(self, checks: list[_LabelledCheck]) -> None:
        if not checks:  # an empty policy is an error, never "trivially valid"
            raise ConfigError("empty Sigstore verification policy")
        self._checks = checks

    def verify(self, cert: Certificate) -> None:
        for check in self._checks:
            check.verify(cert)


def _sigstore_policy(policy: SigstorePolicy) -> _AllChecks:
    from sigstore.verify import policy as sp

    checks = [
        _LabelledCheck("OIDC issuer", sp.OIDCIssuer(policy.issuer)),
        _LabelledCheck("certificate identity", sp.Identity(identity=policy.identity)),
    ]
    for name, label, class_name in _CLAIM_CHECKS:
        value = getattr(policy, name)
        if value is not None:
            checks.append(_LabelledCheck(label, getattr(sp, class_name)(value)))
    return _AllChecks(checks)


# -- error translation -------------------------------------------------------------


def _one_line(text: str) -> str:
    """A status-line-safe message (pydantic errors span several lines)."""
    lines = (line.strip() for line in text.splitlines())
    kept = [line for line in lines if line and not line.startswith("For further information")]
    return "; ".join(kept)


def _translate(exc: Exception) -> Error:
    """A qprov error for an exception raised inside sigstore-python."""
    from sigstore.dsse import InvalidEnvelope
    from sigstore.errors import CertValidationError, VerificationError
    from sigstore.models import InvalidBundle

    message = _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, (InvalidBundle, InvalidEnvelope)):
        return MalformedInputError(f"invalid Sigstore bundle: {message}")
    if isinstance(exc, CertValidationError):
        return TrustError(f"signing certificate does not chain to the trusted root: {message}")
    if isinstance(exc, VerificationError):
        lowered = message.lower()
        if lowered.startswith("invalid log entry"):
            return ProofError(f"transparency log: {message}")
        if "sct" in lowered:
            return TrustError(f"certificate transparency: {message}")
        if "verified time" in lowered or "timestamp" in lowered:
            return TrustError(f"signing time: {message}")
        if "expired at time of signing" in lowered:
            return ExpiredError(f"signing certificate: {message}")
        return SignatureError(message)
    if isinstance(exc, _FOREIGN_INPUT_ERRORS):
        return MalformedInputError(f"invalid Sigstore bundle: {type(exc).__name__}: {message}")
    # Any other sigstore.errors.Error (MetadataError: root lacks keys, ...).
    return ConfigError(f"trusted root or bundle unusable: {message}")


# -- verification --------------------------------------------------------------------


def _subjects_match(payload: bytes, artifact: ArtifactDigest, *, pep740: bool) -> str | None:
    """Check the in-toto statement names the artifact; return its predicateType."""
    statement = loads_strict(payload, what="in-toto statement", max_bytes=MAX_BUNDLE_BYTES)
    if not isinstance(statement, dict):
        raise MalformedInputError("in-toto statement must be a JSON object")
    statement_type = statement.get("_type")
    if not isinstance(statement_type, str) or statement_type not in _STATEMENT_TYPES:
        raise UnsupportedAlgorithmError(
            f"in-toto statement type {statement_type!r} is not supported"
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise MalformedInputError("in-toto statement has no subject")
    digests: list[str] = []
    match: dict[str, Any] | None = None
    for subject in subjects:
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            raise MalformedInputError("in-toto statement subject without a digest object")
        value = subject["digest"].get("sha256")
        if not isinstance(value, str):
            continue
        digests.append(value)
        if value.lower() == artifact.sha256:  # public values: no constant time needed
            match = subject
    if match is None:
        shown = ", ".join(f"sha256:{d}" for d in digests[:5]) or "none with sha256"
        raise SignatureError(
            f"artifact {artifact} is not a subject of the in-toto statement (subjects: {shown})"
        )
    if pep740:
        # PEP 740: exactly one subject, named after the distribution file.
        if len(subjects) != 1:
            raise PolicyError(f"PEP 740 statement must have one subject, has {len(subjects)}")
        if artifact.name is not None and match.get("name") != artifact.name:
            raise PolicyError(
                f"PEP 740 subject name {match.get('name')!r} is not the distribution "
                f"file name {artifact.name!r}"
            )
    predicate_type = statement.get("predicateType")
    return predicate_type if isinstance(predicate_type, str) else None


def verify_bundle(
    bundle: bytes,
    artifact: ArtifactDigest | bytes,
    policy: SigstorePolicy,
    *,
    trusted_root: PinnedTrustedRoot | None = None,
) -> VerifiedBundle:
    """Verify a Sigstore bundle (or PEP 740 attestation) for an artifact, offline.

    ``bundle`` is the bundle file's bytes: Sigstore bundle v0.1/v0.2/v0.3 (a
    message signature or a DSSE envelope, e.g. a GitHub artifact attestation)
    or a PEP 740 attestation object. ``artifact`` is the artifact's bytes or
    its :class:`ArtifactDigest`. ``trusted_root`` defaults to the pinned
    production root.

    Returns a :class:`VerifiedBundle` (with the verified statement bytes for
    DSSE bundles) or raises :class:`~qprov.errors.MalformedInputError`
    (unparseable bundle), :class:`~qprov.errors.UnsupportedAlgorithmError`,
    :class:`~qprov.errors.TrustError` (root pin, certificate chain, SCT),
    :class:`~qprov.errors.ProofError` (log inclusion proof, checkpoint,
    inclusion promise), :class:`~qprov.errors.SignatureError` (signature,
    artifact digest, statement subjects) or :class:`~qprov.errors.PolicyError`
    (identity, issuer, workflow claims).
    """
    if not isinstance(bundle, bytes):
        raise MalformedInputError("bundle must be bytes")
    if isinstance(artifact, bytes):
        artifact = ArtifactDigest.of_bytes(artifact)
    elif not isinstance(artifact, ArtifactDigest):
        raise MalformedInputError("artifact must be bytes or an ArtifactDigest")
    if not isinstance(policy, SigstorePolicy):
        raise ConfigError("policy must be a SigstorePolicy")
    root = trusted_root if trusted_root is not None else PinnedTrustedRoot.production()
    if not isinstance(root, PinnedTrustedRoot):
        raise ConfigError("trusted_root must be a PinnedTrustedRoot")

    doc = loads_strict(bundle, what="Sigstore bundle", max_bytes=MAX_BUNDLE_BYTES)
    if not isinstance(doc, dict):
        raise MalformedInputError("Sigstore bundle must be a JSON object")
    if "dsseEnvelope" in doc and "messageSignature" in doc:
        raise MalformedInputError("Sigstore bundle has both a messageSignature and a dsseEnvelope")
    material = doc.get("verificationMaterial")
    if isinstance(material, dict) and "publicKey" in material:
        raise PolicyError(
            "the bundle is signed by a public key (a keyed bundle), not a certificate: "
            "verify it with the signer's key (--key)"
        )
    pep740 = _is_pep740(doc)
    bundle_json = json.dumps(pep740_to_bundle(doc)).encode() if pep740 else bundle
    media_type = _PEP740_BUNDLE_MEDIA_TYPE if pep740 else str(doc.get("mediaType"))

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        from sigstore.errors import Error as SigstoreError
        from sigstore.hashes import Hashed
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier
        from sigstore_models.common.v1 import HashAlgorithm
        from sigstore_models.trustroot import v1 as trustroot_v1
    except ImportError as exc:
        raise EnvironmentProblemError(f"sigstore-python is not usable: {exc}") from None

    try:
        # Parse the very bytes whose digest was pinned; TrustedRoot(...) rather
        # than TrustedRoot.from_file() so the file is not read a second time.
        sigstore_root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(root.data))
        verifier = Verifier(trusted_root=sigstore_root)
    except (SigstoreError, *_FOREIGN_INPUT_ERRORS) as exc:
        raise ConfigError(f"trusted root {root.name} is unusable: {_one_line(str(exc))}") from None

    try:
        parsed = Bundle.from_json(bundle_json)
        key = parsed.signing_certificate.public_key()
    except (SigstoreError, *_FOREIGN_INPUT_ERRORS) as exc:
        raise _translate(exc) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UnsupportedAlgorithmError(
            f"signing certificate key type {type(key).__name__} is not supported (ECDSA only)"
        )

    is_dsse = pep740 or "dsseEnvelope" in doc
    sigstore_policy = _sigstore_policy(policy)
    payload_type: str | None = None
    payload: bytes | None = None
    try:
        if is_dsse:
            payload_type, payload = verifier.verify_dsse(parsed, sigstore_policy)
        else:
            hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(artifact.sha256))
            verifier.verify_artifact(hashed, parsed, sigstore_policy)
    except Error:
        raise  # PolicyError from a labelled check
    except InvalidSignature:
        raise SignatureError("signature is invalid") from None
    except (SigstoreError, *_FOREIGN_INPUT_ERRORS) as exc:
        raise _translate(exc) from None

    predicate_type: str | None = None
    if payload is not None:
        if payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise UnsupportedAlgorithmError(
                f"DSSE payload type {payload_type!r} is not in-toto; cannot match the artifact"
            )
        predicate_type = _subjects_match(payload, artifact, pep740=pep740)

    _logger.debug("verified Sigstore bundle for %s as %s", artifact, policy.identity)
    return VerifiedBundle(
        kind="dsse" if is_dsse else "message_signature",
        source_format="pep740" if pep740 else "bundle",
        media_type=media_type,
        artifact=artifact,
        identity=policy.identity,
        issuer=policy.issuer,
        trusted_root=root.name,
        trusted_root_sha256=root.sha256,
        payload_type=payload_type,
        payload=payload,
        predicate_type=predicate_type,
    )
