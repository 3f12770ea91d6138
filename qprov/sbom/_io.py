"""Atomic output."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from qprov.errors import EnvironmentProblemError

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
    target = Path(destination)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise EnvironmentProblemError(f"{destination}: cannot create a file there: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise EnvironmentProblemError(f"{destination}: cannot be written: {exc}") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
