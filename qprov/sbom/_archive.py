"""Bounded, validating readers for wheel (zip) and sdist (tar) archives.

Every member name is checked before anything is read: no absolute paths, no
``..`` segments, no drive letters or backslashes, no symlinks or other special
files, no duplicates. Decompression is bounded three ways (see
:class:`ArchiveLimits`): total uncompressed bytes, bytes per member, and the
compression ratio of each member; the bounds are enforced on the bytes actually
produced, not on the sizes the archive claims.
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from qprov.errors import MalformedInputError

__all__ = ["ArchiveLimits", "MemberDigest", "SafeSdist", "SafeZip", "check_member_name"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Decompression bounds. The defaults fit the largest scientific wheels."""

    max_total_bytes: int = 4 * 1024**3
    max_member_bytes: int = 2 * 1024**3
    max_ratio: int = 200
    ratio_floor_bytes: int = 1024 * 1024  # ratios are only checked above this size
    max_members: int = 200_000


def check_member_name(archive: str, name: str) -> str:
    """Return the normalized member name or raise for unsafe names."""
    if not name or "\x00" in name:
        raise MalformedInputError(f"{archive}: member with an empty or NUL name")
    if "\\" in name:
        raise MalformedInputError(f"{archive}: member {name!r} contains a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise MalformedInputError(f"{archive}: member {name!r} has an absolute path")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise MalformedInputError(f"{archive}: member {name!r} escapes the archive ('..')")
    return "/".join(p for p in parts if p != ".")


class _Budget:
    def __init__(self, archive: str, limits: ArchiveLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.total = 0

    def consume(self, name: str, member_total: int, compressed: int, chunk: int) -> int:
        member_total += chunk
        self.total += chunk
        lim = self.limits
        if member_total > lim.max_member_bytes:
            raise MalformedInputError(
                f"{self.archive}: member {name!r} decompresses past {lim.max_member_bytes} bytes"
            )
        if self.total > lim.max_total_bytes:
            raise MalformedInputError(
                f"{self.archive}: archive decompresses past {lim.max_total_bytes} bytes"
            )
        if member_total > lim.ratio_floor_bytes and member_total > lim.max_ratio * max(
            compressed, 1
        ):
            raise MalformedInputError(
                f"{self.archive}: member {name!r} has a compression ratio above "
                f"{lim.max_ratio} (zip bomb?)"
            )
        return member_total


@dataclass(frozen=True, slots=True)
class MemberDigest:
    """A member's SHA-256 (hex) and uncompressed size."""

    name: str
    sha256: str
    size: int


class SafeZip:
    """A wheel opened for bounded reading. Use as a context manager."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None) -> None:
        self.path = path
        self.label = path.name
        self.limits = limits or ArchiveLimits()
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            # NotImplementedError: a member needs a newer zip version than zipfile reads
            raise MalformedInputError(f"{self.label}: not a readable zip archive: {exc}") from exc
        self._budget = _Budget(self.label, self.limits)
        self._infos: dict[str, zipfile.ZipInfo] = {}
        try:
            self._check_members()
        except BaseException:
            self._zip.close()
            raise

    def _check_members(self) -> None:
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_members:
            raise MalformedInputError(f"{self.label}: more than {self.limits.max_members} members")
        for info in infos:
            name = check_member_name(self.label, info.filename)
            mode = info.external_attr >> 16
            if (
                info.create_system == 3
                and mode
                and stat.S_IFMT(mode)
                not in (
                    0,
                    stat.S_IFREG,
                    stat.S_IFDIR,
                )
            ):
                kind = "a symlink" if stat.S_ISLNK(mode) else "a special file"
                raise MalformedInputError(f"{self.label}: member {name!r} is {kind}")
            if info.is_dir():
                continue
            if name in self._infos:
                raise MalformedInputError(f"{self.label}: duplicate member {name!r}")
            if info.flag_bits & 0x1:
                raise MalformedInputError(f"{self.label}: member {name!r} is encrypted")
            self._infos[name] = info

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        return sorted(self._infos)

    def _stream(self, name: str) -> Iterator[bytes]:
        info = self._infos[name]
        member_total = 0
        try:
            with self._zip.open(info) as handle:
                while chunk := handle.read(_CHUNK):
                    member_total = self._budget.consume(
                        name, member_total, info.compress_size, len(chunk)
                    )
                    yield chunk
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            NotImplementedError,
            ValueError,
            zlib.error,
        ) as exc:
            raise MalformedInputError(f"{self.label}: member {name!r} is corrupt: {exc}") from exc

    def read(self, name: str) -> bytes:
        """Read one member in full (bounded)."""
        if name not in self._infos:
            raise MalformedInputError(f"{self.label}: no member {name!r}")
        return b"".join(self._stream(name))

    def digest(self, name: str) -> MemberDigest:
        """SHA-256 of one member, streamed (bounded); also checks its CRC."""
        sha = hashlib.sha256()
        size = 0
        for chunk in self._stream(name):
            sha.update(chunk)
            size += len(chunk)
        return MemberDigest(name, sha.hexdigest(), size)


class SafeSdist:
    """An sdist (``.tar.gz``) opened for bounded reading of PKG-INFO and friends."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None) -> None:
        self.path = path
        self.label = path.name
        self.limits = limits or ArchiveLimits()
        self._budget = _Budget(self.label, self.limits)
        self._files: dict[str, bytes] = {}
        try:
            with tarfile.open(path, mode="r:*") as tar:
                self._scan(tar)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise MalformedInputError(f"{self.label}: not a readable tar archive: {exc}") from exc

    def _scan(self, tar: tarfile.TarFile) -> None:
        count = 0
        for member in tar:
            count += 1
            if count > self.limits.max_members:
                raise MalformedInputError(
                    f"{self.label}: more than {self.limits.max_members} members"
                )
            name = check_member_name(self.label, member.name)
            if member.issym() or member.islnk():
                raise MalformedInputError(f"{self.label}: member {name!r} is a link")
            if member.isdir():
                continue
            if not member.isfile():
                raise MalformedInputError(f"{self.label}: member {name!r} is a special file")
            parts = name.split("/")
            # Only top-level metadata is kept in memory; the rest is streamed for bounds.
            keep = len(parts) == 2 and parts[1] in {"PKG-INFO", "pyproject.toml"}
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = self._drain(name, handle, keep)
            if keep:
                self._files[name] = data

    def _drain(self, name: str, handle: IO[bytes], keep: bool) -> bytes:
        buffer = io.BytesIO()
        member_total = 0
        compressed = max(self.path.stat().st_size, 1)
        while chunk := handle.read(_CHUNK):
            member_total = self._budget.consume(name, member_total, compressed, len(chunk))
            if keep:
                buffer.write(chunk)
        return buffer.getvalue()

    def top_level_file(self, basename: str) -> tuple[str, bytes] | None:
        hits = sorted((n, d) for n, d in self._files.items() if n.split("/")[1] == basename)
        return hits[0] if hits else None
