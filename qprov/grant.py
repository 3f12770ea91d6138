"""Grants: an owner delegates a scoped, expiring right to submit jobs to an agent's key.

An agent never holds a long-lived key. Its owner (a key of the trust file's
``owner`` role) signs a *grant* statement (predicate
``https://qprov.dev/attestations/grant/v1``, spec ``attestations/grant.md``)
that binds the agent's public key (by key id and PEM) to a scope: backends,
shots per job and in total, gates, one experiment, and a validity window.
The gateway admits a manifest signed by the agent's key only with such a grant
in the bundle, and only inside its scope.

A grant is revoked by a *grant revocation* statement signed by an owner key,
whose subject is the grant's digest (the sha256 of the grant's signed
statement bytes), listed in the admission policy (``[agents] revocations``);
or by listing the digest in ``[agents] revoked_grants``; or by revoking the
agent's (or the owner's) key in the trust file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Self

from securesystemslib.signer import Signer

from qprov._canon import loads_strict
from qprov._predicate import (
    Fields,
    Predicate,
    Sha256,
    check_sha256,
    format_time,
    predicate_type,
)
from qprov.dsse import INTOTO_PAYLOAD_TYPE, Envelope, envelope_from_dict, parse_envelope
from qprov.errors import (
    ConfigError,
    Error,
    ExpiredError,
    MalformedInputError,
)
from qprov.keys import PublicKey, load_public_key
from qprov.statement import Statement, Subject, parse_statement, sign_statement, verify_statement
from qprov.trust import TrustStore

__all__ = [
    "GRANT_PREDICATE_TYPE",
    "OWNER_ROLE",
    "REVOCATION_PREDICATE_TYPE",
    "Grant",
    "GrantRevocation",
    "GrantScope",
    "GATE_RE",
    "NAME_RE",
    "ParsedGrant",
    "RevocationList",
    "VerifiedGrant",
    "create_grant",
    "grant_digest",
    "parse_grant",
    "parse_revocations",
    "revoke_grant",
    "verify_grant",
]

GRANT_PREDICATE_TYPE: Final = predicate_type("grant")
REVOCATION_PREDICATE_TYPE: Final = predicate_type("grant-revocation")
#: The trust role whose keys sign grants and their revocations.
OWNER_ROLE: Final = "owner"
_KEYID_RE: Final = re.compile(r"[0-9a-f]{64}")
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
"""Backend names, experiment ids: printable, no spaces."""
GATE_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_REVOCATIONS_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class GrantScope:
    """What an agent may do under a grant."""

    backends: tuple[str, ...]
    max_shots_per_job: int
    max_total_shots: int
    gates: tuple[str, ...]
    experiment: str

    def __post_init__(self) -> None:
        if not self.backends or not self.gates:
            raise MalformedInputError("a grant scope needs at least one backend and one gate")
        if self.max_shots_per_job < 1 or self.max_total_shots < self.max_shots_per_job:
            raise MalformedInputError(
                "a grant needs maxShotsPerJob >= 1 and maxTotalShots >= maxShotsPerJob"
            )

    def violations(
        self, *, backend: str, shots: int, gates: Iterable[str], experiment: str
    ) -> list[str]:
        """Every way a job falls outside this scope (empty when it is inside)."""
        out = []
        if backend not in self.backends:
            out.append(f"backend {backend!r} is not in the grant ({', '.join(self.backends)})")
        if shots > self.max_shots_per_job:
            out.append(f"{shots} shots exceed the grant's {self.max_shots_per_job} per job")
        bad = sorted(set(gates) - set(self.gates))
        if bad:
            out.append(f"gates not in the grant: {', '.join(bad)}")
        if experiment != self.experiment:
            out.append(f"experiment {experiment!r} is not the grant's {self.experiment!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "backends": list(self.backends),
            "maxShotsPerJob": self.max_shots_per_job,
            "maxTotalShots": self.max_total_shots,
            "gates": list(self.gates),
            "experiment": self.experiment,
        }


@dataclass(frozen=True)
class Grant(Predicate):
    """The grant predicate: an agent key, its scope and validity window."""

    NAME: ClassVar[str] = "grant"
    PREDICATE_TYPE: ClassVar[str] = GRANT_PREDICATE_TYPE

    agent_keyid: str
    agent_public_key: str  # PEM
    scope: GrantScope
    not_before: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at <= self.not_before:
            raise MalformedInputError("grant expiresAt must be after notBefore")

    @property
    def agent_key(self) -> PublicKey:
        return load_public_key(self.agent_public_key.encode("ascii", "replace"))

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        f = Fields(doc, "grant predicate")
        agent = f.req_fields("agent")
        keyid = agent.req_string("keyid", pattern=_KEYID_RE)
        pem = agent.req_string("publicKey", max_length=16384)
        agent.done()
        key = load_public_key(pem.encode("ascii", "replace"))
        if key.keyid != keyid:
            raise MalformedInputError(
                f"grant predicate: agent.keyid {keyid[:16]}… is not the key id of "
                f"agent.publicKey ({key.keyid[:16]}…)"
            )
        s = f.req_fields("scope")
        scope = GrantScope(
            backends=s.string_list("backends", pattern=NAME_RE),
            max_shots_per_job=s.req_integer("maxShotsPerJob", minimum=1),
            max_total_shots=s.req_integer("maxTotalShots", minimum=1),
            gates=s.string_list("gates", pattern=GATE_RE),
            experiment=s.req_string("experiment", pattern=NAME_RE),
        )
        s.done()
        grant = cls(keyid, pem, scope, f.time("notBefore"), f.time("expiresAt"))
        f.done()
        return grant

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": {"keyid": self.agent_keyid, "publicKey": self.agent_public_key},
            "scope": self.scope.to_dict(),
            "notBefore": format_time(self.not_before),
            "expiresAt": format_time(self.expires_at),
        }

    def subject(self) -> Subject:
        der = self.agent_key.to_spki_der()
        return Subject(f"agent-key:{self.agent_keyid}", {"sha256": hashlib.sha256(der).hexdigest()})

    def statement(self) -> Statement:
        return Statement((self.subject(),), GRANT_PREDICATE_TYPE, self.to_dict())

    def check_window(self, now: datetime, clock_skew: timedelta) -> None:
        """Raise ExpiredError unless ``now`` is within [notBefore, expiresAt] ± skew."""
        if now + clock_skew < self.not_before:
            raise ExpiredError(f"grant is not valid before {format_time(self.not_before)}")
        if now - clock_skew >= self.expires_at:
            raise ExpiredError(f"grant expired at {format_time(self.expires_at)}")


def grant_digest(envelope: Envelope) -> Sha256:
    """The grant's digest: sha256 of its signed statement bytes (the DSSE payload)."""
    return Sha256(hashlib.sha256(envelope.payload).hexdigest())


