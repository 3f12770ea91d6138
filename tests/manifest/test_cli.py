"""``qprov manifest`` and ``qprov grant`` through click's CliRunner (stdout/stderr apart)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from admission._env import BELL, WHEEL, WHEEL_NAME, Env, sdk_attestation
from click.testing import CliRunner, Result

from qprov._cli import cli
from qprov.grant import parse_grant, parse_revocations
from qprov.manifest import parse_bundle


def qprov(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix="QPROV")


@pytest.fixture
def files(env: Env) -> Path:
    d = env.dir
    (d / "bell.qasm").write_bytes(BELL)
    (d / WHEEL_NAME).write_bytes(WHEEL)
    (d / "sdk.intoto.jsonl").write_bytes(sdk_attestation(env.keys))
    return d


def test_manifest_create_with_sdk(files: Path, env: Env) -> None:
    out = files / "bundle.json"
    result = qprov(
        "manifest",
        "create",
        str(files / "bell.qasm"),
        "--backend",
        "aer",
        "--shots",
        "100",
        "--experiment",
        "exp-1",
        "--purpose",
        "demo",
        "--owner",
        "alice",
        "--option",
        "seed=7",
        "--option",
        "optimize=true",
        "--sdk-wheel",
        str(files / WHEEL_NAME),
        "--sdk-attestation",
        str(files / "sdk.intoto.jsonl"),
        "--lifetime",
        "600",
        "--key",
        f"file:{files / 'submitter.key'}",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("OK: manifest for ")
    m = parse_bundle(out.read_bytes()).parsed.manifest
    assert (m.backend, m.shots, m.experiment, m.purpose, m.owner) == (
        "aer",
        100,
        "exp-1",
        "demo",
        "alice",
    )
    assert m.options == {"seed": 7, "optimize": True}
    assert m.sdk is not None
    assert m.sdk.attestation_sha256 is not None
    assert (m.expires_at - m.issued_at).total_seconds() == 600


def test_manifest_create_to_stdout_and_show(files: Path) -> None:
    result = qprov(
        "manifest",
        "create",
        str(files / "bell.qasm"),
        "--backend",
        "aer",
        "--shots",
        "10",
        "--experiment",
        "e",
        "--key",
        str(files / "submitter.key"),
        "-o",
        "-",
    )
    assert result.exit_code == 0, result.stderr
    (files / "b.json").write_text(result.stdout)
    shown = qprov("manifest", "show", str(files / "b.json"))
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["predicate"]["shots"] == 10


def test_manifest_create_unparseable_circuit_writes_nothing(files: Path) -> None:
    (files / "bad.qasm").write_bytes(b"OPENQASM 2.0;\nqreg q[1];\nnope q[0];\n")
    out = files / "bundle.json"
    result = qprov(
        "manifest",
        "create",
        str(files / "bad.qasm"),
        "--backend",
        "aer",
        "--shots",
        "10",
        "--experiment",
        "e",
        "--key",
        str(files / "submitter.key"),
        "-o",
        str(out),
    )
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "FAIL: unparseable OpenQASM 2" in result.stderr
    assert not out.exists()
    assert not list(files.glob(".bundle.json.*"))


def test_manifest_create_attestation_for_another_wheel(files: Path, env: Env) -> None:
    (files / "other.intoto.jsonl").write_bytes(sdk_attestation(env.keys, b"other"))
    result = qprov(
        "manifest",
        "create",
        str(files / "bell.qasm"),
        "--backend",
        "aer",
        "--shots",
        "10",
        "--experiment",
        "e",
        "--sdk-wheel",
        str(files / WHEEL_NAME),
        "--sdk-attestation",
        str(files / "other.intoto.jsonl"),
        "--key",
        str(files / "submitter.key"),
        "-o",
        str(files / "o.json"),
    )
    assert result.exit_code == 3
    assert "does not name" in result.stderr
    assert not (files / "o.json").exists()


def test_manifest_bad_option_is_a_usage_error(files: Path) -> None:
    result = qprov(
        "manifest",
        "create",
        str(files / "bell.qasm"),
        "--backend",
        "aer",
        "--shots",
        "10",
        "--experiment",
        "e",
        "--option",
        "novalue",
        "--key",
        str(files / "submitter.key"),
        "-o",
        str(files / "o.json"),
    )
    assert result.exit_code == 2
    assert not (files / "o.json").exists()


def test_manifest_approve(files: Path, env: Env) -> None:
    (files / "b.json").write_bytes(env.bundle().to_json())
    result = qprov(
        "manifest",
        "approve",
        str(files / "b.json"),
        "--key",
        str(files / "approver.key"),
        "-o",
        str(files / "approved.json"),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("OK: approved aer, 1000 shots")
    assert len(parse_bundle((files / "approved.json").read_bytes()).manifest.signatures) == 2


def test_grant_create_use_and_revoke(files: Path, env: Env) -> None:
    grant_file = files / "grant.json"
    result = qprov(
        "grant",
        "create",
        "--agent-key",
        str(files / "agent.pub"),
        "--backend",
        "aer",
        "--max-shots",
        "100",
        "--max-total-shots",
        "1000",
        "--gates",
        "h,cx",
        "--gates",
        "x",
        "--experiment",
        "exp-1",
        "--expires",
        "+3600",
        "--key",
        str(files / "owner.key"),
        "-o",
        str(grant_file),
    )
    assert result.exit_code == 0, result.stderr
    grant = parse_grant(grant_file.read_bytes()).grant
    assert grant.scope.gates == ("h", "cx", "x")
    assert grant.agent_keyid == env.keys.agent.public_key().keyid
    result = qprov(
        "manifest",
        "create",
        str(files / "bell.qasm"),
        "--backend",
        "aer",
        "--shots",
        "100",
        "--experiment",
        "exp-1",
        "--grant",
        str(grant_file),
        "--key",
        str(files / "agent.key"),
        "-o",
        str(files / "b.json"),
    )
    assert result.exit_code == 0, result.stderr
    # revoke by the grant file or by the bundle holding it: the same digest
    for source in ("grant.json", "b.json"):
        result = qprov(
            "grant",
            "revoke",
            str(files / source),
            "--reason",
            "done",
            "--key",
            str(files / "owner.key"),
            "-o",
            str(files / "rev.jsonl"),
        )
        assert result.exit_code == 0, result.stderr
        (env_rev,) = parse_revocations((files / "rev.jsonl").read_bytes())
        assert parse_grant(grant_file.read_bytes()).digest in result.stderr
        assert env_rev.signatures[0].keyid == env.keys.owner.public_key().keyid


def test_grant_create_rejects_a_private_key_as_agent_key(files: Path) -> None:
    result = qprov(
        "grant",
        "create",
        "--agent-key",
        str(files / "agent.key"),
        "--backend",
        "aer",
        "--max-shots",
        "1",
        "--max-total-shots",
        "1",
        "--gates",
        "h",
        "--experiment",
        "e",
        "--expires",
        "+60",
        "--key",
        str(files / "owner.key"),
        "-o",
        str(files / "g.json"),
    )
    assert result.exit_code == 3
    assert "private key" in result.stderr
    assert not (files / "g.json").exists()
