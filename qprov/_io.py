"""File output without partial files: write to a temporary file, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from qprov.errors import EnvironmentProblemError

__all__ = ["atomic_write", "read_input", "write_output"]

_MAX_INPUT = 256 * 1024 * 1024


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, overwrite: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically: either the whole file appears or nothing."""
    target = Path(path)
    if not overwrite and target.exists():
        raise EnvironmentProblemError(f"{target} exists; refusing to overwrite it")
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if not overwrite and target.exists():
            raise EnvironmentProblemError(f"{target} exists; refusing to overwrite it")
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise EnvironmentProblemError(f"cannot write {target}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_output(path: str, data: bytes, *, mode: int = 0o644) -> None:
    """Write to ``path``, or to stdout when ``path`` is ``-``."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(path, data, mode=mode)


def read_input(path: str, *, what: str = "input", max_bytes: int = _MAX_INPUT) -> bytes:
    """Read a file (or stdin for ``-``) with a size limit."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > max_bytes:
        from qprov.errors import MalformedInputError

        raise MalformedInputError(f"{what} {path} is larger than {max_bytes} bytes")
    return data
