"""``qprov gateway admit`` through click's CliRunner: exit codes, stdout vs stderr."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli
from qprov.dsse import parse_envelope
from qprov.manifest import parse_bundle
from qprov.statement import verify_statement

from ._env import BELL, GHZ3, Env


def qprov(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix="QPROV")


@pytest.fixture
def setup(env: Env) -> tuple[Env, list[str]]:
    """A bundle valid now (the CLI reads the clock) and the common arguments."""
    from datetime import UTC, datetime

    d = env.dir
    (d / "bell.qasm").write_bytes(BELL)
    (d / "ghz.qasm").write_bytes(GHZ3)
    (d / "bundle.json").write_bytes(env.bundle(now=datetime.now(UTC)).to_json())
    common = [
        "--trust",
        str(d / "trust.toml"),
        "--policy",
        str(d / "policy.toml"),
        "--store",
        f"sqlite:///{d / 'store.db'}",
    ]
    return env, common


def test_admitted_then_replay_refused(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    bundle = str(env.dir / "bundle.json")
    ok = qprov("gateway", "admit", bundle, "--circuit", str(env.dir / "bell.qasm"), *common)
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout == ""
    assert ok.stderr.startswith(f"OK: {bundle}: admitted")
    again = qprov("gateway", "admit", bundle, "--circuit", str(env.dir / "bell.qasm"), *common)
    assert again.exit_code == 1
    assert again.stdout == ""
    nonce = parse_bundle((env.dir / "bundle.json").read_bytes()).parsed.manifest.nonce
    assert again.stderr.splitlines() == [
        f"FAIL: {bundle}: replay: nonce {nonce} was already admitted (replay)"
    ]


def test_refused_with_every_reason_and_json(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    bundle = str(env.dir / "bundle.json")
    result = qprov(
        "gateway", "admit", bundle, "--circuit", str(env.dir / "ghz.qasm"), "--json", *common
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "refused"
    failed = [c["name"] for c in doc["checks"] if not c["ok"] and not c.get("skipped")]
    assert failed == ["circuit-digest"]
    assert result.stderr.startswith(f"FAIL: {bundle}: circuit-digest: the manifest is for")


def test_signed_decision_to_a_file(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    out = env.dir / "decision.json"
    result = qprov(
        "gateway",
        "admit",
        str(env.dir / "bundle.json"),
        "--circuit",
        str(env.dir / "bell.qasm"),
        "--key",
        str(env.dir / "gateway.key"),
        "-o",
        str(out),
        *common,
    )
    assert result.exit_code == 0, result.stderr
    verified = verify_statement(parse_envelope(out.read_bytes()), env.trust, "gateway")
    assert verified.statement.predicate["verdict"] == "admitted"


def test_malformed_bundle_exit_3(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    (env.dir / "bad.json").write_text('{"mediaType": "x"')
    result = qprov(
        "gateway",
        "admit",
        str(env.dir / "bad.json"),
        "--circuit",
        str(env.dir / "bell.qasm"),
        *common,
    )
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"FAIL: {env.dir / 'bad.json'}: manifest bundle")


def test_bad_policy_exit_3(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    (env.dir / "policy.toml").write_text(
        (env.dir / "policy.toml").read_text().replace('"h", "cx", "x", "rz", "sx"', "")
    )
    result = qprov(
        "gateway",
        "admit",
        str(env.dir / "bundle.json"),
        "--circuit",
        str(env.dir / "bell.qasm"),
        *common,
    )
    assert result.exit_code == 3
    assert "allowed_gates is empty" in result.stderr


def test_unreachable_store_exit_4(setup: tuple[Env, list[str]]) -> None:
    env, common = setup
    common[-1] = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = qprov(
        "gateway",
        "admit",
        str(env.dir / "bundle.json"),
        "--circuit",
        str(env.dir / "bell.qasm"),
        *common,
    )
    assert result.exit_code == 4
    assert "unreachable" in result.stderr
