"""``qprov attest verify`` with upstream Sigstore bundles, offline.

Every file-input case of ``$QPROV_VECTORS/sigstore/manifest.json`` gives its
expected result through ``qprov attest verify``, with the identity policy in the
release policy's ``[sigstore]`` table; networking is blocked and each test
proves no connection was attempted. Then the release policy's SLSA checks on a
Sigstore bundle's provenance, flags against the policy, trusted-root pins, the
accepted file shapes (PEP 740, JSON Lines, PyPI provenance) and the library API.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli
from qprov.errors import ConfigError, MalformedInputError, PolicyError
from qprov.sigstore import ArtifactDigest, SigstorePolicy
from qprov.slsa import (
    ReleasePolicy,
    check_sigstore_release,
    sigstore_bundles,
    verify_sigstore_release,
)

_REPO = Path(__file__).resolve().parents[2]

GHA = "https://token.actions.githubusercontent.com"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
PA_ID = (
    "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml"
    "@refs/tags/v0.0.19"
)
PA_REPO_URL = "https://github.com/trailofbits/pypi-attestations"
PA_SDIST = "pypi_attestations-0.0.19.tar.gz"
SLSA_CASE = "pass/07-pep740-github-slsa"
PUBLISH_CASE = "pass/06-pep740-github-publish"

#: manifest ``extra_policy`` (sigstore-python policy class) -> ``[sigstore]`` key
_CLAIM_KEYS = {
    "GitHubWorkflowRepository": "repository",
    "GitHubWorkflowRef": "ref",
    "GitHubWorkflowTrigger": "trigger",
    "GitHubWorkflowSHA": "sha",
    "GitHubWorkflowName": "workflow_name",
    "OIDCRunnerEnvironment": "runner",
    "OIDCSourceRepositoryVisibility": "visibility",
    "OIDCSourceRepositoryURI": "source_repository_uri",
}


# -- fixtures (a copy of tests/sigstore/conftest.py's: test dirs do not import each other)


def _vectors_root() -> Path:
    env = os.environ.get("QPROV_VECTORS")
    return Path(env) if env else _REPO.parent / "shared" / "vectors"


def _manifest_cases() -> list[dict[str, Any]]:
    path = _vectors_root() / "sigstore" / "manifest.json"
    if not path.is_file():
        return []
    cases = json.loads(path.read_text())["cases"]
    return [c for c in cases if "file" in c["input"]]  # attest verify takes a file


@pytest.fixture(scope="session")
def vectors() -> Path:
    path = _vectors_root() / "sigstore"
    if not (path / "manifest.json").is_file():
        pytest.skip(f"Sigstore vectors not found at {path} (set QPROV_VECTORS)")
    return path


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Block (and record) every way Python code opens a connection or resolves a name."""
    attempts: list[tuple[str, Any]] = []

    def tripwire(name: str) -> Callable[..., NoReturn]:
        def blocked(*args: Any, **kwargs: Any) -> NoReturn:
            attempts.append((name, args))
            raise OSError(f"network access blocked in tests ({name})")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", tripwire("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", tripwire("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", tripwire("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", tripwire("getaddrinfo"))
    return attempts


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(cli, ["attest", "verify", *args], catch_exceptions=False)


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # TOML basic strings, arrays and booleans are JSON-compatible


