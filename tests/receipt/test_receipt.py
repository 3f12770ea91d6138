"""The result receipt predicate: signing, verification by role, and strict parsing."""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from admission._env import NOW, Env

from qprov.errors import ConfigError, MalformedInputError, PolicyError, TrustError
from qprov.receipt import (
    RECEIPT_PREDICATE_TYPE,
    Calibration,
    ResultReceipt,
    log_entry,
    parse_receipt,
    sign_receipt,
    verify_receipt,
)
from qprov.statement import Statement, Subject, sign_statement
from qprov.trust import TrustStore

from .conftest import RESULT, make_receipt


def test_sign_and_verify_round_trip(env: Env) -> None:
    receipt = make_receipt(calibration=Calibration("f" * 64, NOW - timedelta(hours=2)))
    envelope = sign_receipt(receipt, RESULT, env.keys.signer("gateway"))
    verified = verify_receipt(envelope, env.trust)
    assert verified.role == "gateway"
    assert verified.receipt == receipt
    assert verified.parsed.result_sha256 == hashlib.sha256(RESULT).hexdigest()
    assert verified.parsed.digest == hashlib.sha256(envelope.payload).hexdigest()
    assert ResultReceipt.from_dict(receipt.to_dict()) == receipt
    assert receipt.to_dict()["job"]["finishedAt"] == "2026-03-01T12:00:02.000005Z"


def test_receipt_signed_by_a_submitter_key_fails(env: Env) -> None:
    envelope = sign_receipt(make_receipt(), RESULT, env.keys.signer("submitter"))
    with pytest.raises(TrustError, match="trusted for role submitter, not for gateway"):
        verify_receipt(envelope, env.trust)


def test_provider_role_is_accepted(env: Env) -> None:
    text = (env.dir / "trust.toml").read_text().replace("[roles.gateway]", "[roles.provider]")
    trust = TrustStore.from_toml(text.encode(), env.dir)
    envelope = sign_receipt(make_receipt(), RESULT, env.keys.signer("gateway"))
    assert verify_receipt(envelope, trust).role == "provider"


def test_trust_without_receipt_roles_is_a_config_error(env: Env) -> None:
    text = (env.dir / "trust.toml").read_text().replace("[roles.gateway]", "[roles.auditor]")
    trust = TrustStore.from_toml(text.encode(), env.dir)
    envelope = sign_receipt(make_receipt(), RESULT, env.keys.signer("gateway"))
    with pytest.raises(ConfigError, match="no role 'gateway'"):
        verify_receipt(envelope, trust)


def test_sign_refuses_a_non_canonical_result(env: Env) -> None:
    with pytest.raises(PolicyError, match="not in canonical form"):
        sign_receipt(make_receipt(), b'{"11": 497, "00": 503}', env.keys.signer("gateway"))
    with pytest.raises(MalformedInputError, match="add up to 999"):
        sign_receipt(make_receipt(), b'{"00":502,"11":497}', env.keys.signer("gateway"))


def _signed(env: Env, predicate: dict[str, Any], name: str = "result.json") -> Any:
    statement = Statement(
        (Subject(name, {"sha256": hashlib.sha256(RESULT).hexdigest()}),),
        RECEIPT_PREDICATE_TYPE,
        predicate,
    )
    return sign_statement(statement, [env.keys.signer("gateway")])


def mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(make_receipt().to_dict())
    *parents, last = path.split(".")
    target = doc
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("surprise", 1, "unknown field"),
        ("job.surprise", 1, r"job has unknown field"),
        ("manifest.digest", _DELETE, "manifest is missing digest"),
        ("manifest.nonce", "short", "nonce has an invalid form"),
        ("result.mediaType", "application/json", "result.mediaType must be"),
        ("result.shots", 0, "result.shots must be an integer"),
        ("backend.name", "", "must not be empty"),
        ("job.startedAt", "2026-03-01T11:00:00Z", "must be ordered"),
        ("job.queuedAt", "2026-03-01 12:00:00", "RFC 3339"),
        ("executedCircuit.encoding", "qprov-circuit/v2", "encoding must be"),
        ("executedCircuit.qpy.version", 0, r"qpy.version must be an integer"),
        ("execution.shots", 999, "execution.shots differs"),
        ("execution.method", "quantum", "unknown method"),
        ("execution.surprise", 1, "unknown field"),
        ("circuit.digest", {"sha256": "B" * 64}, "64 lowercase hex"),
        ("calibration", {"digest": {"sha256": "f" * 64}}, "calibration is missing time"),
        ("admission", None, "must not be null"),
    ],
)
def test_strict_predicate(env: Env, path: str, value: Any, match: str) -> None:
    with pytest.raises(MalformedInputError, match=match):
        ResultReceipt.from_dict(mutate(path, value))
    with pytest.raises(MalformedInputError, match=match):
        parse_receipt(_signed(env, mutate(path, value)))


def test_subject_must_be_the_result(env: Env) -> None:
    with pytest.raises(MalformedInputError, match=r"subject must be named 'result\.json'"):
        parse_receipt(_signed(env, make_receipt().to_dict(), name="counts.json"))


def test_wrong_predicate_type_is_refused(env: Env) -> None:
    statement = Statement(
        (Subject("result.json", {"sha256": "0" * 64}),), "https://qprov.dev/x/v1", {}
    )
    with pytest.raises(MalformedInputError, match=r"expected 'https://qprov\.dev/attestations/"):
        parse_receipt(sign_statement(statement, [env.keys.signer("gateway")]))


def test_log_entry_is_the_canonical_envelope(env: Env) -> None:
    envelope = sign_receipt(make_receipt(), RESULT, env.keys.signer("gateway"))
    entry = log_entry(envelope)
    assert entry.startswith(b'{"payload":"')
    assert b" " not in entry
    assert log_entry(parse_receipt(envelope.to_json()).envelope) == entry
    assert len(entry) < 0xFFFF  # fits a tlog-tiles entry
