"""Atomic output."""

from __future__ import annotations

import sys

from qprov._io import atomic_write

__all__ = ["write_output"]


def write_output(data: bytes, destination: str) -> None:
    """Write ``data`` to ``destination`` (``-`` is stdout) atomically.

    A file is written to a temporary file in the same directory, flushed to
    disk and renamed over the destination: readers see the old file or the
    whole new one, never a part.
    """
    if destination == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    atomic_write(destination, data)
