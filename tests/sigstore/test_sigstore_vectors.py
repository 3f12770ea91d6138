"""Every case of ``shared/vectors/sigstore/manifest.json`` through ``qprov sigstore``.

Each case runs the conformance-protocol command in-process with the network
blocked, and asserts the exit code, that stdout is empty (no ``--json``), the
status line on stderr, and that no connection or name lookup was attempted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

RunCli = Callable[[Sequence[str]], Result]


def _vectors_root() -> Path:  # same rule as conftest.sigstore_vectors
    env = os.environ.get("QPROV_VECTORS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "vectors"


# manifest extra_policy key (sigstore policy class) -> qprov CLI flag
_POLICY_FLAGS = {
    "GitHubWorkflowRepository": "--repository",
    "GitHubWorkflowRef": "--ref",
    "GitHubWorkflowTrigger": "--trigger",
    "GitHubWorkflowSHA": "--sha",
    "GitHubWorkflowName": "--workflow-name",
    "OIDCRunnerEnvironment": "--runner",
    "OIDCSourceRepositoryVisibility": "--visibility",
    "OIDCSourceRepositoryURI": "--source-repository-uri",
}

# Why each failing case fails: (exit code, reason on stderr). A failure for
# any other reason (say, a crash, or the network) would not match.
_EXPECTED_FAILURES = {
    "bundle-from-wrong-instance_fail": (1, "does not chain to the trusted root"),
    "signature-mismatch_fail": (1, "Signature is invalid for input"),
    "checkpoint-wrong-roothash_fail": (1, "transparency log: invalid log entry"),
    "invalid-inclusion-proof_fail": (3, "entry must contain inclusion proof, with checkpoint"),
    "set-invalid-signature_fail": (1, "SET: invalid inclusion promise"),
    "dsse-invalid-sig_fail": (1, "DSSE: invalid signature"),
    "dsse-mismatch-sig_fail": (1, "log entry signatures do not match bundle"),
    "message-digest-mismatch_fail": (1, "Bundle message digest mismatch"),
    "wrong-material_fail": (1, "Bundle message digest mismatch"),
    "bundle-with-root-cert_fail": (3, "entry must contain inclusion proof, with checkpoint"),
    "incorrect-public-key_fail": (1, "inclusion proof contains invalid root hash"),
    "integrated-time-in-future_fail": (1, "not valid at validation time"),
    "wrong-identity-policy": (1, "certificate identity mismatch"),
    "wrong-issuer-policy": (1, "OIDC issuer mismatch"),
    "cpython-3.12.5-missing-checkpoint": (3, "entry must contain inclusion proof, with checkpoint"),
    "staging-bundle-vs-production-root": (1, "does not chain to the trusted root"),
    "staging-pep740-vs-production-root": (1, "does not chain to the trusted root"),
    "pep740-wrong-distribution": (1, "is not a subject of the in-toto statement"),
    "dsse-subject-mismatch": (1, "is not a subject of the in-toto statement"),
}


def _cases() -> list[Any]:
    manifest = _vectors_root() / "sigstore" / "manifest.json"
    if not manifest.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no {manifest}"))]
    cases = json.loads(manifest.read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case["id"]) for case in cases]


def _publisher_flags(publisher: dict[str, str] | None) -> list[str]:
    """PEP 740 Trusted Publisher -> the equivalent certificate claim checks."""
    if publisher is None:
        return []
    if publisher["kind"] == "GitHub":
        return ["--repository", publisher["repository"]]
    if publisher["kind"] == "GitLab":
        uri = f"https://gitlab.com/{publisher['repository']}"
        return ["--source-repository-uri", uri]
    raise AssertionError(f"unknown publisher kind {publisher['kind']}")


def command_for(case: dict[str, Any], vectors: Path) -> list[str]:
    """The conformance-protocol command line for a manifest case."""
    case_dir = vectors / case["dir"]
    args = [
        "sigstore",
        "verify-bundle",
        "--bundle",
        str(case_dir / case["bundle"]),
        "--certificate-identity",
        case["identity"],
        "--certificate-oidc-issuer",
        case["issuer"],
    ]
    for key, value in case["extra_policy"].items():
        args += [_POLICY_FLAGS[key], value]
    args += _publisher_flags(case["publisher"])
    if case["trusted_root"] != "production":  # a path relative to the case dir
        args += ["--trusted-root", str(case_dir / case["trusted_root"])]
    if "file" in case["input"]:
        args.append(str(case_dir / case["input"]["file"]))
    else:
        args.append("sha256:" + case["input"]["sha256"])
    return args


@pytest.mark.parametrize("case", _cases())
def test_manifest_case(
    case: dict[str, Any],
    sigstore_vectors: Path,
    run_cli: RunCli,
    network_attempts: list[tuple[str, Any]],
) -> None:
    bundle = str(sigstore_vectors / case["dir"] / case["bundle"])
    result = run_cli(command_for(case, sigstore_vectors))

    assert result.stdout == ""
    if case["expect"] == "pass":
        assert result.exit_code == 0, result.stderr
        assert result.stderr.startswith(f"OK: {bundle}: ")
        assert case["identity"] in result.stderr
    else:
        assert case["expect"] == "fail"
        assert result.exit_code != 0
        assert result.stderr.startswith(f"FAIL: {bundle}: ")
        assert "internal error" not in result.stderr
        if case["id"] in _EXPECTED_FAILURES:
            exit_code, reason = _EXPECTED_FAILURES[case["id"]]
            assert result.exit_code == exit_code, result.stderr
            assert reason in result.stderr
    assert network_attempts == []


def test_every_expected_failure_is_in_the_manifest(sigstore_vectors: Path) -> None:
    cases = json.loads((sigstore_vectors / "manifest.json").read_text(encoding="utf-8"))["cases"]
    failing = {case["id"] for case in cases if case["expect"] == "fail"}
    assert set(_EXPECTED_FAILURES) == failing
