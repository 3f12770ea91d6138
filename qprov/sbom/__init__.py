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

from typing import TYPE_CHECKING

from qprov._lazy import lazy_names

if TYPE_CHECKING:
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
    from qprov.sbom._verify import (
        RecordFinding,
        RecordReport,
        RecordVerificationError,
        verify_record,
    )

# Public name -> private module. A module is imported on first use of one of its
# names (PEP 562), so ``qprov sbom env`` does not import the wheel, sdist, lock
# file and RECORD-verification code it does not run (~40 ms of imports).
_SOURCES: dict[str, str] = {
    "ArchiveLimits": "_archive",
    "PROFILE": "_bom",
    "build_sbom": "_bom",
    "package_purl": "_bom",
    "source_date": "_bom",
    "ALGORITHMS": "_cbom",
    "DEFAULT_ALGORITHMS": "_cbom",
    "AlgorithmInfo": "_cbom",
    "cbom_components": "_cbom",
    "scan_directories": "_env",
    "scan_environment": "_env",
    "scan_files": "_files",
    "write_output": "_io",
    "LicenseInfo": "_metadata",
    "Metadata": "_metadata",
    "parse_metadata": "_metadata",
    "BundledFile": "_model",
    "CryptoLibrary": "_model",
    "EmbeddedSbom": "_model",
    "Inventory": "_model",
    "Package": "_model",
    "ProgressCallback": "_model",
    "scan_project": "_project",
    "RecordEntry": "_record",
    "parse_record": "_record",
    "record_digest": "_record",
    "RecordFinding": "_verify",
    "RecordReport": "_verify",
    "RecordVerificationError": "_verify",
    "verify_record": "_verify",
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())


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
