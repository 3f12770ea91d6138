"""Seed corpus for the parser fuzzers: real documents of every kind qprov reads.

``build_corpus(directory)`` runs ``qprov demo`` once (which writes a real trust
file, policies, a signed manifest bundle, an SDK release attestation, a receipt
bundle with its admission decision, inclusion proofs and checkpoints) and adds
what the demo does not make: a grant and its revocation, a simulator baseline,
a gateway configuration, a calibration snapshot, a real wheel and sdist, a pip
report, requirements, pylock and pyproject files, OpenQASM 3 and QPY circuits,
keys in every encoding, and the shared Sigstore and tlog vectors when present.

Seeds are returned as ``{kind: [bytes, ...]}``; the fuzz targets in
``_targets.py`` name the kinds they start from. The builder is shared by the
hypothesis tests (tests/fuzz/test_parsers.py) and the atheris harness
(scripts/fuzz/fuzz_parsers.py).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "fuzz-corpus-passphrase"

Corpus = dict[str, list[bytes]]


def _vectors_root() -> Path | None:
    env = os.environ.get("QPROV_VECTORS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "vectors")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _run(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "QPROV_KEY_PASSPHRASE": PASSPHRASE}
    for name in list(env):
        if name.startswith("QPROV_") and name not in ("QPROV_KEY_PASSPHRASE", "QPROV_VECTORS"):
            del env[name]
    proc = subprocess.run(
        [sys.executable, "-c", "from qprov._cli import main; main()", *args],
        cwd=cwd,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"qprov {' '.join(args)}: {proc.stderr.decode(errors='replace')}")


def _wheel(name: str, version: str) -> bytes:
    import hashlib
    import zipfile

    def rec_hash(data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        return "sha256=" + digest.decode()

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"__version__ = '" + version.encode() + b"'\n",
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
            "License-Expression: Apache-2.0\nRequires-Dist: numpy>=1.26\n"
            "Requires-Dist: scipy; extra == 'sim'\nProvides-Extra: sim\n\nA test SDK.\n"
        ).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fuzz\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{dist}/sboms/bundled.cdx.json": json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [{"type": "library", "name": "openblas", "version": "0.3.15"}],
            }
        ).encode(),
        f"{name}.libs/libfoo-1a2b3c4d.so.1": b"\x7fELF" + b"\0" * 60,
    }
    record = "".join(f"{path},{rec_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _sdist(name: str, version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(data)
        info.mtime = 1735689600
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


_QASM2 = (
    b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\n'
    b"cx q[0],q[1];\nmeasure q -> c;\n"
)
_QASM2_GATE = (
    b'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate g(t) a,b { rz(t) a; cx a,b; }\n'
    b"qreg q[3];\ncreg c[3];\ng(pi/2) q[0],q[1];\nbarrier q;\nmeasure q -> c;\n"
)
_QASM3 = (
    b'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate bell a, b { h a; cx a, b; }\n'
    b"qubit[2] q;\nbit[2] c;\nbell q[0], q[1];\nc[0] = measure q[0];\n"
    b"if (c[0] == true) { x q[1]; }\nc[1] = measure q[1];\n"
)


def _qpy() -> bytes:
    from qiskit import QuantumCircuit, qpy

    qc = QuantumCircuit(2, 2, name="bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(0.25, 1)
    qc.measure([0, 1], [0, 1])
    buf = io.BytesIO()
    qpy.dump(qc, buf, version=13)
    return buf.getvalue()


_PIP_REPORT = {
    "version": "1",
    "pip_version": "24.0",
    "install": [
        {
            "download_info": {
                "url": "https://files.example/numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
                "archive_info": {"hashes": {"sha256": "ab" * 32}},
            },
            "requested": True,
            "requested_extras": ["sim"],
            "metadata": {
                "name": "numpy",
                "version": "2.0.0",
                "requires_dist": ["scipy; extra == 'sim'"],
                "license_expression": "BSD-3-Clause",
                "classifier": ["License :: OSI Approved :: BSD License"],
                "provides_extra": ["sim"],
            },
        }
    ],
    "environment": {"python_version": "3.11", "sys_platform": "linux"},
}

_PYLOCK = b"""lock-version = "1.0"
created-by = "fuzz"
[[packages]]
name = "numpy"
version = "2.0.0"
[[packages.wheels]]
name = "numpy-2.0.0-py3-none-any.whl"
url = "https://files.example/numpy-2.0.0-py3-none-any.whl"
hashes = {sha256 = "abababababababababababababababababababababababababababababababab"}
"""

_PYPROJECT = b"""[project]
name = "qsdk"
version = "1.0.0"
license = "Apache-2.0"
dependencies = ["numpy>=1.26", "scipy; python_version >= '3.11'"]
[project.optional-dependencies]
sim = ["qiskit-aer"]
"""

_REQUIREMENTS = (
    b"numpy==2.0.0 --hash=sha256:" + b"ab" * 32 + b"\nscipy>=1.11 ; python_version >= '3.11'\n"
    b"# a comment\nqiskit[visualization]==2.0.0 \\\n    --hash=sha256:" + b"cd" * 32 + b"\n"
)


def _json_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def build_corpus(directory: Path) -> Corpus:
    """Write the seed documents under ``directory`` and return them by kind."""
    from qprov.keys import generate_private_key

    directory.mkdir(parents=True, exist_ok=True)
    demo = directory / "demo"
    if not (demo / "bell.receipt.json").is_file():
        _run(["demo", "--keep", str(demo)], directory)
    if not (demo / "revocations.jsonl").is_file():
        _run(["keys", "generate", "--force", "--out", "owner.key"], demo)
        _run(
            [
                "grant",
                "create",
                "--agent-key",
                "submitter.pub",
                "--backend",
                "aer_simulator",
                "--max-shots",
                "100",
                "--max-total-shots",
                "1000",
                "--gates",
                "h,cx",
                "--experiment",
                "demo",
                "--expires",
                "+3600",
                "--key",
                "file:owner.key",
                "-o",
                "grant.json",
            ],
            demo,
        )
        _run(
            [
                "grant",
                "revoke",
                "grant.json",
                "--reason",
                "key lost",
                "--key",
                "file:owner.key",
                "-o",
                "revocations.jsonl",
            ],
            demo,
        )
    c: Corpus = {}

    def add(kind: str, *items: bytes) -> None:
        c.setdefault(kind, []).extend(items)

    receipt_bundle = (demo / "bell.receipt.json").read_bytes()
    rb = json.loads(receipt_bundle)
    add("receipt-bundle", receipt_bundle)
    add(
        "manifest-bundle",
        *[(demo / n).read_bytes() for n in ("bell.manifest.json", "bell-chain.manifest.json")],
    )
    mb = json.loads((demo / "bell-chain.manifest.json").read_bytes())
    grant_env = (demo / "grant.json").read_bytes()
    add("grant", grant_env)
    add("revocations", (demo / "revocations.jsonl").read_bytes())
    add(
        "envelope",
        (demo / "statement.dsse.json").read_bytes(),
        grant_env,
        json.dumps(mb["manifest"]).encode(),
        json.dumps(rb["receipt"]["envelope"]).encode(),
        json.dumps(rb["decision"]["envelope"]).encode(),
    )
    add("manifest-envelope", json.dumps(mb["manifest"]).encode())
    add("receipt-envelope", json.dumps(rb["receipt"]["envelope"]).encode())
    add("decision-envelope", json.dumps(rb["decision"]["envelope"]).encode())
    add("attestation-bundle", (demo / "qsdk-1.0.0-py3-none-any.whl.intoto.jsonl").read_bytes())
    for kind, env_doc in (
        ("decision", rb["decision"]["envelope"]),
        ("receipt", rb["receipt"]["envelope"]),
        ("manifest", mb["manifest"]),
    ):
        payload = base64.b64decode(env_doc["payload"])
        add("statement", payload)
        add(f"{kind}-predicate", json.dumps(json.loads(payload)["predicate"]).encode())
    for line in _json_lines(demo / "qsdk-1.0.0-py3-none-any.whl.intoto.jsonl"):
        payload = base64.b64decode(json.loads(line)["payload"])
        doc = json.loads(payload)
        if doc["predicateType"] == "https://slsa.dev/provenance/v1":
            add("provenance", json.dumps(doc["predicate"]).encode())
    proofs = [rb["receipt"]["proof"], rb["decision"]["proof"]]
    add(
        "proof-bundle",
        *[p.encode() if isinstance(p, str) else json.dumps(p).encode() for p in proofs],
    )
    trust_chain = (demo / "trust-chain.toml").read_bytes()
    add(
        "trust",
        (demo / "trust.toml").read_bytes(),
        trust_chain,
        (REPO / "attestations/examples/trust.toml").read_bytes(),
    )
    add(
        "admission-policy",
        (demo / "admission-policy.toml").read_bytes(),
        (demo / "chain-policy.toml").read_bytes(),
        (REPO / "attestations/examples/admission-policy.toml").read_bytes(),
    )
    add(
        "release-policy",
        (demo / "release-policy.toml").read_bytes(),
        (REPO / "attestations/examples/release-policy.toml").read_bytes(),
    )
    add("gateway-config", (REPO / "attestations/examples/gateway.toml").read_bytes())
    add(
        "counts",
        (demo / "bell.counts.json").read_bytes(),
        b'{"0x0": 3, "0x3": 5}',
        b'{"1 00": 4, "0 11": 4}',
    )
    add("qasm", _QASM2, _QASM2_GATE, (demo / "bell.qasm").read_bytes())
    add("qasm3", _QASM3)
    qpy = _qpy()
    add("qpy", qpy)
    executed = rb.get("executedCircuit")
    if isinstance(executed, str):
        add("qpy", base64.b64decode(executed))
    add(
        "public-key",
        *[(demo / n).read_bytes() for n in ("release.pub", "classical.pub", "gateway.pub")],
    )
    add("private-key", (demo / "release.key").read_bytes(), (demo / "owner.key").read_bytes())
    key = generate_private_key("MLDSA44-Ed25519-SHA512")
    add("private-key", key.to_pkcs8_der(), key.to_unencrypted_pem())
    add("public-key", json.dumps(key.public_key().keyval()).encode())
    add("calibration", json.dumps(_calibration()).encode())
    add("wheel", _wheel("qsdk", "1.0.0"))
    add("sdist", _sdist("qsdk", "1.0.0"))
    add("record", b"qsdk/__init__.py,sha256=" + b"A" * 43 + b",10\nqsdk-1.0.0.dist-info/RECORD,,\n")
    add(
        "metadata",
        b"Metadata-Version: 2.4\nName: qsdk\nVersion: 1.0\nLicense-Expression: MIT\n"
        b"Requires-Dist: numpy; python_version>'3'\n\nbody\n",
    )
    add("pip-report", json.dumps(_PIP_REPORT).encode())
    add("pylock", _PYLOCK)
    add("pyproject", _PYPROJECT)
    add("requirements", _REQUIREMENTS)
    add(
        "embedded-sbom",
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [{"name": "x", "version": "1"}],
            }
        ).encode(),
    )
    # checkpoints and notes: from the receipt bundle's proof and from the shared vectors
    for p in proofs:
        text = p if isinstance(p, str) else ""
        if "\n\n" in text:
            header, _, rest = text.partition("\n\n")
            add("note", rest.encode())
            add("checkpoint", rest.encode().split(b"\n\n")[0] + b"\n")
            hashes = [h for h in header.splitlines()[2:] if h]
            add("hash-lines", ("\n".join(hashes) + "\n").encode())
            _monitor_state(c, demo, rest.encode())
    add("trusted-root", (REPO / "qprov/_data/sigstore/staging.trusted_root.json").read_bytes())
    _baseline(c, demo, qpy_circuit=_QASM2)
    _vectors(c)
    return c


def _monitor_state(c: Corpus, demo: Path, checkpoint: bytes) -> None:
    from qprov.chain import log_trust
    from qprov.tlog import Monitor
    from qprov.trust import TrustStore

    path = demo / "trust-chain.toml"
    vkeys = list(log_trust(TrustStore.from_toml(path.read_bytes(), demo)).vkeys)
    state = demo / f"monitor-{len(c.get('monitor-state', []))}.json"
    state.unlink(missing_ok=True)
    Monitor(state, vkeys).observe(checkpoint)
    c.setdefault("monitor-state", []).append(state.read_bytes())


def _calibration() -> dict[str, object]:
    return {
        "format": "qprov-calibration/v1",
        "backend": "example_2q",
        "taken_at": "2025-01-01T00:00:00Z",
        "qubits": [
            {"t1": 1.2e-4, "t2": 9.0e-5, "readout_error": 0.02},
            {
                "t1": 1.0e-4,
                "t2": 1.1e-4,
                "readout_error": 0.03,
                "prob_meas1_prep0": 0.01,
                "prob_meas0_prep1": 0.05,
            },
        ],
        "gates": [
            {"name": "sx", "qubits": [0], "error": 3e-4, "duration": 3.5e-8},
            {"name": "cx", "qubits": [0, 1], "error": 8e-3, "duration": 3.0e-7},
        ],
    }


def _baseline(c: Corpus, demo: Path, qpy_circuit: bytes) -> None:
    try:
        from qprov.baseline import create_baseline
    except ImportError:  # not in this installation
        return
    from qprov.keys import CompositeSigner, generate_private_key

    signer = CompositeSigner(generate_private_key("MLDSA44-Ed25519-SHA512"))
    cached = demo / "baseline.json"
    if cached.is_file():
        data = cached.read_bytes()
    else:
        env = create_baseline(
            qpy_circuit, signer=signer, now=datetime(2025, 1, 1, tzinfo=UTC), seed=7
        )
        data = env.to_json()
        cached.write_bytes(data)
    c.setdefault("baseline-envelope", []).append(data)
    payload = base64.b64decode(json.loads(data)["payload"])
    c.setdefault("baseline-predicate", []).append(
        json.dumps(json.loads(payload)["predicate"]).encode()
    )


def _vectors(c: Corpus) -> None:
    root = _vectors_root()
    if root is None:
        return
    notes = root / "tlog" / "signed_notes.json"
    if notes.is_file():
        doc = json.loads(notes.read_bytes())
        for case in doc.get("cases", doc if isinstance(doc, list) else [])[:20]:
            note = case.get("note") if isinstance(case, dict) else None
            if isinstance(note, str):
                c.setdefault("note", []).append(note.encode())
    vkeys = root / "tlog" / "vkeys.json"
    if vkeys.is_file():
        text = vkeys.read_text()
        import re

        found = re.findall(r'"([A-Za-z0-9.\-_/]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+)"', text)
        c.setdefault("vkey", []).extend(v.encode() for v in found[:10])
    dsse = root / "dsse" / "dsse_v1_protocol_test_vector.json"
    if dsse.is_file():
        c.setdefault("envelope", []).append(dsse.read_bytes())
    sig = root / "sigstore" / "pass"
    if sig.is_dir():
        for case in sorted(sig.iterdir()):
            if not case.is_dir():
                continue
            for f in sorted(case.iterdir()):
                if f.name.endswith((".sigstore.json", ".attestation", ".sigstore")):
                    c.setdefault("sigstore-bundle", []).append(f.read_bytes())
    keyed = REPO / "tests" / "sigstore" / "data" / "keyed" / "cases"
    for f in sorted(keyed.glob("*.sigstore.json")):
        c.setdefault("sigstore-keyed-bundle", []).append(f.read_bytes())


__all__ = ["PASSPHRASE", "REPO", "Corpus", "build_corpus"]
