"""Inventory -> CycloneDX 1.6 JSON (deterministic), with the CBOM."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema.schema import SchemaVersion1Dot6
from packageurl import PackageURL

from qprov import __version__
from qprov.errors import MalformedInputError
from qprov.sbom._cbom import DEFAULT_ALGORITHMS, cbom_components, cbom_dependencies
from qprov.sbom._gc import paused_gc
from qprov.sbom._graph import resolve_graph
from qprov.sbom._metadata import spdx_normalize
from qprov.sbom._model import BundledFile, CryptoLibrary, EmbeddedSbom, Inventory, Package
from qprov.sbom._validate import validate_cyclonedx_json

__all__ = ["PROFILE", "SERIAL_NAMESPACE", "build_sbom", "source_date"]

PROFILE = "qprov-sbom/1"
# serialNumber = uuid5(SERIAL_NAMESPACE, sha256 hex of the document with a nil serial)
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://qprov.invalid/sbom/serial")
_NIL_SERIAL = f"urn:uuid:{uuid.UUID(int=0)}"
_MAX_NESTING = 8
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Python packages that are cryptographic libraries: name -> post-quantum algorithms
# offered regardless of a bundled OpenSSL (empty: classical only).
_PY_CRYPTO: dict[str, tuple[str, ...]] = {
    "cryptography": (),  # depends on the OpenSSL it bundles, see _crypto_flag
    "pyopenssl": (),
    "pynacl": (),
    "pycryptodome": (),
    "pycryptodomex": (),
    "ecdsa": (),
    "rsa": (),
    "liboqs-python": ("ML-DSA", "ML-KEM", "SLH-DSA"),
    "oqs": ("ML-DSA", "ML-KEM", "SLH-DSA"),
    "pqcrypto": ("ML-DSA", "ML-KEM"),
}


def source_date(environ: Mapping[str, str] | None = None) -> datetime | None:
    """The time from SOURCE_DATE_EPOCH, or None when unset (no timestamp is written)."""
    value = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH")
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit():
        raise MalformedInputError(f"SOURCE_DATE_EPOCH={value!r} is not a non-negative integer")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedInputError(f"SOURCE_DATE_EPOCH={value!r} is out of range") from exc


# cyclonedx-python-lib orders and hashes components by a tuple of all their fields,
# nested components included, rebuilt on every comparison and every hash; a scan
# with ~1000 components spends most of its time there. A component qprov has
# finished building never changes again, so its tuple is computed once, by the
# library's own method, and kept on the instance: the order, equality and hashes
# are exactly the library's. If a later cyclonedx-python-lib renames the private
# method, freezing is skipped and everything stays correct, only slower.
_COMPARABLE_TUPLE = "_Component__comparable_tuple"
_CAN_FREEZE = callable(getattr(Component, _COMPARABLE_TUPLE, None))


def _frozen(component: Component) -> Component:
    """Cache ``component``'s sort key; call only once it is complete (never mutated after)."""
    if _CAN_FREEZE:
        key = getattr(Component, _COMPARABLE_TUPLE)(component)
        setattr(component, _COMPARABLE_TUPLE, lambda: key)
    return component


_DEPENDENCY_TUPLE = "_Dependency__comparable_tuple"
_CAN_FREEZE_DEPENDENCY = callable(getattr(Dependency, _DEPENDENCY_TUPLE, None))


def _frozen_dependency(dependency: Dependency) -> Dependency:
    """As :func:`_frozen`, for a complete :class:`Dependency` (ref and children)."""
    if _CAN_FREEZE and _CAN_FREEZE_DEPENDENCY:
        key = getattr(Dependency, _DEPENDENCY_TUPLE)(dependency)
        setattr(dependency, _DEPENDENCY_TUPLE, lambda: key)
    return dependency


def _props(pairs: Iterable[tuple[str, str]]) -> list[Property]:
    return [Property(name=k, value=v) for k, v in pairs if v != ""]


def _sha256(hexdigest: str | None) -> list[HashType]:
    if hexdigest is None or not _HEX64.match(hexdigest):
        return []
    return [HashType(alg=HashAlgorithm.SHA_256, content=hexdigest)]


def package_purl(package: Package) -> PackageURL:
    """``pkg:pypi/<normalized name>@<version>[?file_name=<wheel or sdist>]``."""
    qualifiers = {"file_name": package.file_name} if package.file_name else None
    return PackageURL(
        type="pypi",
        name=package.metadata.canonical_name,
        version=package.metadata.version,
        qualifiers=qualifiers,
    )


