"""Issue 2's bad-input list: each a clear error, the right exit code, nothing written.

Every CLI case runs with ``-o OUT`` and checks that OUT does not exist afterwards,
that stdout is empty, and that stderr holds one FAIL line and no traceback.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from qprov._canon import MAX_DEPTH, loads_strict
from qprov.dsse import MAX_ENVELOPE_BYTES, parse_envelope, sign_envelope, verify_envelope
from qprov.errors import KeyDecryptionError, MalformedInputError, SignatureError
from qprov.keys import CompositeSigner, load_private_key
from qprov.trust import load_trust

from ._helpers import Invoke, assert_clean_failure, session_key, write_trust

PASSPHRASE = "bad input passphrase"
PAYLOAD = b'{"artifact": "qsdk-1.0.whl", "note": "release"}'
N65 = 3309  # ML-DSA-65 signature size


@dataclass
class Workspace:
    dir: Path
    trust: Path
    key_file: Path
    envelope: dict[str, object]
    other_envelope: dict[str, object]  # same key, another payload

    def write(self, name: str, doc: object | bytes) -> Path:
        path = self.dir / name
        path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        return path

    @property
    def out(self) -> Path:
        return self.dir / "out.bin"

    def with_sig(self, sig: bytes) -> dict[str, object]:
        doc = json.loads(json.dumps(self.envelope))
        doc["signatures"][0]["sig"] = base64.b64encode(sig).decode()
        return doc  # type: ignore[no-any-return]

    def sig(self, doc: dict[str, object] | None = None) -> bytes:
        env = doc or self.envelope
        return base64.b64decode(env["signatures"][0]["sig"])  # type: ignore[index]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    key = session_key("MLDSA65-Ed25519-SHA512")
    trust = write_trust(tmp_path, {"release-signer": [key]})
    key_file = tmp_path / "release.key"
    key_file.write_bytes(key.to_encrypted(PASSPHRASE, scrypt_n=2**14))
    signer = CompositeSigner(key)
    env = json.loads(sign_envelope(PAYLOAD, "application/json", [signer]).to_json())
    other = json.loads(sign_envelope(b"another payload", "application/json", [signer]).to_json())
    return Workspace(tmp_path, trust, key_file, env, other)


def _verify(invoke: Invoke, ws: Workspace, envelope: Path) -> Result:
    return invoke(
        [
            "verify-envelope",
            str(envelope),
            "--trust",
            str(ws.trust),
            "--role",
            "release-signer",
            "-o",
            str(ws.out),
        ]
    )


def _check_verify_fails(
    invoke: Invoke, ws: Workspace, doc: object | bytes, code: int, reason: str
) -> None:
    path = ws.write("envelope.json", doc)
    result = _verify(invoke, ws, path)
    assert_clean_failure(result, code, match=reason)
    assert f"FAIL: {path}: " in result.stderr
    assert not ws.out.exists()
    # and the library raises the matching error
    with pytest.raises(SignatureError if code == 1 else MalformedInputError, match=reason):
        verify_envelope(path.read_bytes(), load_trust(ws.trust), "release-signer")


def test_the_untouched_envelope_verifies(invoke: Invoke, ws: Workspace) -> None:
    result = _verify(invoke, ws, ws.write("envelope.json", ws.envelope))
    assert result.exit_code == 0, result.stderr
    assert ws.out.read_bytes() == PAYLOAD


def test_truncated_signature(invoke: Invoke, ws: Workspace) -> None:
    doc = ws.with_sig(ws.sig()[:-1])
    _check_verify_fails(invoke, ws, doc, 1, "Ed25519 half of the signature must be 64 bytes")


def test_signature_of_wrong_length_for_algorithm(invoke: Invoke, ws: Workspace) -> None:
    # an MLDSA44-Ed25519 signature (2484 bytes) presented for the MLDSA65-Ed25519 key
    other = CompositeSigner(session_key("MLDSA44-Ed25519-SHA512")).sign(b"x")
    doc = ws.with_sig(bytes.fromhex(other.signature))
    _check_verify_fails(invoke, ws, doc, 1, "2484 bytes, shorter than its ML-DSA-65 half")


def test_mldsa_half_stripped(invoke: Invoke, ws: Workspace) -> None:
    doc = ws.with_sig(ws.sig()[N65:])
    _check_verify_fails(invoke, ws, doc, 1, "the ML-DSA half is missing")


def test_classical_half_stripped(invoke: Invoke, ws: Workspace) -> None:
    doc = ws.with_sig(ws.sig()[:N65])
    _check_verify_fails(invoke, ws, doc, 1, "the traditional half is missing")


def test_halves_swapped_between_two_signatures(invoke: Invoke, ws: Workspace) -> None:
    doc = ws.with_sig(ws.sig()[:N65] + ws.sig(ws.other_envelope)[N65:])
    _check_verify_fails(invoke, ws, doc, 1, "the Ed25519 half does not verify")


def test_key_of_another_algorithm(invoke: Invoke, ws: Workspace) -> None:
    # signed by an Ed448 composite key that claims the trusted key's id
    other = session_key("MLDSA87-Ed448-SHAKE256")
    sig = CompositeSigner(other).sign(b"irrelevant")
    doc = ws.with_sig(bytes.fromhex(sig.signature))
    _check_verify_fails(invoke, ws, doc, 1, "Ed25519 half of the signature must be 64 bytes")
    # signing with a key file of a foreign algorithm (classical Ed25519 PKCS #8)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
    foreign = ws.dir / "ed25519.pem"
    foreign.write_bytes(
        ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    payload = ws.write("payload.txt", b"data")
    result = invoke(["sign", str(payload), "--key", f"file:{foreign}", "-o", str(ws.out)])
    assert_clean_failure(result, 3, match="not a composite ML-DSA or ML-DSA")
    assert not ws.out.exists()


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_garbage_base64(invoke: Invoke, ws: Workspace, field: str) -> None:
    doc = json.loads(json.dumps(ws.envelope))
    if field == "payload":
        doc["payload"] = "%%% not base64 %%%"
        reason = "DSSE payload is not valid base64"
    else:
        doc["signatures"][0]["sig"] = "AAAA====AAAA"
        reason = "DSSE signature 0 is not valid base64"
    _check_verify_fails(invoke, ws, doc, 3, reason)


def test_payload_modified_after_signing(invoke: Invoke, ws: Workspace) -> None:
    doc = dict(ws.envelope, payload=base64.b64encode(PAYLOAD.replace(b"1.0", b"6.6")).decode())
    _check_verify_fails(invoke, ws, doc, 1, r"both halves \(ML-DSA-65 and Ed25519\) do not verify")


def test_payload_type_changed(invoke: Invoke, ws: Workspace) -> None:
    doc = dict(ws.envelope, payloadType="application/vnd.in-toto+json")
    _check_verify_fails(invoke, ws, doc, 1, r"both halves \(ML-DSA-65 and Ed25519\) do not verify")


def test_json_with_duplicate_keys(invoke: Invoke, ws: Workspace) -> None:
    text = json.dumps(ws.envelope)
    forged = base64.b64encode(b"forged").decode()
    dup = text[:-1] + f', "payload": "{forged}"}}'
    _check_verify_fails(invoke, ws, dup.encode(), 3, "duplicate key 'payload'")


def test_deeply_nested_json(invoke: Invoke, ws: Workspace) -> None:
    depth = MAX_DEPTH + 1
    doc = dict(ws.envelope, extra=json.loads("[" * depth + "]" * depth))
    _check_verify_fails(invoke, ws, doc, 3, f"nested deeper than {MAX_DEPTH} levels")
    # far deeper than Python's recursion limit: still a clean error
    deep = b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(MalformedInputError, match="nested deeper"):
        parse_envelope(deep)
    # brackets inside strings do not count
    assert loads_strict('["' + "[" * 500 + '"]') == ["[" * 500]


def test_envelope_over_the_size_limit(invoke: Invoke, ws: Workspace) -> None:
    text = json.dumps(ws.envelope).encode()
    big = text[:-1] + b', "padding": "' + b"A" * (MAX_ENVELOPE_BYTES - len(text)) + b'"}'
    assert len(big) > MAX_ENVELOPE_BYTES
    path = ws.write("envelope.json", big)
    result = _verify(invoke, ws, path)
    assert_clean_failure(result, 3, match=f"over the limit of {MAX_ENVELOPE_BYTES}")
    assert not ws.out.exists()


def test_non_utf8_file(invoke: Invoke, ws: Workspace) -> None:
    bad = json.dumps(ws.envelope).encode().replace(b'"payloadType"', b'"payload\xffType"')
    _check_verify_fails(invoke, ws, bad, 3, "is not valid UTF-8")
    # a non-UTF-8 trust file
    ws.trust.write_bytes(ws.trust.read_bytes() + b"\n# caf\xe9\n")
    result = _verify(invoke, ws, ws.write("good.json", ws.envelope))
    assert_clean_failure(result, 3, match="trust file is not valid UTF-8")
    assert not ws.out.exists()


def test_wrong_passphrase(invoke: Invoke, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = ws.write("payload.json", PAYLOAD)
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", "not the passphrase")
    result = invoke(["sign", str(payload), "--key", f"file:{ws.key_file}", "-o", str(ws.out)])
    assert_clean_failure(result, 3, match="wrong passphrase or corrupted file")
    assert not ws.out.exists()
    with pytest.raises(KeyDecryptionError, match="wrong passphrase"):
        load_private_key(ws.key_file.read_bytes(), "not the passphrase")


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_key_file(
    invoke: Invoke, ws: Workspace, monkeypatch: pytest.MonkeyPatch, keep: float
) -> None:
    data = ws.key_file.read_bytes()
    ws.key_file.write_bytes(data[: int(len(data) * keep)])
    payload = ws.write("payload.json", PAYLOAD)
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    result = invoke(["sign", str(payload), "--key", f"file:{ws.key_file}", "-o", str(ws.out)])
    assert_clean_failure(result, 3, match="encrypted private key is not valid JSON")
    assert not ws.out.exists()
    assert sorted(p.name for p in ws.dir.iterdir() if p.name.startswith(".")) == []


def test_truncated_key_file_body(
    invoke: Invoke, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # valid JSON, ciphertext cut short: authenticated decryption fails
    doc = json.loads(ws.key_file.read_bytes())
    doc["ciphertext"] = doc["ciphertext"][:-8]
    ws.key_file.write_text(json.dumps(doc))
    payload = ws.write("payload.json", PAYLOAD)
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    result = invoke(["sign", str(payload), "--key", f"file:{ws.key_file}", "-o", str(ws.out)])
    assert_clean_failure(result, 3, match="cannot decrypt the private key")
    assert not ws.out.exists()


def test_failure_with_verbose_may_show_details(invoke: Invoke, ws: Workspace) -> None:
    # without -v: one line, no traceback (checked everywhere above); with -v the
    # same exit code, so scripts do not depend on verbosity
    doc = ws.with_sig(ws.sig()[:N65])
    path = ws.write("envelope.json", doc)
    result = invoke(
        [
            "-v",
            "verify-envelope",
            str(path),
            "--trust",
            str(ws.trust),
            "--role",
            "release-signer",
            "-o",
            str(ws.out),
        ]
    )
    assert result.exit_code == 1
    assert "the traditional half is missing" in result.stderr
    assert not ws.out.exists()
