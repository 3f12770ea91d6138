"""qprov.sigstore library API: tampering, PEP 740 conversion, no foreign exceptions."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from qprov.errors import (
    ConfigError,
    EnvironmentProblemError,
    Error,
    MalformedInputError,
    PolicyError,
    SignatureError,
    TrustError,
    UnsupportedAlgorithmError,
)
from qprov.sigstore import (
    PRODUCTION_TRUSTED_ROOT_SHA256,
    STAGING_TRUSTED_ROOT_SHA256,
    ArtifactDigest,
    PinnedTrustedRoot,
    SigstorePolicy,
    VerifiedBundle,
    pep740_to_bundle,
    verify_bundle,
)

BEACON = SigstorePolicy(
    identity=(
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
        ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
    ),
    issuer="https://token.actions.githubusercontent.com",
)
PYPI_ATTESTATIONS = SigstorePolicy(
    identity="https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
    issuer="https://token.actions.githubusercontent.com",
    repository="trailofbits/pypi-attestations",
)
SDIST = "pypi_attestations-0.0.19.tar.gz"


def _case(vectors: Path, name: str) -> tuple[bytes, bytes]:
    d = vectors / "pass" / name
    return (d / "bundle.sigstore.json").read_bytes(), (d / "artifact").read_bytes()


def _reencode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


# -- happy paths return the verified content ---------------------------------------------


def test_message_signature_bundle_returns_result(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    result = verify_bundle(bundle, artifact, BEACON)
    assert isinstance(result, VerifiedBundle)
    assert result.kind == "message_signature"
    assert result.payload is None
    assert result.artifact.sha256 == hashlib.sha256(artifact).hexdigest()
    assert result.trusted_root_sha256 == PRODUCTION_TRUSTED_ROOT_SHA256


def test_dsse_bundle_returns_exact_statement_bytes(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "03-dsse-intoto-slsa-v1")
    result = verify_bundle(bundle, ArtifactDigest.of_bytes(artifact), BEACON)
    envelope = json.loads(bundle)["dsseEnvelope"]
    assert result.kind == "dsse"
    assert result.payload == base64.b64decode(envelope["payload"])
    assert result.payload_type == "application/vnd.in-toto+json"
    assert result.predicate_type == "https://slsa.dev/provenance/v1"


@pytest.mark.parametrize("case", ["06-pep740-github-publish", "08-pep740-gitlab-publish"])
def test_pep740_conversion_matches_pypi_attestations(sigstore_vectors: Path, case: str) -> None:
    """Our PEP 740 -> bundle mapping equals pypi-attestations' Attestation.to_bundle()."""
    d = sigstore_vectors / "pass" / case
    (attestation,) = d.glob("*.publish.attestation")
    ours = pep740_to_bundle(json.loads(attestation.read_bytes()))
    theirs = json.loads((d / "bundle.sigstore.json").read_bytes())
    assert theirs["verificationMaterial"].pop("timestampVerificationData") == {
        "rfc3161Timestamps": []
    }
    assert ours == theirs


def test_pep740_subject_name_must_be_the_distribution(
    sigstore_vectors: Path, tmp_path: Path
) -> None:
    d = sigstore_vectors / "pass" / "06-pep740-github-publish"
    attestation = (d / f"{SDIST}.publish.attestation").read_bytes()
    renamed = tmp_path / "pypi_attestations-0.0.20.tar.gz"
    renamed.write_bytes((d / SDIST).read_bytes())
    assert verify_bundle(attestation, ArtifactDigest.of_file(d / SDIST), PYPI_ATTESTATIONS)
    with pytest.raises(PolicyError, match="PEP 740 subject name"):
        verify_bundle(attestation, ArtifactDigest.of_file(renamed), PYPI_ATTESTATIONS)
    # By digest alone there is no name to compare: the digest decides.
    digest = ArtifactDigest.of_bytes(renamed.read_bytes())
    assert verify_bundle(attestation, digest, PYPI_ATTESTATIONS).source_format == "pep740"


# -- tampering: one test per class ---------------------------------------------------------


