"""Core metadata (METADATA / PKG-INFO) parsing and license resolution."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qprov.errors import MalformedInputError

__all__ = ["LicenseInfo", "Metadata", "parse_metadata", "resolve_license"]

_LOG = logging.getLogger(__name__)

_MAX_METADATA_BYTES = 16 * 1024 * 1024
_MAX_LICENSE_NAME = 120

# Trove classifiers that name exactly one SPDX license.
_CLASSIFIER_SPDX: dict[str, str] = {
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: Artistic License": "Artistic-2.0",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """A resolved license: an SPDX expression, or a named license with notes.

    ``source`` is where it came from: ``license-expression``, ``classifier``,
    ``license`` (the free-text License field) or ``none``.
    """

    expression: str | None
    name: str | None
    source: str
    invalid_expression: str | None = None


@dataclass(frozen=True, slots=True)
class Metadata:
    """The subset of core metadata qprov reports."""

    name: str
    version: str
    summary: str | None
    license: LicenseInfo
    requires_dist: tuple[Requirement, ...]
    provides_extra: tuple[str, ...]
    invalid_requirements: tuple[str, ...] = field(default=())

    @property
    def canonical_name(self) -> str:
        return canonicalize_name(self.name)


@lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@lru_cache(maxsize=4096)
def spdx_normalize(expression: str) -> str | None:
    """Return the normalized SPDX expression, or None if it is not valid SPDX."""
    text = expression.strip()
    if not text or len(text) > 1000 or "\n" in text:
        return None
    try:
        info = _licensing().validate(text, strict=True)
    except Exception:  # noqa: BLE001 - license_expression raises assorted errors on bad input
        return None
    if info.errors or info.normalized_expression is None:
        return None
    normalized: str = info.normalized_expression
    return normalized


def _named(text: str) -> str:
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first[:_MAX_LICENSE_NAME] or "UNKNOWN"


def resolve_license(
    license_expression: str | None, license_text: str | None, classifiers: list[str]
) -> LicenseInfo:
    """Resolve licenses in this order: License-Expression, classifiers, License field."""
    if license_expression is not None and license_expression.strip():
        normalized = spdx_normalize(license_expression)
        if normalized is not None:
            return LicenseInfo(normalized, None, "license-expression")
        return LicenseInfo(
            None, _named(license_expression), "license-expression", license_expression.strip()
        )
    ids = sorted({_CLASSIFIER_SPDX[c] for c in classifiers if c in _CLASSIFIER_SPDX})
    if ids:
        return LicenseInfo(" AND ".join(ids) if len(ids) > 1 else ids[0], None, "classifier")
    if license_text is not None and license_text.strip() and license_text.strip() != "UNKNOWN":
        normalized = spdx_normalize(license_text)
        if normalized is not None:
            return LicenseInfo(normalized, None, "license")
        return LicenseInfo(None, _named(license_text), "license")
    return LicenseInfo(None, None, "none")


# The header fields qprov reads, by lower-case header name: fields that may appear
# once (a repeated one is left out, as packaging does) and repeatable fields.
_SINGLE_FIELDS = {
    "name": "name",
    "version": "version",
    "summary": "summary",
    "license": "license",
    "license-expression": "license_expression",
}
_LIST_FIELDS = {
    "classifier": "classifiers",
    "requires-dist": "requires_dist",
    "provides-extra": "provides_extra",
}
# A header name as the email parser accepts it: printable ASCII but space and ':'.
_HEADER_NAME = re.compile(r"[!-9;-~]+")


def _read_headers(head: str) -> dict[str, Any] | None:
    """The fields of :data:`_SINGLE_FIELDS` and :data:`_LIST_FIELDS` in ``head``, or None.

    ``head`` is the header block without the blank line that ends it. For the
    usual header block (``Name: value`` lines, continuation lines starting with
    a space or tab, LF line ends) this gives exactly what
    ``packaging.metadata.parse_email`` (the email parser with the compat32
    policy) gives for these fields, without importing the email package
    (~20 ms) or running its feed parser (~0.3 ms per distribution). Anything
    else (CR line ends, an empty or invalid header line, a leading continuation
    line, a Unix ``From`` line) returns None, and the caller uses packaging.
    """
    if "\r" in head:
        return None
    lines = head.split("\n")
    if lines and not lines[-1]:
        lines.pop()  # the line end of the last line (no blank line followed)
    found: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for line in lines:
        if not line:
            return None
        if line[0] in " \t":
            if current is None:
                return None
            current.append(line)
            continue
        name, colon, value = line.partition(":")
        if not colon or _HEADER_NAME.fullmatch(name) is None:
            return None
        current = [value.lstrip(" \t")]
        found.setdefault(name.lower(), []).append(current)
    raw: dict[str, Any] = {}
    for header, key in _SINGLE_FIELDS.items():
        values = found.get(header)
        if values is not None and len(values) == 1:
            raw[key] = "\n".join(values[0])
    for header, key in _LIST_FIELDS.items():
        values = found.get(header)
        if values is not None:
            raw[key] = ["\n".join(parts) for parts in values]
    return raw


@lru_cache(maxsize=4096)
def _marker(text: str) -> Marker:
    return Marker(text)


def _requirement(line: str) -> Requirement:
    """``Requirement(line)``, with its marker parsed once per distinct marker text.

    An environment's Requires-Dist lines repeat a few hundred markers
    (``extra == "dev"``, ``python_version < "3.11"``) a thousand times, and the
    marker is half the parse. Without ``@`` (a URL, which may hold ``;``) the
    first ``;`` ends the name, extras and specifier (none of them may hold
    one), so the line parses as ``Requirement(before)`` with the marker
    ``Marker(after)``, exactly as packaging splits it; the marker objects are
    shared and never modified. A line either part rejects is parsed whole, so
    it raises (or not) as it always did.
    """
    if "@" not in line:
        head, semicolon, marker = line.partition(";")
        if semicolon:
            try:
                requirement = Requirement(head)
                requirement.marker = _marker(marker)
            except (ValueError, SyntaxError):
                pass
            else:
                return requirement
    return Requirement(line)


def parse_metadata(data: bytes, *, origin: str) -> Metadata:
    """Parse METADATA/PKG-INFO bytes. ``origin`` names the file in error messages."""
    if len(data) > _MAX_METADATA_BYTES:
        raise MalformedInputError(f"{origin}: metadata larger than 16 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"{origin}: metadata is not UTF-8") from exc
    # Only the headers matter here; the body (the long description) is skipped.
    head, sep, _body = text.replace("\r\n", "\n").partition("\n\n")
    fast = _read_headers(head)
    raw: Mapping[str, Any]
    if fast is None:
        from packaging.metadata import parse_email

        raw, _unparsed = parse_email(head + sep)
    else:
        raw = fast
    name = raw.get("name")
    version = raw.get("version")
    if not name or not version:
        raise MalformedInputError(f"{origin}: metadata has no Name or Version")
    try:
        Version(version)
    except InvalidVersion:
        _LOG.debug("%s: non-PEP 440 version %r kept as is", origin, version)
    requirements: list[Requirement] = []
    invalid: list[str] = []
    for line in raw.get("requires_dist", []):
        try:
            requirements.append(_requirement(line))
        except (InvalidRequirement, SyntaxError):  # packaging: SyntaxError on NUL
            invalid.append(line)
    license_info = resolve_license(
        raw.get("license_expression"), raw.get("license"), list(raw.get("classifiers", []))
    )
    return Metadata(
        name=name.strip(),
        version=version.strip(),
        summary=raw.get("summary"),
        license=license_info,
        requires_dist=tuple(requirements),
        provides_extra=tuple(canonicalize_name(e) for e in raw.get("provides_extra", [])),
        invalid_requirements=tuple(invalid),
    )
