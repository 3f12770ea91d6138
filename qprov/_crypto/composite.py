"""Composite ML-DSA signatures (draft-ietf-lamps-pq-composite-sigs-19): the raw layer.

This is the dangerous layer: it signs and verifies bytes with raw keys and no
policy. Use :mod:`qprov.keys` and :mod:`qprov.dsse` instead.

Construction (draft section 4)::

    M'  = Prefix || Label || len(ctx) || ctx || PH(M)
    sig = ML-DSA.Sign(mldsa_sk, M', ctx=Label) || Trad.Sign(trad_sk, M')

A composite signature verifies only when both halves verify. Keys and
signatures are the draft's raw concatenations: public key = ML-DSA pk ||
traditional pk; private key = ML-DSA seed (32 bytes) || traditional sk.
Pure ML-DSA (FIPS 204, "ML-DSA-44/65/87") is supported alongside.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, padding, rsa

from qprov._crypto import _backend, _der

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "PREFIX",
    "Algorithm",
    "AlgorithmName",
    "CompositePrivateKey",
    "CompositePublicKey",
    "algorithm_by_name",
    "algorithm_by_oid",
    "message_representative",
]

PREFIX = b"CompositeAlgorithmSignatures2025"

AlgorithmName = Literal[
    "ML-DSA-44",
    "ML-DSA-65",
    "ML-DSA-87",
    "MLDSA44-RSA2048-PSS-SHA256",
    "MLDSA44-RSA2048-PKCS15-SHA256",
    "MLDSA44-Ed25519-SHA512",
    "MLDSA44-ECDSA-P256-SHA256",
    "MLDSA65-RSA3072-PSS-SHA512",
    "MLDSA65-RSA3072-PKCS15-SHA512",
    "MLDSA65-RSA4096-PSS-SHA512",
    "MLDSA65-RSA4096-PKCS15-SHA512",
    "MLDSA65-ECDSA-P256-SHA512",
    "MLDSA65-ECDSA-P384-SHA512",
    "MLDSA65-ECDSA-brainpoolP256r1-SHA512",
    "MLDSA65-Ed25519-SHA512",
    "MLDSA87-ECDSA-P384-SHA512",
    "MLDSA87-ECDSA-brainpoolP384r1-SHA512",
    "MLDSA87-Ed448-SHAKE256",
    "MLDSA87-RSA3072-PSS-SHA512",
    "MLDSA87-RSA4096-PSS-SHA512",
    "MLDSA87-ECDSA-P521-SHA512",
]

DEFAULT_ALGORITHM: AlgorithmName = "MLDSA65-Ed25519-SHA512"

TradKind = Literal["none", "ed25519", "ed448", "ecdsa", "rsa-pss", "rsa-pkcs15"]

_MLDSA_SIZES = {44: (1312, 2420), 65: (1952, 3309), 87: (2592, 4627)}
_MLDSA_PRIV: dict[
    int,
    type[mldsa.MLDSA44PrivateKey] | type[mldsa.MLDSA65PrivateKey] | type[mldsa.MLDSA87PrivateKey],
] = {
    44: mldsa.MLDSA44PrivateKey,
    65: mldsa.MLDSA65PrivateKey,
    87: mldsa.MLDSA87PrivateKey,
}
_MLDSA_PUB: dict[
    int, type[mldsa.MLDSA44PublicKey] | type[mldsa.MLDSA65PublicKey] | type[mldsa.MLDSA87PublicKey]
] = {
    44: mldsa.MLDSA44PublicKey,
    65: mldsa.MLDSA65PublicKey,
    87: mldsa.MLDSA87PublicKey,
}
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str, int]] = {
    # name: (curve class, curve OID, scalar size in bytes)
    "P256": (ec.SECP256R1, "1.2.840.10045.3.1.7", 32),
    "P384": (ec.SECP384R1, "1.3.132.0.34", 48),
    "P521": (ec.SECP521R1, "1.3.132.0.35", 66),
    "brainpoolP256r1": (ec.BrainpoolP256R1, "1.3.36.3.3.2.8.1.1.7", 32),
    "brainpoolP384r1": (ec.BrainpoolP384R1, "1.3.36.3.3.2.8.1.1.11", 48),
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


@dataclass(frozen=True)
class Algorithm:
    """One signature algorithm: its names, OID and components."""

    name: AlgorithmName
    oid: str
    mldsa: int  # 44, 65 or 87
    trad: TradKind
    prehash: Literal["", "SHA256", "SHA512", "SHAKE256"]
    trad_hash: str = ""  # hash of the ECDSA / RSA component
    curve: str = ""  # ECDSA curve name
    rsa_bits: int = 0
    nist_level: int = 0  # NIST PQ security category of the ML-DSA half

    @property
    def is_composite(self) -> bool:
        return self.trad != "none"

    @property
    def label(self) -> bytes:
        # Labels equal the names except for brainpool curves (draft-19 table).
        text = self.name.replace("brainpoolP256r1", "BP256").replace("brainpoolP384r1", "BP384")
        return b"COMPSIG-" + text.encode("ascii")

    @property
    def trad_name(self) -> str:
        """Name of the traditional half, e.g. ``Ed25519`` or ``ECDSA-P256``."""
        return {
            "none": "",
            "ed25519": "Ed25519",
            "ed448": "Ed448",
            "ecdsa": f"ECDSA-{self.curve}",
            "rsa-pss": f"RSA{self.rsa_bits}-PSS",
            "rsa-pkcs15": f"RSA{self.rsa_bits}-PKCS15",
        }[self.trad]

    @property
    def mldsa_public_size(self) -> int:
        return _MLDSA_SIZES[self.mldsa][0]

    @property
    def mldsa_signature_size(self) -> int:
        return _MLDSA_SIZES[self.mldsa][1]


def _a(
    name: AlgorithmName,
    oid: str,
    trad: TradKind,
    prehash: Literal["", "SHA256", "SHA512", "SHAKE256"],
    trad_hash: str = "",
    curve: str = "",
    rsa_bits: int = 0,
) -> Algorithm:
    level = int(name[5:7]) if name.startswith("MLDSA") else int(name[-2:])
    return Algorithm(
        name=name,
        oid=oid,
        mldsa=level,
        trad=trad,
        prehash=prehash,
        trad_hash=trad_hash,
        curve=curve,
        rsa_bits=rsa_bits,
        nist_level={44: 2, 65: 3, 87: 5}[level],
    )


_ARC = "1.3.6.1.5.5.7.6."
ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in [
        _a("ML-DSA-44", "2.16.840.1.101.3.4.3.17", "none", ""),
        _a("ML-DSA-65", "2.16.840.1.101.3.4.3.18", "none", ""),
        _a("ML-DSA-87", "2.16.840.1.101.3.4.3.19", "none", ""),
        _a("MLDSA44-RSA2048-PSS-SHA256", _ARC + "37", "rsa-pss", "SHA256", "SHA256", "", 2048),
        _a(
            "MLDSA44-RSA2048-PKCS15-SHA256", _ARC + "38", "rsa-pkcs15", "SHA256", "SHA256", "", 2048
        ),
        _a("MLDSA44-Ed25519-SHA512", _ARC + "39", "ed25519", "SHA512"),
        _a("MLDSA44-ECDSA-P256-SHA256", _ARC + "40", "ecdsa", "SHA256", "SHA256", "P256"),
        _a("MLDSA65-RSA3072-PSS-SHA512", _ARC + "41", "rsa-pss", "SHA512", "SHA256", "", 3072),
        _a(
            "MLDSA65-RSA3072-PKCS15-SHA512", _ARC + "42", "rsa-pkcs15", "SHA512", "SHA256", "", 3072
        ),
        _a("MLDSA65-RSA4096-PSS-SHA512", _ARC + "43", "rsa-pss", "SHA512", "SHA384", "", 4096),
        _a(
            "MLDSA65-RSA4096-PKCS15-SHA512", _ARC + "44", "rsa-pkcs15", "SHA512", "SHA384", "", 4096
        ),
        _a("MLDSA65-ECDSA-P256-SHA512", _ARC + "45", "ecdsa", "SHA512", "SHA256", "P256"),
        _a("MLDSA65-ECDSA-P384-SHA512", _ARC + "46", "ecdsa", "SHA512", "SHA384", "P384"),
        _a(
            "MLDSA65-ECDSA-brainpoolP256r1-SHA512",
            _ARC + "47",
            "ecdsa",
            "SHA512",
            "SHA256",
            "brainpoolP256r1",
        ),
        _a("MLDSA65-Ed25519-SHA512", _ARC + "48", "ed25519", "SHA512"),
        _a("MLDSA87-ECDSA-P384-SHA512", _ARC + "49", "ecdsa", "SHA512", "SHA384", "P384"),
        _a(
            "MLDSA87-ECDSA-brainpoolP384r1-SHA512",
            _ARC + "50",
            "ecdsa",
            "SHA512",
            "SHA384",
            "brainpoolP384r1",
        ),
        _a("MLDSA87-Ed448-SHAKE256", _ARC + "51", "ed448", "SHAKE256"),
        _a("MLDSA87-RSA3072-PSS-SHA512", _ARC + "52", "rsa-pss", "SHA512", "SHA256", "", 3072),
        _a("MLDSA87-RSA4096-PSS-SHA512", _ARC + "53", "rsa-pss", "SHA512", "SHA384", "", 4096),
        _a("MLDSA87-ECDSA-P521-SHA512", _ARC + "54", "ecdsa", "SHA512", "SHA512", "P521"),
    ]
}
_BY_OID_TLV = {_der.encode_oid(a.oid): a for a in ALGORITHMS.values()}
_BY_LOWER = {name.lower(): a for name, a in ALGORITHMS.items()}


def algorithm_by_name(name: str) -> Algorithm:
    """Look an algorithm up by the draft's name, with or without ``id-``.

    Raises ``KeyError`` when unknown (callers translate).
    """
    key = name.strip()
    if key.lower().startswith("id-"):
        key = key[3:]
    return _BY_LOWER[key.lower()]


def algorithm_by_oid(oid_tlv: bytes) -> Algorithm:
    """Look an algorithm up by its DER-encoded OID (tag and length included)."""
    return _BY_OID_TLV[oid_tlv]


def _prehash(alg: Algorithm, message: bytes) -> bytes:
    if alg.prehash == "SHAKE256":
        return hashlib.shake_256(message).digest(64)
    return hashlib.new(alg.prehash.lower(), message).digest()


def message_representative(alg: Algorithm, message: bytes, ctx: bytes) -> bytes:
    """M' = Prefix || Label || len(ctx) || ctx || PH(M)."""
    if len(ctx) > 255:
        raise ValueError("context is longer than 255 bytes")
    return PREFIX + alg.label + bytes([len(ctx)]) + ctx + _prehash(alg, message)


