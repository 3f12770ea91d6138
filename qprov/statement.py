"""in-toto Statement v1: build, sign, parse and verify.

A Statement is a foreign format (other tools write them): unknown top-level
fields are ignored as the in-toto specification asks, but the required fields
are checked strictly. qprov's own predicates validate themselves and reject
unknown fields (docs/adr/0003-unknown-fields.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from securesystemslib.signer import Signer

from qprov._canon import canonical_json, loads_strict
from qprov.dsse import (
    INTOTO_PAYLOAD_TYPE,
    Envelope,
    VerifiedPayload,
    sign_envelope,
    verify_envelope,
)
from qprov.errors import MalformedInputError, PolicyError
from qprov.trust import TrustStore

__all__ = [
    "STATEMENT_TYPE",
    "Statement",
    "Subject",
    "parse_statement",
    "sign_statement",
    "subject_for_bytes",
    "verify_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_HEX = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": 40}
_HEX_RE = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Subject:
    name: str
    digest: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": dict(self.digest)}


def subject_for_bytes(name: str, data: bytes) -> Subject:
    return Subject(name, {"sha256": hashlib.sha256(data).hexdigest()})


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_dict() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }

    def to_bytes(self) -> bytes:
        """RFC 8785 canonical bytes: the payload that gets signed."""
        return canonical_json(self.to_dict())

    def matches(self, data: bytes) -> Subject:
        """The subject whose sha256 equals the digest of ``data``, or PolicyError."""
        digest = hashlib.sha256(data).hexdigest()
        for s in self.subjects:
            if s.digest.get("sha256") == digest:
                return s
        raise PolicyError(f"no subject of the statement matches sha256:{digest}")


def _parse_digest(value: Any, i: int) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise MalformedInputError(f"statement subject {i}: digest must be a non-empty object")
    out: dict[str, str] = {}
    for alg, hexval in value.items():
        if not isinstance(hexval, str):
            raise MalformedInputError(f"statement subject {i}: digest {alg} must be a string")
        if alg in _HEX and (len(hexval) != _HEX[alg] or not _HEX_RE.match(hexval)):
            raise MalformedInputError(
                f"statement subject {i}: {alg} digest must be {_HEX[alg]} lowercase hex digits"
            )
        out[alg] = hexval
    return out


def statement_from_dict(doc: Any) -> Statement:
    if not isinstance(doc, dict):
        raise MalformedInputError("statement must be a JSON object")
    if doc.get("_type") != STATEMENT_TYPE:
        raise MalformedInputError(f"statement _type must be {STATEMENT_TYPE}")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise MalformedInputError("statement has no subject")
    parsed = []
    for i, s in enumerate(subjects):
        if not isinstance(s, dict):
            raise MalformedInputError(f"statement subject {i} must be an object")
        name = s.get("name", "")
        if not isinstance(name, str):
            raise MalformedInputError(f"statement subject {i}: name must be a string")
        parsed.append(Subject(name, _parse_digest(s.get("digest"), i)))
    ptype = doc.get("predicateType")
    if not isinstance(ptype, str) or not ptype:
        raise MalformedInputError("statement predicateType must be a non-empty string")
    predicate = doc.get("predicate", {})
    if not isinstance(predicate, dict):
        raise MalformedInputError("statement predicate must be an object")
    return Statement(tuple(parsed), ptype, predicate)


def parse_statement(payload: bytes) -> Statement:
    return statement_from_dict(loads_strict(payload, what="in-toto statement"))


def sign_statement(statement: Statement, signers: Sequence[Signer]) -> Envelope:
    return sign_envelope(statement.to_bytes(), INTOTO_PAYLOAD_TYPE, signers)


@dataclass(frozen=True)
class VerifiedStatement:
    statement: Statement
    verified: VerifiedPayload


def verify_statement(
    envelope: Envelope | bytes,
    trust: TrustStore,
    role: str,
    *,
    predicate_type: str | None = None,
) -> VerifiedStatement:
    """Verify the envelope for ``role``, then parse the verified payload bytes."""
    verified = verify_envelope(envelope, trust, role, payload_type=INTOTO_PAYLOAD_TYPE)
    statement = parse_statement(verified.payload)
    if predicate_type is not None and statement.predicate_type != predicate_type:
        raise PolicyError(
            f"predicateType is {statement.predicate_type!r}, expected {predicate_type!r}"
        )
    return VerifiedStatement(statement, verified)
