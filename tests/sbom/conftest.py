"""Fixtures of the SBOM tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sbom_testlib import make_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path)
