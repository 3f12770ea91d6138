"""Offline verification of *keyed* Sigstore bundles (``cosign sign-blob --key``).

A keyed bundle carries ``verificationMaterial.publicKey`` (an unauthenticated
hint) instead of a Fulcio certificate. sigstore-python 4.5.1 cannot parse such
a bundle (sigstore/sigstore-python#1244), so this module verifies it itself,
with the same rules sigstore-python applies to certificate bundles and without
any private sigstore API (see docs/adr/0008-sigstore-offline.md, "Keyed
bundles"). The bundle is parsed with sigstore-models, the public pydantic
models sigstore-python itself parses bundles and trusted roots with.

What is proved, in this order (the first failure is the reason):

1. **The signature, by the given key only.** The caller's PEM public key is the
   trust anchor; the bundle's hint is ignored. A message signature must be over
   the artifact's digest (which must equal ``messageDigest``); a DSSE envelope
   must have one signature over PAE(payloadType, payload) and an in-toto
   statement naming the artifact's sha256 among its subjects.
2. **The log entry is about *this* signature by *this* key over *this*
   digest.** The canonicalised Rekor body (``hashedrekord`` or ``dsse``
   v0.0.1) is parsed strictly and its signature bytes, public key (compared as
   SubjectPublicKeyInfo DER, never as PEM text) and digest must equal the
   bundle's. This is what cosign's GHSA-fx35-mq7g-6g98 got wrong.
3. **The log is one the pinned trusted root names**, by log ID, with a Rekor
   v1 key whose validity period covers the entry's integrated time, which must
   not be in the future.
4. **The log promised and included it.** The inclusion promise (SET: the log
   key's signature over the RFC 8785 form of body, integratedTime, logID and
   logIndex), the checkpoint (a signed note by the same key, signer name = the
   log's host, key hint = the first 4 bytes of the key ID) and the RFC 6962
   inclusion proof of SHA-256(0x00 || body) up to the checkpoint's root.

Rekor v2 entries (``*/0.0.2``), ``intoto`` entries, v0.1 bundles and pure
Ed25519 message signatures are refused as unsupported.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from qprov._canon import canonical_json, loads_strict
from qprov._predicate import Fields
from qprov._sigstore import (
    _FOREIGN_INPUT_ERRORS,
    IN_TOTO_PAYLOAD_TYPE,
    MAX_BUNDLE_BYTES,
    ArtifactDigest,
    PinnedTrustedRoot,
    Sha256Hex,
    VerifiedBundle,
    _one_line,
    _read_limited,
    _subjects_match,
)
from qprov.dsse import pae
from qprov.errors import (
    ConfigError,
    EnvironmentProblemError,
    MalformedInputError,
    PolicyError,
    ProofError,
    SignatureError,
    TrustError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.hashes import HashAlgorithm
    from sigstore_models.bundle.v1 import Bundle as _ModelBundle
    from sigstore_models.rekor.v1 import TransparencyLogEntry as _ModelEntry
    from sigstore_models.trustroot.v1 import TransparencyLogInstance

__all__ = [
    "MAX_PUBLIC_KEY_BYTES",
    "KeyAlgorithm",
    "TrustedPublicKey",
    "verify_keyed_bundle",
]

_logger = logging.getLogger(__name__)

#: PEM public key files are small; refuse anything larger.
MAX_PUBLIC_KEY_BYTES: Final = 64 * 1024

#: Signing keys qprov accepts for keyed bundles.
KeyAlgorithm = Literal["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519"]
_HashName = Literal["sha256", "sha384", "sha512"]

#: Bundle media types accepted for keyed bundles (v0.2 and v0.3, both spellings).
_MEDIA_TYPES: Final = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)
_V01_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle+json;version=0.1"

#: ECDSA signing key -> the hashes its signatures may use, preferred first.
#: The Sigstore algorithm registry pairs P-384 with SHA-384 and P-521 with
#: SHA-512 (what cosign signs with today); SHA-256 on those curves is the
#: deprecated pairing older cosign, sigstore-python and sigstore-js use.
_ECDSA_HASHES: Final[dict[str, tuple[_HashName, ...]]] = {
    "ecdsa-p256": ("sha256",),
    "ecdsa-p384": ("sha384", "sha256"),
    "ecdsa-p521": ("sha512", "sha256"),
}
#: Bundle messageDigest.algorithm -> hash (and its digest size in bytes).
_MESSAGE_DIGESTS: Final[dict[str, tuple[_HashName, int]]] = {
    "SHA2_256": ("sha256", 32),
    "SHA2_384": ("sha384", 48),
    "SHA2_512": ("sha512", 64),
}
#: Trusted-root keyDetails accepted for a Rekor v1 log key -> (key type, hash).
_LOG_KEY_DETAILS: Final[dict[str, tuple[KeyAlgorithm, _HashName | None]]] = {
    "PKIX_ECDSA_P256_SHA_256": ("ecdsa-p256", "sha256"),
    "PKIX_ECDSA_P384_SHA_384": ("ecdsa-p384", "sha384"),
    "PKIX_ECDSA_P521_SHA_512": ("ecdsa-p521", "sha512"),
    "PKIX_ED25519": ("ed25519", None),
}
_SUPPORTED_ENTRIES: Final = {
    "message_signature": ("hashedrekord", "0.0.1"),
    "dsse": ("dsse", "0.0.1"),
}

#: How far an integrated time may lie ahead of the verifier's clock.
CLOCK_SKEW: Final = timedelta(minutes=5)
#: At most this many signature lines in a checkpoint are looked at.
_MAX_NOTE_SIGNATURES: Final = 32

_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_HEX = re.compile(r"[0-9a-f]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_NOTE_SIGNATURE = re.compile(r"\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})")


def _hash_algorithm(name: _HashName) -> HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    if name == "sha256":
        return hashes.SHA256()
    if name == "sha384":
        return hashes.SHA384()
    return hashes.SHA512()


def _b64(value: Any, where: str) -> bytes:
    """Strict standard base64 (as Rekor writes it) -> bytes."""
    if not isinstance(value, str) or not value:
        raise MalformedInputError(f"{where} must be a non-empty base64 string")
    if not value.isascii():  # b64decode would raise a ValueError that names no field
        raise MalformedInputError(f"{where} is not valid base64: it has non-ASCII characters")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise MalformedInputError(f"{where} is not valid base64: {exc}") from None


# -- the trust anchor: the caller's public key ---------------------------------------


def _parse_pem_spki(data: bytes, what: str) -> tuple[str, bytes]:
    """One PEM block, nothing else around it: (label, DER bytes)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedInputError(f"{what} is not a PEM file (non-ASCII bytes)") from None
    lines = text.strip().splitlines()
    begin = _PEM_BEGIN.fullmatch(lines[0]) if lines else None
    if begin is None:
        raise MalformedInputError(f"{what} is not a PEM file (no BEGIN line)")
    label = begin.group(1)
    if len(lines) < 2 or lines[-1] != f"-----END {label}-----":
        raise MalformedInputError(f"{what}: PEM {label} block is not terminated")
    body = "".join(line.strip() for line in lines[1:-1])
    if not body:
        raise MalformedInputError(f"{what}: PEM {label} block is empty")
    if "-----" in body:
        raise MalformedInputError(f"{what} holds more than one PEM block")
    return label, _b64(body, f"{what} PEM body")


