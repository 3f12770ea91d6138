"""Generate the keyed Sigstore bundle vectors in tests/sigstore/data/keyed/.

This script plays every part of ``cosign sign-blob --key ... --new-bundle-format``
against a Rekor v1 log, so that qprov's keyed-bundle verifier can be tested
against an independent implementation (sigstore-js, see
scripts/sigstore/sigstore_js_verify.js and the data README):

* the **signer**: ECDSA P-256 / P-384 and Ed25519 keys; message signatures
  over the artifact's digest (``hashedrekord``) and DSSE envelopes over an
  in-toto statement (``dsse``);
* the **log** ("rekor.qprov.test", an ECDSA P-256 key): the canonical Rekor
  v1 entry body (RFC 8785), a small RFC 6962 Merkle tree with the entry at a
  chosen leaf, the inclusion proof, a checkpoint (signed note, key hint = the
  first 4 bytes of sha256(SPKI DER)) and the inclusion promise (SET: ECDSA over
  the RFC 8785 form of body, integratedTime, logID, logIndex);
* the **trusted root** naming that log, with a validity period.

Nothing here imports qprov: the Merkle tree, bodies and signatures are built
from the specifications (RFC 6962, Rekor's hashedrekord/dsse v0.0.1 schemas,
protobuf-specs' bundle JSON) with pyca/cryptography and rfc8785 only.

Every key is derived from a fixed label and ECDSA signatures are deterministic
(RFC 6979), so the output is byte-identical on every run:

    python scripts/sigstore/gen_keyed_vectors.py           # (re)write the vectors
    python scripts/sigstore/gen_keyed_vectors.py --check   # exit 1 if they differ

Each case is one bundle plus what the manifest says about it: the key, the
artifact and trusted root to verify it with, qprov's expected exit code and
reason, and what sigstore-js is expected to decide (with the reason when the
two verifiers disagree by design).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "sigstore" / "data" / "keyed"

LOG_URL = "https://rekor.qprov.test"
LOG_NAME = "rekor.qprov.test"
LOG_ORIGIN = f"{LOG_NAME} - 4242424242424242424"
LOG_VALID = ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
PRODUCTION_LOG_ID = "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="  # rekor.sigstore.dev

MEDIA_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
MEDIA_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
IN_TOTO = "application/vnd.in-toto+json"

ARTIFACT = b"qprov keyed-bundle test artifact\n"
OTHER_ARTIFACT = b"another artifact, never signed by the test key\n"
T0 = int(datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp())

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# -- deterministic keys ---------------------------------------------------------------


def _secret(label: str) -> bytes:
    return hashlib.sha256(b"qprov keyed sigstore vectors: " + label.encode()).digest()


def ec_key(label: str, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    # 31 bytes: below the order of P-256, P-384 and P-521.
    return ec.derive_private_key(int.from_bytes(_secret(label)[:31], "big"), curve)


def ed_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_secret(label))


Private = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

SIGNER = ec_key("signer p-256", ec.SECP256R1())
SIGNER_P384 = ec_key("signer p-384", ec.SECP384R1())
SIGNER_P521 = ec_key("signer p-521", ec.SECP521R1())
SIGNER_ED = ed_key("signer ed25519")
OTHER = ec_key("other p-256", ec.SECP256R1())
LOG = ec_key("log p-256", ec.SECP256R1())
ROGUE_LOG = ec_key("rogue log p-256", ec.SECP256R1())


def spki(key: Private) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem(key: Private) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hint(key: Private) -> str:
    """What cosign writes as the bundle's publicKey hint: base64(sha256(SPKI DER))."""
    return b64(hashlib.sha256(spki(key)).digest())


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def ecdsa(key: ec.EllipticCurvePrivateKey, data: bytes, hash_name: str = "sha256") -> bytes:
    return key.sign(data, ec.ECDSA(_HASHES[hash_name](), deterministic_signing=True))


