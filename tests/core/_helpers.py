"""Shared helpers and fixtures for the core tests: vectors, keys, trust files, the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from qprov._cli import cli
from qprov.keys import CompositeSigner, PrivateKey, generate_private_key

_REPO = Path(__file__).resolve().parents[2]

#: The five composite algorithms issue 2 requires, then pure ML-DSA.
REQUIRED_COMPOSITES = (
    "MLDSA65-Ed25519-SHA512",
    "MLDSA44-Ed25519-SHA512",
    "MLDSA65-ECDSA-P256-SHA512",
    "MLDSA87-ECDSA-P384-SHA512",
    "MLDSA87-Ed448-SHAKE256",
)
PURE_MLDSA = ("ML-DSA-44", "ML-DSA-65", "ML-DSA-87")
REQUIRED_ALGORITHMS = REQUIRED_COMPOSITES + PURE_MLDSA

#: Every test case of draft-ietf-lamps-pq-composite-sigs-19's testvectors.json.
ALL_VECTOR_IDS = (
    "id-ML-DSA-44",
    "id-ML-DSA-65",
    "id-ML-DSA-87",
    "id-MLDSA44-RSA2048-PSS-SHA256",
    "id-MLDSA44-RSA2048-PKCS15-SHA256",
    "id-MLDSA44-Ed25519-SHA512",
    "id-MLDSA44-ECDSA-P256-SHA256",
    "id-MLDSA65-RSA3072-PSS-SHA512",
    "id-MLDSA65-RSA3072-PKCS15-SHA512",
    "id-MLDSA65-RSA4096-PSS-SHA512",
    "id-MLDSA65-RSA4096-PKCS15-SHA512",
    "id-MLDSA65-ECDSA-P256-SHA512",
    "id-MLDSA65-ECDSA-P384-SHA512",
    "id-MLDSA65-ECDSA-brainpoolP256r1-SHA512",
    "id-MLDSA65-Ed25519-SHA512",
    "id-MLDSA87-ECDSA-P384-SHA512",
    "id-MLDSA87-ECDSA-brainpoolP384r1-SHA512",
    "id-MLDSA87-Ed448-SHAKE256",
    "id-MLDSA87-RSA3072-PSS-SHA512",
    "id-MLDSA87-RSA4096-PSS-SHA512",
    "id-MLDSA87-ECDSA-P521-SHA512",
)
COMPOSITE_VECTOR_IDS = tuple(t for t in ALL_VECTOR_IDS if not t.startswith("id-ML-DSA"))

#: OIDs from the draft (composite) and FIPS 204 / RFC 9881 (pure ML-DSA), written out
#: independently of qprov's table.
EXPECTED_OIDS = {
    "ML-DSA-44": "2.16.840.1.101.3.4.3.17",
    "ML-DSA-65": "2.16.840.1.101.3.4.3.18",
    "ML-DSA-87": "2.16.840.1.101.3.4.3.19",
    "MLDSA44-Ed25519-SHA512": "1.3.6.1.5.5.7.6.39",
    "MLDSA65-ECDSA-P256-SHA512": "1.3.6.1.5.5.7.6.45",
    "MLDSA65-Ed25519-SHA512": "1.3.6.1.5.5.7.6.48",
    "MLDSA87-ECDSA-P384-SHA512": "1.3.6.1.5.5.7.6.49",
    "MLDSA87-Ed448-SHAKE256": "1.3.6.1.5.5.7.6.51",
}


def vectors_root() -> Path:
    """``$QPROV_VECTORS``, default ``<repo root>/../shared/vectors``."""
    env = os.environ.get("QPROV_VECTORS")
    return Path(env) if env else _REPO.parent / "shared" / "vectors"


def require_vector_file(*parts: str) -> Path:
    path = vectors_root().joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"test vectors not found: {path} is missing. Set QPROV_VECTORS to the "
            "shared vectors directory (default <repo>/../shared/vectors).",
            pytrace=False,
        )
    return path


@dataclass(frozen=True)
class VectorCase:
    tc_id: str
    name: str  # without "id-"
    pk: bytes
    sk: bytes
    sk_pkcs8: bytes
    x5c: bytes
    s: bytes
    s_with_context: bytes


@dataclass(frozen=True)
class CompositeVectors:
    m: bytes
    ctx: bytes
    cases: Mapping[str, VectorCase]

    def case(self, tc_id: str) -> VectorCase:
        if tc_id not in self.cases:
            pytest.fail(f"test case {tc_id} is not in testvectors.json", pytrace=False)
        return self.cases[tc_id]


@cache
def _load_composite_vectors(path: Path) -> CompositeVectors:
    doc = json.loads(path.read_text(encoding="utf-8"))
    b = base64.b64decode
    cases = {
        t["tcId"]: VectorCase(
            tc_id=t["tcId"],
            name=t["tcId"].removeprefix("id-"),
            pk=b(t["pk"]),
            sk=b(t["sk"]),
            sk_pkcs8=b(t["sk_pkcs8"]),
            x5c=b(t["x5c"]),
            s=b(t["s"]),
            s_with_context=b(t["sWithContext"]),
        )
        for t in doc["tests"]
    }
    return CompositeVectors(b(doc["m"]), b(doc["ctx"]), cases)


@pytest.fixture(scope="session")
def composite_vectors() -> CompositeVectors:
    return _load_composite_vectors(require_vector_file("composite-sigs", "testvectors.json"))


@cache
def vector_private_key(tc_id: str, form: str = "sk") -> PrivateKey:
    """The vector's private key, loaded once per session (RSA loads are slow)."""
    vectors = _load_composite_vectors(require_vector_file("composite-sigs", "testvectors.json"))
    case = vectors.case(tc_id)
    if form == "sk":
        return PrivateKey.from_raw(case.name, case.sk)
    return PrivateKey.from_pkcs8_der(case.sk_pkcs8)


