"""Scan wheel and sdist files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.sbom._archive import ArchiveLimits, MemberDigest, SafeSdist, SafeZip
from qprov.sbom._embedded import load_embedded
from qprov.sbom._graph import current_markers
from qprov.sbom._installed import wheel_tags
from qprov.sbom._metadata import parse_metadata
from qprov.sbom._model import Inventory, Package, ProgressCallback
from qprov.sbom._native import bundled_from_paths, crypto_library, sniff_bytes
from qprov.sbom._record import RecordEntry, parse_record

__all__ = ["scan_files", "scan_sdist", "scan_wheel"]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
    except OSError as exc:
        raise EnvironmentProblemError(f"{path}: cannot be read: {exc}") from exc
    return sha.hexdigest()


def _dist_info_dir(archive: SafeZip, name: str, version: str) -> str:
    tops = sorted({n.split("/", 1)[0] for n in archive.names() if "/" in n})
    candidates = [t for t in tops if t.endswith(".dist-info")]
    if len(candidates) != 1:
        raise MalformedInputError(
            f"{archive.label}: expected one .dist-info directory, found {len(candidates)}"
        )
    found = candidates[0]
    stem = found.removesuffix(".dist-info")
    dist_name, _, dist_version = stem.rpartition("-")
    if canonicalize_name(dist_name) != canonicalize_name(name):
        raise MalformedInputError(f"{archive.label}: {found} does not match the file name")
    del version, dist_version  # versions are compared through METADATA below
    return found


def scan_wheel(
    path: Path, *, include_extensions: bool = False, limits: ArchiveLimits | None = None
) -> Package:
    """Read one wheel: metadata, RECORD checked against every member, native code, SBOMs."""
    try:
        name, version, _build, _tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise MalformedInputError(f"{path.name}: not a valid wheel file name: {exc}") from exc
    with SafeZip(path, limits) as archive:
        dist_info = _dist_info_dir(archive, str(name), str(version))
        names = set(archive.names())
        metadata_name = f"{dist_info}/METADATA"
        if metadata_name not in names:
            raise MalformedInputError(f"{path.name}: missing {metadata_name}")
        metadata = parse_metadata(archive.read(metadata_name), origin=f"{path.name}:METADATA")
        if canonicalize_name(metadata.name) != name:
            raise MalformedInputError(
                f"{path.name}: METADATA names {metadata.name!r}, the file name {name!r}"
            )
        record_name = f"{dist_info}/RECORD"
        if record_name not in names:
            raise MalformedInputError(f"{path.name}: missing {record_name}")
        try:
            record_text = archive.read(record_name).decode("utf-8")
            record = parse_record(record_text)
        except (UnicodeDecodeError, MalformedInputError) as exc:
            raise MalformedInputError(f"{path.name}: {record_name}: {exc}") from exc
        digests = {n: archive.digest(n) for n in sorted(names)}
        _check_record(path.name, record, digests, record_name)
        package = Package(
            metadata=metadata,
            origin="wheel",
            sha256=file_sha256(path),
            digest_source="wheel",
            file_name=path.name,
        )
        wheel_file = f"{dist_info}/WHEEL"
        if wheel_file in names:
            package.wheel_tags = wheel_tags(archive.read(wheel_file).decode("utf-8", "replace"))
        for member in sorted(n for n in names if n.startswith(f"{dist_info}/sboms/")):
            package.embedded.append(load_embedded(member, archive.read(member)))
        entries = [RecordEntry(n, "sha256", None, d.size) for n, d in digests.items()]
        package.bundled = bundled_from_paths(entries, include_extensions)
        for bundled in package.bundled:
            bundled.sha256 = digests[bundled.path].sha256
            if bundled.name in {"libssl", "libcrypto"}:
                version_found = sniff_bytes(archive.read(bundled.path), "openssl")
                package.crypto_libraries.append(
                    crypto_library(
                        "openssl", version_found, bundled.path, f"version string in {bundled.name}"
                    )
                )
        if metadata.canonical_name == "cryptography":
            for member in sorted(names):
                if member.startswith("cryptography/hazmat/bindings/_rust") and member.endswith(
                    (".so", ".pyd", ".dylib")
                ):
                    found = sniff_bytes(archive.read(member), "openssl")
                    package.crypto_libraries.append(
                        crypto_library(
                            "openssl",
                            found,
                            member,
                            "version string in the bundled extension module",
                        )
                    )
    return package


def _check_record(
    label: str, record: list[RecordEntry], digests: dict[str, MemberDigest], record_name: str
) -> None:
    problems: list[str] = []
    listed = {e.path for e in record}
    for entry in record:
        digest = digests.get(entry.path)
        if digest is None:
            problems.append(f"{entry.path} is in RECORD but not in the wheel")
            continue
        if entry.algorithm == "sha256" and entry.sha256 != digest.sha256:
            problems.append(f"{entry.path} does not match its RECORD hash")
        elif entry.algorithm is None and entry.path != record_name:
            problems.append(f"{entry.path} has no hash in RECORD")
    problems.extend(f"{n} is not in RECORD" for n in sorted(set(digests) - listed))
    if problems:
        raise MalformedInputError(f"{label}: RECORD inconsistent: " + "; ".join(problems[:20]))


def scan_sdist(path: Path, *, limits: ArchiveLimits | None = None) -> Package:
    """Read one sdist (``.tar.gz``): PKG-INFO and the file's digest."""
    try:
        name, _version = parse_sdist_filename(path.name)
    except InvalidSdistFilename as exc:
        raise MalformedInputError(f"{path.name}: not a valid sdist file name: {exc}") from exc
    archive = SafeSdist(path, limits)
    found = archive.top_level_file("PKG-INFO")
    if found is None:
        raise MalformedInputError(f"{path.name}: missing PKG-INFO")
    metadata = parse_metadata(found[1], origin=f"{path.name}:{found[0]}")
    if canonicalize_name(metadata.name) != name:
        raise MalformedInputError(f"{path.name}: PKG-INFO names {metadata.name!r}")
    return Package(
        metadata=metadata,
        origin="sdist",
        sha256=file_sha256(path),
        digest_source="sdist",
        file_name=path.name,
    )


def scan_files(
    paths: list[Path],
    *,
    include_extensions: bool = False,
    limits: ArchiveLimits | None = None,
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Inventory wheel and sdist files. Every file is checked; all failures are reported.

    Dependency edges link the given files only; markers are evaluated for this
    interpreter.
    """
    packages: list[Package] = []
    errors: list[str] = []
    for done, path in enumerate(paths, start=1):
        if not path.is_file():
            errors.append(f"{path}: no such file")
        try:
            if not path.is_file():
                pass
            elif path.name.endswith(".whl"):
                packages.append(
                    scan_wheel(path, include_extensions=include_extensions, limits=limits)
                )
            elif path.name.endswith((".tar.gz", ".zip")):
                packages.append(scan_sdist(path, limits=limits))
            else:
                errors.append(f"{path.name}: neither a wheel (.whl) nor an sdist (.tar.gz)")
        except MalformedInputError as exc:
            errors.append(str(exc))
        if progress is not None:
            progress(done, len(paths), path.name)
    if errors:
        raise MalformedInputError("; ".join(dict.fromkeys(errors)))
    seen: dict[str, Package] = {}
    for package in packages:
        key = package.file_name or package.metadata.canonical_name
        seen.setdefault(key, package)
    return Inventory(
        kind="files",
        packages=sorted(
            seen.values(), key=lambda p: (p.metadata.canonical_name, p.file_name or "")
        ),
        marker_environment=current_markers(),
    )
