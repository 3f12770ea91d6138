"""The speed-ups change nothing: frozen sort keys and the inlined-$ref validator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qprov.errors import MalformedInputError
from qprov.sbom import _bom, build_sbom, scan_environment
from qprov.sbom._validate import validate_cyclonedx_json


def test_frozen_sort_keys_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _bom._CAN_FREEZE, "cyclonedx-python-lib renamed the component sort key"
    inventory = scan_environment()
    frozen = build_sbom(inventory, validate=False)
    monkeypatch.setattr(_bom, "_CAN_FREEZE", False)
    plain = build_sbom(inventory, validate=False)
    assert frozen == plain


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(build_sbom(scan_environment()))


@pytest.mark.parametrize(
    ("where", "key", "value", "reason"),
    [
        ("component", "type", "nonsense", "is not one of"),
        ("component", "purl", 5, "is not of type 'string'"),
        ("component", "hashes", [{"alg": "SHA-256", "content": "zz"}], "does not match"),
        # resolved from spdx.SNAPSHOT.schema.json
        ("component", "licenses", [{"license": {"id": "NOT-A-LICENSE"}}], "not valid under"),
        # resolved from jsf-0.82.SNAPSHOT.schema.json
        ("component", "signature", {"algorithm": "ES256"}, "not valid under"),
        ("metadata", "timestamp", "yesterday", "is not a 'date-time'"),
    ],
)
def test_inlined_schema_still_rejects(
    document: dict[str, Any], where: str, key: str, value: Any, reason: str
) -> None:
    validate_cyclonedx_json(document)
    broken = json.loads(json.dumps(document))
    target = broken["components"][0] if where == "component" else broken["metadata"]
    target[key] = value
    with pytest.raises(MalformedInputError, match=reason):
        validate_cyclonedx_json(broken)
