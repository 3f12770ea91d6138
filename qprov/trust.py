"""Trust store and crypto policy: which keys may sign for which role, with which algorithms.

The trust file is TOML (format documented in ``attestations/trust.md``)::

    version = 1

    [crypto]
    signatures = "composite"          # composite | pq | any
    algorithms = ["MLDSA65-Ed25519-SHA512"]

    [roles.release-signer]
    threshold = 1
    keys = [{ file = "release.pub", name = "CI release key" }]

    [revoked]
    keyids = ["<hex key id>"]

Verification rejects, each with its own reason: a key not in the trust file, a
key of another role, a revoked key, a classical-only signature where a
composite one is required, an algorithm the policy does not allow.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Key, Signature, SSlibKey

from qprov._crypto.composite import ALGORITHMS
from qprov.errors import (
    ConfigError,
    Error,
    MalformedInputError,
    PolicyError,
    SignatureError,
    TrustError,
)
from qprov.keys import PublicKey, load_public_key

__all__ = [
    "DEFAULT_ALGORITHMS",
    "KNOWN_ROLES",
    "Role",
    "SignaturePolicy",
    "TrustStore",
    "TrustedKey",
    "load_trust",
]

SignaturePolicy = Literal["composite", "pq", "any"]

#: Algorithms a trust file allows when it does not say: the draft's recommended set.
DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "MLDSA65-Ed25519-SHA512",
    "MLDSA44-Ed25519-SHA512",
    "MLDSA65-ECDSA-P256-SHA512",
    "MLDSA87-ECDSA-P384-SHA512",
    "MLDSA87-Ed448-SHAKE256",
)

#: Role names qprov itself uses. Trust files may define others.
KNOWN_ROLES: tuple[str, ...] = (
    "release-signer",
    "submitter",
    "owner",
    "approver",
    "gateway",
    "provider",
    "baseline-authority",
    "log",
)

_CLASSICAL_NAMES = ("Ed25519", "ECDSA-P256", "ECDSA-P384", "ECDSA-P521", "RSA")
_MAX_TRUST_FILE = 4 * 1024 * 1024


@dataclass(frozen=True)
class TrustedKey:
    """A key named in the trust file."""

    keyid: str
    algorithm: str  # draft name, ML-DSA-xx, or a classical name (Ed25519, ECDSA-P256, RSA)
    kind: Literal["composite", "mldsa", "classical"]
    sslib_key: Key
    name: str = ""

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise SignatureError unless ``signature`` over ``data`` verifies."""
        try:
            self.sslib_key.verify_signature(Signature(self.keyid, signature.hex()), data)
        except (UnverifiedSignatureError, VerificationError) as exc:
            reason = str(exc) or "signature does not verify"
            raise SignatureError(
                f"signature by key {self.keyid[:16]}… ({self.algorithm}): {reason}"
            ) from None
        except Error:
            raise
        except Exception as exc:  # noqa: BLE001 - foreign errors never leave a verify path
            raise SignatureError(
                f"signature by key {self.keyid[:16]}… cannot be verified: {type(exc).__name__}"
            ) from None


@dataclass(frozen=True)
class Role:
    name: str
    keyids: tuple[str, ...]
    threshold: int
    signatures: SignaturePolicy
    algorithms: tuple[str, ...]
    limits: Mapping[str, Any] = field(default_factory=dict)


def _classical_key(pem: bytes, name: str) -> TrustedKey:
    try:
        crypto_key = load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"trust file: key {name or '?'} is not a valid public key: {exc}"
        ) from None
    if isinstance(crypto_key, ed25519.Ed25519PublicKey):
        alg = "Ed25519"
    elif isinstance(crypto_key, ed448.Ed448PublicKey):
        raise ConfigError("trust file: Ed448 keys alone are not supported by securesystemslib")
    elif isinstance(crypto_key, ec.EllipticCurvePublicKey):
        alg = {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384", "secp521r1": "ECDSA-P521"}.get(
            crypto_key.curve.name, ""
        )
        if not alg:
            raise ConfigError(f"trust file: unsupported ECDSA curve {crypto_key.curve.name}")
    elif isinstance(crypto_key, rsa.RSAPublicKey):
        alg = "RSA"
    else:
        raise ConfigError(f"trust file: unsupported key type for key {name or '?'}")
    sslib = SSlibKey.from_crypto(crypto_key)
    return TrustedKey(sslib.keyid, alg, "classical", sslib, name)


def _legacy_keyids(key: Key) -> set[str]:
    """Key ids in-toto and securesystemslib < 1.0 computed for a classical key.

    They hashed the key dict with ``keyid_hash_algorithms`` (PEM stripped);
    real in-toto links and layouts still carry these ids.
    """
    pem = key.keyval.get("public")
    if not isinstance(pem, str):
        return set()
    ids = set()
    for text in (pem, pem.strip()):
        legacy = {
            "keytype": key.keytype,
            "scheme": key.scheme,
            "keyid_hash_algorithms": ["sha256", "sha512"],
            "keyval": {"public": text},
        }
        ids.add(hashlib.sha256((encode_canonical(legacy) or "").encode()).hexdigest())
    return ids


