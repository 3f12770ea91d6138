"""Keyed Sigstore bundles (``--key``): one test per tamper class, CLI and library.

The vectors in ``data/keyed/`` are made by scripts/sigstore/gen_keyed_vectors.py
(a cosign-style signer and a Rekor v1-style log) and were cross-checked with
sigstore-js (``data/keyed/sigstore-js-results.json``; see the README there).
Every case runs through ``qprov sigstore verify-bundle ... --key FILE`` for the
exit code and status line, and through :func:`qprov.sigstore.verify_keyed_bundle`
for the error class and reason. The autouse network tripwire (conftest.py)
blocks every connection; :func:`test_no_network_during_keyed_verification`
asserts none was attempted.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import importlib.util
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from qprov import errors
from qprov.errors import (
    Error,
    MalformedInputError,
    PolicyError,
    ProofError,
    SignatureError,
    TrustError,
    UnsupportedAlgorithmError,
)
from qprov.sigstore import (
    ArtifactDigest,
    PinnedTrustedRoot,
    SigstorePolicy,
    TrustedPublicKey,
    verify_bundle,
    verify_keyed_bundle,
)

RunCli = Callable[[Sequence[str]], Result]

KEYED = Path(__file__).resolve().parent / "data" / "keyed"
MANIFEST: dict[str, Any] = json.loads((KEYED / "manifest.json").read_text(encoding="utf-8"))
CASES: dict[str, dict[str, Any]] = {c["id"]: c for c in MANIFEST["cases"]}
ROOT_PIN: str = MANIFEST["trusted_root_sha256"]
ARTIFACT = (KEYED / "artifact.txt").read_bytes()
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # integrated time of the good vectors
REPO = Path(__file__).resolve().parents[2]


def _root() -> PinnedTrustedRoot:
    return PinnedTrustedRoot.from_file(KEYED / "trusted_root.json", ROOT_PIN)


def _key(name: str = "signer-p256.pub") -> TrustedPublicKey:
    return TrustedPublicKey.from_file(KEYED / name)


def _bundle(case_id: str) -> bytes:
    path: Path = KEYED / CASES[case_id]["bundle"]
    return path.read_bytes()


def _doc(case_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_bundle(case_id))
    return doc


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = doc["verificationMaterial"]["tlogEntries"][0]
    return entry


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _verify(
    bundle: bytes,
    *,
    key: str = "signer-p256.pub",
    artifact: bytes | ArtifactDigest = ARTIFACT,
    root: PinnedTrustedRoot | None = None,
    now: datetime | None = None,
) -> Any:
    return verify_keyed_bundle(bundle, artifact, _key(key), trusted_root=root or _root(), now=now)


def _args(case: dict[str, Any], *extra: str, artifact: str | None = None) -> list[str]:
    return [
        "sigstore", "verify-bundle",
        "--bundle", str(KEYED / case["bundle"]),
        "--key", str(KEYED / case["key"]),
        "--trusted-root", str(KEYED / case["trusted_root"]),
        "--trusted-root-sha256", ROOT_PIN,
        *extra,
        artifact or str(KEYED / case["artifact"]),
    ]  # fmt: skip


def _assert_fail(result: Result, exit_code: int, reason: str) -> None:
    assert result.exit_code == exit_code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("FAIL: ")
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1


def _custom_root(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> PinnedTrustedRoot:
    doc = json.loads((KEYED / "trusted_root.json").read_bytes())
    edit(doc)
    path = tmp_path / "root.json"
    path.write_bytes(json.dumps(doc).encode())
    return PinnedTrustedRoot.from_file(path, hashlib.sha256(path.read_bytes()).hexdigest())


# -- every vector, through the CLI and the library -------------------------------------------


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["id"])
def test_vector_through_cli(case: dict[str, Any], run_cli: RunCli) -> None:
    result = run_cli(_args(case))
    expected = case["expected"]
    if expected["exit_code"] == 0:
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr.startswith(f"OK: {KEYED / case['bundle']}: ")
        assert f"by key sha256:{_key(case['key']).sha256}" in result.stderr
        assert "logged in https://rekor.qprov.test at index " in result.stderr
    else:
        _assert_fail(result, expected["exit_code"], expected["reason"])


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["id"])
def test_vector_through_library(case: dict[str, Any]) -> None:
    artifact = (KEYED / case["artifact"]).read_bytes()
    expected = case["expected"]
    if expected["exit_code"] == 0:
        result = _verify(_bundle(case["id"]), key=case["key"], artifact=artifact)
        assert result.key_sha256 == _key(case["key"]).sha256
        assert result.identity is None
        assert result.artifact.sha256 == hashlib.sha256(artifact).hexdigest()
        assert result.log_url == "https://rekor.qprov.test"
        return
    error_class = getattr(errors, expected["error"])
    with pytest.raises(error_class, match=re.escape(expected["reason"])):
        _verify(_bundle(case["id"]), key=case["key"], artifact=artifact)


def test_no_network_during_keyed_verification(network_attempts: list[tuple[str, Any]]) -> None:
    for case in MANIFEST["cases"]:
        with contextlib.suppress(Error):
            artifact = (KEYED / case["artifact"]).read_bytes()
            _verify(_bundle(case["id"]), key=case["key"], artifact=artifact)
    assert network_attempts == []


# -- the tamper classes, by name (the vectors above carry them; these pin the reasons) ----------


def test_wrong_key(run_cli: RunCli) -> None:
    _assert_fail(
        run_cli(_args(CASES["wrong-key"])), 1, "signature does not verify with the given key"
    )
    with pytest.raises(SignatureError, match="signature does not verify with the given key"):
        _verify(_bundle("p256-hashedrekord"), key="other-p256.pub")


def test_another_artifact(run_cli: RunCli) -> None:
    _assert_fail(run_cli(_args(CASES["other-artifact"])), 1, "is not the artifact's")
    with pytest.raises(SignatureError, match="bundle message digest sha256:"):
        _verify(_bundle("p256-hashedrekord"), artifact=b"something else")


def test_tampered_signature() -> None:
    with pytest.raises(SignatureError, match="signature does not verify"):
        _verify(_bundle("tampered-signature"))


@pytest.mark.parametrize(
    ("case_id", "reason"),
    [
        ("body-other-signature", "transparency log entry is for another signature"),
        ("body-other-key", "transparency log entry is for another public key"),
        ("body-other-digest", "transparency log entry is for another digest"),
        ("dsse-body-other-key", "transparency log entry is for another public key"),
        ("dsse-body-other-payload", "transparency log entry is for another DSSE payload"),
    ],
)
def test_log_entry_for_another_signature_key_or_digest(
    case_id: str, reason: str, run_cli: RunCli
) -> None:
    # The log honestly recorded *something*: SET, checkpoint and proof are valid.
    _assert_fail(run_cli(_args(CASES[case_id])), 1, reason)
    with pytest.raises(ProofError, match=reason):
        _verify(_bundle(case_id))


def test_body_key_compared_as_spki_der_not_pem_text() -> None:
    # Same key, PEM re-wrapped at 40 columns with CRLF: still the same key.
    doc = _doc("p256-hashedrekord")
    entry = _entry(doc)
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    pem = base64.b64decode(body["spec"]["signature"]["publicKey"]["content"]).decode()
    der_b64 = "".join(pem.strip().splitlines()[1:-1])
    rewrapped = "\r\n".join(
        ["-----BEGIN PUBLIC KEY-----"]
        + [der_b64[i : i + 40] for i in range(0, len(der_b64), 40)]
        + ["-----END PUBLIC KEY-----", ""]
    )
    assert rewrapped != pem
    from qprov._sigstore_keyed import _body_key

    assert _body_key(base64.b64encode(rewrapped.encode()).decode(), "x") == _key().spki_der


@pytest.mark.parametrize(
    ("case_id", "reason"),
    [
        ("tampered-inclusion-proof", "does not lead to the root of tree size 7"),
        ("truncated-inclusion-proof", "inclusion proof is too short"),
        ("checkpoint-other-root", "checkpoint root hash is not the inclusion proof's root hash"),
    ],
)
def test_tampered_inclusion_proof(case_id: str, reason: str) -> None:
    with pytest.raises(ProofError, match=re.escape(reason)):
        _verify(_bundle(case_id))


def test_inclusion_proof_for_another_index_or_size() -> None:
    doc = _doc("p256-hashedrekord")
    _entry(doc)["inclusionProof"]["logIndex"] = "4"
    with pytest.raises(ProofError, match="inclusion proof for leaf 4 does not lead to the root"):
        _verify(_encode(doc))
    doc = _doc("p256-hashedrekord")
    _entry(doc)["inclusionProof"]["treeSize"] = "8"
    with pytest.raises(
        ProofError, match="checkpoint is for tree size 7, the inclusion proof for 8"
    ):
        _verify(_encode(doc))


def test_checkpoint_signed_by_unknown_key(run_cli: RunCli) -> None:
    _assert_fail(
        run_cli(_args(CASES["checkpoint-unknown-key"])),
        1,
        "checkpoint is not signed by the log's key",
    )
    with pytest.raises(
        ProofError, match=re.escape("checkpoint signature by the log rekor.qprov.test")
    ):
        _verify(_bundle("checkpoint-forged-hint"))


def test_checkpoint_signer_name_must_be_the_log_host() -> None:
    doc = _doc("p256-hashedrekord")
    proof = _entry(doc)["inclusionProof"]
    proof["checkpoint"]["envelope"] = proof["checkpoint"]["envelope"].replace(
        "\u2014 rekor.qprov.test ", "\u2014 rekor.sigstore.dev "
    )
    with pytest.raises(
        ProofError, match=re.escape("checkpoint signature by the log rekor.qprov.test")
    ):
        _verify(_encode(doc))


@pytest.mark.parametrize("case_id", ["bad-set", "set-by-unknown-key"])
def test_bad_set(case_id: str, run_cli: RunCli) -> None:
    reason = "inclusion promise (SET) is not signed by the log https://rekor.qprov.test"
    _assert_fail(run_cli(_args(CASES[case_id])), 1, reason)
    with pytest.raises(ProofError, match=re.escape(reason)):
        _verify(_bundle(case_id))


def test_set_binds_log_index() -> None:
    doc = _doc("p256-hashedrekord")
    _entry(doc)["logIndex"] = "1006"
    with pytest.raises(ProofError, match=re.escape("inclusion promise (SET)")):
        _verify(_encode(doc))


def test_log_id_not_in_trusted_root(run_cli: RunCli) -> None:
    _assert_fail(run_cli(_args(CASES["logid-not-in-root"])), 1, "is not in the trusted root")
    with pytest.raises(
        TrustError, match=r"transparency log e2affc2f\S* is not in the trusted root"
    ):
        _verify(_bundle("logid-not-in-root"))


@pytest.mark.parametrize(
    "case_id", ["integrated-time-outside-validity", "integrated-time-before-validity"]
)
def test_integrated_time_outside_log_key_validity(case_id: str, run_cli: RunCli) -> None:
    reason = "is outside the log key's validity"
    _assert_fail(run_cli(_args(CASES[case_id])), 1, reason)
    with pytest.raises(TrustError, match=reason):
        _verify(_bundle(case_id))


def test_log_key_validity_bounds_are_inclusive(tmp_path: Path) -> None:
    at_t0 = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    just_before = (T0 - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def valid_for(start: str, end: str | None) -> Callable[[dict[str, Any]], None]:
        def edit(doc: dict[str, Any]) -> None:
            period = {"start": start} if end is None else {"start": start, "end": end}
            doc["tlogs"][0]["publicKey"]["validFor"] = period

        return edit

    bundle = _bundle("p256-hashedrekord")
    _verify(bundle, root=_custom_root(tmp_path, valid_for(at_t0, at_t0)))
    _verify(bundle, root=_custom_root(tmp_path, valid_for(at_t0, None)))
    with pytest.raises(TrustError, match="outside the log key's validity"):
        _verify(bundle, root=_custom_root(tmp_path, valid_for("2020-01-01T00:00:00Z", just_before)))


def test_log_key_without_validity_is_not_trusted(tmp_path: Path) -> None:
    root = _custom_root(tmp_path, lambda d: d["tlogs"][0]["publicKey"].pop("validFor"))
    with pytest.raises(TrustError, match="key has no validity period"):
        _verify(_bundle("p256-hashedrekord"), root=root)


def test_log_id_must_be_the_sha256_of_the_log_key(tmp_path: Path) -> None:
    # A root naming the right log ID with another key (a Rekor v2-style ID) is not used.
    other = base64.b64encode(_key("other-p256.pub").spki_der).decode()
    root = _custom_root(tmp_path, lambda d: d["tlogs"][0]["publicKey"].update(rawBytes=other))
    with pytest.raises(TrustError, match="ID is not the sha256 of its key"):
        _verify(_bundle("p256-hashedrekord"), root=root)


def test_integrated_time_in_the_future(run_cli: RunCli) -> None:
    _assert_fail(run_cli(_args(CASES["integrated-time-in-future"])), 1, "is in the future")
    bundle = _bundle("p256-hashedrekord")
    with pytest.raises(TrustError, match="integrated time 2025-06-01T12:00:00Z is in the future"):
        _verify(bundle, now=T0 - timedelta(hours=1))
    _verify(bundle, now=T0 - timedelta(minutes=4))  # within the allowed clock skew
    _verify(bundle, now=T0)


def test_hint_is_ignored(run_cli: RunCli) -> None:
    # A hint naming another key changes nothing...
    assert run_cli(_args(CASES["hint-names-other-key"])).exit_code == 0
    doc = _doc("p256-hashedrekord")
    doc["verificationMaterial"]["publicKey"]["hint"] = "not even base64 !"
    _verify(_encode(doc))
    doc["verificationMaterial"]["publicKey"] = {}  # proto3 JSON of an empty hint
    _verify(_encode(doc))
    # ...and a hint naming the given key does not make another key's signature valid.
    with pytest.raises(SignatureError, match="signature does not verify with the given key"):
        _verify(_bundle("hint-ours-signed-by-other"))


def test_dsse_subject_mismatch(run_cli: RunCli) -> None:
    _assert_fail(
        run_cli(_args(CASES["dsse-subject-mismatch"])),
        1,
        "is not a subject of the in-toto statement",
    )
    digest = hashlib.sha256((KEYED / "other-artifact.txt").read_bytes()).hexdigest()
    result = _verify(
        _bundle("dsse-subject-mismatch"), artifact=ArtifactDigest.parse(f"sha256:{digest}")
    )
    assert result.kind == "dsse"
    assert result.predicate_type == "https://qprov.dev/test-predicate/v1"
    assert result.payload is not None
    assert (
        base64.b64decode(_doc("dsse-subject-mismatch")["dsseEnvelope"]["payload"]) == result.payload
    )


def test_dsse_payload_type_must_be_in_toto() -> None:
    # Changing the payload type breaks the signature first (it is in the PAE).
    doc = _doc("p256-dsse")
    doc["dsseEnvelope"]["payloadType"] = "text/plain"
    with pytest.raises(SignatureError, match="DSSE signature does not verify"):
        _verify(_encode(doc))


def test_staging_root_vs_production_entry(run_cli: RunCli) -> None:
    case = CASES["production-logid"]
    base = ["sigstore", "verify-bundle", "--bundle", str(KEYED / case["bundle"])]
    key_and_artifact = ["--key", str(KEYED / case["key"]), str(KEYED / case["artifact"])]
    staging = run_cli([*base, "--staging", *key_and_artifact])
    _assert_fail(staging, 1, "is not in the trusted root sigstore-staging")
    # Against production the log is found, but the entry was not signed by it.
    production = run_cli([*base, *key_and_artifact])
    _assert_fail(
        production, 1, "inclusion promise (SET) is not signed by the log https://rekor.sigstore.dev"
    )
    with pytest.raises(TrustError, match="is not in the trusted root sigstore-staging"):
        _verify(_bundle("production-logid"), root=PinnedTrustedRoot.staging())


def test_test_log_entry_is_refused_by_the_shipped_roots() -> None:
    for root in (PinnedTrustedRoot.production(), PinnedTrustedRoot.staging()):
        with pytest.raises(TrustError, match="is not in the trusted root"):
            _verify(_bundle("p256-hashedrekord"), root=root)


# -- artifacts given by digest --------------------------------------------------------------


def test_artifact_by_sha256(run_cli: RunCli) -> None:
    digest = f"sha256:{hashlib.sha256(ARTIFACT).hexdigest()}"
    assert run_cli(_args(CASES["p256-hashedrekord"], artifact=digest)).exit_code == 0
    assert run_cli(_args(CASES["p256-dsse"], artifact=digest)).exit_code == 0
    _assert_fail(
        run_cli(_args(CASES["p384-sha384-hashedrekord"], artifact=digest)),
        3,
        "the bundle signs the artifact's SHA384 digest; give the artifact itself",
    )


def test_sha384_digest_from_file_digest(tmp_path: Path) -> None:
    path = tmp_path / "artifact.txt"
    path.write_bytes(ARTIFACT)
    result = _verify(
        _bundle("p384-sha384-hashedrekord"),
        key="signer-p384.pub",
        artifact=ArtifactDigest.of_file(path, all_sha2=True),
    )
    assert result.artifact.sha384 == hashlib.sha384(ARTIFACT).hexdigest()


# -- algorithms ---------------------------------------------------------------------------------


def test_ed25519_message_signature_is_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="Ed25519 message signatures"):
        _verify(_bundle("p256-hashedrekord"), key="signer-ed25519.pub")


def test_p256_with_sha384_digest_is_unsupported() -> None:
    doc = _doc("p256-hashedrekord")
    doc["messageSignature"]["messageDigest"] = {
        "algorithm": "SHA2_384",
        "digest": base64.b64encode(hashlib.sha384(ARTIFACT).digest()).decode(),
    }
    with pytest.raises(UnsupportedAlgorithmError, match="ecdsa-p256 signatures over SHA384"):
        _verify(_encode(doc))


def test_rekor_v2_and_intoto_entries_are_unsupported() -> None:
    doc = _doc("p256-hashedrekord")
    _entry(doc)["kindVersion"]["version"] = "0.0.2"
    with pytest.raises(UnsupportedAlgorithmError, match="Rekor v2 log entries"):
        _verify(_encode(doc))
    doc = _doc("p256-dsse")
    _entry(doc)["kindVersion"] = {"kind": "intoto", "version": "0.0.2"}
    with pytest.raises(UnsupportedAlgorithmError, match=re.escape("log entry type intoto/0.0.2")):
        _verify(_encode(doc))


def test_v01_bundle_is_unsupported() -> None:
    doc = _doc("p256-hashedrekord")
    doc["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
    with pytest.raises(UnsupportedAlgorithmError, match=re.escape("v0.1 is not supported")):
        _verify(_encode(doc))


# -- malformed bundles, bodies, checkpoints, keys (exit 3) -----------------------------------------


def _mutate(edit: Callable[[dict[str, Any]], Any], case_id: str = "p256-hashedrekord") -> bytes:
    doc = copy.deepcopy(_doc(case_id))
    edit(doc)
    return _encode(doc)


def _set_body(doc: dict[str, Any], body: bytes) -> None:
    _entry(doc)["canonicalizedBody"] = base64.b64encode(body).decode()


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(base64.b64decode(_entry(doc)["canonicalizedBody"]))
    return body


def _with_body_field(doc: dict[str, Any]) -> None:
    body = _body(doc)
    body["spec"]["data"]["url"] = "https://example.com/artifact"
    _set_body(doc, rfc8785.dumps(body))


def _replace_body_sig(body: dict[str, Any], value: str) -> dict[str, Any]:
    body["spec"]["signature"]["content"] = value
    return body


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not-json", b"not json", "not valid JSON"),
    ("duplicate-key", b'{"mediaType": "a", "mediaType": "b"}', "duplicate key"),
    ("unknown-field", _mutate(lambda d: d.update(extra=1)), "invalid Sigstore bundle"),
    (
        "no-tlog-entry",
        _mutate(lambda d: d["verificationMaterial"].update(tlogEntries=[])),
        "exactly one transparency log entry, has 0",
    ),
    (
        "two-tlog-entries",
        _mutate(lambda d: d["verificationMaterial"]["tlogEntries"].append(_entry(d))),
        "exactly one transparency log entry, has 2",
    ),
    (
        "no-checkpoint",
        _mutate(lambda d: _entry(d)["inclusionProof"].pop("checkpoint")),
        "inclusion proof with a checkpoint",
    ),
    (
        "no-inclusion-promise",
        _mutate(lambda d: _entry(d).pop("inclusionPromise")),
        "must contain an inclusion promise (SET)",
    ),
    (
        "no-message-digest",
        _mutate(lambda d: d["messageSignature"].pop("messageDigest")),
        "messageDigest is missing",
    ),
    (
        "short-message-digest",
        _mutate(lambda d: d["messageSignature"]["messageDigest"].update(digest="AAAA")),
        "messageDigest is 3 bytes, not 32",
    ),
    (
        "non-canonical-body",
        _mutate(lambda d: _set_body(d, json.dumps(_body(d), indent=1).encode())),
        "not canonical JSON (RFC 8785)",
    ),
    ("body-unknown-field", _mutate(_with_body_field), "unknown field(s): 'url'"),
    (
        "body-bad-base64",
        _mutate(lambda d: _set_body(d, rfc8785.dumps(_replace_body_sig(_body(d), "!!!")))),
        "log entry signature is not valid base64",
    ),
    (
        "body-non-ascii-base64",
        _mutate(lambda d: _set_body(d, rfc8785.dumps(_replace_body_sig(_body(d), "é")))),
        "log entry signature is not valid base64: it has non-ASCII characters",
    ),
    (
        "checkpoint-no-blank-line",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(envelope="origin\n1\nAA==\n")
        ),
        "checkpoint has no blank line",
    ),
    (
        "checkpoint-bad-size",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope=_entry(d)["inclusionProof"]["checkpoint"]["envelope"].replace(
                    "\n7\n", "\n07\n"
                )
            )
        ),
        "checkpoint tree size '07' is not a decimal",
    ),
    (
        "checkpoint-garbage-line",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope=_entry(d)["inclusionProof"]["checkpoint"]["envelope"] + "junk\n"
            )
        ),
        "checkpoint signature line is malformed",
    ),
    (
        "dsse-two-signatures",
        _mutate(
            lambda d: d["dsseEnvelope"]["signatures"].append(d["dsseEnvelope"]["signatures"][0]),
            "p256-dsse",
        ),
        "exactly one signature, has 2",
    ),
]


@pytest.mark.parametrize(("name", "bundle", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bundle(
    name: str, bundle: bytes, reason: str, run_cli: RunCli, tmp_path: Path
) -> None:
    with pytest.raises(MalformedInputError, match=re.escape(reason)):
        _verify(bundle)
    path = tmp_path / "bundle.sigstore.json"
    path.write_bytes(bundle)
    args = _args(CASES["p256-hashedrekord"])
    args[args.index("--bundle") + 1] = str(path)
    _assert_fail(run_cli(args), 3, reason)


def _pem(key: Any) -> bytes:
    data: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


BAD_KEYS: list[tuple[str, bytes, type[Error], str]] = [
    ("not-pem", b"hello", MalformedInputError, "is not a PEM file"),
    ("binary", b"\xff\xfe", MalformedInputError, "non-ASCII"),
    (
        "certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        MalformedInputError,
        "holds a PEM CERTIFICATE, not a PUBLIC KEY",
    ),
    (
        "unterminated",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n",
        MalformedInputError,
        "block is not terminated",
    ),
    (
        "two-blocks",
        (KEYED / "signer-p256.pub").read_bytes() + (KEYED / "other-p256.pub").read_bytes(),
        MalformedInputError,
        "holds more than one PEM block",
    ),
    (
        "trailing-garbage",
        (KEYED / "signer-p256.pub").read_bytes() + b"garbage\n",
        MalformedInputError,
        "not terminated",
    ),
    (
        "bad-base64",
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        MalformedInputError,
        "not valid base64",
    ),
    (
        "not-spki",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        MalformedInputError,
        "is not a valid public key",
    ),
    (
        "rsa",
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
        UnsupportedAlgorithmError,
        "RSAPublicKey keys are not supported",
    ),
    (
        "secp256k1",
        _pem(ec.generate_private_key(ec.SECP256K1()).public_key()),
        UnsupportedAlgorithmError,
        "ECDSA curve secp256k1 is not supported",
    ),
]


@pytest.mark.parametrize(("name", "pem", "error", "reason"), BAD_KEYS, ids=[k[0] for k in BAD_KEYS])
def test_malformed_or_unsupported_key(
    name: str, pem: bytes, error: type[Error], reason: str, run_cli: RunCli, tmp_path: Path
) -> None:
    with pytest.raises(error, match=re.escape(reason)):
        TrustedPublicKey.from_pem(pem)
    path = tmp_path / "key.pub"
    path.write_bytes(pem)
    args = _args(CASES["p256-hashedrekord"])
    args[args.index("--key") + 1] = str(path)
    _assert_fail(run_cli(args), 3, reason)


def test_key_must_be_der_canonical() -> None:
    # A BER-style long-form length in the outer SEQUENCE is not DER.
    der = _key().spki_der
    assert der[1] < 0x80
    ber = bytes([der[0], 0x81, der[1]]) + der[2:]
    pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(ber) + b"\n-----END PUBLIC KEY-----\n"
    with pytest.raises(MalformedInputError):
        TrustedPublicKey.from_pem(pem)


# -- keyless/keyed confusion ----------------------------------------------------------------------


def test_keyed_bundle_refused_by_the_keyless_path() -> None:
    policy = SigstorePolicy(identity="someone@example.com", issuer="https://example.com")
    with pytest.raises(PolicyError, match="verify it with the signer's key"):
        verify_bundle(_bundle("p256-hashedrekord"), ARTIFACT, policy, trusted_root=_root())


def test_keyed_bundle_with_identity_flags_is_refused(run_cli: RunCli) -> None:
    case = CASES["p256-hashedrekord"]
    args = _args(case)
    key_at = args.index("--key")
    keyless = [
        *args[:key_at],
        "--certificate-identity", "someone@example.com",
        "--certificate-oidc-issuer", "https://example.com",
        *args[key_at + 2 :],
    ]  # fmt: skip
    _assert_fail(run_cli(keyless), 1, "verify it with the signer's key (--key)")


def test_certificate_claims_with_key_are_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli(_args(CASES["p256-hashedrekord"], "--repository", "a/b"))
    assert result.exit_code == 2
    assert "--repository: certificate claims do not apply to --key" in result.stderr


# -- output -------------------------------------------------------------------------------------


def test_json_verdict_for_a_keyed_bundle(run_cli: RunCli) -> None:
    result = run_cli(_args(CASES["p256-dsse"], "--json"))
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is True
    assert verdict["kind"] == "dsse"
    assert verdict["key_sha256"] == _key().sha256
    assert "identity" not in verdict
    assert verdict["transparency_log"] == {
        "url": "https://rekor.qprov.test",
        "log_index": 1005,
        "integrated_time": "2025-06-01T12:00:00Z",
    }
    assert verdict["trusted_root"]["sha256"] == ROOT_PIN
    assert verdict["predicate_type"] == "https://qprov.dev/test-predicate/v1"


def test_json_verdict_for_a_failure(run_cli: RunCli) -> None:
    result = run_cli(_args(CASES["body-other-key"], "--json"))
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert verdict["verified"] is False
    assert verdict["error"]["type"] == "ProofError"
    assert "another public key" in verdict["error"]["reason"]


# -- robustness: nothing foreign escapes ---------------------------------------------------


def test_random_mutations_raise_only_qprov_errors() -> None:
    rng = random.Random(20261122)
    sources = [_bundle(c) for c in ("p256-hashedrekord", "p256-dsse", "ed25519-dsse")]
    keys = {0: "signer-p256.pub", 1: "signer-p256.pub", 2: "signer-ed25519.pub"}
    verified = 0
    for i in range(600):
        which = i % 3
        data = bytearray(sources[which])
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            _verify(bytes(data), key=keys[which])
            verified += 1  # e.g. a changed hint or whitespace
        except Error:
            pass
    assert verified < 100


# -- the vectors are what the generator makes, and what sigstore-js decided ----------------


def _generator() -> Any:
    path = REPO / "scripts" / "sigstore" / "gen_keyed_vectors.py"
    spec = importlib.util.spec_from_file_location("gen_keyed_vectors", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_vectors_are_reproducible(tmp_path: Path) -> None:
    _generator().generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated
    for rel in generated:
        assert (KEYED / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    committed = {p.relative_to(KEYED) for p in KEYED.rglob("*") if p.is_file()}
    assert committed - set(generated) == {Path("README.md"), Path("sigstore-js-results.json")}


def test_sigstore_js_decisions_recorded_and_explained() -> None:
    results = json.loads((KEYED / "sigstore-js-results.json").read_text(encoding="utf-8"))
    assert results["verifier"]["@sigstore/verify"]
    assert set(results["cases"]) == set(CASES)
    for case_id, case in CASES.items():
        decision = results["cases"][case_id]["decision"]
        assert decision == case["sigstore_js"], case_id
        qprov_verifies = case["expected"]["exit_code"] == 0
        # Where sigstore-js and qprov disagree, the manifest says why.
        assert (decision == "verified") == qprov_verifies or case.get("divergence"), case_id
        assert not ((decision == "verified") == qprov_verifies and case.get("divergence")), case_id
    # Every positive vector was verified, every tampered one but the divergences rejected.
    assert sum(r["decision"] == "rejected" for r in results["cases"].values()) >= 20


# -- property tests for the hand-written parsers ---------------------------------------------------

_GOOD_CHECKPOINT: str = _entry(_doc("p256-hashedrekord"))["inclusionProof"]["checkpoint"][
    "envelope"
]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.just(_GOOD_CHECKPOINT).map(lambda t: t[:-5]))
def test_checkpoint_parser_raises_only_malformed(text: str) -> None:
    from qprov._sigstore_keyed import _parse_checkpoint

    try:
        checkpoint = _parse_checkpoint(text)
    except MalformedInputError:
        return
    assert len(checkpoint.root) == 32
    assert checkpoint.signatures


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.builds(
        lambda body, cut: (
            b"-----BEGIN PUBLIC KEY-----\n" + body[:cut] + b"\n-----END PUBLIC KEY-----\n"
        ),
        st.just(base64.b64encode(_key().spki_der)),
        st.integers(0, 120),
    )
)
def test_pem_parser_raises_only_qprov_errors(data: bytes) -> None:
    try:
        key = TrustedPublicKey.from_pem(data)
    except (MalformedInputError, UnsupportedAlgorithmError):
        return
    assert key.sha256 == _key().sha256


# -- the remaining refusals, one by one ----------------------------------------------------------


def _edit_body(edit: Callable[[dict[str, Any]], None], case_id: str = "p256-hashedrekord") -> bytes:
    def apply(doc: dict[str, Any]) -> None:
        body = _body(doc)
        edit(body)
        _set_body(doc, rfc8785.dumps(body))

    return _mutate(apply, case_id)


_CERT_PEM = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


REFUSALS: list[tuple[str, bytes, type[Error], str]] = [
    (
        "body-holds-a-certificate",
        _edit_body(
            lambda b: b["spec"]["signature"]["publicKey"].update(content=_CERT_PEM.decode())
        ),
        ProofError,
        "transparency log entry is for a certificate, not a public key",
    ),
    (
        "body-kind-differs",
        _edit_body(lambda b: b.update(apiVersion="0.0.9")),
        ProofError,
        "log entry body is a hashedrekord/0.0.9 entry, the bundle says hashedrekord/0.0.1",
    ),
    (
        "body-md5",
        _edit_body(lambda b: b["spec"]["data"]["hash"].update(algorithm="md5")),
        UnsupportedAlgorithmError,
        "log entry hash algorithm 'md5' is not supported",
    ),
    (
        "body-short-digest",
        _edit_body(lambda b: b["spec"]["data"]["hash"].update(value="ab" * 31)),
        MalformedInputError,
        "log entry sha256 value has 62 hex digits",
    ),
    (
        "dsse-body-two-signatures",
        _edit_body(
            lambda b: b["spec"]["signatures"].append(b["spec"]["signatures"][0]), "p256-dsse"
        ),
        ProofError,
        "records 2 DSSE signatures, the bundle one",
    ),
    (
        "no-integrated-time",
        _mutate(lambda d: _entry(d).update(integratedTime="0")),
        MalformedInputError,
        "log entry has no integrated time",
    ),
    (
        "integrated-time-out-of-range",
        _mutate(lambda d: _entry(d).update(integratedTime=str(2**63))),
        MalformedInputError,
        "is out of range",
    ),
    (
        "checkpoint-two-lines",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope="origin\n7\n\n\u2014 x AAAAAAAA\n"
            )
        ),
        MalformedInputError,
        "checkpoint has fewer than 3 lines",
    ),
    (
        "checkpoint-empty-origin",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope="\n" + _GOOD_CHECKPOINT.split("\n", 1)[1]
            )
        ),
        MalformedInputError,
        "checkpoint has an empty origin or extension line",
    ),
    (
        "checkpoint-short-root",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope="origin\n7\nAAAA\n\n\u2014 x AAAAAAAA\n"
            )
        ),
        MalformedInputError,
        "checkpoint root hash is 3 bytes, not 32",
    ),
    (
        "checkpoint-short-signature",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope=_GOOD_CHECKPOINT.split("\n\n", maxsplit=1)[0] + "\n\n\u2014 x AAAA\n"
            )
        ),
        MalformedInputError,
        "checkpoint signature is too short",
    ),
    (
        "checkpoint-many-signatures",
        _mutate(
            lambda d: _entry(d)["inclusionProof"]["checkpoint"].update(
                envelope=_GOOD_CHECKPOINT.split("\n\n", maxsplit=1)[0]
                + "\n\n"
                + "\u2014 x AAAAAAAA\n" * 40
            )
        ),
        MalformedInputError,
        "checkpoint has over 32 signatures",
    ),
]


@pytest.mark.parametrize(
    ("name", "bundle", "error", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusal(name: str, bundle: bytes, error: type[Error], reason: str) -> None:
    with pytest.raises(error, match=re.escape(reason)):
        _verify(bundle)


@pytest.mark.parametrize(
    ("edit", "error", "reason"),
    [
        (
            lambda t: t["publicKey"].update(keyDetails="PKIX_RSA_PKCS1V15_2048_SHA256"),
            UnsupportedAlgorithmError,
            "key type PKIX_RSA_PKCS1V15_2048_SHA256 is not supported",
        ),
        (
            lambda t: t["publicKey"].update(keyDetails="PKIX_ED25519"),
            errors.ConfigError,
            "key is ecdsa-p256, not PKIX_ED25519",
        ),
        (lambda t: t.update(baseUrl="rekor"), errors.ConfigError, "has no host"),
    ],
)
def test_unusable_log_in_trusted_root(
    edit: Callable[[dict[str, Any]], None], error: type[Error], reason: str, tmp_path: Path
) -> None:
    root = _custom_root(tmp_path, lambda d: edit(d["tlogs"][0]))
    with pytest.raises(error, match=re.escape(reason)):
        _verify(_bundle("p256-hashedrekord"), root=root)


def test_argument_types() -> None:
    key, root = _key(), _root()
    with pytest.raises(MalformedInputError, match="bundle must be bytes"):
        verify_keyed_bundle("{}", ARTIFACT, key, trusted_root=root)  # type: ignore[arg-type]
    with pytest.raises(MalformedInputError, match="artifact must be bytes"):
        verify_keyed_bundle(b"{}", "x", key, trusted_root=root)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigError, match="key must be a TrustedPublicKey"):
        verify_keyed_bundle(b"{}", ARTIFACT, "k", trusted_root=root)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigError, match="trusted_root must be a PinnedTrustedRoot"):
        verify_keyed_bundle(b"{}", ARTIFACT, key, trusted_root="r")  # type: ignore[arg-type]
    with pytest.raises(MalformedInputError, match="must be a JSON object"):
        verify_keyed_bundle(b"[]", ARTIFACT, key, trusted_root=root)
    with pytest.raises(MalformedInputError, match="larger than"):
        TrustedPublicKey.from_pem(b" " * (70 * 1024))


def test_verified_bundle_names_one_signer() -> None:
    result = _verify(_bundle("p256-hashedrekord"))
    assert result.signer == f"key sha256:{_key().sha256}"
    with pytest.raises(errors.ConfigError, match="by identity\\+issuer or by key_sha256"):
        type(result)(**{**result.__dict__, "identity": "someone"})
