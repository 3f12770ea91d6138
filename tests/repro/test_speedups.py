"""The fast paths of the reproduce check give exactly what the plain loops give.

Each fast path (bulk counts validation, Aer raw-count conversion, the chart's
top-k selection) is compared with the straightforward implementation it
replaces, on generated inputs with many ties and on wide registers.
"""

from __future__ import annotations

import copy
import json
import pickle
from types import SimpleNamespace
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit

from qprov._canon import loads_strict
from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.repro import Counts, chart_series, parse_counts
from qprov.repro import _counts as counts_module
from qprov.repro._counts import (
    MAX_COUNTS_BYTES,
    _ArrayCounts,
    _read_canonical,
    _validate,
    _validate_each,
    key_arrays,
    key_grid,
)
from qprov.repro._report import _ranked_rows
from qprov.repro._simulate import _counts_from_result, _hex_ints, _same_as_recorded
from qprov.repro._stats import Distribution


def _outcome(width: int) -> st.SearchStrategy[str]:
    return st.integers(0, 2**width - 1).map(lambda v: format(v, f"0{width}b"))


@st.composite
def counts(draw: st.DrawFn, width: int | None = None) -> Counts:
    n = width if width is not None else draw(st.integers(1, 8))
    data = draw(st.dictionaries(_outcome(n), st.integers(1, 6), min_size=1, max_size=60))
    return Counts.from_mapping(data, num_clbits=n)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), bars=st.integers(1, 30))
def test_chart_top_k_equals_a_full_sort_counts(data: st.DataObject, bars: int) -> None:
    observed = data.draw(counts())
    other = data.draw(counts(observed.num_clbits))
    for baseline in (other, observed):
        assert chart_series(observed, baseline, bars) == _ranked_rows(observed, baseline, bars)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), bars=st.integers(1, 30), dense=st.booleans())
def test_chart_top_k_equals_a_full_sort_distribution(
    data: st.DataObject, bars: int, dense: bool
) -> None:
    observed = data.draw(counts())
    n = observed.num_clbits
    # Few distinct weights: many ties, the case a careless top-k gets wrong.
    weights = data.draw(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=2**n, max_size=2**n))
    if not any(weights):
        weights[0] = 1
    if dense:
        dist = Distribution.from_dense(np.array(weights, dtype=float) / sum(weights))
    else:
        listed = {format(i, f"0{n}b"): float(w) for i, w in enumerate(weights) if w}
        total = sum(listed.values())
        dist = Distribution.from_mapping({k: v / total for k, v in listed.items()}, n)
    assert chart_series(observed, dist, bars) == _ranked_rows(observed, dist, bars)


def test_chart_on_a_wide_register_with_all_counts_tied() -> None:
    gen = np.random.default_rng(3)
    keys = {format(int(v), "030b") for v in gen.integers(0, 2**30, size=5000)}
    observed = Counts.from_mapping(dict.fromkeys(keys, 1), num_clbits=30)
    assert chart_series(observed, observed) == _ranked_rows(observed, observed, 24)


@pytest.mark.parametrize("bars", [0, -1, -3])
def test_chart_with_a_non_positive_bar_count_ranks_everything(bars: int) -> None:
    observed = Counts.from_mapping({"00": 3, "01": 2, "11": 1}, num_clbits=2)
    baseline = Counts.from_mapping({"00": 1, "10": 5}, num_clbits=2)
    assert chart_series(observed, baseline, bars) == _ranked_rows(observed, baseline, bars)


def _outcome_of(fn: Any, *args: Any) -> Any:
    try:
        result = fn(*args)
    except MalformedInputError as exc:
        return ("error", str(exc))
    return ("ok", list(result.items()))


_KEYS = st.one_of(
    st.text("01", min_size=2, max_size=4),
    st.text("01 ", min_size=1, max_size=5),
    st.sampled_from(["0x1", "012", "\u0660\u0661\u0660", "", 7, None]),  # Arabic-Indic digits
)
_VALUES = st.one_of(
    st.integers(-2, 9), st.sampled_from([True, False, 1.0, "3", None])
)