# -- keys -------------------------------------------------------------------------------


@cache
def session_key(alg: str, index: int = 0) -> PrivateKey:
    """A generated key per (algorithm, index), shared by every test of the session."""
    del index  # only part of the cache key
    return generate_private_key(alg)


@pytest.fixture(scope="session")
def release_key() -> PrivateKey:
    return session_key("MLDSA65-Ed25519-SHA512", 0)


@pytest.fixture(scope="session")
def release_signer(release_key: PrivateKey) -> CompositeSigner:
    return CompositeSigner(release_key)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's shell must not change what the CLI does in tests.
    for name in list(os.environ):
        if name.startswith("QPROV_") and name != "QPROV_VECTORS":
            monkeypatch.delenv(name)


# -- trust files ---------------------------------------------------------------------------


def write_trust(
    directory: Path,
    roles: Mapping[str, Sequence[Any]],
    *,
    crypto: str = "",
    revoked: Sequence[str] = (),
    role_extra: Mapping[str, str] | None = None,
) -> Path:
    """Write public keys and a trust.toml; ``roles`` maps a role to its keys.

    A key is a qprov ``PrivateKey``/``PublicKey`` or PEM bytes of a classical key.
    """
    lines = ["version = 1", ""]
    if crypto:
        lines += ["[crypto]", crypto, ""]
    for role, keys in roles.items():
        files = []
        for key in keys:
            pem = key if isinstance(key, bytes) else _public_pem(key)
            name = f"key-{hashlib.sha256(pem).hexdigest()[:12]}.pub"
            (directory / name).write_bytes(pem)
            files.append(f'"{name}"')
        lines += [f"[roles.{role}]", f"keys = [{', '.join(files)}]"]
        extra = (role_extra or {}).get(role)
        if extra:
            lines.append(extra)
        lines.append("")
    if revoked:
        lines += ["[revoked]", "keyids = [" + ", ".join(f'"{k}"' for k in revoked) + "]"]
    path = directory / "trust.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _public_pem(key: Any) -> bytes:
    public = key.public_key() if isinstance(key, PrivateKey) else key
    pem: bytes = public.to_pem()
    return pem


# -- CLI ---------------------------------------------------------------------------------


Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    """Run the CLI as ``qprov._cli.main`` does; stdout and stderr stay separate."""
    runner = CliRunner()

    def run(args: Sequence[str], **kwargs: Any) -> Result:
        return runner.invoke(cli, list(args), auto_envvar_prefix="QPROV", **kwargs)

    return run


def assert_clean_failure(result: Result, exit_code: int, *, match: str = "") -> None:
    """A failed command: the exit code, one FAIL line, no data, no traceback.

    ``match`` is a regular expression searched in stderr.
    """
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert result.stderr.startswith("FAIL: ") or result.stderr.startswith("Usage:")
    assert "Traceback" not in result.stderr
    if match:
        assert re.search(match, result.stderr), result.stderr
