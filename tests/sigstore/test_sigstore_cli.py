"""``qprov sigstore verify-bundle``: pins, policy reasons, output contract."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

RunCli = Callable[[Sequence[str]], Result]

BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GHA = "https://token.actions.githubusercontent.com"
RFC8785_ID = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)
RFC8785_WHEEL = "rfc8785-0.1.2-py3-none-any.whl"
STAGING_ID = "william@yossarian.net"
STAGING_ISSUER = "https://github.com/login/oauth"


def _verify(vectors: Path, case: str, identity: str, issuer: str, artifact: str) -> list[str]:
    d = vectors / case
    return [
        "sigstore",
        "verify-bundle",
        "--bundle",
        str(d / "bundle.sigstore.json"),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        str(d / artifact),
    ]


def _rfc8785(vectors: Path, *extra: str) -> list[str]:
    args = _verify(vectors, "pass/04-rfc8785-wheel-github-actions", RFC8785_ID, GHA, RFC8785_WHEEL)
    return args[:-1] + list(extra) + args[-1:]


def _staging(vectors: Path, *extra: str) -> list[str]:
    args = _verify(
        vectors, "fail/staging-bundle-vs-production-root", STAGING_ID, STAGING_ISSUER, "artifact"
    )
    return args[:-1] + list(extra) + args[-1:]


def _assert_fail(result: Result, exit_code: int, reason: str) -> None:
    assert result.exit_code == exit_code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("FAIL: ")
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1  # one status line


# -- trusted root pinning -------------------------------------------------------------


def test_wrong_trusted_root_sha256_is_refused(sigstore_vectors: Path, run_cli: RunCli) -> None:
    root = sigstore_vectors / "trusted_root" / "production.trusted_root.json"
    wrong = hashlib.sha256(b"not the root").hexdigest()
    result = run_cli(
        _rfc8785(sigstore_vectors, "--trusted-root", str(root), "--trusted-root-sha256", wrong)
    )
    _assert_fail(result, 1, f"sha256 mismatch: pinned {wrong}")


def test_right_trusted_root_sha256_is_accepted(sigstore_vectors: Path, run_cli: RunCli) -> None:
    root = sigstore_vectors / "trusted_root" / "production.trusted_root.json"
    pin = hashlib.sha256(root.read_bytes()).hexdigest()
    result = run_cli(
        _rfc8785(sigstore_vectors, "--trusted-root", str(root), "--trusted-root-sha256", pin)
    )
    assert result.exit_code == 0, result.stderr
    assert f"trusted root {root}" in result.stderr


def test_user_pinned_custom_root_is_used(
    sigstore_vectors: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    # Same trust content, different bytes: not a root qprov ships, so it is
    # accepted only with the caller's own pin.
    source = sigstore_vectors / "trusted_root" / "production.trusted_root.json"
    custom = tmp_path / "root.json"
    custom.write_bytes(json.dumps(json.loads(source.read_bytes())).encode())
    pin = hashlib.sha256(custom.read_bytes()).hexdigest()

    unpinned = run_cli(_rfc8785(sigstore_vectors, "--trusted-root", str(custom)))
    _assert_fail(unpinned, 1, "is not one qprov pins")

    pinned = run_cli(
        _rfc8785(sigstore_vectors, "--trusted-root", str(custom), "--trusted-root-sha256", pin)
    )
    assert pinned.exit_code == 0, pinned.stderr


def test_tampered_trusted_root_without_pin_is_refused(
    sigstore_vectors: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    data = (sigstore_vectors / "trusted_root" / "staging.trusted_root.json").read_bytes()
    tampered = tmp_path / "staging.trusted_root.json"
    tampered.write_bytes(data.replace(b"sigstage.dev", b"sigstage.dew", 1))
    result = run_cli(_staging(sigstore_vectors, "--trusted-root", str(tampered)))
    _assert_fail(result, 1, "is not one qprov pins")


def test_staging_bundle_verifies_against_staging_root_only(
    sigstore_vectors: Path, run_cli: RunCli
) -> None:
    # The failure against production is the root, not a broken bundle.
    assert run_cli(_staging(sigstore_vectors, "--staging")).exit_code == 0
    staging_file = sigstore_vectors / "trusted_root" / "staging.trusted_root.json"
    by_file = run_cli(_staging(sigstore_vectors, "--trusted-root", str(staging_file)))
    assert by_file.exit_code == 0, by_file.stderr
    _assert_fail(run_cli(_staging(sigstore_vectors)), 1, "does not chain to the trusted root")


def test_production_bundle_fails_against_staging_root(
    sigstore_vectors: Path, run_cli: RunCli
) -> None:
    result = run_cli(_rfc8785(sigstore_vectors, "--staging"))
    _assert_fail(result, 1, "does not chain to the trusted root")


# -- policy: each check fails with its own reason -------------------------------------------


def test_full_github_policy_passes(sigstore_vectors: Path, run_cli: RunCli) -> None:
    result = run_cli(
        _rfc8785(
            sigstore_vectors,
            "--repository", "trailofbits/rfc8785.py",
            "--ref", "refs/tags/v0.1.2",
            "--trigger", "release",
            "--sha", "d8b4a6445f38c48b9137a8099706d9b8073146e4",
            "--runner", "github-hosted",
            "--visibility", "public",
            "--source-repository-uri", "https://github.com/trailofbits/rfc8785.py",
        )
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("OK: ")


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--repository", "evil/rfc8785.py"], "GitHub workflow repository mismatch"),
        (["--ref", "refs/tags/v0.1.3"], "GitHub workflow ref mismatch"),
        (["--ref", "refs/heads/main"], "GitHub workflow ref mismatch"),
        (["--trigger", "push"], "GitHub workflow trigger mismatch"),
        (["--sha", "0" * 40], "GitHub workflow sha mismatch"),
        (["--runner", "self-hosted"], "runner environment mismatch"),
        (["--visibility", "private"], "source repository visibility mismatch"),
        (
            ["--source-repository-uri", "https://github.com/evil/rfc8785.py"],
            "source repository URI mismatch",
        ),
    ],
)
def test_wrong_workflow_claim_fails_with_its_reason(
    sigstore_vectors: Path, run_cli: RunCli, flags: list[str], reason: str
) -> None:
    _assert_fail(run_cli(_rfc8785(sigstore_vectors, *flags)), 1, reason)


def test_wrong_identity_fails_with_its_reason(sigstore_vectors: Path, run_cli: RunCli) -> None:
    evil = RFC8785_ID.replace("trailofbits", "evil")
    args = _verify(
        sigstore_vectors, "pass/04-rfc8785-wheel-github-actions", evil, GHA, RFC8785_WHEEL
    )
    result = run_cli(args)
    _assert_fail(result, 1, "certificate identity mismatch")
    assert "OIDC issuer" not in result.stderr


def test_wrong_issuer_fails_with_its_reason(sigstore_vectors: Path, run_cli: RunCli) -> None:
    args = _verify(
        sigstore_vectors,
        "pass/04-rfc8785-wheel-github-actions",
        RFC8785_ID,
        "https://accounts.google.com",
        RFC8785_WHEEL,
    )
    result = run_cli(args)
    _assert_fail(result, 1, "OIDC issuer mismatch")
    assert "certificate identity" not in result.stderr


def test_dsse_statement_subject_mismatch(sigstore_vectors: Path, run_cli: RunCli) -> None:
    # Bundle 03 is valid; the wheel is not among its statement's subjects.
    args = _verify(sigstore_vectors, "pass/03-dsse-intoto-slsa-v1", BEACON, GHA, "artifact")
    assert run_cli(args).exit_code == 0
    wheel = sigstore_vectors / "pass/04-rfc8785-wheel-github-actions" / RFC8785_WHEEL
    result = run_cli([*args[:-1], str(wheel)])
    _assert_fail(result, 1, "is not a subject of the in-toto statement")


def test_dsse_subject_matches_by_digest(sigstore_vectors: Path, run_cli: RunCli) -> None:
    args = _verify(sigstore_vectors, "pass/03-dsse-intoto-slsa-v1", BEACON, GHA, "artifact")
    digest = hashlib.sha256(Path(args[-1]).read_bytes()).hexdigest()
    assert run_cli([*args[:-1], f"sha256:{digest}"]).exit_code == 0
    result = run_cli([*args[:-1], f"sha256:{'ab' * 32}"])
    _assert_fail(result, 1, "is not a subject of the in-toto statement")


# -- output contract -------------------------------------------------------------------


def test_json_verdict_on_success(sigstore_vectors: Path, run_cli: RunCli) -> None:
    args = _verify(sigstore_vectors, "pass/03-dsse-intoto-slsa-v1", BEACON, GHA, "artifact")
    result = run_cli([*args[:-1], "--json", args[-1]])
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    digest = hashlib.sha256(Path(args[-1]).read_bytes()).hexdigest()
    assert verdict["schema"] == "https://qprov.dev/schemas/sigstore-verdict/v1"
    assert verdict["verified"] is True
    assert verdict["kind"] == "dsse"
    assert verdict["artifact"] == f"sha256:{digest}"
    assert verdict["identity"] == BEACON
    assert verdict["predicate_type"] == "https://slsa.dev/provenance/v1"
    assert verdict["trusted_root"]["sha256"] == (
        "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"
    )
    assert result.stderr.startswith("OK: ")


def test_json_verdict_on_failure(sigstore_vectors: Path, run_cli: RunCli) -> None:
    result = run_cli(_rfc8785(sigstore_vectors, "--json", "--ref", "refs/tags/v9"))
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is False
    assert verdict["error"]["type"] == "PolicyError"
    assert verdict["error"]["exit_code"] == 1
    assert "GitHub workflow ref mismatch" in verdict["error"]["reason"]
    assert result.stderr.startswith("FAIL: ")


def test_keyless_bundle_with_key_is_refused(
    sigstore_vectors: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    # A certificate bundle is not verified with a key, even the certificate's own.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    d = sigstore_vectors / "pass/01-hashedrekord-bundle-v0.3"
    bundle = json.loads((d / "bundle.sigstore.json").read_bytes())
    cert = x509.load_der_x509_certificate(
        base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    )
    key = tmp_path / "key.pub"
    key.write_bytes(
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    result = run_cli(
        [
            "sigstore", "verify-bundle", "--bundle", str(d / "bundle.sigstore.json"),
            "--key", str(key), str(d / "artifact"),
        ]
    )  # fmt: skip
    _assert_fail(result, 1, "signed with a certificate (keyless), not a public key")


def test_malformed_key_exits_3(sigstore_vectors: Path, run_cli: RunCli, tmp_path: Path) -> None:
    key = tmp_path / "key.pub"
    key.write_text("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")
    d = sigstore_vectors / "pass/01-hashedrekord-bundle-v0.3"
    result = run_cli(
        [
            "sigstore", "verify-bundle", "--bundle", str(d / "bundle.sigstore.json"),
            "--key", str(key), str(d / "artifact"),
        ]
    )  # fmt: skip
    _assert_fail(result, 3, "PEM PUBLIC KEY block is empty")


@pytest.mark.parametrize(
    "flags",
    [
        ["--certificate-identity", BEACON],  # issuer missing
        ["--certificate-oidc-issuer", GHA],  # identity missing
        ["--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA, "--key", "KEY"],
        ["--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA, "--staging",
         "--trusted-root", "ROOT"],
        ["--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA,
         "--trusted-root-sha256", "00" * 32],
    ],
)  # fmt: skip
def test_usage_errors(
    sigstore_vectors: Path, run_cli: RunCli, flags: list[str], tmp_path: Path
) -> None:
    d = sigstore_vectors / "pass/01-hashedrekord-bundle-v0.3"
    existing = str(d / "bundle.sigstore.json")
    flags = [existing if f in {"KEY", "ROOT"} else f for f in flags]
    result = run_cli(
        ["sigstore", "verify-bundle", "--bundle", existing, *flags, str(d / "artifact")]
    )
    assert result.exit_code == 2
    assert result.stdout == ""


def test_missing_artifact_is_a_usage_error(sigstore_vectors: Path, run_cli: RunCli) -> None:
    args = _verify(sigstore_vectors, "pass/01-hashedrekord-bundle-v0.3", BEACON, GHA, "nope")
    result = run_cli(args)
    assert result.exit_code == 2
    assert "neither a file nor sha256:HEX" in result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b'{"mediaType": "a", "mediaType": "b"}', "duplicate key"),
        (b"[]", "must be a JSON object"),
        (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v9+json"}', "invalid Sigstore"),
        (b'{"version": 2, "verification_material": {}, "envelope": {}}', "version 2"),
    ],
)
def test_malformed_bundle_exits_3(
    sigstore_vectors: Path, run_cli: RunCli, tmp_path: Path, content: bytes, reason: str
) -> None:
    bundle = tmp_path / "bundle.sigstore.json"
    bundle.write_bytes(content)
    artifact = sigstore_vectors / "pass/01-hashedrekord-bundle-v0.3" / "artifact"
    result = run_cli(
        [
            "sigstore", "verify-bundle", "--bundle", str(bundle),
            "--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA, str(artifact),
        ]
    )  # fmt: skip
    _assert_fail(result, 3, reason)


def test_network_guard_catches_sigstore_going_online(
    network_attempts: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Control: the tripwire would have seen a TUF refresh, had one happened."""
    from sigstore.errors import TUFError
    from sigstore.models import ClientTrustConfig

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.raises(TUFError):
        ClientTrustConfig.production(offline=False)
    assert network_attempts
    assert any("tuf-repo-cdn.sigstore.dev" in str(args) for _name, args in network_attempts)


def test_import_qprov_does_not_import_sigstore() -> None:
    code = (
        "import sys, qprov, qprov.sigstore, qprov._cli, qprov._cli_sigstore\n"
        "bad = sorted(m for m in sys.modules if m == 'sigstore' or m.startswith('sigstore.'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
