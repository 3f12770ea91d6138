"""C2SP tlog-checkpoint: the signed tree head of the log."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qprov.errors import MalformedInputError, TrustError
from qprov.tlog._note import (
    NoteSigner,
    Verifier,
    parse_vkey,
    sign_note,
    verify_note,
)

__all__ = [
    "Checkpoint",
    "VerifiedCheckpoint",
    "parse_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
]

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_SIZE = (1 << 63) - 1


@dataclass(frozen=True)
class Checkpoint:
    """Checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedInputError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise MalformedInputError(f"checkpoint size {self.size} is out of range")
        if len(self.root) != 32:
            raise MalformedInputError("checkpoint root hash must be 32 bytes")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise MalformedInputError("checkpoint extension lines must be non-empty lines")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root, extension lines, each newline-ended."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        lines.extend(self.extensions)
        return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose signatures verified, with the exact note bytes."""

    checkpoint: Checkpoint
    note: bytes
    signers: tuple[Verifier, ...]

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root


def parse_checkpoint(text: bytes) -> Checkpoint:
    """Parse a checkpoint body (the note text, not the signatures)."""
    try:
        decoded = bytes(text).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise MalformedInputError("checkpoint is not valid UTF-8") from None
    if not decoded.endswith("\n"):
        raise MalformedInputError("checkpoint does not end with a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedInputError("checkpoint has fewer than three lines")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_SIZE:
        raise MalformedInputError(f"checkpoint size {size_text[:40]!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedInputError("checkpoint root hash is not valid base64") from None
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(
    checkpoint: Checkpoint, signers: Sequence[NoteSigner], *, timestamp: int
) -> bytes:
    """Signed note of ``checkpoint``: one line per signer, in order."""
    return sign_note(checkpoint.body(), signers, timestamp=timestamp)


def _as_verifiers(keys: Sequence[Verifier | str]) -> list[Verifier]:
    return [k if isinstance(k, Verifier) else parse_vkey(k) for k in keys]


def verify_checkpoint(
    note: bytes,
    trusted_vkeys: Sequence[Verifier | str],
    *,
    origin: str | None = None,
    require_all: bool = True,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint and return it.

    By default every trusted key must have signed (so neither the Ed25519 nor
    the ML-DSA-44 line can be stripped); ``require_all=False`` gives plain
    signed-note semantics (at least one trusted signature, none failing).
    ``origin``, when given, must match the checkpoint's origin line.
    """
    verifiers = _as_verifiers(trusted_vkeys)
    verified = verify_note(bytes(note), verifiers, require_all=require_all)
    checkpoint = parse_checkpoint(verified.text)
    if origin is not None and checkpoint.origin != origin:
        raise TrustError(f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}")
    return VerifiedCheckpoint(checkpoint, bytes(note), verified.verified)