def _licenses(package: Package) -> tuple[list[Any], list[tuple[str, str]]]:
    info = package.metadata.license
    props: list[tuple[str, str]] = []
    if info.source != "none":
        props.append(("qprov:license:source", info.source))
    if info.invalid_expression is not None:
        props.append(("qprov:license:invalid-expression", info.invalid_expression[:1000]))
    if info.expression is not None:
        return [LicenseExpression(info.expression)], props
    if info.name is not None:
        return [DisjunctiveLicense(name=info.name)], props
    return [], props


def _crypto_flag(package: Package) -> tuple[str, ...] | None:
    name = package.metadata.canonical_name
    if name not in _PY_CRYPTO:
        return None
    pq = set(_PY_CRYPTO[name])
    for library in package.crypto_libraries:
        pq.update(library.pq_algorithms)
    return tuple(sorted(pq))


class _Builder:
    def __init__(self, inventory: Inventory, algorithms: list[str]) -> None:
        self.inventory = inventory
        self.algorithms = algorithms
        self.dependencies: dict[str, set[str]] = {}
        self.refs: dict[str, str] = {}  # canonical name -> bom-ref
        self.bundled_count = 0

    def _edge(self, source: str, target: str | None = None) -> None:
        bucket = self.dependencies.setdefault(source, set())
        if target is not None:
            bucket.add(target)
            self.dependencies.setdefault(target, set())

    # -- embedded SBOMs ----------------------------------------------------------------

    def _embedded_component(
        self, raw: Any, prefix: str, sbom: EmbeddedSbom, ref_map: dict[str, str], depth: int
    ) -> Component | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        original = raw.get("bom-ref")
        index = len(ref_map)
        ref = f"{prefix}{original if isinstance(original, str) else index}"
        while ref in ref_map.values():
            ref = f"{ref}~"
        if isinstance(original, str):
            ref_map[original] = ref
        else:
            ref_map[f"\x00{index}"] = ref
        try:
            kind = ComponentType(raw.get("type", "library"))
        except ValueError:
            kind = ComponentType.LIBRARY
        props: list[tuple[str, str]] = []
        purl: PackageURL | None = None
        if isinstance(raw.get("purl"), str):
            try:
                purl = PackageURL.from_string(raw["purl"])
            except ValueError:
                props.append(("qprov:embedded-sbom:invalid-purl", raw["purl"][:500]))
        hashes = []
        for item in raw.get("hashes", []) if isinstance(raw.get("hashes"), list) else []:
            if not isinstance(item, dict):
                continue
            try:
                hashes.append(
                    HashType(
                        alg=HashAlgorithm(item.get("alg")),
                        content=str(item.get("content", "")).lower(),
                    )
                )
            except ValueError:
                continue
        licenses = self._embedded_licenses(raw.get("licenses"), props)
        children = []
        if depth < _MAX_NESTING and isinstance(raw.get("components"), list):
            for child in raw["components"]:
                built = self._embedded_component(child, prefix, sbom, ref_map, depth + 1)
                if built is not None:
                    children.append(built)
        version = raw.get("version")
        return _frozen(
            Component(
                name=raw["name"][:500],
                version=version if isinstance(version, str) else None,
                type=kind,
                bom_ref=ref,
                purl=purl,
                hashes=[h for h in hashes if re.fullmatch(r"[0-9a-f]{32,128}", h.content)],
                licenses=licenses,
                properties=_props(props),
                components=children,
            )
        )

    @staticmethod
    def _embedded_licenses(raw: Any, props: list[tuple[str, str]]) -> list[Any]:
        if not isinstance(raw, list):
            return []
        expressions: list[str] = []
        named: list[str] = []
        for entry in raw:
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("expression"), str):
                expressions.append(entry["expression"])
            lic = entry.get("license")
            if isinstance(lic, dict):
                if isinstance(lic.get("id"), str):
                    expressions.append(lic["id"])
                elif isinstance(lic.get("name"), str):
                    named.append(lic["name"])
        normalized = [spdx_normalize(e) for e in expressions]
        if expressions and all(n is not None for n in normalized):
            joined = " AND ".join(
                sorted({f"({n})" if " " in str(n) else str(n) for n in normalized})
            )
            return [LicenseExpression(joined)]
        for text in expressions:
            if spdx_normalize(text) is None:
                props.append(("qprov:license:invalid-expression", text[:1000]))
                named.append(text)
        return [DisjunctiveLicense(name=n[:120]) for n in sorted(set(named))]

    def _ingest(self, package: Package, package_ref: str) -> list[Component]:
        out: list[Component] = []
        for sbom in package.embedded:
            if sbom.document is None:
                continue
            prefix = f"{package_ref}#sbom:{sbom.path.rsplit('/', 1)[-1]}:"
            ref_map: dict[str, str] = {}
            self_refs = self._self_refs(sbom, package)
            for raw in sbom.document.get("components", []):
                if isinstance(raw, dict) and raw.get("bom-ref") in self_refs:
                    continue
                built = self._embedded_component(raw, prefix, sbom, ref_map, 0)
                if built is not None:
                    out.append(built)
            for ref in self_refs:
                ref_map[ref] = package_ref
            self._embedded_edges(sbom, ref_map)
        return out

    @staticmethod
    def _self_refs(sbom: EmbeddedSbom, package: Package) -> set[str]:
        """Refs in an embedded SBOM that denote the package itself."""
        assert sbom.document is not None  # noqa: S101 - checked by caller
        refs: set[str] = set()
        metadata = sbom.document.get("metadata")
        subject = metadata.get("component") if isinstance(metadata, dict) else None
        candidates = [subject, *sbom.document.get("components", [])]
        for raw in candidates:
            if not isinstance(raw, dict) or not isinstance(raw.get("bom-ref"), str):
                continue
            purl = raw.get("purl")
            if raw is subject or (
                isinstance(purl, str)
                and purl.startswith("pkg:pypi/")
                and raw.get("version") == package.metadata.version
                and str(raw.get("name", "")).replace("_", "-").lower()
                == package.metadata.canonical_name
            ):
                refs.add(raw["bom-ref"])
        return refs

    def _embedded_edges(self, sbom: EmbeddedSbom, ref_map: dict[str, str]) -> None:
        assert sbom.document is not None  # noqa: S101 - checked by caller
        deps = sbom.document.get("dependencies")
        if not isinstance(deps, list):
            return
        for dep in deps:
            if not isinstance(dep, dict):
                continue
            source = ref_map.get(str(dep.get("ref")))
            if source is None:
                continue
            self._edge(source)
            targets = dep.get("dependsOn", [])
            for target in targets if isinstance(targets, list) else []:
                mapped = ref_map.get(str(target))
                if mapped is not None and mapped != source:
                    self._edge(source, mapped)

    # -- bundled native code and crypto libraries ------------------------------------------

    def _bundled(self, file: BundledFile, package_ref: str, embedded: list[Component]) -> Component:
        props = [("qprov:bundled:kind", file.kind), ("qprov:bundled:path", file.path)]
        if file.size is not None:
            props.append(("qprov:bundled:size", str(file.size)))
        version = file.version
        purl = None
        short = file.name.removeprefix("lib")
        for candidate in embedded:
            if candidate.name.removeprefix("lib") == short:
                props.append(("qprov:bundled:identified-as", str(candidate.bom_ref.value)))
                if file.version:
                    props.append(("qprov:bundled:soversion", file.version))
                version = candidate.version
                purl = candidate.purl
                break
        ref = f"{package_ref}#{file.path}"
        self.bundled_count += 1
        self._edge(package_ref, ref)
        return _frozen(
            Component(
                name=file.name,
                version=version,
                type=ComponentType.FILE
                if file.kind == "extension-module"
                else ComponentType.LIBRARY,
                bom_ref=ref,
                purl=purl,
                hashes=_sha256(file.sha256),
                properties=_props(props),
            )
        )

    def _crypto_library(self, library: CryptoLibrary, package_ref: str) -> Component:
        ref = f"{package_ref}#crypto:{library.name}:{library.path}"
        self._edge(package_ref, ref)
        props = [
            ("qprov:crypto:library", "true"),
            ("qprov:crypto:quantum-vulnerable", "true" if library.quantum_vulnerable else "false"),
            ("qprov:crypto:pq-algorithms", " ".join(library.pq_algorithms)),
            ("qprov:crypto:evidence", library.evidence),
            ("qprov:bundled:path", library.path),
        ]
        purl = PackageURL(type="generic", name=library.name, version=library.version)
        return _frozen(
            Component(
                name=library.name,
                version=library.version,
                type=ComponentType.LIBRARY,
                bom_ref=ref,
                purl=purl,
                properties=_props(props),
            )
        )

    # -- packages ------------------------------------------------------------------------

    def package_component(
        self, package: Package, extras: set[str], missing: set[str], unsatisfied: set[str]
    ) -> tuple[Component, list[Component]]:
        """The package's component and, apart, its nested components.

        The nested ones are attached only after the package is in the BOM's
        sorted set: cyclonedx-python-lib's ordering key of a component includes
        all its nested components, so inserting a package that already holds
        hundreds of them costs quadratic time. Bom-refs are unique, so the order
        is decided before the nested components would be compared.
        """
        purl = package_purl(package)
        ref = purl.to_string()
        licenses, props = _licenses(package)
        props.append(("qprov:package:origin", package.origin))
        if package.digest_source is not None:
            props.append(("qprov:digest:source", package.digest_source))
        if package.wheel_tags:
            props.append(("qprov:wheel:tags", " ".join(package.wheel_tags)))
        if package.installer:
            props.append(("qprov:install:installer", package.installer))
        if package.requested is not None:
            props.append(("qprov:install:requested", str(package.requested).lower()))
        if package.editable:
            props.append(("qprov:install:editable", "true"))
        if extras:
            props.append(("qprov:extras", " ".join(sorted(extras))))
        props.extend(("qprov:dependency:missing", m) for m in sorted(missing))
        props.extend(("qprov:dependency:unsatisfied", u) for u in sorted(unsatisfied))
        props.extend(
            ("qprov:metadata:invalid-requirement", r[:500])
            for r in package.metadata.invalid_requirements
        )
        props.extend(
            (f"qprov:embedded-sbom:{s.format}", f"{s.path} sha256:{s.sha256}")
            for s in package.embedded
        )
        flag = _crypto_flag(package)
        if flag is not None:
            props.append(("qprov:crypto:library", "true"))
            props.append(("qprov:crypto:quantum-vulnerable", "false" if flag else "true"))
            props.append(("qprov:crypto:pq-algorithms", " ".join(flag)))
        props.extend(sorted(package.notes.items()))
        embedded = self._ingest(package, ref)
        nested = [self._bundled(b, ref, embedded) for b in package.bundled]
        nested += [self._crypto_library(c, ref) for c in package.crypto_libraries]
        self._edge(ref)
        component = Component(
            name=package.metadata.name,
            version=package.metadata.version,
            type=ComponentType.LIBRARY,
            bom_ref=ref,
            purl=purl,
            description=(package.metadata.summary or None),
            hashes=_sha256(package.sha256),
            licenses=licenses,
            properties=_props(props),
        )
        return component, nested + embedded

    def build(self, timestamp: datetime | None) -> Bom:
        inventory = self.inventory
        graph = resolve_graph(
            inventory.packages, inventory.marker_environment, inventory.root_requirements
        )
        bom = Bom(serial_number=uuid.UUID(int=0))
        bom.metadata.timestamp = timestamp  # type: ignore[assignment]  # None: no timestamp
        bom.metadata.tools.components.add(
            Component(
                type=ComponentType.APPLICATION,
                name="qprov",
                version=__version__,
                bom_ref="qprov:tool",
            )
        )
        meta_props = [("qprov:profile", PROFILE), ("qprov:scan:kind", inventory.kind)]
        meta_props += sorted(inventory.properties.items())
        for package in inventory.packages:
            name = package.metadata.canonical_name
            component, nested = self.package_component(
                package,
                graph.extras.get(name, set()),
                graph.missing.get(name, set()),
                graph.unsatisfied.get(name, set()),
            )
            self.refs[name] = str(component.bom_ref.value)
            bom.components.add(component)
            component.components = nested
            _frozen(component)
        for source, targets in graph.edges.items():
            for target in targets:
                self._edge(self.refs[source], self.refs[target])
        root_ref: str | None = None
        if inventory.root is not None:
            root, nested = self.package_component(inventory.root, set(), set(), set())
            root.components = nested
            root.type = ComponentType.APPLICATION
            _frozen(root)
            bom.metadata.component = root
            root_ref = str(root.bom_ref.value)
            for target in sorted(graph.root_edges):
                self._edge(root_ref, self.refs[target])
        if self.algorithms:
            for component in cbom_components(self.algorithms):
                bom.components.add(_frozen(component))
                self._edge(str(component.bom_ref.value))
            for source, parts in cbom_dependencies(self.algorithms).items():
                for part in parts:
                    self._edge(source, part)
        meta_props.append(("qprov:bundled:count", str(self.bundled_count)))
        bom.metadata.properties = _props(meta_props)
        # One leaf per target, shared by its sources; every key frozen before any
        # sorted set compares it, and the whole set sorted once.
        leaves: dict[str, Dependency] = {}

        def leaf(ref: str) -> Dependency:
            found = leaves.get(ref)
            if found is None:
                found = leaves[ref] = _frozen_dependency(Dependency(ref=BomRef(ref)))
            return found

        bom.dependencies = [
            _frozen_dependency(
                Dependency(ref=BomRef(source), dependencies=[leaf(t) for t in sorted(targets)])
            )
            for source, targets in sorted(self.dependencies.items())
        ]
        return bom