def _rsa_padding(alg: Algorithm) -> padding.AsymmetricPadding:
    h = _HASHES[alg.trad_hash]()
    if alg.trad == "rsa-pss":
        return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
    return padding.PKCS1v15()


_TradPublic = (
    ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
)
_TradPrivate = (
    ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
)
_MLDSAPublic = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
_MLDSAPrivate = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey


def _trad_public_bytes(alg: Algorithm, key: _TradPublic) -> bytes:
    if alg.trad in ("ed25519", "ed448"):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if alg.trad == "ecdsa":
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _load_trad_public(alg: Algorithm, data: bytes) -> _TradPublic:
    if alg.trad == "ed25519":
        if len(data) != 32:
            raise ValueError("Ed25519 public key must be 32 bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    if alg.trad == "ed448":
        if len(data) != 57:
            raise ValueError("Ed448 public key must be 57 bytes")
        return ed448.Ed448PublicKey.from_public_bytes(data)
    if alg.trad == "ecdsa":
        curve = _CURVES[alg.curve][0]()
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
    key = serialization.load_der_public_key(_rsa_spki(data))
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != alg.rsa_bits:
        raise ValueError(f"traditional key is not an RSA-{alg.rsa_bits} key")
    return key


def _rsa_spki(pkcs1: bytes) -> bytes:
    # Wrap an RSAPublicKey in a SubjectPublicKeyInfo (rsaEncryption, NULL params).
    algid = bytes.fromhex("300d06092a864886f70d0101010500")
    bits = b"\x00" + pkcs1
    inner = algid + b"\x03" + _der._len(len(bits)) + bits
    return b"\x30" + _der._len(len(inner)) + inner


def _trad_private_bytes(alg: Algorithm, key: _TradPrivate) -> bytes:
    if alg.trad in ("ed25519", "ed448"):
        return key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    if alg.trad == "ecdsa":
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("expected an ECDSA private key")
        _, curve_oid, size = _CURVES[alg.curve]
        return _der.encode_ec_private_key(key.private_numbers().private_value, size, curve_oid)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _load_trad_private(alg: Algorithm, data: bytes) -> _TradPrivate:
    if alg.trad == "ed25519":
        if len(data) != 32:
            raise ValueError("Ed25519 private key must be 32 bytes")
        return ed25519.Ed25519PrivateKey.from_private_bytes(data)
    if alg.trad == "ed448":
        if len(data) != 57:
            raise ValueError("Ed448 private key must be 57 bytes")
        return ed448.Ed448PrivateKey.from_private_bytes(data)
    key = serialization.load_der_private_key(data, password=None)
    if alg.trad == "ecdsa":
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, _CURVES[alg.curve][0]
        ):
            raise ValueError(f"traditional key is not an ECDSA {alg.curve} key")
        return key
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != alg.rsa_bits:
        raise ValueError(f"traditional key is not an RSA-{alg.rsa_bits} key")
    return key


