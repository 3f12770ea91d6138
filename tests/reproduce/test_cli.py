"""``qprov reproduce`` and ``qprov baseline create`` through CliRunner (stdout, stderr apart)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli

from ._world import World, bell_sample


def qprov(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix="QPROV")


def write(d: Path, name: str, data: bytes) -> str:
    (d / name).write_bytes(data)
    return str(d / name)


def base_args(world: World, bundle: bytes, result: bytes, tmp: Path) -> list[str]:
    return [
        "reproduce",
        "--receipt", write(tmp, "receipt.json", bundle),
        "--circuit", str(world.dir / "bell.qasm"),
        "--result", write(tmp, "result.json", result),
        "--trust", str(world.dir / "trust.toml"),
    ]  # fmt: skip


def test_reproduced_exit_0_status_on_stderr_json_on_stdout(world: World, tmp_path: Path) -> None:
    res = qprov(*base_args(world, world.bundle.to_json(), world.result, tmp_path), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["verdict"] == "reproduced"
    assert "OK: " in res.stderr
    assert "reproduced" in res.stderr
    plain = qprov(*base_args(world, world.bundle.to_json(), world.result, tmp_path))
    assert plain.exit_code == 0
    assert plain.stdout == ""


def test_mismatch_exit_1_with_html_report(world: World, tmp_path: Path) -> None:
    changed = world.shifted_counts()
    bundle, result = world.resign(changed)
    report = tmp_path / "report.html"
    res = qprov(*base_args(world, bundle, result, tmp_path), "--report", str(report))
    assert res.exit_code == 1
    assert "FAIL: " in res.stderr
    assert f"recorded {changed['00']}" in res.stderr
    assert res.stdout == ""
    page = report.read_text()
    assert "mismatch" in page
    assert "<svg" in page


def test_inconsistent_hardware_exit_1(world: World, tmp_path: Path) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=2, flip=0.05))
    res = qprov(*base_args(world, bundle, result, tmp_path), "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["verdict"] == "inconsistent"
    assert "G test" in doc["decided_by"]
    assert doc["test"]["power"] == 1.0


def test_inconclusive_fails_unless_allowed(world: World, tmp_path: Path) -> None:
    bundle, result = world.hardware(bell_sample(20, seed=3))
    res = qprov(*base_args(world, bundle, result, tmp_path))
    assert res.exit_code == 1
    assert "FAIL: " in res.stderr
    assert "inconclusive" in res.stderr
    res = qprov(*base_args(world, bundle, result, tmp_path), "--allow-inconclusive")
    assert res.exit_code == 0
    assert "WARN: " in res.stderr


def test_malformed_counts_exit_3_and_no_report(world: World, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    args = base_args(world, world.bundle.to_json(), b'{"00":-1,"11":1001}', tmp_path)
    res = qprov(*args, "--json", "--report", str(report))
    assert res.exit_code == 3
    assert "negative" in res.stderr
    assert res.stdout == ""
    assert not report.exists()
    assert not list(tmp_path.glob(".report.html*"))


def test_untrusted_baseline_exit_1_and_no_report(world: World, tmp_path: Path) -> None:
    baseline = write(tmp_path, "baseline.json", world.baseline(signer="gateway").to_json())
    report = tmp_path / "report.html"
    args = base_args(world, world.bundle.to_json(), world.result, tmp_path)
    res = qprov(*args, "--baseline", baseline, "--report", str(report))
    assert res.exit_code == 1
    assert "baseline-authority" in res.stderr
    assert not report.exists()


def test_baseline_without_trust_is_a_usage_error(world: World, tmp_path: Path) -> None:
    args = base_args(world, world.bundle.to_json(), world.result, tmp_path)[:-2]
    res = qprov(*args, "--baseline", str(world.dir / "bell.qasm"))
    assert res.exit_code == 2
    assert "--baseline needs --trust" in res.stderr


def test_gpu_refused_exit_4(world: World, tmp_path: Path) -> None:
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine has Aer's GPU build")
    args = base_args(world, world.bundle.to_json(), world.result, tmp_path)
    res = qprov(*args, "--device", "GPU")
    assert res.exit_code == 4
    assert "'GPU' is not available here" in res.stderr


def test_baseline_create_then_reproduce(world: World, tmp_path: Path) -> None:
    out = tmp_path / "bell.baseline.json"
    res = qprov(
        "baseline", "create", str(world.dir / "bell.qasm"),
        "--key", f"file:{world.dir / 'baseline.key'}", "-o", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert "OK: " in res.stderr
    assert "exact probabilities" in res.stderr
    bundle, result = world.hardware(bell_sample(4000, seed=9))
    args = base_args(world, bundle, result, tmp_path)
    res = qprov(*args, "--baseline", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    assert "signed baseline" in json.loads(res.stdout)["decided_by"]


def test_baseline_create_refuses_a_circuit_without_measurements(
    world: World, tmp_path: Path
) -> None:
    circuit = write(
        tmp_path,
        "nomeas.qasm",
        b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\n',
    )
    out = tmp_path / "b.json"
    res = qprov(
        "baseline", "create", circuit, "--key", f"file:{world.dir / 'baseline.key'}",
        "-o", str(out),
    )  # fmt: skip
    assert res.exit_code == 3
    assert "no measurements" in res.stderr
    assert not out.exists()


def test_exact_replay_process_does_not_import_the_statistics(world: World, tmp_path: Path) -> None:
    # The statistical tests (and scipy's use in them) are imported on first use: a new
    # `qprov reproduce` process that decides by exact replay never loads them.
    import subprocess
    import sys

    args = base_args(world, world.bundle.to_json(), world.result, tmp_path)
    code = (
        "import sys\nfrom qprov._cli import main\ntry:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    loaded = [m for m in ('qprov.repro._stats', 'qprov.repro._reference') "
        "if m in sys.modules]\n"
        "    print('EXIT', exc.code, 'LOADED', loaded, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert "EXIT 0 LOADED []" in proc.stderr, proc.stderr
    assert "reproduced" in proc.stderr