def ecdsa_prehashed(key: ec.EllipticCurvePrivateKey, digest: bytes, hash_name: str) -> bytes:
    return key.sign(digest, ec.ECDSA(Prehashed(_HASHES[hash_name]()), deterministic_signing=True))


def malleate_p256(signature: bytes) -> bytes:
    """(r, s) -> (r, n - s): a different, equally valid ECDSA signature."""
    r, s = decode_dss_signature(signature)
    return encode_dss_signature(r, P256_ORDER - s)


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


# -- the log: RFC 6962 Merkle tree ------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 Merkle Tree Hash over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(m, D[n]), bottom-up."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*path(index, leaves[:k]), mth(leaves[k:])]
    return [*path(index - k, leaves[k:]), mth(leaves[:k])]


# -- bodies, entries, bundles -------------------------------------------------------------


def hashedrekord_body(
    signature: bytes, key_pem: bytes, algorithm: str, digest_hex: str
) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": digest_hex}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(key_pem)}},
        },
    }


def dsse_body(
    signature: bytes, key_pem: bytes, payload: bytes, envelope_json: bytes
) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(envelope_json).hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(signature), "verifier": b64(key_pem)}],
        },
    }


@dataclass
class LogOptions:
    """How the log records and proves the entry (tampering hooks included)."""

    tree_size: int = 7
    leaf_index: int = 5
    log_index_offset: int = 1000  # global log index = offset + leaf index (a sharded log)
    integrated_time: int = T0
    log_id: str | None = None  # default: sha256 of the log key
    set_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: LOG)
    set_integrated_time: int | None = None  # sign another time than the entry says
    checkpoint_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: LOG)
    checkpoint_hint_key: ec.EllipticCurvePrivateKey | None = None  # default: checkpoint_key
    checkpoint_root: bytes | None = None  # sign another root than the tree's


def log_entry(body: dict[str, Any], kind: str, opts: LogOptions) -> dict[str, Any]:
    canonical = rfc8785.dumps(body)
    leaves = [leaf_hash(b"qprov test log leaf %d" % i) for i in range(opts.tree_size)]
    leaves[opts.leaf_index] = leaf_hash(canonical)
    root = mth(leaves)
    log_id = opts.log_id or b64(hashlib.sha256(spki(LOG)).digest())
    log_index = opts.log_index_offset + opts.leaf_index
    set_payload = rfc8785.dumps(
        {
            "body": b64(canonical),
            "integratedTime": opts.set_integrated_time or opts.integrated_time,
            "logID": base64.b64decode(log_id).hex(),
            "logIndex": log_index,
        }
    )
    note = f"{LOG_ORIGIN}\n{opts.tree_size}\n{b64(opts.checkpoint_root or root)}\n"
    note_sig = ecdsa(opts.checkpoint_key, note.encode())
    hint_key = opts.checkpoint_hint_key or opts.checkpoint_key
    key_hint = hashlib.sha256(spki(hint_key)).digest()[:4]
    checkpoint = f"{note}\n\u2014 {LOG_NAME} {b64(key_hint + note_sig)}\n"
    return {
        "logIndex": str(log_index),
        "logId": {"keyId": log_id},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": str(opts.integrated_time),
        "inclusionPromise": {"signedEntryTimestamp": b64(ecdsa(opts.set_key, set_payload))},
        "inclusionProof": {
            "logIndex": str(opts.leaf_index),
            "rootHash": b64(root),
            "treeSize": str(opts.tree_size),
            "hashes": [b64(h) for h in path(opts.leaf_index, leaves)],
            "checkpoint": {"envelope": checkpoint},
        },
        "canonicalizedBody": b64(canonical),
    }


