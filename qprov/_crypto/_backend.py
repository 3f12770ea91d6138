"""Which implementation verifies the ML-DSA half: ``cryptography`` (default) or liboqs.

``QPROV_MLDSA_BACKEND=liboqs`` routes ML-DSA *verification* through liboqs-python
(``oqs``), e.g. to cross-check OpenSSL's implementation or where the installed
``cryptography`` lacks ML-DSA. liboqs cannot be installed from the package
registries everywhere, so it is never required: asking for it when ``oqs`` is not
importable is an environment error, never a silent fallback. Signing always uses
``cryptography``: liboqs-python cannot derive a key from the 32-byte seed that
the composite private key stores.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature

from qprov.errors import EnvironmentProblemError

__all__ = ["BACKEND_ENV", "mldsa_backend", "oqs_verify"]

BACKEND_ENV = "QPROV_MLDSA_BACKEND"


def mldsa_backend() -> str:
    """The backend named by ``QPROV_MLDSA_BACKEND`` (``cryptography`` when unset)."""
    name = os.environ.get(BACKEND_ENV, "cryptography").strip().lower() or "cryptography"
    if name not in ("cryptography", "liboqs"):
        raise EnvironmentProblemError(
            f"{BACKEND_ENV} must be 'cryptography' or 'liboqs', not {name!r}"
        )
    return name


@cache
def _oqs() -> Any:
    try:
        return importlib.import_module("oqs")
    except ImportError as exc:  # includes a missing liboqs shared library
        raise EnvironmentProblemError(
            f"{BACKEND_ENV}=liboqs but liboqs-python is not usable here: {exc}"
        ) from None


def oqs_verify(level: int, public_key: bytes, signature: bytes, message: bytes, ctx: bytes) -> None:
    """Verify a pure ML-DSA signature with liboqs; raise InvalidSignature when invalid."""
    oqs = _oqs()
    try:
        with oqs.Signature(f"ML-DSA-{level}") as verifier:
            ok = verifier.verify_with_ctx_str(message, signature, ctx, public_key)
    except (RuntimeError, ValueError, TypeError) as exc:  # liboqs-python's error types
        raise InvalidSignature(f"ML-DSA signature cannot be verified (liboqs: {exc})") from None
    if not ok:
        raise InvalidSignature("ML-DSA signature does not verify (liboqs)")