@settings(max_examples=400, deadline=None)
@given(
    raw=st.dictionaries(_KEYS, _VALUES, max_size=8),
    width=st.integers(2, 4),
    shots=st.integers(1, 20),
    registers=st.sampled_from([None, [1, 2], [2, 1], [3]]),
)
def test_bulk_validation_equals_the_per_key_loop(
    raw: dict[Any, Any], width: int, shots: int, registers: list[int] | None
) -> None:
    if registers is not None and sum(registers) != width:
        registers = None
    assert _outcome_of(_validate, raw, width, shots, registers) == _outcome_of(
        _validate_each, raw, width, shots, registers
    )


def test_bulk_validation_keeps_sorting_and_drops_zeros() -> None:
    out = _validate({"11": 2, "00": 0, "01": 1}, 2, 3, None)
    assert list(out.items()) == [("01", 1), ("11", 2)]


def _aer_like(raw: dict[str, int]) -> Any:
    return SimpleNamespace(results=[SimpleNamespace(data=SimpleNamespace(counts=raw))])


@settings(max_examples=100, deadline=None)
@given(
    width=st.sampled_from([1, 3, 16, 63, 64, 65, 130]),
    values=st.lists(st.integers(0, 2**130), min_size=1, max_size=40, unique=True),
    shots_each=st.integers(1, 5),
)
def test_aer_raw_counts_conversion_equals_the_plain_loop(
    width: int, values: list[int], shots_each: int
) -> None:
    values = sorted({v % 2**width for v in values})
    raw = {hex(v): shots_each for v in values}
    qc = QuantumCircuit(1, width)
    shots = shots_each * len(values)
    got = _counts_from_result(_aer_like(raw), 0, qc, shots)
    plain = {format(int(k, 16), f"0{width}b"): v for k, v in raw.items()}
    assert got.num_clbits == width
    assert got.shots == shots
    assert list(got.data.items()) == list(plain.items())


def test_aer_raw_counts_inconsistent_with_the_circuit_are_refused() -> None:
    qc = QuantumCircuit(1, 2)
    with pytest.raises(EnvironmentProblemError, match="inconsistent"):
        _counts_from_result(_aer_like({"0x7": 1}), 0, qc, 1)  # 3 bits on a 2-bit register
    with pytest.raises(EnvironmentProblemError, match="inconsistent"):
        _counts_from_result(_aer_like({"0x1": 1}), 0, qc, 2)  # wrong total
    with pytest.raises(EnvironmentProblemError, match="layout"):
        _counts_from_result(_aer_like({"zz": 1}), 0, qc, 1)


def _plain_same(raw: dict[Any, Any], recorded: Counts) -> bool:
    """What the full conversion concludes: Aer's counts, read key by key, are the recorded ones."""
    width = recorded.num_clbits
    try:
        converted = {format(int(k, 16), f"0{width}b"): int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        return False
    return len(converted) == len(raw) and converted == dict(recorded.data)


_WIDTHS = st.sampled_from([1, 2, 3, 8, 16, 31, 63, 64, 65, 100])


@st.composite
def recorded_and_raw(draw: st.DrawFn) -> tuple[Counts, dict[Any, Any]]:
    """Recorded counts and Aer-like raw counts: the same, or changed in one of many ways."""
    width = draw(_WIDTHS)
    values = draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=30, unique=True))
    counts = draw(st.lists(st.integers(1, 9), min_size=len(values), max_size=len(values)))
    recorded = Counts.from_mapping(
        {format(v, f"0{width}b"): c for v, c in zip(values, counts, strict=True)},
        num_clbits=width,
    )
    pairs: list[tuple[Any, Any]] = [(hex(v), c) for v, c in zip(values, counts, strict=True)]
    pairs = draw(st.permutations(pairs))  # Aer's order is not the recorded one
    i = draw(st.integers(0, len(pairs) - 1))
    key, count = pairs[i]
    change = draw(
        st.sampled_from(
            ["none", "count", "key", "drop", "add", "upper", "zeros", "float", "bool", "str",
             "no-prefix", "comma", "wide", "duplicate", "int-key", "swap-counts"]
        )
    )
    value = int(key, 16)
    if change == "count":
        pairs[i] = (key, count + draw(st.sampled_from([-count, 1, 2**40])))
    elif change == "key":
        pairs[i] = (hex(value ^ (1 << draw(st.integers(0, width - 1)))), count)
    elif change == "drop":
        del pairs[i]
    elif change == "add":
        pairs.append((hex(draw(st.integers(0, 2**width - 1))), 1))
    elif change == "upper":
        pairs[i] = (key.upper(), count)
    elif change == "zeros":
        pairs[i] = ("0x00" + key[2:], count)
    elif change == "float":
        pairs[i] = (key, count + draw(st.sampled_from([0.0, 0.5])))
    elif change == "bool":
        pairs[i] = (key, True)
    elif change == "str":
        pairs[i] = (key, str(count))
    elif change == "no-prefix":
        pairs[i] = (key[2:], count)
    elif change == "comma":
        pairs[i] = (key + ",0x1", count)
    elif change == "wide":
        pairs[i] = (hex(value + 2**width), count)
    elif change == "duplicate" and len(pairs) > 1:
        j = (i + 1) % len(pairs)
        pairs[j] = ("0x0" + key[2:], pairs[j][1])
    elif change == "int-key":
        pairs[i] = (value, count)
    elif change == "swap-counts" and len(pairs) > 1:
        j = (i + 1) % len(pairs)
        pairs[i], pairs[j] = (key, pairs[j][1]), (pairs[j][0], count)
    return recorded, dict(pairs)


