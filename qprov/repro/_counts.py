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

Reading. A document in exactly that canonical form (the form qprov writes:
``{"key":count,...}``, no whitespace, keys ascending, counts without leading
zeros) is read by :func:`_read_canonical` with array operations over its
bytes, and its ``dict`` is built only if something asks for it: the exact
replay of a simulator result compares and charts the counts as arrays. That
reader accepts a strict subset of what :func:`qprov._canon.loads_strict` and
the validation below accept, with the same meaning (a property test holds it
to that), and hands anything else, including every invalid document, to them,
so errors and their messages come from one place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import (
    Collection,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from qprov._canon import canonical_json, loads_strict
from qprov.errors import MalformedInputError

__all__ = ["Counts", "parse_counts"]

_BINARY = re.compile(r"[01]+")
#: Counts documents larger than this are refused (wide registers stay bounded).
MAX_COUNTS_BYTES = 64 * 1024 * 1024
_COMMA, _ONE = ord(","), ord("1")
_QUOTE, _COLON, _OPEN, _CLOSE, _ZERO, _NINE = (ord(c) for c in '":{}09')
#: Longest count the canonical reader takes (more digits: the general path).
_MAX_COUNT_DIGITS = 15
#: Smaller documents are parsed as JSON: the reader's fixed cost is not worth it below.
_READER_MIN_BYTES = 2048


@dataclass(frozen=True)
class Counts(Mapping[str, int]):
    """Validated counts: flat binary keys of one width, totals matching shots.

    Construct with :meth:`from_mapping` or :func:`parse_counts`; the
    constructor validates too, so an instance is always well-formed.
    """

    num_clbits: int
    shots: int
    #: A ``dict``, or (from :func:`parse_counts` of canonical bytes) a read-only
    #: mapping that builds its ``dict`` on first use.
    data: Mapping[str, int] = field(repr=False)

    def __post_init__(self) -> None:
        normalised, arrays = _validate_bulk(dict(self.data), self.num_clbits, self.shots, None)
        object.__setattr__(self, "data", normalised)
        if arrays is not None:
            object.__setattr__(self, "_arrays", arrays)

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
        data, arrays = _validate_bulk(dict(counts), num_clbits, shots, register_sizes)
        return cls._trusted(num_clbits, shots, data, arrays)

    @classmethod
    def _trusted(
        cls,
        num_clbits: int,
        shots: int,
        data: Mapping[str, int],
        arrays: KeyArrays | None = None,
    ) -> Counts:
        """Wrap already-validated data without validating it again (private).

        ``arrays``, when given, must be :func:`key_arrays` of ``data``.
        """
        obj = object.__new__(cls)
        object.__setattr__(obj, "num_clbits", num_clbits)
        object.__setattr__(obj, "shots", shots)
        object.__setattr__(obj, "data", data)
        if arrays is not None:
            object.__setattr__(obj, "_arrays", arrays)
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


class KeyArrays(NamedTuple):
    """Counts as arrays, in the order of their ``data`` (private; registers up to 64 bits).

    ``keys`` holds each binary key as an unsigned 64-bit integer, ``counts``
    the shots of each key. Built once, where the keys are validated, and read
    by the replay comparison and the chart instead of converting again.
    """

    keys: np.ndarray[Any, Any]
    counts: np.ndarray[Any, Any]


def key_arrays(counts: Counts, *, compute: bool = True) -> KeyArrays | None:
    """The :class:`KeyArrays` of ``counts``, computed once; None past 64 bits (private).

    ``compute=False``: only arrays already built (by the validation), else None.
    """
    data = counts.data
    if isinstance(data, _ArrayCounts):
        return data.arrays
    cached: KeyArrays | None = counts.__dict__.get("_arrays")
    if cached is not None or not compute:
        return cached
    grid = key_grid(data, counts.num_clbits)
    keys = grid_ints(grid) if grid is not None else None
    if keys is None:
        return None
    try:
        values = np.fromiter(data.values(), np.int64, len(data))
    except (TypeError, ValueError, OverflowError):
        return None
    arrays = KeyArrays(keys, values)
    object.__setattr__(counts, "_arrays", arrays)
    return arrays


def _validate(
    raw: dict[Any, Any],
    num_clbits: int,
    shots: int,
    register_sizes: Sequence[int] | None,
) -> dict[str, int]:
    return _validate_bulk(raw, num_clbits, shots, register_sizes)[0]


def _validate_bulk(
    raw: dict[Any, Any],
    num_clbits: int,
    shots: int,
    register_sizes: Sequence[int] | None,
) -> tuple[dict[str, int], KeyArrays | None]:
    """The validated, sorted counts without zeros, and their arrays when the bulk check ran."""
    _check_declared(num_clbits, shots, register_sizes)
    fast = _validate_flat(raw, num_clbits, shots)
    if fast is not None:
        return fast
    return _validate_each(raw, num_clbits, shots, register_sizes), None


def _declared_ok(num_clbits: Any, shots: Any, register_sizes: Sequence[int] | None) -> bool:
    """What :func:`_check_declared` accepts (flat keys match any register layout)."""
    try:
        return (
            type(num_clbits) is int
            and num_clbits >= 1
            and type(shots) is int
            and shots >= 1
            and (register_sizes is None or sum(register_sizes) == num_clbits)
        )
    except TypeError:
        return False


def _check_declared(num_clbits: int, shots: int, register_sizes: Sequence[int] | None) -> None:
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


def _validate_flat(
    raw: dict[Any, Any], num_clbits: int, shots: int
) -> tuple[dict[str, int], KeyArrays | None] | None:
    """The common case checked in bulk (array operations); None sends the caller down the loop.

    Accepts only what the per-key loop accepts without changing a key: ``str``
    keys of exactly ``num_clbits`` characters ``0``/``1`` (no register spaces,
    so no duplicates after normalisation), values of type ``int`` (not ``bool``)
    that are non-negative and add up to ``shots``. Anything else, valid or not,
    goes through the loop, which gives the same result and the same errors.
    """
    grid = key_grid(raw, num_clbits)
    if grid is None:
        return None
    values = raw.values()
    if set(map(type, values)) != {int} or sum(values) != shots:
        return None
    try:
        counts = np.fromiter(values, np.int64, len(raw))
    except OverflowError:  # past 64 bits: the loop reports it
        return None
    if counts.min() < 0:
        return None
    keys = grid_ints(grid)
    ascending = _ascending(grid) if keys is None else bool((keys[1:] > keys[:-1]).all())
    if not ascending:  # distinct keys: the order sorted(raw.items()) gives
        if keys is None:
            ordered = sorted(raw)
            return {k: raw[k] for k in ordered if raw[k]}, None
        order = np.argsort(keys)
        keys, counts = keys[order], counts[order]
        names = list(raw)
        raw = dict(zip(map(names.__getitem__, order.tolist()), counts.tolist(), strict=True))
    if not counts.all():
        kept = counts != 0
        raw = {k: v for k, v in raw.items() if v}
        if keys is not None:
            keys, counts = keys[kept], counts[kept]
    # Canonical JSON is sorted with no zeros: ``raw`` itself, which every caller passes fresh.
    return raw, (KeyArrays(keys, counts) if keys is not None else None)


def key_grid(keys: Collection[Any], num_clbits: int) -> np.ndarray[Any, Any] | None:
    """The keys as an ``(n, num_clbits)`` array of ASCII ``0``/``1`` codes, or None.

    None unless every key is a ``str`` of exactly ``num_clbits`` characters
    ``0`` or ``1``. The keys are joined with commas: the joined text has the
    length of ``n`` such keys only if the commas fall every ``num_clbits + 1``
    characters and every other character is a binary digit, which is what the
    array checks, so no key can hide a comma or a different width (private).
    """
    n = len(keys)
    if not n or num_clbits < 1:
        return None
    try:
        joined = ",".join(keys)  # TypeError unless every key is a str
    except TypeError:
        return None
    if len(joined) != n * (num_clbits + 1) - 1 or not joined.isascii():
        return None
    rows = np.frombuffer(joined.encode("ascii") + b",", np.uint8).reshape(n, num_clbits + 1)
    if not (rows[:, -1] == _COMMA).all() or not ((rows[:, :-1] | 1) == _ONE).all():
        return None
    return rows[:, :-1]


def _ascending(grid: np.ndarray[Any, Any]) -> bool:
    """True when the rows of a key grid are in strictly increasing (string) order."""
    if len(grid) < 2:
        return True
    strings = np.ascontiguousarray(grid).view(f"S{grid.shape[1]}").ravel()
    return bool((strings[1:] > strings[:-1]).all())


def grid_ints(grid: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """The binary keys of a key grid as unsigned 64-bit integers (None past 64 bits; private)."""
    n, width = grid.shape
    if width > 64:
        return None
    if width <= 53:  # a matrix product in float64, exact below 2**53
        weights = np.ldexp(1.0, np.arange(width - 1, -1, -1))
        return ((grid & 1) @ weights).astype(np.uint64)
    bits = np.zeros((n, 64), np.uint8)
    bits[:, 64 - width :] = grid & 1
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


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


class _ArrayCounts(Mapping[str, int]):
    """Validated counts held as arrays; the ``dict`` is built on first use (private).

    ``grid`` holds the ASCII digits of the keys, one row per key in ascending
    order; ``counts`` their (positive) shots. Pickles and copies as a ``dict``.
    """

    __slots__ = ("_counts", "_dict", "_grid", "arrays")

    def __init__(self, grid: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]) -> None:
        self._grid = grid
        self._counts = counts
        self._dict: dict[str, int] | None = None
        keys = grid_ints(grid)
        self.arrays = KeyArrays(keys, counts) if keys is not None else None

    def _items(self) -> dict[str, int]:
        if self._dict is None:
            width = self._grid.shape[1]
            names = np.ascontiguousarray(self._grid).view(f"S{width}").ravel().tolist()
            self._dict = dict(zip(map(bytes.decode, names), self._counts.tolist(), strict=True))
        return self._dict

    def __getitem__(self, key: str) -> int:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, key: object) -> bool:
        return key in self._items()

    def keys(self) -> KeysView[str]:
        return self._items().keys()

    def items(self) -> ItemsView[str, int]:
        return self._items().items()

    def values(self) -> ValuesView[int]:
        return self._items().values()

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if isinstance(other, Mapping):
            return self._items() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like dict

    def __repr__(self) -> str:
        return repr(self._items())

    def __reduce__(self) -> tuple[type[dict[str, int]], tuple[dict[str, int]]]:
        return dict, (self._items(),)


