"""A complete admission environment: keys for every role, trust file, policy, circuits, SDK."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import CryptoSigner, Signer

from qprov.dsse import Envelope
from qprov.grant import create_grant
from qprov.keys import CompositeSigner, PrivateKey, generate_private_key
from qprov.manifest import ManifestBundle, SdkIdentity, create_manifest, sdk_from_wheel
from qprov.policy import AdmissionPolicy, load_admission_policy
from qprov.slsa import github_predicate, provenance_statement
from qprov.statement import sign_statement, subject_for_bytes
from qprov.trust import TrustStore, load_trust

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

GHZ3 = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

#: A T gate hidden in a custom gate definition (t is not in the allowed set).
HIDDEN_T = b"""OPENQASM 2.0;
include "qelib1.inc";
gate innocent a { h a; t a; h a; }
qreg q[2];
creg c[2];
innocent q[0];
cx q[0],q[1];
measure q -> c;
"""

WIDE = (
    b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[6];\ncreg c[6];\nh q[0];\n'
    + b"".join(b"cx q[0],q[%d];\n" % i for i in range(1, 6))
    + b"measure q -> c;\n"
)

UNPARSEABLE = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
h q[0;
"""

POLICY = """\
version = 1
max_shots = 10000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx", "x", "rz", "sx"]

[backends.aer]
max_qubits = 5
max_shots = 4500

[backends.qpu]
max_qubits = 5
cost_per_shot = 0.01

[sdk]
required = {sdk_required}
release_policy = "release-policy.toml"

[quota]
shots = 6000
window = 3600

[approval]
shots_above = 5000
backends = ["qpu"]

[agents]
accept = {accept_agents}
revocations = ["revocations.jsonl"]
"""

RELEASE_POLICY = """\
version = 1
builder_ids = ["https://github.com/octo/sdk/.github/workflows/release.yml@refs/tags/v*"]
source_repositories = ["https://github.com/octo/sdk"]
refs = ["refs/tags/v*"]
"""

CLAIMS = {
    "repository": "octo/sdk",
    "workflow_ref": "octo/sdk/.github/workflows/release.yml@refs/tags/v1.2.3",
    "job_workflow_ref": "octo/sdk/.github/workflows/release.yml@refs/tags/v1.2.3",
    "event_name": "push",
    "repository_id": "42",
    "repository_owner_id": "7",
    "runner_environment": "github-hosted",
    "ref": "refs/tags/v1.2.3",
    "sha": "c27d339ee6075c1f744c5d4b200f7901aad2c369",
    "run_id": "99",
    "run_attempt": "1",
}

WHEEL_NAME = "octo_sdk-1.2.3-py3-none-any.whl"
WHEEL = b"octo sdk 1.2.3 wheel bytes"
OTHER_WHEEL = b"octo sdk 1.2.4 wheel bytes"

ALG = "MLDSA44-Ed25519-SHA512"  # the fastest composite: tests sign a lot


@dataclass(frozen=True)
class Keys:
    submitter: PrivateKey
    other_submitter: PrivateKey
    revoked: PrivateKey
    owner: PrivateKey
    approver: PrivateKey
    gateway: PrivateKey
    release: PrivateKey
    agent: PrivateKey
    classical: ed25519.Ed25519PrivateKey

    @staticmethod
    def generate() -> Keys:
        return Keys(
            *(generate_private_key(ALG) for _ in range(8)),
            ed25519.Ed25519PrivateKey.generate(),
        )

    def signer(self, name: str) -> Signer:
        if name == "classical":
            return CryptoSigner(self.classical)
        key: PrivateKey = getattr(self, name)
        return CompositeSigner(key)


def write_env(
    keys: Keys, d: Path, *, sdk_required: bool = False, accept_agents: bool = True
) -> None:
    """Write trust.toml, policy.toml, release-policy.toml, keys and an empty revocation list."""
    d.mkdir(parents=True, exist_ok=True)
    for name in (
        "submitter",
        "other_submitter",
        "revoked",
        "owner",
        "approver",
        "gateway",
        "release",
        "agent",
    ):
        key: PrivateKey = getattr(keys, name)
        (d / f"{name}.pub").write_bytes(key.public_key().to_pem())
        (d / f"{name}.key").write_bytes(key.to_unencrypted_pem())
    (d / "classical.pub").write_bytes(
        keys.classical.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (d / "trust.toml").write_text(
        f"""version = 1

[crypto]
signatures = "composite"

[roles.submitter]
keys = [{{ file = "submitter.pub" }}, {{ file = "other_submitter.pub" }},
        {{ file = "revoked.pub" }}, {{ file = "classical.pub" }}]

[roles.owner]
keys = [{{ file = "owner.pub" }}]

[roles.approver]
keys = [{{ file = "approver.pub" }}]

[roles.gateway]
keys = [{{ file = "gateway.pub" }}]

[roles.release-signer]
keys = [{{ file = "release.pub" }}]

[revoked]
keyids = ["{keys.revoked.public_key().keyid}"]
"""
    )
    (d / "release-policy.toml").write_text(RELEASE_POLICY)
    if not (d / "revocations.jsonl").exists():
        (d / "revocations.jsonl").write_bytes(b"")
    (d / "policy.toml").write_text(
        POLICY.format(
            sdk_required=str(sdk_required).lower(), accept_agents=str(accept_agents).lower()
        )
    )


def sdk_attestation(
    keys: Keys, wheel: bytes = WHEEL, *, signer: Signer | None = None, **claims: str
) -> bytes:
    statement = provenance_statement(
        (subject_for_bytes(WHEEL_NAME, wheel),), github_predicate({**CLAIMS, **claims})
    )
    return sign_statement(statement, [signer or keys.signer("release")]).to_json()


@dataclass
class Env:
    keys: Keys
    dir: Path

    @property
    def trust(self) -> TrustStore:
        return load_trust(self.dir / "trust.toml")

    @property
    def policy(self) -> AdmissionPolicy:
        return load_admission_policy(self.dir / "policy.toml")

    def grant(self, *, signer: str = "owner", agent: str = "agent", **scope: Any) -> Envelope:
        key: PrivateKey = getattr(self.keys, agent)
        args: dict[str, Any] = {
            "backends": ["aer"],
            "max_shots_per_job": 2000,
            "max_total_shots": 3000,
            "gates": ["h", "cx"],
            "experiment": "exp-1",
            "not_before": NOW - timedelta(hours=1),
            "expires_at": NOW + timedelta(hours=1),
        }
        args.update(scope)
        return create_grant(key.public_key(), signer=self.keys.signer(signer), **args)

    def bundle(
        self,
        circuit: bytes = BELL,
        *,
        signer: str = "submitter",
        backend: str = "aer",
        shots: int = 1000,
        experiment: str = "exp-1",
        now: datetime = NOW,
        lifetime: timedelta = timedelta(minutes=10),
        sdk: SdkIdentity | None = None,
        attestation: bytes | None = None,
        grant: Envelope | None = None,
        nonce: str | None = None,
    ) -> ManifestBundle:
        return create_manifest(
            circuit,
            circuit_name="bell.qasm",
            backend=backend,
            shots=shots,
            experiment=experiment,
            signer=self.keys.signer(signer),
            now=now,
            lifetime=lifetime,
            purpose="testing",
            owner="alice@example.org",
            sdk=sdk,
            sdk_attestation=attestation,
            grant=grant,
            nonce=nonce,
        )

    def sdk(self, wheel: bytes = WHEEL) -> SdkIdentity:
        return sdk_from_wheel(WHEEL_NAME, wheel)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
