"""Admission against real SQLite, PostgreSQL and Redis stores: each check failing alone.

Every test that touches the store runs against the three backends (the ``store``
fixture is parametrized). Each refusal is asserted by the check that failed and
its reason, and by every other check passing (or being skipped because a
consuming check never runs after a refusal).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from qprov.admission import CHECKS, AdmissionDecision, Admitter, ReleaseCache, admit, parse_decision
from qprov.dsse import EnvelopeSignature
from qprov.errors import ConfigError, ExpiredError, MalformedInputError, ReplayError
from qprov.grant import parse_grant, revoke_grant
from qprov.manifest import (
    CircuitInfo,
    ManifestBundle,
    approve_bundle,
    build_manifest,
    manifest_statement,
)
from qprov.statement import sign_statement, verify_statement
from qprov.store import Store

from ._env import (
    BELL,
    GHZ3,
    HIDDEN_T,
    NOW,
    OTHER_WHEEL,
    UNPARSEABLE,
    WIDE,
    Env,
    sdk_attestation,
    sha256,
    write_env,
)


def run(
    env: Env, store: Store, bundle: ManifestBundle | bytes, circuit: bytes = BELL, **kwargs: object
) -> AdmissionDecision:
    data = bundle if isinstance(bundle, bytes) else bundle.to_json()
    now = kwargs.pop("now", NOW)
    return admit(data, circuit, trust=env.trust, policy=env.policy, store=store, now=now, **kwargs)  # type: ignore[arg-type]


def assert_refused_by(decision: AdmissionDecision, *names: str, match: str = "") -> None:
    """Refused; exactly ``names`` failed; the consuming checks were skipped."""
    assert decision.verdict == "refused"
    failed = [c.name for c in decision.failures]
    assert failed == list(names), [(c.name, c.reason) for c in decision.failures]
    if match:
        assert match in decision.failures[0].reason, decision.failures[0].reason
    for c in decision.checks:
        assert c.ok or c.name in names or c.skipped, c


def assert_admitted(decision: AdmissionDecision) -> None:
    assert decision.verdict == "admitted", [(c.name, c.reason) for c in decision.failures]
    assert [c.name for c in decision.checks] == list(CHECKS)
    assert all(c.ok and not c.skipped for c in decision.checks)


# -- the happy path, replay, recording -----------------------------------------------------


def test_admitted_then_replay_refused(env: Env, store: Store) -> None:
    bundle = env.bundle()
    first = run(env, store, bundle)
    assert_admitted(first)
    assert first.circuit_sha256 == sha256(BELL)
    assert first.submitter == env.keys.submitter.public_key().keyid
    second = run(env, store, bundle, now=NOW + timedelta(seconds=30))
    assert_refused_by(second, "replay", match="already admitted")
    assert second.check("quota").skipped
    if store.supports_audit:
        records = store.list_decisions()
        assert [r.record["predicate"]["verdict"] for r in records] == ["admitted", "refused"]
        assert records[0].record["subject"][0]["digest"]["sha256"] == first.manifest_sha256


def test_nonce_not_consumed_when_another_check_fails(env: Env, store: Store) -> None:
    bundle = env.bundle()
    refused = run(env, store, bundle, GHZ3)  # wrong circuit: refused, nothing consumed
    assert_refused_by(refused, "circuit-digest")
    assert {c.name for c in refused.checks if c.skipped} == {"replay", "quota", "grant-shots"}
    assert_admitted(run(env, store, bundle))  # the same nonce is still fresh


def test_quota_not_consumed_when_another_check_fails(env: Env, store: Store) -> None:
    for _ in range(3):  # 3 x 4000 shots would exceed the quota of 6000 if counted
        assert_refused_by(run(env, store, env.bundle(shots=4000, backend="qpu")), "approval")
    assert_admitted(run(env, store, env.bundle(shots=4000)))


def test_quota_exceeded(env: Env, store: Store) -> None:
    assert_admitted(run(env, store, env.bundle(shots=4000)))
    decision = run(env, store, env.bundle(shots=4000))
    assert_refused_by(decision, "quota", match="quota exceeded")
    # another submitter has their own quota
    assert_admitted(run(env, store, env.bundle(shots=4000, signer="other_submitter")))


# -- signature, role, crypto policy, revocation ---------------------------------------------


def test_signature_does_not_verify(env: Env, store: Store) -> None:
    bundle = env.bundle()
    sig = bundle.manifest.signatures[0]
    flipped = bytes([sig.sig[0] ^ 1]) + sig.sig[1:]
    forged = replace(
        bundle,
        manifest=replace(bundle.manifest, signatures=(EnvelopeSignature(sig.keyid, flipped),)),
    )
    assert_refused_by(run(env, store, forged), "signature", match="signature")


def test_classical_half_stripped(env: Env, store: Store) -> None:
    bundle = env.bundle()
    sig = bundle.manifest.signatures[0]
    stripped = replace(
        bundle,
        manifest=replace(
            bundle.manifest, signatures=(EnvelopeSignature(sig.keyid, sig.sig[:-64]),)
        ),
    )
    assert_refused_by(run(env, store, stripped), "signature")


def test_signed_by_a_key_of_another_role(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(signer="gateway"))
    assert_refused_by(decision, "signature", "grant")
    assert "trusted for role gateway, not for submitter" in decision.check("signature").reason


def test_revoked_key(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(signer="revoked"))
    assert_refused_by(decision, "revocation", match="is revoked")


def test_classical_only_key_where_composite_is_required(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(signer="classical"))
    assert_refused_by(decision, "signature", match="classical-only")


def test_signature_by_another_key_than_the_named_submitter(env: Env, store: Store) -> None:
    bundle = env.bundle()
    other = env.bundle(signer="other_submitter")
    swapped = replace(
        bundle, manifest=replace(bundle.manifest, signatures=other.manifest.signatures)
    )
    assert_refused_by(run(env, store, swapped), "signature", match="carries no signature")


# -- time ---------------------------------------------------------------------------------


def test_expired(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(), now=NOW + timedelta(minutes=12))
    assert_refused_by(decision, "time", match="expired at 2026-03-01T12:10:00Z")


def test_expired_within_clock_skew_is_admitted(env: Env, store: Store) -> None:
    assert_admitted(run(env, store, env.bundle(), now=NOW + timedelta(minutes=10, seconds=30)))


def test_issued_in_the_future(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(now=NOW + timedelta(minutes=5)))
    assert_refused_by(decision, "time", match="issued in the future")


def test_over_max_lifetime(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(lifetime=timedelta(hours=2)))
    assert_refused_by(decision, "time", match="exceeds the maximum of 3600s")


# -- circuit ------------------------------------------------------------------------------


def test_manifest_for_another_circuit(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(BELL), GHZ3)
    assert_refused_by(decision, "circuit-digest", match=f"received is sha256:{sha256(GHZ3)}")


def test_disallowed_gate_hidden_in_a_gate_definition(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(HIDDEN_T), HIDDEN_T)
    assert_refused_by(decision, "gates", match="t (in innocent)")


def test_qubits_over_the_backend_limit(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(WIDE), WIDE)
    assert_refused_by(decision, "qubits", match="6 qubits exceed aer's limit of 5")


def _manual_bundle(env: Env, circuit: bytes, fmt: str = "openqasm2") -> ManifestBundle:
    """A manifest for bytes qiskit cannot load (create_manifest would refuse them)."""
    good = build_manifest(
        BELL,
        backend="aer",
        shots=100,
        experiment="exp-1",
        submitter=env.keys.submitter.public_key().keyid,
        now=NOW,
    )
    info = CircuitInfo(fmt, len(circuit), 2, 2, 1, {"h": 1})
    statement = manifest_statement(replace(good, circuit=info), "c", circuit)
    return ManifestBundle(sign_statement(statement, [env.keys.signer("submitter")]))


def test_unparseable_circuit(env: Env, store: Store) -> None:
    decision = run(env, store, _manual_bundle(env, UNPARSEABLE), UNPARSEABLE)
    assert_refused_by(decision, "circuit", match="unparseable OpenQASM 2")
    assert decision.check("gates").skipped
    assert decision.check("qubits").skipped


def test_qpy_from_a_newer_format_version(env: Env, store: Store) -> None:
    from qiskit import QuantumCircuit, qpy

    qc = QuantumCircuit(2)
    qc.h(0)
    buffer = io.BytesIO()
    qpy.dump(qc, buffer)
    data = bytearray(buffer.getvalue())
    data[6] = qpy.QPY_VERSION + 1  # the format version byte of the file header
    decision = run(env, store, _manual_bundle(env, bytes(data), "qpy"), bytes(data))
    assert_refused_by(decision, "circuit", match="newer than this qiskit supports")


# -- shots, backend -----------------------------------------------------------------------


def test_shots_over_the_limit(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(shots=4501))
    assert_refused_by(decision, "shots", match="4501 shots exceed the limit of 4500")


def test_backend_not_allowed(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(backend="ibm_secret"))
    assert_refused_by(decision, "backend", match="'ibm_secret' is not allowed")
    assert decision.check("qubits").skipped


# -- approvals ----------------------------------------------------------------------------


def test_approval_required_but_missing(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(backend="qpu", shots=100))
    assert_refused_by(decision, "approval", match="backend qpu requires approval")


def test_approval_by_an_approver(env: Env, store: Store) -> None:
    bundle = approve_bundle(env.bundle(backend="qpu", shots=5500), env.keys.signer("approver"))
    assert len(bundle.manifest.signatures) == 2
    decision = run(env, store, bundle)
    assert_admitted(decision)
    assert "5500 shots > 5000" in decision.check("approval").reason


def test_approval_by_a_non_approver(env: Env, store: Store) -> None:
    bundle = approve_bundle(env.bundle(backend="qpu"), env.keys.signer("other_submitter"))
    decision = run(env, store, bundle)
    assert_refused_by(decision, "approval", match="not for approver")


def test_approval_by_a_revoked_key_does_not_count(env: Env, store: Store) -> None:
    bundle = approve_bundle(env.bundle(backend="qpu"), env.keys.signer("revoked"))
    assert_refused_by(run(env, store, bundle), "approval", match="revoked")


# -- SDK provenance -----------------------------------------------------------------------


def _sdk_env(env: Env) -> Env:
    write_env(env.keys, env.dir, sdk_required=True)
    return env


def test_sdk_verified(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    cache = ReleaseCache()
    att = sdk_attestation(env.keys)
    for _ in range(2):
        bundle = env.bundle(sdk=env.sdk(), attestation=att)
        decision = run(env, store, bundle, release_cache=cache)
        assert_admitted(decision)
        assert "octo-sdk 1.2.3 built by https://github.com/octo/sdk" in decision.check("sdk").reason
    assert (cache.misses, cache.hits) == (1, 1)


def test_sdk_required_but_absent(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    assert_refused_by(run(env, store, env.bundle()), "sdk", match="requires SDK provenance")


def test_sdk_attestation_for_another_wheel(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    att = sdk_attestation(env.keys, OTHER_WHEEL)
    decision = run(env, store, env.bundle(sdk=env.sdk(), attestation=att))
    assert_refused_by(decision, "sdk", match="no subject of the statement matches")


def test_sdk_attestation_failing_the_release_policy(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    att = sdk_attestation(
        env.keys,
        ref="refs/heads/evil",
        workflow_ref="octo/sdk/.github/workflows/release.yml@refs/heads/evil",
    )
    decision = run(env, store, env.bundle(sdk=env.sdk(), attestation=att))
    assert_refused_by(decision, "sdk", match="is not allowed")


def test_sdk_attestation_signed_by_a_non_release_key(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    att = sdk_attestation(env.keys, signer=env.keys.signer("submitter"))
    decision = run(env, store, env.bundle(sdk=env.sdk(), attestation=att))
    assert_refused_by(decision, "sdk", match="not for release-signer")


def test_sdk_attestation_swapped_in_the_bundle(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    bundle = env.bundle(sdk=env.sdk(), attestation=sdk_attestation(env.keys))
    swapped = replace(bundle, sdk_attestation=sdk_attestation(env.keys))  # re-signed: new bytes
    decision = run(env, store, swapped)
    assert_refused_by(decision, "sdk", match="is not the one the manifest names")


# -- agents and grants --------------------------------------------------------------------


def test_agent_with_a_grant_is_admitted_and_quota_charged_to_the_owner(
    env: Env, store: Store
) -> None:
    grant = env.grant()
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_admitted(decision)
    assert "(by grant)" in decision.check("signature").reason
    assert env.keys.owner.public_key().keyid[:16] in decision.check("grant").reason


def test_agent_without_grant(env: Env, store: Store) -> None:
    decision = run(env, store, env.bundle(signer="agent"))
    assert_refused_by(decision, "signature", "grant")
    assert "carries no grant" in decision.check("grant").reason


def test_agents_not_accepted_by_policy(env: Env, store: Store) -> None:
    write_env(env.keys, env.dir, accept_agents=False)
    decision = run(env, store, env.bundle(signer="agent", grant=env.grant()))
    assert_refused_by(decision, "grant", match="does not accept agents")


def test_grant_expired(env: Env, store: Store) -> None:
    grant = env.grant(not_before=NOW - timedelta(hours=2), expires_at=NOW - timedelta(hours=1))
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_refused_by(decision, "grant", match="grant expired at 2026-03-01T11:00:00Z")


def test_grant_not_yet_valid(env: Env, store: Store) -> None:
    grant = env.grant(not_before=NOW + timedelta(hours=1), expires_at=NOW + timedelta(hours=2))
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_refused_by(decision, "grant", match="not valid before")


def test_grant_revoked_by_a_signed_revocation(env: Env, store: Store) -> None:
    grant = env.grant()
    revocation = revoke_grant(
        parse_grant(grant), env.keys.signer("owner"), now=NOW, reason="agent compromised"
    )
    (env.dir / "revocations.jsonl").write_bytes(json.dumps(revocation.to_dict()).encode() + b"\n")
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_refused_by(
        decision, "revocation", match="revoked at 2026-03-01T12:00:00Z: agent compromised"
    )


def test_grant_revoked_by_digest_in_policy(env: Env, store: Store) -> None:
    grant = env.grant()
    digest = parse_grant(grant).digest
    policy = (env.dir / "policy.toml").read_text()
    (env.dir / "policy.toml").write_text(
        policy.replace(
            'revocations = ["revocations.jsonl"]',
            f'revocations = []\nrevoked_grants = ["{digest}"]',
        )
    )
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_refused_by(decision, "revocation", match="revoked_grants")


def test_revocation_signed_by_a_non_owner_stops_the_admitter(env: Env, store: Store) -> None:
    revocation = revoke_grant(parse_grant(env.grant()), env.keys.signer("submitter"), now=NOW)
    (env.dir / "revocations.jsonl").write_bytes(json.dumps(revocation.to_dict()).encode())
    with pytest.raises(ConfigError, match="not for owner"):
        Admitter(trust=env.trust, policy=env.policy, store=store)


def test_agent_key_revoked_in_trust_file(env: Env, store: Store) -> None:
    trust = (
        (env.dir / "trust.toml")
        .read_text()
        .replace('keyids = ["', f'keyids = ["{env.keys.agent.public_key().keyid}", "')
    )
    (env.dir / "trust.toml").write_text(trust)
    decision = run(env, store, env.bundle(signer="agent", grant=env.grant()))
    assert_refused_by(decision, "revocation", match="signing key")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"backend": "qpu"}, "backend 'qpu' is not in the grant"),
        ({"shots": 2500}, "2500 shots exceed the grant's 2000 per job"),
        ({"experiment": "exp-2"}, "experiment 'exp-2' is not the grant's 'exp-1'"),
        ({"circuit": HIDDEN_T}, "gates not in the grant: t"),
    ],
)
def test_outside_grant_scope(env: Env, store: Store, change: dict[str, object], match: str) -> None:
    change = dict(change)
    circuit = change.pop("circuit", BELL)
    assert isinstance(circuit, bytes)
    if "backend" in change:  # qpu needs approval: give it, to isolate the scope check
        bundle = approve_bundle(
            env.bundle(circuit, signer="agent", grant=env.grant(), **change),
            env.keys.signer("approver"),
        )
    else:
        bundle = env.bundle(circuit, signer="agent", grant=env.grant(), **change)  # type: ignore[arg-type]
    decision = run(env, store, bundle, circuit)
    expected = ("grant-scope", "gates") if circuit is HIDDEN_T else ("grant-scope",)
    assert [c.name for c in decision.failures] == sorted(expected, key=CHECKS.index)
    assert match in decision.check("grant-scope").reason


def test_grant_signed_by_a_non_owner(env: Env, store: Store) -> None:
    grant = env.grant(signer="submitter")
    decision = run(env, store, env.bundle(signer="agent", grant=grant))
    assert_refused_by(decision, "grant", match="not for owner")


def test_grant_for_another_agent(env: Env, store: Store) -> None:
    bundle = replace(env.bundle(signer="agent"), grant=env.grant(agent="other_submitter"))
    decision = run(env, store, bundle)
    assert_refused_by(decision, "signature", "grant")
    assert "for another agent key" in decision.check("signature").reason


def test_grant_total_shots(env: Env, store: Store) -> None:
    grant = env.grant()  # 2000 per job, 3000 in total
    assert_admitted(run(env, store, env.bundle(signer="agent", grant=grant, shots=2000)))
    decision = run(env, store, env.bundle(signer="agent", grant=grant, shots=1500))
    assert_refused_by(decision, "grant-shots", match="grant total")


# -- malformed input (raised: no decision) ---------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: b"{not json", "not valid JSON"),
        (lambda d: json.dumps({**json.loads(d), "extra": 1}).encode(), "unknown field"),
        (lambda d: json.dumps({**json.loads(d), "mediaType": "x"}).encode(), "mediaType"),
        (
            lambda d: json.dumps(
                {k: v for k, v in json.loads(d).items() if k != "manifest"}
            ).encode(),
            "missing manifest",
        ),
    ],
)
def test_malformed_bundle(env: Env, sqlite_store: Store, mutate: object, match: str) -> None:
    data = mutate(env.bundle().to_json())  # type: ignore[operator]
    with pytest.raises(MalformedInputError, match=match):
        run(env, sqlite_store, data)
    assert sqlite_store.list_decisions() == []


def test_unknown_field_in_the_signed_predicate(env: Env, sqlite_store: Store) -> None:
    bundle = env.bundle()
    doc = json.loads(bundle.to_json())
    statement = json.loads(base64.b64decode(doc["manifest"]["payload"]))
    statement["predicate"]["priority"] = "high"
    doc["manifest"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(MalformedInputError, match=r"unknown field.*priority"):
        run(env, sqlite_store, json.dumps(doc).encode())


# -- signed decisions ----------------------------------------------------------------------


def test_signed_decision_verifies_for_the_gateway_role(env: Env, sqlite_store: Store) -> None:
    decision = run(env, sqlite_store, env.bundle(), signer=env.keys.signer("gateway"))
    assert decision.envelope is not None
    verified = verify_statement(
        decision.envelope, env.trust, "gateway", predicate_type=AdmissionDecision.PREDICATE_TYPE
    )
    assert parse_decision(verified.statement) == decision
    record = sqlite_store.list_decisions()[0].record
    assert record["envelope"]["signatures"][0]["keyid"] == env.keys.gateway.public_key().keyid


def test_decision_signer_outside_gateway_role_is_a_config_error(
    env: Env, sqlite_store: Store
) -> None:
    with pytest.raises(ConfigError, match="not in the trust file's gateway role"):
        Admitter(
            trust=env.trust,
            policy=env.policy,
            store=sqlite_store,
            signer=env.keys.signer("submitter"),
        )


def test_raise_for_refusal(env: Env, sqlite_store: Store) -> None:
    bundle = env.bundle()
    run(env, sqlite_store, bundle).raise_for_refusal()
    with pytest.raises(ReplayError, match="replay"):
        run(env, sqlite_store, bundle).raise_for_refusal()
    with pytest.raises(ExpiredError, match="time: expired"):
        run(env, sqlite_store, env.bundle(), now=NOW + timedelta(hours=1)).raise_for_refusal()


def test_admitter_is_reusable_and_caches_circuits(
    env: Env, tmp_path: Path, sqlite_store: Store
) -> None:
    admitter = Admitter(trust=env.trust, policy=env.policy, store=sqlite_store)
    for _ in range(3):
        assert_admitted(admitter.admit(env.bundle().to_json(), BELL, now=NOW))
    assert len(admitter._circuits) == 1


def test_a_copied_nonce_does_not_block_its_owner(env: Env, store: Store) -> None:
    nonce = "ab" * 16
    assert_admitted(run(env, store, env.bundle(signer="other_submitter", nonce=nonce)))
    assert_admitted(run(env, store, env.bundle(nonce=nonce)))  # replay is per signing key
    assert_refused_by(run(env, store, env.bundle(nonce=nonce, shots=10)), "replay")


def test_circuit_format_claim_must_match_the_bytes(env: Env, store: Store) -> None:
    good = build_manifest(
        BELL,
        backend="aer",
        shots=100,
        experiment="exp-1",
        submitter=env.keys.submitter.public_key().keyid,
        now=NOW,
    )
    lying = replace(good, circuit=replace(good.circuit, format="openqasm3"))
    statement = manifest_statement(lying, "bell.qasm", BELL)
    bundle = ManifestBundle(sign_statement(statement, [env.keys.signer("submitter")]))
    decision = run(env, store, bundle)
    assert_refused_by(
        decision, "circuit", match="manifest says openqasm3, the circuit is openqasm2"
    )


def test_sdk_attestation_required_but_not_in_the_bundle(env: Env, store: Store) -> None:
    env = _sdk_env(env)
    bundle = env.bundle(sdk=env.sdk(), attestation=sdk_attestation(env.keys))
    decision = run(env, store, replace(bundle, sdk_attestation=None))
    assert_refused_by(decision, "sdk", match="carries no SDK release attestation")