def _read_canonical(data: bytes, num_clbits: int, shots: int) -> _ArrayCounts | None:
    """Counts from a document in exactly the canonical form, or None for anything else.

    Accepts only ``{"k":c,"k":c,...}`` with no whitespace: every key ``num_clbits``
    characters ``0``/``1``, keys strictly ascending (so distinct), every count
    ``[1-9][0-9]*`` of at most 15 digits, the counts adding up to ``shots``. Such a
    document is valid JSON that the general path reads to the same counts; any other
    document, valid or not, gets None and goes down the general path, which also
    words every error. Array operations only: no object per outcome.
    """
    size = len(data)
    if size < num_clbits + 7 or data[0] != _OPEN or data[-1] != _CLOSE:
        return None
    text = np.frombuffer(data, np.uint8)
    quotes = np.flatnonzero(text == _QUOTE)
    if not len(quotes) or len(quotes) % 2:
        return None
    opens, closes = quotes[0::2], quotes[1::2]
    # Structure: '{', then per entry '"' key '"' ':' count, entries split by ',', '}'.
    if opens[0] != 1 or not (closes - opens == num_clbits + 1).all():
        return None
    ends = np.empty_like(opens)  # the ',' or '}' after each count
    ends[:-1] = opens[1:] - 1
    ends[-1] = size - 1
    starts = closes + 2
    lengths = ends - starts
    if lengths.min() < 1 or lengths.max() > _MAX_COUNT_DIGITS:
        return None
    if not (
        (text[closes + 1] == _COLON).all()
        and (text[ends[:-1]] == _COMMA).all()
        and (text[starts] != _ZERO).all()  # no leading zero, no zero count
    ):
        return None
    # Every other byte is a key or count character: keys binary; the digit total leaves
    # no room for anything but digits in the counts.
    grid = sliding_window_view(text, num_clbits)[opens + 1]
    if not ((grid | 1) == _ONE).all():
        return None
    digits = np.count_nonzero((text >= _ZERO) & (text <= _NINE))
    if digits != len(opens) * num_clbits + int(lengths.sum()):
        return None
    widest = int(lengths.max())  # right-align the counts' digits, then read them
    at = ends[:, None] + np.arange(-widest, 0)
    cells = text[at].astype(np.int64) - _ZERO
    cells[at < starts[:, None]] = 0
    counts = cells[:, 0]
    for j in range(1, widest):
        counts = counts * 10 + cells[:, j]
    if int(counts.max()) > shots:
        return None
    # Each count is at most ``shots``: the int64 sum cannot overflow below this bound.
    total = int(counts.sum()) if len(counts) * shots < 2**63 else sum(counts.tolist())
    if total != shots:
        return None
    mapping = _ArrayCounts(grid, counts)
    ascending = (
        _ascending(grid)
        if mapping.arrays is None
        else bool((mapping.arrays.keys[1:] > mapping.arrays.keys[:-1]).all())
    )
    return mapping if ascending else None


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
    if (
        isinstance(data, bytes)
        and _READER_MIN_BYTES <= len(data) <= max_bytes
        and _declared_ok(num_clbits, shots, register_sizes)
    ):
        fast = _read_canonical(data, num_clbits, shots)
        if fast is not None:
            return Counts._trusted(num_clbits, shots, fast, fast.arrays)
    doc = loads_strict(data, what="counts JSON", max_bytes=max_bytes)
    if not isinstance(doc, dict):
        raise MalformedInputError(
            f"counts JSON must be an object of outcome -> shots, got {type(doc).__name__}"
        )
    normalised, arrays = _validate_bulk(doc, num_clbits, shots, register_sizes)
    return Counts._trusted(num_clbits, shots, normalised, arrays)