def message_bundle(
    *,
    key: Private = SIGNER,
    artifact: bytes = ARTIFACT,
    hash_name: str = "sha256",
    media_type: str = MEDIA_V03,
    hint_key: Private | None = None,
    log: LogOptions | None = None,
    body_signature: Callable[[bytes], bytes] = lambda s: s,
    body_key: Private | None = None,
    body_digest: str | None = None,
    bundle_signature: Callable[[bytes], bytes] = lambda s: s,
) -> dict[str, Any]:
    """A cosign-style keyed message-signature bundle (hashedrekord v0.0.1)."""
    digest = hashlib.new(hash_name, artifact).digest()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = ecdsa_prehashed(key, digest, hash_name)
    body = hashedrekord_body(
        body_signature(signature),
        pem(body_key or key),
        hash_name,
        body_digest or digest.hex(),
    )
    algorithm = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}[hash_name]
    return {
        "mediaType": media_type,
        "verificationMaterial": {
            "publicKey": {"hint": hint(hint_key or key)},
            "tlogEntries": [log_entry(body, "hashedrekord", log or LogOptions())],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": algorithm, "digest": b64(digest)},
            "signature": b64(bundle_signature(signature)),
        },
    }


def statement(artifact: bytes, name: str = "artifact.txt") -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {"sha256": hashlib.sha256(artifact).hexdigest()}}],
            "predicateType": "https://qprov.dev/test-predicate/v1",
            "predicate": {"note": "keyed DSSE test vector"},
        },
        separators=(",", ":"),
    ).encode()


def dsse_bundle(
    *,
    key: Private = SIGNER,
    artifact: bytes = ARTIFACT,
    log: LogOptions | None = None,
    body_key: Private | None = None,
    body_payload: bytes | None = None,
    bundle_payload: bytes | None = None,
) -> dict[str, Any]:
    """A keyed DSSE bundle (dsse v0.0.1), as ``cosign attest-blob --key --new-bundle-format``."""
    payload = statement(artifact)
    message = pae(IN_TOTO, payload)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(message)
    else:
        signature = ecdsa(key, message)
    envelope = {
        "payload": b64(payload),
        "payloadType": IN_TOTO,
        "signatures": [{"sig": b64(signature)}],
    }
    envelope_json = json.dumps(envelope, separators=(",", ":")).encode()
    body = dsse_body(signature, pem(body_key or key), body_payload or payload, envelope_json)
    if bundle_payload is not None:
        envelope = {**envelope, "payload": b64(bundle_payload)}
    return {
        "mediaType": MEDIA_V03,
        "verificationMaterial": {
            "publicKey": {"hint": hint(key)},
            "tlogEntries": [log_entry(body, "dsse", log or LogOptions())],
        },
        "dsseEnvelope": envelope,
    }


def flip_byte(b64text: str, index: int = 10) -> str:
    raw = bytearray(base64.b64decode(b64text))
    raw[index] ^= 0x01
    return b64(bytes(raw))


