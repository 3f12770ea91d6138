"""``qprov attest build`` / ``qprov attest verify`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli

from .conftest import GITHUB_ENV

_NOT_GITHUB = dict.fromkeys(GITHUB_ENV) | {"QPROV_GITHUB_JOB_WORKFLOW_REF": None}


def _runner() -> CliRunner:
    return CliRunner()  # click >= 8.2 keeps stdout and stderr apart


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    p = tmp_path / "dist" / "octo_sdk-1.2.3-py3-none-any.whl"
    p.parent.mkdir()
    p.write_bytes(b"wheel bytes")
    return p


def _build(
    trust_dir: Path, wheel: Path, out: Path, *extra: str, env: Mapping[str, str | None]
) -> Result:
    return _runner().invoke(
        cli,
        [
            "attest",
            "build",
            "--subject",
            str(wheel),
            "--key",
            f"file:{trust_dir / 'release.key'}",
            "-o",
            str(out),
            *extra,
        ],
        env=env,
    )


def _verify(
    trust_dir: Path, artifact: Path, bundle: Path, *extra: str, policy: Path | None = None
) -> Result:
    return _runner().invoke(
        cli,
        [
            "attest",
            "verify",
            str(artifact),
            "--attestation",
            str(bundle),
            "--trust",
            str(trust_dir / "trust.toml"),
            "--policy",
            str(policy or trust_dir / "policy.toml"),
            *extra,
        ],
    )


def test_github_round_trip(trust_dir: Path, wheel: Path, tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}')
    out = tmp_path / "sdk.intoto.jsonl"
    built = _build(trust_dir, wheel, out, "--sbom", str(sbom), env=GITHUB_ENV)
    assert built.exit_code == 0, built.stderr
    assert built.stdout == ""
    assert built.stderr.startswith(
        "OK: attested octo_sdk-1.2.3-py3-none-any.whl (provenance and SBOM"
    )
    assert len(out.read_bytes().splitlines()) == 2

    ok = _verify(trust_dir, wheel, out)
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout == ""
    assert ok.stderr.startswith(f"OK: {wheel}: built by https://github.com/octo/sdk/")

    as_json = _verify(trust_dir, wheel, out, "--json")
    assert as_json.exit_code == 0
    verdict = json.loads(as_json.stdout)
    assert verdict["verified"] is True
    assert verdict["sourceRef"] == "refs/tags/v1.2.3"
    assert all(c["ok"] for c in verdict["checks"])


def test_verify_another_artifact_fails_with_exit_1(
    trust_dir: Path, wheel: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sdk.intoto.jsonl"
    assert _build(trust_dir, wheel, out, env=GITHUB_ENV).exit_code == 0
    other = tmp_path / "other.whl"
    other.write_bytes(b"not the wheel")
    result = _verify(trust_dir, other, out, "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"FAIL: {other}: subject: no subject of the statement matches")
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is False
    assert [c["check"] for c in verdict["checks"] if not c["ok"]] == ["subject"]


def test_local_round_trip_in_a_git_checkout(trust_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "sdk.py").write_text("X = 1\n")
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["commit", "-q", "-m", "init"],
        ["remote", "add", "origin", "git@github.com:octo/sdk.git"],
    ):
        subprocess.run([*git, *args], check=True, capture_output=True)
    wheel = src / "sdk.whl"
    wheel.write_bytes(b"local wheel")
    out = tmp_path / "local.intoto.jsonl"
    built = _build(trust_dir, wheel, out, "--source-dir", str(src), env=_NOT_GITHUB)
    assert built.exit_code == 0, built.stderr
    assert "https://qprov.dev/buildtypes/local/v1" in built.stderr
    policy = tmp_path / "local-policy.toml"
    policy.write_text(
        'version = 1\nbuilder_ids = ["https://qprov.dev/builders/local/v1"]\n'
        'build_types = ["https://qprov.dev/buildtypes/local/v1"]\n'
        'source_repositories = ["https://github.com/octo/sdk"]\nrefs = ["refs/heads/main"]\n'
    )
    result = _verify(trust_dir, wheel, out, "--json", policy=policy)
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["buildType"] == "https://qprov.dev/buildtypes/local/v1"
    assert verdict["sourceRepository"] == "https://github.com/octo/sdk"
    # the GitHub policy refuses it, naming every reason
    refused = _verify(trust_dir, wheel, out)
    assert refused.exit_code == 1
    assert "build-type: buildType 'https://qprov.dev/buildtypes/local/v1' is not allowed" in (
        refused.stderr
    )
    assert "builder: builder id" in refused.stderr
    assert "source-ref: source ref 'refs/heads/main' is not allowed" in refused.stderr


@pytest.mark.parametrize(
    ("extra", "env", "code", "message"),
    [
        (("--sbom", "BAD_SBOM"), GITHUB_ENV, 3, "SBOM is not valid JSON"),
        ((), {**GITHUB_ENV, "GITHUB_SHA": ""}, 4, "missing GITHUB_SHA"),
        (("--key", "file:/nonexistent/key"), GITHUB_ENV, 4, "cannot read private key"),
    ],
)
def test_failed_build_leaves_no_output(
    trust_dir: Path,
    wheel: Path,
    tmp_path: Path,
    extra: tuple[str, ...],
    env: Mapping[str, str | None],
    code: int,
    message: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX",')
    extra = tuple(str(bad) if e == "BAD_SBOM" else e for e in extra)
    out = tmp_path / "sdk.intoto.jsonl"
    result = _build(trust_dir, wheel, out, *extra, env=env)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert list(tmp_path.glob(".sdk.intoto.jsonl*")) == []


def test_malformed_attestation_exits_3(trust_dir: Path, wheel: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "x.intoto.jsonl"
    bundle.write_text("{not json\n")
    result = _verify(trust_dir, wheel, bundle)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"FAIL: {wheel}: attestation line 1:")
    assert result.stdout == ""
