"""CycloneDX 1.6 SBOM and CBOM of Python environments, wheels, sdists and projects.

Scan something into an :class:`Inventory`, then render it::

    from qprov.sbom import scan_environment, build_sbom, source_date
    inventory = scan_environment()
    data = build_sbom(inventory, timestamp=source_date())

The profile (properties qprov adds, nesting of bundled native code, what the
hashes mean) is documented in ``sbom/README.md`` at the repository root.
Nothing here imports qiskit.
"""

from __future__ import annotations

from qprov.sbom._archive import ArchiveLimits
from qprov.sbom._bom import PROFILE, build_sbom, package_purl, source_date
from qprov.sbom._cbom import ALGORITHMS, DEFAULT_ALGORITHMS, AlgorithmInfo, cbom_components
from qprov.sbom._env import scan_directories, scan_environment
from qprov.sbom._files import scan_files
from qprov.sbom._io import write_output
from qprov.sbom._metadata import LicenseInfo, Metadata, parse_metadata
from qprov.sbom._model import (
    BundledFile,
    CryptoLibrary,
    EmbeddedSbom,
    Inventory,
    Package,
    ProgressCallback,
)
from qprov.sbom._project import scan_project
from qprov.sbom._record import RecordEntry, parse_record, record_digest
from qprov.sbom._verify import RecordFinding, RecordReport, RecordVerificationError, verify_record

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "PROFILE",
    "AlgorithmInfo",
    "ArchiveLimits",
    "BundledFile",
    "CryptoLibrary",
    "EmbeddedSbom",
    "Inventory",
    "LicenseInfo",
    "Metadata",
    "Package",
    "ProgressCallback",
    "RecordEntry",
    "RecordFinding",
    "RecordReport",
    "RecordVerificationError",
    "build_sbom",
    "cbom_components",
    "package_purl",
    "parse_metadata",
    "parse_record",
    "record_digest",
    "scan_directories",
    "scan_environment",
    "scan_files",
    "scan_project",
    "source_date",
    "verify_record",
    "write_output",
]
