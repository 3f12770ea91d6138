"""Installed distributions: read a ``.dist-info`` directory into a :class:`Package`."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from qprov.errors import MalformedInputError
from qprov.sbom._embedded import MAX_EMBEDDED_BYTES, load_embedded, wheel_file_name
from qprov.sbom._metadata import parse_metadata
from qprov.sbom._model import Package
from qprov.sbom._native import bundled_from_paths, crypto_library, sniff_version
from qprov.sbom._record import parse_record, record_digest

__all__ = ["read_bounded", "read_dist_info", "wheel_tags"]

_LOG = logging.getLogger(__name__)
_MAX_SMALL_FILE = 1024 * 1024


def read_bounded(handle: BinaryIO, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of an open file (more than ``limit``: too large).

    ``handle.read(limit + 1)`` would allocate ``limit + 1`` bytes up front
    (64 MiB for a RECORD, 32 MiB for an embedded SBOM) for files that are
    mostly a few kilobytes; the size the file has now is asked first, and a
    file that grows meanwhile is still read up to the limit.
    """
    size = os.fstat(handle.fileno()).st_size
    data = handle.read(min(size, limit) + 1)
    if size < len(data) <= limit:
        data += handle.read(limit + 1 - len(data))
    return data


def _read_text(path: Path, limit: int = _MAX_SMALL_FILE) -> str | None:
    try:
        with path.open("rb") as handle:
            data = read_bounded(handle, limit)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MalformedInputError(f"{path}: cannot be read: {exc}") from exc
    if len(data) > limit:
        raise MalformedInputError(f"{path}: larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"{path}: not UTF-8") from exc


def wheel_tags(text: str | None) -> tuple[str, ...]:
    """The ``Tag:`` values of a WHEEL file, in file order."""
    if not text:
        return ()
    return tuple(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")
    )


def _apply_direct_url(package: Package, text: str, origin: str) -> None:
    try:
        info: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedInputError(f"{origin}: direct_url.json is not JSON") from exc
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        raise MalformedInputError(f"{origin}: direct_url.json has no url")
    url: str = info["url"]
    dir_info = info.get("dir_info")
    if isinstance(dir_info, dict) and dir_info.get("editable"):
        package.editable = True
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("commit_id"), str):
        package.notes["qprov:source:vcs"] = f"{vcs.get('vcs', 'git')}+{url}@{vcs['commit_id']}"
    archive = info.get("archive_info")
    if not isinstance(archive, dict):
        return
    digest: str | None = None
    hashes = archive.get("hashes")
    if isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str):
        digest = hashes["sha256"]
    elif isinstance(archive.get("hash"), str) and archive["hash"].startswith("sha256="):
        digest = archive["hash"].split("=", 1)[1]
    file_name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None
    if digest is not None and len(digest) == 64:
        package.sha256 = digest.lower()
        package.digest_source = "wheel" if (file_name or "").endswith(".whl") else "sdist"
        package.file_name = file_name


def read_dist_info(
    dist_info: Path, *, include_extensions: bool = False, current_interpreter: bool = False
) -> Package:
    """Read one installed distribution. Raises :class:`MalformedInputError` if broken."""
    site = dist_info.parent
    label = dist_info.name
    is_egg = dist_info.name.endswith(".egg-info")
    meta_name = "PKG-INFO" if is_egg else "METADATA"
    try:
        data = (dist_info / meta_name).read_bytes()
    except FileNotFoundError as exc:
        raise MalformedInputError(f"{label}: no {meta_name} (broken dist-info)") from exc
    except OSError as exc:
        raise MalformedInputError(f"{label}: {meta_name} cannot be read: {exc}") from exc
    metadata = parse_metadata(data, origin=f"{label}/{meta_name}")
    package = Package(metadata=metadata, origin="installed", location=str(dist_info))
    if is_egg:
        package.notes["qprov:install:format"] = "egg-info"
        return package
    record_text = _read_text(dist_info / "RECORD", 64 * 1024 * 1024)
    if record_text is None:
        raise MalformedInputError(f"{label}: no RECORD (broken dist-info)")
    try:
        package.record = parse_record(record_text)
    except MalformedInputError as exc:
        raise MalformedInputError(f"{label}/RECORD: {exc}") from exc
    installer = _read_text(dist_info / "INSTALLER")
    package.installer = installer.strip() if installer else None
    package.requested = (dist_info / "REQUESTED").exists()
    package.wheel_tags = wheel_tags(_read_text(dist_info / "WHEEL"))
    direct_url = _read_text(dist_info / "direct_url.json")
    if direct_url is not None:
        _apply_direct_url(package, direct_url, label)
    sboms_dir = dist_info / "sboms"
    if sboms_dir.is_dir():
        for sbom_path in sorted(sboms_dir.rglob("*")):
            if not sbom_path.is_file() or sbom_path.is_symlink():
                continue
            relative = sbom_path.relative_to(site).as_posix()
            with sbom_path.open("rb") as handle:
                raw = read_bounded(handle, MAX_EMBEDDED_BYTES)
            package.embedded.append(load_embedded(relative, raw))
    if package.file_name is None:
        for sbom in package.embedded:
            found = wheel_file_name(sbom, metadata.canonical_name, metadata.version)
            if found is not None:
                package.file_name = found
                package.notes["qprov:wheel:file-name-source"] = "embedded-sbom"
                break
    if package.sha256 is None:
        digest = record_digest(package.record, label)
        if digest is not None:
            package.sha256 = digest
            package.digest_source = "record"
    package.bundled = bundled_from_paths(package.record, include_extensions)
    _find_crypto(package, site, current_interpreter)
    return package


def _find_crypto(package: Package, site: Path, current_interpreter: bool) -> None:
    """Crypto libraries: OpenSSL in ``cryptography``'s extension, vendored libssl/libcrypto."""
    assert package.record is not None  # noqa: S101 - caller guarantees
    for bundled in package.bundled:
        if bundled.name in {"libssl", "libcrypto"}:
            version = sniff_version(site / bundled.path, "openssl")
            package.crypto_libraries.append(
                crypto_library(
                    "openssl", version, bundled.path, f"version string in {bundled.name}"
                )
            )
        elif "openblas" in bundled.name and bundled.version is None:
            bundled.version = sniff_version(site / bundled.path, "openblas")
    if package.metadata.canonical_name != "cryptography":
        return
    for entry in package.record:
        name = entry.path.rsplit("/", 1)[-1]
        if entry.path.startswith("cryptography/hazmat/bindings/_rust") and (
            name.endswith((".so", ".pyd", ".dylib"))
        ):
            version = sniff_version(site / entry.path, "openssl")
            evidence = "version string in the bundled extension module"
            if version is None and current_interpreter:
                version, evidence = _openssl_from_api()
            package.crypto_libraries.append(
                crypto_library("openssl", version, entry.path, evidence)
            )


def _openssl_from_api() -> tuple[str | None, str]:
    try:
        from cryptography.hazmat.backends.openssl import backend
    except ImportError:
        return None, "not found"
    text: str = backend.openssl_version_text()
    parts = text.split()
    version = parts[1] if len(parts) > 1 and parts[0] == "OpenSSL" else None
    return version, "cryptography openssl_version_text()"
