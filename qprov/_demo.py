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
    failures += _chain(d, say, CompositeSigner(release), CompositeSigner(submitter))

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


_RELEASE_POLICY = b"""version = 1
builder_ids = ["https://github.com/qprov-demo/qsdk/.github/workflows/release.yml@refs/tags/v*"]
source_repositories = ["https://github.com/qprov-demo/qsdk"]
refs = ["refs/tags/v*"]
"""

_RELEASE_CLAIMS = {
    "repository": "qprov-demo/qsdk",
    "workflow_ref": "qprov-demo/qsdk/.github/workflows/release.yml@refs/tags/v1.0.0",
    "job_workflow_ref": "qprov-demo/qsdk/.github/workflows/release.yml@refs/tags/v1.0.0",
    "event_name": "push",
    "repository_id": "1",
    "repository_owner_id": "1",
    "runner_environment": "github-hosted",
    "ref": "refs/tags/v1.0.0",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "run_id": "1",
    "run_attempt": "1",
}


def _chain(d: Path, say: Say, release: CompositeSigner, submitter: CompositeSigner) -> int:
    """6. the whole chain: SDK release attestation, manifest, admission, Aer run, receipt,
    transparency log, offline chain verification; then tampered links rejected."""
    from datetime import UTC, datetime, timedelta

    from qprov.backends import AerBackend
    from qprov.chain import verify_chain
    from qprov.jobs import JobGateway, state_paths
    from qprov.keys import generate_private_key
    from qprov.manifest import create_manifest, sdk_from_wheel
    from qprov.policy import load_admission_policy
    from qprov.receipt import LoggedEnvelope, parse_receipt_bundle
    from qprov.slsa import (
        build_attestations,
        github_predicate,
        load_release_policy,
        subjects_from_files,
        verify_release,
    )
    from qprov.store import open_store
    from qprov.tlog import SIG_ED25519, SIG_MLDSA44_COSIGNATURE, generate_signer

    failures = 0
    wheel_name = "qsdk-1.0.0-py3-none-any.whl"
    wheel = b"demo quantum SDK 1.0.0 wheel\n"
    atomic_write(d / wheel_name, wheel)
    atomic_write(d / "release-policy.toml", _RELEASE_POLICY)
    attestation = build_attestations(
        subjects_from_files([(wheel_name, wheel)]),
        [release],
        predicate=github_predicate(_RELEASE_CLAIMS, "https://github.com"),
    )
    atomic_write(d / f"{wheel_name}.intoto.jsonl", attestation)
    release_policy = load_release_policy(d / "release-policy.toml")

    gateway = generate_private_key("MLDSA44-Ed25519-SHA512")
    atomic_write(d / "gateway.pub", gateway.public_key().to_pem())
    log_signers = [
        generate_signer("log.qprov.demo", SIG_ED25519),
        generate_signer("log.qprov.demo", SIG_MLDSA44_COSIGNATURE),
    ]
    vkeys = ", ".join(f'"{s.verifier().to_vkey()}"' for s in log_signers)
    trust_toml = f"""version = 1

[crypto]
signatures = "composite"

[roles.release-signer]
keys = [{{ file = "release.pub" }}]

[roles.submitter]
keys = [{{ file = "submitter.pub" }}]

[roles.gateway]
keys = [{{ file = "gateway.pub" }}]

[log]
origin = "log.qprov.demo"
vkeys = [{vkeys}]
"""
    atomic_write(d / "trust-chain.toml", trust_toml.encode())
    trust = load_trust(d / "trust-chain.toml")
    failures += _expect_ok(
        say,
        f"SLSA release attestation of {wheel_name} verified against release-policy.toml",
        lambda: verify_release(wheel, attestation, trust, release_policy),
    )

    now = datetime.now(UTC)
    manifest = create_manifest(
        _BELL,
        circuit_name="bell.qasm",
        backend="aer_simulator",
        shots=1024,
        experiment="demo-chain",
        signer=submitter,
        now=now,
        lifetime=timedelta(minutes=10),
        sdk=sdk_from_wheel(wheel_name, wheel),
        sdk_attestation=attestation,
    ).to_json()
    atomic_write(d / "bell-chain.manifest.json", manifest)
    policy_toml = _ADMISSION_POLICY.decode() + (
        '\n[sdk]\nrequired = true\nrelease_policy = "release-policy.toml"\n'
    )
    atomic_write(d / "chain-policy.toml", policy_toml.encode())
    paths = state_paths(d / "state")
    (d / "state").mkdir(exist_ok=True)
    try:
        with (
            open_store(paths.store_url) as store,
            JobGateway(
                trust=trust,
                policy=load_admission_policy(d / "chain-policy.toml"),
                store=store,
                log=paths.log_url,
                signer=CompositeSigner(gateway),
                log_signers=log_signers,
                backend=AerBackend(),
            ) as jobs,
        ):
            outcome = jobs.submit(manifest, _BELL)
            refused = jobs.submit(manifest, _BELL)
    except Error as exc:
        say(f"FAIL: job flow: {exc}")
        return failures + 1
    if outcome.receipt_bundle is None or outcome.result is None:
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in outcome.decision.failures)
        say(f"FAIL: job flow: the manifest was refused: {reasons}")
        return failures + 1
    receipt = outcome.receipt_bundle.to_json()
    atomic_write(d / "bell.receipt.json", receipt)
    atomic_write(d / "bell.counts.json", outcome.result)
    r = outcome.receipt_bundle.parsed.receipt
    say(
        f"OK: admitted (SDK provenance checked), ran on Aer ({r.backend} {r.backend_version}, "
        f"seed {r.execution['seed_simulator'] if r.execution else '-'}): "
        f"{outcome.result.decode()}; receipt signed by the gateway"
    )
    say(
        f"OK: decision and receipt appended to the log (entries {outcome.decision_index}, "
        f"{outcome.receipt_index}); the replayed manifest was refused and logged too "
        f"(entry {refused.decision_index})"
    )

    def chain(receipt_bytes: bytes = receipt, result: bytes = outcome.result or b"") -> object:
        return verify_chain(
            receipt_bytes,
            manifest,
            _BELL,
            result,
            trust,
            release_policy=release_policy,
        )

    failures += _expect_ok(
        say, "chain verified offline: SDK, manifest, admission, receipt, result, log", chain
    )
    counts = json.loads(outcome.result)
    first = sorted(counts)[0]
    counts[first] += 1
    counts[sorted(counts)[-1]] -= 1
    changed = json.dumps(counts, separators=(",", ":"), sort_keys=True).encode()
    failures += _expect_reject(
        say, "chain with counts changed after signing", lambda: chain(result=changed)
    )
    bundle = parse_receipt_bundle(receipt)
    forged = sign_statement(bundle.parsed.statement, [submitter])
    by_submitter = replace(bundle, receipt=LoggedEnvelope(forged, bundle.receipt.proof))
    failures += _expect_reject(
        say,
        "chain with the receipt re-signed by a submitter key",
        lambda: chain(receipt_bytes=by_submitter.to_json()),
    )
    return failures
