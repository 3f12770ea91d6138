"""The core CLI: sign / verify-envelope round trip, JSON verdicts, exit codes, demo,
and that the fast paths do not import heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qprov.dsse import INTOTO_PAYLOAD_TYPE, parse_envelope
from qprov.statement import Statement, subject_for_bytes

from ._helpers import Invoke, assert_clean_failure, session_key, write_trust

PASSPHRASE = "cli passphrase"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    key = session_key("MLDSA65-Ed25519-SHA512")
    submitter = session_key("MLDSA44-Ed25519-SHA512")
    trust = write_trust(tmp_path, {"release-signer": [key], "submitter": [submitter]})
    key_file = tmp_path / "release.key"
    key_file.write_bytes(key.to_encrypted(PASSPHRASE, scrypt_n=2**14))
    sub_file = tmp_path / "submitter.pem"
    sub_file.write_bytes(submitter.to_unencrypted_pem())
    payload = tmp_path / "artifact.bin"
    payload.write_bytes(b"\x00\x01binary artifact\xff\n")
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    return {"dir": tmp_path, "trust": trust, "key": key_file, "sub": sub_file, "payload": payload}


def _sign(invoke: Invoke, s: dict[str, Path], *extra: str, key: str = "key") -> Path:
    out = s["dir"] / "artifact.dsse.json"
    result = invoke(["sign", str(s["payload"]), "--key", f"file:{s[key]}", "-o", str(out), *extra])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"OK: signed {s['payload']}")
    return out


def test_sign_then_verify_round_trip(invoke: Invoke, setup: dict[str, Path]) -> None:
    env_path = _sign(invoke, setup)
    env = parse_envelope(env_path.read_bytes())
    assert env.payload_type == "application/octet-stream"
    result = invoke(
        [
            "verify-envelope",
            str(env_path),
            "--trust",
            str(setup["trust"]),
            "--role",
            "release-signer",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == setup["payload"].read_bytes()
    keyid = session_key("MLDSA65-Ed25519-SHA512").public_key().keyid
    assert result.stderr == (f"OK: {env_path}: signed by {keyid[:16]} for role release-signer\n")


def test_sign_to_stdout_and_statement_payload_type(invoke: Invoke, setup: dict[str, Path]) -> None:
    statement = Statement(
        (subject_for_bytes("artifact.bin", setup["payload"].read_bytes()),),
        "https://qprov.dev/test/v1",
        {"k": "v"},
    )
    setup["payload"].write_bytes(statement.to_bytes())
    result = invoke(["sign", str(setup["payload"]), "--key", f"file:{setup['key']}"])
    assert result.exit_code == 0, result.stderr
    env = parse_envelope(result.stdout_bytes)
    assert env.payload_type == INTOTO_PAYLOAD_TYPE
    assert env.payload == statement.to_bytes()
    result = invoke(
        [
            "sign",
            str(setup["payload"]),
            "--key",
            f"file:{setup['key']}",
            "--payload-type",
            "application/x.custom",
        ]
    )
    assert parse_envelope(result.stdout_bytes).payload_type == "application/x.custom"


def test_verify_json_verdicts(invoke: Invoke, setup: dict[str, Path]) -> None:
    env_path = _sign(invoke, setup)
    base = ["verify-envelope", str(env_path), "--trust", str(setup["trust"]), "--json"]
    result = invoke([*base, "--role", "release-signer"])
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is True
    assert verdict["file"] == str(env_path)
    assert verdict["role"] == "release-signer"
    assert verdict["keyids"] == [session_key("MLDSA65-Ed25519-SHA512").public_key().keyid]
    assert verdict["payloadType"] == "application/octet-stream"
    assert result.stderr.startswith("OK: ")
    # failure: a JSON verdict on stdout, a FAIL line naming the file on stderr, exit 1
    result = invoke([*base, "--role", "submitter"])
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict == {
        "verified": False,
        "file": str(env_path),
        "error": "TrustError",
        "reason": verdict["reason"],
    }
    assert "trusted for role release-signer, not for submitter" in verdict["reason"]
    assert result.stderr.startswith(f"FAIL: {env_path}: key ")
    assert "Traceback" not in result.stderr


def test_verify_exit_codes(invoke: Invoke, setup: dict[str, Path]) -> None:
    env_path = _sign(invoke, setup, key="sub")
    base = ["verify-envelope", "--trust", str(setup["trust"])]
    # 1: verification / policy failure, naming the file
    result = invoke([*base, str(env_path), "--role", "release-signer"])
    assert_clean_failure(result, 1, match=f"^FAIL: {env_path}: key .* is trusted for role")
    # 1: payloadType required but different
    result = invoke(
        [*base, str(env_path), "--role", "submitter", "--payload-type", INTOTO_PAYLOAD_TYPE]
    )
    assert_clean_failure(result, 1, match="payloadType is 'application/octet-stream'")
    # 3: malformed envelope
    bad = setup["dir"] / "bad.json"
    bad.write_text('{"payload": "AAAA"}')
    result = invoke([*base, str(bad), "--role", "submitter"])
    assert_clean_failure(result, 3, match=f"FAIL: {bad}: DSSE envelope is missing")
    # 3: unknown role (a trust file question, checked before reading the envelope)
    result = invoke([*base, str(env_path), "--role", "owner"])
    assert_clean_failure(result, 3, match="trust file has no role 'owner'")
    # 2: usage errors
    result = invoke([*base, str(env_path)])
    assert result.exit_code == 2
    assert "Missing option '--role'" in result.stderr
    assert result.stdout == ""
    result = invoke([*base, str(setup["dir"] / "absent.json"), "--role", "submitter"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    result = invoke(["no-such-command"])
    assert result.exit_code == 2


def test_sign_checks_inputs_before_writing(invoke: Invoke, setup: dict[str, Path]) -> None:
    out = setup["dir"] / "out.json"
    result = invoke(
        [
            "sign",
            str(setup["payload"]),
            "--key",
            f"file:{setup['key']}",
            "--payload-type",
            "t\u00e9xt",
            "-o",
            str(out),
        ]
    )
    assert_clean_failure(result, 3, match="payloadType must be printable ASCII")
    assert not out.exists()
    result = invoke(["sign", str(setup["payload"]), "--key", "kms:key/1", "-o", str(out)])
    assert_clean_failure(result, 3, match="no signer for URI scheme 'kms'")
    result = invoke(["sign", str(setup["payload"]), "--key", "env:QPROV_UNSET_KEY", "-o", str(out)])
    assert_clean_failure(result, 4, match="QPROV_UNSET_KEY .* is not set")
    assert not out.exists()


def test_sign_with_env_key_option(
    invoke: Invoke, setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # every flag has a QPROV_* variable; click names it after the parameter (key_uri)
    monkeypatch.setenv("QPROV_RELEASE_KEY", setup["key"].read_text())
    monkeypatch.setenv("QPROV_SIGN_KEY", "env:QPROV_RELEASE_KEY")
    result = invoke(["sign", str(setup["payload"])])
    assert result.exit_code == 0, result.stderr
    assert parse_envelope(result.stdout_bytes).payload == setup["payload"].read_bytes()


def test_demo(invoke: Invoke) -> None:
    result = invoke(["demo"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    err = result.stderr
    for title in (
        "payload modified after signing: rejected (SignatureError",
        "classical half stripped from the composite signature: rejected (SignatureError",
        "signed by a submitter key, presented as a release: rejected (TrustError",
        "signed by a revoked key: rejected (TrustError",
        "downgrade: classical-only Ed25519 signature: rejected (PolicyError",
        "payloadType changed: rejected (SignatureError",
    ):
        assert f"OK: {title}" in err, err
    assert "OK: verify the envelope for role release-signer" in err
    assert "unexpectedly" not in err
    assert "FAIL" not in err


def test_help_lists_commands(invoke: Invoke) -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in ("demo", "keys", "sign", "verify-envelope", "plumbing"):
        assert f"  {command} " in result.stdout
    assert "3 malformed input, 4 environment" in " ".join(result.stdout.split())


_NO_HEAVY = """
import sys
from qprov._cli import main
try:
    main({argv!r})
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("qiskit", "qiskit_aer", "scipy", "fastapi", "sigstore")
               if m in sys.modules)