def _load_spki(der: bytes, what: str) -> tuple[KeyAlgorithm, Any]:
    """A SubjectPublicKeyInfo of a supported type -> (algorithm, key object)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(f"{what}: unsupported key type: {exc}") from None
    except _FOREIGN_INPUT_ERRORS as exc:
        raise MalformedInputError(f"{what} is not a valid public key: {exc}") from None
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != der:
        raise MalformedInputError(f"{what} is not DER-encoded SubjectPublicKeyInfo")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", key
    if isinstance(key, ec.EllipticCurvePublicKey):
        curves: dict[str, KeyAlgorithm] = {
            "secp256r1": "ecdsa-p256",
            "secp384r1": "ecdsa-p384",
            "secp521r1": "ecdsa-p521",
        }
        algorithm = curves.get(key.curve.name)
        if algorithm is not None:
            return algorithm, key
        raise UnsupportedAlgorithmError(f"{what}: ECDSA curve {key.curve.name} is not supported")
    raise UnsupportedAlgorithmError(
        f"{what}: {type(key).__name__} keys are not supported (ECDSA P-256/P-384/P-521, Ed25519)"
    )


@dataclass(frozen=True)
class TrustedPublicKey:
    """The public key a keyed bundle must be signed with: the only trust anchor.

    Built from a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) block, e.g. cosign's
    ``cosign.pub``. ``sha256`` is the sha256 of the DER SubjectPublicKeyInfo
    (what cosign writes, base64-encoded, as the bundle's hint; qprov never
    reads that hint). ECDSA P-256, P-384, P-521 and Ed25519 are supported.
    """

    name: str
    spki_der: bytes = field(repr=False)
    algorithm: KeyAlgorithm = field(init=False)
    sha256: Sha256Hex = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.spki_der, bytes):
            raise MalformedInputError("public key must be DER bytes")
        algorithm, _key = _load_spki(self.spki_der, f"public key {self.name}")
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "sha256", Sha256Hex(hashlib.sha256(self.spki_der).hexdigest()))

    @classmethod
    def from_pem(cls, data: bytes, *, name: str = "public key") -> TrustedPublicKey:
        """A PEM file's bytes: exactly one ``PUBLIC KEY`` block."""
        if not isinstance(data, bytes):
            raise MalformedInputError("public key PEM must be bytes")
        if len(data) > MAX_PUBLIC_KEY_BYTES:
            raise MalformedInputError(f"{name} is larger than {MAX_PUBLIC_KEY_BYTES} bytes")
        label, der = _parse_pem_spki(data, name)
        if label != "PUBLIC KEY":
            raise MalformedInputError(
                f"{name} holds a PEM {label}, not a PUBLIC KEY (SubjectPublicKeyInfo)"
            )
        return cls(name=name, spki_der=der)

    @classmethod
    def from_file(cls, path: str | Path) -> TrustedPublicKey:
        """A PEM public key file (``cosign.pub``)."""
        path = Path(path)
        data = _read_limited(path, MAX_PUBLIC_KEY_BYTES, what="public key")
        return cls.from_pem(data, name=str(path))

    def _key(self) -> Any:
        return _load_spki(self.spki_der, f"public key {self.name}")[1]