@settings(max_examples=600, deadline=None)
@given(case=recorded_and_raw())
def test_replay_comparison_equals_the_full_conversion(
    case: tuple[Counts, dict[Any, Any]],
) -> None:
    recorded, raw = case
    same = _same_as_recorded(_aer_like(raw), recorded)
    if same:  # never "reproduced" unless the full conversion agrees
        assert _plain_same(raw, recorded)
    elif all(map(_aer_spelling, raw)) and all(type(v) is int for v in raw.values()):
        # Aer's own spelling: decided here, no fallback needed
        assert not _plain_same(raw, recorded)


def _aer_spelling(key: Any) -> bool:
    try:
        return isinstance(key, str) and key == hex(int(key, 16))
    except ValueError:
        return False


def test_replay_comparison_of_recorded_counts_from_other_constructors() -> None:
    raw = {"0x3": 2, "0x0": 1}
    for recorded in (
        Counts(2, 3, {"11": 2, "00": 1}),  # built without parse_counts
        Counts._trusted(2, 3, {"11": 2, "00": 1}),  # no arrays: computed on demand
    ):
        assert _same_as_recorded(_aer_like(raw), recorded)
        assert not _same_as_recorded(_aer_like({"0x3": 1, "0x0": 2}), recorded)
    assert not _same_as_recorded(SimpleNamespace(results=[]), Counts(2, 3, {"11": 3}))
    assert not _same_as_recorded(_aer_like([("0x3", 3)]), Counts(2, 3, {"11": 3}))


@pytest.mark.parametrize(
    "raw",
    [{"0x": 1}, {"x1": 1}, {"0X1": 1}, {"0x1x": 1}, {"0xg": 1}, {"0x1,0x2": 1, "0x3": 1},
     {"0x" + "f" * 17: 1}, {"0x1": 1, 2: 1}, {"0x\u0661": 1}, {"": 1}],
)
def test_aer_keys_not_in_aer_spelling_are_left_to_the_full_conversion(raw: dict[Any, int]) -> None:
    assert _hex_ints(raw) is None


@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 64), data=st.data())
def test_aer_keys_read_as_integers(width: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=40))
    got = _hex_ints({hex(v): 1 for v in values})
    assert got is not None
    assert got.tolist() == list(dict.fromkeys(values))


@settings(max_examples=300, deadline=None)
@given(
    width=_WIDTHS,
    data=st.data(),
    zeros=st.booleans(),
)
def test_arrays_built_by_the_validation_match_the_counts(
    width: int, data: st.DataObject, zeros: bool
) -> None:
    values = data.draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=30, unique=True))
    counts = data.draw(st.lists(st.integers(1, 5), min_size=len(values), max_size=len(values)))
    raw = {format(v, f"0{width}b"): c for v, c in zip(values, counts, strict=True)}
    if zeros:
        raw[format(0, f"0{width}b")] = 0 if format(0, f"0{width}b") not in raw else raw["0" * width]
    parsed = parse_counts(
        json.dumps(raw).encode(), num_clbits=width, shots=sum(raw.values())
    )
    assert list(parsed.data) == sorted(k for k, v in raw.items() if v)
    arrays = key_arrays(parsed, compute=False)
    if width > 64:
        assert arrays is None
        return
    assert arrays is not None
    assert arrays.keys.tolist() == [int(k, 2) for k in parsed.data]
    assert arrays.counts.tolist() == list(parsed.data.values())