def _generate_trad(alg: Algorithm) -> _TradPrivate:
    if alg.trad == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if alg.trad == "ed448":
        return ed448.Ed448PrivateKey.generate()
    if alg.trad == "ecdsa":
        return ec.generate_private_key(_CURVES[alg.curve][0]())
    return rsa.generate_private_key(public_exponent=65537, key_size=alg.rsa_bits)


def _split_signature(alg: Algorithm, signature: bytes) -> tuple[bytes, bytes]:
    n = alg.mldsa_signature_size
    if not alg.is_composite:
        if len(signature) != n:
            raise InvalidSignature(f"{alg.name} signature must be {n} bytes, got {len(signature)}")
        return signature, b""
    if len(signature) < n:
        raise InvalidSignature(
            f"{alg.name} signature is {len(signature)} bytes, shorter than its ML-DSA-{alg.mldsa}"
            f" half alone ({n} bytes): the ML-DSA half is missing or truncated"
        )
    if len(signature) == n:
        raise InvalidSignature(
            f"{alg.name} signature is {len(signature)} bytes: the traditional half is missing"
        )
    trad = signature[n:]
    if alg.trad == "ed25519" and len(trad) != 64:
        raise InvalidSignature("Ed25519 half of the signature must be 64 bytes")
    if alg.trad == "ed448" and len(trad) != 114:
        raise InvalidSignature("Ed448 half of the signature must be 114 bytes")
    if alg.trad in ("rsa-pss", "rsa-pkcs15") and len(trad) != alg.rsa_bits // 8:
        raise InvalidSignature(f"RSA half of the signature must be {alg.rsa_bits // 8} bytes")
    return signature[:n], trad


