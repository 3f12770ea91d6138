"""``qprov job run`` and ``qprov verify chain`` through CliRunner (stdout and stderr apart)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from admission._env import BELL, GHZ3
from chain._chain_env import ChainEnv
from click.testing import CliRunner, Result

from qprov._cli import cli


def qprov(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix="QPROV", env=env)


@pytest.fixture
def files(cenv: ChainEnv) -> Path:
    d = cenv.dir
    (d / "bell.qasm").write_bytes(BELL)
    # the CLI runs on the wall clock
    (d / "bell.manifest.json").write_bytes(cenv.env.bundle(now=datetime.now(UTC)).to_json())
    (d / "log.skey").write_text("".join(s.to_skey() + "\n" for s in cenv.signers))
    return d


def run_job(d: Path, *extra: str) -> Result:
    return qprov(
        "job", "run", str(d / "bell.manifest.json"),
        "--circuit", str(d / "bell.qasm"),
        "--trust", str(d / "trust.toml"),
        "--policy", str(d / "policy.toml"),
        "--key", f"file:{d / 'gateway.key'}",
        "--log-key", str(d / "log.skey"),
        "--state-dir", str(d / "state"),
        "--backend-name", "aer",
        "-o", str(d / "receipt.json"),
        "--result-out", str(d / "counts.json"),
        *extra,
    )  # fmt: skip


def verify(d: Path, *extra: str) -> Result:
    return qprov(
        "verify", "chain",
        "--receipt", str(d / "receipt.json"),
        "--manifest", str(d / "bell.manifest.json"),
        "--circuit", str(d / "bell.qasm"),
        "--result", str(d / "counts.json"),
        "--trust", str(d / "trust.toml"),
        *extra,
    )  # fmt: skip


def test_job_run_then_verify_chain(files: Path) -> None:
    ran = run_job(files)
    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout == ""
    assert ran.stderr.startswith("OK: ")
    assert "receipt at 1" in ran.stderr
    assert json.loads((files / "counts.json").read_bytes()).keys() <= {"00", "11"}

    checked = verify(files)
    assert checked.exit_code == 0, checked.stderr
    assert checked.stdout == ""
    rows = checked.stderr.splitlines()
    assert rows[0].startswith("OK    receipt-signature")
    assert any(r.startswith("SKIP  sdk") for r in rows)
    assert rows[-1].startswith("OK: ")
    assert "every link of the chain holds" in rows[-1]

    as_json = verify(files, "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["verified"] is True


def test_refused_job_writes_nothing(files: Path) -> None:
    assert run_job(files).exit_code == 0
    (files / "receipt.json").unlink()
    (files / "counts.json").unlink()
    again = run_job(files)  # the same manifest: a replay
    assert again.exit_code == 1
    assert again.stdout == ""
    assert "FAIL: " in again.stderr
    assert ": replay: nonce" in again.stderr
    assert "refused; the decision is logged at index 2" in again.stderr
    assert not (files / "receipt.json").exists()
    assert not (files / "counts.json").exists()


def test_verify_chain_fails_naming_the_link(files: Path) -> None:
    assert run_job(files).exit_code == 0
    counts = json.loads((files / "counts.json").read_bytes())
    key = next(iter(counts))
    counts[key] += 0
    (files / "counts.json").write_text(json.dumps(counts))  # same counts, not canonical
    res = verify(files, "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["verified"] is False
    assert any(r.startswith("FAIL  result") for r in res.stderr.splitlines())
    assert res.stderr.splitlines()[-1].endswith("1 link(s) failed: result")


def test_verify_chain_malformed_and_usage(files: Path) -> None:
    assert run_job(files).exit_code == 0
    (files / "circuit2.qasm").write_bytes(GHZ3)
    trust = (files / "trust.toml").read_text().split("\n[log]")[0]
    (files / "nolog.toml").write_text(trust)
    res = verify(files, "--trust", str(files / "nolog.toml"))
    assert res.exit_code == 3
    assert res.stdout == ""
    assert "no [log] table" in res.stderr
    (files / "bad.json").write_text("{}")
    res = verify(files, "--receipt", str(files / "bad.json"))
    assert res.exit_code == 3
    assert "receipt bundle" in res.stderr
    res = verify(files, "--consistency-proof", str(files / "bad.json"))
    assert res.exit_code == 2


def test_job_run_checks_inputs_before_the_state(files: Path) -> None:
    (files / "log.skey").write_text("not a key\n")
    res = run_job(files)
    assert res.exit_code == 3
    assert not (files / "state").exists()
    assert not (files / "receipt.json").exists()