@pytest.mark.parametrize("keys", [["01", "10"], ["0,", "1"], ["011", "1"], ["2", "1"], [1, 2]])
def test_key_grid_needs_equal_width_binary_keys(keys: list[Any]) -> None:
    grid = key_grid(keys, 2)
    if keys == ["01", "10"]:
        assert grid is not None
        assert grid.tolist() == [[48, 49], [49, 48]]
    else:
        assert grid is None


def _general(doc: bytes, width: int, shots: int) -> Any:
    """What the strict JSON parser and the per-key validation make of ``doc``."""
    try:
        parsed = loads_strict(doc, what="counts JSON", max_bytes=MAX_COUNTS_BYTES)
        if not isinstance(parsed, dict):
            return ("error", f"counts JSON must be an object of outcome -> shots, got "
                             f"{type(parsed).__name__}")
        return ("ok", list(_validate_each(parsed, width, shots, None).items()))
    except MalformedInputError as exc:
        return ("error", str(exc))


_EDITS = st.sampled_from(
    ["none", "flip", "insert", "delete", "space", "leading-zero", "zero", "swap", "duplicate",
     "negative", "float", "exponent", "escape", "big", "wide", "narrow", "trailing", "bom"]
)


@st.composite
def canonical_documents(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """Canonical counts bytes, then maybe one edit (most edits make them non-canonical)."""
    width = draw(st.sampled_from([1, 2, 5, 16, 64, 65, 90]))
    values = draw(st.lists(st.integers(0, 2**width - 1), min_size=1, max_size=12, unique=True))
    counts = draw(st.lists(st.integers(1, 10**6), min_size=len(values), max_size=len(values)))
    shots = sum(counts)
    data = {format(v, f"0{width}b"): c for v, c in zip(values, counts, strict=True)}
    doc = bytearray(Counts.from_mapping(data, num_clbits=width).to_json())
    edit = draw(_EDITS)
    at = draw(st.integers(0, len(doc) - 1))
    first = next(iter(sorted(data)))
    if edit == "flip":
        doc[at] = draw(st.sampled_from(b'01{}":, -.e\\xA9'))
    elif edit == "insert":
        doc.insert(at, draw(st.sampled_from(b'01{}":, -')))
    elif edit == "delete":
        del doc[at]
    elif edit == "space":
        doc = bytearray(bytes(doc).replace(b":", b": ", 1))
    elif edit == "leading-zero":
        doc = bytearray(bytes(doc).replace(b'":', b'":0', 1))
    elif edit == "zero":
        doc = bytearray(b'{"' + b"0" * width + b'":0,' + bytes(doc[1:]))
    elif edit == "swap" and len(data) > 1:
        items = sorted(data.items(), reverse=True)
        doc = bytearray(("{" + ",".join(f'"{k}":{v}' for k, v in items) + "}").encode())
    elif edit == "duplicate":
        doc = bytearray(bytes(doc[:-1]) + f',"{first}":{data[first]}}}'.encode())
    elif edit == "negative":
        doc = bytearray(bytes(doc).replace(b'":', b'":-', 1))
    elif edit == "float":
        doc = bytearray(bytes(doc).replace(b",", b".0,", 1) if b"," in doc else doc[:-1] + b".0}")
    elif edit == "exponent":
        doc = bytearray(bytes(doc).replace(b"}", b"e0}", 1))
    elif edit == "escape":
        doc = bytearray(bytes(doc).replace(b'"0', b'"\\u0030', 1).replace(b'"1', b'"\\u0031', 1))
    elif edit == "big":
        doc = bytearray(bytes(doc).replace(b'":', b'":1' + b"0" * 20 + b"+", 1))
    elif edit == "wide":
        doc = bytearray(bytes(doc).replace(b'"', b'"0', 1))
    elif edit == "narrow" and width > 1:
        doc = bytearray(bytes(doc).replace(b'"0', b'"', 1).replace(b'"1', b'"', 1))
    elif edit == "trailing":
        doc += b" "
    elif edit == "bom":
        doc = bytearray(b"\xef\xbb\xbf" + bytes(doc))
    shots = draw(st.sampled_from([shots, shots, shots + 1, max(shots - 1, 1)]))
    return bytes(doc), width, shots


@settings(max_examples=1500, deadline=None)
@given(case=canonical_documents())
def test_canonical_reader_accepts_only_what_the_parser_reads_the_same(
    case: tuple[bytes, int, int],
) -> None:
    doc, width, shots = case
    general = _general(doc, width, shots)
    fast = _read_canonical(doc, width, shots)
    if fast is not None:
        assert general == ("ok", list(fast.items()))
        assert general[1] == [(k, v) for k, v in general[1] if v]  # no zero counts
    # parse_counts (reader first, then the general path) always answers as the general path.
    with mock.patch.object(counts_module, "_READER_MIN_BYTES", 0):
        assert _outcome_of(lambda: parse_counts(doc, num_clbits=width, shots=shots)) == general


@settings(max_examples=300, deadline=None)
@given(doc=st.binary(max_size=80), width=st.integers(1, 4), shots=st.integers(1, 30))
def test_canonical_reader_on_arbitrary_bytes(doc: bytes, width: int, shots: int) -> None:
    fast = _read_canonical(doc, width, shots)
    if fast is not None:
        assert _general(doc, width, shots) == ("ok", list(fast.items()))


def test_small_documents_are_parsed_as_json() -> None:
    doc = b'{"001":2,"010":1,"111":4}'
    assert type(parse_counts(doc, num_clbits=3, shots=7).data) is dict


def test_counts_read_as_arrays_behave_as_a_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts_module, "_READER_MIN_BYTES", 0)
    doc = b'{"001":2,"010":1,"111":4}'
    counts = parse_counts(doc, num_clbits=3, shots=7)
    data = counts.data
    assert isinstance(data, _ArrayCounts)
    plain = {"001": 2, "010": 1, "111": 4}
    assert len(data) == 3
    assert data == plain
    assert plain == data
    assert data != {"001": 2}
    assert data != 3
    assert "010" in data
    assert "011" not in data
    assert data["111"] == 4
    assert list(data) == list(plain)
    assert list(data.items()) == list(plain.items())
    assert list(data.keys()) == list(plain)
    assert list(data.values()) == [2, 1, 4]
    assert repr(data) == repr(plain)
    restored = pickle.loads(pickle.dumps(data))  # noqa: S301 - our own bytes
    assert type(restored) is dict
    assert restored == plain
    assert copy.deepcopy(counts) == Counts.from_mapping(plain, num_clbits=3)
    assert counts == Counts.from_mapping(plain, num_clbits=3)
    assert counts.to_json() == doc
    assert counts.as_dict() == plain
    with pytest.raises(TypeError):
        hash(data)
    arrays = key_arrays(counts, compute=False)
    assert arrays is not None
    assert arrays.keys.tolist() == [1, 2, 7]
    assert arrays.counts.tolist() == [2, 1, 4]


