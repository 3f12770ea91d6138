"""The inventory: what a scan found, before it becomes CycloneDX."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.requirements import Requirement

from qprov.sbom._metadata import Metadata
from qprov.sbom._record import RecordEntry

__all__ = [
    "BundledFile",
    "CryptoLibrary",
    "DigestSource",
    "EmbeddedSbom",
    "Inventory",
    "Package",
    "ProgressCallback",
]

ProgressCallback = Callable[[int, int, str], None]
"""``callback(done, total, label)``: called as work advances; never required."""

DigestSource = Literal["wheel", "sdist", "record", "lock"]
BundledKind = Literal["vendored", "shared-library", "extension-module"]


@dataclass(slots=True)
class BundledFile:
    """Native code shipped inside a distribution."""

    path: str
    name: str
    version: str | None
    sha256: str | None
    size: int | None
    kind: BundledKind
    identified_as: str | None = None  # bom-ref of the embedded-SBOM component it matches


@dataclass(frozen=True, slots=True)
class EmbeddedSbom:
    """An SBOM shipped in ``.dist-info/sboms/`` (PEP 770)."""

    path: str
    sha256: str
    format: Literal["cyclonedx", "spdx", "unknown"]
    document: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CryptoLibrary:
    """A cryptographic library found inside a distribution."""

    name: str
    version: str | None
    path: str
    evidence: str  # how the version was found
    pq_algorithms: tuple[str, ...]  # NIST PQC algorithms it offers (empty: vulnerable)

    @property
    def quantum_vulnerable(self) -> bool:
        return not self.pq_algorithms


@dataclass(slots=True)
class Package:
    """One Python distribution."""

    metadata: Metadata
    origin: Literal["installed", "wheel", "sdist", "lock"]
    sha256: str | None = None
    digest_source: DigestSource | None = None
    file_name: str | None = None
    location: str | None = None
    wheel_tags: tuple[str, ...] = ()
    installer: str | None = None
    requested: bool | None = None
    editable: bool = False
    requested_extras: frozenset[str] | None = None
    record: list[RecordEntry] | None = None
    bundled: list[BundledFile] = field(default_factory=list)
    embedded: list[EmbeddedSbom] = field(default_factory=list)
    crypto_libraries: list[CryptoLibrary] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Inventory:
    """Everything one scan found. ``kind`` is environment, files or project."""

    kind: Literal["environment", "files", "project"]
    packages: list[Package]
    marker_environment: dict[str, str]
    root: Package | None = None
    root_requirements: list[Requirement] | None = None
    properties: dict[str, str] = field(default_factory=dict)
