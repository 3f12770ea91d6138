"""Fixtures for SLSA provenance tests: keys, a trust file, a release policy, bundles."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import CryptoSigner, Signer

from qprov.keys import CompositeSigner, PrivateKey, generate_private_key
from qprov.slsa import ReleasePolicy, github_predicate, provenance_statement
from qprov.statement import Subject, sign_statement, subject_for_bytes
from qprov.trust import TrustStore, load_trust

_REPO = Path(__file__).resolve().parents[2]


def vectors_dir() -> Path:
    env = os.environ.get("QPROV_VECTORS")
    return (Path(env) if env else _REPO.parent / "shared" / "vectors") / "dsse"


def load_vector(name: str) -> Any:
    path = vectors_dir() / name
    if not path.is_file():
        pytest.skip(f"vector {path} not found (set QPROV_VECTORS)")
    return json.loads(path.read_text())


#: The claims of a release of "octo/sdk" built by its own release workflow on a tag.
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

#: The same build as GitHub Actions environment variables.
GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": CLAIMS["repository"],
    "GITHUB_WORKFLOW_REF": CLAIMS["workflow_ref"],
    "GITHUB_EVENT_NAME": CLAIMS["event_name"],
    "GITHUB_REPOSITORY_ID": CLAIMS["repository_id"],
    "GITHUB_REPOSITORY_OWNER_ID": CLAIMS["repository_owner_id"],
    "RUNNER_ENVIRONMENT": CLAIMS["runner_environment"],
    "GITHUB_REF": CLAIMS["ref"],
    "GITHUB_SHA": CLAIMS["sha"],
    "GITHUB_RUN_ID": CLAIMS["run_id"],
    "GITHUB_RUN_ATTEMPT": CLAIMS["run_attempt"],
}

BUILDER = "https://github.com/octo/sdk/.github/workflows/release.yml@refs/tags/v1.2.3"

POLICY_TOML = """\
version = 1
predicate_type = "https://slsa.dev/provenance/v1"
builder_ids = ["https://github.com/octo/sdk/.github/workflows/release.yml@refs/tags/v*"]
build_types = ["https://actions.github.io/buildtypes/workflow/v1"]
source_repositories = ["https://github.com/octo/sdk"]
refs = ["refs/tags/v*"]
reject_unknown_external_parameters = true
"""


@dataclass(frozen=True)
class Keys:
    release: PrivateKey
    submitter: PrivateKey
    classical: ed25519.Ed25519PrivateKey

    def release_signer(self) -> Signer:
        return CompositeSigner(self.release)

    def submitter_signer(self) -> Signer:
        return CompositeSigner(self.submitter)

    def classical_signer(self) -> Signer:
        return CryptoSigner(self.classical)


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        generate_private_key("MLDSA65-Ed25519-SHA512"),
        generate_private_key("MLDSA44-Ed25519-SHA512"),
        ed25519.Ed25519PrivateKey.generate(),
    )


@pytest.fixture(scope="session")
def trust_dir(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trust file: composite required; the classical key is listed as a release signer."""
    d = tmp_path_factory.mktemp("trust")
    (d / "release.pub").write_bytes(keys.release.public_key().to_pem())
    (d / "submitter.pub").write_bytes(keys.submitter.public_key().to_pem())
    (d / "classical.pub").write_bytes(
        keys.classical.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (d / "release.key").write_bytes(keys.release.to_unencrypted_pem())
    (d / "submitter.key").write_bytes(keys.submitter.to_unencrypted_pem())
    (d / "trust.toml").write_text(
        """version = 1

[crypto]
signatures = "composite"

[roles.release-signer]
keys = [{ file = "release.pub" }, { file = "classical.pub", name = "legacy" }]

[roles.submitter]
keys = [{ file = "submitter.pub" }]
"""
    )
    (d / "policy.toml").write_text(POLICY_TOML)
    return d


@pytest.fixture(scope="session")
def trust(trust_dir: Path) -> TrustStore:
    return load_trust(trust_dir / "trust.toml")


@pytest.fixture(scope="session")
def policy() -> ReleasePolicy:
    return ReleasePolicy.from_toml(POLICY_TOML.encode())


ARTIFACT = b"octo_sdk-1.2.3-py3-none-any.whl contents"


def github_pred(**claims: str) -> dict[str, Any]:
    return github_predicate({**CLAIMS, **claims})


MakeBundle = Callable[..., bytes]


@pytest.fixture
def make_bundle(keys: Keys) -> MakeBundle:
    """Sign a provenance statement for ``artifact`` (``predicate`` and ``signer`` optional)."""

    def make(
        artifact: bytes = ARTIFACT,
        *,
        predicate: dict[str, Any] | None = None,
        signer: Signer | None = None,
        subjects: tuple[Subject, ...] | None = None,
    ) -> bytes:
        statement = provenance_statement(
            subjects or (subject_for_bytes("octo_sdk-1.2.3-py3-none-any.whl", artifact),),
            predicate if predicate is not None else github_pred(),
        )
        envelope = sign_statement(statement, [signer or keys.release_signer()])
        return envelope.to_json()

    return make