def tamper(bundle: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    edit(out)
    return out


def entry_of(bundle: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = bundle["verificationMaterial"]["tlogEntries"][0]
    return entry


# -- the cases --------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    description: str
    bundle: dict[str, Any]
    exit_code: int
    error: str | None = None  # qprov error class
    reason: str | None = None  # substring of qprov's reason
    key: str = "signer-p256.pub"
    artifact: str = "artifact.txt"
    trusted_root: str = "trusted_root.json"
    sigstore_js: str = "verified"  # or "rejected", or "not run"
    divergence: str | None = None  # why sigstore-js decides otherwise

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "bundle": f"cases/{self.id}.sigstore.json",
            "key": self.key,
            "artifact": self.artifact,
            "trusted_root": self.trusted_root,
            "expected": {"exit_code": self.exit_code, "error": self.error, "reason": self.reason},
            "sigstore_js": self.sigstore_js,
        }
        if self.divergence:
            out["divergence"] = self.divergence
        return out


def cases() -> list[Case]:
    good = message_bundle()
    good_dsse = dsse_bundle()
    fail = "rejected"
    return [
        # -- must verify
        Case("p256-hashedrekord", "cosign sign-blob --key (P-256, SHA-256), bundle v0.3", good, 0),
        Case(
            "p256-hashedrekord-v0.2",
            "the same signature in a v0.2 bundle, the entry the first leaf of a 1-leaf tree",
            message_bundle(media_type=MEDIA_V02, log=LogOptions(tree_size=1, leaf_index=0)),
            0,
        ),
        Case(
            "p256-hashedrekord-last-leaf",
            "entry is the last leaf of a 13-leaf tree (proof along the right border)",
            message_bundle(log=LogOptions(tree_size=13, leaf_index=12)),
            0,
        ),
        Case(
            "p384-sha384-hashedrekord",
            "P-384 key, SHA-384 digest (what cosign signs with for P-384 today)",
            message_bundle(key=SIGNER_P384, hash_name="sha384"),
            0,
            key="signer-p384.pub",
        ),
        Case(
            "p384-sha256-hashedrekord",
            "P-384 key, SHA-256 digest (the deprecated pairing of older cosign)",
            message_bundle(key=SIGNER_P384, hash_name="sha256"),
            0,
            key="signer-p384.pub",
        ),
        Case(
            "p521-sha512-hashedrekord",
            "P-521 key, SHA-512 digest (the algorithm registry's pairing)",
            message_bundle(key=SIGNER_P521, hash_name="sha512"),
            0,
            key="signer-p521.pub",
        ),
        Case("p256-dsse", "keyed in-toto DSSE envelope (P-256), dsse v0.0.1 entry", good_dsse, 0),
        Case(
            "ed25519-dsse",
            "keyed in-toto DSSE envelope (Ed25519), dsse v0.0.1 entry",
            dsse_bundle(key=SIGNER_ED),
            0,
            key="signer-ed25519.pub",
        ),
        Case(
            "hint-names-other-key",
            "valid bundle whose (unauthenticated) hint names another key: the hint is ignored",
            message_bundle(hint_key=OTHER),
            0,
        ),
        # -- must fail: the signature
        Case(
            "wrong-key",
            "valid bundle verified with another P-256 key",
            good,
            1,
            "SignatureError",
            "signature does not verify with the given key",
            key="other-p256.pub",
            sigstore_js=fail,
        ),
        Case(
            "other-artifact",
            "valid bundle verified against another artifact",
            good,
            1,
            "SignatureError",
            "is not the artifact's",
            artifact="other-artifact.txt",
            sigstore_js=fail,
        ),
        Case(
            "tampered-signature",
            "one bit of the bundle's signature flipped (the log entry still has the original)",
            tamper(
                good,
                lambda b: b["messageSignature"].update(
                    signature=flip_byte(b["messageSignature"]["signature"], 12)
                ),
            ),
            1,
            "SignatureError",
            "signature does not verify with the given key",
            sigstore_js=fail,
        ),
        Case(
            "hint-ours-signed-by-other",
            "hint names the signer's key, but the signature (and log entry) are by another key",
            message_bundle(key=OTHER, hint_key=SIGNER),
            1,
            "SignatureError",
            "signature does not verify with the given key",
            sigstore_js=fail,
        ),
        # -- must fail: the log entry does not bind this signature, key, digest
        Case(
            "body-other-signature",
            "bundle carries (r, n-s), a valid malleation of the signature the log recorded",
            message_bundle(bundle_signature=malleate_p256),
            1,
            "ProofError",
            "transparency log entry is for another signature",
            sigstore_js=fail,
        ),
        Case(
            "body-other-key",
            "the log recorded the signature under another public key",
            message_bundle(body_key=OTHER),
            1,
            "ProofError",
            "transparency log entry is for another public key",
            sigstore_js="verified",
            divergence=(
                "sigstore-js compares only the signature and digest of a hashedrekord v0.0.1 "
                "body, not its public key (verifyHashedrekord001TLogBody); qprov also requires "
                "the body's key (SPKI DER) to be the given key"
            ),
        ),
        Case(
            "body-other-digest",
            "the log recorded the signature over another artifact's digest",
            message_bundle(body_digest=hashlib.sha256(OTHER_ARTIFACT).hexdigest()),
            1,
            "ProofError",
            "transparency log entry is for another digest",
            sigstore_js=fail,
        ),
        # -- must fail: inclusion proof, checkpoint, promise
        Case(
            "tampered-inclusion-proof",
            "one bit of an inclusion proof hash flipped",
            tamper(
                good,
                lambda b: entry_of(b)["inclusionProof"]["hashes"].__setitem__(
                    1, flip_byte(entry_of(b)["inclusionProof"]["hashes"][1], 3)
                ),
            ),
            1,
            "ProofError",
            "does not lead to the root",
            sigstore_js=fail,
        ),
        Case(
            "truncated-inclusion-proof",
            "the last hash of the inclusion proof removed",
            tamper(good, lambda b: entry_of(b)["inclusionProof"]["hashes"].pop()),
            1,
            "ProofError",
            "inclusion proof is too short",
            sigstore_js=fail,
        ),
        Case(
            "checkpoint-unknown-key",
            "checkpoint signed by a key that is not in the trusted root (its own key hint)",
            message_bundle(log=LogOptions(checkpoint_key=ROGUE_LOG)),
            1,
            "ProofError",
            "checkpoint is not signed by the log's key",
            sigstore_js=fail,
        ),
        Case(
            "checkpoint-forged-hint",
            "checkpoint signed by an unknown key that claims the log key's hint",
            message_bundle(log=LogOptions(checkpoint_key=ROGUE_LOG, checkpoint_hint_key=LOG)),
            1,
            "ProofError",
            "checkpoint signature by the log rekor.qprov.test is invalid",
            sigstore_js=fail,
        ),
        Case(
            "checkpoint-other-root",
            "checkpoint validly signed by the log, but for another root than the proof's",
            message_bundle(log=LogOptions(checkpoint_root=hashlib.sha256(b"x").digest())),
            1,
            "ProofError",
            "checkpoint root hash is not the inclusion proof's root hash",
            sigstore_js=fail,
        ),
        Case(
            "bad-set",
            "inclusion promise signed by the log over another integrated time",
            message_bundle(log=LogOptions(set_integrated_time=T0 + 1)),
            1,
            "ProofError",
            "inclusion promise (SET) is not signed by the log",
            sigstore_js=fail,
        ),
        Case(
            "set-by-unknown-key",
            "inclusion promise signed by a key that is not in the trusted root",
            message_bundle(log=LogOptions(set_key=ROGUE_LOG)),
            1,
            "ProofError",
            "inclusion promise (SET) is not signed by the log",
            sigstore_js=fail,
        ),
        # -- must fail: which log, when
        Case(
            "logid-not-in-root",
            "entry (SET, checkpoint by the test log key) claims a log ID the root does not name",
            message_bundle(log=LogOptions(log_id=b64(hashlib.sha256(b"no such log").digest()))),
            1,
            "TrustError",
            "is not in the trusted root",
            sigstore_js=fail,
        ),
        Case(
            "production-logid",
            "entry claims rekor.sigstore.dev's log ID (signed by the test log key)",
            message_bundle(log=LogOptions(log_id=PRODUCTION_LOG_ID)),
            1,
            "TrustError",
            "is not in the trusted root",
            sigstore_js=fail,
        ),
        Case(
            "integrated-time-outside-validity",
            "integrated time 2026-03-01, after the log key's validity ended (2026-01-01)",
            message_bundle(
                log=LogOptions(integrated_time=int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()))
            ),
            1,
            "TrustError",
            "outside the log key's validity",
            sigstore_js=fail,
        ),
        Case(
            "integrated-time-before-validity",
            "integrated time 2024-06-01, before the log key's validity started (2025-01-01)",
            message_bundle(
                log=LogOptions(integrated_time=int(datetime(2024, 6, 1, tzinfo=UTC).timestamp()))
            ),
            1,
            "TrustError",
            "outside the log key's validity",
            sigstore_js=fail,
        ),
        Case(
            "integrated-time-in-future",
            "integrated time in 2099 (SET signed by the log)",
            message_bundle(
                log=LogOptions(integrated_time=int(datetime(2099, 1, 1, tzinfo=UTC).timestamp()))
            ),
            1,
            "TrustError",
            "is in the future",
            sigstore_js=fail,
        ),
        # -- DSSE
        Case(
            "dsse-subject-mismatch",
            "valid keyed DSSE bundle whose statement is about another artifact",
            dsse_bundle(artifact=OTHER_ARTIFACT),
            1,
            "SignatureError",
            "is not a subject of the in-toto statement",
            sigstore_js="verified",
            divergence=(
                "sigstore-js verifies the envelope only; matching the statement's subjects to "
                "the artifact is left to the caller, and qprov does it"
            ),
        ),
        Case(
            "dsse-tampered-payload",
            "statement changed after signing (the log entry still has the original hash)",
            dsse_bundle(bundle_payload=statement(ARTIFACT, name="renamed.txt")),
            1,
            "SignatureError",
            "DSSE signature does not verify with the given key",
            sigstore_js=fail,
        ),
        Case(
            "dsse-body-other-payload",
            "the log recorded the DSSE signature with another payload hash",
            dsse_bundle(body_payload=statement(OTHER_ARTIFACT)),
            1,
            "ProofError",
            "transparency log entry is for another DSSE payload",
            sigstore_js=fail,
        ),
        Case(
            "dsse-body-other-key",
            "the log recorded the DSSE signature under another verifier key",
            dsse_bundle(body_key=OTHER),
            1,
            "ProofError",
            "transparency log entry is for another public key",
            sigstore_js="verified",
            divergence=(
                "sigstore-js compares only the signature and payload hash of a dsse v0.0.1 "
                "body, not its verifier key (verifyDSSE001TLogBody)"
            ),
        ),
    ]


