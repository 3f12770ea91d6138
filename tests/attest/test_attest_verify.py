"""verify_release: one test per way a release attestation can be wrong."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from securesystemslib.signer import Signature

from qprov.errors import MalformedInputError, PolicyError, SignatureError, TrustError
from qprov.keys import CompositeSigner
from qprov.slsa import (
    CYCLONEDX_BOM,
    ReleasePolicy,
    build_attestations,
    check_release,
    verify_release,
)
from qprov.statement import Statement, sign_statement, subject_for_bytes
from qprov.trust import TrustStore

from .conftest import ARTIFACT, BUILDER, Keys, MakeBundle, github_pred


def test_valid_release_returns_the_verified_statement(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy, keys: Keys
) -> None:
    bundle = make_bundle()
    release = verify_release(ARTIFACT, bundle, trust, policy)
    assert release.subject.name == "octo_sdk-1.2.3-py3-none-any.whl"
    assert release.provenance.builder_id == BUILDER
    assert release.provenance.source() == ("https://github.com/octo/sdk", "refs/tags/v1.2.3")
    assert release.keyids == (keys.release.public_key().keyid,)
    # the exact signed bytes, not a re-serialisation
    envelope = json.loads(bundle)
    assert release.payload == base64.b64decode(envelope["payload"])
    assert release.report.ok
    assert {c.name for c in release.report.checks} == {
        "signature",
        "subject",
        "predicate-type",
        "predicate",
        "build-type",
        "builder",
        "source-repository",
        "source-ref",
        "external-parameters",
    }


def test_attestation_for_another_artifact(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    bundle = make_bundle(b"some other wheel")
    with pytest.raises(PolicyError, match=r"subject: no subject of the statement matches sha256:"):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_wrong_builder(make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy) -> None:
    bundle = make_bundle(
        predicate=github_pred(job_workflow_ref="evil/fork/.github/workflows/x.yml@refs/tags/v1")
    )
    with pytest.raises(PolicyError, match=r"builder: builder id .*evil/fork.* is not allowed"):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_wrong_repository(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    pred = github_pred()
    pred["buildDefinition"]["externalParameters"]["workflow"]["repository"] = (
        "https://github.com/evil/sdk"
    )
    with pytest.raises(
        PolicyError, match=r"source repository 'https://github.com/evil/sdk' is not allowed"
    ):
        verify_release(ARTIFACT, make_bundle(predicate=pred), trust, policy)


def test_wrong_ref(make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy) -> None:
    bundle = make_bundle(
        predicate=github_pred(workflow_ref="octo/sdk/.github/workflows/release.yml@refs/heads/dev")
    )
    with pytest.raises(PolicyError, match=r"source ref 'refs/heads/dev' is not allowed"):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_ref_exact_and_glob(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    bundle = make_bundle(
        predicate=github_pred(workflow_ref="octo/sdk/.github/workflows/release.yml@refs/heads/main")
    )
    exact = replace(policy, refs=("refs/heads/main",))
    assert verify_release(ARTIFACT, bundle, trust, exact).provenance.source()[1] == (
        "refs/heads/main"
    )
    with pytest.raises(PolicyError, match="source ref"):
        verify_release(ARTIFACT, bundle, trust, replace(policy, refs=("refs/heads/mai",)))


def test_every_failure_is_reported(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    bundle = make_bundle(
        b"another artifact",
        predicate=github_pred(
            job_workflow_ref="evil/x/.github/workflows/x.yml@main",
            workflow_ref="octo/sdk/.github/workflows/release.yml@refs/heads/dev",
        ),
    )
    report = check_release(ARTIFACT, bundle, trust, policy)
    assert [c.name for c in report.failures] == ["subject", "builder", "source-ref"]
    with pytest.raises(PolicyError, match=r"subject: .*; builder: .*; source-ref: "):
        report.raise_for_failures()


def test_tampered_statement(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    envelope = json.loads(make_bundle())
    payload = base64.b64decode(envelope["payload"])
    tampered = payload.replace(b"refs/tags/v1.2.3", b"refs/tags/v1.2.4")
    assert tampered != payload
    envelope["payload"] = base64.b64encode(tampered).decode()
    bundle = json.dumps(envelope).encode()
    with pytest.raises(
        SignatureError, match=r"signature: signature by key .*both halves .* do not verify"
    ):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_flipped_signature_bit(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    envelope = json.loads(make_bundle())
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[-1] ^= 1  # in the classical half
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    with pytest.raises(SignatureError, match="signature"):
        verify_release(ARTIFACT, json.dumps(envelope).encode(), trust, policy)


def test_unknown_predicate_type(keys: Keys, trust: TrustStore, policy: ReleasePolicy) -> None:
    statement = Statement(
        (subject_for_bytes("sdk.whl", ARTIFACT),), "https://example.com/other/v1", github_pred()
    )
    bundle = sign_statement(statement, [keys.release_signer()]).to_json()
    with pytest.raises(
        PolicyError,
        match=r"predicate-type: predicateType is 'https://example.com/other/v1', expected "
        r"'https://slsa.dev/provenance/v1'",
    ):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_unknown_external_parameters_rejected_by_policy(
    make_bundle: MakeBundle, trust: TrustStore, policy: ReleasePolicy
) -> None:
    pred = github_pred()
    ext = pred["buildDefinition"]["externalParameters"]
    ext["inputs"] = {"skip_tests": "true"}
    ext["workflow"]["sneaky"] = "x"
    bundle = make_bundle(predicate=pred)
    with pytest.raises(PolicyError, match=r"unknown externalParameters: inputs, workflow\.sneaky"):
        verify_release(ARTIFACT, bundle, trust, policy)
    lenient = replace(policy, reject_unknown_external_parameters=False)
    release = verify_release(ARTIFACT, bundle, trust, lenient)
    check = next(c for c in release.report.checks if c.name == "external-parameters")
    assert check.detail == "ignored unknown: inputs, workflow.sneaky"


def test_key_outside_release_signer_role(
    make_bundle: MakeBundle, keys: Keys, trust: TrustStore, policy: ReleasePolicy
) -> None:
    bundle = make_bundle(signer=keys.submitter_signer())
    with pytest.raises(TrustError, match=r"is trusted for role submitter, not for release-signer"):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_classical_key_where_composite_is_required(
    make_bundle: MakeBundle, keys: Keys, trust: TrustStore, policy: ReleasePolicy
) -> None:
    bundle = make_bundle(signer=keys.classical_signer())
    with pytest.raises(
        PolicyError, match=r"classical-only \(Ed25519\); role release-signer requires composite"
    ):
        verify_release(ARTIFACT, bundle, trust, policy)


def test_bundle_with_sbom_selects_the_provenance(
    keys: Keys, trust: TrustStore, policy: ReleasePolicy
) -> None:
    subjects = (subject_for_bytes("sdk.whl", ARTIFACT),)
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})
    bundle = build_attestations(
        subjects, [keys.release_signer()], predicate=github_pred(), sbom=sbom.encode()
    )
    lines = bundle.splitlines()
    assert len(lines) == 2
    second = json.loads(base64.b64decode(json.loads(lines[1])["payload"]))
    assert second["predicateType"] == CYCLONEDX_BOM
    # the SBOM line first: the provenance statement is still the one checked
    swapped = lines[1] + b"\n" + lines[0] + b"\n"
    release = verify_release(ARTIFACT, swapped, trust, policy)
    assert release.statement.predicate_type == "https://slsa.dev/provenance/v1"


def test_signed_but_malformed_predicate_is_malformed_input(
    keys: Keys, trust: TrustStore, policy: ReleasePolicy
) -> None:
    pred = github_pred()
    del pred["runDetails"]["builder"]["id"]
    statement = Statement(
        (subject_for_bytes("sdk.whl", ARTIFACT),), "https://slsa.dev/provenance/v1", pred
    )
    bundle = sign_statement(statement, [keys.release_signer()]).to_json()
    with pytest.raises(MalformedInputError, match=r"runDetails\.builder\.id must be"):
        verify_release(ARTIFACT, bundle, trust, policy)


@pytest.mark.parametrize(
    ("bundle", "match"),
    [
        (b"", "attestation is empty"),
        (b"not json\n", "attestation line 1: DSSE envelope is not valid JSON"),
        (b'{"payload": "", "payloadType": "x", "signatures": []}\n', "no signatures"),
    ],
)
def test_malformed_bundle(
    bundle: bytes, match: str, trust: TrustStore, policy: ReleasePolicy
) -> None:
    with pytest.raises(MalformedInputError, match=match):
        verify_release(ARTIFACT, bundle, trust, policy)


class _CountingSigner(CompositeSigner):
    calls = 0

    def sign(self, payload: bytes) -> Signature:
        type(self).calls += 1
        return super().sign(payload)


@pytest.mark.parametrize(
    ("sbom", "match"),
    [
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "n": 18014398509481985}', "canonical"),
        (b'{"bomFormat": "SPDX", "specVersion": "1.6"}', "not a CycloneDX"),
        (b'{"bomFormat": "CycloneDX", "bomFormat": "CycloneDX"}', "duplicate key"),
    ],
)
def test_build_checks_everything_before_signing(keys: Keys, sbom: bytes, match: str) -> None:
    signer = _CountingSigner(keys.release)
    _CountingSigner.calls = 0
    with pytest.raises(MalformedInputError, match=match):
        build_attestations(
            (subject_for_bytes("sdk.whl", ARTIFACT),), [signer], predicate=github_pred(), sbom=sbom
        )
    assert _CountingSigner.calls == 0
