"""``--verify-record``: re-hash installed files against their RECORD."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from qprov.errors import VerificationError
from qprov.sbom._model import Inventory, ProgressCallback
from qprov.sbom._record import RecordEntry

__all__ = ["RecordFinding", "RecordReport", "RecordVerificationError", "verify_record"]

FindingKind = Literal["modified", "missing", "unexpected"]


@dataclass(frozen=True, slots=True, order=True)
class RecordFinding:
    """One discrepancy: a file that changed, vanished, or appeared."""

    package: str
    kind: FindingKind
    path: str
    detail: str = ""


@dataclass(slots=True)
class RecordReport:
    """The outcome of :func:`verify_record`."""

    packages: int = 0
    files_checked: int = 0
    bytes_hashed: int = 0
    findings: list[RecordFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class RecordVerificationError(VerificationError):
    """Installed files differ from RECORD. ``report`` holds every finding."""

    def __init__(self, report: RecordReport) -> None:
        counts: dict[str, int] = {}
        for finding in report.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        super().__init__(f"installed files differ from RECORD: {summary}")
        self.report = report


_CHUNK = 1 << 20
# Files from this size on (as RECORD gives it) are hashed on worker threads:
# hashlib and file reads release the GIL, so big files hash in parallel with
# each other and with the main thread, which hashes the small ones itself
# (for those, a thread hand-off costs more than the hashing).
_PARALLEL_MIN_BYTES = 1 << 18


def _hash_file(path: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as handle:
        # One read of the size the file has now (+1 to see its end), then chunks.
        want = min(os.fstat(handle.fileno()).st_size + 1, _CHUNK)
        while chunk := handle.read(want):
            sha.update(chunk)
            size += len(chunk)
            want = _CHUNK if len(chunk) == want else 1
    return sha.hexdigest(), size


def _norm(site: Path, relative: str) -> str:
    return os.path.normpath(os.path.join(site, relative))


def verify_record(
    inventory: Inventory, *, progress: ProgressCallback | None = None
) -> RecordReport:
    """Re-hash every file RECORD lists and look for files RECORD does not list.

    Modified: a SHA-256 or size mismatch. Missing: a listed file that is gone.
    Unexpected: a file inside a directory that installed files live in (below
    each site directory's top-level package directories and ``.dist-info``)
    that no RECORD lists; ``.pyc`` files in ``__pycache__`` whose source is
    listed are expected (Python writes them at import time). Returns the report
    when there are no findings; otherwise raises :class:`RecordVerificationError`
    carrying it.
    """
    report = RecordReport()
    listed: set[str] = set()
    owned_dirs: dict[str, str] = {}  # absolute top-level dir -> package name
    installed = [p for p in inventory.packages if p.record is not None and p.location]
    total = sum(len(p.record or ()) for p in installed)
    done = 0
    pending: list[tuple[str, RecordEntry, Future[tuple[str, int]]]] = []
    pool = ThreadPoolExecutor(thread_name_prefix="qprov-verify-record")
    try:
        for package in installed:
            assert package.record is not None  # noqa: S101 - filtered above
            assert package.location is not None  # noqa: S101 - filtered above
            report.packages += 1
            site = Path(package.location).parent
            name = package.metadata.name
            for entry in package.record:
                done += 1
                full = _norm(site, entry.path)
                listed.add(full)
                top = entry.path.split("/", 1)
                if len(top) == 2 and top[0] not in ("..", ""):
                    owned_dirs.setdefault(_norm(site, top[0]), name)
                if entry.algorithm != "sha256" or entry.value is None:
                    continue  # no SHA-256 to check (RecordEntry.sha256 is None)
                if entry.size is not None and entry.size >= _PARALLEL_MIN_BYTES:
                    pending.append((name, entry, pool.submit(_hash_file, full)))
                else:
                    try:
                        result = _hash_file(full)
                    except OSError as exc:
                        _check(report, name, entry, exc)
                    else:
                        _check(report, name, entry, result)
                if progress is not None and done % 256 == 0:
                    progress(done, total, entry.path)
        for name, entry, future in pending:
            try:
                result = future.result()
            except OSError as exc:
                _check(report, name, entry, exc)
            else:
                _check(report, name, entry, result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # e.g. interrupted: hash no more
        raise
    pool.shutdown()
    for directory in sorted(owned_dirs):
        owner = owned_dirs[directory]
        for dirpath, _dirnames, filenames in os.walk(directory):
            for filename in filenames:
                full = os.path.join(dirpath, filename)
                if full in listed or _is_expected_bytecode(full, listed):
                    continue
                relative = os.path.relpath(full, os.path.dirname(directory))
                report.findings.append(RecordFinding(owner, "unexpected", relative))
    if progress is not None:
        progress(total, total, "done")
    report.findings.sort()
    if report.findings:
        raise RecordVerificationError(report)
    return report


def _check(
    report: RecordReport, name: str, entry: RecordEntry, result: tuple[str, int] | OSError
) -> None:
    """Record the outcome of hashing one file RECORD lists (with a SHA-256)."""
    if isinstance(result, FileNotFoundError):
        report.findings.append(RecordFinding(name, "missing", entry.path))
        return
    if isinstance(result, OSError):
        report.findings.append(RecordFinding(name, "missing", entry.path, str(result)))
        return
    actual, size = result
    expected = entry.sha256
    report.files_checked += 1
    report.bytes_hashed += size
    if actual != expected:
        report.findings.append(
            RecordFinding(name, "modified", entry.path, f"sha256 {actual}, RECORD {expected}")
        )
    elif entry.size is not None and entry.size != size:
        report.findings.append(
            RecordFinding(name, "modified", entry.path, f"size {size}, RECORD {entry.size}")
        )


def _is_expected_bytecode(full: str, listed: set[str]) -> bool:
    directory, filename = os.path.split(full)
    if not filename.endswith(".pyc") or os.path.basename(directory) != "__pycache__":
        return False
    module = filename.split(".", 1)[0]
    return os.path.join(os.path.dirname(directory), f"{module}.py") in listed
