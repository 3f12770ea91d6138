"""Fixtures shared by the hardening tests: one set of keys for the session."""

from __future__ import annotations

import pytest

from ._harden import Keys


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()
