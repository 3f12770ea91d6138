"""Redis store: the replay fast path (atomic Lua scripts, keys expire by TTL)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import redis
import redis.exceptions

from qprov.errors import ConfigError, ReplayError, ServiceUnavailableError
from qprov.store._base import (
    Store,
    StoredDecision,
    check_namespace,
    check_nonce,
    check_quota,
    quota_refusal,
    to_micros,
)

# The stored value is the expiry (µs since the epoch, injected time); the key's
# TTL only reclaims memory. Replay is decided against the caller's ``now``.
_ADMIT: Final = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""

# KEYS[1]: sorted set of "<shots>:<at_us>:<uuid>" scored by at_us.
# ARGV: now_us, window_us, shots, limit, member, ttl_ms
_CONSUME: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local used = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  used = used + tonumber(string.match(member, '^(%d+):'))
end
if used + tonumber(ARGV[3]) > tonumber(ARGV[4]) then
  return {0, used}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, used + tonumber(ARGV[3])}
"""


class RedisStore(Store):
    """Nonces and quotas in Redis under ``<namespace>:``.

    Audit records are not kept: Redis is commonly run without persistence, and
    an audit trail that can vanish is not one. :meth:`record_decision` and
    :meth:`list_decisions` raise :class:`qprov.errors.ConfigError`; configure a
    SQLite or PostgreSQL store for audit (``supports_audit`` is false).
    """

    supports_audit = False

    def __init__(self, url: str, *, namespace: str, timeout: float = 5.0) -> None:
        ns = check_namespace(namespace)
        self._prefix = f"{ns}:"
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            self._client.ping()
        except (redis.exceptions.RedisError, ValueError) as exc:
            raise ServiceUnavailableError(f"Redis store unreachable: {exc}") from None
        self._closed = False
        self._admit = self._client.register_script(_ADMIT)
        self._consume = self._client.register_script(_CONSUME)

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        if self._closed:
            raise ServiceUnavailableError("the Redis store is closed")
        try:
            return script(keys=keys, args=args)
        except redis.exceptions.RedisError as exc:
            raise ServiceUnavailableError(f"Redis store: {exc}") from None

    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        expires_us, now_us = check_nonce(nonce, expires_at, now)
        ttl_ms = max(1, -(-(expires_us - now_us) // 1000))
        admitted = self._call(
            self._admit, [f"{self._prefix}nonce:{nonce}"], [expires_us, now_us, ttl_ms]
        )
        if int(admitted) != 1:
            raise ReplayError(f"nonce {nonce!r} was already admitted")

    def purge_expired(self, now: datetime) -> int:
        """Redis reclaims expired keys by their TTL: nothing to do, returns 0."""
        to_micros(now, "now")
        return 0

    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        now_us = check_quota(submitter, shots, limit, window_seconds, now)
        window_us = window_seconds * 1_000_000
        member = f"{shots}:{now_us}:{uuid.uuid4().hex}"
        consumed, used = self._call(
            self._consume,
            [f"{self._prefix}quota:{submitter}"],
            [now_us, window_us, shots, limit, member, window_seconds * 1000],
        )
        if int(consumed) != 1:
            raise quota_refusal(int(used), shots, limit, window_seconds)
        return int(used)

    def record_decision(self, record: Mapping[str, Any]) -> None:
        raise ConfigError(
            "the Redis store keeps no audit records; use a sqlite or postgresql store for audit"
        )

    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        raise ConfigError(
            "the Redis store keeps no audit records; use a sqlite or postgresql store for audit"
        )

    def ping(self) -> None:
        """``PING``; raises ServiceUnavailableError when Redis does not answer."""
        if self._closed:
            raise ServiceUnavailableError("the Redis store is closed")
        try:
            self._client.ping()
        except redis.exceptions.RedisError as exc:
            raise ServiceUnavailableError(f"Redis store: {exc}") from None

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(redis.exceptions.RedisError):
            self._client.close()
