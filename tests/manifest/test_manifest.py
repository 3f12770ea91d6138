"""Manifest, bundle and grant models: construction, strict parsing, injected time and nonce."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from admission._env import BELL, NOW, WHEEL, WHEEL_NAME, Env, sdk_attestation, sha256

from qprov.errors import ExpiredError, MalformedInputError
from qprov.grant import GRANT_PREDICATE_TYPE, Grant, parse_grant, revoke_grant
from qprov.manifest import (
    BUNDLE_MEDIA_TYPE,
    MANIFEST_PREDICATE_TYPE,
    approve_bundle,
    create_manifest,
    new_nonce,
    parse_bundle,
    parse_bundle_full,
    sdk_from_attestation,
    sdk_from_wheel,
)
from qprov.statement import parse_statement

NONCE = "0123456789abcdef0123456789abcdef"


def test_manifest_content_from_qiskit_and_the_signer(env: Env) -> None:
    bundle = env.bundle(nonce=NONCE, sdk=env.sdk(), attestation=sdk_attestation(env.keys))
    statement = parse_statement(bundle.manifest.payload)
    assert statement.predicate_type == MANIFEST_PREDICATE_TYPE
    assert [s.to_dict() for s in statement.subjects] == [
        {"name": "bell.qasm", "digest": {"sha256": sha256(BELL)}}
    ]
    p = statement.predicate
    assert p["circuit"] == {
        "format": "openqasm2",
        "size": len(BELL),
        "qubits": 2,
        "clbits": 2,
        "depth": 3,
        "gateCounts": {"cx": 1, "h": 1, "measure": 2},
    }
    assert p["submitter"] == {"keyid": env.keys.submitter.public_key().keyid}
    assert p["experiment"] == {"id": "exp-1", "purpose": "testing"}
    assert p["owner"] == "alice@example.org"
    assert p["nonce"] == NONCE
    assert (p["issuedAt"], p["expiresAt"]) == ("2026-03-01T12:00:00Z", "2026-03-01T12:10:00Z")
    assert (p["sdk"]["name"], p["sdk"]["version"]) == ("octo-sdk", "1.2.3")
    assert p["sdk"]["wheel"] == {"sha256": sha256(WHEEL)}
    assert p["sdk"]["attestation"] == {"sha256": sha256(bundle.sdk_attestation or b"")}


def test_same_inputs_same_bytes(env: Env) -> None:
    a = env.bundle(nonce=NONCE).manifest.payload
    b = env.bundle(nonce=NONCE).manifest.payload
    assert a == b


def test_fresh_nonces_are_128_bits_and_distinct() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(n) == 32 for n in nonces)


def test_bundle_round_trip(env: Env) -> None:
    bundle = env.bundle(
        signer="agent", grant=env.grant(), sdk=env.sdk(), attestation=sdk_attestation(env.keys)
    )
    parsed = parse_bundle_full(bundle.to_json())
    assert parsed.bundle == bundle
    assert parsed.grant is not None
    assert parsed.grant.grant.agent_keyid == env.keys.agent.public_key().keyid
    assert json.loads(bundle.to_json())["mediaType"] == BUNDLE_MEDIA_TYPE


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(sdkAttestation="!!!"), "not valid base64"),
        (lambda d: d.update(sdkAttestation=""), "must not be empty"),
        (lambda d: d.update(grant=[]), "must be a JSON object"),
        (lambda d: d["manifest"].update(payloadType="text/plain"), "payloadType"),
        (lambda d: d["manifest"].update(signatures=[]), "no signatures"),
        (lambda d: d["manifest"].update(payload=base64.b64encode(b"[]").decode()), "statement"),
    ],
)
def test_malformed_bundles(env: Env, mutate: object, match: str) -> None:
    doc = json.loads(env.bundle().to_json())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(MalformedInputError, match=match):
        parse_bundle(json.dumps(doc).encode())


def test_create_refuses_bad_input_before_signing(env: Env) -> None:
    with pytest.raises(MalformedInputError, match="unparseable"):
        env.bundle(b"OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n")
    with pytest.raises(MalformedInputError, match="backend"):
        env.bundle(backend="no spaces allowed")
    with pytest.raises(MalformedInputError, match="shots"):
        env.bundle(shots=0)
    with pytest.raises(MalformedInputError, match="nonce"):
        env.bundle(nonce="short")
    with pytest.raises(MalformedInputError, match="another agent key"):
        env.bundle(signer="submitter", grant=env.grant())
    with pytest.raises(MalformedInputError, match="needs the SDK identity"):
        create_manifest(
            BELL,
            circuit_name="c",
            backend="aer",
            shots=1,
            experiment="e",
            signer=env.keys.signer("submitter"),
            now=NOW,
            sdk_attestation=b"x",
        )


def test_approve_adds_a_second_signature_over_the_same_pae(env: Env) -> None:
    bundle = env.bundle()
    approved = approve_bundle(bundle, env.keys.signer("approver"))
    assert approved.manifest.payload == bundle.manifest.payload
    keyids = [s.keyid for s in approved.manifest.signatures]
    assert keyids == [env.keys.submitter.public_key().keyid, env.keys.approver.public_key().keyid]
    env.keys.approver.public_key().verify(
        approved.manifest.signatures[1].sig, bundle.manifest.pae()
    )
    with pytest.raises(MalformedInputError, match="already signed"):
        approve_bundle(approved, env.keys.signer("approver"))


def test_sdk_identity_from_wheel_and_attestation(env: Env) -> None:
    att = sdk_attestation(env.keys)
    from_wheel = sdk_from_wheel(WHEEL_NAME, WHEEL, att)
    assert from_wheel == sdk_from_attestation(att)
    with pytest.raises(MalformedInputError, match="not a wheel file name"):
        sdk_from_wheel("octo.tar.gz", WHEEL)


# -- grants -----------------------------------------------------------------------------


def test_grant_content(env: Env) -> None:
    parsed = parse_grant(env.grant())
    statement = parse_statement(parsed.envelope.payload)
    assert statement.predicate_type == GRANT_PREDICATE_TYPE
    assert statement.subjects[0].name == f"agent-key:{env.keys.agent.public_key().keyid}"
    assert parsed.grant.scope.max_total_shots == 3000
    assert parsed.digest == sha256(parsed.envelope.payload)


def test_grant_window(env: Env) -> None:
    grant = parse_grant(env.grant()).grant
    grant.check_window(NOW, timedelta(0))
    with pytest.raises(ExpiredError, match="grant expired"):
        grant.check_window(NOW + timedelta(hours=1), timedelta(0))
    grant.check_window(NOW + timedelta(hours=1), timedelta(seconds=1))  # within skew
    with pytest.raises(ExpiredError, match="not valid before"):
        grant.check_window(NOW - timedelta(hours=2), timedelta(0))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"max_shots_per_job": 0}, "maxShotsPerJob"),
        ({"max_total_shots": 10}, "maxTotalShots >= maxShotsPerJob"),
        ({"gates": []}, "at least one"),
        ({"backends": []}, "at least one"),
        ({"expires_at": NOW - timedelta(hours=2)}, "after notBefore"),
        ({"experiment": "two words"}, "experiment"),
    ],
)
def test_bad_grants_are_refused_at_creation(
    env: Env, change: dict[str, object], match: str
) -> None:
    with pytest.raises(MalformedInputError, match=match):
        env.grant(**change)


def test_grant_agent_keyid_must_match_its_key(env: Env) -> None:
    doc = parse_grant(env.grant()).grant.to_dict()
    doc["agent"]["keyid"] = env.keys.owner.public_key().keyid
    with pytest.raises(MalformedInputError, match=r"is not the key id of agent\.publicKey"):
        Grant.from_dict(doc)


def test_revocation_names_the_grant_digest(env: Env) -> None:
    parsed = parse_grant(env.grant())
    revocation = revoke_grant(parsed, env.keys.signer("owner"), now=NOW, reason="lost laptop")
    statement = parse_statement(revocation.payload)
    assert statement.subjects[0].digest == {"sha256": parsed.digest}
    assert statement.predicate == {"revokedAt": "2026-03-01T12:00:00Z", "reason": "lost laptop"}
