"""Keys: composite ML-DSA key pairs, their encodings, securesystemslib integration, signer URIs.

Public keys are written as PEM SubjectPublicKeyInfo with the draft's OID and in
securesystemslib's JSON key form (``keytype`` ``mldsa-composite``, ``scheme``
the draft's algorithm name, ``keyval.public`` the PEM). Importing this module
registers :class:`CompositeKey` in securesystemslib's key dispatch table, so
that DSSE envelopes and in-toto layouts/links signed with composite keys
verify through securesystemslib's and in-toto's own verification API.

Private keys are encrypted at rest (scrypt + AES-256-GCM, see
docs/adr/0004-private-key-storage.md); an unencrypted key is the standard
PKCS #8 PEM of the draft and is written only on explicit request.

Signers are found by URI: ``file:PATH`` and ``env:VARIABLE`` are built in;
:data:`SIGNER_FOR_SCHEME` is the registry where KMS/HSM signers plug in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import KEY_FOR_TYPE_AND_SCHEME, Key, SecretsHandler, Signature, Signer
from securesystemslib.signer._utils import compute_default_keyid

from qprov._canon import canonical_json, loads_strict
from qprov._crypto import _der
from qprov._crypto.composite import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    Algorithm,
    CompositePrivateKey,
    CompositePublicKey,
    algorithm_by_name,
    algorithm_by_oid,
)
from qprov.errors import (
    EnvironmentProblemError,
    KeyDecryptionError,
    MalformedInputError,
    SignatureError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "DEFAULT_ALGORITHM",
    "KEYTYPE_COMPOSITE",
    "KEYTYPE_MLDSA",
    "SIGNER_FOR_SCHEME",
    "CompositeKey",
    "CompositeSigner",
    "PrivateKey",
    "PublicKey",
    "generate_private_key",
    "get_algorithm",
    "load_private_key",
    "load_public_key",
    "load_signer",
    "supported_algorithms",
]

KEYTYPE_COMPOSITE: Final = "mldsa-composite"
KEYTYPE_MLDSA: Final = "ml-dsa"  # scheme "ML-DSA-65" (FIPS 204 pure), not TAP 21's "ml-dsa-65/1"

_ENCRYPTED_FORMAT: Final = "qprov-encrypted-private-key/v1"
_SCRYPT_N: Final = 2**15
_SCRYPT_MAX_N: Final = 2**20
_MAX_KEY_FILE: Final = 1024 * 1024
PASSPHRASE_ENV: Final = "QPROV_KEY_PASSPHRASE"


def get_algorithm(name: str) -> Algorithm:
    """The algorithm with this draft name (``id-`` prefix optional, case-insensitive)."""
    try:
        return algorithm_by_name(name)
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown signature algorithm {name!r}; supported: {', '.join(ALGORITHMS)}"
        ) from None


def supported_algorithms() -> list[str]:
    return list(ALGORITHMS)


def _b64decode(text: str, what: str) -> bytes:
    """Strict base64: standard or URL-safe alphabet, padding optional."""
    if not isinstance(text, str):
        raise MalformedInputError(f"{what} must be a base64 string")
    compact = text.strip()
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedInputError(f"{what} is not valid base64") from None


# -- public keys ---------------------------------------------------------------


class PublicKey:
    """A composite or pure ML-DSA public key."""

    def __init__(self, raw: CompositePublicKey):
        self._raw = raw

    @property
    def algorithm(self) -> Algorithm:
        return self._raw.algorithm

    @classmethod
    def from_raw(cls, algorithm: str | Algorithm, data: bytes) -> PublicKey:
        alg = get_algorithm(algorithm) if isinstance(algorithm, str) else algorithm
        try:
            return cls(CompositePublicKey.from_bytes(alg, data))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise MalformedInputError(f"invalid {alg.name} public key: {exc}") from None

    @classmethod
    def from_spki_der(cls, der: bytes) -> PublicKey:
        try:
            oid, raw = _der.decode_spki(der)
        except ValueError as exc:
            raise MalformedInputError(f"invalid SubjectPublicKeyInfo: {exc}") from None
        try:
            alg = algorithm_by_oid(oid)
        except KeyError:
            raise UnsupportedAlgorithmError(
                "public key algorithm is not a composite ML-DSA or ML-DSA algorithm"
            ) from None
        return cls.from_raw(alg, raw)

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        der = _pem_decode(pem, "PUBLIC KEY")
        return cls.from_spki_der(der)

    def to_raw(self) -> bytes:
        return self._raw.to_bytes()

    def to_spki_der(self) -> bytes:
        return self._raw.to_spki_der()

    def to_pem(self) -> bytes:
        return _pem_encode(self.to_spki_der(), "PUBLIC KEY")

    @property
    def keytype(self) -> str:
        return KEYTYPE_COMPOSITE if self.algorithm.is_composite else KEYTYPE_MLDSA

    def keyval(self) -> dict[str, str]:
        return {"public": self.to_pem().decode("ascii")}

    @property
    def keyid(self) -> str:
        """securesystemslib default key id: SHA-256 of the canonical key dict."""
        return str(compute_default_keyid(self.keytype, self.algorithm.name, self.keyval()))

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER SubjectPublicKeyInfo."""
        return "SHA256:" + hashlib.sha256(self.to_spki_der()).hexdigest()

    def to_sslib_dict(self) -> dict[str, Any]:
        return {"keytype": self.keytype, "scheme": self.algorithm.name, "keyval": self.keyval()}

    def to_sslib_key(self) -> CompositeKey:
        return CompositeKey(self.keyid, self.keytype, self.algorithm.name, self.keyval())

    def verify(self, signature: bytes, message: bytes, ctx: bytes = b"") -> None:
        """Raise :class:`SignatureError` with the reason unless the signature verifies."""
        try:
            self._raw.verify(signature, message, ctx)
        except InvalidSignature as exc:
            raise SignatureError(str(exc) or "signature does not verify") from None
        except ValueError as exc:  # e.g. context over 255 bytes
            raise MalformedInputError(f"{self.algorithm.name}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.to_spki_der() == self.to_spki_der()

    def __hash__(self) -> int:
        return hash(self.to_spki_der())


# -- private keys --------------------------------------------------------------


class PrivateKey:
    """A composite or pure ML-DSA private key."""

    def __init__(self, raw: CompositePrivateKey):
        self._raw = raw

    @property
    def algorithm(self) -> Algorithm:
        return self._raw.algorithm

    @classmethod
    def from_raw(cls, algorithm: str | Algorithm, data: bytes) -> PrivateKey:
        alg = get_algorithm(algorithm) if isinstance(algorithm, str) else algorithm
        try:
            return cls(CompositePrivateKey.from_bytes(alg, data))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise MalformedInputError(f"invalid {alg.name} private key: {exc}") from None

    @classmethod
    def from_pkcs8_der(cls, der: bytes) -> PrivateKey:
        try:
            oid, inner = _der.decode_pkcs8(der)
        except ValueError as exc:
            raise MalformedInputError(f"invalid PKCS #8 private key: {exc}") from None
        try:
            alg = algorithm_by_oid(oid)
        except KeyError:
            raise UnsupportedAlgorithmError(
                "private key algorithm is not a composite ML-DSA or ML-DSA algorithm"
            ) from None
        if not alg.is_composite:
            # FIPS 204 private key CHOICE: seed [0] IMPLICIT OCTET STRING (32 bytes)
            if len(inner) != 34 or inner[:2] != b"\x80\x20":
                raise UnsupportedAlgorithmError(
                    "only the seed form of ML-DSA private keys is supported"
                )
            inner = inner[2:]
        return cls.from_raw(alg, inner)

    def public_key(self) -> PublicKey:
        return PublicKey(self._raw.public_key())

    def to_raw(self) -> bytes:
        return self._raw.to_bytes()

    def to_pkcs8_der(self) -> bytes:
        return self._raw.to_pkcs8_der()

    def sign(self, message: bytes, ctx: bytes = b"") -> bytes:
        try:
            return self._raw.sign(message, ctx)
        except ValueError as exc:
            raise MalformedInputError(f"{self.algorithm.name}: {exc}") from None

    def to_unencrypted_pem(self) -> bytes:
        return _pem_encode(self.to_pkcs8_der(), "PRIVATE KEY")

    def to_encrypted(self, passphrase: str, *, scrypt_n: int = _SCRYPT_N) -> bytes:
        """The encrypted key file: scrypt-derived key, AES-256-GCM over PKCS #8."""
        if not passphrase:
            raise MalformedInputError("an empty passphrase cannot protect a key")
        salt = os.urandom(16)
        nonce = os.urandom(12)
        header: dict[str, Any] = {
            "format": _ENCRYPTED_FORMAT,
            "algorithm": self.algorithm.name,
            "keyid": self.public_key().keyid,
            "kdf": {
                "name": "scrypt",
                "salt": base64.b64encode(salt).decode(),
                "n": scrypt_n,
                "r": 8,
                "p": 1,
            },
            "cipher": {"name": "AES-256-GCM", "nonce": base64.b64encode(nonce).decode()},
        }
        kek = Scrypt(salt=salt, length=32, n=scrypt_n, r=8, p=1).derive(passphrase.encode())
        ciphertext = AESGCM(kek).encrypt(nonce, self.to_pkcs8_der(), canonical_json(header))
        document = dict(header, ciphertext=base64.b64encode(ciphertext).decode())
        return canonical_json(document) + b"\n"


def generate_private_key(algorithm: str | Algorithm = DEFAULT_ALGORITHM) -> PrivateKey:
    alg = get_algorithm(algorithm) if isinstance(algorithm, str) else algorithm
    return PrivateKey(CompositePrivateKey.generate(alg))


def _pem_encode(der: bytes, label: str) -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    text = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    return text.encode("ascii")


def _pem_decode(pem: bytes, label: str) -> bytes:
    try:
        text = pem.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedInputError(f"{label} PEM is not ASCII text") from None
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end)
    if start < 0 or stop < start:
        raise MalformedInputError(f"no {label} PEM block found")
    body = "".join(text[start + len(begin) : stop].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedInputError(f"{label} PEM body is not valid base64") from None


def load_public_key(data: bytes) -> PublicKey:
    """Load a public key from PEM, or from securesystemslib JSON key form."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        doc = loads_strict(data, what="public key JSON", max_bytes=_MAX_KEY_FILE)
        if not isinstance(doc, dict) or not isinstance(doc.get("keyval"), dict):
            raise MalformedInputError("public key JSON must be an object with 'keyval'")
        pem = doc["keyval"].get("public")
        if not isinstance(pem, str):
            raise MalformedInputError("public key JSON has no keyval.public PEM")
        key = PublicKey.from_pem(pem.encode("ascii", "replace"))
        if doc.get("scheme") not in (None, key.algorithm.name):
            raise MalformedInputError(
                f"public key JSON scheme {doc.get('scheme')!r} does not match the key "
                f"({key.algorithm.name})"
            )
        return key
    if b"PRIVATE KEY" in data or stripped.startswith(b'{"algorithm"'):
        raise MalformedInputError("this is a private key file; give the public key")
    return PublicKey.from_pem(data)


PassphraseCallback = Callable[[], str]


def load_private_key(data: bytes, passphrase: str | PassphraseCallback | None = None) -> PrivateKey:
    """Load a private key file (encrypted JSON, or unencrypted PKCS #8 PEM).

    ``passphrase`` may be a string or a callable asked only when the key is encrypted.
    """
    if len(data) > _MAX_KEY_FILE:
        raise MalformedInputError("private key file is too large")
    if data.lstrip().startswith(b"{"):
        doc = loads_strict(data, what="encrypted private key", max_bytes=_MAX_KEY_FILE)
        if callable(passphrase):
            passphrase = passphrase()
        if not passphrase:
            raise KeyDecryptionError(
                f"the private key is encrypted: set {PASSPHRASE_ENV} or enter the passphrase"
            )
        return _decrypt(doc, passphrase)
    if b"ENCRYPTED PRIVATE KEY" in data:
        raise UnsupportedAlgorithmError("PKCS #8 EncryptedPrivateKeyInfo is not supported")
    return PrivateKey.from_pkcs8_der(_pem_decode(data, "PRIVATE KEY"))


def _decrypt(doc: Any, passphrase: str) -> PrivateKey:
    fields = {"format", "algorithm", "keyid", "kdf", "cipher", "ciphertext"}
    if not isinstance(doc, dict) or set(doc) != fields:
        raise MalformedInputError(
            f"encrypted private key must have exactly the fields {sorted(fields)}"
        )
    if doc["format"] != _ENCRYPTED_FORMAT:
        raise UnsupportedAlgorithmError(f"unsupported private key format {doc['format']!r}")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if (
        not isinstance(kdf, dict)
        or kdf.get("name") != "scrypt"
        or set(kdf) != {"name", "salt", "n", "r", "p"}
    ):
        raise UnsupportedAlgorithmError("encrypted private key: only scrypt is supported")
    if (
        not isinstance(cipher, dict)
        or cipher.get("name") != "AES-256-GCM"
        or set(cipher) != {"name", "nonce"}
    ):
        raise UnsupportedAlgorithmError("encrypted private key: only AES-256-GCM is supported")
    n, r, p = kdf["n"], kdf["r"], kdf["p"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p)):
        raise MalformedInputError("encrypted private key: scrypt parameters must be integers")
    if n < 2**14 or n > _SCRYPT_MAX_N or n & (n - 1) or r != 8 or p != 1:
        raise MalformedInputError("encrypted private key: scrypt parameters out of range")
    salt = _b64decode(kdf["salt"], "scrypt salt")
    nonce = _b64decode(cipher["nonce"], "cipher nonce")
    ciphertext = _b64decode(doc["ciphertext"], "ciphertext")
    if len(salt) < 16 or len(nonce) != 12:
        raise MalformedInputError("encrypted private key: bad salt or nonce length")
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    kek = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    try:
        der = AESGCM(kek).decrypt(nonce, ciphertext, canonical_json(header))
    except InvalidTag:
        raise KeyDecryptionError(
            "cannot decrypt the private key: wrong passphrase or corrupted file"
        ) from None
    key = PrivateKey.from_pkcs8_der(der)
    if key.algorithm.name != doc["algorithm"] or key.public_key().keyid != doc["keyid"]:
        raise MalformedInputError("encrypted private key header does not match the key")
    return key


# -- securesystemslib integration ------------------------------------------------


class CompositeKey(Key):
    """securesystemslib ``Key`` for composite ML-DSA and pure ML-DSA (FIPS 204) keys."""

    def __init__(
        self,
        keyid: str,
        keytype: str,
        scheme: str,
        keyval: dict[str, Any],
        unrecognized_fields: dict[str, Any] | None = None,
    ):
        if not isinstance(keyval.get("public"), str):
            raise ValueError("composite key requires keyval.public (PEM)")
        super().__init__(keyid, keytype, scheme, keyval, unrecognized_fields)
        self._public: PublicKey | None = None

    @property
    def public(self) -> PublicKey:
        if self._public is None:
            key = PublicKey.from_pem(self.keyval["public"].encode("ascii", "replace"))
            if key.algorithm.name != self.scheme or key.keytype != self.keytype:
                raise MalformedInputError(
                    f"key {self.keyid}: scheme {self.scheme!r} does not match its PEM "
                    f"({key.algorithm.name})"
                )
            self._public = key
        return self._public

    @classmethod
    def from_dict(cls, keyid: str, key_dict: dict[str, Any]) -> CompositeKey:
        keytype, scheme, keyval = cls._from_dict(key_dict)
        return cls(keyid, keytype, scheme, keyval, key_dict)

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict()

    def verify_signature(self, signature: Signature, data: bytes) -> None:
        try:
            sig = bytes.fromhex(signature.signature)
            self.public.verify(sig, data)
        except (ValueError, MalformedInputError, SignatureError) as exc:
            raise UnverifiedSignatureError(str(exc)) from None


for _alg in ALGORITHMS.values():
    _keytype = KEYTYPE_COMPOSITE if _alg.is_composite else KEYTYPE_MLDSA
    KEY_FOR_TYPE_AND_SCHEME[(_keytype, _alg.name)] = CompositeKey


class CompositeSigner(Signer):
    """securesystemslib ``Signer`` over a qprov private key."""

    def __init__(self, private_key: PrivateKey, public_key: CompositeKey | None = None):
        self._private = private_key
        self._public_key = public_key or private_key.public_key().to_sslib_key()

    @property
    def public_key(self) -> CompositeKey:
        return self._public_key

    @property
    def algorithm(self) -> Algorithm:
        return self._private.algorithm

    def sign(self, payload: bytes) -> Signature:
        return Signature(self._public_key.keyid, self._private.sign(payload).hex())

    @classmethod
    def from_priv_key_uri(
        cls,
        priv_key_uri: str,
        public_key: Key,
        secrets_handler: SecretsHandler | None = None,
    ) -> CompositeSigner:
        def ask() -> str:
            if secrets_handler is None:
                return os.environ.get(PASSPHRASE_ENV, "")
            return secrets_handler("passphrase")

        signer = load_signer(priv_key_uri, ask)
        if signer.public_key.keyid != public_key.keyid:
            raise ValueError("private key does not match the given public key")
        return signer


@dataclass(frozen=True)
class _SchemeHandler:
    load: Callable[[str, PassphraseCallback], CompositeSigner]


def _read_file_uri(path: str, ask: PassphraseCallback) -> CompositeSigner:
    if path.startswith("//"):
        path = path[2:]
    if not path:
        raise MalformedInputError("file: signer URI has no path")
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot read private key {path}: {exc.strerror}") from None
    return CompositeSigner(load_private_key(data, ask))


def _read_env_uri(name: str, ask: PassphraseCallback) -> CompositeSigner:
    value = os.environ.get(name)
    if not value:
        raise EnvironmentProblemError(f"environment variable {name} (env: signer) is not set")
    data = value.encode("utf-8")
    if not data.lstrip().startswith((b"{", b"-----")):
        data = _b64decode(value, f"environment variable {name}")
    return CompositeSigner(load_private_key(data, ask))


#: Signer URI scheme registry: ``scheme -> loader(rest_of_uri, passphrase_callback)``.
SIGNER_FOR_SCHEME: dict[str, _SchemeHandler] = {
    "file": _SchemeHandler(_read_file_uri),
    "env": _SchemeHandler(_read_env_uri),
}


def load_signer(uri: str, passphrase: PassphraseCallback | None = None) -> CompositeSigner:
    """Find a signer by URI (``file:PATH``, ``env:VAR``; a bare path means ``file:``).

    ``env:VAR`` reads the key file's content (PEM, encrypted JSON, or base64 of
    either) from the environment, which is how CI secrets are passed.
    """

    def default_ask() -> str:
        return os.environ.get(PASSPHRASE_ENV, "")

    scheme, sep, rest = uri.partition(":")
    if not sep or (scheme not in SIGNER_FOR_SCHEME and "/" in scheme):
        scheme, rest = "file", uri
    handler = SIGNER_FOR_SCHEME.get(scheme)
    if handler is None:
        raise UnsupportedAlgorithmError(
            f"no signer for URI scheme {scheme!r}; supported: "
            + ", ".join(f"{s}:" for s in SIGNER_FOR_SCHEME)
        )
    return handler.load(rest, passphrase or default_ask)
