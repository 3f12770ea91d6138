"""File output without partial files: write to a temporary file, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from qprov.errors import EnvironmentProblemError, MalformedInputError

__all__ = ["atomic_write", "read_input", "write_output"]

_MAX_INPUT = 256 * 1024 * 1024


def _is_special(target: Path) -> bool:
    """True for an existing non-regular file (a device such as /dev/null, a FIFO, a socket)."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    make_parents: bool = False,
) -> None:
    """Write ``data`` to ``path`` atomically: either the whole file appears or nothing.

    The data goes to a temporary file in the same directory, is flushed to disk, and
    is renamed over ``path``. An existing device, FIFO or socket (``/dev/null``,
    ``/dev/stdout``, a named pipe) is written to directly instead: renaming over it
    would replace the device with a regular file.
    """
    target = Path(path)
    if _is_special(target):
        try:
            with open(target, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise EnvironmentProblemError(f"cannot write {target}: {exc.strerror}") from None
        return
    if not overwrite and target.exists():
        raise EnvironmentProblemError(f"{target} exists; refusing to overwrite it")
    directory = target.parent if str(target.parent) else Path(".")
    try:
        if make_parents:
            directory.mkdir(parents=True, exist_ok=True)
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
        raise MalformedInputError(f"{what} {path} is larger than {max_bytes} bytes")
    return data
