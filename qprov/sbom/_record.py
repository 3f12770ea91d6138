"""RECORD files (the wheel spec's installed-files manifest): parsing and digests.

A RECORD is CSV: ``path,algorithm=urlsafe-b64-digest-without-padding,size``.
The RECORD file itself and files compiled at install time (``.pyc``) carry no
hash. qprov keeps only SHA-256 digests (the spec forbids MD5 and SHA-1; other
algorithms are kept but not used for the package digest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from qprov.errors import MalformedInputError

__all__ = [
    "INSTALLER_FILES",
    "RecordEntry",
    "parse_record",
    "record_digest",
]

# Files an installer writes into .dist-info that are not in the wheel: they differ
# between two installs of the same wheel and are left out of the package digest.
INSTALLER_FILES = frozenset(
    {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD", "RECORD.jws", "RECORD.p7s"}
)

_MAX_RECORD_BYTES = 64 * 1024 * 1024


_B64_SHA256 = re.compile(r"^[A-Za-z0-9_-]{43}$")
# The usual row, checked in one C call: unquoted path without NUL or CR, an empty or
# lower-case sha256 hash, an empty or ASCII-digit size. Anything else (quotes, other
# algorithms, errors) takes the general path below, which decides as before.
_PLAIN_ROW = re.compile(r'([^",\r\x00]+),(?:sha256=([A-Za-z0-9_-]{43}))?,([0-9]*)\r?')


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One row of a RECORD file.

    ``value`` is the digest as RECORD writes it (urlsafe base64, no padding);
    :attr:`digest` gives it as lower-case hex. Both are None when absent.
    """

    path: str
    algorithm: str | None
    value: str | None
    size: int | None

    @property
    def digest(self) -> str | None:
        if self.value is None:
            return None
        return base64.urlsafe_b64decode(self.value + "=" * (-len(self.value) % 4)).hex()

    @property
    def sha256(self) -> str | None:
        """The SHA-256 digest as hex, or None if the entry has no SHA-256."""
        return self.digest if self.algorithm == "sha256" else None


def _fast_constructor() -> Callable[[str, str | None, str | None, int | None], RecordEntry]:
    """``RecordEntry(path, algorithm, value, size)`` at half the cost, for the parser.

    A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; scanning an environment creates ~50,000 entries
    (~40 ms that way, ~20 ms this way). This sets the same four slots through
    their descriptors: the result is an ordinary, still frozen, equal
    :class:`RecordEntry` (tests/sbom/test_sbom_speedups.py).
    """
    new = object.__new__
    slots = RecordEntry.__dict__  # the slot descriptors of the four fields
    set_path = slots["path"].__set__
    set_algorithm = slots["algorithm"].__set__
    set_value = slots["value"].__set__
    set_size = slots["size"].__set__

    def make(path: str, algorithm: str | None, value: str | None, size: int | None) -> RecordEntry:
        entry: RecordEntry = new(RecordEntry)
        set_path(entry, path)
        set_algorithm(entry, algorithm)
        set_value(entry, value)
        set_size(entry, size)
        return entry

    return make


_entry = _fast_constructor()


def _check_hash(field: str, line: int) -> tuple[str | None, str | None]:
    if not field:
        return None, None
    algorithm, sep, value = field.partition("=")
    if not sep or not algorithm or not value:
        raise MalformedInputError(f"RECORD line {line}: hash {field!r} is not 'algorithm=digest'")
    algorithm = algorithm.lower()
    if algorithm == "sha256":
        if not _B64_SHA256.match(value):
            raise MalformedInputError(
                f"RECORD line {line}: sha256 digest is not 43 urlsafe base64 characters"
            )
        return algorithm, value
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedInputError(f"RECORD line {line}: hash is not urlsafe base64") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value.rstrip("="):
        raise MalformedInputError(f"RECORD line {line}: hash is not canonical urlsafe base64")
    return algorithm, value.rstrip("=")


def parse_record(text: str) -> list[RecordEntry]:
    """Parse RECORD text. Raises :class:`MalformedInputError` naming the bad line."""
    if len(text) > _MAX_RECORD_BYTES:
        raise MalformedInputError("RECORD is larger than 64 MiB")
    entries: list[RecordEntry] = []
    append = entries.append
    plain = _PLAIN_ROW.fullmatch
    make = _entry
    for number, raw_line in enumerate(text.split("\n"), start=1):
        match = plain(raw_line)
        if match is not None:
            path, value, size_text = match.groups()
            append(
                make(
                    path, "sha256" if value else None, value, int(size_text) if size_text else None
                )
            )
            continue
        line = raw_line.removesuffix("\r")
        if not line.strip():
            continue
        if '"' in line:  # quoted fields (paths with commas): let csv parse the line
            import csv

            try:
                rows = list(csv.reader([line]))
            except csv.Error as exc:
                raise MalformedInputError(f"RECORD line {number}: not valid CSV: {exc}") from exc
            row = rows[0] if rows else []
        else:
            row = line.split(",")
        if len(row) != 3:
            raise MalformedInputError(f"RECORD line {number}: expected 3 fields, got {len(row)}")
        path, hash_field, size_field = row
        if not path:
            raise MalformedInputError(f"RECORD line {number}: empty path")
        if "\x00" in path:
            raise MalformedInputError(f"RECORD line {number}: NUL in path")
        algorithm, value = _check_hash(hash_field, number) if hash_field else (None, None)
        size: int | None = None
        if size_field:
            if not size_field.isascii() or not size_field.isdigit():
                raise MalformedInputError(
                    f"RECORD line {number}: size {size_field!r} is not a number"
                )
            size = int(size_field)
        entries.append(RecordEntry(path, algorithm, value, size))
    return entries


def record_digest(entries: list[RecordEntry], dist_info: str) -> str | None:
    """The qprov *record digest* of an installed distribution (hex), or None.

    SHA-256 over the UTF-8 text of the sorted lines ``path TAB sha256=B64 LF``
    (the RECORD's own path and hash fields, B64 being urlsafe base64 without
    padding) for
    every entry with a SHA-256 digest, leaving out installer files in
    ``dist_info`` (see :data:`INSTALLER_FILES`) and files outside the install
    root (paths starting with ``..``, such as console scripts, which installers
    rewrite). Two installs of the same wheel give the same record digest.
    """
    prefix = dist_info.rstrip("/") + "/"
    skip = len(prefix)
    lines = [
        f"{entry.path}\tsha256={entry.value}\n"
        for entry in entries
        if entry.algorithm == "sha256"
        and entry.value is not None
        and not entry.path.startswith(("../", "/"))
        and not (entry.path.startswith(prefix) and entry.path[skip:] in INSTALLER_FILES)
    ]
    if not lines:
        return None
    lines.sort()
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
