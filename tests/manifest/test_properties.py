"""Property tests: the bundle, manifest and grant parsers on arbitrary input.

Every input gives a valid object or a qprov error; nothing else escapes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov._predicate import parse_time
from qprov.errors import Error
from qprov.grant import Grant, GrantRevocation, parse_grant
from qprov.manifest import JobManifest, parse_bundle

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _accepts_or_qprov_error(parse: Any, value: Any) -> None:
    """``parse(value)`` returns an object or raises a qprov error; nothing else."""
    try:
        result = parse(value)
    except Error:
        return
    assert result is not None


@SETTINGS
@given(st.binary(max_size=400))
def test_bundle_parser_on_bytes(data: bytes) -> None:
    _accepts_or_qprov_error(parse_bundle, data)


@SETTINGS
@given(json_values)
def test_bundle_parser_on_json(value: Any) -> None:
    _accepts_or_qprov_error(parse_bundle, json.dumps(value).encode())


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["mediaType", "manifest", "grant", "sdkAttestation", "x"]),
        json_values,
        max_size=5,
    )
)
def test_bundle_parser_on_bundle_shaped_json(value: Any) -> None:
    _accepts_or_qprov_error(parse_bundle, json.dumps(value).encode())


@SETTINGS
@given(json_values)
def test_predicate_parsers_on_json(value: Any) -> None:
    for model in (JobManifest, Grant, GrantRevocation):
        _accepts_or_qprov_error(model.from_dict, value)
    _accepts_or_qprov_error(parse_grant, value if isinstance(value, dict) else {"x": value})


FIELDS = [
    "circuit",
    "backend",
    "shots",
    "experiment",
    "submitter",
    "nonce",
    "issuedAt",
    "expiresAt",
    "owner",
    "sdk",
    "options",
]


@SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)))
def test_manifest_parser_on_manifest_shaped_json(value: Any) -> None:
    _accepts_or_qprov_error(JobManifest.from_dict, value)


@SETTINGS
@given(st.text(max_size=40))
def test_time_parser(text: str) -> None:
    _accepts_or_qprov_error(lambda t: parse_time(t, "t"), text)


def test_mutations_of_a_real_manifest(env: Any) -> None:
    """Each field of a real manifest replaced by odd values: accepted or a qprov error."""
    doc = env.bundle().parsed.manifest.to_dict()
    odd = [None, 0, -1, 2**64, "", "x" * 5000, [], {}, True, 1.5, "2026-13-01T00:00:00Z"]
    for key in doc:
        for value in odd:
            _accepts_or_qprov_error(JobManifest.from_dict, {**doc, key: value})