def _verify_signature(
    key: Any,
    algorithm: KeyAlgorithm,
    signature: bytes,
    data: bytes,
    hashes: tuple[_HashName, ...],
    *,
    prehashed: bool = False,
) -> _HashName | None:
    """Verify with the first allowed hash that works; return it. False -> raise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    if algorithm == "ed25519":
        ed_key: Ed25519PublicKey = key
        try:
            ed_key.verify(signature, data)
        except InvalidSignature:
            raise SignatureError("signature is invalid") from None
        return None
    ec_key: EllipticCurvePublicKey = key
    for name in hashes:
        hash_algorithm = _hash_algorithm(name)
        scheme = ec.ECDSA(Prehashed(hash_algorithm) if prehashed else hash_algorithm)
        try:
            ec_key.verify(signature, data, scheme)
            return name
        except InvalidSignature:
            continue
    raise SignatureError("signature is invalid")


# -- the bundle -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Bundle:
    media_type: str
    kind: Literal["message_signature", "dsse"]
    entry: _ModelEntry
    signature: bytes
    digest_algorithm: _HashName | None = None  # message signatures
    digest: bytes | None = None
    payload_type: str | None = None  # DSSE
    payload: bytes | None = field(default=None, repr=False)


def _parse_bundle(data: bytes) -> _Bundle:
    doc = loads_strict(data, what="Sigstore bundle", max_bytes=MAX_BUNDLE_BYTES)
    if not isinstance(doc, dict):
        raise MalformedInputError("Sigstore bundle must be a JSON object")
    media_type = doc.get("mediaType")
    if media_type == _V01_MEDIA_TYPE:
        raise UnsupportedAlgorithmError(
            "keyed Sigstore bundle v0.1 is not supported (v0.2 and v0.3 carry the inclusion "
            "proof with its checkpoint)"
        )
    material = doc.get("verificationMaterial")
    if (
        isinstance(material, dict)
        and "publicKey" not in material
        and ("certificate" in material or "x509CertificateChain" in material)
    ):
        raise PolicyError(
            "the bundle is signed with a certificate (keyless), not a public key: verify it "
            "with --certificate-identity and --certificate-oidc-issuer"
        )
    try:
        from sigstore_models.bundle.v1 import Bundle as ModelBundle
    except ImportError as exc:
        raise EnvironmentProblemError(f"sigstore-models is not usable: {exc}") from None
    if isinstance(material, dict) and material.get("publicKey") == {}:
        # proto3 JSON omits an empty hint; sigstore-models requires the field.
        # The hint is never used, so parse the bundle as if it were "".
        doc = {**doc, "verificationMaterial": {**material, "publicKey": {"hint": ""}}}
        data = json.dumps(doc).encode()
    try:
        model: _ModelBundle = ModelBundle.from_json(data)  # as sigstore-python
    except _FOREIGN_INPUT_ERRORS as exc:  # pydantic.ValidationError is a ValueError
        raise MalformedInputError(f"invalid Sigstore bundle: {_one_line(str(exc))}") from None
    if model.media_type not in _MEDIA_TYPES:
        raise UnsupportedAlgorithmError(f"bundle media type {model.media_type!r} is not supported")
    vm = model.verification_material
    if vm.public_key is None:
        raise PolicyError(
            "the bundle is not signed by a public key (no verificationMaterial.publicKey)"
        )
    if vm.timestamp_verification_data and vm.timestamp_verification_data.rfc3161_timestamps:
        # Not used: the log's inclusion promise is the time source (see the ADR).
        _logger.debug("keyed bundle carries RFC 3161 timestamps; they are not used")
    if len(vm.tlog_entries) != 1:
        raise MalformedInputError(
            f"keyed bundle must have exactly one transparency log entry, has {len(vm.tlog_entries)}"
        )
    entry = vm.tlog_entries[0]
    if model.message_signature is not None:
        ms = model.message_signature
        if ms.message_digest is None:
            raise MalformedInputError("keyed bundle: messageSignature.messageDigest is missing")
        algorithm = ms.message_digest.algorithm.value
        if algorithm not in _MESSAGE_DIGESTS:
            raise UnsupportedAlgorithmError(
                f"message digest algorithm {algorithm} is not supported"
            )
        hash_name, size = _MESSAGE_DIGESTS[algorithm]
        if len(ms.message_digest.digest) != size:
            raise MalformedInputError(
                f"messageDigest is {len(ms.message_digest.digest)} bytes, "
                f"not {size} for {algorithm}"
            )
        if not ms.signature:
            raise MalformedInputError("messageSignature.signature is empty")
        return _Bundle(
            media_type=model.media_type,
            kind="message_signature",
            entry=entry,
            signature=ms.signature,
            digest_algorithm=hash_name,
            digest=ms.message_digest.digest,
        )
    envelope = model.dsse_envelope
    if envelope is None:  # pragma: no cover - the model requires one of the two
        raise MalformedInputError("bundle has neither a messageSignature nor a dsseEnvelope")
    if len(envelope.signatures) != 1:
        raise MalformedInputError(
            f"DSSE envelope must have exactly one signature, has {len(envelope.signatures)}"
        )
    if not envelope.signatures[0].sig:
        raise MalformedInputError("DSSE envelope signature is empty")
    return _Bundle(
        media_type=model.media_type,
        kind="dsse",
        entry=entry,
        signature=envelope.signatures[0].sig,
        payload_type=envelope.payload_type,
        payload=envelope.payload,
    )


# -- step 1: the signature -------------------------------------------------------------


def _check_signature(
    parsed: _Bundle, artifact: ArtifactDigest, key: TrustedPublicKey
) -> tuple[str | None, str | None]:
    """Verify the signature with ``key``; return (payload type, predicate type) for DSSE."""
    public_key = key._key()
    if parsed.kind == "message_signature":
        assert parsed.digest_algorithm is not None  # noqa: S101 - set for message signatures
        assert parsed.digest is not None  # noqa: S101
        if key.algorithm == "ed25519":
            raise UnsupportedAlgorithmError(
                "Ed25519 message signatures (hashedrekord) are not supported; Ed25519 keys "
                "are supported for DSSE bundles"
            )
        allowed = _ECDSA_HASHES[key.algorithm]
        if parsed.digest_algorithm not in allowed:
            raise UnsupportedAlgorithmError(
                f"{key.algorithm} signatures over {parsed.digest_algorithm.upper()} digests are "
                f"not supported (allowed: {', '.join(h.upper() for h in allowed)})"
            )
        expected = artifact.hexdigest(parsed.digest_algorithm)
        if expected is None:
            raise UnsupportedAlgorithmError(
                f"the bundle signs the artifact's {parsed.digest_algorithm.upper()} digest; give "
                "the artifact itself, not only its sha256"
            )
        if not hmac.compare_digest(parsed.digest.hex(), expected):
            raise SignatureError(
                f"bundle message digest {parsed.digest_algorithm}:{parsed.digest.hex()} is not "
                f"the artifact's ({parsed.digest_algorithm}:{expected})"
            )
        try:
            _verify_signature(
                public_key,
                key.algorithm,
                parsed.signature,
                bytes.fromhex(expected),
                (parsed.digest_algorithm,),
                prehashed=True,
            )
        except SignatureError:
            raise SignatureError(
                f"signature does not verify with the given key (sha256:{key.sha256})"
            ) from None
        return None, None
    assert parsed.payload is not None  # noqa: S101 - set for DSSE
    assert parsed.payload_type is not None  # noqa: S101
    hashes = _ECDSA_HASHES.get(key.algorithm, ())
    try:
        _verify_signature(
            public_key,
            key.algorithm,
            parsed.signature,
            pae(parsed.payload_type, parsed.payload),
            hashes,
        )
    except SignatureError:
        raise SignatureError(
            f"DSSE signature does not verify with the given key (sha256:{key.sha256})"
        ) from None
    if parsed.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise UnsupportedAlgorithmError(
            f"DSSE payload type {parsed.payload_type!r} is not in-toto; cannot match the artifact"
        )
    return parsed.payload_type, _subjects_match(parsed.payload, artifact, pep740=False)


# -- step 2: the log entry's body binds this signature, key and digest -------------------


def _body_key(value: Any, where: str) -> bytes:
    """A base64 PEM in a Rekor body -> SPKI DER (a certificate is not a key)."""
    pem = _b64(value, where)
    label, der = _parse_pem_spki(pem, where)
    if label != "PUBLIC KEY":
        raise ProofError(f"transparency log entry is for a {label.lower()}, not a public key")
    return der


def _check_body(parsed: _Bundle, key: TrustedPublicKey) -> None:
    entry = parsed.entry
    kind, version = entry.kind_version.kind, entry.kind_version.version
    expected_kind, expected_version = _SUPPORTED_ENTRIES[parsed.kind]
    if (kind, version) != (expected_kind, expected_version):
        if (kind, version) in {("hashedrekord", "0.0.2"), ("dsse", "0.0.2")}:
            raise UnsupportedAlgorithmError(
                f"Rekor v2 log entries ({kind}/{version}) are not supported for keyed bundles"
            )
        raise UnsupportedAlgorithmError(
            f"log entry type {kind}/{version} is not supported for a "
            f"{parsed.kind.replace('_', ' ')} bundle (only {expected_kind}/{expected_version})"
        )
    raw = entry.canonicalized_body
    body = loads_strict(raw, what="transparency log entry body", max_bytes=MAX_BUNDLE_BYTES)
    if canonical_json(body) != raw:
        raise MalformedInputError("transparency log entry body is not canonical JSON (RFC 8785)")
    top = Fields(body, "log entry body")
    if top.req_string("kind") != kind or top.req_string("apiVersion") != version:
        raise ProofError(
            f"log entry body is a {body.get('kind')}/{body.get('apiVersion')} entry, "
            f"the bundle says {kind}/{version}"
        )
    spec = top.req_fields("spec")
    top.done()
    if parsed.kind == "message_signature":
        _check_hashedrekord(spec, parsed, key)
    else:
        _check_dsse(spec, parsed, key)


def _hash_value(fields: Fields, algorithms: dict[str, int]) -> tuple[str, str]:
    algorithm = fields.req_string("algorithm")
    if algorithm not in algorithms:
        raise UnsupportedAlgorithmError(f"log entry hash algorithm {algorithm!r} is not supported")
    value = fields.req_string("value", pattern=_HEX)
    if len(value) != 2 * algorithms[algorithm]:
        raise MalformedInputError(f"log entry {algorithm} value has {len(value)} hex digits")
    fields.done()
    return algorithm, value


def _check_hashedrekord(spec: Fields, parsed: _Bundle, key: TrustedPublicKey) -> None:
    assert parsed.digest is not None  # noqa: S101
    data = spec.req_fields("data")
    signature = spec.req_fields("signature")
    spec.done()
    hash_fields = data.req_fields("hash")
    data.done()
    algorithm, value = _hash_value(hash_fields, {"sha256": 32, "sha384": 48, "sha512": 64})
    content = _b64(
        signature.req_string("content", max_length=MAX_BUNDLE_BYTES), "log entry signature"
    )
    public_key = signature.req_fields("publicKey")
    signature.done()
    key_der = _body_key(
        public_key.req_string("content", max_length=MAX_BUNDLE_BYTES), "log entry public key"
    )
    public_key.done()
    _check_signature_and_key(content, key_der, parsed, key, "signature")
    if algorithm != parsed.digest_algorithm or value != parsed.digest.hex():
        raise ProofError(f"transparency log entry is for another digest ({algorithm}:{value})")


def _check_signature_and_key(
    content: bytes, key_der: bytes, parsed: _Bundle, key: TrustedPublicKey, kind: str
) -> None:
    """The log entry records the bundle's signature and the given key (as SPKI DER)."""
    if not hmac.compare_digest(content, parsed.signature):
        raise ProofError(f"transparency log entry is for another {kind}")
    if not hmac.compare_digest(key_der, key.spki_der):
        raise ProofError(
            "transparency log entry is for another public key "
            f"(sha256:{hashlib.sha256(key_der).hexdigest()})"
        )


