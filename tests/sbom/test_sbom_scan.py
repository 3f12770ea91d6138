"""Scans of real and synthetic distributions: graph, bundled code, PEP 770, CBOM, output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sbom_testlib import build_wheel, install, metadata_text

from qprov._cli import cli
from qprov.errors import EnvironmentProblemError, UnsupportedAlgorithmError
from qprov.sbom import (
    RecordVerificationError,
    build_sbom,
    cbom_components,
    parse_record,
    scan_directories,
    scan_environment,
    scan_files,
    scan_project,
    source_date,
    verify_record,
    write_output,
)
from qprov.sbom._validate import validate_cyclonedx_json


@pytest.fixture(scope="module")
def env_sbom() -> dict[str, Any]:
    inventory = scan_environment()
    first = build_sbom(inventory)  # validated against the 1.6 schema inside
    second = build_sbom(scan_environment())
    assert first == second  # determinism: two full runs, byte-identical
    return {"bytes": first, "doc": json.loads(first)}


def _component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["name"] == name)


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_env_sbom_valid_deterministic_serial(env_sbom: dict[str, Any]) -> None:
    doc = env_sbom["doc"]
    validate_cyclonedx_json(doc)
    assert doc["specVersion"] == "1.6"
    assert uuid.UUID(doc["serialNumber"].removeprefix("urn:uuid:")).version == 5
    assert "timestamp" not in doc["metadata"]


def test_qiskit_aer_bundled_libraries_and_embedded_sbom(env_sbom: dict[str, Any]) -> None:
    aer = _component(env_sbom["doc"], "qiskit-aer")
    assert aer["purl"].startswith("pkg:pypi/qiskit-aer@")
    assert "file_name=qiskit_aer-" in aer["purl"]
    assert aer["hashes"][0]["alg"] == "SHA-256"
    vendored = [c for c in aer["components"] if _props(c).get("qprov:bundled:kind") == "vendored"]
    names = {c["name"] for c in vendored}
    assert {"libopenblas", "libgfortran", "libgomp"} <= names
    assert all(len(c["hashes"][0]["content"]) == 64 for c in vendored)
    openblas = next(c for c in vendored if c["name"] == "libopenblas")
    assert openblas["version"].startswith("0.3.15")
    # PEP 770: auditwheel's SBOM is ingested and nested, linked to the files.
    ingested = [c for c in aer["components"] if c["bom-ref"].split("#", 1)[1].startswith("sbom:")]
    assert any(c.get("purl", "").startswith("pkg:rpm/") for c in ingested)
    assert "qprov:bundled:identified-as" in _props(openblas)


def test_cryptography_openssl_crypto_library(env_sbom: dict[str, Any]) -> None:
    from cryptography.hazmat.backends.openssl import backend

    crypto = _component(env_sbom["doc"], "cryptography")
    openssl = next(c for c in crypto["components"] if c["name"] == "openssl"
                   and _props(c).get("qprov:crypto:library") == "true")
    assert openssl["version"] == backend.openssl_version_text().split()[1]
    expected = "false" if _props(openssl)["qprov:crypto:pq-algorithms"] else "true"
    assert _props(openssl)["qprov:crypto:quantum-vulnerable"] == expected


def test_cbom_assets(env_sbom: dict[str, Any]) -> None:
    default = _component(env_sbom["doc"], "MLDSA65-Ed25519-SHA512")
    assert default["type"] == "cryptographic-asset"
    assert default["cryptoProperties"]["oid"] == "1.3.6.1.5.5.7.6.48"
    assert default["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] == 3
    mldsa87 = _component(env_sbom["doc"], "ML-DSA-87")
    assert mldsa87["cryptoProperties"]["oid"] == "2.16.840.1.101.3.4.3.19"
    ed25519 = _component(env_sbom["doc"], "Ed25519")
    assert _props(ed25519)["qprov:crypto:quantum-vulnerable"] == "true"
    names = [c.name for c in cbom_components(["MLDSA87-Ed448-SHAKE256"])]
    assert names == ["Ed448", "ML-DSA-87", "MLDSA87-Ed448-SHAKE256", "SHAKE256"]
    with pytest.raises(UnsupportedAlgorithmError, match="RSA-2048"):
        cbom_components(["RSA-2048"])


def test_dependency_graph_omits_unrequested_extras(tmp_path: Path) -> None:
    wheels = [
        build_wheel(tmp_path, "app", "1.0", metadata=metadata_text(
            "app", "1.0", extras=["fast"],
            requires=["lib>=1", "opt; extra == 'fast'", "dep[x]", "never; python_version < '3'"])),
        build_wheel(tmp_path, "lib", "1.0"),
        build_wheel(tmp_path, "opt", "1.0"),
        build_wheel(tmp_path, "dep", "1.0", metadata=metadata_text(
            "dep", "1.0", extras=["x", "y"],
            requires=["xdep; extra == 'x'", "ydep; extra == 'y'"])),
        build_wheel(tmp_path, "xdep", "1.0"),
        build_wheel(tmp_path, "ydep", "1.0"),
        build_wheel(tmp_path, "never", "1.0"),
    ]
    doc = json.loads(build_sbom(scan_files(wheels), algorithms=[]))
    edges = {d["ref"].split("/")[1].split("@")[0]: sorted(
        t.split("/")[1].split("@")[0] for t in d.get("dependsOn", [])) for d in doc["dependencies"]}
    assert edges["app"] == ["dep", "lib"]
    assert edges["dep"] == ["xdep"]
    assert _props(_component(doc, "dep"))["qprov:extras"] == "x"


def test_pep770_and_vendored_in_synthetic_wheel(tmp_path: Path) -> None:
    embedded = {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [
        {"type": "library", "bom-ref": "r1", "name": "libfoo", "version": "7.1",
         "purl": "pkg:generic/libfoo@7.1", "licenses": [{"license": {"id": "MIT"}}]}],
        "dependencies": [{"ref": "r1"}]}
    wheel = build_wheel(tmp_path, "native", "2.0", extra_files={
        "native.libs/libfoo-0123abcd.so.7.1": b"\x7fELF fake",
        "native-2.0.dist-info/sboms/auditwheel.cdx.json": json.dumps(embedded).encode(),
    })
    doc = json.loads(build_sbom(scan_files([wheel]), algorithms=[]))
    native = _component(doc, "native")
    assert native["purl"] == "pkg:pypi/native@2.0?file_name=native-2.0-py3-none-any.whl"
    ingested = [c for c in native["components"] if "#sbom:" in c["bom-ref"]]
    assert [(c["name"], c["licenses"]) for c in ingested] == [("libfoo", [{"expression": "MIT"}])]
    files = [c for c in native["components"] if "qprov:bundled:kind" in _props(c)]
    assert len(files) == 1
    assert _props(files[0])["qprov:bundled:identified-as"].endswith("#sbom:auditwheel.cdx.json:r1")
    assert files[0]["version"] == "7.1"


def test_verify_record_detects_tampering(site: Path) -> None:
    real = Path(__import__("packaging").__file__).parent.parent
    dist_info = next(real.glob("packaging-*.dist-info"))
    for entry in parse_record((dist_info / "RECORD").read_text()):
        source = real / entry.path
        if source.is_file() and not entry.path.startswith(".."):
            (site / entry.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, site / entry.path)
    clean = verify_record(scan_directories([site]))
    assert clean.ok
    assert clean.files_checked > 10
    (site / "packaging" / "version.py").write_text("evil = True\n")
    (site / "packaging" / "tags.py").unlink()
    (site / "packaging" / "backdoor.py").write_text("import os\n")
    with pytest.raises(RecordVerificationError, match="1 missing, 1 modified, 1 unexpected") as e:
        verify_record(scan_directories([site]))
    found = {(f.kind, f.path) for f in e.value.report.findings}
    assert found == {("modified", "packaging/version.py"), ("missing", "packaging/tags.py"),
                     ("unexpected", "packaging/backdoor.py")}
    result = CliRunner().invoke(cli, ["sbom", "env", "--path", str(site), "--verify-record"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "FAIL: packaging: modified: packaging/version.py" in result.stderr


def test_cli_wheel_output_and_source_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "sbom.json"
    result = CliRunner().invoke(cli, ["sbom", "wheel", str(wheel), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("OK: 1 packages")
    doc = json.loads(out.read_bytes())
    assert doc["metadata"]["timestamp"] == "2023-11-14T22:13:20+00:00"
    stdout = CliRunner().invoke(cli, ["sbom", "wheel", str(wheel)]).stdout
    assert stdout.encode() == out.read_bytes()
    assert source_date({}) is None


def test_project_requirements_and_report(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\nlicense = "MIT"\ndependencies = ["a"]\n')
    (tmp_path / "requirements.txt").write_text(
        "a==1.0 \\\n    --hash=sha256:" + "ab" * 32 + "\nb>=2  # unpinned\n")
    doc = json.loads(build_sbom(scan_project(tmp_path), algorithms=[]))
    assert doc["metadata"]["component"]["name"] == "proj"
    assert _component(doc, "a")["hashes"][0]["content"] == "ab" * 32
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"version": "1", "install": [
        {"metadata": {"name": "proj", "version": "0.1", "requires_dist": ["a", "c; extra == 'z'"]},
         "requested": True, "requested_extras": []},
        {"metadata": {"name": "a", "version": "1.0", "license_expression": "Apache-2.0"},
         "download_info": {"url": "https://x.invalid/a-1.0-py3-none-any.whl",
                           "archive_info": {"hashes": {"sha256": "cd" * 32}}}},
        {"metadata": {"name": "c", "version": "1.0"}}]}))
    doc = json.loads(build_sbom(scan_project(tmp_path, report=report), algorithms=[]))
    root = [d for d in doc["dependencies"] if d["ref"] == doc["metadata"]["component"]["bom-ref"]]
    assert [t.split("@")[0] for t in root[0]["dependsOn"]] == ["pkg:pypi/a"]
    assert "file_name=a-1.0-py3-none-any.whl" in _component(doc, "a")["purl"]


def test_atomic_output(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    write_output(b"new", str(target))
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    with pytest.raises(EnvironmentProblemError, match="cannot write"):
        write_output(b"x", str(tmp_path / "missing-dir" / "out.json"))


def test_other_interpreter_probe_and_no_qiskit_import(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "probe-me", "1.0")
    monkeypatch.setenv("PYTHONPATH", str(site))
    inventory = scan_environment(sys.executable)  # subprocess probe, nothing imported
    assert inventory.packages[0].metadata.name == "probe-me" or any(
        p.metadata.name == "probe-me" for p in inventory.packages)
    monkeypatch.delenv("PYTHONPATH")
    code = "import qprov.sbom, sys; print('qiskit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(EnvironmentProblemError, match="cannot run"):
        scan_environment(str(site / "no-such-python"))