# What JsonV1Dot6.generate() adds around the model's own serialisation.
_JSON_CORE = {
    "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
}
# Off: always render through JsonV1Dot6 (the tests compare both renderings).
_FAST_RENDER = True


def _is_normalized(bom: Bom) -> bool:
    """True when JsonV1Dot6's preparation steps would leave ``bom`` unchanged.

    Before serialising, ``JsonV1Dot6.generate()`` runs ``Bom.validate()`` (which
    registers a dependency entry for every top-level component, with a linear
    search per component, and raises on unknown refs or a license expression
    next to other licenses), gives random refs to components without a unique
    bom-ref (``BomRefDiscriminator``) and rebuilds the whole dependency set
    flattened and merged (``BomDependencyGraphFlatMerger``). qprov's builder
    already produces unique explicit refs and a flat, merged graph whose refs
    all exist; this checks exactly that in linear time. If anything differs,
    the caller falls back to the library's own path, which then normalises or
    raises as it always did.
    """
    if bom.services or bom.vulnerabilities:
        return False
    refs: set[str] = set()
    tops: list[Component] = list(bom.components)
    if bom.metadata.component is not None:
        tops.append(bom.metadata.component)
    stack = list(tops)
    while stack:
        component = stack.pop()
        value = component.bom_ref.value
        if value is None or value in refs:
            return False
        refs.add(value)
        licenses: Iterable[License] = component.licenses
        if len(component.licenses) > 1 and any(
            isinstance(li, LicenseExpression) for li in licenses
        ):
            return False
        stack.extend(component.components)
    if len(bom.metadata.licenses) > 1 and any(
        isinstance(li, LicenseExpression) for li in bom.metadata.licenses
    ):
        return False
    sources: set[str] = set()
    for dependency in bom.dependencies:
        value = dependency.ref.value
        if value is None or value in sources or value not in refs:
            return False
        sources.add(value)
    for dependency in bom.dependencies:
        for child in dependency.dependencies:
            if len(child.dependencies) or child.ref.value not in sources:
                return False
    return all(component.bom_ref.value in sources for component in tops)


