"""qprov's own predicates: versioned type URIs and strict dict <-> model conversion.

Private. Every qprov predicate (job manifest, grant, grant revocation, admission
decision, and later receipts and baselines) is a frozen dataclass built from a
JSON object by a :class:`Fields` reader that checks each field's type and
rejects unknown fields, and written back by ``to_dict()``. The JSON Schema of
each predicate (draft 2020-12, ``attestations/schemas/<name>.v1.json``) says
the same thing for other tools; the tests check that each schema accepts what
its model emits and rejects what its model rejects. Schemas are never used at
runtime: hand-written checks are faster and give better reasons.

See docs/adr/0010-qprov-predicates.md.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, NewType, Self, TypeVar

from qprov.errors import MalformedInputError

__all__ = [
    "PREDICATE_PREFIX",
    "Fields",
    "Predicate",
    "Sha256",
    "digest_dict",
    "format_time",
    "parse_digest",
    "parse_time",
    "predicate_type",
]

PREDICATE_PREFIX: Final = "https://qprov.dev/attestations/"
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9-]{0,62}")
_TIME_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z")
_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
#: The longest string accepted in a predicate field unless a field says otherwise.
MAX_STRING: Final = 4096
#: The most items accepted in a list or object field unless a field says otherwise.
MAX_ITEMS: Final = 1024

Sha256 = NewType("Sha256", str)
"""A sha256 digest: 64 lowercase hex digits."""

T = TypeVar("T")
_MISSING: Final = object()


def predicate_type(name: str, version: int = 1) -> str:
    """``https://qprov.dev/attestations/<name>/v<version>``."""
    if not _NAME_RE.fullmatch(name) or version < 1:
        raise ValueError(f"invalid predicate name {name!r} or version {version}")
    return f"{PREDICATE_PREFIX}{name}/v{version}"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``; microseconds only when not zero."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MalformedInputError("a timestamp must be timezone-aware")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def parse_time(value: Any, where: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (RFC 3339, UTC only)."""
    if not isinstance(value, str):
        raise MalformedInputError(f"{where} must be an RFC 3339 UTC timestamp string")
    match = _TIME_RE.fullmatch(value)
    if match is None:
        raise MalformedInputError(
            f"{where} must be an RFC 3339 UTC timestamp like 2026-01-02T03:04:05Z"
        )
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        raise MalformedInputError(f"{where} is not a valid date and time: {value!r}") from None


def parse_digest(value: Any, where: str) -> Sha256:
    """A digest object ``{"sha256": "<64 hex>"}`` (nothing else) -> the hex."""
    if not isinstance(value, dict) or "sha256" not in value:
        raise MalformedInputError(f'{where} must be a digest object {{"sha256": "<hex>"}}')
    unknown = sorted(set(value) - {"sha256"})
    if unknown:
        shown = ", ".join(repr(u)[:60] for u in unknown[:8])
        raise MalformedInputError(f"{where} has unknown field(s): {shown}")
    return check_sha256(value["sha256"], f"{where}.sha256")


def check_sha256(value: Any, where: str) -> Sha256:
    if not isinstance(value, str) or not _SHA256_RE.fullmatch(value):
        raise MalformedInputError(f"{where} must be 64 lowercase hex digits")
    return Sha256(value)


