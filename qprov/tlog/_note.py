"""C2SP signed notes (c2sp.org/signed-note), verifier keys and signer keys.

Signature types implemented:

* ``0x01`` Ed25519 over the note text (signed-note).
* ``0x04`` timestamped Ed25519 cosignature/v1 (tlog-cosignature), verify only.
* ``0x06`` timestamped ML-DSA-44 subtree cosignature/v1 (tlog-cosignature on
  C2SP main): the signed message is the ``cosigned_message`` structure
  (label ``"subtree/v1\\n\\0"``, cosigner name, timestamp, log origin, start=0,
  end=tree size, root hash), FIPS 204 pure ML-DSA with an empty context.

Key IDs are always SHA-256(name || 0x0A || type || public key)[:4]; a vkey whose
ID does not match is refused (strict C2SP; see docs/adr/0005).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from qprov.errors import MalformedInputError, UnsupportedAlgorithmError
from qprov.tlog._errors import NoteSignatureError, UnverifiedNoteError

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "SIG_COSIGNATURE_ED25519",
    "SIG_ED25519",
    "SIG_MLDSA44_COSIGNATURE",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "SigType",
    "VerifiedNote",
    "Verifier",
    "cosigned_message",
    "generate_signer",
    "key_id",
    "parse_note",
    "parse_skey",
    "parse_vkey",
    "sign_note",
    "verify_note",
]

SigType = Literal[0x01, 0x04, 0x06]
SIG_ED25519: Final = 0x01
SIG_COSIGNATURE_ED25519: Final = 0x04
SIG_MLDSA44_COSIGNATURE: Final = 0x06

_KEY_SIZES: Final[dict[int, int]] = {0x01: 32, 0x04: 32, 0x06: 1312}
_TYPE_NAMES: Final[dict[int, str]] = {
    0x01: "Ed25519",
    0x04: "Ed25519 cosignature/v1",
    0x06: "ML-DSA-44 subtree cosignature/v1",
}
#: Cap on signature lines (golang.org/x/mod uses 100; C2SP requires at least 16).
MAX_SIGNATURES = 100
#: Cap on a whole note (ML-DSA-44 lines are ~3.3 kB each).
MAX_NOTE_BYTES = 1 << 20
_SUBTREE_LABEL: Final = b"subtree/v1\n\x00"
_MLDSA44_SIG_SIZE: Final = 2420
_MAX_TIMESTAMP: Final = (1 << 63) - 1
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedInputError(f"{what} is not valid base64") from None


def _check_name(name: str, what: str) -> None:
    if not name:
        raise MalformedInputError(f"{what}: key name is empty")
    if "+" in name or any(ch.isspace() for ch in name):
        raise MalformedInputError(f"{what}: key name {name!r} contains a space or '+'")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise MalformedInputError(f"{what}: key name contains a control character")


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def cosigned_message(
    cosigner: str, timestamp: int, origin: str, start: int, end: int, root: bytes
) -> bytes:
    """The tlog-cosignature ``cosigned_message`` that type 0x06 signs."""
    name_b, origin_b = cosigner.encode("utf-8"), origin.encode("utf-8")
    if not (1 <= len(name_b) <= 255 and 1 <= len(origin_b) <= 255):
        raise MalformedInputError("cosigner name and log origin must be 1..255 bytes")
    if start and timestamp:
        raise MalformedInputError("a subtree cosignature with start > 0 has timestamp 0")
    if len(root) != 32 or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise MalformedInputError("bad root hash or timestamp for a cosigned message")
    return (
        _SUBTREE_LABEL
        + bytes([len(name_b)])
        + name_b
        + struct.pack(">Q", timestamp)
        + bytes([len(origin_b)])
        + origin_b
        + struct.pack(">QQ", start, end)
        + root
    )


def _checkpoint_head(text: bytes) -> tuple[str, int, bytes]:
    # Local import: _checkpoint imports this module.
    from qprov.tlog._checkpoint import parse_checkpoint

    cp = parse_checkpoint(text)
    return cp.origin, cp.size, cp.root


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier key (vkey): name, key ID, signature type, public key."""

    name: str
    key_id: int
    sig_type: int
    public_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "verifier key")
        size = _KEY_SIZES.get(self.sig_type)
        if size is None:
            raise UnsupportedAlgorithmError(
                f"verifier key {self.name}: signature type 0x{self.sig_type:02x} is not supported"
            )
        if len(self.public_key) != size:
            raise MalformedInputError(
                f"verifier key {self.name}: public key is {len(self.public_key)} bytes, "
                f"{_TYPE_NAMES[self.sig_type]} needs {size}"
            )
        if key_id(self.name, self.sig_type, self.public_key) != self.key_id:
            raise MalformedInputError(
                f"verifier key {self.name}: key ID {self.key_id:08x} does not match its key"
            )

    @property
    def algorithm(self) -> str:
        return _TYPE_NAMES[self.sig_type]

    def to_vkey(self) -> str:
        blob = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    def verify(self, text: bytes, signature: bytes) -> int | None:
        """Verify one signature (without its key ID) over note ``text``.

        Returns the cosignature timestamp for types 0x04/0x06, else None.
        Raises NoteSignatureError.
        """
        fail = NoteSignatureError(
            f"signature by {self.name} ({self.algorithm}, key {self.key_id:08x}) does not verify"
        )
        try:
            if self.sig_type == SIG_ED25519:
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
                return None
            if len(signature) < 8:
                raise fail
            (timestamp,) = struct.unpack(">Q", signature[:8])
            body = signature[8:]
            if timestamp > _MAX_TIMESTAMP:
                raise fail
            if self.sig_type == SIG_COSIGNATURE_ED25519:
                message = b"cosignature/v1\ntime %d\n" % timestamp + text
                Ed25519PublicKey.from_public_bytes(self.public_key).verify(body, message)
                return int(timestamp)
            if len(body) != _MLDSA44_SIG_SIZE:
                raise fail
            origin, size, root = _checkpoint_head(text)
            message = cosigned_message(self.name, timestamp, origin, 0, size, root)
            mldsa.MLDSA44PublicKey.from_public_bytes(self.public_key).verify(body, message)
            return int(timestamp)
        except (InvalidSignature, ValueError, MalformedInputError):
            raise fail from None


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``name+hexid+base64(type||pubkey)``. Raises MalformedInputError."""
    if not isinstance(vkey, str):
        raise MalformedInputError("verifier key must be text")
    vkey = vkey.strip()
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedInputError("verifier key is not of the form name+id+key")
    name, hex_id, blob = parts
    _check_name(name, "verifier key")
    if not _HEX8.fullmatch(hex_id):
        raise MalformedInputError(f"verifier key {name}: key ID {hex_id!r} is not 8 hex digits")
    raw = _b64decode(blob, f"verifier key {name}")
    if len(raw) < 2:
        raise MalformedInputError(f"verifier key {name}: key material is too short")
    return Verifier(name, int(hex_id, 16), raw[0], raw[1:])


@dataclass(frozen=True)
class NoteSigner:
    """A private signing key for notes, in the Go note format.

    ``PRIVATE+KEY+name+hexid+base64(type||seed)``; the seed is the 32-byte
    Ed25519 private key or the 32-byte ML-DSA-44 seed (FIPS 204 xi).
    """

    name: str
    sig_type: int
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "signer key")
        if self.sig_type not in (SIG_ED25519, SIG_MLDSA44_COSIGNATURE):
            raise UnsupportedAlgorithmError(
                f"signer key {self.name}: cannot sign with type 0x{self.sig_type:02x}"
            )
        if len(self.seed) != 32:
            raise MalformedInputError(f"signer key {self.name}: seed must be 32 bytes")

    def _public(self) -> bytes:
        if self.sig_type == SIG_ED25519:
            return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return mldsa.MLDSA44PrivateKey.from_seed_bytes(self.seed).public_key().public_bytes_raw()

    def verifier(self) -> Verifier:
        public = self._public()
        return Verifier(self.name, key_id(self.name, self.sig_type, public), self.sig_type, public)

    def to_skey(self) -> str:
        kid = self.verifier().key_id
        blob = base64.b64encode(bytes([self.sig_type]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{kid:08x}+{blob}"

    def sign(self, text: bytes, *, timestamp: int) -> bytes:
        """The signature line's payload (key ID || signature) for note ``text``."""
        kid = struct.pack(">I", self.verifier().key_id)
        if self.sig_type == SIG_ED25519:
            return kid + Ed25519PrivateKey.from_private_bytes(self.seed).sign(text)
        origin, size, root = _checkpoint_head(text)
        message = cosigned_message(self.name, timestamp, origin, 0, size, root)
        sig = mldsa.MLDSA44PrivateKey.from_seed_bytes(self.seed).sign(message)
        return kid + struct.pack(">Q", timestamp) + sig


