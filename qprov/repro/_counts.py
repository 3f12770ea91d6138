"""Measured counts: strict parsing, validation and canonical bytes.

A counts document is a JSON object mapping outcome keys to shot numbers, e.g.
``{"000": 498, "111": 502}``. Keys are binary strings, most significant
classical bit first (qiskit's convention: the rightmost character is clbit 0).
Qiskit's multi-register form, registers separated by single spaces with the
*last* register first (``"01 101"`` for a 2-bit register added after a 3-bit
one), is accepted and normalised by removing the spaces: that yields the same
flat bit order. Hexadecimal keys (``"0x5"``) are not accepted because they do
not carry a width.

Every key must have exactly ``num_clbits`` binary digits, every value must be a
non-negative JSON integer (not ``true``, not ``3.0``), and the values must add
up to the declared number of shots. The canonical form drops zero entries and
is serialised with RFC 8785 (:func:`qprov._canon.canonical_json`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qprov._canon import canonical_json, loads_strict
from qprov.errors import MalformedInputError

__all__ = ["Counts", "parse_counts"]

_BINARY = re.compile(r"[01]+")
#: Counts documents larger than this are refused (wide registers stay bounded).
MAX_COUNTS_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Counts(Mapping[str, int]):
    """Validated counts: flat binary keys of one width, totals matching shots.

    Construct with :meth:`from_mapping` or :func:`parse_counts`; the
    constructor validates too, so an instance is always well-formed.
    """

    num_clbits: int
    shots: int
    data: Mapping[str, int] = field(repr=False)

    def __post_init__(self) -> None:
        normalised = _validate(dict(self.data), self.num_clbits, self.shots, None)
        object.__setattr__(self, "data", normalised)

    # -- Mapping protocol --------------------------------------------------
    def __getitem__(self, key: str) -> int:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_mapping(
        cls,
        counts: Mapping[Any, Any],
        *,
        num_clbits: int,
        shots: int | None = None,
        register_sizes: Sequence[int] | None = None,
    ) -> Counts:
        """Validate a mapping (e.g. from ``Result.get_counts()``).

        ``shots=None`` takes the total of the values as the shot number.
        ``register_sizes`` (in circuit order) checks space-separated keys.
        """
        if shots is None:
            shots = _total(counts)
        data = _validate(dict(counts), num_clbits, shots, register_sizes)
        return cls._trusted(num_clbits, shots, data)

    @classmethod
    def _trusted(cls, num_clbits: int, shots: int, data: dict[str, int]) -> Counts:
        """Wrap already-validated data without validating it again (private)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "num_clbits", num_clbits)
        object.__setattr__(obj, "shots", shots)
        object.__setattr__(obj, "data", data)
        return obj

    # -- output ------------------------------------------------------------
    def to_json(self) -> bytes:
        """Canonical RFC 8785 bytes (zero entries dropped)."""
        return canonical_json(dict(self.data))

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`to_json`."""
        return hashlib.sha256(self.to_json()).hexdigest()

    def as_dict(self) -> dict[str, int]:
        """A plain ``dict`` copy, keys sorted."""
        return dict(sorted(self.data.items()))


def _total(counts: Mapping[Any, Any]) -> int:
    total = 0
    for value in counts.values():
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedInputError(f"counts value {value!r} is not an integer")
        total += value
    return total


def _validate(
    raw: dict[Any, Any],
    num_clbits: int,
    shots: int,
    register_sizes: Sequence[int] | None,
) -> dict[str, int]:
    if isinstance(num_clbits, bool) or not isinstance(num_clbits, int) or num_clbits < 1:
        raise MalformedInputError(
            f"number of classical bits must be a positive integer, got {num_clbits!r}"
        )
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise MalformedInputError(f"shots must be a positive integer, got {shots!r}")
    if register_sizes is not None and sum(register_sizes) != num_clbits:
        raise MalformedInputError(
            f"register sizes {list(register_sizes)} do not add up to {num_clbits} clbits"
        )
    fast = _validate_flat(raw, num_clbits, shots)
    if fast is not None:
        return fast
    return _validate_each(raw, num_clbits, shots, register_sizes)


def _validate_each(
    raw: dict[Any, Any],
    num_clbits: int,
    shots: int,
    register_sizes: Sequence[int] | None,
) -> dict[str, int]:
    """Key by key, normalising register spaces; the first problem found is raised."""
    expected_groups = list(reversed(register_sizes)) if register_sizes is not None else None
    out: dict[str, int] = {}
    total = 0
    for key, value in raw.items():
        if not isinstance(key, str):
            raise MalformedInputError(f"counts key {key!r} is not a string")
        flat = _normalise_key(key, num_clbits, expected_groups)
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedInputError(f"counts value for {key!r} is {value!r}, not a JSON integer")
        if value < 0:
            raise MalformedInputError(f"counts value for {key!r} is negative ({value})")
        if flat in out:
            raise MalformedInputError(
                f"counts key {key!r} duplicates outcome {flat!r} after normalisation"
            )
        total += value
        if value:
            out[flat] = value
        else:
            out.setdefault(flat, 0)
    if total != shots:
        raise MalformedInputError(
            f"counts add up to {total} shots, but {shots} shots were declared"
        )
    return {k: v for k, v in sorted(out.items()) if v}


def _validate_flat(raw: dict[Any, Any], num_clbits: int, shots: int) -> dict[str, int] | None:
    """The common case checked in bulk (C loops); None sends the caller down the slow path.

    Accepts only what the per-key loop accepts without changing a key: ``str``
    keys of exactly ``num_clbits`` characters ``0``/``1`` (no register spaces,
    so no duplicates after normalisation), values of type ``int`` (not ``bool``)
    that are non-negative and add up to ``shots``. Anything else, valid or not,
    goes through the loop, which gives the same result and the same errors.
    """
    if not raw:
        return None
    values = raw.values()
    try:
        joined = "".join(raw)  # TypeError unless every key is a str
    except TypeError:
        return None
    if set(map(type, values)) != {int} or set(map(len, raw)) != {num_clbits}:
        return None
    if not _BINARY.fullmatch(joined):
        return None
    smallest = min(values)
    if smallest < 0 or sum(values) != shots:
        return None
    keys = sorted(raw)  # distinct keys: the order sorted(raw.items()) gives
    if smallest == 0:
        keys = [k for k in keys if raw[k]]
    elif keys == list(raw):
        return raw  # already in order (canonical JSON is); every caller passes a fresh dict
    return dict(zip(keys, map(raw.__getitem__, keys), strict=True))


def _normalise_key(key: str, num_clbits: int, groups: list[int] | None) -> str:
    shown = key if len(key) <= 40 else key[:37] + "..."
    if " " in key:
        parts = key.split(" ")
        if any(not p for p in parts):
            raise MalformedInputError(
                f"counts key {shown!r}: registers must be separated by single spaces"
            )
        if groups is not None and [len(p) for p in parts] != groups:
            raise MalformedInputError(
                f"counts key {shown!r}: register widths {[len(p) for p in parts]} do not "
                f"match the circuit's registers {groups} (last register first)"
            )
        flat = "".join(parts)
    else:
        flat = key
    if not _BINARY.fullmatch(flat):
        raise MalformedInputError(
            f"counts key {shown!r} is not a binary string (only '0', '1' and "
            "register-separating spaces are allowed)"
        )
    if len(flat) != num_clbits:
        raise MalformedInputError(
            f"counts key {shown!r} has {len(flat)} bits, but the circuit has "
            f"{num_clbits} classical bits"
        )
    return flat


def parse_counts(
    data: bytes,
    *,
    num_clbits: int,
    shots: int,
    register_sizes: Sequence[int] | None = None,
    max_bytes: int = MAX_COUNTS_BYTES,
) -> Counts:
    """Parse a counts JSON document strictly.

    Raises :class:`~qprov.errors.MalformedInputError` for invalid JSON,
    duplicate keys, a non-object document, keys that are not binary or have
    the wrong width, values that are not non-negative integers, and totals
    that differ from ``shots``.
    """
    doc = loads_strict(data, what="counts JSON", max_bytes=max_bytes)
    if not isinstance(doc, dict):
        raise MalformedInputError(
            f"counts JSON must be an object of outcome -> shots, got {type(doc).__name__}"
        )
    normalised = _validate(doc, num_clbits, shots, register_sizes)
    return Counts._trusted(num_clbits, shots, normalised)