def _check_dsse(spec: Fields, parsed: _Bundle, key: TrustedPublicKey) -> None:
    assert parsed.payload is not None  # noqa: S101
    # envelopeHash is Rekor's hash of the envelope as submitted (not canonical):
    # it cannot be recomputed, so it is only checked for form (as sigstore-python).
    _hash_value(spec.req_fields("envelopeHash"), {"sha256": 32})
    algorithm, value = _hash_value(spec.req_fields("payloadHash"), {"sha256": 32})
    signatures = spec.objects("signatures", max_items=16)
    spec.done()
    if len(signatures) != 1:
        raise ProofError(
            f"transparency log entry records {len(signatures)} DSSE signatures, the bundle one"
        )
    content = _b64(
        signatures[0].req_string("signature", max_length=MAX_BUNDLE_BYTES), "log entry signature"
    )
    key_der = _body_key(
        signatures[0].req_string("verifier", max_length=MAX_BUNDLE_BYTES), "log entry verifier"
    )
    signatures[0].done()
    _check_signature_and_key(content, key_der, parsed, key, "DSSE signature")
    if value != hashlib.sha256(parsed.payload).hexdigest():
        raise ProofError(
            f"transparency log entry is for another DSSE payload ({algorithm}:{value})"
        )


# -- step 3: the log is trusted at the entry's time ------------------------------------------


