"""JSON in exactly one place: strict parsing and RFC 8785 canonical output.

Parsing is strict because every document qprov reads may come from an attacker:
duplicate object keys, non-UTF-8 bytes, NaN/Infinity, nesting deeper than
``MAX_DEPTH`` and inputs over a size limit are refused with
:class:`~qprov.errors.MalformedInputError`. Canonical output (for digests of
JSON documents such as counts) is RFC 8785 via the ``rfc8785`` package, or, for
values made only of str-keyed dicts, lists, strings, booleans, None and safe
integers (:func:`canonical_json_plain`), json's C encoder, whose output for such
values is RFC 8785's.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import rfc8785

from qprov.errors import MalformedInputError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_SAFE_INTEGER",
    "canonical_json",
    "canonical_json_plain",
    "loads_strict",
]

#: Deepest nesting of arrays/objects accepted in any JSON document.
MAX_DEPTH = 64
#: Default size limit for a JSON document read from outside (16 MiB).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # built in C; a key seen twice makes the dict shorter than the pairs
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedInputError(f"JSON object has duplicate key {key!r}")
            seen.add(key)
    return out


def _reject_constant(name: str) -> Any:
    raise MalformedInputError(f"JSON constant {name} is not allowed")


# One decoder for every document: json.loads would build a new one per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


def _check_depth(text: str) -> None:
    # Bound nesting before json builds anything: its recursion would otherwise hit
    # RecursionError (or worse) on hostile input. Strings are removed first so that
    # brackets inside them do not count; the running depth is summed in C.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than the number of opening brackets
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if brackets and max(accumulate(_DELTA[c] for c in brackets)) > MAX_DEPTH:
        raise MalformedInputError(f"JSON nested deeper than {MAX_DEPTH} levels")


def loads_strict(
    data: bytes | str, *, what: str = "document", max_bytes: int = MAX_DOCUMENT_BYTES
) -> Any:
    """Parse JSON strictly. Raises MalformedInputError naming ``what``."""
    if isinstance(data, str):
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            raise MalformedInputError(f"{what} contains text that is not valid Unicode") from None
    else:
        size = len(data)
    if size > max_bytes:
        raise MalformedInputError(f"{what} is {size} bytes, over the limit of {max_bytes}")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInputError(f"{what} is not valid UTF-8: {exc.reason}") from None
    else:
        text = data
    _check_depth(text)
    try:
        if text.startswith("\ufeff"):  # as json.loads, which the decoder alone does not check
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except MalformedInputError as exc:
        raise MalformedInputError(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit
        raise MalformedInputError(f"{what} is not valid JSON: {exc}") from None


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical bytes of ``value``."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedInputError(f"value cannot be canonicalised: {exc}") from None


#: Largest magnitude of an integer RFC 8785 (I-JSON) accepts.
MAX_SAFE_INTEGER = 2**53 - 1

# json's C encoder with RFC 8785's separators, key order and string escapes.
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)


def canonical_json_plain(value: Any) -> bytes:
    """:func:`canonical_json` of a *plain* value, encoded by json's C encoder.

    Plain: dicts with ``str`` keys, lists, ``str``, ``bool``, ``None`` and ``int`` within
    ±:data:`MAX_SAFE_INTEGER`; no floats, no other types. The caller guarantees it by
    construction (checking a large document here would cost more than encoding it). For
    such values json's output is RFC 8785's, byte for byte, except for the key order of keys
    beyond the Basic Multilingual Plane (RFC 8785 sorts UTF-16 code units) and for lone
    surrogates: text with characters beyond U+FFFF, or that is not encodable, goes to
    rfc8785. A float or an unsafe integer would be encoded, not refused: never pass one.
    """
    text = _PLAIN_ENCODER.encode(value)
    if text.isascii():
        return text.encode("ascii")
    if max(text) <= "\uffff":
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: rfc8785 refuses them
            pass
    return canonical_json(value)