@dataclass(frozen=True)
class ParsedGrant:
    """A grant read from an envelope, not yet verified."""

    envelope: Envelope
    grant: Grant
    digest: Sha256


def parse_grant(envelope: Envelope | bytes | Mapping[str, Any]) -> ParsedGrant:
    """Parse a grant envelope and its predicate strictly (no signature check)."""
    if isinstance(envelope, bytes):
        env = parse_envelope(envelope)
    elif isinstance(envelope, Envelope):
        env = envelope
    else:
        env = envelope_from_dict(envelope)
    if env.payload_type != INTOTO_PAYLOAD_TYPE:
        raise MalformedInputError(f"grant envelope payloadType must be {INTOTO_PAYLOAD_TYPE}")
    statement = parse_statement(env.payload)
    grant = Grant.parse_predicate(statement.predicate_type, statement.predicate)
    if len(statement.subjects) != 1 or statement.subjects[0] != grant.subject():
        raise MalformedInputError("grant statement subject must be exactly the agent key")
    return ParsedGrant(env, grant, grant_digest(env))


@dataclass(frozen=True)
class VerifiedGrant:
    """A grant whose owner signature verified."""

    grant: Grant
    digest: Sha256
    owner_keyids: tuple[str, ...]


def verify_grant(parsed: ParsedGrant, trust: TrustStore) -> VerifiedGrant:
    """Verify the owner's signature (role ``owner``, crypto policy, revoked keys) or raise."""
    verified = verify_statement(
        parsed.envelope, trust, OWNER_ROLE, predicate_type=GRANT_PREDICATE_TYPE
    )
    return VerifiedGrant(parsed.grant, parsed.digest, verified.verified.keyids)