@dataclass(frozen=True)
class _Log:
    url: str
    name: str  # checkpoint signer name: the base URL's host
    key_id: bytes  # sha256 of the SPKI DER (Rekor v1 log ID)
    algorithm: KeyAlgorithm
    hash_name: _HashName | None
    key: Any = field(repr=False)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            hashes = () if self.hash_name is None else (self.hash_name,)
            _verify_signature(self.key, self.algorithm, signature, data, hashes)
        except SignatureError:
            return False
        return True


def _trusted_log(
    root: PinnedTrustedRoot, log_id: bytes, integrated_time: datetime, now: datetime
) -> _Log:
    try:
        from sigstore_models.trustroot import v1 as trustroot_v1
    except ImportError as exc:
        raise EnvironmentProblemError(f"sigstore-models is not usable: {exc}") from None
    try:
        model = trustroot_v1.TrustedRoot.from_json(root.data)
    except _FOREIGN_INPUT_ERRORS as exc:
        raise ConfigError(f"trusted root {root.name} is unusable: {_one_line(str(exc))}") from None
    matches = [t for t in model.tlogs if hmac.compare_digest(t.log_id.key_id, log_id)]
    if not matches:
        raise TrustError(f"transparency log {log_id.hex()} is not in the trusted root {root.name}")
    if integrated_time > now + CLOCK_SKEW:
        raise TrustError(
            f"log entry integrated time {_iso(integrated_time)} is in the future (now {_iso(now)})"
        )
    reasons: list[str] = []
    for instance in matches:
        log = _log_instance(instance, root.name)
        period = instance.public_key.valid_for
        if period is None:
            reasons.append(f"{instance.base_url}: key has no validity period")
            continue
        start, end = _utc(period.start), None if period.end is None else _utc(period.end)
        if start <= integrated_time and (end is None or integrated_time <= end):
            return log
        reasons.append(
            f"{instance.base_url}: key valid {_iso(start)} to "
            f"{'open end' if end is None else _iso(end)}"
        )
    raise TrustError(
        f"log entry integrated time {_iso(integrated_time)} is outside the log key's "
        f"validity ({'; '.join(reasons)})"
    )


