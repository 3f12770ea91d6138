"""The speed-ups change nothing: frozen sort keys, the direct rendering, the
in-process probe, the RECORD fast path, the paused GC and the inlined-$ref validator."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.output.json import JsonV1Dot6
from sbom_testlib import build_wheel, install, metadata_text

from qprov.errors import MalformedInputError
from qprov.sbom import (
    Inventory,
    _bom,
    _record,
    build_sbom,
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
    embedded = {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [
        {"type": "library", "bom-ref": "r1", "name": "libfoo", "version": "7.1",
         "purl": "pkg:generic/libfoo@7.1", "licenses": [{"license": {"id": "MIT"}}],
         "components": [{"name": "inner", "bom-ref": "r2"}]},
        {"type": "library", "name": "noref", "licenses": [{"expression": "not valid ("}]}],
        "dependencies": [{"ref": "r1", "dependsOn": ["r2"]}]}
    wheels = [
        build_wheel(tmp_path, "native", "2.0", metadata=metadata_text(
            "native", "2.0", requires=["lib>=1", "missing-dep", "lib2[x]"]), extra_files={
            "native.libs/libfoo-0123abcd.so.7.1": b"\x7fELF fake",
            "native.libs/libssl-0123abcd.so.3": b"OpenSSL 3.0.2 15 Mar 2022",
            "native-2.0.dist-info/sboms/auditwheel.cdx.json": json.dumps(embedded).encode(),
        }),
        build_wheel(tmp_path, "lib", "0.5"),
        build_wheel(tmp_path, "lib2", "1.0", metadata=metadata_text(
            "lib2", "1.0", extras=["x"], requires=["lib; extra == 'x'"])),
    ]
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\nlicense = "MIT"\ndependencies = ["a"]\n')
    (project / "requirements.txt").write_text("a==1.0 --hash=sha256:" + "ab" * 32 + "\n")
    site = tmp_path / "site"
    site.mkdir()
    install(site, "installed", "3.0", extra_files={"installed.libs/libbar.so.1": b"bar"})
    return [scan_files(wheels, include_extensions=True), scan_project(project),
            scan_directories([site])]


def _all_speedups_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bom, "_CAN_FREEZE", False)
    monkeypatch.setattr(_bom, "_FAST_RENDER", False)


def test_speedups_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


@pytest.mark.parametrize("text", [
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
])
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