class CompositePublicKey:
    """A composite (or pure ML-DSA) public key in the draft's raw form."""

    def __init__(self, alg: Algorithm, mldsa_key: _MLDSAPublic, trad_key: _TradPublic | None):
        self.algorithm = alg
        self._mldsa = mldsa_key
        self._trad = trad_key

    @classmethod
    def from_bytes(cls, alg: Algorithm, data: bytes) -> CompositePublicKey:
        """Load the raw public key. Raises ``ValueError`` when malformed."""
        n = alg.mldsa_public_size
        if not alg.is_composite:
            if len(data) != n:
                raise ValueError(f"{alg.name} public key must be {n} bytes, got {len(data)}")
            return cls(alg, _MLDSA_PUB[alg.mldsa].from_public_bytes(data), None)
        if len(data) <= n:
            raise ValueError(f"{alg.name} public key is {len(data)} bytes: too short")
        mldsa_key = _MLDSA_PUB[alg.mldsa].from_public_bytes(data[:n])
        return cls(alg, mldsa_key, _load_trad_public(alg, data[n:]))

    def to_bytes(self) -> bytes:
        raw = self._mldsa.public_bytes_raw()
        if self._trad is None:
            return raw
        return raw + _trad_public_bytes(self.algorithm, self._trad)

    def to_spki_der(self) -> bytes:
        return _der.encode_spki(self.algorithm.oid, self.to_bytes())

    def verify(self, signature: bytes, message: bytes, ctx: bytes = b"") -> None:
        """Raise ``InvalidSignature`` unless *both* halves verify."""
        alg = self.algorithm
        mldsa_sig, trad_sig = _split_signature(alg, signature)
        if not alg.is_composite:
            self._verify_mldsa(mldsa_sig, message, ctx)
            return
        m_prime = message_representative(alg, message, ctx)
        # Both halves are always checked, and the reason names every half that failed.
        failed = []
        try:
            self._verify_mldsa(mldsa_sig, m_prime, alg.label)
        except InvalidSignature:
            failed.append(f"ML-DSA-{alg.mldsa}")
        try:
            self._verify_trad(trad_sig, m_prime)
        except InvalidSignature:
            failed.append(alg.trad_name)
        if failed:
            if len(failed) == 2:
                raise InvalidSignature(f"both halves ({failed[0]} and {failed[1]}) do not verify")
            raise InvalidSignature(f"the {failed[0]} half does not verify")

    def _verify_mldsa(self, signature: bytes, message: bytes, ctx: bytes) -> None:
        if _backend.mldsa_backend() == "liboqs":
            _backend.oqs_verify(
                self.algorithm.mldsa, self._mldsa.public_bytes_raw(), signature, message, ctx
            )
            return
        self._mldsa.verify(signature, message, ctx or None)

    def _verify_trad(self, trad_sig: bytes, m_prime: bytes) -> None:
        alg = self.algorithm
        trad = self._trad
        if isinstance(trad, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            trad.verify(trad_sig, m_prime)
        elif isinstance(trad, ec.EllipticCurvePublicKey):
            trad.verify(trad_sig, m_prime, ec.ECDSA(_HASHES[alg.trad_hash]()))
        elif isinstance(trad, rsa.RSAPublicKey):
            trad.verify(trad_sig, m_prime, _rsa_padding(alg), _HASHES[alg.trad_hash]())
        else:  # pragma: no cover - construction guarantees a key
            raise InvalidSignature("no traditional key")


class CompositePrivateKey:
    """A composite (or pure ML-DSA) private key; the ML-DSA half is kept as its seed."""

    def __init__(self, alg: Algorithm, seed: bytes, trad_key: _TradPrivate | None):
        if len(seed) != 32:
            raise ValueError("ML-DSA seed must be 32 bytes")
        self.algorithm = alg
        self._seed = seed
        self._mldsa: _MLDSAPrivate = _MLDSA_PRIV[alg.mldsa].from_seed_bytes(seed)
        self._trad = trad_key

    @classmethod
    def generate(cls, alg: Algorithm) -> CompositePrivateKey:
        import os

        seed = os.urandom(32)
        return cls(alg, seed, _generate_trad(alg) if alg.is_composite else None)

    @classmethod
    def from_bytes(cls, alg: Algorithm, data: bytes) -> CompositePrivateKey:
        """Load the raw private key (seed || traditional). ``ValueError`` when malformed."""
        if not alg.is_composite:
            if len(data) != 32:
                raise ValueError(f"{alg.name} private key (seed) must be 32 bytes")
            return cls(alg, data, None)
        if len(data) <= 32:
            raise ValueError(f"{alg.name} private key is {len(data)} bytes: too short")
        return cls(alg, data[:32], _load_trad_private(alg, data[32:]))

    def to_bytes(self) -> bytes:
        if self._trad is None:
            return self._seed
        return self._seed + _trad_private_bytes(self.algorithm, self._trad)

    def to_pkcs8_der(self) -> bytes:
        if not self.algorithm.is_composite:
            # FIPS 204 seed-only form, as cryptography and OpenSSL write it.
            return self._mldsa.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return _der.encode_pkcs8(self.algorithm.oid, self.to_bytes())

    def public_key(self) -> CompositePublicKey:
        trad = self._trad.public_key() if self._trad is not None else None
        return CompositePublicKey(self.algorithm, self._mldsa.public_key(), trad)

    def sign(self, message: bytes, ctx: bytes = b"") -> bytes:
        alg = self.algorithm
        if not alg.is_composite:
            return self._mldsa.sign(message, ctx or None)
        m_prime = message_representative(alg, message, ctx)
        mldsa_sig = self._mldsa.sign(m_prime, alg.label)
        trad = self._trad
        if isinstance(trad, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            trad_sig = trad.sign(m_prime)
        elif isinstance(trad, ec.EllipticCurvePrivateKey):
            trad_sig = trad.sign(m_prime, ec.ECDSA(_HASHES[alg.trad_hash]()))
        elif isinstance(trad, rsa.RSAPrivateKey):
            trad_sig = trad.sign(m_prime, _rsa_padding(alg), _HASHES[alg.trad_hash]())
        else:  # pragma: no cover
            raise ValueError("no traditional key")
        return mldsa_sig + trad_sig
