"""Parsers give a valid object or a qprov error, never another exception."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov.errors import Error
from qprov.tlog import (
    ProofBundle,
    parse_checkpoint,
    parse_hash_lines,
    parse_note,
    parse_skey,
    parse_tile_path,
    parse_vkey,
    verify_checkpoint,
    verify_inclusion_bundle,
)

VKEY = "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT"
NOTE = (
    "monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n"
    "\u2014 monkeys 202fftzGl3LVoqjXfwCFZZXs8I+5G22+Ek2K0AOyBuSJ/8/CZawNF+6fNlTKOCd622pbz"
    "JNkkJFWuw9DbicZCkEx9AY=\n"
).encode()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutations() -> st.SearchStrategy[bytes]:
    def mutate(data: bytes, pos: int, value: int, cut: int) -> bytes:
        pos %= len(data)
        out = bytearray(data)
        out[pos] = value
        return bytes(out[: len(out) - cut % 8])

    return st.builds(
        mutate, st.just(NOTE), st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 50)
    )


_inputs = st.one_of(st.binary(max_size=400), _mutations(), st.text(max_size=200).map(str.encode))


def _total(fn: object, data: object) -> None:
    with contextlib.suppress(Error):
        fn(data)  # type: ignore[operator]


@FAST
@given(_inputs)
def test_note_parser_total(data: bytes) -> None:
    _total(parse_note, data)
    _total(lambda d: verify_checkpoint(d, [VKEY]), data)


@FAST
@given(_inputs)
def test_checkpoint_parser_total(data: bytes) -> None:
    _total(parse_checkpoint, data)


@FAST
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(lambda b: b"c2sp.org/tlog-proof@v1\n" + b, st.binary(max_size=300)),
    )
)
def test_proof_bundle_parser_total(data: bytes) -> None:
    _total(ProofBundle.from_bytes, data)
    _total(lambda d: verify_inclusion_bundle(b"x", d, [VKEY]), data)
    _total(parse_hash_lines, data)


@FAST
@given(st.text(max_size=120))
def test_key_and_path_parsers_total(text: str) -> None:
    _total(parse_vkey, text)
    _total(parse_skey, text)
    _total(parse_tile_path, text)
    _total(parse_vkey, "a+" + text)
    _total(parse_tile_path, "tile/0/" + text)
