"""attestations/schemas/result-receipt.v1.json agrees with the model."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from qprov.errors import MalformedInputError
from qprov.receipt import ResultReceipt

from .conftest import make_receipt

SCHEMAS = Path(__file__).resolve().parents[2] / "attestations" / "schemas"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((SCHEMAS / "result-receipt.v1.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_schema_accepts_what_the_model_emits(validator: Draft202012Validator) -> None:
    validator.validate(make_receipt().to_dict())
    validator.validate(make_receipt(execution=None, admission_sha256=None).to_dict())


def _variants() -> list[tuple[str, Any]]:
    base = make_receipt().to_dict()

    def change(fn: Any) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        fn(doc)
        return doc

    return [
        ("unknown top-level field", change(lambda d: d.update(x=1))),
        ("missing job", change(lambda d: d.pop("job"))),
        ("unknown field in job", change(lambda d: d["job"].update(x=1))),
        ("uppercase digest", change(lambda d: d["circuit"].update(digest={"sha256": "A" * 64}))),
        ("other media type", change(lambda d: d["result"].update(mediaType="text/plain"))),
        ("zero shots", change(lambda d: d["result"].update(shots=0))),
        ("local time", change(lambda d: d["job"].update(queuedAt="2026-03-01T12:00:00+01:00"))),
        ("other encoding", change(lambda d: d["executedCircuit"].update(encoding="v2"))),
        ("unknown execution field", change(lambda d: d["execution"].update(x=1))),
        ("bad method", change(lambda d: d["execution"].update(method="quantum"))),
        ("null admission", change(lambda d: d.update(admission=None))),
    ]


@pytest.mark.parametrize(("what", "doc"), _variants(), ids=[v[0] for v in _variants()])
def test_schema_and_model_reject_alike(
    validator: Draft202012Validator, what: str, doc: dict[str, Any]
) -> None:
    assert list(validator.iter_errors(doc)), f"schema accepted: {what}"
    with pytest.raises(MalformedInputError):
        ResultReceipt.from_dict(doc)
