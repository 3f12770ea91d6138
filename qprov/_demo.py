"""``qprov demo``: the main job end to end, on embedded defaults, in a temporary directory."""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import CryptoSigner

from qprov._io import atomic_write
from qprov.dsse import Envelope, EnvelopeSignature, parse_envelope, sign_envelope, verify_envelope
from qprov.errors import Error
from qprov.keys import CompositeSigner, generate_private_key
from qprov.statement import Statement, Subject, sign_statement
from qprov.trust import load_trust

Say = Callable[[str], None]


def _expect_ok(say: Say, title: str, action: Callable[[], object]) -> int:
    try:
        action()
    except Error as exc:
        say(f"FAIL: {title}: unexpectedly rejected: {exc}")
        return 1
    say(f"OK: {title}")
    return 0


def _expect_reject(say: Say, title: str, action: Callable[[], object]) -> int:
    try:
        action()
    except Error as exc:
        say(f"OK: {title}: rejected ({type(exc).__name__}: {exc})")
        return 0
    say(f"FAIL: {title}: was accepted but must be rejected")
    return 1


def run_demo(workdir: Path | None, say: Say) -> int:
    """Run the demo; return the number of steps that did not behave as expected."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="qprov-demo-") as tmp:
            return _run(Path(tmp), say)
    workdir.mkdir(parents=True, exist_ok=True)
    return _run(workdir, say)


def _run(d: Path, say: Say) -> int:
    failures = 0
    say(f"qprov demo in {d}")

    # 1. keys: a composite release key, a composite submitter key, a classical key
    release = generate_private_key("MLDSA65-Ed25519-SHA512")
    submitter = generate_private_key("MLDSA44-Ed25519-SHA512")
    retired = generate_private_key("MLDSA65-Ed25519-SHA512")
    classical = ed25519.Ed25519PrivateKey.generate()
    atomic_write(d / "release.pub", release.public_key().to_pem())
    atomic_write(d / "submitter.pub", submitter.public_key().to_pem())
    atomic_write(d / "retired.pub", retired.public_key().to_pem())
    atomic_write(
        d / "classical.pub",
        classical.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    atomic_write(d / "release.key", release.to_encrypted("demo passphrase"), mode=0o600)
    say(
        f"OK: generated keys: release {release.public_key().keyid[:16]}… "
        f"({release.algorithm.name}), submitter ({submitter.algorithm.name}), "
        "a classical Ed25519 key"
    )

    # 2. the trust file: roles, composite required, one revoked key
    trust_toml = f"""version = 1

[crypto]
signatures = "composite"

[roles.release-signer]
threshold = 1
keys = [{{ file = "release.pub", name = "CI release key" }},
        {{ file = "retired.pub", name = "retired release key" }},
        {{ file = "classical.pub", name = "legacy Ed25519 key" }}]

[roles.submitter]
keys = [{{ file = "submitter.pub" }}]

