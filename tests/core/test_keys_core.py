"""Keys: generation, encodings, encrypted files, signer URIs, ``qprov keys generate/show``."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import Key

from qprov.errors import (
    EnvironmentProblemError,
    KeyDecryptionError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from qprov.keys import (
    CompositeKey,
    CompositeSigner,
    PrivateKey,
    PublicKey,
    generate_private_key,
    get_algorithm,
    load_private_key,
    load_public_key,
    load_signer,
)

from ._helpers import (
    EXPECTED_OIDS,
    REQUIRED_ALGORITHMS,
    Invoke,
    assert_clean_failure,
    session_key,
)

PASSPHRASE = "correct horse battery staple"
FAST_N = 2**14  # the smallest scrypt cost qprov accepts: keeps the suite quick


def _der_oid(der: bytes) -> str:
    """The OID of a SubjectPublicKeyInfo / PKCS #8 AlgorithmIdentifier, parsed independently."""

    def read(data: bytes, pos: int) -> tuple[int, bytes, int]:
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first & 0x80:
            n = first & 0x7F
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        else:
            length = first
        return tag, data[pos : pos + length], pos + length

    tag, seq, _ = read(der, 0)
    assert tag == 0x30
    tag, first, pos = read(seq, 0)
    if tag == 0x02:  # PKCS #8 version
        tag, first, _ = read(seq, pos)
    assert tag == 0x30  # AlgorithmIdentifier
    tag, oid, end = read(first, 0)
    assert tag == 0x06
    assert end == len(first), "AlgorithmIdentifier must have no parameters"
    arcs, value = [], 0
    for byte in oid:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    head = arcs[0]
    first_two = [0, head] if head < 40 else ([1, head - 40] if head < 80 else [2, head - 80])
    return ".".join(str(a) for a in first_two + arcs[1:])


def _pem_body(pem: bytes, label: str) -> bytes:
    text = pem.decode()
    assert text.startswith(f"-----BEGIN {label}-----\n")
    assert text.rstrip().endswith(f"-----END {label}-----")
    body = "".join(text.strip().splitlines()[1:-1])
    return base64.b64decode(body, validate=True)


# -- library ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", REQUIRED_ALGORITHMS)
def test_generate_sign_verify_and_encodings(alg: str) -> None:
    key = generate_private_key(alg)
    assert key.algorithm.name == alg
    public = key.public_key()
    sig = key.sign(b"message", b"ctx")
    public.verify(sig, b"message", b"ctx")
    # PEM and SPKI carry the draft's / FIPS 204 OID and round-trip
    assert _der_oid(public.to_spki_der()) == EXPECTED_OIDS[alg]
    assert _der_oid(key.to_pkcs8_der()) == EXPECTED_OIDS[alg]
    assert load_public_key(public.to_pem()) == public
    assert PublicKey.from_raw(alg, public.to_raw()) == public
    again = load_private_key(key.to_unencrypted_pem())
    assert again.to_raw() == key.to_raw()
    # securesystemslib form
    sslib = public.to_sslib_dict()
    assert sslib["scheme"] == alg
    assert sslib["keytype"] == ("ml-dsa" if alg.startswith("ML-DSA") else "mldsa-composite")
    assert load_public_key(json.dumps(sslib).encode()) == public
    assert public.fingerprint.startswith("SHA256:")
    assert len(public.keyid) == 64


def test_pure_mldsa_pkcs8_is_what_cryptography_writes() -> None:
    key = session_key("ML-DSA-65")
    crypto_key = serialization.load_der_private_key(key.to_pkcs8_der(), password=None)
    assert crypto_key.public_key().public_bytes_raw() == key.public_key().to_raw()  # type: ignore[union-attr]


def test_encrypted_round_trip() -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    data = key.to_encrypted(PASSPHRASE, scrypt_n=FAST_N)
    doc = json.loads(data)
    assert doc["format"] == "qprov-encrypted-private-key/v1"
    assert doc["keyid"] == key.public_key().keyid
    assert base64.b64encode(key.to_raw()[:32]).decode() not in data.decode()
    assert load_private_key(data, PASSPHRASE).to_raw() == key.to_raw()
    assert load_private_key(data, lambda: PASSPHRASE).to_raw() == key.to_raw()


