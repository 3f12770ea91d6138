"""DSSE: the official protocol vector, strict parsing, LEN() in bytes, thresholds,
real in-toto DSSE links, and that verification returns the exact signed bytes."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from securesystemslib.dsse import Envelope as SSlibEnvelope
from securesystemslib.signer import SSlibKey

from qprov.dsse import (
    Envelope,
    EnvelopeSignature,
    pae,
    parse_envelope,
    sign_envelope,
    verify_envelope,
)
from qprov.errors import MalformedInputError, SignatureError, TrustError
from qprov.keys import CompositeSigner
from qprov.trust import TrustStore

from ._helpers import require_vector_file, session_key, write_trust

# -- the official DSSE vector ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dsse_vector() -> dict[str, object]:
    path = require_vector_file("dsse", "dsse_v1_protocol_test_vector.json")
    doc: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _vector_key(vec: dict[str, object]) -> ec.EllipticCurvePrivateKey:
    key = vec["key"]
    assert isinstance(key, dict)
    public = ec.EllipticCurvePublicNumbers(int(key["x"]), int(key["y"]), ec.SECP256R1())
    return ec.EllipticCurvePrivateNumbers(int(key["d"]), public).private_key()


def _raw_to_der(raw: bytes) -> bytes:
    assert len(raw) == 64
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def test_pae_matches_protocol_vector(dsse_vector: dict[str, object]) -> None:
    expected = str(dsse_vector["pae_utf8"]).encode("utf-8")
    payload = str(dsse_vector["payload_utf8"]).encode("utf-8")
    assert pae(str(dsse_vector["payloadType"]), payload) == expected
    assert expected == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


@pytest.mark.parametrize("variant", ["envelope_protocol_md", "envelope_signing_spec_py"])
def test_protocol_vector_envelope_parses_and_signature_verifies(
    dsse_vector: dict[str, object], variant: str
) -> None:
    raw = json.dumps(dsse_vector[variant]).encode()
    env = parse_envelope(raw)
    assert env.payload == b"hello world"
    assert env.payload_type == "http://example.com/HelloWorld"
    assert env.pae() == str(dsse_vector["pae_utf8"]).encode()
    (sig,) = env.signatures
    public = _vector_key(dsse_vector).public_key()
    # raw r||s, as the vector says; cryptography wants DER
    public.verify(_raw_to_der(sig.sig), env.pae(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(_raw_to_der(sig.sig), env.pae() + b"x", ec.ECDSA(hashes.SHA256()))


def test_protocol_vector_verifies_through_trust_store(
    dsse_vector: dict[str, object], tmp_path: Path
) -> None:
    public = _vector_key(dsse_vector).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    trust = TrustStore.from_toml(
        write_trust(
            tmp_path, {"hello": [pem]}, crypto='signatures = "any"\nalgorithms = ["ECDSA-P256"]'
        ).read_bytes(),
        tmp_path,
    )
    keyid = SSlibKey.from_crypto(public).keyid
    env = parse_envelope(json.dumps(dsse_vector["envelope_protocol_md"]).encode())
    der = _raw_to_der(env.signatures[0].sig)
    env = replace(env, signatures=(EnvelopeSignature(keyid, der),))
    verified = verify_envelope(env, trust, "hello")
    assert verified.payload == b"hello world"
    assert verified.keyids == (keyid,)
    # the raw r||s form is not DER: refused as a signature failure, not a crash
    raw = replace(env, signatures=(EnvelopeSignature(keyid, env.signatures[0].sig[:64]),))
    with pytest.raises(SignatureError, match="ECDSA-P256"):
        verify_envelope(raw, trust, "hello")


# -- parsing ----------------------------------------------------------------------------------


def _doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "payload": base64.b64encode(b"\xfb\xff\xfe payload").decode(),
        "payloadType": "application/vnd.example+json",
        "signatures": [{"keyid": "k1", "sig": base64.b64encode(b"\x01" * 10).decode()}],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def _parse(doc: object) -> Envelope:
    return parse_envelope(json.dumps(doc).encode())


def test_standard_and_url_safe_base64_accepted() -> None:
    payload = b"\xfb\xff\xfe\xfb\xef"  # encodes with '+' and '/' in the standard alphabet
    std = base64.b64encode(payload).decode()
    url = base64.urlsafe_b64encode(payload).decode()
    assert "+" in std or "/" in std
    assert std != url
    for text in (std, url, url.rstrip("=")):
        env = _parse(_doc(payload=text, signatures=[{"keyid": "k", "sig": text}]))
        assert env.payload == payload
        assert env.signatures[0].sig == payload


@pytest.mark.parametrize("field", ["payload", "payloadType", "signatures"])
def test_missing_field_rejected(field: str) -> None:
    doc = _doc()
    del doc[field]
    with pytest.raises(MalformedInputError, match=f"DSSE envelope is missing {field}"):
        _parse(doc)


@pytest.mark.parametrize("ptype", ["application/vnd.ex\u00e9mple", "text/\u2603", "a\nb", ""])
def test_non_ascii_or_unprintable_payload_type_rejected(ptype: str) -> None:
    with pytest.raises(MalformedInputError, match="payloadType must be"):
        _parse(_doc(payloadType=ptype))


def test_duplicate_signatures_rejected() -> None:
    sig = {"keyid": "k1", "sig": base64.b64encode(b"same").decode()}
    with pytest.raises(MalformedInputError, match="duplicate signatures"):
        _parse(_doc(signatures=[sig, dict(sig)]))
    # same signature bytes under another key id
    with pytest.raises(MalformedInputError, match="duplicate signatures"):
        _parse(_doc(signatures=[sig, {"keyid": "k2", "sig": sig["sig"]}]))
    # same key id, different signature bytes
    other = {"keyid": "k1", "sig": base64.b64encode(b"other").decode()}
    with pytest.raises(MalformedInputError, match=r"duplicate signatures \(key id k1\)"):
        _parse(_doc(signatures=[sig, other]))


def test_empty_signature_list_rejected() -> None:
    with pytest.raises(MalformedInputError, match="has no signatures"):
        _parse(_doc(signatures=[]))


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], "must be a JSON object"),
        (_doc(signatures=[{"keyid": "k"}]), "must be an object with 'sig'"),
        (_doc(signatures=[{"keyid": 7, "sig": "AAAA"}]), "keyid must be a string"),
        (_doc(signatures=[{"keyid": "k", "sig": ""}]), "is empty"),
        (_doc(payload=12), "DSSE payload must be a base64 string"),
        (_doc(signatures="AAAA"), "has no signatures"),
    ],
)
def test_malformed_envelopes_rejected(doc: object, reason: str) -> None:
    with pytest.raises(MalformedInputError, match=reason):
        _parse(doc)


def test_pae_len_counts_utf8_bytes() -> None:
    ptype = "application/x-\u00e9t\u00e9"  # two 2-byte characters: 17 chars, 19 bytes
    assert len(ptype) == 17
    payload = "\u00fc\u20ac\U0001f600".encode()  # 3 characters, 2+3+4 = 9 bytes
    expected = b"DSSEv1 19 " + ptype.encode() + b" 9 " + payload
    assert pae(ptype, payload) == expected
    # securesystemslib computes the same encoding
    assert SSlibEnvelope(payload, ptype, {}).pae() == expected


def test_size_limit() -> None:
    data = json.dumps(_doc()).encode()
    assert parse_envelope(data, max_bytes=len(data)).payload.endswith(b"payload")
    with pytest.raises(MalformedInputError, match="over the limit"):
        parse_envelope(data, max_bytes=len(data) - 1)


# -- verification -----------------------------------------------------------------------------


def _three_keys_role(tmp_path: Path) -> tuple[TrustStore, list[CompositeSigner]]:
    keys = [session_key("MLDSA44-Ed25519-SHA512", i) for i in range(3)]
    path = write_trust(tmp_path, {"approver": keys}, role_extra={"approver": "threshold = 2"})
    return TrustStore.from_toml(path.read_bytes(), tmp_path), [CompositeSigner(k) for k in keys]


def test_threshold_two_of_three(tmp_path: Path) -> None:
    trust, signers = _three_keys_role(tmp_path)
    payload = b"approve job 42"
    one = sign_envelope(payload, "text/plain", signers[:1])
    with pytest.raises(
        SignatureError, match=r"role approver needs 2 valid signature\(s\), found 1"
    ):
        verify_envelope(one, trust, "approver")
    two = sign_envelope(payload, "text/plain", signers[1:])
    verified = verify_envelope(two, trust, "approver")
    assert verified.keyids == tuple(s.public_key.keyid for s in signers[1:])
    assert verified.payload == payload
    three = sign_envelope(payload, "text/plain", signers)
    assert len(verify_envelope(three, trust, "approver").keyids) == 3


def test_threshold_same_key_twice_counts_once(tmp_path: Path) -> None:
    trust, signers = _three_keys_role(tmp_path)
    first = sign_envelope(b"p", "text/plain", [signers[0]])
    second = sign_envelope(b"p", "text/plain", [signers[0]])
    assert first.signatures[0].sig != second.signatures[0].sig  # ML-DSA is randomised
    doubled = replace(first, signatures=first.signatures + second.signatures)
    with pytest.raises(SignatureError, match=r"needs 2 valid signature\(s\), found 1"):
        verify_envelope(doubled, trust, "approver")
    # and the parser refuses such an envelope outright
    with pytest.raises(MalformedInputError, match="duplicate signatures"):
        parse_envelope(doubled.to_json())


def test_threshold_with_one_bad_signature_names_the_failure(tmp_path: Path) -> None:
    trust, signers = _three_keys_role(tmp_path)
    env = sign_envelope(b"p", "text/plain", signers[:2])
    bad = EnvelopeSignature(env.signatures[1].keyid, env.signatures[1].sig[:-1])
    with pytest.raises(SignatureError, match="found 1: signature by key"):
        verify_envelope(replace(env, signatures=(env.signatures[0], bad)), trust, "approver")


def test_verified_payload_is_the_exact_signed_bytes(tmp_path: Path) -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    trust = TrustStore.from_toml(write_trust(tmp_path, {"r": [key]}).read_bytes(), tmp_path)
    # not canonical JSON, odd whitespace, a NUL and a BOM-like prefix: nothing re-serialised
    payload = b'\xef\xbb\xbf{ "b" : 1,\n\t"a":[2 ,3] }\x00\r\n'
    env = sign_envelope(payload, "application/json", [CompositeSigner(key)])
    verified = verify_envelope(env.to_json(), trust, "r")
    assert verified.payload == payload
    assert verified.payload_type == "application/json"
    assert verified.role == "r"


def test_signature_without_keyid_is_not_matched(tmp_path: Path) -> None:
    key = session_key("MLDSA65-Ed25519-SHA512")
    trust = TrustStore.from_toml(write_trust(tmp_path, {"r": [key]}).read_bytes(), tmp_path)
    env = sign_envelope(b"p", "text/plain", [CompositeSigner(key)])
    anonymous = replace(env, signatures=(EnvelopeSignature("", env.signatures[0].sig),))
    with pytest.raises(TrustError, match="without a key id"):
        verify_envelope(anonymous, trust, "r")


def test_sign_envelope_checks_its_input() -> None:
    signer = CompositeSigner(session_key("MLDSA65-Ed25519-SHA512"))
    with pytest.raises(MalformedInputError, match="printable ASCII"):
        sign_envelope(b"p", "t\u00e9xt", [signer])
    with pytest.raises(MalformedInputError, match="at least one signer"):
        sign_envelope(b"p", "text/plain", [])


# -- real in-toto DSSE links --------------------------------------------------------------------

_LINKS = {
    # file: (signer's public key file, in-toto key id)
    "package.2f89b927.link": (
        "carl.pub",
        "2f89b9272acfc8f4a0a0f094d789fdb0ba798b0fe41f2f5f417c12f0085ff498",
    ),
    "write-code.776a00e2.link": (
        "bob.pub",
        "776a00e29f3559e0141b3b096f696abc6cfb0c657ab40f441132b345b08453f5",
    ),
}


def _intoto_trust(keys: dict[str, str]) -> TrustStore:
    demo = require_vector_file("dsse", "in-toto-python-demo_dsse")
    entries = ", ".join(f'{{ file = "{f}", keyid = "{k}" }}' for f, k in keys.items())
    toml = (
        'version = 1\n[crypto]\nsignatures = "any"\nalgorithms = ["RSA"]\n'
        f"[roles.functionary]\nkeys = [{entries}]\n"
    )
    return TrustStore.from_toml(toml.encode(), demo)


@pytest.mark.parametrize("link", sorted(_LINKS))
def test_intoto_demo_links_parse_and_verify(link: str) -> None:
    demo = require_vector_file("dsse", "in-toto-python-demo_dsse")
    data = (demo / link).read_bytes()
    env = parse_envelope(data)
    assert env.payload_type == "application/vnd.in-toto+json"
    body = json.loads(env.payload)
    assert body["_type"] == "link"
    assert link.startswith(body["name"] + ".")
    pub, keyid = _LINKS[link]
    trust = _intoto_trust({pub: keyid})
    verified = verify_envelope(data, trust, "functionary")
    assert verified.keyids == (keyid,)
    assert verified.payload == base64.b64decode(json.loads(data)["payload"])


@pytest.mark.parametrize("link", sorted(_LINKS))
def test_intoto_demo_links_tampered_or_wrong_key_fail(link: str) -> None:
    demo = require_vector_file("dsse", "in-toto-python-demo_dsse")
    env = parse_envelope((demo / link).read_bytes())
    _, keyid = _LINKS[link]
    trust = _intoto_trust(dict(_LINKS.values()))
    tampered = replace(env, payload=env.payload.replace(b'"sha256":"', b'"sha256":"0', 1))
    assert tampered.payload != env.payload
    with pytest.raises(SignatureError, match=r"\(RSA\)"):
        verify_envelope(tampered, trust, "functionary")
    # the other functionary's key id on this signature: the RSA check fails
    (other_keyid,) = {k for _, k in _LINKS.values()} - {keyid}
    moved = replace(env, signatures=(EnvelopeSignature(other_keyid, env.signatures[0].sig),))
    with pytest.raises(SignatureError, match=r"\(RSA\)"):
        verify_envelope(moved, trust, "functionary")


def test_intoto_key_listed_without_its_legacy_keyid_is_not_trusted() -> None:
    demo = require_vector_file("dsse", "in-toto-python-demo_dsse")
    toml = (
        b'version = 1\n[crypto]\nsignatures = "any"\nalgorithms = ["RSA"]\n'
        b'[roles.functionary]\nkeys = ["carl.pub"]\n'
    )
    trust = TrustStore.from_toml(toml, demo)
    with pytest.raises(TrustError, match="is not trusted"):
        verify_envelope((demo / "package.2f89b927.link").read_bytes(), trust, "functionary")


# -- in-toto Statement v1 ---------------------------------------------------------------------


def test_statement_sign_verify_and_checks(tmp_path: Path) -> None:
    from qprov.errors import PolicyError
    from qprov.statement import (
        Statement,
        parse_statement,
        sign_statement,
        subject_for_bytes,
        verify_statement,
    )

    key = session_key("MLDSA65-Ed25519-SHA512")
    trust = TrustStore.from_toml(write_trust(tmp_path, {"r": [key]}).read_bytes(), tmp_path)
    artifact = b"wheel bytes"
    statement = Statement(
        (subject_for_bytes("a.whl", artifact),), "https://qprov.dev/t/v1", {"x": 1}
    )
    env = sign_statement(statement, [CompositeSigner(key)])
    checked = verify_statement(env.to_json(), trust, "r", predicate_type="https://qprov.dev/t/v1")
    assert checked.statement == statement
    assert checked.verified.payload == statement.to_bytes()
    assert checked.statement.matches(artifact).name == "a.whl"
    with pytest.raises(PolicyError, match="no subject of the statement matches sha256:"):
        checked.statement.matches(b"other bytes")
    with pytest.raises(PolicyError, match=r"predicateType is 'https://qprov.dev/t/v1', expected"):
        verify_statement(env, trust, "r", predicate_type="https://slsa.dev/provenance/v1")
    # an envelope that is not of the in-toto payload type is refused after verification
    plain = sign_envelope(statement.to_bytes(), "application/json", [CompositeSigner(key)])
    with pytest.raises(PolicyError, match="payloadType is 'application/json'"):
        verify_statement(plain, trust, "r")
    # unknown top-level fields of the foreign Statement format are ignored
    doc = json.loads(statement.to_bytes())
    doc["extension"] = {"k": "v"}
    assert parse_statement(json.dumps(doc).encode()) == statement


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"_type": "https://in-toto.io/Statement/v0.1"}, "_type must be"),
        ({"subject": []}, "has no subject"),
        ({"subject": [{"name": "a", "digest": {"sha256": "ABC"}}]}, "64 lowercase hex"),
        ({"subject": [{"name": "a", "digest": {}}]}, "digest must be a non-empty object"),
        ({"subject": [{"name": 1, "digest": {"x": "y"}}]}, "name must be a string"),
        ({"subject": ["a"]}, "subject 0 must be an object"),
        ({"predicateType": ""}, "predicateType must be a non-empty string"),
        ({"predicate": []}, "predicate must be an object"),
    ],
)
def test_malformed_statements(change: dict[str, object], reason: str) -> None:
    from qprov.statement import parse_statement

    doc: dict[str, object] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": "a" * 64}}],
        "predicateType": "https://qprov.dev/t/v1",
        "predicate": {},
    }
    doc.update(change)
    with pytest.raises(MalformedInputError, match=reason):
        parse_statement(json.dumps(doc).encode())
