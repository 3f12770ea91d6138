"""DSSE envelopes: strict parsing, PAE, signing, and verification against a trust store.

Parsing is strict (see docs/adr/0002-envelope-and-canonicalisation.md): the
envelope must be a JSON object with ``payload``, ``payloadType`` and a
non-empty ``signatures`` list; base64 in the standard or URL-safe alphabet is
accepted; a non-ASCII payloadType, duplicate signatures, duplicate JSON keys and
envelopes over the size limit are refused. Verification hands back the exact
payload bytes that were verified, never a re-serialisation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from securesystemslib.signer import Signer

from qprov._canon import loads_strict
from qprov.errors import MalformedInputError, PolicyError
from qprov.keys import _b64decode
from qprov.trust import TrustStore

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "MAX_ENVELOPE_BYTES",
    "Envelope",
    "EnvelopeSignature",
    "VerifiedPayload",
    "pae",
    "parse_envelope",
    "sign_envelope",
    "verify_envelope",
]

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: Largest envelope accepted (an SBOM predicate of a big environment fits easily).
MAX_ENVELOPE_BYTES = 32 * 1024 * 1024
_MAX_SIGNATURES = 16


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding. LEN() counts UTF-8 bytes."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload: bytes
    payload_type: str
    signatures: tuple[EnvelopeSignature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_dict(self) -> dict[str, object]:
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("ascii") + b"\n"


@dataclass(frozen=True)
class VerifiedPayload:
    """What verification returns: the exact verified bytes and who signed them."""

    payload: bytes
    payload_type: str
    keyids: tuple[str, ...]
    role: str


def _check_payload_type(payload_type: object) -> str:
    if not isinstance(payload_type, str) or not payload_type:
        raise MalformedInputError("DSSE envelope: payloadType must be a non-empty string")
    if not payload_type.isascii() or not payload_type.isprintable():
        raise MalformedInputError("DSSE envelope: payloadType must be printable ASCII")
    return payload_type


def parse_envelope(data: bytes, *, max_bytes: int = MAX_ENVELOPE_BYTES) -> Envelope:
    """Parse a DSSE envelope (JSON bytes) strictly. Raises MalformedInputError."""
    doc = loads_strict(data, what="DSSE envelope", max_bytes=max_bytes)
    return envelope_from_dict(doc)


def envelope_from_dict(doc: object) -> Envelope:
    if not isinstance(doc, dict):
        raise MalformedInputError("DSSE envelope must be a JSON object")
    missing = [k for k in ("payload", "payloadType", "signatures") if k not in doc]
    if missing:
        raise MalformedInputError(f"DSSE envelope is missing {', '.join(missing)}")
    payload = _b64decode(doc["payload"], "DSSE payload")
    payload_type = _check_payload_type(doc["payloadType"])
    sigs = doc["signatures"]
    if not isinstance(sigs, list) or not sigs:
        raise MalformedInputError("DSSE envelope has no signatures")
    if len(sigs) > _MAX_SIGNATURES:
        raise MalformedInputError(f"DSSE envelope has more than {_MAX_SIGNATURES} signatures")
    parsed: list[EnvelopeSignature] = []
    for i, entry in enumerate(sigs):
        if not isinstance(entry, dict) or "sig" not in entry:
            raise MalformedInputError(f"DSSE signature {i} must be an object with 'sig'")
        keyid = entry.get("keyid", "")
        if not isinstance(keyid, str):
            raise MalformedInputError(f"DSSE signature {i}: keyid must be a string")
        sig = _b64decode(entry["sig"], f"DSSE signature {i}")
        if not sig:
            raise MalformedInputError(f"DSSE signature {i} is empty")
        for prev in parsed:
            if prev.sig == sig or (keyid and prev.keyid == keyid):
                raise MalformedInputError(
                    f"DSSE envelope has duplicate signatures (key id {keyid or '(none)'})"
                )
        parsed.append(EnvelopeSignature(keyid, sig))
    return Envelope(payload, payload_type, tuple(parsed))


def sign_envelope(payload: bytes, payload_type: str, signers: Sequence[Signer]) -> Envelope:
    """Sign ``payload`` with every signer (securesystemslib ``Signer`` objects)."""
    _check_payload_type(payload_type)
    if not signers:
        raise MalformedInputError("at least one signer is required")
    data = pae(payload_type, payload)
    sigs = []
    for signer in signers:
        s = signer.sign(data)
        sigs.append(EnvelopeSignature(s.keyid, bytes.fromhex(s.signature)))
    return Envelope(payload, payload_type, tuple(sigs))


def verify_envelope(
    envelope: Envelope | bytes,
    trust: TrustStore,
    role: str,
    *,
    payload_type: str | None = None,
) -> VerifiedPayload:
    """Verify an envelope for ``role``; return the verified payload bytes or raise.

    ``payload_type``, when given, must match exactly (checked after the
    signatures, so a forged type is reported as a signature failure first).
    """
    env = parse_envelope(envelope) if isinstance(envelope, bytes) else envelope
    keyids = trust.verify_signatures(env.pae(), [(s.keyid, s.sig) for s in env.signatures], role)
    if payload_type is not None and env.payload_type != payload_type:
        raise PolicyError(f"payloadType is {env.payload_type!r}, expected {payload_type!r}")
    return VerifiedPayload(env.payload, env.payload_type, tuple(keyids), role)
