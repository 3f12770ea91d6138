"""c2sp.org/tlog-tiles paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qprov.errors import MalformedInputError

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileRef",
    "encode_index",
    "entries_path",
    "entries_path_for_index",
    "parse_index",
    "parse_tile_path",
    "tile_path",
    "tiles_for_size",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_MAX_LEVEL = 63
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


def encode_index(n: int) -> str:
    """N as zero-padded 3-digit groups, all but the last prefixed with 'x'."""
    if n < 0:
        raise MalformedInputError("tile index must not be negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def _suffix(width: int) -> str:
    if not 0 <= width < TILE_WIDTH:
        raise MalformedInputError(f"partial tile width {width} is out of range")
    return f".p/{width}" if width else ""


def tile_path(level: int, index: int, width: int = 0) -> str:
    """Path of a hash tile; ``width`` 0 means a full tile."""
    if not 0 <= level <= _MAX_LEVEL:
        raise MalformedInputError(f"tile level {level} is out of range")
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = 0) -> str:
    """Path of an entry bundle; ``width`` 0 means a full bundle."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


def entries_path_for_index(seq: int, log_size: int) -> str:
    """Path of the entry bundle holding entry ``seq`` in a log of ``log_size``."""
    if not 0 <= seq < log_size:
        raise MalformedInputError(f"entry {seq} is not in a log of size {log_size}")
    bundle = seq // TILE_WIDTH
    width = min(log_size - bundle * TILE_WIDTH, TILE_WIDTH)
    return entries_path(bundle, 0 if width == TILE_WIDTH else width)


def parse_index(text: str) -> tuple[int, int]:
    """Parse ``N[.p/W]``; returns (N, W) with W = 0 for a full tile."""
    width = 0
    if ".p/" in text:
        text, _, w = text.partition(".p/")
        if not _WIDTH.fullmatch(w) or int(w) >= TILE_WIDTH:
            raise MalformedInputError(f"bad partial tile width {w!r}")
        width = int(w)
    parts = text.split("/")
    if not parts or not _LAST.fullmatch(parts[-1]):
        raise MalformedInputError(f"bad tile index {text!r}")
    if not all(_GROUP.fullmatch(p) for p in parts[:-1]):
        raise MalformedInputError(f"bad tile index {text!r}")
    n = int("".join(p.lstrip("x") for p in parts))
    if n >= 1 << 63 or encode_index(n) != text:
        raise MalformedInputError(f"tile index {text!r} is not canonical")
    return n, width


@dataclass(frozen=True)
class TileRef:
    """A parsed tile path. ``level`` is None for entry bundles."""

    level: int | None
    index: int
    width: int

    @property
    def count(self) -> int:
        """Number of hashes (or entries) in the tile."""
        return self.width or TILE_WIDTH

    def path(self) -> str:
        if self.level is None:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
    if not path.startswith("tile/"):
        raise MalformedInputError(f"{path!r} is not a tile path")
    level_text, _, rest = path[len("tile/") :].partition("/")
    if level_text == "entries":
        index, width = parse_index(rest)
        return TileRef(None, index, width)
    if not _LEVEL.fullmatch(level_text) or int(level_text) > _MAX_LEVEL:
        raise MalformedInputError(f"bad tile level {level_text!r}")
    index, width = parse_index(rest)
    return TileRef(int(level_text), index, width)


def tiles_for_size(size: int) -> list[TileRef]:
    """Every hash tile (full and partial) of a tree of ``size`` leaves."""
    out: list[TileRef] = []
    level, count = 0, size
    while count > 0:
        full, partial = divmod(count, TILE_WIDTH)
        out.extend(TileRef(level, i, 0) for i in range(full))
        if partial:
            out.append(TileRef(level, full, partial))
        count >>= TILE_HEIGHT
        level += 1
    return out
