"""Minimal DER encoding for the few structures qprov writes and reads itself.

Only what composite keys need: SubjectPublicKeyInfo and OneAsymmetricKey
(PKCS #8) with an AlgorithmIdentifier that has no parameters, and RFC 5915
ECPrivateKey without the optional public key (the draft's private key form).
Decoding is strict: definite lengths only, minimal length encodings, no
trailing bytes. Everything raises ``ValueError``; callers translate.
"""

from __future__ import annotations

__all__ = [
    "decode_pkcs8",
    "decode_spki",
    "encode_ec_private_key",
    "encode_oid",
    "encode_pkcs8",
    "encode_spki",
]


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def encode_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2 or parts[0] > 2 or (parts[0] < 2 and parts[1] >= 40):
        raise ValueError(f"invalid OID {dotted}")
    out = bytearray()
    for arc in [40 * parts[0] + parts[1], *parts[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out.extend(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    if pos >= len(data) or data[pos] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x} at offset {pos}")
    pos += 1
    if pos >= len(data):
        raise ValueError("truncated DER length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("unsupported or truncated DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated DER value")
    return data[pos:end], end


def _algid(oid: str) -> bytes:
    return _tlv(0x30, encode_oid(oid))


def encode_spki(oid: str, public_key: bytes) -> bytes:
    """SubjectPublicKeyInfo with an AlgorithmIdentifier without parameters."""
    return _tlv(0x30, _algid(oid) + _tlv(0x03, b"\x00" + public_key))


def decode_spki(der: bytes) -> tuple[bytes, bytes]:
    """Return (encoded OID TLV, public key bytes)."""
    seq, end = _read(der, 0, 0x30)
    if end != len(der):
        raise ValueError("trailing bytes after SubjectPublicKeyInfo")
    alg, pos = _read(seq, 0, 0x30)
    oid_value, alg_end = _read(alg, 0, 0x06)
    if alg_end != len(alg):
        raise ValueError("unexpected AlgorithmIdentifier parameters")
    bits, pos = _read(seq, pos, 0x03)
    if pos != len(seq):
        raise ValueError("trailing bytes in SubjectPublicKeyInfo")
    if not bits or bits[0] != 0:
        raise ValueError("public key BIT STRING has unused bits")
    return _tlv(0x06, oid_value), bits[1:]


def encode_pkcs8(oid: str, private_key: bytes) -> bytes:
    """OneAsymmetricKey v1 (PKCS #8) holding the raw composite private key."""
    return _tlv(0x30, _tlv(0x02, b"\x00") + _algid(oid) + _tlv(0x04, private_key))


def decode_pkcs8(der: bytes) -> tuple[bytes, bytes]:
    """Return (encoded OID TLV, private key octets). Attributes are refused."""
    seq, end = _read(der, 0, 0x30)
    if end != len(der):
        raise ValueError("trailing bytes after PrivateKeyInfo")
    version, pos = _read(seq, 0, 0x02)
    if version not in (b"\x00", b"\x01"):
        raise ValueError("unsupported PrivateKeyInfo version")
    alg, pos = _read(seq, pos, 0x30)
    oid_value, alg_end = _read(alg, 0, 0x06)
    if alg_end != len(alg):
        raise ValueError("unexpected AlgorithmIdentifier parameters")
    key, pos = _read(seq, pos, 0x04)
    if pos != len(seq):
        # attributes [0] or publicKey [1]: not part of the composite form
        raise ValueError("PrivateKeyInfo attributes or public key are not supported")
    return _tlv(0x06, oid_value), key


def encode_ec_private_key(secret: int, size: int, curve_oid: str) -> bytes:
    """RFC 5915 ECPrivateKey with curve parameters and no public key."""
    body = (
        _tlv(0x02, b"\x01")
        + _tlv(0x04, secret.to_bytes(size, "big"))
        + _tlv(0xA0, encode_oid(curve_oid))
    )
    return _tlv(0x30, body)