def _trusted_key(pem: bytes, name: str) -> TrustedKey:
    try:
        key: PublicKey = load_public_key(pem)
    except Error:
        return _classical_key(pem, name)
    kind: Literal["composite", "mldsa"] = "composite" if key.algorithm.is_composite else "mldsa"
    return TrustedKey(key.keyid, key.algorithm.name, kind, key.to_sslib_key(), name)


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"trust file: {where} must be a list of strings")
    return tuple(value)


def _check_fields(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"trust file: unknown field(s) in {where}: {', '.join(unknown)}")


def _signature_policy(value: Any, where: str) -> SignaturePolicy:
    if value not in ("composite", "pq", "any"):
        raise ConfigError(f"trust file: {where}.signatures must be composite, pq or any")
    policy: SignaturePolicy = value
    return policy


def _algorithms(value: Any, where: str) -> tuple[str, ...]:
    names = _str_list(value, f"{where}.algorithms")
    if not names:
        raise ConfigError(f"trust file: {where}.algorithms is empty: no signature could verify")
    for n in names:
        if n not in ALGORITHMS and n not in _CLASSICAL_NAMES:
            raise ConfigError(f"trust file: {where}.algorithms: unknown algorithm {n!r}")
    return names


class TrustStore:
    """Roles, their keys and policies, and revoked keys, from a trust file."""

    def __init__(
        self,
        roles: Mapping[str, Role],
        keys: Mapping[str, TrustedKey],
        revoked: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ):
        if not roles:
            raise ConfigError("trust file defines no roles: nothing could ever verify")
        self.roles = dict(roles)
        self.keys = dict(keys)
        self.revoked = frozenset(revoked)
        self.extra = dict(extra or {})

    @classmethod
    def from_toml(cls, data: bytes, base_dir: Path | None = None) -> TrustStore:
        if len(data) > _MAX_TRUST_FILE:
            raise ConfigError("trust file is too large")
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("trust file is not valid UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"trust file is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError("trust file is not valid TOML: nested too deeply") from None
        return cls.from_dict(doc, base_dir or Path.cwd())

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], base_dir: Path) -> TrustStore:
        _check_fields(doc, ("version", "crypto", "roles", "revoked", "log", "policy"), "the file")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version != 1:
            raise ConfigError("trust file: 'version = 1' is required")
        crypto = doc.get("crypto", {})
        if not isinstance(crypto, dict):
            raise ConfigError("trust file: [crypto] must be a table")
        _check_fields(crypto, ("signatures", "algorithms"), "[crypto]")
        default_policy = _signature_policy(crypto.get("signatures", "composite"), "[crypto]")
        default_algs = (
            _algorithms(crypto["algorithms"], "[crypto]")
            if "algorithms" in crypto
            else DEFAULT_ALGORITHMS
        )
        roles_doc = doc.get("roles")
        if not isinstance(roles_doc, dict) or not roles_doc:
            raise ConfigError("trust file: at least one [roles.NAME] table is required")
        keys: dict[str, TrustedKey] = {}
        roles: dict[str, Role] = {}
        for role_name, table in roles_doc.items():
            where = f"[roles.{role_name}]"
            if not isinstance(table, dict):
                raise ConfigError(f"trust file: {where} must be a table")
            _check_fields(table, ("threshold", "keys", "signatures", "algorithms", "limits"), where)
            key_entries = table.get("keys")
            if not isinstance(key_entries, list) or not key_entries:
                raise ConfigError(f"trust file: {where} has no keys")
            keyids: list[str] = []
            for i, entry in enumerate(key_entries):
                tk = cls._load_key(entry, base_dir, f"{where}.keys[{i}]")
                if tk.keyid in keyids:
                    raise ConfigError(f"trust file: {where} lists key {tk.keyid} twice")
                keys.setdefault(tk.keyid, tk)
                keyids.append(tk.keyid)
            threshold = table.get("threshold", 1)
            if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
                raise ConfigError(f"trust file: {where}.threshold must be an integer >= 1")
            if threshold > len(keyids):
                raise ConfigError(
                    f"trust file: {where}.threshold {threshold} exceeds its {len(keyids)} key(s)"
                )
            limits = table.get("limits", {})
            if not isinstance(limits, dict):
                raise ConfigError(f"trust file: {where}.limits must be a table")
            roles[role_name] = Role(
                name=role_name,
                keyids=tuple(keyids),
                threshold=threshold,
                signatures=_signature_policy(table.get("signatures", default_policy), where),
                algorithms=(
                    _algorithms(table["algorithms"], where)
                    if "algorithms" in table
                    else default_algs
                ),
                limits=limits,
            )
        revoked_doc = doc.get("revoked", {})
        if not isinstance(revoked_doc, dict):
            raise ConfigError("trust file: [revoked] must be a table")
        _check_fields(revoked_doc, ("keyids",), "[revoked]")
        revoked = _str_list(revoked_doc.get("keyids", []), "[revoked].keyids")
        extra = {k: doc[k] for k in ("log", "policy") if k in doc}
        return cls(roles, keys, revoked, extra)

    @staticmethod
    def _load_key(entry: Any, base_dir: Path, where: str) -> TrustedKey:
        if isinstance(entry, str):
            entry = {"file": entry}
        if not isinstance(entry, dict):
            raise ConfigError(f"trust file: {where} must be a table or a file name")
        _check_fields(entry, ("file", "pem", "name", "keyid"), where)
        name = entry.get("name", "")
        if ("file" in entry) == ("pem" in entry):
            raise ConfigError(f"trust file: {where} needs exactly one of 'file' or 'pem'")
        if "file" in entry:
            path = base_dir / str(entry["file"])
            try:
                pem = path.read_bytes()
            except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(f"trust file: {where}: cannot read {path}: {reason}") from None
        else:
            pem = str(entry["pem"]).encode("utf-8")
        try:
            tk = _trusted_key(pem, str(name))
        except MalformedInputError as exc:
            raise ConfigError(f"trust file: {where}: {exc}") from None
        if "keyid" in entry and entry["keyid"] != tk.keyid:
            if tk.kind == "classical" and entry["keyid"] in _legacy_keyids(tk.sslib_key):
                # the in-toto legacy key id of this very key, which signatures refer to
                k = tk.sslib_key
                legacy = SSlibKey(entry["keyid"], k.keytype, k.scheme, dict(k.keyval))
                return replace(tk, keyid=entry["keyid"], sslib_key=legacy)
            raise ConfigError(
                f"trust file: {where}: keyid {entry['keyid']} does not match the key ({tk.keyid})"
            )
        return tk

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            raise ConfigError(
                f"trust file has no role {name!r} (roles: {', '.join(sorted(self.roles))})"
            ) from None

    def roles_of(self, keyid: str) -> list[str]:
        return sorted(r.name for r in self.roles.values() if keyid in r.keyids)

    def check_key(self, keyid: str, role: Role) -> TrustedKey:
        """The trusted key for ``keyid`` in ``role``, or the reason it may not sign for it."""
        short = keyid[:16] + "…" if len(keyid) > 16 else keyid or "(none)"
        if keyid in self.revoked:
            raise TrustError(f"key {short} is revoked")
        if keyid not in role.keyids:
            others = self.roles_of(keyid)
            if others:
                raise TrustError(
                    f"key {short} is trusted for role {', '.join(others)}, not for {role.name}"
                )
            raise TrustError(f"key {short} is not trusted (not in the trust file)")
        key = self.keys[keyid]
        self.check_algorithm(key, role)
        return key

    @staticmethod
    def check_algorithm(key: TrustedKey, role: Role) -> None:
        if key.kind == "classical" and role.signatures != "any":
            wanted = "composite ML-DSA" if role.signatures == "composite" else "post-quantum"
            raise PolicyError(
                f"key {key.keyid[:16]}… is classical-only ({key.algorithm}); role {role.name} "
                f"requires {wanted} signatures"
            )
        if key.kind == "mldsa" and role.signatures == "composite":
            raise PolicyError(
                f"key {key.keyid[:16]}… is pure {key.algorithm}; role {role.name} requires "
                "composite ML-DSA signatures"
            )
        if key.algorithm not in role.algorithms:
            raise PolicyError(f"algorithm {key.algorithm} is not allowed for role {role.name}")

    def verify_signatures(
        self, data: bytes, signatures: Iterable[tuple[str, bytes]], role_name: str
    ) -> list[str]:
        """Verify ``(keyid, signature)`` pairs over ``data`` for a role; return the keyids.

        Raises the error of the first failing signature (with every failure in the
        message) unless at least ``threshold`` distinct trusted keys verified.
        """
        role = self.role(role_name)
        verified: list[str] = []
        failures: list[Error] = []
        for keyid, sig in signatures:
            if not keyid:
                failures.append(
                    TrustError("a signature without a key id cannot be matched to a key")
                )
                continue
            try:
                key = self.check_key(keyid, role)
                key.verify(sig, data)
            except Error as exc:
                failures.append(exc)
                continue
            if keyid not in verified:
                verified.append(keyid)
        if len(verified) >= role.threshold:
            return verified
        if not failures:
            raise SignatureError(
                f"role {role.name} needs {role.threshold} valid signature(s), found {len(verified)}"
            )
        first = failures[0]
        message = "; ".join(str(f) for f in failures)
        if role.threshold > 1 or len(failures) > 1:
            message = (
                f"role {role.name} needs {role.threshold} valid signature(s), found "
                f"{len(verified)}: {message}"
            )
        raise type(first)(message)


def load_trust(path: str | Path) -> TrustStore:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read trust file {p}: {exc.strerror}") from None
    return TrustStore.from_toml(data, p.parent)