def write_policy(
    path: Path,
    sigstore: dict[str, Any] | None = None,
    *,
    builder_ids: Sequence[str] = ("*",),
    source_repositories: Sequence[str] = ("*",),
    refs: Sequence[str] = ("*",),
) -> Path:
    lines = [
        "version = 1",
        f"builder_ids = {_toml_value(list(builder_ids))}",
        f"source_repositories = {_toml_value(list(source_repositories))}",
        f"refs = {_toml_value(list(refs))}",
    ]
    if sigstore is not None:
        lines.append("[sigstore]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in sigstore.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_ok(result: Result, attempts: list[Any]) -> None:
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("OK: ")
    assert attempts == []


def _assert_fail(result: Result, exit_code: int, reason: str, attempts: list[Any]) -> None:
    assert result.exit_code == exit_code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("FAIL: ")
    assert reason in result.stderr, result.stderr
    assert attempts == []


def _slsa_args(vectors: Path, policy: Path, *extra: str) -> list[str]:
    d = vectors / SLSA_CASE
    return [
        str(d / PA_SDIST),
        "--attestation",
        str(d / f"{PA_SDIST}.slsa.attestation"),
        "--policy",
        str(policy),
        *extra,
    ]


PA_SIGSTORE = {"identity": PA_ID, "issuer": GHA, "repository": "trailofbits/pypi-attestations"}


# -- every vector through the CLI ---------------------------------------------------


@pytest.mark.parametrize("case", _manifest_cases(), ids=lambda c: c["id"])
def test_manifest_case(
    case: dict[str, Any], vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    d = vectors / case["dir"]
    table: dict[str, Any] = {"identity": case["identity"], "issuer": case["issuer"]}
    for claim, value in case["extra_policy"].items():
        table[_CLAIM_KEYS[claim]] = value
    if case["trusted_root"] != "production":
        table["trusted_root"] = str(d / case["trusted_root"])
    policy = write_policy(tmp_path / "policy.toml", table)
    result = run([str(d / case["input"]["file"]), "--attestation", str(d / case["bundle"]),
                  "--policy", str(policy)])  # fmt: skip
    if case["expect"] == "pass":
        _assert_ok(result, network_attempts)
        assert case["identity"] in result.stderr
    else:
        assert result.exit_code in (1, 3), result.stderr
        assert result.stderr.startswith("FAIL: ")
        assert result.stdout == ""
        assert network_attempts == []


def test_manifest_cases_found(vectors: Path) -> None:
    cases = _manifest_cases()
    assert len(cases) >= 25
    assert {"pass", "fail"} == {c["expect"] for c in cases}


# -- the release policy applies to a Sigstore bundle's SLSA provenance --------------


def test_slsa_provenance_passes_release_policy(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    policy = write_policy(
        tmp_path / "p.toml",
        {**PA_SIGSTORE, "ref": "refs/tags/v0.0.19", "require_provenance": True},
        builder_ids=[PA_ID.replace("v0.0.19", "*")],
        source_repositories=[PA_REPO_URL],
        refs=["refs/tags/v*"],
    )
    result = run(_slsa_args(vectors, policy))
    _assert_ok(result, network_attempts)
    assert f"built by {PA_ID} from {PA_REPO_URL}@refs/tags/v0.0.19" in result.stderr


@pytest.mark.parametrize(
    ("policy_lists", "reason"),
    [
        ({"builder_ids": ["https://github.com/evil/*"]}, "builder: builder id"),
        ({"source_repositories": ["https://github.com/evil/sdk"]}, "source-repository:"),
        ({"refs": ["refs/heads/main"]}, "source-ref: source ref 'refs/tags/v0.0.19'"),
    ],
)
def test_slsa_provenance_refused_by_release_policy(
    policy_lists: dict[str, list[str]],
    reason: str,
    vectors: Path,
    tmp_path: Path,
    network_attempts: list[Any],
) -> None:
    policy = write_policy(tmp_path / "p.toml", PA_SIGSTORE, **policy_lists)
    _assert_fail(run(_slsa_args(vectors, policy)), 1, reason, network_attempts)


def test_conformance_dsse_slsa_bundle_checked_against_policy(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    d = vectors / "pass/03-dsse-intoto-slsa-v1"
    args = [str(d / "artifact"), "--attestation", str(d / "bundle.sigstore.json")]
    good = write_policy(
        tmp_path / "good.toml",
        {"identity": BEACON, "issuer": GHA},
        source_repositories=["https://github.com/loosebazooka/aa-test"],
        refs=["refs/heads/main"],
    )
    _assert_ok(run([*args, "--policy", str(good)]), network_attempts)
    bad = write_policy(
        tmp_path / "bad.toml",
        {"identity": BEACON, "issuer": GHA},
        source_repositories=["https://github.com/octo/sdk"],
    )
    _assert_fail(run([*args, "--policy", str(bad)]), 1, "source-repository:", network_attempts)


def test_require_provenance_refuses_publish_attestation(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    d = vectors / PUBLISH_CASE
    args = [str(d / PA_SDIST), "--attestation", str(d / f"{PA_SDIST}.publish.attestation")]
    lax = write_policy(tmp_path / "lax.toml", PA_SIGSTORE)
    _assert_ok(run([*args, "--policy", str(lax)]), network_attempts)
    strict = write_policy(tmp_path / "strict.toml", {**PA_SIGSTORE, "require_provenance": True})
    _assert_fail(
        run([*args, "--policy", str(strict)]),
        1,
        "bundle carries https://docs.pypi.org/attestations/publish/v1, not SLSA provenance",
        network_attempts,
    )


# -- identity policy: flags, policy file, precedence ----------------------------------


def _rfc8785_args(vectors: Path, *extra: str) -> list[str]:
    d = vectors / "pass/04-rfc8785-wheel-github-actions"
    return [
        str(d / "rfc8785-0.1.2-py3-none-any.whl"),
        "--attestation",
        str(d / "bundle.sigstore.json"),
        *extra,
    ]


RFC8785_ID = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)


def test_flags_only_no_policy_file(vectors: Path, network_attempts: list[Any]) -> None:
    flags = ["--certificate-identity", RFC8785_ID, "--certificate-oidc-issuer", GHA]
    result = run(_rfc8785_args(vectors, *flags, "--repository", "trailofbits/rfc8785.py",
                               "--ref", "refs/tags/v0.1.2"))  # fmt: skip
    _assert_ok(result, network_attempts)
    assert "Sigstore signature by " + RFC8785_ID in result.stderr


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--repository", "evil/rfc8785.py"], "GitHub workflow repository mismatch"),
        (["--ref", "refs/heads/main"], "GitHub workflow ref mismatch"),
        (["--certificate-oidc-issuer", "https://accounts.google.com"], "OIDC issuer mismatch"),
    ],
)
def test_flag_overrides_policy_and_fails(
    extra: list[str], reason: str, vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    policy = write_policy(tmp_path / "p.toml", {"identity": RFC8785_ID, "issuer": GHA})
    _assert_ok(run(_rfc8785_args(vectors, "--policy", str(policy))), network_attempts)
    result = run(_rfc8785_args(vectors, "--policy", str(policy), *extra))
    _assert_fail(result, 1, reason, network_attempts)


def test_flag_identity_overrides_wrong_policy_identity(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    policy = write_policy(
        tmp_path / "p.toml", {"identity": RFC8785_ID.replace("trailofbits", "evil"), "issuer": GHA}
    )
    _assert_fail(
        run(_rfc8785_args(vectors, "--policy", str(policy))),
        1,
        "certificate identity mismatch",
        network_attempts,
    )
    result = run(_rfc8785_args(vectors, "--policy", str(policy), "--certificate-identity",
                               RFC8785_ID))  # fmt: skip
    _assert_ok(result, network_attempts)


def test_missing_identity_is_a_config_error(vectors: Path, network_attempts: list[Any]) -> None:
    result = run(_rfc8785_args(vectors, "--certificate-oidc-issuer", GHA))
    _assert_fail(result, 3, "no identity to verify against", network_attempts)


# -- trusted roots ----------------------------------------------------------------------


def _staging_args(vectors: Path, *extra: str) -> list[str]:
    d = vectors / "fail/staging-bundle-vs-production-root"
    return [
        str(d / "artifact"),
        "--attestation",
        str(d / "bundle.sigstore.json"),
        "--certificate-identity",
        "william@yossarian.net",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        *extra,
    ]


def test_staging_bundle_needs_staging_root(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    _assert_fail(run(_staging_args(vectors)), 1, "FAIL", network_attempts)
    _assert_ok(run(_staging_args(vectors, "--staging")), network_attempts)
    policy = write_policy(tmp_path / "p.toml", {"trusted_root": "staging"})
    _assert_ok(run(_staging_args(vectors, "--policy", str(policy))), network_attempts)
    root = vectors / "trusted_root" / "staging.trusted_root.json"
    _assert_ok(run(_staging_args(vectors, "--trusted-root", str(root))), network_attempts)


def test_policy_trusted_root_file_must_match_its_pin(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    root = vectors / "trusted_root" / "staging.trusted_root.json"
    wrong = write_policy(
        tmp_path / "wrong.toml", {"trusted_root": str(root), "trusted_root_sha256": "0" * 64}
    )
    _assert_fail(run(_staging_args(vectors, "--policy", str(wrong))), 1, "sha256 mismatch",
                 network_attempts)  # fmt: skip
    unpinned = write_policy(tmp_path / "unpinned.toml", {"trusted_root": str(root)})
    _assert_fail(run(_staging_args(vectors, "--policy", str(unpinned))), 3,
                 "needs trusted_root_sha256", network_attempts)  # fmt: skip


# -- subjects --------------------------------------------------------------------------


def test_dsse_statement_for_another_artifact(vectors: Path, network_attempts: list[Any]) -> None:
    d = vectors / "fail/dsse-subject-mismatch"
    result = run([str(d / "artifact"), "--attestation", str(d / "bundle.sigstore.json"),
                  "--certificate-identity", BEACON, "--certificate-oidc-issuer", GHA])  # fmt: skip
    _assert_fail(result, 1, "is not a subject of the in-toto statement", network_attempts)


def test_pep740_for_another_distribution(vectors: Path, network_attempts: list[Any]) -> None:
    d = vectors / "fail/pep740-wrong-distribution"
    result = run([str(d / "gitlab_oidc_project-0.0.3.tar.gz"), "--attestation",
                  str(d / f"{PA_SDIST}.publish.attestation"), "--certificate-identity", PA_ID,
                  "--certificate-oidc-issuer", GHA])  # fmt: skip
    _assert_fail(result, 1, "is not a subject", network_attempts)


# -- file shapes and the JSON verdict ---------------------------------------------------


def _compact(path: Path) -> bytes:
    return json.dumps(json.loads(path.read_bytes())).encode()


def test_json_lines_of_bundles_picks_the_passing_one(
    vectors: Path, tmp_path: Path, network_attempts: list[Any]
) -> None:
    publish = vectors / PUBLISH_CASE / "bundle.sigstore.json"
    slsa = vectors / SLSA_CASE / f"{PA_SDIST}.slsa.attestation"
    jsonl = tmp_path / "attestations.jsonl"
    jsonl.write_bytes(_compact(publish) + b"\n" + _compact(slsa) + b"\n")
    policy = write_policy(tmp_path / "p.toml", {**PA_SIGSTORE, "require_provenance": True})
    result = run([str(vectors / SLSA_CASE / PA_SDIST), "--attestation", str(jsonl),
                  "--policy", str(policy), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is True
    assert verdict["sigstore"]["predicate_type"] == "https://slsa.dev/provenance/v1"
    assert verdict["builderId"] == PA_ID
    assert [c["check"] for c in verdict["checks"]][:3] == ["sigstore", "subject", "predicate-type"]
    assert network_attempts == []


def test_pypi_provenance_object(vectors: Path, tmp_path: Path, network_attempts: list[Any]) -> None:
    provenance = {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {"kind": "GitHub", "repository": "trailofbits/pypi-attestations"},
                "attestations": [
                    json.loads(
                        (vectors / PUBLISH_CASE / f"{PA_SDIST}.publish.attestation").read_bytes()
                    ),
                    json.loads((vectors / SLSA_CASE / f"{PA_SDIST}.slsa.attestation").read_bytes()),
                ],
            }
        ],
    }
    path = tmp_path / f"{PA_SDIST}.provenance"
    path.write_text(json.dumps(provenance))
    policy = write_policy(tmp_path / "p.toml", {**PA_SIGSTORE, "require_provenance": True})
    result = run([str(vectors / SLSA_CASE / PA_SDIST), "--attestation", str(path),
                  "--policy", str(policy)])  # fmt: skip
    _assert_ok(result, network_attempts)
    assert "built by" in result.stderr


def test_failure_json_verdict(vectors: Path, tmp_path: Path, network_attempts: list[Any]) -> None:
    policy = write_policy(tmp_path / "p.toml", PA_SIGSTORE, refs=["refs/heads/main"])
    result = run([*_slsa_args(vectors, policy), "--json"])
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is False
    failed = [c for c in verdict["checks"] if not c["ok"]]
    assert [(c["check"], c["error"]) for c in failed] == [("source-ref", "PolicyError")]
    assert result.stderr.startswith("FAIL: ")
    assert network_attempts == []


def test_sigstore_flags_refused_for_qprov_attestation(tmp_path: Path) -> None:
    artifact = tmp_path / "a.whl"
    artifact.write_bytes(b"wheel")
    envelope = tmp_path / "a.intoto.jsonl"
    envelope.write_text(json.dumps({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(b"{}").decode(),
        "signatures": [{"keyid": "k", "sig": base64.b64encode(b"s").decode()}],
    }))  # fmt: skip
    result = run([str(artifact), "--attestation", str(envelope), "--staging"])
    assert result.exit_code == 2
    assert "--staging: only for Sigstore bundles" in result.stderr
    result = run([str(artifact), "--attestation", str(envelope)])
    assert result.exit_code == 2
    assert "needs --trust and --policy" in result.stderr


# -- library ------------------------------------------------------------------------------


def test_library_report_and_raise(vectors: Path, network_attempts: list[Any]) -> None:
    d = vectors / SLSA_CASE
    sdist = (d / PA_SDIST).read_bytes()
    attestation = (d / f"{PA_SDIST}.slsa.attestation").read_bytes()
    policy = ReleasePolicy(
        builder_ids=("https://github.com/evil/*",),
        source_repositories=(PA_REPO_URL,),
        refs=("refs/tags/*",),
    )
    identity = SigstorePolicy(identity=PA_ID, issuer=GHA)
    report = check_sigstore_release(ArtifactDigest.of_bytes(sdist, PA_SDIST), attestation,
                                    identity, policy)  # fmt: skip
    assert not report.ok
    assert [c.name for c in report.failures] == ["builder"]
    assert report.sigstore is not None
    assert report.provenance is not None
    assert report.payload == base64.b64decode(json.loads(attestation)["envelope"]["statement"])
    with pytest.raises(PolicyError, match="builder: builder id"):
        verify_sigstore_release(sdist, attestation, identity, policy)
    ok = verify_sigstore_release(sdist, attestation, identity)  # no release policy
    assert ok.provenance is not None
    assert "release-policy" in [c.name for c in ok.checks]
    assert network_attempts == []


def test_sigstore_bundles_recognises_shapes(vectors: Path) -> None:
    bundle = (vectors / PUBLISH_CASE / "bundle.sigstore.json").read_bytes()
    assert sigstore_bundles(bundle) == (bundle.strip(),)
    envelope = b'{"payloadType": "x", "payload": "", "signatures": []}'
    assert sigstore_bundles(envelope) is None
    assert sigstore_bundles(envelope + b"\n" + envelope) is None
    with pytest.raises(MalformedInputError, match="line 2 is not a Sigstore bundle"):
        sigstore_bundles(_compact(vectors / PUBLISH_CASE / "bundle.sigstore.json") + b"\n"
                         + envelope)  # fmt: skip
    with pytest.raises(MalformedInputError, match="empty"):
        sigstore_bundles(b"  \n")
    with pytest.raises(MalformedInputError, match="attestation_bundles"):
        sigstore_bundles(b'{"version": 1, "attestation_bundles": [{"attestations": []}]}')
    with pytest.raises(MalformedInputError, match="not a Sigstore bundle"):
        check_sigstore_release(b"x", envelope, SigstorePolicy(identity="a", issuer="b"))


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ('identity = "a"\nsurprise = 1', "unknown field"),
        ('identity = ""', "identity must be a non-empty string"),
        ('trusted_root_sha256 = "' + "0" * 64 + '"', "only for a trusted_root file"),
        ('trusted_root = "root.json"', "needs trusted_root_sha256"),
        ("require_provenance = 1", "require_provenance must be a bool"),
    ],
)
def test_sigstore_table_errors(table: str, reason: str) -> None:
    doc = 'version = 1\nbuilder_ids = ["*"]\nsource_repositories = ["*"]\nrefs = ["*"]\n'
    with pytest.raises(ConfigError, match=reason):
        ReleasePolicy.from_toml((doc + "[sigstore]\n" + table + "\n").encode())


def test_example_policy_parses() -> None:
    from qprov.slsa import load_release_policy

    policy = load_release_policy(_REPO / "attestations" / "examples" / "release-policy.toml")
    assert policy.sigstore is not None
    assert policy.sigstore.sigstore_policy().issuer == GHA
