"""The nonce and the audit record written together (``Store.admit_and_record``).

With no quota configured and no grant, the nonce is the only thing an admission
consumes; admission then writes it in the same transaction as the "admitted"
audit record (one commit; on PostgreSQL one statement). A replay found there is
reported exactly as before and its refusal recorded. Every test runs against
the three real backends (Redis keeps no records and uses ``admit_nonce``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qprov._canon import canonical_json
from qprov.admission import CHECKS, AdmissionDecision, Admitter, parse_decision
from qprov.errors import ReplayError
from qprov.policy import AdmissionPolicy
from qprov.statement import verify_statement
from qprov.store import Store, StoredDecision, open_store

from ._env import BELL, GHZ3, NOW, Env
from .conftest import _drop, open_or_skip, store_url


def no_quota(env: Env) -> AdmissionPolicy:
    return dataclasses.replace(env.policy, quota=None)


def verdicts(store: Store) -> list[str]:
    return [r.record["predicate"]["verdict"] for r in store.list_decisions(limit=10_000)]


class CountingStore(Store):
    """A real store behind a wrapper that counts the calls admission makes."""

    def __init__(self, inner: Store, *, forward_admit_and_record: bool = True) -> None:
        self.inner = inner
        self.supports_audit = inner.supports_audit
        self.forward = forward_admit_and_record
        self.calls: list[str] = []

    def admit_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> None:
        self.calls.append("admit_nonce")
        self.inner.admit_nonce(nonce, expires_at, now)

    def admit_and_record(
        self, nonce: str, expires_at: datetime, now: datetime, record: Mapping[str, Any]
    ) -> None:
        self.calls.append("admit_and_record")
        if self.forward:
            self.inner.admit_and_record(nonce, expires_at, now, record)
        else:  # the interface's default: what a Store written before this method does
            super().admit_and_record(nonce, expires_at, now, record)

    def purge_expired(self, now: datetime) -> int:
        return self.inner.purge_expired(now)

    def consume_quota(
        self, submitter: str, shots: int, limit: int, window_seconds: int, now: datetime
    ) -> int:
        self.calls.append("consume_quota")
        return self.inner.consume_quota(submitter, shots, limit, window_seconds, now)

    def record_decision(self, record: Mapping[str, Any]) -> None:
        self.calls.append("record_decision")
        self.inner.record_decision(record)

    def list_decisions(self, *, after: int = 0, limit: int = 100) -> list[StoredDecision]:
        return self.inner.list_decisions(after=after, limit=limit)

    def close(self) -> None:
        self.inner.close()


def test_admitted_with_its_record_in_one_call_then_replay_recorded(env: Env, store: Store) -> None:
    counting = CountingStore(store)
    admitter = Admitter(trust=env.trust, policy=no_quota(env), store=counting)
    bundle = env.bundle().to_json()
    first = admitter.admit(bundle, BELL, now=NOW)
    assert first.admitted, first.failures
    assert [c.name for c in first.checks] == list(CHECKS)
    assert first.check("quota").reason == "no quota configured"
    assert first.check("grant-shots").reason == "not needed: no grant"
    second = admitter.admit(bundle, BELL, now=NOW + timedelta(seconds=30))
    assert not second.admitted
    assert [c.name for c in second.failures] == ["replay"]
    assert "already admitted" in second.check("replay").reason
    assert second.check("quota").skipped
    assert second.check("grant-shots").skipped
    assert issubclass(second.check("replay").error or Exception, ReplayError)
    if store.supports_audit:
        # one call (one transaction) for the admission; the replay costs one more to record
        assert counting.calls == ["admit_and_record", "admit_and_record", "record_decision"]
        records = store.list_decisions()
        assert verdicts(store) == ["admitted", "refused"]
        assert records[0].record == first.statement_dict() == first.statement().to_dict()
        assert records[1].record == second.statement().to_dict()
    else:
        assert counting.calls == ["admit_nonce", "admit_nonce"]


def test_refused_by_another_check_consumes_nothing_and_is_recorded(env: Env, store: Store) -> None:
    counting = CountingStore(store)
    admitter = Admitter(trust=env.trust, policy=no_quota(env), store=counting)
    bundle = env.bundle().to_json()
    refused = admitter.admit(bundle, GHZ3, now=NOW)
    assert [c.name for c in refused.failures] == ["circuit-digest"]
    assert {c.name for c in refused.checks if c.skipped} == {"replay", "quota", "grant-shots"}
    assert admitter.admit(bundle, BELL, now=NOW).admitted  # the nonce is still fresh
    if store.supports_audit:
        assert counting.calls == ["record_decision", "admit_and_record"]
        assert verdicts(store) == ["refused", "admitted"]


def test_quota_configured_keeps_the_consuming_order(env: Env, store: Store) -> None:
    """With a quota the nonce is consumed first, then the quota, then the record is written."""
    counting = CountingStore(store)
    admitter = Admitter(trust=env.trust, policy=env.policy, store=counting)
    assert admitter.admit(env.bundle().to_json(), BELL, now=NOW).admitted
    expected = ["admit_nonce", "consume_quota"]
    assert counting.calls == ([*expected, "record_decision"] if store.supports_audit else expected)


def test_signed_decisions_recorded_with_their_envelopes(env: Env, store: Store) -> None:
    admitter = Admitter(
        trust=env.trust, policy=no_quota(env), store=store, signer=env.keys.signer("gateway")
    )
    bundle = env.bundle().to_json()
    decisions = [admitter.admit(bundle, BELL, now=NOW) for _ in range(2)]
    assert [d.verdict for d in decisions] == ["admitted", "refused"]
    for decision in decisions:
        assert decision.envelope is not None
        verified = verify_statement(
            decision.envelope, env.trust, "gateway", predicate_type=AdmissionDecision.PREDICATE_TYPE
        )
        assert parse_decision(verified.statement) == decision
        # the signed bytes are the canonical form of the recorded statement
        assert decision.envelope.payload == canonical_json(decision.statement_dict())
    if store.supports_audit:
        records = store.list_decisions()
        assert [r.record["statement"]["predicate"]["verdict"] for r in records] == [
            "admitted",
            "refused",
        ]
        for record, decision in zip(records, decisions, strict=True):
            assert decision.envelope is not None
            assert record.record["envelope"] == decision.envelope.to_dict()
            assert record.record["statement"] == decision.statement_dict()


def test_store_without_its_own_admit_and_record_uses_the_default(
    env: Env, sqlite_store: Store
) -> None:
    """A Store implementation that predates admit_and_record still records every decision."""
    wrapper = CountingStore(sqlite_store, forward_admit_and_record=False)
    admitter = Admitter(trust=env.trust, policy=no_quota(env), store=wrapper)
    bundle = env.bundle().to_json()
    assert admitter.admit(bundle, BELL, now=NOW).admitted
    assert not admitter.admit(bundle, BELL, now=NOW).admitted
    assert wrapper.calls == [
        "admit_and_record",
        "admit_nonce",
        "record_decision",
        "admit_and_record",
        "admit_nonce",
        "record_decision",
    ]
    assert verdicts(sqlite_store) == ["admitted", "refused"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "redis"])
def test_concurrent_admissions_of_one_manifest_one_admitted_record(
    env: Env, tmp_path: Path, backend: str
) -> None:
    """200 concurrent admissions of one manifest through two store objects (two pools)."""
    namespace = f"u{uuid.uuid4().hex[:12]}"
    url = store_url(backend, tmp_path)
    stores = [open_or_skip(backend, url, namespace) for _ in range(2)]
    try:
        admitters = [Admitter(trust=env.trust, policy=no_quota(env), store=s) for s in stores]
        bundle = env.bundle().to_json()
        with ThreadPoolExecutor(16) as pool:
            decisions = list(
                pool.map(lambda i: admitters[i % 2].admit(bundle, BELL, now=NOW), range(200))
            )
        assert sum(d.admitted for d in decisions) == 1
        assert {c.name for d in decisions for c in d.failures} == {"replay"}
        if stores[0].supports_audit:
            found = verdicts(stores[0])
            assert found.count("admitted") == 1
            assert found.count("refused") == 199
    finally:
        for s in stores:
            s.close()
        _drop(backend, namespace)


def test_reopened_store_sees_the_recorded_admission(env: Env, tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    bundle = env.bundle().to_json()
    with open_store(url) as first:
        Admitter(trust=env.trust, policy=no_quota(env), store=first).admit(bundle, BELL, now=NOW)
    with open_store(url) as second:
        assert verdicts(second) == ["admitted"]
        again = Admitter(trust=env.trust, policy=no_quota(env), store=second)
        assert [c.name for c in again.admit(bundle, BELL, now=NOW).failures] == ["replay"]
        assert verdicts(second) == ["admitted", "refused"]
