"""Offline proofs in the c2sp.org/tlog-proof@v1 format, and their verification."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from qprov.errors import MalformedInputError, ProofError
from qprov.tlog import _merkle
from qprov.tlog._checkpoint import VerifiedCheckpoint, verify_checkpoint
from qprov.tlog._errors import ConsistencyError, ForkError, InclusionError, RollbackError
from qprov.tlog._note import Verifier

__all__ = [
    "PROOF_HEADER",
    "ProofBundle",
    "parse_hash_lines",
    "verify_consistency",
    "verify_inclusion_bundle",
]

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_PROOF_HASHES = 64
_MAX_BUNDLE_BYTES = 1 << 20


def _hash_from_b64(line: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedInputError(f"{what} is not valid base64") from None
    if len(raw) != _merkle.HASH_SIZE:
        raise MalformedInputError(f"{what} is {len(raw)} bytes, not 32")
    return raw


def parse_hash_lines(data: bytes, *, what: str = "proof") -> tuple[bytes, ...]:
    """A list of base64 SHA-256 hashes, one per line (empty input = empty proof)."""
    try:
        text = bytes(data).decode("ascii")
    except (UnicodeDecodeError, TypeError):
        raise MalformedInputError(f"{what} is not ASCII") from None
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) > _MAX_PROOF_HASHES:
        raise MalformedInputError(f"{what} has more than {_MAX_PROOF_HASHES} hashes")
    return tuple(_hash_from_b64(ln.strip(), f"{what} hash {i}") for i, ln in enumerate(lines))


@dataclass(frozen=True)
class ProofBundle:
    """c2sp.org/tlog-proof@v1: index, inclusion proof, verbatim checkpoint, extra."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes = field(repr=False)
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < 1 << 63:
            raise MalformedInputError(f"proof index {self.index} is out of range")
        if len(self.hashes) > _MAX_PROOF_HASHES:
            raise MalformedInputError("proof has too many hashes")
        if any(len(h) != _merkle.HASH_SIZE for h in self.hashes):
            raise MalformedInputError("proof hashes must be 32 bytes")

    def to_bytes(self) -> bytes:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.hashes)
        return ("\n".join(lines) + "\n\n").encode("ascii") + self.checkpoint

    @classmethod
    def from_bytes(cls, data: bytes) -> ProofBundle:
        """Parse a tlog-proof. Raises MalformedInputError."""
        if not isinstance(data, bytes | bytearray):
            raise MalformedInputError("proof bundle must be bytes")
        data = bytes(data)
        if len(data) > _MAX_BUNDLE_BYTES:
            raise MalformedInputError("proof bundle is too large")
        head, sep, checkpoint = data.partition(b"\n\n")
        if not sep:
            raise MalformedInputError("proof bundle has no blank line before the checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise MalformedInputError("proof bundle header is not ASCII") from None
        if lines[0] != PROOF_HEADER:
            raise MalformedInputError(f"proof bundle does not start with {PROOF_HEADER}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            try:
                extra = base64.b64decode(lines[pos][6:].encode("ascii"), validate=True)
            except (binascii.Error, ValueError):
                raise MalformedInputError("proof bundle extra data is not base64") from None
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise MalformedInputError("proof bundle has no index line")
        index_text = lines[pos][6:]
        if not _DECIMAL.fullmatch(index_text):
            raise MalformedInputError(f"proof bundle index {index_text[:30]!r} is not a number")
        hashes = tuple(
            _hash_from_b64(ln, f"proof hash {i}") for i, ln in enumerate(lines[pos + 1 :])
        )
        if not checkpoint:
            raise MalformedInputError("proof bundle has no checkpoint")
        return cls(int(index_text), hashes, checkpoint, extra)


def verify_inclusion_bundle(
    entry: bytes,
    bundle: ProofBundle | bytes,
    trusted_vkeys: Sequence[Verifier | str],
    *,
    origin: str | None = None,
) -> VerifiedCheckpoint:
    """Verify offline that ``entry`` is in the log, given only the log's vkeys.

    Checks the checkpoint's signatures (every trusted key must have signed),
    then the inclusion proof of SHA-256(0x00 || entry) at the bundle's index
    against the checkpoint root. Returns the verified checkpoint.
    """
    if not trusted_vkeys:
        raise MalformedInputError("no trusted log keys were given")
    if not isinstance(bundle, ProofBundle):
        bundle = ProofBundle.from_bytes(bundle)
    checkpoint = verify_checkpoint(bundle.checkpoint, trusted_vkeys, origin=origin)
    if bundle.index >= checkpoint.size:
        raise InclusionError(
            f"entry index {bundle.index} is not in the checkpointed tree of size {checkpoint.size}"
        )
    try:
        _merkle.verify_inclusion(
            bundle.index,
            checkpoint.size,
            _merkle.leaf_hash(bytes(entry)),
            bundle.hashes,
            checkpoint.root,
        )
    except ProofError as exc:
        raise InclusionError(f"entry is not proven included: {exc}") from None
    return checkpoint


def _checked(
    cp: VerifiedCheckpoint | bytes, trusted: Sequence[Verifier | str] | None, what: str
) -> VerifiedCheckpoint:
    if isinstance(cp, VerifiedCheckpoint):
        return cp
    if not trusted:
        raise MalformedInputError(f"{what} checkpoint given as bytes needs trusted_vkeys")
    return verify_checkpoint(cp, trusted)


def verify_consistency(
    old_checkpoint: VerifiedCheckpoint | bytes,
    new_checkpoint: VerifiedCheckpoint | bytes,
    proof: Sequence[bytes],
    *,
    trusted_vkeys: Sequence[Verifier | str] | None = None,
) -> VerifiedCheckpoint:
    """Verify that ``new_checkpoint`` extends ``old_checkpoint``; return the new one.

    Checkpoints given as note bytes are verified with ``trusted_vkeys`` first.
    Raises RollbackError (new is smaller), ForkError (same size, different
    roots) or ConsistencyError (the proof fails). From size 0 the proof must
    be empty and the old root must be the empty-tree root.
    """
    old = _checked(old_checkpoint, trusted_vkeys, "old")
    new = _checked(new_checkpoint, trusted_vkeys, "new")
    if old.origin != new.origin:
        raise ConsistencyError(f"checkpoints are of two logs: {old.origin!r}, {new.origin!r}")
    if new.size < old.size:
        raise RollbackError(
            f"log {new.origin!r} rolled back: checkpoint of size {new.size} after size {old.size}"
        )
    if new.size == old.size:
        if new.root != old.root:
            raise ForkError(
                f"log {new.origin!r} forked: two different roots for tree size {new.size}"
            )
        if proof:
            raise ConsistencyError("consistency proof between equal sizes must be empty")
        return new
    if old.size == 0:
        if old.root != _merkle.EMPTY_ROOT:
            raise ForkError(f"log {old.origin!r} signed a non-empty root for tree size 0")
        if proof:
            raise ConsistencyError("consistency proof from size 0 must be empty")
        return new
    try:
        _merkle.verify_consistency(old.size, new.size, list(proof), old.root, new.root)
    except ProofError as exc:
        raise ConsistencyError(
            f"log {new.origin!r}: size {new.size} is not consistent with size {old.size}: {exc}"
        ) from None
    return new