print("EXIT", code, "HEAVY", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["verify-envelope", "--help"]])
def test_fast_paths_do_not_import_heavy_modules(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _NO_HEAVY.format(argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "EXIT 0 HEAVY []" in proc.stderr, proc.stderr
    assert "Usage:" in proc.stdout


_NO_AWS = """
import sys
from qprov._cli import main
try:
    main(["verify-envelope", "--help"])
except SystemExit:
    pass
import securesystemslib.signer  # what every signing or verifying command imports
from securesystemslib.signer import CryptoSigner, SSlibKey
print("LOADED", "botocore" in sys.modules, file=sys.stderr)
"""

_LIBRARY_AWS = """
import importlib.util, sys
import qprov.receipt  # the library, not the CLI: the user's process is left alone
if importlib.util.find_spec("boto3") is not None:
    import boto3
    print("BOTO3", boto3.__name__, file=sys.stderr)
else:
    print("BOTO3 absent", "boto3" in sys.modules, file=sys.stderr)
"""


def test_cli_process_never_loads_the_aws_sdk() -> None:
    # securesystemslib.signer imports boto3 when it is installed (0.25 s); the CLI blocks it.
    # (Where boto3 is not installed, as on a user's clean venv, there is nothing to block.)
    proc = subprocess.run(
        [sys.executable, "-c", _NO_AWS], capture_output=True, text=True, timeout=120, check=False
    )
    assert "LOADED False" in proc.stderr, proc.stderr


def test_library_import_leaves_the_aws_sdk_importable() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _LIBRARY_AWS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BOTO3 boto3" in proc.stderr or "BOTO3 absent False" in proc.stderr, proc.stderr
