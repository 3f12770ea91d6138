"""Each predicate's JSON Schema accepts what its model emits and rejects what the model rejects."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from admission._env import BELL, NOW, Env, sdk_attestation
from jsonschema import Draft202012Validator

from qprov._predicate import Predicate
from qprov.admission import AdmissionDecision, admit
from qprov.errors import MalformedInputError
from qprov.grant import Grant, GrantRevocation, parse_grant
from qprov.manifest import JobManifest
from qprov.store import open_store

SCHEMAS = Path(__file__).resolve().parents[2] / "attestations" / "schemas"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.v1.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def manifest_doc(env: Env) -> dict[str, Any]:
    bundle = env.bundle(sdk=env.sdk(), attestation=sdk_attestation(env.keys))
    return bundle.parsed.manifest.to_dict()


def grant_doc(env: Env) -> dict[str, Any]:
    return parse_grant(env.grant()).grant.to_dict()


def revocation_doc(env: Env) -> dict[str, Any]:
    return GrantRevocation(NOW, "agent compromised").to_dict()


def decision_doc(env: Env) -> dict[str, Any]:
    with open_store(f"sqlite:///{env.dir / 's.db'}") as store:
        bundle = env.bundle()
        admit(bundle.to_json(), BELL, trust=env.trust, policy=env.policy, store=store, now=NOW)
        refused = admit(
            bundle.to_json(),
            BELL,
            trust=env.trust,
            policy=env.policy,
            store=store,
            now=NOW + timedelta(seconds=1),
        )
    return refused.to_dict()  # has a failed check and skipped ones


CASES: list[tuple[type[Predicate], Callable[[Env], dict[str, Any]]]] = [
    (JobManifest, manifest_doc),
    (Grant, grant_doc),
    (GrantRevocation, revocation_doc),
    (AdmissionDecision, decision_doc),
]


@pytest.mark.parametrize(("model", "make"), CASES, ids=lambda c: getattr(c, "NAME", ""))
def test_schema_accepts_what_the_model_emits(
    env: Env, model: type[Predicate], make: Callable[[Env], dict[str, Any]]
) -> None:
    doc = make(env)
    validator(model.NAME).validate(doc)
    assert model.from_dict(doc).to_dict() == doc  # round trip


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every object inside ``doc`` (where an unknown field can be added)."""
    out = []
    if isinstance(doc, dict):
        out.append(prefix)
        for k, v in doc.items():
            if k not in ("gateCounts", "options"):  # maps: any key is a value, not a field
                out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


@pytest.mark.parametrize(("model", "make"), CASES, ids=lambda c: getattr(c, "NAME", ""))
def test_unknown_fields_rejected_by_schema_and_model_alike(
    env: Env, model: type[Predicate], make: Callable[[Env], dict[str, Any]]
) -> None:
    doc = make(env)
    v = validator(model.NAME)
    paths = _paths(doc)
    assert paths
    for path in paths:
        bad = copy.deepcopy(doc)
        target = bad
        for p in path:
            target = target[p]
        target["unexpected"] = True
        assert not v.is_valid(bad), path
        with pytest.raises(MalformedInputError, match="unknown field"):
            model.from_dict(bad)


@pytest.mark.parametrize(("model", "make"), CASES, ids=lambda c: getattr(c, "NAME", ""))
def test_missing_required_fields_rejected_by_schema_and_model_alike(
    env: Env, model: type[Predicate], make: Callable[[Env], dict[str, Any]]
) -> None:
    doc = make(env)
    v = validator(model.NAME)
    for key in v.schema["required"]:
        bad = {k: val for k, val in doc.items() if k != key}
        assert not v.is_valid(bad), key
        with pytest.raises(MalformedInputError):
            model.from_dict(bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shots", 0),
        ("shots", "10"),
        ("shots", True),
        ("nonce", "abc"),
        ("nonce", "G" * 32),
        ("issuedAt", "2026-03-01T12:00:00+01:00"),
        ("issuedAt", "2026-03-01 12:00:00Z"),
        ("backend", "has space"),
        ("backend", ""),
    ],
)
def test_bad_values_rejected_by_schema_and_model_alike(env: Env, field: str, value: Any) -> None:
    doc = manifest_doc(env)
    doc[field] = value
    assert not validator("job-manifest").is_valid(doc)
    with pytest.raises(MalformedInputError):
        JobManifest.from_dict(doc)


def test_bundle_schema_accepts_bundles(env: Env) -> None:
    bundle = env.bundle(
        signer="agent", grant=env.grant(), sdk=env.sdk(), attestation=sdk_attestation(env.keys)
    )
    doc = json.loads(bundle.to_json())
    v = validator("manifest-bundle")
    v.validate(doc)
    assert not v.is_valid({**doc, "extra": 1})
