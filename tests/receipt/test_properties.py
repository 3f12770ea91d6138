"""Property tests: the receipt and receipt-bundle parsers raise only MalformedInputError."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov.errors import MalformedInputError
from qprov.receipt import ResultReceipt, parse_receipt, parse_receipt_bundle

from .conftest import make_receipt

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
BASE = make_receipt().to_dict()


def _paths(doc: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    return out


PATHS = _paths(BASE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_predicate_mutations_parse_or_raise_malformed(path: tuple[str, ...], value: Any) -> None:
    doc = json.loads(json.dumps(BASE))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        parsed = ResultReceipt.from_dict(doc)
    except MalformedInputError:
        return
    assert ResultReceipt.from_dict(parsed.to_dict()) == parsed  # what parses round-trips


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_bundle_parser_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(MalformedInputError):
        parse_receipt_bundle(data)


@settings(max_examples=200, deadline=None)
@given(
    doc=st.dictionaries(
        st.sampled_from(["mediaType", "receipt", "manifest", "executedCircuit", "decision", "x"]),
        json_values,
        max_size=6,
    )
)
def test_bundle_parser_on_arbitrary_documents(doc: dict[str, Any]) -> None:
    with contextlib.suppress(MalformedInputError):
        parse_receipt_bundle(json.dumps(doc).encode())


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=200),
    ptype=st.text(max_size=30),
    sig=st.binary(min_size=1, max_size=40),
)
def test_receipt_parser_on_arbitrary_envelopes(payload: bytes, ptype: str, sig: bytes) -> None:
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": ptype,
        "signatures": [{"keyid": "k", "sig": base64.b64encode(sig).decode()}],
    }
    with contextlib.suppress(MalformedInputError):
        parse_receipt(envelope)