def parse_skey(skey: str) -> NoteSigner:
    """Parse ``PRIVATE+KEY+name+hexid+base64(type||seed)``."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise MalformedInputError("signer key is not of the form PRIVATE+KEY+name+id+key")
    _, _, name, hex_id, blob = parts
    if not _HEX8.fullmatch(hex_id):
        raise MalformedInputError(f"signer key {name}: key ID is not 8 hex digits")
    raw = _b64decode(blob, f"signer key {name}")
    if len(raw) != 33:
        raise MalformedInputError(f"signer key {name}: key material must be 33 bytes")
    signer = NoteSigner(name, raw[0], raw[1:])
    if signer.verifier().key_id != int(hex_id, 16):
        raise MalformedInputError(f"signer key {name}: key ID does not match the key")
    return signer


def generate_signer(name: str, sig_type: int, *, seed: bytes | None = None) -> NoteSigner:
    """A new signer key (random unless ``seed`` is given, for tests)."""
    if seed is None:
        if sig_type == SIG_ED25519:
            seed = Ed25519PrivateKey.generate().private_bytes_raw()
        else:
            seed = mldsa.MLDSA44PrivateKey.generate().private_bytes_raw()
    return NoteSigner(name, sig_type, seed)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes = field(repr=False)


@dataclass(frozen=True)
class Note:
    """A parsed (not yet verified) signed note."""

    text: bytes
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose signatures from trusted keys all verified."""

    text: bytes
    verified: tuple[Verifier, ...]
    unverified: tuple[NoteSignature, ...]
    timestamps: dict[str, int | None]


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signature lines. Raises MalformedInputError."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedInputError("note must be bytes")
    data = bytes(data)
    if len(data) > MAX_NOTE_BYTES:
        raise MalformedInputError(f"note is over {MAX_NOTE_BYTES} bytes")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInputError("note is not valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in decoded) or "\x7f" in decoded:
        raise MalformedInputError("note contains a control character")
    split = data.rfind(b"\n\n")
    if split < 0:
        raise MalformedInputError("note has no signature block")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise MalformedInputError("note signature block is empty or lacks a final newline")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedInputError(f"note has over {MAX_SIGNATURES} signatures")
    sigs: list[NoteSignature] = []
    for raw_line in lines:
        line = raw_line.decode("utf-8")
        if not line.startswith("\u2014 "):
            raise MalformedInputError("note has a line that is not a signature after the text")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise MalformedInputError("signature line is not '— name signature'")
        name, b64 = parts
        _check_name(name, "signature line")
        raw = _b64decode(b64, f"signature by {name}")
        if len(raw) < 5:
            raise MalformedInputError(f"signature by {name} is too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return Note(text, tuple(sigs))


def verify_note(
    data: bytes, verifiers: Sequence[Verifier], *, require_all: bool = False
) -> VerifiedNote:
    """Verify a signed note (C2SP semantics).

    Signatures from unknown keys are ignored; every signature from a known key
    must verify (else NoteSignatureError); at least one must (else
    UnverifiedNoteError). With ``require_all`` every given verifier must have
    signed, so a stripped signature line (e.g. the post-quantum one) fails.
    """
    note = parse_note(data)
    if not verifiers:
        raise UnverifiedNoteError("no trusted verifier keys were given")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: dict[tuple[str, int], Verifier] = {}
    timestamps: dict[str, int | None] = {}
    unverified: list[NoteSignature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        timestamps[verifier.to_vkey()] = verifier.verify(note.text, sig.signature)
        verified[(sig.name, sig.key_id)] = verifier
    if not verified:
        raise UnverifiedNoteError("note has no signature from a trusted key")
    if require_all:
        missing = [v for k, v in known.items() if k not in verified]
        if missing:
            names = ", ".join(f"{v.name} ({v.algorithm})" for v in missing)
            raise NoteSignatureError(f"note lacks a signature by trusted key(s): {names}")
    return VerifiedNote(note.text, tuple(verified.values()), tuple(unverified), timestamps)


def sign_note(text: bytes, signers: Sequence[NoteSigner], *, timestamp: int) -> bytes:
    """Sign note text (which must end in a newline) with each signer, in order."""
    if not text.endswith(b"\n"):
        raise MalformedInputError("note text must end with a newline")
    if not signers:
        raise MalformedInputError("at least one signer is needed")
    lines = []
    for signer in signers:
        payload = base64.b64encode(signer.sign(text, timestamp=timestamp)).decode("ascii")
        lines.append(f"\u2014 {signer.name} {payload}\n".encode())
    out = text + b"\n" + b"".join(lines)
    parse_note(out)  # never emit a note we would refuse
    return out