def _render(bom: Bom) -> tuple[str, dict[str, Any]]:
    """``JsonV1Dot6(bom).output_as_string(indent=2)`` and the parsed document.

    The model is serialised by cyclonedx-python-lib itself (its py_serializable
    ``as_json`` for the 1.6 view, then the same ``json.loads``/``dumps`` as
    ``JsonV1Dot6``); only the preparation steps that cannot change a
    normalised BOM (:func:`_is_normalized`) are skipped. Besides the text, the
    dict it was dumped from is returned, so validation needs no second parse.
    """
    if not (_FAST_RENDER and _is_normalized(bom)):
        text = JsonV1Dot6(bom).output_as_string(indent=2)
        return text, json.loads(text)
    document: dict[str, Any] = json.loads(bom.as_json(view_=SchemaVersion1Dot6))  # type: ignore[attr-defined]
    document.update(_JSON_CORE)
    return json.dumps(document, indent=2), document


def build_sbom(
    inventory: Inventory,
    *,
    algorithms: list[str] | None = None,
    timestamp: datetime | None = None,
    validate: bool = True,
) -> bytes:
    """Render an inventory as CycloneDX 1.6 JSON bytes, deterministically.

    ``algorithms`` are the signature/hash algorithms for the CBOM part (default:
    :data:`DEFAULT_ALGORITHMS`; an empty list leaves the CBOM out). ``timestamp``
    goes to ``metadata.timestamp`` (see :func:`source_date`); None writes none.
    The serial number is a UUID v5 of the document's content. The document is
    validated against the CycloneDX 1.6 strict schema unless ``validate`` is False.
    """
    chosen = list(DEFAULT_ALGORITHMS) if algorithms is None else list(algorithms)
    with paused_gc():
        bom = _Builder(inventory, chosen).build(timestamp)
        text, document = _render(bom)
        del bom
        if validate:
            validate_cyclonedx_json(document)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    serial = f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, digest)}"
    if text.count(_NIL_SERIAL) != 1:
        raise MalformedInputError("input contains the reserved nil serial number")
    return (text.replace(_NIL_SERIAL, serial) + "\n").encode("utf-8")
