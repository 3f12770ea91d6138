"""The fast paths of the reproduce check give exactly what the plain loops give.

Each fast path (bulk counts validation, Aer raw-count conversion, the chart's
top-k selection) is compared with the straightforward implementation it
replaces, on generated inputs with many ties and on wide registers.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit

from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.repro import Counts, chart_series
from qprov.repro._counts import _validate, _validate_each
from qprov.repro._report import _ranked_rows
from qprov.repro._simulate import _counts_from_result
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