def trusted_root() -> dict[str, Any]:
    start, end = LOG_VALID
    return {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": LOG_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(spki(LOG)),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start, "end": end},
                },
                "logId": {"keyId": b64(hashlib.sha256(spki(LOG)).digest())},
            }
        ],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }


def dumps(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


def generate(out: Path) -> None:
    (out / "cases").mkdir(parents=True, exist_ok=True)
    root = dumps(trusted_root())
    files = {
        "trusted_root.json": root,
        "artifact.txt": ARTIFACT,
        "other-artifact.txt": OTHER_ARTIFACT,
        "signer-p256.pub": pem(SIGNER),
        "signer-p384.pub": pem(SIGNER_P384),
        "signer-p521.pub": pem(SIGNER_P521),
        "signer-ed25519.pub": pem(SIGNER_ED),
        "other-p256.pub": pem(OTHER),
    }
    all_cases = cases()
    for case in all_cases:
        files[f"cases/{case.id}.sigstore.json"] = dumps(case.bundle)
    manifest = {
        "description": (
            "Keyed Sigstore bundles (cosign sign-blob --key style) from a test Rekor v1 log; "
            "generated by scripts/sigstore/gen_keyed_vectors.py, cross-checked with sigstore-js "
            "(sigstore-js-results.json)"
        ),
        "trusted_root_sha256": hashlib.sha256(root).hexdigest(),
        "log": {"url": LOG_URL, "key_valid_for": list(LOG_VALID)},
        "cases": [case.manifest() for case in all_cases],
    }
    files["manifest.json"] = dumps(manifest)
    for name, data in files.items():
        (out / name).write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if not args.check:
        generate(args.out)
        print(f"wrote {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = [
            str(p.relative_to(tmp))
            for p in sorted(Path(tmp).rglob("*"))
            if p.is_file()
            and (
                not (args.out / p.relative_to(tmp)).is_file()
                or (args.out / p.relative_to(tmp)).read_bytes() != p.read_bytes()
            )
        ]
    if stale:
        print("stale:", ", ".join(stale))
        return 1
    print("vectors are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