def test_flipped_bit_in_message_signature(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    doc = json.loads(bundle)
    sig = bytearray(base64.b64decode(doc["messageSignature"]["signature"]))
    sig[-1] ^= 0x01
    doc["messageSignature"]["signature"] = base64.b64encode(bytes(sig)).decode()
    with pytest.raises(SignatureError):
        verify_bundle(_reencode(doc), artifact, BEACON)


def test_flipped_bit_in_artifact(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    tampered = bytes([artifact[0] ^ 0x01]) + artifact[1:]
    with pytest.raises(SignatureError, match="digest mismatch"):
        verify_bundle(bundle, tampered, BEACON)


def test_tampered_dsse_statement(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "03-dsse-intoto-slsa-v1")
    doc = json.loads(bundle)
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["predicate"]["buildDefinition"]["buildType"] = "https://evil.example/build"
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(SignatureError, match="DSSE: invalid signature"):
        verify_bundle(_reencode(doc), artifact, BEACON)


def test_swapped_certificate(sigstore_vectors: Path) -> None:
    # Bundle 01's signature with bundle 03's certificate (valid, same identity).
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    other = json.loads(
        (sigstore_vectors / "pass/03-dsse-intoto-slsa-v1/bundle.sigstore.json").read_bytes()
    )
    doc = json.loads(bundle)
    doc["verificationMaterial"]["certificate"] = other["verificationMaterial"]["certificate"]
    with pytest.raises((SignatureError, TrustError)):
        verify_bundle(_reencode(doc), artifact, BEACON)


def test_stripped_log_entry(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    doc = json.loads(bundle)
    doc["verificationMaterial"]["tlogEntries"] = []
    with pytest.raises(MalformedInputError, match="exactly one log entry"):
        verify_bundle(_reencode(doc), artifact, BEACON)


def test_both_signature_kinds_is_malformed(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    dsse = json.loads(
        (sigstore_vectors / "pass/03-dsse-intoto-slsa-v1/bundle.sigstore.json").read_bytes()
    )
    doc = json.loads(bundle)
    doc["dsseEnvelope"] = dsse["dsseEnvelope"]
    with pytest.raises(MalformedInputError, match="both a messageSignature and a dsseEnvelope"):
        verify_bundle(_reencode(doc), artifact, BEACON)


def test_mutated_bundles_raise_only_qprov_errors(sigstore_vectors: Path) -> None:
    """Random byte flips anywhere in two bundles: a qprov error or a valid result."""
    rng = random.Random(740)  # fixed seed: the same mutants on every run
    for case in ("01-hashedrekord-bundle-v0.3", "03-dsse-intoto-slsa-v1"):
        bundle, artifact = _case(sigstore_vectors, case)
        for _ in range(150):
            mutant = bytearray(bundle)
            pos = rng.randrange(len(mutant))
            mutant[pos] = rng.randrange(256)
            try:
                result = verify_bundle(bytes(mutant), artifact, BEACON)
            except Error:
                continue
            # A flip that still verifies can only be semantically neutral
            # (e.g. JSON whitespace): the verified content is unchanged.
            assert result.artifact.sha256 == hashlib.sha256(artifact).hexdigest()


# -- pins and policies as data --------------------------------------------------------


def test_shipped_roots_match_their_pins() -> None:
    assert PinnedTrustedRoot.production().sha256 == PRODUCTION_TRUSTED_ROOT_SHA256
    assert PinnedTrustedRoot.staging().sha256 == STAGING_TRUSTED_ROOT_SHA256


def test_pinned_root_refuses_other_bytes() -> None:
    data = PinnedTrustedRoot.production().data
    with pytest.raises(TrustError, match="sha256 mismatch"):
        PinnedTrustedRoot("x", PRODUCTION_TRUSTED_ROOT_SHA256, data + b" ")
    with pytest.raises(TrustError, match="sha256 mismatch"):
        PinnedTrustedRoot("x", STAGING_TRUSTED_ROOT_SHA256, data)


def test_pinned_root_that_is_not_a_trusted_root(sigstore_vectors: Path) -> None:
    bundle, artifact = _case(sigstore_vectors, "01-hashedrekord-bundle-v0.3")
    data = b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}'
    root = PinnedTrustedRoot("empty", hashlib.sha256(data).hexdigest(), data)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unusable"):
        verify_bundle(bundle, artifact, BEACON, trusted_root=root)


def test_missing_trusted_root_file(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblemError, match="no such file"):
        PinnedTrustedRoot.from_file(tmp_path / "nope.json", "00" * 32)


@pytest.mark.parametrize("pin", ["", "abc", "sha512:" + "00" * 32, "zz" * 32])
def test_malformed_pin(pin: str, tmp_path: Path) -> None:
    with pytest.raises(MalformedInputError, match="not a sha256 digest"):
        PinnedTrustedRoot.from_file(tmp_path / "root.json", pin)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"identity": "", "issuer": "https://token.actions.githubusercontent.com"},
        {"identity": "a@example.com", "issuer": " "},
        {"identity": "a@example.com", "issuer": "https://x", "repository": ""},
    ],
)
def test_empty_policy_fields_are_errors(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        SigstorePolicy(**kwargs)


@pytest.mark.parametrize("text", ["sha256:xyz", "md5:" + "0" * 32, "0" * 64, "sha256:" + "0" * 63])
def test_malformed_artifact_digest(text: str) -> None:
    with pytest.raises(MalformedInputError):
        ArtifactDigest.parse(text)


def test_unsupported_pep740_version(sigstore_vectors: Path) -> None:
    d = sigstore_vectors / "pass" / "06-pep740-github-publish"
    doc = json.loads((d / f"{SDIST}.publish.attestation").read_bytes())
    doc["version"] = 2
    with pytest.raises(UnsupportedAlgorithmError, match="version 2"):
        verify_bundle(_reencode(doc), (d / SDIST).read_bytes(), PYPI_ATTESTATIONS)


@pytest.mark.parametrize("bad", ["not base64!", "é"])
def test_pep740_bad_base64(sigstore_vectors: Path, bad: str) -> None:
    d = sigstore_vectors / "pass" / "06-pep740-github-publish"
    doc = json.loads((d / f"{SDIST}.publish.attestation").read_bytes())
    doc["envelope"]["signature"] = bad
    with pytest.raises(MalformedInputError, match="signature is not valid base64"):
        verify_bundle(_reencode(doc), (d / SDIST).read_bytes(), PYPI_ATTESTATIONS)


_SUBJECT = {"name": "a.whl", "digest": {"sha256": "ab" * 32}}
_V1 = "https://in-toto.io/Statement/v1"


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ({"_type": {"x": 1}, "subject": [_SUBJECT]}, UnsupportedAlgorithmError),
        ({"_type": _V1.replace("v1", "v2"), "subject": [_SUBJECT]}, UnsupportedAlgorithmError),
        ({"_type": _V1, "subject": {}}, MalformedInputError),
        ({"_type": _V1, "subject": []}, MalformedInputError),
        ({"_type": _V1, "subject": [{"digest": "ab"}]}, MalformedInputError),
        ({"_type": _V1, "subject": [{"digest": {"sha256": 1}}]}, SignatureError),
        ({"_type": _V1, "subject": [{"digest": {"sha256": "\u00e9" * 64}}]}, SignatureError),
        ({"_type": _V1, "subject": [_SUBJECT, _SUBJECT]}, PolicyError),
        ({"_type": _V1, "subject": [{**_SUBJECT, "name": "b.whl"}]}, PolicyError),
        ([_SUBJECT], MalformedInputError),
    ],
)
def test_hostile_statements_raise_qprov_errors(statement: Any, error: type[Error]) -> None:
    """Statement checks run on signed bytes, but a signer may still be hostile."""
    from qprov._sigstore import _subjects_match

    artifact = ArtifactDigest("ab" * 32, "a.whl")  # type: ignore[arg-type]
    with pytest.raises(error):
        _subjects_match(json.dumps(statement).encode(), artifact, pep740=True)
