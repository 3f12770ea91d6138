"""SBOMs embedded in distributions (PEP 770: ``.dist-info/sboms/``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from qprov.errors import MalformedInputError
from qprov.sbom._model import EmbeddedSbom

__all__ = ["MAX_EMBEDDED_BYTES", "load_embedded"]

MAX_EMBEDDED_BYTES = 32 * 1024 * 1024


def load_embedded(path: str, data: bytes) -> EmbeddedSbom:
    """Parse one embedded SBOM. CycloneDX JSON is ingested; others are recorded."""
    if len(data) > MAX_EMBEDDED_BYTES:
        raise MalformedInputError(f"{path}: embedded SBOM larger than 32 MiB")
    digest = hashlib.sha256(data).hexdigest()
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return EmbeddedSbom(path, digest, "unknown", None)
    if not isinstance(document, dict):
        return EmbeddedSbom(path, digest, "unknown", None)
    if document.get("bomFormat") == "CycloneDX":
        components = document.get("components", [])
        if not isinstance(components, list):
            raise MalformedInputError(f"{path}: embedded CycloneDX 'components' is not a list")
        return EmbeddedSbom(path, digest, "cyclonedx", document)
    if "spdxVersion" in document:
        return EmbeddedSbom(path, digest, "spdx", None)
    return EmbeddedSbom(path, digest, "unknown", None)


def wheel_file_name(sbom: EmbeddedSbom, canonical_name: str, version: str) -> str | None:
    """The wheel file name an embedded SBOM (auditwheel's) records for its subject."""
    if sbom.document is None:
        return None
    metadata = sbom.document.get("metadata")
    component = metadata.get("component") if isinstance(metadata, dict) else None
    purl = component.get("purl") if isinstance(component, dict) else None
    if not isinstance(purl, str) or not purl.startswith("pkg:pypi/"):
        return None
    from packageurl import PackageURL
    from packaging.utils import canonicalize_name

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return None
    if canonicalize_name(parsed.name) != canonical_name or parsed.version != version:
        return None
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    file_name = qualifiers.get("file_name")
    return file_name if isinstance(file_name, str) and file_name.endswith(".whl") else None
