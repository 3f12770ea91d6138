"""Trust file and crypto policy: each rejection has its own reason and exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.signer import CryptoSigner

from qprov.dsse import sign_envelope, verify_envelope
from qprov.errors import ConfigError, PolicyError, TrustError
from qprov.keys import CompositeSigner, PrivateKey
from qprov.trust import TrustStore, load_trust

from ._helpers import session_key, write_trust

PAYLOAD = b"release qsdk 1.0"


def _classical() -> tuple[bytes, CryptoSigner]:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # deterministic
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, CryptoSigner(key)


def _trust(tmp_path: Path, roles: dict[str, list[object]], **kwargs: object) -> TrustStore:
    return load_trust(write_trust(tmp_path, roles, **kwargs))  # type: ignore[arg-type]


def _signed_by(key: PrivateKey) -> bytes:
    return sign_envelope(PAYLOAD, "text/plain", [CompositeSigner(key)]).to_json()


@pytest.fixture(scope="module")
def release() -> PrivateKey:
    return session_key("MLDSA65-Ed25519-SHA512", 0)


@pytest.fixture(scope="module")
def submitter() -> PrivateKey:
    return session_key("MLDSA44-Ed25519-SHA512", 0)


def test_trusted_key_verifies(tmp_path: Path, release: PrivateKey) -> None:
    trust = _trust(tmp_path, {"release-signer": [release]})
    verified = verify_envelope(_signed_by(release), trust, "release-signer")
    assert verified.keyids == (release.public_key().keyid,)
    assert verified.payload == PAYLOAD


def test_key_not_trusted(tmp_path: Path, release: PrivateKey) -> None:
    stranger = session_key("MLDSA65-Ed25519-SHA512", 7)
    trust = _trust(tmp_path, {"release-signer": [release]})
    with pytest.raises(TrustError, match=r"is not trusted \(not in the trust file\)"):
        verify_envelope(_signed_by(stranger), trust, "release-signer")


def test_key_of_another_role(tmp_path: Path, release: PrivateKey, submitter: PrivateKey) -> None:
    trust = _trust(tmp_path, {"release-signer": [release], "submitter": [submitter]})
    with pytest.raises(TrustError, match="is trusted for role submitter, not for release-signer"):
        verify_envelope(_signed_by(submitter), trust, "release-signer")


def test_revoked_key(tmp_path: Path, release: PrivateKey) -> None:
    retired = session_key("MLDSA65-Ed25519-SHA512", 1)
    keyid = retired.public_key().keyid
    trust = _trust(tmp_path, {"release-signer": [release, retired]}, revoked=[keyid])
    with pytest.raises(TrustError, match=f"key {keyid[:16]}… is revoked"):
        verify_envelope(_signed_by(retired), trust, "release-signer")
    # the other key of the role still verifies
    verify_envelope(_signed_by(release), trust, "release-signer")


def test_classical_only_rejected_where_composite_required(tmp_path: Path) -> None:
    pem, signer = _classical()
    trust = _trust(tmp_path, {"release-signer": [pem]})
    env = sign_envelope(PAYLOAD, "text/plain", [signer])
    with pytest.raises(
        PolicyError,
        match=r"is classical-only \(Ed25519\); role release-signer requires composite ML-DSA",
    ):
        verify_envelope(env, trust, "release-signer")


def test_classical_only_rejected_under_pq(tmp_path: Path) -> None:
    pem, signer = _classical()
    trust = _trust(tmp_path, {"r": [pem]}, crypto='signatures = "pq"')
    env = sign_envelope(PAYLOAD, "text/plain", [signer])
    with pytest.raises(PolicyError, match="requires post-quantum signatures"):
        verify_envelope(env, trust, "r")


def test_classical_accepted_under_any_with_algorithm_listed(tmp_path: Path) -> None:
    pem, signer = _classical()
    trust = _trust(tmp_path, {"r": [pem]}, crypto='signatures = "any"\nalgorithms = ["Ed25519"]')
    env = sign_envelope(PAYLOAD, "text/plain", [signer])
    assert verify_envelope(env, trust, "r").payload == PAYLOAD


def test_classical_under_any_but_algorithm_not_listed(tmp_path: Path) -> None:
    pem, signer = _classical()
    trust = _trust(tmp_path, {"r": [pem]}, crypto='signatures = "any"')
    env = sign_envelope(PAYLOAD, "text/plain", [signer])
    with pytest.raises(PolicyError, match="algorithm Ed25519 is not allowed for role r"):
        verify_envelope(env, trust, "r")


def test_pure_mldsa_rejected_where_composite_required(tmp_path: Path) -> None:
    pure = session_key("ML-DSA-65")
    trust = _trust(tmp_path, {"r": [pure]})
    with pytest.raises(PolicyError, match="is pure ML-DSA-65; role r requires composite ML-DSA"):
        verify_envelope(_signed_by(pure), trust, "r")


def test_pure_mldsa_accepted_under_pq(tmp_path: Path) -> None:
    pure = session_key("ML-DSA-65")
    trust = _trust(
        tmp_path,
        {"r": [pure]},
        role_extra={"r": 'signatures = "pq"\nalgorithms = ["ML-DSA-65"]'},
    )
    assert verify_envelope(_signed_by(pure), trust, "r").payload == PAYLOAD


def test_algorithm_not_allowed(tmp_path: Path, release: PrivateKey) -> None:
    p384 = session_key("MLDSA87-ECDSA-P384-SHA512")
    trust = _trust(
        tmp_path,
        {"r": [release, p384]},
        crypto='algorithms = ["MLDSA65-Ed25519-SHA512"]',
    )
    with pytest.raises(
        PolicyError, match="algorithm MLDSA87-ECDSA-P384-SHA512 is not allowed for role r"
    ):
        verify_envelope(_signed_by(p384), trust, "r")
    verify_envelope(_signed_by(release), trust, "r")


def test_default_algorithms_are_the_five_recommended(tmp_path: Path) -> None:
    # a supported composite outside the draft's recommended set
    p256 = session_key("MLDSA44-ECDSA-P256-SHA256")
    trust = _trust(tmp_path, {"r": [p256]})
    with pytest.raises(PolicyError, match="MLDSA44-ECDSA-P256-SHA256 is not allowed"):
        verify_envelope(_signed_by(p256), trust, "r")


def test_unknown_role_at_verification(tmp_path: Path, release: PrivateKey) -> None:
    trust = _trust(tmp_path, {"release-signer": [release]})
    with pytest.raises(ConfigError, match="trust file has no role 'owner'"):
        verify_envelope(_signed_by(release), trust, "owner")


def test_ecdsa_classical_keys_are_named(tmp_path: Path) -> None:
    key = ec.derive_private_key(12345, ec.SECP384R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    trust = _trust(tmp_path, {"r": [pem]})
    env = sign_envelope(PAYLOAD, "text/plain", [CryptoSigner(key)])
    with pytest.raises(PolicyError, match=r"classical-only \(ECDSA-P384\)"):
        verify_envelope(env, trust, "r")


# -- malformed trust files: ConfigError ------------------------------------------------------------


def _key_line(tmp_path: Path, release: PrivateKey) -> str:
    (tmp_path / "release.pub").write_bytes(release.public_key().to_pem())
    return 'keys = ["release.pub"]'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("version = 1\n[roles.r]\nthreshold = 0\n{keys}", r"threshold must be an integer >= 1"),
        ("version = 1\n[roles.r]\nthreshold = -1\n{keys}", r"threshold must be an integer >= 1"),
        ("version = 1\n[roles.r]\nthreshold = true\n{keys}", r"threshold must be an integer"),
        ("version = 1\n[roles.r]\nthreshold = 2\n{keys}", r"threshold 2 exceeds its 1 key"),
        ("version = 1\n[roles.r]\nkeys = []", r"\[roles.r\] has no keys"),
        ("version = 1\n[roles.r]\nthreshold = 1", r"\[roles.r\] has no keys"),
        ("version = 1\n", r"at least one \[roles.NAME\] table is required"),
        ("version = 1\n[roles]\n", r"at least one \[roles.NAME\] table is required"),
        ("version = 1\nextra = 1\n[roles.r]\n{keys}", r"unknown field\(s\) in the file: extra"),
        ("version = 1\n[roles.r]\nthreshhold = 1\n{keys}", r"unknown field\(s\) in \[roles.r\]"),
        ("version = 1\n[crypto]\nsignature = 'any'\n[roles.r]\n{keys}", r"in \[crypto\]"),
        ("version = 1\n[revoked]\nids = []\n[roles.r]\n{keys}", r"in \[revoked\]"),
        ("version = 1\n[roles.r]\nkeys = [{{ file = 'release.pub', nam = 'x' }}]", r"nam"),
        ("[roles.r]\n{keys}", r"'version = 1' is required"),
        ("version = 2\n[roles.r]\n{keys}", r"'version = 1' is required"),
        ("version = '1'\n[roles.r]\n{keys}", r"'version = 1' is required"),
        ("version = true\n[roles.r]\n{keys}", r"'version = 1' is required"),
        ("version = 1\n[roles.r\n{keys}", r"not valid TOML"),
        ("version = 1\n[crypto]\nsignatures = 'classical'\n[roles.r]\n{keys}", r"composite, pq"),
        ("version = 1\n[crypto]\nalgorithms = []\n[roles.r]\n{keys}", r"algorithms is empty"),
        ("version = 1\n[crypto]\nalgorithms = ['RSA-1024']\n[roles.r]\n{keys}", r"'RSA-1024'"),
        ("version = 1\n[roles.r]\nalgorithms = 'RSA'\n{keys}", r"must be a list of strings"),
        ("version = 1\n[roles.r]\nkeys = ['release.pub', 'release.pub']", r"lists key .* twice"),
        ("version = 1\n[roles.r]\nkeys = ['missing.pub']", r"cannot read .*missing.pub"),
        ("version = 1\n[roles.r]\nkeys = ['a\\u0000b.pub']", r"cannot read"),
        (
            "version = 1\n[roles.r]\nkeys = [{{ file = 'release.pub', keyid = 'ab' }}]",
            r"keyid ab does not match the key",
        ),
        ("version = 1\n[roles.r]\nkeys = [{{ pem = 'garbage' }}]", r"not a valid public key"),
        ("version = 1\n[roles.r]\nkeys = [{{ name = 'x' }}]", r"exactly one of 'file' or 'pem'"),
        ("version = 1\n[roles.r]\nkeys = [3]", r"must be a table or a file name"),
        ("version = 1\n[roles.r]\nlimits = 3\n{keys}", r"limits must be a table"),
        ("version = 1\nroles = 3\n", r"at least one \[roles.NAME\]"),
        ("version = 1\nrevoked = 3\n[roles.r]\n{keys}", r"\[revoked\] must be a table"),
        ("version = 1\n[revoked]\nkeyids = [1]\n[roles.r]\n{keys}", r"list of strings"),
    ],
)
def test_bad_trust_file_is_config_error(
    tmp_path: Path, release: PrivateKey, body: str, reason: str
) -> None:
    path = tmp_path / "trust.toml"
    path.write_text(body.format(keys=_key_line(tmp_path, release)), encoding="utf-8")
    with pytest.raises(ConfigError, match=reason):
        load_trust(path)


def test_trust_file_not_utf8_or_deeply_nested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        TrustStore.from_toml(b"version = 1\n# \xff\xfe\n", tmp_path)
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrustStore.from_toml(b"x = " + b"[" * 5000 + b"]" * 5000, tmp_path)


def test_missing_trust_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read trust file"):
        load_trust(tmp_path / "absent.toml")


def test_empty_roles_mapping_in_constructor() -> None:
    with pytest.raises(ConfigError, match="defines no roles"):
        TrustStore({}, {})


def test_key_entry_by_inline_pem_and_sslib_json(tmp_path: Path, release: PrivateKey) -> None:
    pem = release.public_key().to_pem().decode()
    keyid = release.public_key().keyid
    toml = f'version = 1\n[roles.r]\nkeys = [{{ pem = """{pem}""", keyid = "{keyid}" }}]\n'
    trust = TrustStore.from_toml(toml.encode(), tmp_path)
    assert trust.role("r").keyids == (keyid,)
    (tmp_path / "k.pub.json").write_text(json.dumps(release.public_key().to_sslib_dict()))
    trust = TrustStore.from_toml(b'version = 1\n[roles.r]\nkeys = ["k.pub.json"]\n', tmp_path)
    assert trust.role("r").keyids == (keyid,)
    assert verify_envelope(_signed_by(release), trust, "r").payload == PAYLOAD
