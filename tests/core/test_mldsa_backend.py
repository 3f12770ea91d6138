"""The optional liboqs backend: selection, refusal when absent, and the adapter.

liboqs-python cannot be installed from the registries on this machine, so the
adapter is exercised with a stand-in ``oqs`` module that implements liboqs-python's
``Signature.verify_with_ctx_str`` API on top of OpenSSL's ML-DSA. That proves the
dispatch and error mapping; with the real liboqs installed the same tests run
against it (the stand-in is only installed when ``oqs`` is not importable).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from qprov._crypto import _backend
from qprov.errors import EnvironmentProblemError, SignatureError
from qprov.keys import generate_private_key

_PUB = {44: mldsa.MLDSA44PublicKey, 65: mldsa.MLDSA65PublicKey, 87: mldsa.MLDSA87PublicKey}


class _StandInSignature:
    calls: ClassVar[list[str]] = []

    def __init__(self, name: str) -> None:
        self.level = int(name.rsplit("-", 1)[1])

    def __enter__(self) -> _StandInSignature:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def verify_with_ctx_str(
        self, message: bytes, signature: bytes, context: bytes, public_key: bytes
    ) -> bool:
        _StandInSignature.calls.append(f"ML-DSA-{self.level}")
        try:
            _PUB[self.level].from_public_bytes(public_key).verify(
                signature, message, context or None
            )
        except Exception:  # noqa: BLE001 - liboqs returns False on any failure
            return False
        return True


_REAL_OQS = importlib.util.find_spec("oqs") is not None


@pytest.fixture
def liboqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.setenv(_backend.BACKEND_ENV, "liboqs")
    _backend._oqs.cache_clear()
    calls: ClassVar[list[str]] = []
    if not _REAL_OQS:
        module = types.ModuleType("oqs")
        module.Signature = _StandInSignature  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "oqs", module)
        _StandInSignature.calls = calls
    yield calls
    _backend._oqs.cache_clear()


@pytest.mark.parametrize("alg", ["MLDSA65-Ed25519-SHA512", "MLDSA87-Ed448-SHAKE256", "ML-DSA-44"])
def test_liboqs_backend_verifies_and_rejects(liboqs: list[str], alg: str) -> None:
    key = generate_private_key(alg)
    sig = key.sign(b"message", b"ctx")
    key.public_key().verify(sig, b"message", b"ctx")
    with pytest.raises(SignatureError, match="ML-DSA"):
        key.public_key().verify(sig, b"other message", b"ctx")
    if not _REAL_OQS:
        assert liboqs, "the liboqs adapter was not used"


def test_liboqs_requested_but_absent_is_an_environment_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_backend.BACKEND_ENV, "liboqs")
    monkeypatch.setitem(sys.modules, "oqs", None)  # import oqs -> ImportError
    _backend._oqs.cache_clear()
    key = generate_private_key("ML-DSA-65")
    with pytest.raises(EnvironmentProblemError, match="liboqs-python is not usable"):
        key.public_key().verify(key.sign(b"m"), b"m")
    _backend._oqs.cache_clear()


def test_unknown_backend_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_backend.BACKEND_ENV, "bogus")
    key = generate_private_key("ML-DSA-65")
    with pytest.raises(EnvironmentProblemError, match="must be 'cryptography' or 'liboqs'"):
        key.public_key().verify(key.sign(b"m"), b"m")
