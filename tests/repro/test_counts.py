"""Counts parsing: every bad-input class and property tests for the parser."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qprov.errors import MalformedInputError
from qprov.repro import Counts, parse_counts


def test_valid_counts_canonical_bytes() -> None:
    c = parse_counts(b'{"111": 502, "000": 498, "010": 0}', num_clbits=3, shots=1000)
    assert c.as_dict() == {"000": 498, "111": 502}
    assert c.to_json() == b'{"000":498,"111":502}'
    assert len(c.digest) == 64


def test_qiskit_register_format_is_normalised() -> None:
    # Two registers: c0 of 3 bits (added first), c1 of 2 bits: key is "c1 c0".
    c = parse_counts(b'{"01 101": 3, "10 000": 1}', num_clbits=5, shots=4,
                     register_sizes=[3, 2])
    assert c.as_dict() == {"01101": 3, "10000": 1}


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (b'{"00": 10}', "has 2 bits, but the circuit has 3"),
        (b'{"0000": 10}', "has 4 bits"),
        (b'{"0a1": 10}', "not a binary string"),
        (b'{"0x5": 10}', "not a binary string"),
        (b'{"012": 10}', "not a binary string"),
        (b'{"000": -1, "111": 11}', "negative"),
        (b'{"000": 4, "111": 5}', "add up to 9 shots, but 10"),
        (b'{"000": 10.0}', "not a JSON integer"),
        (b'{"000": true}', "not a JSON integer"),
        (b'{"000": "10"}', "not a JSON integer"),
        (b'[1, 2]', "must be an object"),
        (b'{"000": 5, "000": 5}', "duplicate key"),
        (b'{"000": 10', "not valid JSON"),
        (b'{"0 00": 5, "000": 5}', "duplicates outcome"),
        (b'{"0  00": 10}', "single spaces"),
        (b'\xff', "UTF-8"),
        (b'{"000": NaN}', "NaN"),
    ],
)
def test_bad_counts_rejected(doc: bytes, match: str) -> None:
    with pytest.raises(MalformedInputError, match=match):
        parse_counts(doc, num_clbits=3, shots=10)


def test_register_widths_checked() -> None:
    with pytest.raises(MalformedInputError, match="register widths"):
        parse_counts(b'{"101 01": 4}', num_clbits=5, shots=4, register_sizes=[3, 2])


@pytest.mark.parametrize(("bits", "shots"), [(0, 10), (3, 0), (3, -1)])
def test_bad_declarations(bits: int, shots: int) -> None:
    with pytest.raises(MalformedInputError):
        parse_counts(b"{}", num_clbits=bits, shots=shots)


def test_from_mapping_and_constructor_validate() -> None:
    with pytest.raises(MalformedInputError, match="negative"):
        Counts.from_mapping({"0": -1, "1": 2}, num_clbits=1)
    with pytest.raises(MalformedInputError, match="add up"):
        Counts(num_clbits=1, shots=5, data={"0": 1})


counts_strategy = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.dictionaries(
            st.integers(min_value=0, max_value=2**n - 1).map(lambda v: format(v, f"0{n}b")),
            st.integers(min_value=0, max_value=10**6),
            min_size=1, max_size=30,
        ),
    )
).filter(lambda t: sum(t[1].values()) > 0)


@settings(max_examples=150, deadline=None)
@given(counts_strategy)
def test_roundtrip_property(case: tuple[int, dict[str, int]]) -> None:
    n, data = case
    shots = sum(data.values())
    parsed = parse_counts(json.dumps(data).encode(), num_clbits=n, shots=shots)
    assert parsed.as_dict() == {k: v for k, v in sorted(data.items()) if v}
    again = parse_counts(parsed.to_json(), num_clbits=n, shots=shots)
    assert again.to_json() == parsed.to_json()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedInputError):
        parse_counts(data, num_clbits=3, shots=10)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(alphabet="01 x", max_size=5), json_values, max_size=5))
def test_arbitrary_json_objects_only_malformed(doc: dict[str, object]) -> None:
    try:
        parsed = parse_counts(json.dumps(doc).encode(), num_clbits=3, shots=10)
    except MalformedInputError:
        return
    assert sum(parsed.values()) == 10
    assert all(len(k) == 3 and set(k) <= {"0", "1"} for k in parsed)