def create_grant(
    agent_key: PublicKey,
    *,
    backends: Sequence[str],
    max_shots_per_job: int,
    max_total_shots: int,
    gates: Sequence[str],
    experiment: str,
    not_before: datetime,
    expires_at: datetime,
    signer: Signer,
) -> Envelope:
    """Sign a grant for ``agent_key`` with the owner's ``signer``."""
    grant = Grant.from_dict(
        Grant(
            agent_key.keyid,
            agent_key.to_pem().decode("ascii"),
            GrantScope(
                tuple(backends),
                max_shots_per_job,
                max_total_shots,
                tuple(gates),
                experiment,
            ),
            not_before,
            expires_at,
        ).to_dict()
    )  # round trip: every field checked as a verifier will check it
    return sign_statement(grant.statement(), [signer])


# -- revocation ----------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRevocation(Predicate):
    """The grant revocation predicate; the subject is the revoked grant's digest."""

    NAME: ClassVar[str] = "grant-revocation"
    PREDICATE_TYPE: ClassVar[str] = REVOCATION_PREDICATE_TYPE

    revoked_at: datetime
    reason: str | None = None

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        f = Fields(doc, "grant-revocation predicate")
        revoked_at = f.time("revokedAt")
        reason = f.string("reason", required=False, max_length=1024)
        f.done()
        return cls(revoked_at, reason)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"revokedAt": format_time(self.revoked_at)}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def revoke_grant(
    grant: ParsedGrant, signer: Signer, *, now: datetime, reason: str | None = None
) -> Envelope:
    """Sign a revocation of ``grant`` (by an owner key)."""
    revocation = GrantRevocation.from_dict(GrantRevocation(now, reason).to_dict())
    statement = Statement(
        (Subject("grant", {"sha256": grant.digest}),),
        REVOCATION_PREDICATE_TYPE,
        revocation.to_dict(),
    )
    return sign_statement(statement, [signer])


@dataclass(frozen=True)
class _Revocation:
    digest: Sha256
    revocation: GrantRevocation
    envelope: Envelope


class RevocationList:
    """Revoked grant digests: from signed revocation statements and plain digests."""

    def __init__(self, statements: Iterable[Envelope] = (), digests: Iterable[str] = ()) -> None:
        self._plain = frozenset(check_sha256(d, "revoked grant digest") for d in digests)
        self._signed: dict[Sha256, _Revocation] = {}
        for i, env in enumerate(statements):
            if env.payload_type != INTOTO_PAYLOAD_TYPE:
                raise ConfigError(
                    f"grant revocation {i}: payloadType must be {INTOTO_PAYLOAD_TYPE}"
                )
            try:
                st = parse_statement(env.payload)
                rev = GrantRevocation.parse_predicate(st.predicate_type, st.predicate)
                if len(st.subjects) != 1:
                    raise MalformedInputError("a revocation names exactly one grant")
                digest = check_sha256(st.subjects[0].digest.get("sha256"), "subject digest")
            except MalformedInputError as exc:
                raise ConfigError(f"grant revocation {i}: {exc}") from None
            self._signed[digest] = _Revocation(digest, rev, env)

    def __len__(self) -> int:
        return len(self._plain | set(self._signed))

    def verify(self, trust: TrustStore) -> None:
        """Check every signed revocation is by an ``owner`` key; ConfigError otherwise.

        Done once when an admitter is built, so a forged or broken revocation file
        stops the gateway from starting instead of being silently ignored.
        """
        for digest, rev in self._signed.items():
            try:
                verify_statement(rev.envelope, trust, OWNER_ROLE)
            except Error as exc:
                raise ConfigError(f"revocation of grant {digest[:16]}…: {exc}") from None

    def reason(self, digest: str) -> str | None:
        """Why the grant with ``digest`` is revoked, or None if it is not."""
        signed = self._signed.get(Sha256(digest))
        if signed is not None:
            rev = signed.revocation
            why = f": {rev.reason}" if rev.reason else ""
            return f"grant sha256:{digest} was revoked at {format_time(rev.revoked_at)}{why}"
        if digest in self._plain:
            return f"grant sha256:{digest} is listed in the policy's revoked_grants"
        return None


def parse_revocations(data: bytes, *, what: str = "revocation file") -> list[Envelope]:
    """Parse a revocation file: DSSE envelopes, one JSON document per line."""
    if len(data) > _MAX_REVOCATIONS_BYTES:
        raise ConfigError(f"{what} is larger than {_MAX_REVOCATIONS_BYTES} bytes")
    out = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(envelope_from_dict(loads_strict(line, what=f"{what} line {n}")))
        except MalformedInputError as exc:
            raise ConfigError(f"{what} line {n}: {exc}") from None
    return out