def test_encrypted_key_errors() -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    data = key.to_encrypted(PASSPHRASE, scrypt_n=FAST_N)
    with pytest.raises(KeyDecryptionError, match="wrong passphrase or corrupted file"):
        load_private_key(data, "wrong")
    with pytest.raises(KeyDecryptionError, match="the private key is encrypted"):
        load_private_key(data)
    with pytest.raises(KeyDecryptionError, match="the private key is encrypted"):
        load_private_key(data, lambda: "")
    with pytest.raises(MalformedInputError, match="empty passphrase"):
        key.to_encrypted("")
    # the header is authenticated: changing it breaks decryption
    doc = json.loads(data)
    doc["keyid"] = "0" * 64
    with pytest.raises(KeyDecryptionError, match="wrong passphrase or corrupted file"):
        load_private_key(json.dumps(doc).encode(), PASSPHRASE)
    # truncated file
    with pytest.raises(MalformedInputError, match="not valid JSON"):
        load_private_key(data[: len(data) // 2], PASSPHRASE)
    # weakened KDF cost is refused before any work
    doc = json.loads(data)
    doc["kdf"]["n"] = 2**10
    with pytest.raises(MalformedInputError, match="scrypt parameters out of range"):
        load_private_key(json.dumps(doc).encode(), PASSPHRASE)
    doc = json.loads(data)
    doc["extra"] = 1
    with pytest.raises(MalformedInputError, match="exactly the fields"):
        load_private_key(json.dumps(doc).encode(), PASSPHRASE)


def test_truncated_unencrypted_key() -> None:
    pem = session_key("MLDSA65-Ed25519-SHA512").to_unencrypted_pem()
    with pytest.raises(MalformedInputError, match="no PRIVATE KEY PEM block"):
        load_private_key(pem[: len(pem) // 2])
    der = _pem_body(pem, "PRIVATE KEY")
    body = base64.b64encode(der[:-6]).decode()  # PEM frame intact, DER body cut short
    cut = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n".encode()
    with pytest.raises(MalformedInputError, match="invalid PKCS #8 private key: truncated"):
        load_private_key(cut)


def test_keys_of_other_algorithms_are_refused() -> None:
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    pub_pem = ed.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    priv_pem = ed.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedAlgorithmError, match="not a composite ML-DSA or ML-DSA"):
        load_public_key(pub_pem)
    with pytest.raises(UnsupportedAlgorithmError, match="not a composite ML-DSA or ML-DSA"):
        load_private_key(priv_pem)
    with pytest.raises(MalformedInputError, match="this is a private key file"):
        load_public_key(session_key("ML-DSA-44").to_unencrypted_pem())
    with pytest.raises(UnsupportedAlgorithmError, match="unknown signature algorithm"):
        generate_private_key("MLDSA65-Ed25519-SHA256")


def test_unsupported_curve_in_composite_private_key_is_malformed() -> None:
    # The classical half is an RFC 5915 ECPrivateKey naming secp112r1, which
    # cryptography cannot load (it raises its own UnsupportedAlgorithm).
    from qprov._crypto import _der

    ec_key = _der.encode_ec_private_key(5, 14, "1.3.132.0.6")
    with pytest.raises(MalformedInputError, match="invalid MLDSA65-ECDSA-P256-SHA512 private key"):
        PrivateKey.from_raw("MLDSA65-ECDSA-P256-SHA512", b"\x00" * 32 + ec_key)


def test_sslib_json_scheme_must_match_pem() -> None:
    public = session_key("MLDSA65-Ed25519-SHA512").public_key()
    doc = dict(public.to_sslib_dict(), scheme="MLDSA44-Ed25519-SHA512")
    with pytest.raises(MalformedInputError, match="does not match the key"):
        load_public_key(json.dumps(doc).encode())


# -- signer URIs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    key = session_key("MLDSA65-Ed25519-SHA512")
    (d / "plain.pem").write_bytes(key.to_unencrypted_pem())
    (d / "enc.json").write_bytes(key.to_encrypted(PASSPHRASE, scrypt_n=FAST_N))
    return {"plain": d / "plain.pem", "enc": d / "enc.json"}


def test_file_uri(key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    keyid = session_key("MLDSA65-Ed25519-SHA512").public_key().keyid
    assert load_signer(f"file:{key_files['plain']}").public_key.keyid == keyid
    assert load_signer(str(key_files["plain"])).public_key.keyid == keyid  # bare path
    assert load_signer(f"file://{key_files['plain']}").public_key.keyid == keyid
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    assert load_signer(f"file:{key_files['enc']}").public_key.keyid == keyid
    assert load_signer(f"file:{key_files['enc']}", lambda: PASSPHRASE).public_key.keyid == keyid


def test_file_uri_errors(key_files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblemError, match="cannot read private key"):
        load_signer(f"file:{tmp_path / 'absent.pem'}")
    with pytest.raises(MalformedInputError, match="has no path"):
        load_signer("file:")
    with pytest.raises(KeyDecryptionError, match="QPROV_KEY_PASSPHRASE"):
        load_signer(f"file:{key_files['enc']}")


@pytest.mark.parametrize("form", ["pem", "encrypted", "b64-pem", "b64-encrypted"])
def test_env_uri(key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    content = key_files["enc" if "encrypted" in form else "plain"].read_bytes()
    value = base64.b64encode(content).decode() if form.startswith("b64") else content.decode()
    monkeypatch.setenv("QPROV_TEST_SIGNING_KEY", value)
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    signer = load_signer("env:QPROV_TEST_SIGNING_KEY")
    assert signer.public_key.keyid == key.public_key().keyid
    sig = signer.sign(b"data")
    key.public_key().verify(bytes.fromhex(sig.signature), b"data")


def test_env_uri_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EnvironmentProblemError, match=r"QPROV_NO_SUCH_VARIABLE .* is not set"):
        load_signer("env:QPROV_NO_SUCH_VARIABLE")
    monkeypatch.setenv("QPROV_TEST_SIGNING_KEY", "not base64 at all!")
    with pytest.raises(MalformedInputError, match="is not valid base64"):
        load_signer("env:QPROV_TEST_SIGNING_KEY")


@pytest.mark.parametrize("uri", ["kms:projects/p/keys/k", "hsm:slot0", "pkcs11:token=x"])
def test_unknown_signer_scheme(uri: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="no signer for URI scheme"):
        load_signer(uri)


def test_signer_from_priv_key_uri(
    key_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    public = key.public_key().to_sslib_key()
    signer = CompositeSigner.from_priv_key_uri(
        f"file:{key_files['enc']}", public, lambda _: PASSPHRASE
    )
    assert signer.public_key.keyid == public.keyid
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    assert CompositeSigner.from_priv_key_uri(f"file:{key_files['enc']}", public).algorithm.name
    other = session_key("MLDSA65-Ed25519-SHA512", 3).public_key().to_sslib_key()
    with pytest.raises(ValueError, match="does not match the given public key"):
        CompositeSigner.from_priv_key_uri(f"file:{key_files['plain']}", other)


# -- qprov keys generate / show ---------------------------------------------------------------


@pytest.mark.parametrize("alg", REQUIRED_ALGORITHMS)
def test_keys_generate_writes_three_files(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alg: str
) -> None:
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "k"
    result = invoke(["keys", "generate", "--alg", "id-" + alg, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"OK: {alg} key ")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # PATH.pub: PEM SPKI with the OID
    pem = (tmp_path / "k.pub").read_bytes()
    assert _der_oid(_pem_body(pem, "PUBLIC KEY")) == EXPECTED_OIDS[alg]
    public = load_public_key(pem)
    # PATH.pub.json: securesystemslib form, dispatched to qprov's CompositeKey
    doc = json.loads((tmp_path / "k.pub.json").read_text())
    sslib = Key.from_dict(doc["keyid"], dict(doc))
    assert isinstance(sslib, CompositeKey)
    assert sslib.keyid == public.keyid
    assert sslib.scheme == alg
    assert sslib.public == public
    # PATH: encrypted, and it opens with the passphrase to the same key
    private = load_private_key(out.read_bytes(), PASSPHRASE)
    assert private.public_key() == public
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k", "k.pub", "k.pub.json"]


def test_keys_generate_refuses_without_passphrase(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = invoke(["keys", "generate", "--out", str(out)])  # stdin is not a tty here
    assert_clean_failure(result, 3, match="set QPROV_KEY_PASSPHRASE")
    assert list(tmp_path.iterdir()) == []


def test_keys_generate_no_passphrase_writes_pkcs8(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = invoke(
        [
            "keys",
            "generate",
            "--alg",
            "MLDSA44-Ed25519-SHA512",
            "--out",
            str(out),
            "--no-passphrase",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert "(unencrypted)" in result.stderr
    pem = out.read_bytes()
    assert _der_oid(_pem_body(pem, "PRIVATE KEY")) == EXPECTED_OIDS["MLDSA44-Ed25519-SHA512"]
    assert load_private_key(pem).public_key() == load_public_key((tmp_path / "k.pub").read_bytes())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_generate_refuses_overwrite_and_bad_alg(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "k"
    out.write_bytes(b"precious")
    result = invoke(["keys", "generate", "--out", str(out), "--no-passphrase"])
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.stderr
    assert out.read_bytes() == b"precious"
    result = invoke(
        ["keys", "generate", "--out", str(tmp_path / "n"), "--alg", "RSA-2048", "--no-passphrase"]
    )
    assert_clean_failure(result, 3, match="unknown signature algorithm 'RSA-2048'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]
    result = invoke(["keys", "generate", "--out", str(out), "--no-passphrase", "--force"])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_keys_show(invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = session_key("MLDSA87-Ed448-SHAKE256")
    public = key.public_key()
    (tmp_path / "k.pub").write_bytes(public.to_pem())
    (tmp_path / "k.pub.json").write_text(json.dumps(public.to_sslib_dict()))
    (tmp_path / "k.pem").write_bytes(key.to_unencrypted_pem())
    (tmp_path / "k.enc").write_bytes(key.to_encrypted(PASSPHRASE, scrypt_n=FAST_N))
    for name in ("k.pub", "k.pub.json", "k.pem"):
        result = invoke(["keys", "show", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "algorithm: MLDSA87-Ed448-SHAKE256" in lines
        assert f"keyid: {public.keyid}" in lines
        assert f"fingerprint: {public.fingerprint}" in lines
        assert f"oid: {EXPECTED_OIDS['MLDSA87-Ed448-SHAKE256']}" in lines
    # encrypted: needs the passphrase
    result = invoke(["keys", "show", str(tmp_path / "k.enc")])
    assert_clean_failure(result, 3, match="passphrase")
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", PASSPHRASE)
    result = invoke(["keys", "show", "--json", str(tmp_path / "k.enc")])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["algorithm"] == "MLDSA87-Ed448-SHAKE256"
    assert info["keyid"] == public.keyid
    assert info["fingerprint"] == public.fingerprint
    assert info["kind"].startswith("private")
    assert info["nistLevel"] == 5
    monkeypatch.setenv("QPROV_KEY_PASSPHRASE", "wrong")
    result = invoke(["keys", "show", str(tmp_path / "k.enc")])
    assert_clean_failure(result, 3, match="wrong passphrase")


def test_get_algorithm_names() -> None:
    assert get_algorithm(" id-mldsa65-ed25519-sha512 ").name == "MLDSA65-Ed25519-SHA512"
    with pytest.raises(UnsupportedAlgorithmError, match="supported: ML-DSA-44"):
        get_algorithm("id-")