[revoked]
keyids = ["{retired.public_key().keyid}"]
"""
    atomic_write(d / "trust.toml", trust_toml.encode())
    trust = load_trust(d / "trust.toml")
    say("OK: wrote trust.toml (roles release-signer and submitter; composite signatures required)")

    # 3. a statement about an SDK artifact, signed by the release key
    wheel = b"demo quantum SDK wheel bytes\n"
    atomic_write(d / "qsdk-1.0-py3-none-any.whl", wheel)
    statement = Statement(
        (Subject("qsdk-1.0-py3-none-any.whl", {"sha256": hashlib.sha256(wheel).hexdigest()}),),
        "https://qprov.dev/demo/v1",
        {"note": "demo statement"},
    )
    signer = CompositeSigner(release)
    envelope = sign_statement(statement, [signer])
    atomic_write(d / "statement.dsse.json", envelope.to_json())
    say(
        f"OK: signed an in-toto statement into statement.dsse.json "
        f"({len(envelope.signatures[0].sig)}-byte composite signature)"
    )

    loaded = parse_envelope((d / "statement.dsse.json").read_bytes())
    failures += _expect_ok(
        say,
        "verify the envelope for role release-signer",
        lambda: verify_envelope(loaded, trust, "release-signer"),
    )

    # 4. tampering, each must fail with its own reason
    tampered = json.loads(envelope.to_json())
    tampered["payload"] = base64.b64encode(envelope.payload.replace(b"demo", b"evil")).decode()
    failures += _expect_reject(
        say,
        "payload modified after signing",
        lambda: verify_envelope(json.dumps(tampered).encode(), trust, "release-signer"),
    )

    sig = envelope.signatures[0]
    stripped = replace(envelope, signatures=(EnvelopeSignature(sig.keyid, sig.sig[:3309]),))
    failures += _expect_reject(
        say,
        "classical half stripped from the composite signature",
        lambda: verify_envelope(stripped, trust, "release-signer"),
    )

    by_submitter = sign_statement(statement, [CompositeSigner(submitter)])
    failures += _expect_reject(
        say,
        "signed by a submitter key, presented as a release",
        lambda: verify_envelope(by_submitter, trust, "release-signer"),
    )

    by_retired = sign_statement(statement, [CompositeSigner(retired)])
    failures += _expect_reject(
        say, "signed by a revoked key", lambda: verify_envelope(by_retired, trust, "release-signer")
    )

    downgrade = sign_envelope(envelope.payload, envelope.payload_type, [CryptoSigner(classical)])
    failures += _expect_reject(
        say,
        "downgrade: classical-only Ed25519 signature",
        lambda: verify_envelope(downgrade, trust, "release-signer"),
    )

    swapped = Envelope(envelope.payload, "application/json", envelope.signatures)
    failures += _expect_reject(
        say, "payloadType changed", lambda: verify_envelope(swapped, trust, "release-signer")
    )

    failures += _admission(d, say, CompositeSigner(submitter))

    if failures:
        say(f"FAIL: demo finished with {failures} unexpected result(s)")
    else:
        say("OK: demo complete: valid signatures accepted, every tampered document rejected")
    return failures


_BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

_ADMISSION_POLICY = b"""version = 1
max_shots = 10000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx", "x", "rz", "sx"]

[backends.aer_simulator]
max_qubits = 30

[quota]
shots = 100000
window = 86400
"""


def _admission(d: Path, say: Say, submitter: CompositeSigner) -> int:
    """5. a job manifest for a Bell circuit, admitted once; replay, swap and expiry refused."""
    from datetime import UTC, datetime, timedelta

    from qprov.admission import Admitter
    from qprov.manifest import create_manifest
    from qprov.policy import load_admission_policy
    from qprov.store import open_store

    failures = 0
    atomic_write(d / "bell.qasm", _BELL)
    atomic_write(d / "admission-policy.toml", _ADMISSION_POLICY)
    now = datetime.now(UTC)

    def manifest(at: datetime) -> bytes:
        return create_manifest(
            _BELL,
            circuit_name="bell.qasm",
            backend="aer_simulator",
            shots=1024,
            experiment="demo",
            signer=submitter,
            now=at,
            lifetime=timedelta(minutes=10),
        ).to_json()

    bundle = manifest(now)
    atomic_write(d / "bell.manifest.json", bundle)
    say("OK: signed a job manifest for bell.qasm (2 qubits, 1024 shots) into bell.manifest.json")
    store_url = f"sqlite:///{d / 'gateway.db'}"
    with open_store(store_url) as store:
        admitter = Admitter(
            trust=load_trust(d / "trust.toml"),
            policy=load_admission_policy(d / "admission-policy.toml"),
            store=store,
        )

        def admit(data: bytes, circuit: bytes) -> Callable[[], object]:
            return lambda: admitter.admit(data, circuit, now=now).raise_for_refusal()

        failures += _expect_ok(say, f"admitted by the gateway ({store_url})", admit(bundle, _BELL))
        failures += _expect_reject(say, "the same manifest again (replay)", admit(bundle, _BELL))
        swapped = _BELL.replace(b"h q[0];", b"x q[0];")
        failures += _expect_reject(
            say,
            "a fresh manifest with the circuit swapped in transit",
            admit(manifest(now), swapped),
        )
        failures += _expect_reject(
            say, "a manifest that expired", admit(manifest(now - timedelta(hours=1)), _BELL)
        )
    return failures