def _log_instance(instance: TransparencyLogInstance, root_name: str) -> _Log:
    public_key = instance.public_key
    details = public_key.key_details.value
    if details not in _LOG_KEY_DETAILS or not public_key.raw_bytes:
        raise UnsupportedAlgorithmError(
            f"trusted root {root_name}: log {instance.base_url} key type {details} is not supported"
        )
    algorithm, hash_name = _LOG_KEY_DETAILS[details]
    der = public_key.raw_bytes
    loaded, key = _load_spki(der, f"trusted root log key {instance.base_url}")
    if loaded != algorithm:
        raise ConfigError(
            f"trusted root {root_name}: log {instance.base_url} key is {loaded}, not {details}"
        )
    key_id = hashlib.sha256(der).digest()
    if not hmac.compare_digest(key_id, instance.log_id.key_id):
        raise TrustError(
            f"trusted root {root_name}: log {instance.base_url} ID is not the sha256 of its key "
            "(not a Rekor v1 log)"
        )
    try:
        name = urlsplit(instance.base_url).netloc
    except ValueError:
        name = ""
    if not name:
        raise ConfigError(
            f"trusted root {root_name}: log base URL {instance.base_url!r} has no host"
        )
    return _Log(instance.base_url, name, key_id, algorithm, hash_name, key)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- step 4: promise, checkpoint, inclusion proof ------------------------------------------------


