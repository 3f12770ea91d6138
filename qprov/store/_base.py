"""The store interface and the checks every backend shares."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

from qprov.errors import ConfigError, ExpiredError, MalformedInputError, PolicyError

MAX_NONCE_LENGTH: Final = 256
DEFAULT_NAMESPACE: Final = "qprov"
_NAMESPACE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class QuotaExceededError(PolicyError):
    """A submitter's quota for the time window would be exceeded."""

    def __init__(self, message: str, used: int, limit: int) -> None:
        super().__init__(message)
        self.used = used
        self.limit = limit


@dataclass(frozen=True)
class StoredDecision:
    """An audit record as stored: its sequence number and the record."""

    seq: int
    record: Mapping[str, Any]


class Store(ABC):
    """Replay (nonce) store, submitter quota and audit records.

    Every operation is atomic across processes and machines sharing the
    backend. Time is always passed in (``now``); a store never reads a clock.
    Backends raise only :mod:`qprov.errors` exceptions; an unreachable backend
    raises :class:`qprov.errors.ServiceUnavailableError`.
    """

    #: Whether :meth:`record_decision` / :meth:`list_decisions` keep records.
    supports_audit: bool = True

    @abstractmethod
    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        """Admit ``nonce`` once until ``expires_at``.

        Raises :class:`qprov.errors.ReplayError` if it was admitted before and
        that admission has not expired at ``now``, and
        :class:`qprov.errors.ExpiredError` if ``expires_at`` is not after ``now``.
        """

    @abstractmethod
    def purge_expired(self, now: datetime) -> int:
        """Delete nonces (and quota entries) expired at ``now``; return the nonces removed."""

    @abstractmethod
    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        """Add ``shots`` to the submitter's use in the window ending at ``now``.

        Returns the use in the window including these shots. Raises
        :class:`QuotaExceededError` (consuming nothing) when it would exceed
        ``limit``.
        """

    @abstractmethod
    def record_decision(self, record: Mapping[str, Any]) -> None:
        """Append an audit record (a JSON-serialisable mapping)."""

    def admit_and_record(
        self, nonce: str, expires_at: datetime, now: datetime, record: Mapping[str, Any]
    ) -> None:
        """Admit ``nonce`` (as :meth:`admit_nonce`) and append ``record``, atomically.

        Either both are written or neither: an admission that returns has its
        audit record. On a replay (:class:`qprov.errors.ReplayError`) or an
        expired nonce (:class:`qprov.errors.ExpiredError`) nothing is written;
        the caller records its refusal with :meth:`record_decision`. A store
        without audit records (``supports_audit`` false) raises
        :class:`qprov.errors.ConfigError` and consumes nothing.

        SQLite and PostgreSQL do this in one transaction (PostgreSQL: one
        statement, one round trip, one commit). This default, for other
        implementations of the interface, calls :meth:`admit_nonce` then
        :meth:`record_decision`: the record may be missing if the second call
        fails, but it is still written before the caller can acknowledge.
        """
        if not self.supports_audit:
            raise ConfigError(
                "this store keeps no audit records; use a sqlite or postgresql store for audit"
            )
        encode_record(record)  # a bad record fails before the nonce is consumed
        self.admit_nonce(nonce, expires_at, now)
        self.record_decision(record)

    @abstractmethod
    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        """Audit records with a sequence number above ``after``, oldest first."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store cannot be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- shared validation ---------------------------------------------------------------


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace):
        raise ConfigError(
            "store namespace must be 1-40 characters of a-z, 0-9 and _, starting with a letter"
        )
    return namespace


def to_micros(moment: datetime, what: str) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise MalformedInputError(f"{what} must be a timezone-aware datetime")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_nonce(nonce: str, expires_at: datetime, now: datetime) -> tuple[int, int]:
    """Validate arguments of admit_nonce; return (expires_us, now_us)."""
    if not isinstance(nonce, str) or not nonce:
        raise MalformedInputError("nonce must be a non-empty string")
    if len(nonce) > MAX_NONCE_LENGTH or not nonce.isprintable():
        raise MalformedInputError(f"nonce must be at most {MAX_NONCE_LENGTH} printable characters")
    expires_us = to_micros(expires_at, "expires_at")
    now_us = to_micros(now, "now")
    if expires_us <= now_us:
        raise ExpiredError(f"nonce expired at {expires_at.isoformat()}")
    return expires_us, now_us


def check_quota(submitter: str, shots: int, limit: int, window_seconds: int, now: datetime) -> int:
    """Validate arguments of consume_quota; return now in microseconds."""
    if not isinstance(submitter, str) or not submitter or len(submitter) > 1024:
        raise MalformedInputError("submitter must be a non-empty string (at most 1024 chars)")
    for name, value in (("shots", shots), ("limit", limit), ("window_seconds", window_seconds)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise (ConfigError if name != "shots" else MalformedInputError)(
                f"{name} must be a positive integer"
            )
    return to_micros(now, "now")


def quota_refusal(used: int, shots: int, limit: int, window_seconds: int) -> QuotaExceededError:
    return QuotaExceededError(
        f"quota exceeded: {used} shots used in the last {window_seconds}s, "
        f"{shots} more would exceed the limit of {limit}",
        used=used,
        limit=limit,
    )


def encode_record(record: Mapping[str, Any]) -> str:
    if not isinstance(record, Mapping):
        raise MalformedInputError("an audit record must be a mapping")
    try:
        return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MalformedInputError(f"audit record is not JSON-serialisable: {exc}") from None


def decode_record(seq: int, text: str) -> StoredDecision:
    value = json.loads(text)
    return StoredDecision(seq=int(seq), record=value)


def check_listing(after: int, limit: int) -> None:
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise MalformedInputError("after must be a non-negative integer")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10_000:
        raise MalformedInputError("limit must be an integer in 1..10000")
