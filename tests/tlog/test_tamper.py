"""One test per tamper class, each with the specific error and reason."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from qprov.errors import MalformedInputError, ProofError, SignatureError
from qprov.tlog import (
    SIG_ED25519,
    SIG_MLDSA44_COSIGNATURE,
    ConsistencyError,
    ForkError,
    InclusionError,
    Log,
    NoteSignatureError,
    NoteSigner,
    ProofBundle,
    RollbackError,
    UnverifiedNoteError,
    generate_signer,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion_bundle,
)

from ._util import ORIGIN

TS = 1_700_000_000


@pytest.fixture
def log(tmp_path: Path) -> Log:
    log = Log.open(f"sqlite:///{tmp_path}/log.sqlite")
    log.append_many([b"entry-%d" % i for i in range(13)])
    return log


def _bundle(log: Log, signers: list[NoteSigner], index: int) -> ProofBundle:
    log.sign_checkpoint(signers, timestamp=TS)
    return log.prove_inclusion(index)


def test_valid_bundle_verifies(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    cp = verify_inclusion_bundle(b"entry-5", bundle.to_bytes(), vkeys)
    assert (cp.origin, cp.size) == (ORIGIN, 13)


def test_proof_for_another_leaf(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    with pytest.raises(InclusionError, match="not proven included"):
        verify_inclusion_bundle(b"entry-6", bundle, vkeys)
    moved = ProofBundle(6, bundle.hashes, bundle.checkpoint)
    with pytest.raises(InclusionError, match="not proven included"):
        verify_inclusion_bundle(b"entry-5", moved, vkeys)


def test_truncated_proof(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    short = ProofBundle(5, bundle.hashes[:-1], bundle.checkpoint)
    with pytest.raises(InclusionError, match="too short"):
        verify_inclusion_bundle(b"entry-5", short, vkeys)


def test_extended_proof(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    long = ProofBundle(5, (*bundle.hashes, bytes(32)), bundle.checkpoint)
    with pytest.raises(InclusionError, match="too long"):
        verify_inclusion_bundle(b"entry-5", long, vkeys)


def test_flipped_proof_bit(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    first = bytes([bundle.hashes[0][0] ^ 1]) + bundle.hashes[0][1:]
    bad = ProofBundle(5, (first, *bundle.hashes[1:]), bundle.checkpoint)
    with pytest.raises(InclusionError, match="does not lead to the root"):
        verify_inclusion_bundle(b"entry-5", bad, vkeys)


def test_index_beyond_checkpoint(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    with pytest.raises(InclusionError, match="not in the checkpointed tree"):
        verify_inclusion_bundle(
            b"entry-5", ProofBundle(99, bundle.hashes, bundle.checkpoint), vkeys
        )


def test_checkpoint_signed_by_unknown_key(log: Log, vkeys: list[str]) -> None:
    impostor = [
        generate_signer(ORIGIN, SIG_ED25519, seed=b"\x07" * 32),
        generate_signer(ORIGIN, SIG_MLDSA44_COSIGNATURE, seed=b"\x08" * 32),
    ]
    bundle = _bundle(log, impostor, 5)
    with pytest.raises(UnverifiedNoteError, match="no signature from a trusted key"):
        verify_inclusion_bundle(b"entry-5", bundle, vkeys)


def test_stripped_pq_signature(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    """Dropping the ML-DSA-44 line is a downgrade: refused when both keys are trusted."""
    bundle = _bundle(log, signers, 5)
    text, _, sigs = bundle.checkpoint.partition(b"\n\n")
    ed25519_line = sigs.split(b"\n")[0]
    stripped = text + b"\n\n" + ed25519_line + b"\n"
    with pytest.raises(NoteSignatureError, match="lacks a signature"):
        verify_inclusion_bundle(b"entry-5", ProofBundle(5, bundle.hashes, stripped), vkeys)


@pytest.mark.parametrize("line", [0, 1], ids=["ed25519", "mldsa44"])
def test_corrupted_signature_line(
    log: Log, signers: list[NoteSigner], vkeys: list[str], line: int
) -> None:
    bundle = _bundle(log, signers, 5)
    text, _, sigs = bundle.checkpoint.partition(b"\n\n")
    sig_lines = sigs.rstrip(b"\n").split(b"\n")
    prefix, _, b64 = sig_lines[line].rpartition(b" ")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x40
    sig_lines[line] = prefix + b" " + base64.b64encode(bytes(raw))
    note = text + b"\n\n" + b"\n".join(sig_lines) + b"\n"
    with pytest.raises(NoteSignatureError, match="does not verify"):
        verify_inclusion_bundle(b"entry-5", ProofBundle(5, bundle.hashes, note), vkeys)


def test_altered_checkpoint_body(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    note = bundle.checkpoint.replace(b"\n13\n", b"\n14\n", 1)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_checkpoint(note, vkeys)


def test_unparseable_signature_line(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    bundle = _bundle(log, signers, 5)
    note = bundle.checkpoint.replace(b"\xe2\x80\x94 ", b"- ", 1)
    with pytest.raises(MalformedInputError, match="not a signature"):
        verify_checkpoint(note, vkeys)


def test_rolled_back_checkpoint(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    old = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS), vkeys)
    log.append(b"more")
    new = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS + 1), vkeys)
    assert verify_consistency(old, new, log.consistency_proof(13, 14)).size == 14
    with pytest.raises(RollbackError, match="rolled back: checkpoint of size 13 after size 14"):
        verify_consistency(new, old, [])


def test_forked_log(tmp_path: Path, log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    """Same keys, same size, different history: a fork."""
    other = Log.open(f"sqlite:///{tmp_path}/fork.sqlite")
    other.append_many([b"entry-%d" % i for i in range(12)] + [b"evil"])
    a = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS), vkeys)
    b = verify_checkpoint(other.sign_checkpoint(signers, timestamp=TS), vkeys)
    with pytest.raises(ForkError, match="forked: two different roots for tree size 13"):
        verify_consistency(a, b, [])
    # A fork seen at different sizes shows as a failed consistency proof.
    other.append(b"x")
    c = verify_checkpoint(other.sign_checkpoint(signers, timestamp=TS), vkeys)
    with pytest.raises(ConsistencyError, match="is not consistent with size 13"):
        verify_consistency(a, c, other.consistency_proof(13, 14))


def test_consistency_proof_tampered(log: Log, signers: list[NoteSigner], vkeys: list[str]) -> None:
    old = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS), vkeys)
    log.append_many([b"a", b"b", b"c"])
    new = verify_checkpoint(log.sign_checkpoint(signers, timestamp=TS), vkeys)
    proof = log.consistency_proof(13, 16)
    with pytest.raises(ConsistencyError, match="too short"):
        verify_consistency(old, new, proof[:-1])
    with pytest.raises(ConsistencyError, match="too long"):
        verify_consistency(old, new, [*proof, bytes(32)])


def test_raw_proof_errors_are_proof_errors() -> None:
    from qprov.tlog import _merkle

    with pytest.raises(ProofError, match="empty tree proves nothing"):
        _merkle.verify_consistency(0, 5, [], _merkle.EMPTY_ROOT, bytes(32))
    with pytest.raises(ProofError, match="not in a tree of size 0"):
        _merkle.inclusion_ranges(0, 0)
