"""CycloneDX 1.6 JSON schema validation, once per document, without per-URL parsing.

cyclonedx-python-lib's own validator checks every ``iri-reference`` with
``rfc3987-syntax``, a lark grammar that costs about a second to import and
milliseconds per URL (10 s on a 160-package environment). This validator uses
the same schema files (strict 1.6 schema, SPDX, JSF and cryptography
definitions) with a format checker of its own for the four formats the schema
uses. When qprov is the first to import ``jsonschema`` in the process, it does
so with ``rfc3987_syntax`` and the other optional format-checker modules hidden,
which saves their import (see docs/adr/0007 and 0011).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qprov.errors import MalformedInputError

__all__ = ["validate_cyclonedx_json"]

_SCHEMA_PREFIX = "http://cyclonedx.org/schema/"
_IRI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PYTHON_TYPES: dict[str, type] = {"string": str, "object": dict, "array": list}


# Optional modules jsonschema imports for its own format checkers, none of which
# qprov uses (it registers its own four): ~1 s for rfc3987_syntax, ~30 ms for
# the rest (isoduration pulls in arrow).
_FORMAT_MODULES = (
    "rfc3987_syntax",
    "rfc3987",
    "isoduration",
    "rfc3986_validator",
    "rfc3339_validator",
    "webcolors",
    "jsonpointer",
    "uri_template",
    "fqdn",
    "idna",
)


def _import_jsonschema() -> Any:
    if "jsonschema" in sys.modules:
        return sys.modules["jsonschema"]
    hidden = [name for name in _FORMAT_MODULES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import jsonschema  # type: ignore[import-untyped]
    finally:
        for name in hidden:
            del sys.modules[name]
    return jsonschema


def _iri_reference(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _IRI_FORBIDDEN.search(value):
        return False
    try:
        urlsplit(value)
    except ValueError:
        return False
    return True


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _iri_reference(value) and bool(urlsplit(value).scheme) and value.isascii()


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


def _inline_refs(documents: dict[str, Any]) -> Any:
    """The root schema (``documents[""]``) with every ``$ref`` replaced by its target.

    jsonschema resolves a ``$ref`` through ``referencing`` each time it meets one
    while validating (~15,000 times for a 1,000-component SBOM: half the
    validation time). The CycloneDX schemas only use ``#/definitions/...``
    pointers and the sibling files (``spdx...``, ``jsf...#/definitions/...``),
    so every reference is resolved once here into the target object itself;
    recursive definitions become cycles between plain dicts, which validation
    only follows as deep as the instance goes. Draft 7 ignores the siblings of a
    ``$ref``, and so does this. Nested ``$id``s are dropped (nothing is left to
    resolve against them).
    """
    memo: dict[tuple[str, str], Any] = {}

    def target(doc: str, ref: str) -> Any:
        file, _, pointer = ref.partition("#")
        doc = file or doc
        key = (doc, pointer)
        if key in memo:
            return memo[key]
        if doc not in documents:
            raise MalformedInputError(f"CycloneDX schema: unresolvable $ref {ref!r}")
        node = documents[doc]
        for part in filter(None, pointer.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if isinstance(node, dict) and "$ref" in node:
            memo[key] = resolved = target(doc, node["$ref"])
            return resolved
        placeholder: dict[str, Any] = {}
        memo[key] = placeholder  # before descending: recursive definitions
        placeholder.update(inline(node, doc, top=pointer == ""))
        return placeholder

    def inline(node: Any, doc: str, top: bool = False) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return target(doc, node["$ref"])
            return {
                k: inline(v, doc)
                for k, v in node.items()
                if not (top and k in ("$id", "$schema") and doc != "")
            }
        if isinstance(node, list):
            return [inline(v, doc) for v in node]
        return node

    return inline(documents[""], "", top=True)


@lru_cache(maxsize=1)
def _validator() -> Any:
    jsonschema = _import_jsonschema()
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

    def _load(path: str | None) -> Any:
        if path is None:
            raise MalformedInputError("cyclonedx-python-lib has no CycloneDX 1.6 schema")
        return json.loads(Path(path).read_text(encoding="utf-8"))

    schema = _inline_refs(
        {
            "": _load(BOM_JSON_STRICT.get(SchemaVersion.V1_6)),
            "spdx.SNAPSHOT.schema.json": _load(SPDX_JSON),
            "cryptography-defs.SNAPSHOT.schema.json": _load(CRYPTOGRAPHY_DEFS),
            "jsf-0.82.SNAPSHOT.schema.json": _load(JSF),
        }
    )
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("iri-reference")(_iri_reference)
    checker.checks("uri")(_uri)
    checker.checks("date-time")(_date_time)
    checker.checks("idn-email")(_email)

    def unique_items(validator: Any, unique: Any, instance: Any, _schema: Any) -> Any:
        # jsonschema compares unhashable items pairwise (quadratic); compare keys instead.
        if not unique or not isinstance(instance, list):
            return
        seen: set[str | tuple[str]] = set()
        for item in instance:
            # A string is its own key (json.dumps is one-to-one on strings; the
            # tuple keeps it apart from the JSON text of other items).
            key = (item,) if isinstance(item, str) else json.dumps(item, sort_keys=True)
            if key in seen:
                text = json.dumps(item, sort_keys=True)
                yield jsonschema.ValidationError(f"non-unique array element {text[:120]}")
                return
            seen.add(key)

    def type_(validator: Any, types: Any, instance: Any, _schema: Any) -> Any:
        # jsonschema's own "type", with the JSON types of a parsed document
        # (string, object, array) tested by isinstance instead of a lookup in the
        # type checker; the others are asked of the checker as before. Same
        # result and message; it runs once per node (~28,000 times per SBOM).
        names = [types] if isinstance(types, str) else types
        for name in names:
            python_type = _PYTHON_TYPES.get(name)
            if python_type is not None:
                if isinstance(instance, python_type):
                    return
            elif validator.is_type(instance, name):
                return
        reprs = ", ".join(repr(name) for name in names)
        yield jsonschema.ValidationError(f"{instance!r} is not of type {reprs}")

    cls = jsonschema.validators.extend(
        jsonschema.Draft7Validator, {"uniqueItems": unique_items, "type": type_}
    )
    return cls(schema, format_checker=checker)


def validate_cyclonedx_json(document: Any) -> None:
    """Validate a parsed CycloneDX 1.6 document; raise with every error (up to 20)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:200]}"
            for e in errors[:20]
        ]
        raise MalformedInputError(
            f"SBOM does not validate against CycloneDX 1.6 ({len(errors)} error(s)): "
            + "; ".join(lines)
        )
