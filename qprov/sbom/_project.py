"""Scan a project: its pyproject.toml plus a pip report, a pylock.toml or requirements."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from qprov.errors import MalformedInputError
from qprov.sbom._graph import current_markers
from qprov.sbom._metadata import LicenseInfo, Metadata, resolve_license
from qprov.sbom._model import Inventory, Package, ProgressCallback

__all__ = ["scan_project"]

_MAX_INPUT = 64 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedInputError(f"{path}: cannot be read: {exc}") from exc
    if len(data) > _MAX_INPUT:
        raise MalformedInputError(f"{path}: larger than 64 MiB")
    return data


def _requirements(lines: list[Any]) -> tuple[tuple[Requirement, ...], tuple[str, ...]]:
    good: list[Requirement] = []
    bad: list[str] = []
    for line in lines:
        try:
            good.append(Requirement(str(line)))
        except (InvalidRequirement, SyntaxError):  # packaging: SyntaxError on NUL
            bad.append(str(line))
    return tuple(good), tuple(bad)


def _root_package(directory: Path) -> Package | None:
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(_read(pyproject).decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MalformedInputError(f"{pyproject}: not valid TOML: {exc}") from exc
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise MalformedInputError(f"{pyproject}: no [project] name")
    version = project.get("version")
    license_field = project.get("license")
    expression = license_field if isinstance(license_field, str) else None
    text = license_field.get("text") if isinstance(license_field, dict) else None
    classifiers = [c for c in project.get("classifiers", []) if isinstance(c, str)]
    requires, invalid = _requirements(list(project.get("dependencies", [])))
    metadata = Metadata(
        name=project["name"],
        version=version if isinstance(version, str) else "0+unknown",
        summary=project.get("description") if isinstance(project.get("description"), str) else None,
        license=resolve_license(expression, text if isinstance(text, str) else None, classifiers),
        requires_dist=requires,
        provides_extra=tuple(
            canonicalize_name(k) for k in project.get("optional-dependencies", {})
        ),
        invalid_requirements=invalid,
    )
    return Package(metadata=metadata, origin="lock")


def _from_report(path: Path) -> tuple[list[Package], dict[str, str], list[Requirement]]:
    try:
        report: Any = json.loads(_read(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedInputError(f"{path}: not JSON") from exc
    if not isinstance(report, dict) or not isinstance(report.get("install"), list):
        raise MalformedInputError(f"{path}: not a pip installation report (no 'install' list)")
    environment = report.get("environment")
    markers = (
        {str(k): str(v) for k, v in environment.items()}
        if isinstance(environment, dict)
        else current_markers()
    )
    packages: list[Package] = []
    roots: list[Requirement] = []
    for index, item in enumerate(report["install"]):
        meta = item.get("metadata") if isinstance(item, dict) else None
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("name"), str)
            or not isinstance(meta.get("version"), str)
        ):
            raise MalformedInputError(f"{path}: install[{index}] has no metadata name/version")
        requires, invalid = _requirements(list(meta.get("requires_dist", [])))
        metadata = Metadata(
            name=meta["name"],
            version=meta["version"],
            summary=meta.get("summary") if isinstance(meta.get("summary"), str) else None,
            license=resolve_license(
                meta.get("license_expression"),
                meta.get("license"),
                [str(c) for c in meta.get("classifier", [])],
            ),
            requires_dist=requires,
            provides_extra=tuple(canonicalize_name(e) for e in meta.get("provides_extra", [])),
            invalid_requirements=invalid,
        )
        extras = frozenset(canonicalize_name(e) for e in item.get("requested_extras", []) or [])
        package = Package(
            metadata=metadata,
            origin="lock",
            requested_extras=extras,
            requested=bool(item.get("requested")),
        )
        download = item.get("download_info")
        if isinstance(download, dict):
            url = str(download.get("url", ""))
            package.file_name = url.rsplit("/", 1)[-1] or None
            archive = download.get("archive_info")
            hashes = archive.get("hashes") if isinstance(archive, dict) else None
            digest = hashes.get("sha256") if isinstance(hashes, dict) else None
            if isinstance(digest, str) and _SHA256.match(digest):
                package.sha256 = digest.lower()
                package.digest_source = "wheel" if url.endswith(".whl") else "sdist"
        if item.get("requested"):
            extra_text = f"[{','.join(sorted(extras))}]" if extras else ""
            roots.append(Requirement(f"{metadata.canonical_name}{extra_text}"))
        packages.append(package)
    return packages, markers, roots


def _pick_artifact(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    wheels = [w for w in entry.get("wheels", []) if isinstance(w, dict)]
    supported = {str(t) for t in sys_tags()}
    for wheel in wheels:
        name = str(wheel.get("name") or str(wheel.get("url", "")).rsplit("/", 1)[-1])
        try:
            tags = parse_wheel_filename(name)[3]
        except InvalidWheelFilename:
            continue
        if any(str(t) in supported for t in tags):
            digest = (wheel.get("hashes") or {}).get("sha256")
            return name, digest if isinstance(digest, str) else None
    sdist = entry.get("sdist")
    if isinstance(sdist, dict):
        name = str(sdist.get("name") or str(sdist.get("url", "")).rsplit("/", 1)[-1])
        digest = (sdist.get("hashes") or {}).get("sha256")
        return name, digest if isinstance(digest, str) else None
    return None, None


def _from_pylock(path: Path) -> tuple[list[Package], list[Requirement]]:
    try:
        data = tomllib.loads(_read(path).decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MalformedInputError(f"{path}: not valid TOML: {exc}") from exc
    entries = data.get("packages")
    if not isinstance(entries, list):
        raise MalformedInputError(f"{path}: no [[packages]] (not a PEP 751 lock file)")
    environment = current_markers()
    packages: list[Package] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise MalformedInputError(f"{path}: packages[{index}] has no name")
        marker = entry.get("marker")
        if isinstance(marker, str):
            try:
                parsed = Requirement(f"x; {marker}").marker
                if parsed is not None and not parsed.evaluate(environment):
                    continue
            except (InvalidRequirement, SyntaxError) as exc:
                raise MalformedInputError(f"{path}: packages[{index}]: bad marker") from exc
        deps = [
            d["name"]
            for d in entry.get("dependencies", [])
            if isinstance(d, dict) and isinstance(d.get("name"), str)
        ]
        requires, invalid = _requirements(deps)
        metadata = Metadata(
            name=entry["name"],
            version=str(entry.get("version", "0+unknown")),
            summary=None,
            license=LicenseInfo(None, None, "none"),
            requires_dist=requires,
            provides_extra=(),
            invalid_requirements=invalid,
        )
        package = Package(metadata=metadata, origin="lock")
        file_name, digest = _pick_artifact(entry)
        package.file_name = file_name
        if digest is not None and _SHA256.match(digest):
            package.sha256 = digest.lower()
            package.digest_source = "wheel" if (file_name or "").endswith(".whl") else "sdist"
        packages.append(package)
    # Roots: packages nothing else in the lock depends on.
    depended = {canonicalize_name(r.name) for p in packages for r in p.metadata.requires_dist}
    roots = [
        Requirement(p.metadata.canonical_name)
        for p in packages
        if p.metadata.canonical_name not in depended
    ]
    return packages, roots


_REQ_HASH = re.compile(r"--hash[=\s]+sha256:([0-9a-fA-F]{64})")


def _from_requirements(path: Path) -> tuple[list[Package], list[Requirement], list[str]]:
    try:
        text = _read(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"{path}: not UTF-8") from exc
    environment = current_markers()
    logical = re.sub(r"\\\r?\n", " ", text)
    packages: list[Package] = []
    roots: list[Requirement] = []
    unpinned: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(logical.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        hashes = sorted({h.lower() for h in _REQ_HASH.findall(line)})
        spec = _REQ_HASH.sub("", line).strip()
        try:
            requirement = Requirement(spec)
        except (InvalidRequirement, SyntaxError) as exc:
            errors.append(f"line {number}: {exc}")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        pins = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        if len(pins) != 1 or "*" in pins[0]:
            unpinned.append(str(requirement))
            continue
        metadata = Metadata(
            name=requirement.name,
            version=pins[0],
            summary=None,
            license=LicenseInfo(None, None, "none"),
            requires_dist=(),
            provides_extra=(),
        )
        package = Package(
            metadata=metadata,
            origin="lock",
            requested_extras=frozenset(canonicalize_name(e) for e in requirement.extras),
        )
        if len(hashes) == 1:
            package.sha256 = hashes[0]
            package.digest_source = "lock"
        elif hashes:
            package.notes["qprov:lock:hash-count"] = str(len(hashes))
        packages.append(package)
        roots.append(Requirement(requirement.name))
    if errors:
        raise MalformedInputError(f"{path}: " + "; ".join(errors))
    return packages, roots, unpinned


def _root_edges(
    root: Package, packages: list[Package], roots: list[Requirement], markers: dict[str, str]
) -> list[Requirement]:
    """Root requirements when the project itself is in the lock or report.

    The project's own entry (``pip install --report r.json .``) carries the
    resolved metadata and the extras asked for; its requirements become the
    root's, evaluated here with those extras (markers are then dropped).
    """
    name = root.metadata.canonical_name
    own = next((p for p in packages if p.metadata.canonical_name == name), None)
    others = [r for r in roots if canonicalize_name(r.name) != name]
    if own is None:
        return others
    root.metadata = own.metadata
    root.sha256, root.digest_source, root.file_name = own.sha256, own.digest_source, own.file_name
    extras = ("", *sorted(own.requested_extras or ()))
    for requirement in own.metadata.requires_dist:
        marker = requirement.marker
        if marker is None or any(marker.evaluate({**markers, "extra": e}) for e in extras):
            unmarked = Requirement(str(requirement))
            unmarked.marker = None
            others.append(unmarked)
    return others


@contextmanager
def _well_typed(path: Path) -> Iterator[None]:
    """A field of the wrong JSON/TOML type in ``path`` is malformed input, not a crash."""
    try:
        yield
    except (TypeError, AttributeError, ValueError, KeyError) as exc:
        raise MalformedInputError(
            f"{path}: a field has the wrong type or form: {type(exc).__name__}: {exc}"
        ) from exc


def scan_project(
    directory: Path, *, report: Path | None = None, progress: ProgressCallback | None = None
) -> Inventory:
    """Inventory a project from (in this order) ``report`` (``pip install --report``),
    ``pylock.toml`` or ``requirements.txt`` in ``directory``; the project itself
    (``pyproject.toml``) becomes ``metadata.component``.
    """
    if not directory.is_dir():
        raise MalformedInputError(f"{directory}: not a directory")
    with _well_typed(directory / "pyproject.toml"):
        root = _root_package(directory)
    markers = current_markers()
    properties: dict[str, str] = {}
    if report is not None:
        with _well_typed(report):
            packages, markers, roots = _from_report(report)
        properties["qprov:project:source"] = "pip-report"
    elif (directory / "pylock.toml").is_file():
        with _well_typed(directory / "pylock.toml"):
            packages, roots = _from_pylock(directory / "pylock.toml")
        properties["qprov:project:source"] = "pylock.toml"
    elif (directory / "requirements.txt").is_file():
        packages, roots, unpinned = _from_requirements(directory / "requirements.txt")
        properties["qprov:project:source"] = "requirements.txt"
        if unpinned:
            properties["qprov:project:unpinned"] = " ".join(sorted(unpinned))
    else:
        raise MalformedInputError(
            f"{directory}: no pip report given and no pylock.toml or requirements.txt found"
        )
    if progress is not None:
        progress(1, 1, directory.name)
    if root is not None:
        with _well_typed(report or directory):
            roots = _root_edges(root, packages, roots, markers)
        own = root.metadata.canonical_name
        packages = [p for p in packages if p.metadata.canonical_name != own]
    unique: dict[str, Package] = {}
    for package in packages:
        unique.setdefault(package.metadata.canonical_name, package)
    return Inventory(
        kind="project",
        packages=sorted(unique.values(), key=lambda p: p.metadata.canonical_name),
        marker_environment=markers,
        root=root,
        root_requirements=roots,
        properties=properties,
    )