def test_chart_of_counts_read_as_arrays_equals_a_full_sort() -> None:
    gen = np.random.default_rng(5)
    values = gen.integers(0, 2**12, size=3000)
    keys, counts = np.unique(values, return_counts=True)
    doc = Counts.from_mapping(
        {format(int(k), "012b"): int(c) for k, c in zip(keys, counts, strict=True)},
        num_clbits=12,
    ).to_json()
    observed = parse_counts(doc, num_clbits=12, shots=3000)
    assert isinstance(observed.data, _ArrayCounts)
    replayed = Counts._trusted(12, 3000, observed.data, key_arrays(observed))
    for bars in (1, 5, 24, 10_000):
        assert chart_series(observed, replayed, bars) == _ranked_rows(observed, replayed, bars)


def test_chart_of_tied_counts_read_as_arrays_equals_a_full_sort() -> None:
    gen = np.random.default_rng(6)
    keys = np.unique(gen.integers(0, 2**40, size=4000))
    counts = np.ones(len(keys), dtype=int)
    counts[:7] = 2  # a few above the tie
    doc = Counts.from_mapping(
        {format(int(k), "040b"): int(c) for k, c in zip(keys, counts, strict=True)},
        num_clbits=40,
    ).to_json()
    shots = int(counts.sum())
    observed = parse_counts(doc, num_clbits=40, shots=shots)
    assert isinstance(observed.data, _ArrayCounts)
    replayed = Counts._trusted(40, shots, observed.data, key_arrays(observed))
    for bars in (1, 5, 7, 8, 24):
        assert chart_series(observed, replayed, bars) == _ranked_rows(observed, replayed, bars)
