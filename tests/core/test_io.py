"""Output files: atomic for regular files, never replacing a device or FIFO."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from qprov._io import atomic_write
from qprov.errors import EnvironmentProblemError


def test_atomic_write_replaces_a_regular_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left


def test_atomic_write_keeps_dev_null_a_device() -> None:
    atomic_write(os.devnull, b"discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode), "/dev/null was replaced by a file"


def test_atomic_write_writes_into_a_fifo_without_replacing_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, b"through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_atomic_write_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "keep"
    target.write_bytes(b"keep me")
    with pytest.raises(EnvironmentProblemError, match="refusing to overwrite"):
        atomic_write(target, b"x", overwrite=False)
    assert target.read_bytes() == b"keep me"


def test_atomic_write_into_a_missing_directory_is_an_environment_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblemError, match="cannot write"):
        atomic_write(tmp_path / "missing" / "out", b"x")
    atomic_write(tmp_path / "made" / "out", b"x", make_parents=True)
    assert (tmp_path / "made" / "out").read_bytes() == b"x"