def digest_dict(sha256: str) -> dict[str, str]:
    return {"sha256": sha256}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Fields:
    """Read the fields of one JSON object strictly; :meth:`done` rejects the rest.

    Every accessor names the field's full path in its error, so a reason reads
    ``job-manifest predicate: circuit.qubits must be an integer >= 0``.
    """

    def __init__(self, doc: Any, where: str) -> None:
        if not isinstance(doc, dict):
            raise MalformedInputError(f"{where} must be a JSON object, not {_kind(doc)}")
        self._doc: dict[str, Any] = doc
        self._where = where
        self._seen: set[str] = set()

    def _path(self, key: str) -> str:
        return f"{self._where}.{key}"

    def _get(self, key: str, required: bool) -> Any:
        self._seen.add(key)
        value = self._doc.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise MalformedInputError(f"{self._where} is missing {key}")
            return None
        if value is None:
            raise MalformedInputError(f"{self._path(key)} must not be null")
        return value

    def has(self, key: str) -> bool:
        return key in self._doc

    def string(
        self,
        key: str,
        *,
        required: bool = True,
        max_length: int = MAX_STRING,
        pattern: re.Pattern[str] | None = None,
        allow_empty: bool = False,
    ) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if (
            type(value) is str
            and (value or allow_empty)
            and len(value) <= max_length
            and (pattern is None or not value or pattern.fullmatch(value))
        ):
            return value  # exactly what check_string accepts, without building the path
        return check_string(
            value,
            self._path(key),
            max_length=max_length,
            pattern=pattern,
            allow_empty=allow_empty,
        )

    def req_string(self, key: str, **kwargs: Any) -> str:
        value = self.string(key, required=True, **kwargs)
        assert value is not None  # noqa: S101 - required
        return value

    def integer(
        self, key: str, *, required: bool = True, minimum: int = 0, maximum: int = 2**53 - 1
    ) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedInputError(f"{self._path(key)} must be an integer, not {_kind(value)}")
        if not minimum <= value <= maximum:
            raise MalformedInputError(
                f"{self._path(key)} must be an integer in [{minimum}, {maximum}]"
            )
        return value

    def req_integer(self, key: str, **kwargs: Any) -> int:
        value = self.integer(key, required=True, **kwargs)
        assert value is not None  # noqa: S101 - required
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            raise MalformedInputError(f"{self._path(key)} must be true or false")
        return value

    def time(self, key: str) -> datetime:
        return parse_time(self._get(key, True), self._path(key))

    def digest(self, key: str, *, required: bool = True) -> Sha256 | None:
        value = self._get(key, required)
        if value is None:
            return None
        return parse_digest(value, self._path(key))

    def req_digest(self, key: str) -> Sha256:
        value = self.digest(key, required=True)
        assert value is not None  # noqa: S101 - required
        return value

    def fields(self, key: str, *, required: bool = True) -> Fields | None:
        value = self._get(key, required)
        if value is None:
            return None
        return Fields(value, self._path(key))

    def req_fields(self, key: str) -> Fields:
        value = self.fields(key, required=True)
        assert value is not None  # noqa: S101 - required
        return value

    def string_list(
        self,
        key: str,
        *,
        max_items: int = MAX_ITEMS,
        max_length: int = 256,
        pattern: re.Pattern[str] | None = None,
        non_empty: bool = True,
    ) -> tuple[str, ...]:
        value = self._get(key, True)
        where = self._path(key)
        if not isinstance(value, list):
            raise MalformedInputError(f"{where} must be an array of strings")
        if non_empty and not value:
            raise MalformedInputError(f"{where} must not be empty")
        if len(value) > max_items:
            raise MalformedInputError(f"{where} has more than {max_items} items")
        out = [
            check_string(v, f"{where}[{i}]", max_length=max_length, pattern=pattern)
            for i, v in enumerate(value)
        ]
        if len(set(out)) != len(out):
            raise MalformedInputError(f"{where} lists an item twice")
        return tuple(out)

    def raw_object(self, key: str) -> dict[str, Any]:
        """A required JSON object, returned as is (for foreign formats parsed elsewhere)."""
        value = self._get(key, True)
        if not isinstance(value, dict):
            raise MalformedInputError(
                f"{self._path(key)} must be a JSON object, not {_kind(value)}"
            )
        return value

    def objects(self, key: str, *, max_items: int = MAX_ITEMS) -> list[Fields]:
        """A non-empty array of objects, each as a :class:`Fields` reader."""
        value = self._get(key, True)
        where = self._path(key)
        if not isinstance(value, list) or not value:
            raise MalformedInputError(f"{where} must be a non-empty array of objects")
        if len(value) > max_items:
            raise MalformedInputError(f"{where} has more than {max_items} items")
        return [Fields(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def mapping(
        self,
        key: str,
        convert: Callable[[Any, str], T],
        *,
        required: bool = True,
        max_items: int = MAX_ITEMS,
        key_pattern: re.Pattern[str] | None = None,
    ) -> dict[str, T] | None:
        value = self._get(key, required)
        if value is None:
            return None
        where = self._path(key)
        if not isinstance(value, dict):
            raise MalformedInputError(f"{where} must be an object")
        if len(value) > max_items:
            raise MalformedInputError(f"{where} has more than {max_items} entries")
        out: dict[str, T] = {}
        for k, v in value.items():
            if not (
                type(k) is str
                and k
                and len(k) <= 256
                and (key_pattern is None or key_pattern.fullmatch(k))
            ):
                check_string(k, f"{where} key", max_length=256, pattern=key_pattern)  # raises
            out[k] = convert(v, f"{where}.{k}")
        return out

    def done(self) -> None:
        """Reject every field that was not read."""
        if self._seen.issuperset(self._doc):
            return
        unknown = sorted(set(self._doc) - self._seen)
        if unknown:
            shown = ", ".join(repr(u)[:60] for u in unknown[:8])
            raise MalformedInputError(f"{self._where} has unknown field(s): {shown}")


def check_string(
    value: Any,
    where: str,
    *,
    max_length: int = MAX_STRING,
    pattern: re.Pattern[str] | None = None,
    allow_empty: bool = False,
) -> str:
    if not isinstance(value, str):
        raise MalformedInputError(f"{where} must be a string, not {_kind(value)}")
    if not value and not allow_empty:
        raise MalformedInputError(f"{where} must not be empty")
    if len(value) > max_length:
        raise MalformedInputError(f"{where} is longer than {max_length} characters")
    if pattern is not None and value and not pattern.fullmatch(value):
        raise MalformedInputError(f"{where} has an invalid form: {value[:60]!r}")
    return value


def non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53 - 1:
        raise MalformedInputError(f"{where} must be an integer >= 0")
    return value


def option_value(value: Any, where: str) -> str | int | bool:
    """An execution option: a string, an integer or a boolean (no floats: not canonical)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -(2**53) < value < 2**53:
            raise MalformedInputError(f"{where} is out of the exact JSON integer range")
        return value
    if isinstance(value, str):
        return check_string(value, where, max_length=1024, allow_empty=True)
    raise MalformedInputError(f"{where} must be a string, an integer or a boolean")


def sorted_dict(items: Iterable[tuple[str, T]]) -> dict[str, T]:
    return dict(sorted(items))


class Predicate(ABC):
    """Base of qprov's predicate models (frozen dataclasses).

    Subclasses set :attr:`NAME` (the schema is ``attestations/schemas/<NAME>.v1.json``)
    and :attr:`PREDICATE_TYPE`, and implement :meth:`from_dict` / :meth:`to_dict`.
    """

    NAME: ClassVar[str]
    PREDICATE_TYPE: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_dict(cls, doc: Any) -> Self:
        """Build from a JSON object; raise MalformedInputError naming the field."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``from_dict(to_dict())`` round-trips)."""

    @classmethod
    def parse_predicate(cls, predicate_type_: str, predicate: Mapping[str, Any]) -> Self:
        """Build from a statement's predicate, checking its type first."""
        if predicate_type_ != cls.PREDICATE_TYPE:
            raise MalformedInputError(
                f"predicateType is {predicate_type_!r}, expected {cls.PREDICATE_TYPE!r}"
            )
        return cls.from_dict(dict(predicate))
