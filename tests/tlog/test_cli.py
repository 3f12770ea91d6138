"""``qprov log`` through CliRunner: stdout carries data, stderr status, exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qprov._cli import cli


def _run(runner: CliRunner, store: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["log", "--store", store, *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    store = f"sqlite:///{tmp_path}/log.sqlite"
    keys, vkeys = tmp_path / "log.key", tmp_path / "log.vkeys"
    code, out, err = _run(
        runner, store, "keygen", "cli.test/log", "--key-file", str(keys), "-o", str(vkeys)
    )
    assert code == 0
    assert out == ""
    assert err.startswith("OK:")
    assert len(vkeys.read_text().splitlines()) == 2
    assert keys.stat().st_mode & 0o077 == 0
    code, _, err = _run(runner, store, "keygen", "x", "--key-file", str(keys))
    assert code == 4
    assert "refusing to overwrite" in err

    entry = tmp_path / "entry.txt"
    entry.write_bytes(b"hello log")
    code, out, err = _run(runner, store, "append", str(entry))
    assert (code, out) == (0, "0\n")
    assert err.startswith("OK:")
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"a\nb\nc\n")
    code, out, _ = _run(runner, store, "append", "--lines", str(lines))
    assert out == "1\n2\n3\n"

    cp1 = tmp_path / "cp1"
    code, _, err = _run(runner, store, "checkpoint", "--key-file", str(keys), "-o", str(cp1))
    assert code == 0
    assert "size 4" in err
    bundle = tmp_path / "entry.tlog-proof"
    code, out, _ = _run(runner, store, "prove", "--entry", str(entry), "-o", str(bundle))
    assert code == 0
    assert out == ""
    assert bundle.read_bytes().startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n")

    v = ["verify", "--vkeys", str(vkeys), "--entry", str(entry), "--bundle", str(bundle)]
    code, out, err = _run(runner, store, *v, "--json")
    assert code == 0
    assert '"ok": true' in out
    assert err.startswith("OK: entry 0 is in log")
    entry.write_bytes(b"hello lag")
    code, out, err = _run(runner, store, *v)
    assert code == 1
    assert out == ""
    assert err.startswith("FAIL:")
    assert "not proven included" in err
    bundle.write_bytes(b"garbage")
    code, _, err = _run(runner, store, *v)
    assert code == 3
    assert "FAIL:" in err

    state = tmp_path / "monitor.json"
    mon = ["monitor", "--vkeys", str(vkeys), "--state", str(state)]
    assert _run(runner, store, *mon, str(cp1))[0] == 0
    _run(runner, store, "append", str(lines))
    cp2 = tmp_path / "cp2"
    _run(runner, store, "checkpoint", "--key-file", str(keys), "-o", str(cp2))
    code, _, err = _run(runner, store, *mon, str(cp2))
    assert code == 0
    assert "size 5" in err
    code, _, err = _run(runner, store, *mon, str(cp1))
    assert code == 1
    assert "ROLLBACK" in err

    proof = tmp_path / "proof"
    code, out, _ = _run(runner, store, "prove", "--consistency", "4", "-o", str(proof))
    assert code == 0
    c = ["verify", "--vkeys", str(vkeys), "--old", str(cp1), "--new", str(cp2)]
    assert _run(runner, store, *c, "--proof", str(proof))[0] == 0
    code, _, err = _run(runner, store, *c)
    assert code == 1
    assert "consistency proof is empty" in err

    code, _, err = _run(runner, store, "tiles", str(tmp_path / "www"))
    assert code == 0
    assert "size 5" in err
    assert (tmp_path / "www" / "checkpoint").read_bytes() == cp2.read_bytes()
    assert (tmp_path / "www" / "tile" / "0" / "000.p" / "5").stat().st_size == 5 * 32

    code, _, _ = _run(runner, store, "prove")
    assert code == 2