def _check_promise(entry: _ModelEntry, log: _Log) -> None:
    promise = entry.inclusion_promise
    assert promise is not None  # noqa: S101 - checked by the caller
    payload = canonical_json(
        {
            "body": base64.b64encode(entry.canonicalized_body).decode("ascii"),
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id.key_id.hex(),
            "logIndex": entry.log_index,
        }
    )
    if not log.verify(promise.signed_entry_timestamp, payload):
        raise ProofError(f"inclusion promise (SET) is not signed by the log {log.url}")


@dataclass(frozen=True)
class _Checkpoint:
    note: bytes
    origin: str
    size: int
    root: bytes
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (name, key hint, signature)


def _parse_checkpoint(envelope: str) -> _Checkpoint:
    split = envelope.find("\n\n")
    if split < 0:
        raise MalformedInputError("checkpoint has no blank line before its signatures")
    note, block = envelope[: split + 1], envelope[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedInputError("checkpoint signature block must end with a newline")
    lines = note[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedInputError("checkpoint has fewer than 3 lines (origin, size, root hash)")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or any(not line for line in lines[3:]):
        raise MalformedInputError("checkpoint has an empty origin or extension line")
    if not _DECIMAL.fullmatch(size_text):
        raise MalformedInputError(f"checkpoint tree size {size_text[:30]!r} is not a decimal")
    root = _b64(root_text, "checkpoint root hash")
    if len(root) != 32:
        raise MalformedInputError(f"checkpoint root hash is {len(root)} bytes, not 32")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in block[:-1].split("\n"):
        match = _NOTE_SIGNATURE.fullmatch(line)
        if match is None:
            raise MalformedInputError(f"checkpoint signature line is malformed: {line[:60]!r}")
        raw = _b64(match.group(2), "checkpoint signature")
        if len(raw) < 5:
            raise MalformedInputError("checkpoint signature is too short")
        signatures.append((match.group(1), raw[:4], raw[4:]))
        if len(signatures) > _MAX_NOTE_SIGNATURES:
            raise MalformedInputError(f"checkpoint has over {_MAX_NOTE_SIGNATURES} signatures")
    try:
        note_bytes = note.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedInputError("checkpoint is not valid Unicode") from None
    return _Checkpoint(note_bytes, origin, int(size_text), root, tuple(signatures))


def _check_inclusion(entry: _ModelEntry, log: _Log) -> None:
    from qprov.tlog._merkle import leaf_hash, verify_inclusion

    proof = entry.inclusion_proof
    assert proof.checkpoint is not None  # noqa: S101 - checked by the caller
    checkpoint = _parse_checkpoint(proof.checkpoint.envelope)
    ours = [(n, s) for n, hint, s in checkpoint.signatures if hint == log.key_id[:4]]
    if not ours:
        raise ProofError(
            f"checkpoint is not signed by the log's key (key hint {log.key_id[:4].hex()}; "
            f"lines by {', '.join(sorted({n for n, _h, _s in checkpoint.signatures}))})"
        )
    if not any(name == log.name and log.verify(sig, checkpoint.note) for name, sig in ours):
        raise ProofError(f"checkpoint signature by the log {log.name} is invalid")
    if checkpoint.size != proof.tree_size:
        raise ProofError(
            f"checkpoint is for tree size {checkpoint.size}, "
            f"the inclusion proof for {proof.tree_size}"
        )
    if not hmac.compare_digest(checkpoint.root, proof.root_hash):
        raise ProofError("checkpoint root hash is not the inclusion proof's root hash")
    verify_inclusion(
        proof.log_index,
        proof.tree_size,
        leaf_hash(entry.canonicalized_body),
        list(proof.hashes),
        checkpoint.root,
    )


# -- entry point -------------------------------------------------------------------------------


def verify_keyed_bundle(
    bundle: bytes,
    artifact: ArtifactDigest | bytes,
    key: TrustedPublicKey,
    *,
    trusted_root: PinnedTrustedRoot | None = None,
    now: datetime | None = None,
) -> VerifiedBundle:
    """Verify a keyed Sigstore bundle (v0.2/v0.3, Rekor v1 entry) for an artifact, offline.

    ``key`` is the only trust anchor for the signature; the bundle's public
    key hint is ignored. ``artifact`` is the artifact's bytes or its
    :class:`ArtifactDigest` (a SHA-384/SHA-512 message digest needs the bytes,
    or an :class:`ArtifactDigest` made with ``all_sha2=True``).
    ``trusted_root`` (default: qprov's pinned production root) must name the
    transparency log. ``now`` (default: the current time, taken once) bounds
    the entry's integrated time.

    Returns a :class:`VerifiedBundle` whose signer is ``key_sha256``, or raises
    :class:`~qprov.errors.MalformedInputError` (unparseable bundle, body or
    checkpoint), :class:`~qprov.errors.UnsupportedAlgorithmError`,
    :class:`~qprov.errors.SignatureError` (signature, digest, statement
    subjects), :class:`~qprov.errors.ProofError` (log entry body, inclusion
    promise, checkpoint, inclusion proof), :class:`~qprov.errors.TrustError`
    (log not in the root, log key not valid at the integrated time, time in
    the future) or :class:`~qprov.errors.PolicyError` (a keyless bundle).
    """
    if not isinstance(bundle, bytes):
        raise MalformedInputError("bundle must be bytes")
    if isinstance(artifact, bytes):
        artifact = ArtifactDigest.of_bytes(artifact, all_sha2=True)
    elif not isinstance(artifact, ArtifactDigest):
        raise MalformedInputError("artifact must be bytes or an ArtifactDigest")
    if not isinstance(key, TrustedPublicKey):
        raise ConfigError("key must be a TrustedPublicKey")
    root = trusted_root if trusted_root is not None else PinnedTrustedRoot.production()
    if not isinstance(root, PinnedTrustedRoot):
        raise ConfigError("trusted_root must be a PinnedTrustedRoot")
    moment = _utc(now) if now is not None else datetime.now(UTC)
    try:
        return _verify(bundle, artifact, key, root, moment)
    except _FOREIGN_INPUT_ERRORS as exc:  # a gap in the checks above: still malformed input
        message = _one_line(str(exc)) or type(exc).__name__
        raise MalformedInputError(
            f"invalid keyed Sigstore bundle: {type(exc).__name__}: {message}"
        ) from None


def _verify(
    bundle: bytes,
    artifact: ArtifactDigest,
    key: TrustedPublicKey,
    root: PinnedTrustedRoot,
    moment: datetime,
) -> VerifiedBundle:
    parsed = _parse_bundle(bundle)
    entry = parsed.entry
    if entry.inclusion_proof.checkpoint is None:
        raise MalformedInputError("log entry must contain an inclusion proof with a checkpoint")
    if entry.inclusion_promise is None:
        raise MalformedInputError(
            "log entry must contain an inclusion promise (SET): it binds the integrated time"
        )
    if not entry.integrated_time:
        raise MalformedInputError("log entry has no integrated time")

    payload_type, predicate_type = _check_signature(parsed, artifact, key)
    _check_body(parsed, key)
    try:
        integrated = datetime.fromtimestamp(entry.integrated_time, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedInputError(
            f"log entry integrated time {entry.integrated_time} is out of range"
        ) from None
    log = _trusted_log(root, entry.log_id.key_id, integrated, moment)
    _check_promise(entry, log)
    _check_inclusion(entry, log)

    _logger.debug("verified keyed Sigstore bundle for %s by key %s", artifact, key.sha256)
    return VerifiedBundle(
        kind=parsed.kind,
        source_format="bundle",
        media_type=parsed.media_type,
        artifact=artifact,
        identity=None,
        issuer=None,
        trusted_root=root.name,
        trusted_root_sha256=root.sha256,
        payload_type=payload_type,
        payload=parsed.payload if parsed.kind == "dsse" else None,
        predicate_type=predicate_type,
        key_sha256=key.sha256,
        log_url=log.url,
        log_index=entry.log_index,
        integrated_time=integrated,
    )
