"""The speed-ups change nothing: frozen sort keys, the direct rendering, the
in-process probe, the RECORD fast path, the paused GC and the inlined-$ref validator."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.output.json import JsonV1Dot6
from hypothesis import given, settings
from hypothesis import strategies as st
from sbom_testlib import build_wheel, install, metadata_text

from qprov.errors import MalformedInputError
from qprov.sbom import (
    Inventory,
    _bom,
    _metadata,
    _record,
    build_sbom,
    parse_metadata,
    parse_record,
    scan_directories,
    scan_environment,
    scan_files,
    scan_project,
)
from qprov.sbom._cbom import DEFAULT_ALGORITHMS
from qprov.sbom._gc import paused_gc
from qprov.sbom._validate import validate_cyclonedx_json


def _synthetic(tmp_path: Path) -> list[Inventory]:
    """Inventories with nested, ingested, crypto and root components and extras."""
    embedded = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "components": [
            {
                "type": "library",
                "bom-ref": "r1",
                "name": "libfoo",
                "version": "7.1",
                "purl": "pkg:generic/libfoo@7.1",
                "licenses": [{"license": {"id": "MIT"}}],
                "components": [{"name": "inner", "bom-ref": "r2"}],
            },
            {"type": "library", "name": "noref", "licenses": [{"expression": "not valid ("}]},
        ],
        "dependencies": [{"ref": "r1", "dependsOn": ["r2"]}],
    }
    wheels = [
        build_wheel(
            tmp_path,
            "native",
            "2.0",
            metadata=metadata_text("native", "2.0", requires=["lib>=1", "missing-dep", "lib2[x]"]),
            extra_files={
                "native.libs/libfoo-0123abcd.so.7.1": b"\x7fELF fake",
                "native.libs/libssl-0123abcd.so.3": b"OpenSSL 3.0.2 15 Mar 2022",
                "native-2.0.dist-info/sboms/auditwheel.cdx.json": json.dumps(embedded).encode(),
            },
        ),
        build_wheel(tmp_path, "lib", "0.5"),
        build_wheel(
            tmp_path,
            "lib2",
            "1.0",
            metadata=metadata_text("lib2", "1.0", extras=["x"], requires=["lib; extra == 'x'"]),
        ),
    ]
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\nlicense = "MIT"\ndependencies = ["a"]\n'
    )
    (project / "requirements.txt").write_text("a==1.0 --hash=sha256:" + "ab" * 32 + "\n")
    site = tmp_path / "site"
    site.mkdir()
    install(site, "installed", "3.0", extra_files={"installed.libs/libbar.so.1": b"bar"})
    return [
        scan_files(wheels, include_extensions=True),
        scan_project(project),
        scan_directories([site]),
    ]


def _all_speedups_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bom, "_CAN_FREEZE", False)
    monkeypatch.setattr(_bom, "_FAST_RENDER", False)


def test_speedups_give_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _bom._CAN_FREEZE, "cyclonedx-python-lib renamed the component sort key"
    assert _bom._CAN_FREEZE_DEPENDENCY, "cyclonedx-python-lib renamed the dependency sort key"
    inventories = [scan_environment(), *_synthetic(tmp_path)]
    for inventory in inventories:
        # The direct rendering is taken (else this test would compare the library to itself).
        assert _bom._is_normalized(_bom._Builder(inventory, list(DEFAULT_ALGORITHMS)).build(None))
    fast = [build_sbom(inventory) for inventory in inventories]
    _all_speedups_off(monkeypatch)
    plain = [build_sbom(inventory) for inventory in inventories]
    assert fast == plain


def test_render_equals_the_library_output(tmp_path: Path) -> None:
    for inventory in [scan_environment(), *_synthetic(tmp_path)]:
        bom = _bom._Builder(inventory, list(DEFAULT_ALGORITHMS)).build(None)
        text, document = _bom._render(bom)
        assert text == JsonV1Dot6(bom).output_as_string(indent=2)
        assert document == json.loads(text)


def test_not_normalized_falls_back_to_the_library(tmp_path: Path) -> None:
    inventory = _synthetic(tmp_path)[0]
    bom = _bom._Builder(inventory, []).build(None)
    first = next(iter(bom.components))
    bom.dependencies = [d for d in bom.dependencies if d.ref != first.bom_ref]
    assert not _bom._is_normalized(bom)  # the library registers the missing entry itself
    text, _document = _bom._render(bom)
    assert f'"ref": "{first.bom_ref.value}"' in text


@pytest.mark.parametrize(
    "text",
    [
        "a.py,sha256=" + "A" * 43 + ",12\r\nb.py,,\n",
        "a.py,SHA256=" + "A" * 43 + ",12\n",
        "a.py,sha512=" + "A" * 86 + ",\n",
        '"a,b.py",sha256=' + "A" * 43 + ",1\n",
        "a\rb.py,,\n",
        " ,,\n\n",
        "a.py,,007\n",
        "a.py,sha256=" + "A" * 42 + ",1\n",
        "a.py,sha256=" + "A" * 43 + ",\u0661\n",
        "a.py,,1,\n",
        ",,\n",
    ],
)
def test_record_fast_path_agrees(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def parse() -> Any:
        try:
            return parse_record(text)
        except MalformedInputError as exc:
            return str(exc)

    fast = parse()
    monkeypatch.setattr(_record, "_PLAIN_ROW", re.compile(r"(?!x)x"))
    assert fast == parse()


def test_paused_gc_restores_the_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(build_sbom(scan_environment()))
    return data


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


# -- METADATA headers read without the email package ---------------------------------------

_FIELDS = (
    "name",
    "version",
    "summary",
    "license",
    "license_expression",
    "classifiers",
    "requires_dist",
    "provides_extra",
)


def _packaging_fields(head: str, sep: str) -> dict[str, Any]:
    from packaging.metadata import parse_email

    raw, _unparsed = parse_email(head + sep)
    return {k: raw[k] for k in _FIELDS if k in raw}  # type: ignore[literal-required]


def _installed_metadata() -> list[str]:
    texts = []
    for package in scan_environment().packages:
        assert package.location is not None
        name = "PKG-INFO" if package.location.endswith(".egg-info") else "METADATA"
        texts.append((Path(package.location) / name).read_text(encoding="utf-8"))
    return texts


def test_header_reader_agrees_with_packaging_on_this_environment() -> None:
    texts = _installed_metadata()
    assert len(texts) > 20
    for text in texts:
        head, sep, _body = text.replace("\r\n", "\n").partition("\n\n")
        fast = _metadata._read_headers(head)
        assert fast is not None  # the usual shape takes the fast path
        assert fast == _packaging_fields(head, sep)


@pytest.mark.parametrize(
    "head",
    [
        "Name: a\nVersion: 1\nLicense: MIT\n  more\n\tand more\n \nSummary:  s  ",
        "Name: a\nName: b\nVersion: 1",  # repeated single field: left out, as packaging does
        "name: a\nVERSION: 1\nrequires-dist: x\nRequires-Dist: y; extra == 'z'",
        "Name:a\nVersion:\nLicense:\n  text",
        "Name: a\nVersion: 1\nX-Odd_Header.1: v\nClassifier: A :: B",
        "Name: a\nVersion: 1\n",  # no blank line: the file ended after the headers
        "Name: a\u00e9\nVersion: 1\nSummary: caf\u00e9 \u2028 x\x0b\x0cy",
    ],
)
def test_header_reader_agrees_with_packaging(head: str) -> None:
    fast = _metadata._read_headers(head)
    assert fast is not None
    assert fast == _packaging_fields(head, "\n\n")


@pytest.mark.parametrize(
    "head",
    [
        "Name: a\rVersion: 1",  # CR line end
        " Name: a\nVersion: 1",  # leading continuation line
        "From nobody\nName: a\nVersion: 1",  # Unix From line
        "Name: a\n\nVersion: 1",  # blank line inside
        "Name: a\nVersion 1\nSummary: s",  # not a header: the body starts there
        ": x\nName: a",  # no header name
        "N\u00e4me: a\nVersion: 1",  # non-ASCII header name
        "Na me: a",
    ],
)
def test_header_reader_leaves_the_unusual_to_packaging(head: str) -> None:
    assert _metadata._read_headers(head) is None
    data = (head + "\n\nbody\n").encode()
    with contextlib.suppress(MalformedInputError):
        parse_metadata(data, origin="t")  # whatever packaging makes of it, as before


_header_values = st.lists(
    st.sampled_from(
        [
            " ",
            "\t",
            "a",
            "1",
            ":",
            ";",
            "=?utf-8?q?x?=",
            "\u00e9",
            "\x0b",
            "\x85",
            "\u2028",
            "From ",
        ]
    ),
    max_size=8,
).map("".join)
_header_lines = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "Name",
                "name",
                "Version",
                "Summary",
                "License",
                "Classifier",
                "Requires-Dist",
                "Provides-Extra",
                "License-Expression",
                "X-Y",
            ]
        ),
        st.sampled_from([":", ": ", ":\t", " :"]),
        _header_values,
    ).map("".join),
    st.tuples(st.sampled_from([" ", "\t", "  "]), _header_values).map("".join),  # continuation
    st.sampled_from(["", "From x", ": x", "\r", "no colon", "N\u00e4me: a"]),
)
_header_text = st.lists(_header_lines, max_size=8).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(_header_text)
def test_header_reader_agrees_with_packaging_on_any_text(text: str) -> None:
    head, sep, _body = text.replace("\r\n", "\n").partition("\n\n")
    fast = _metadata._read_headers(head)
    if fast is not None:
        assert fast == _packaging_fields(head, sep)


# -- Requires-Dist parsed with shared markers -----------------------------------------------

_REQUIREMENTS = [
    "a",
    "a>=1",
    "a (>=1,<2)",
    "a[x,y]>=1; python_version < '3.12'",
    "a ; extra == 'dev'",
    "a;extra=='dev'",
    "A_b.c[X] ~= 1.0 ; sys_platform == \"win32\" and extra == 'x'",
    "a @ https://example.org/a;b.whl",
    "a @ https://example.org/a.whl ; extra == 'x'",
    "a; ",
    "a;",
    "; extra == 'x'",
    "a (>=1; extra == 'x')",
    "a; python_version > '3' ; extra == 'x'",
    "a; extra == 'x' or",
    "a[x; extra == 'y'",
    "a===1;2; extra == 'x'",
    "a===x; extra == 'x'",
    "a; os_name == 'nt' and (extra == 'a' or extra == 'B')",
    "a\x00; extra == 'x'",
    "a; platform_machine in 'x86_64 aarch64'",
    "a; 'x' == extra",
]


def _parse(parse: Any, line: str) -> Any:
    try:
        requirement = parse(line)
    except (ValueError, SyntaxError) as exc:
        return type(exc)
    return (
        str(requirement),
        requirement.name,
        requirement.url,
        sorted(requirement.extras),
        str(requirement.specifier),
        str(requirement.marker),
        requirement,
    )


@pytest.mark.parametrize("line", _REQUIREMENTS)
def test_requirement_split_agrees_with_packaging(line: str) -> None:
    from packaging.requirements import Requirement

    assert _parse(_metadata._requirement, line) == _parse(Requirement, line)


def test_requirement_split_agrees_on_this_environment() -> None:
    from packaging.requirements import Requirement

    lines = [str(r) for p in scan_environment().packages for r in p.metadata.requires_dist]
    assert len(lines) > 100
    for line in lines:
        assert _parse(_metadata._requirement, line) == _parse(Requirement, line)


_requirement_lines = st.tuples(
    st.sampled_from(["a", "A_b.c", "", "a b", "1"]),
    st.sampled_from(["", "[x]", "[x,Y]", " [ x ]", "[x"]),
    st.sampled_from(["", ">=1", " (>=1,<2)", "==1.*", "===a", " @ https://h/p", " @ h;x", "(>=1"]),
    st.sampled_from(["", ";", "; ", " ; ", ";;"]),
    st.lists(
        st.sampled_from(
            [
                "extra == 'x'",
                'python_version < "3.12"',
                "os_name=='nt'",
                " and ",
                " or ",
                "(",
                ")",
                "'a' in extra",
                "not ",
                ";",
                " ",
            ]
        ),
        max_size=4,
    ).map("".join),
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_requirement_lines)
def test_requirement_split_agrees_on_any_text(line: str) -> None:
    from packaging.requirements import Requirement

    assert _parse(_metadata._requirement, line) == _parse(Requirement, line)


# -- RECORD entries, bounded reads, lazy imports, the CLI's collector --------------------------


def test_record_entries_are_ordinary_frozen_entries() -> None:
    from dataclasses import FrozenInstanceError

    from qprov.sbom import RecordEntry

    entry = parse_record("a.py,sha256=" + "A" * 43 + ",12\n")[0]
    assert type(entry) is RecordEntry
    assert entry == RecordEntry("a.py", "sha256", "A" * 43, 12)
    assert hash(entry) == hash(RecordEntry("a.py", "sha256", "A" * 43, 12))
    assert repr(entry) == repr(RecordEntry("a.py", "sha256", "A" * 43, 12))
    with pytest.raises(FrozenInstanceError):
        entry.path = "b.py"  # type: ignore[misc]


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 4096])
def test_read_bounded(tmp_path: Path, size: int) -> None:
    from qprov.sbom._installed import read_bounded

    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    with path.open("rb") as handle:
        data = read_bounded(handle, 10)
    assert data == b"x" * min(size, 11)


def test_read_bounded_reads_a_file_that_grew(tmp_path: Path) -> None:
    from qprov.sbom._installed import read_bounded

    path = tmp_path / "f"
    path.write_bytes(b"x" * 3)
    with path.open("rb") as handle, path.open("ab") as writer:

        class Growing:
            def fileno(self) -> int:
                return handle.fileno()

            def read(self, n: int) -> bytes:
                writer.write(b"y" * 5)
                writer.flush()
                return handle.read(n)

        data = read_bounded(Growing(), 100)  # type: ignore[arg-type]
    assert data == b"xxx" + b"y" * 10


def test_public_names_resolve_lazily() -> None:
    import subprocess
    import sys

    import qprov.sbom as api

    assert sorted(api._SOURCES) == sorted(api.__all__)
    for name in api.__all__:
        assert getattr(api, name) is not None
    assert set(api.__all__) <= set(dir(api))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        api.nope  # type: ignore[attr-defined]  # noqa: B018
    # Scanning an environment does not import the wheel, lock or verification code.
    code = (
        "import sys; from qprov import sbom; sbom.scan_environment; sbom.build_sbom; "
        "print(sorted(m for m in sys.modules if m.startswith(('qprov.sbom.', "
        "'packaging.metadata', 'email.parser'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for module in (
        "_archive",
        "_files",
        "_project",
        "_verify",
        "packaging.metadata",
        "email.parser",
    ):
        assert module not in loaded


def test_cli_turns_the_collector_back_on(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qprov._cli import cli

    site = tmp_path / "site"
    site.mkdir()
    install(site, "installed", "3.0")
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["sbom", "env", "--path", str(site), "--no-validate"])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
    gc.unfreeze()


def test_verify_record_big_files_on_threads(tmp_path: Path) -> None:
    from qprov.sbom import RecordVerificationError, verify_record
    from qprov.sbom._verify import _CHUNK, _PARALLEL_MIN_BYTES

    sizes = {  # around the thread threshold and the read chunk, and empty
        "big/a.bin": _PARALLEL_MIN_BYTES,
        "big/b.bin": _PARALLEL_MIN_BYTES - 1,
        "big/c.bin": _CHUNK,
        "big/d.bin": 2 * _CHUNK + 7,
        "big/e.bin": 0,
        "big/f.bin": _PARALLEL_MIN_BYTES + 1,
        "big/g.bin": _PARALLEL_MIN_BYTES + 2,
    }
    site = tmp_path / "site"
    site.mkdir()
    install(
        site,
        "big",
        "1.0",
        extra_files={path: bytes([i]) * n for i, (path, n) in enumerate(sizes.items())},
    )
    clean = verify_record(scan_directories([site]))
    assert clean.ok
    assert clean.bytes_hashed >= sum(sizes.values())
    (site / "big" / "a.bin").write_bytes(b"\x01" * _PARALLEL_MIN_BYTES)  # same size, changed
    (site / "big" / "c.bin").unlink()
    with (site / "big" / "d.bin").open("ab") as handle:
        handle.write(b"+")  # one byte more
    (site / "big" / "f.bin").unlink()
    (site / "big" / "f.bin").mkdir()  # not readable as a file
    with pytest.raises(RecordVerificationError) as caught:
        verify_record(scan_directories([site]))
    found = {(f.kind, f.path, f.detail) for f in caught.value.report.findings}
    a_now = hashlib.sha256(b"\x01" * _PARALLEL_MIN_BYTES).hexdigest()
    a_was = hashlib.sha256(b"\x00" * _PARALLEL_MIN_BYTES).hexdigest()
    d_was = bytes([3]) * sizes["big/d.bin"]
    d_now, d_old = hashlib.sha256(d_was + b"+").hexdigest(), hashlib.sha256(d_was).hexdigest()
    assert found == {
        ("modified", "big/a.bin", f"sha256 {a_now}, RECORD {a_was}"),
        ("missing", "big/c.bin", ""),
        ("modified", "big/d.bin", f"sha256 {d_now}, RECORD {d_old}"),
        ("missing", "big/f.bin", f"[Errno 21] Is a directory: '{site / 'big' / 'f.bin'}'"),
    }


# -- the probe runs while the scanner imports its parsers ------------------------------------


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("echo 'boom' >&2; exit 3", "exited with 3: boom"),
        ("echo 'not json'", "probe printed no JSON"),
        ("echo '{\"dists\": 5}'", "probe output has the wrong shape"),
    ],
)
def test_probe_failures(tmp_path: Path, body: str, message: str) -> None:
    from qprov.errors import EnvironmentProblemError

    with pytest.raises(EnvironmentProblemError, match=message):
        scan_environment(_fake_python(tmp_path, body))


def test_probe_timeout_kills_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qprov.errors import EnvironmentProblemError
    from qprov.sbom import _env

    monkeypatch.setattr(_env, "_PROBE_TIMEOUT", 0.2)
    with pytest.raises(EnvironmentProblemError, match=r"cannot run .*timed out"):
        scan_environment(_fake_python(tmp_path, "exec sleep 30"))


def test_probe_is_stopped_when_the_caller_fails(tmp_path: Path) -> None:
    from qprov.sbom import _env

    pending = _env._Probe(_fake_python(tmp_path, "exec sleep 30"))
    process = pending._process
    pending.close()
    assert process.returncode is not None
    assert not Path(pending._cwd.name).exists()


def test_unique_items_strings_and_objects(document: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(document))
    dependency = next(d for d in broken["dependencies"] if d.get("dependsOn"))
    dependency["dependsOn"].append(dependency["dependsOn"][0])
    first = json.dumps(dependency["dependsOn"][0])
    with pytest.raises(MalformedInputError, match=re.escape(f"non-unique array element {first}")):
        validate_cyclonedx_json(broken)
    broken = json.loads(json.dumps(document))
    dependency = next(d for d in broken["dependencies"] if d.get("dependsOn"))
    broken["dependencies"].append(dict(reversed(list(dependency.items()))))  # keys reordered
    with pytest.raises(MalformedInputError, match=r'non-unique array element \{"dependsOn"'):
        validate_cyclonedx_json(broken)


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("component", "name", 5),
        ("component", "name", None),
        ("component", "properties", {"a": 1}),
        ("component", "hashes", "x"),
        ("component", "components", [1, "a", True]),
        ("metadata", "properties", [{"name": 1, "value": []}]),
        ("root", "version", "1"),
        ("root", "version", 1.5),
        ("root", "version", True),
        ("root", "metadata", []),
    ],
)
def test_type_keyword_errors_as_jsonschema(
    document: dict[str, Any], where: str, key: str, value: Any
) -> None:
    from qprov.sbom import _validate

    fast = _validate._validator()
    stock = _validate._import_jsonschema().Draft7Validator(
        fast.schema, format_checker=fast.format_checker
    )
    broken = json.loads(json.dumps(document))
    broken["components"] = broken["components"][:5]  # the stock uniqueItems is quadratic
    broken["dependencies"] = broken["dependencies"][:5]
    target = {"component": broken["components"][0], "metadata": broken["metadata"]}.get(
        where, broken
    )
    target[key] = value

    def errors(validator: Any) -> list[tuple[str, str]]:
        found = validator.iter_errors(broken)
        return sorted((e.json_path, e.message) for e in found if e.validator != "uniqueItems")

    assert errors(fast)
    assert errors(fast) == errors(stock)


_SNIFF_PIECES = st.sampled_from(
    [b"OpenBLAS ", b"OpenBLAS 0.3.15", b"OpenBLAS 0.3.31.dev", b"OpenBLAS x", b"OpenSSL ",
     b"OpenSSL 3.5.1 1 Jul 2025", b"OpenSSL 3.0.2a  15 Mar 2022", b"OpenSSL 3.1", b"\x00", b"0.3.1"]
) | st.binary(max_size=12)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_SNIFF_PIECES, max_size=8), library=st.sampled_from(["openblas", "openssl"]))
def test_version_sniffing_equals_the_regular_expression_search(
    pieces: list[bytes], library: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from qprov.sbom._native import _SNIFFERS, sniff_bytes, sniff_version

    data = b"".join(pieces)
    match = _SNIFFERS[library].search(data)
    expected = match.group(1).decode("ascii") if match else None
    assert sniff_bytes(data, library) == expected
    path = tmp_path_factory.mktemp("sniff") / "lib.so"
    path.write_bytes(data)
    assert sniff_version(path, library) == expected
