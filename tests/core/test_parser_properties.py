"""Property tests: every parser returns a valid object or raises ``qprov.errors.Error``.

Nothing else may escape (ValueError, KeyError, RecursionError, UnicodeError...).
Runs are derandomised so that the suite is deterministic.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qprov._canon import loads_strict
from qprov.dsse import Envelope, parse_envelope
from qprov.errors import Error, MalformedInputError
from qprov.keys import PrivateKey, PublicKey, load_private_key, load_public_key
from qprov.statement import Statement, parse_statement
from qprov.trust import TrustStore

from ._helpers import session_key

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _b64ish() -> st.SearchStrategy[Any]:
    return st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()) | json_values


envelope_docs = st.fixed_dictionaries(
    {},
    optional={
        "payload": _b64ish(),
        "payloadType": st.text(max_size=20) | json_values,
        "signatures": st.lists(
            st.fixed_dictionaries({}, optional={"keyid": st.text(max_size=8), "sig": _b64ish()})
            | json_values,
            max_size=3,
        )
        | json_values,
    },
)

statement_docs = st.fixed_dictionaries(
    {},
    optional={
        "_type": st.just("https://in-toto.io/Statement/v1") | st.text(max_size=10),
        "subject": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.text(max_size=8) | json_values,
                    "digest": st.dictionaries(
                        st.sampled_from(["sha256", "sha512", "gitCommit", "other"]),
                        st.text("0123456789abcdefABCDEF", max_size=130) | json_values,
                        max_size=2,
                    )
                    | json_values,
                },
            )
            | json_values,
            max_size=2,
        )
        | json_values,
        "predicateType": st.text(max_size=10) | json_values,
        "predicate": json_values,
    },
)


def _never_foreign(fn: Callable[[], object], ok_type: type | tuple[type, ...] = object) -> None:
    try:
        result = fn()
    except Error:
        return
    assert isinstance(result, ok_type)


def _dump(doc: object) -> bytes:
    return json.dumps(doc).encode()


@SETTINGS
@given(st.binary(max_size=512) | envelope_docs.map(_dump))
def test_parse_envelope(data: bytes) -> None:
    _never_foreign(lambda: parse_envelope(data), Envelope)


@SETTINGS
@given(st.binary(max_size=512) | statement_docs.map(_dump))
def test_parse_statement(data: bytes) -> None:
    _never_foreign(lambda: parse_statement(data), Statement)


def _pem(label: str, body: bytes) -> bytes:
    return (
        f"-----BEGIN {label}-----\n".encode()
        + base64.b64encode(body)
        + f"\n-----END {label}-----\n".encode()
    )


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed with one byte changed, cut short, or extended."""
    n = len(seed)
    flip = st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
        lambda t: seed[: t[0]] + bytes([seed[t[0]] ^ t[1]]) + seed[t[0] + 1 :]
    )
    cut = st.integers(0, n - 1).map(lambda i: seed[:i])
    grow = st.binary(min_size=1, max_size=8).map(lambda b: seed + b)
    return flip | cut | grow


_PUB = session_key("MLDSA65-ECDSA-P256-SHA512").public_key()
_PRIV = session_key("MLDSA65-ECDSA-P256-SHA512")


@SETTINGS
@given(
    st.binary(max_size=512)
    | _mutations(_PUB.to_spki_der()).map(lambda d: _pem("PUBLIC KEY", d))
    | json_values.map(lambda v: _dump({"keytype": "mldsa-composite", "keyval": v}))
    | st.fixed_dictionaries({"scheme": json_values, "keyval": st.just(_PUB.keyval())}).map(_dump)
)
def test_load_public_key(data: bytes) -> None:
    _never_foreign(lambda: load_public_key(data), PublicKey)


_ENCRYPTED = json.loads(_PRIV.to_encrypted("pw", scrypt_n=2**14))


@SETTINGS
@given(
    st.binary(max_size=512)
    | _mutations(_PRIV.to_pkcs8_der()).map(lambda d: _pem("PRIVATE KEY", d))
    | st.dictionaries(
        st.sampled_from(sorted(_ENCRYPTED)),
        json_values | st.sampled_from(list(_ENCRYPTED.values())),
    ).map(_dump)
)
def test_load_private_key(data: bytes) -> None:
    # a wrong passphrase: the property is about parsing, not about decrypting
    _never_foreign(lambda: load_private_key(data, "not-pw"), PrivateKey)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"


_toml_scalars = (
    st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(
        ["composite", "pq", "any", "MLDSA65-Ed25519-SHA512", "RSA", "k.pub", "missing.pub", ""]
    )
)
_toml_values = st.recursive(
    _toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["file", "pem", "name", "keyid", "x"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_trust_docs = st.fixed_dictionaries(
    {},
    optional={
        "version": st.just(1) | _toml_scalars,
        "crypto": st.dictionaries(
            st.sampled_from(["signatures", "algorithms", "x"]), _toml_values, max_size=2
        ),
        "roles": st.dictionaries(
            st.sampled_from(["r", "s"]),
            st.dictionaries(
                st.sampled_from(["threshold", "keys", "signatures", "algorithms", "limits"]),
                _toml_values,
                max_size=3,
            ),
            max_size=2,
        ),
        "revoked": st.dictionaries(st.just("keyids"), _toml_values, max_size=1),
    },
)


def _to_toml(doc: dict[str, Any]) -> bytes:
    lines = []
    for key, value in doc.items():
        if key == "roles":
            for role, table in value.items():
                lines.append(f"[roles.{role}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        elif isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{key} = {_toml_value(value)}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trustkeys")
    (d / "k.pub").write_bytes(_PUB.to_pem())
    return d


@SETTINGS
@given(
    data=st.binary(max_size=512) | st.text(max_size=300).map(str.encode) | _trust_docs.map(_to_toml)
)
def test_trust_store_from_toml(key_dir: Path, data: bytes) -> None:
    _never_foreign(lambda: TrustStore.from_toml(data, key_dir), TrustStore)


@SETTINGS
@given(st.binary(max_size=512) | st.text(max_size=300) | json_values.map(json.dumps))
def test_loads_strict(data: bytes | str) -> None:
    _never_foreign(lambda: loads_strict(data))


@pytest.mark.parametrize(
    "digits", ["9" * 4301, "-1" + "0" * 5000], ids=["4301-digits", "5001-digits"]
)
def test_loads_strict_huge_integers(digits: str) -> None:
    # Python refuses int() of more than 4300 digits with a bare ValueError
    with pytest.raises(MalformedInputError, match="not valid JSON"):
        loads_strict(digits)
    with pytest.raises(MalformedInputError):
        parse_envelope(('{"payload": ' + digits + "}").encode())


def test_loads_strict_lone_surrogate() -> None:
    # str input that cannot be encoded to UTF-8 is malformed input, not a UnicodeEncodeError
    with pytest.raises(MalformedInputError, match="not valid Unicode"):
        loads_strict('"\ud800"')
