"""Property tests for the RECORD and METADATA parsers."""

from __future__ import annotations

import base64
import contextlib
import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from qprov.errors import MalformedInputError
from qprov.sbom import parse_metadata, parse_record, record_digest

_paths = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1, max_size=40,
).filter(lambda s: s.strip() == s and s)
_digests = st.binary(min_size=32, max_size=32)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_paths, st.one_of(st.none(), _digests),
                          st.one_of(st.none(), st.integers(0, 10**12))), max_size=20))
def test_record_round_trip(rows: list[tuple[str, bytes | None, int | None]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for path, digest, size in rows:
        hash_field = ("sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                      if digest is not None else "")
        writer.writerow([path, hash_field, "" if size is None else str(size)])
    entries = parse_record(buffer.getvalue())
    assert [(e.path, e.sha256, e.size) for e in entries] == [
        (p, d.hex() if d is not None else None, s) for p, d, s in rows
    ]
    digest = record_digest(entries, "x-1.dist-info")
    # absolute paths and paths outside the install root are left out by design
    counted = [d for p, d, _ in rows if not p.startswith(("/", "../"))]
    assert (digest is None) == all(d is None for d in counted)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_record_garbage_raises_only_malformed(text: str) -> None:
    with contextlib.suppress(MalformedInputError):
        parse_record(text)


def test_record_rejects_bad_hashes() -> None:
    for line in ("a.py,sha256=short,1", "a.py,sha256,1", "a.py,md5=!!!,1", "a.py,,x", "a,b"):
        try:
            parse_record(line + "\n")
        except MalformedInputError:
            continue
        raise AssertionError(f"accepted {line!r}")


_header_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s)


@settings(max_examples=150, deadline=None)
@given(_header_values, st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}\Z"))
def test_metadata_name_version_round_trip(name: str, version: str) -> None:
    text = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n"
    try:
        metadata = parse_metadata(text.encode(), origin="t")
    except MalformedInputError:
        return  # names packaging cannot read are rejected, never crash
    assert metadata.version == version


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_metadata_garbage_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedInputError):
        parse_metadata(data, origin="t")


def test_invalid_license_expression_is_kept_as_named_license() -> None:
    text = b"Metadata-Version: 2.4\nName: a\nVersion: 1\nLicense-Expression: MIT OR\n\n"
    info = parse_metadata(text, origin="t").license
    assert info.expression is None
    assert info.name == "MIT OR"
    assert info.invalid_expression == "MIT OR"


def test_license_from_classifier_and_field() -> None:
    text = (b"Metadata-Version: 2.1\nName: a\nVersion: 1\n"
            b"Classifier: License :: OSI Approved :: MIT License\n\n")
    assert parse_metadata(text, origin="t").license.expression == "MIT"
    text = b"Metadata-Version: 2.1\nName: a\nVersion: 1\nLicense: Some custom terms\n\n"
    assert parse_metadata(text, origin="t").license.name == "Some custom terms"
