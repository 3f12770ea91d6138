"""Every test the threat model names exists (docs/threat-model.md)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _refs() -> list[tuple[str, str]]:
    return _REF.findall((REPO / "docs" / "threat-model.md").read_text(encoding="utf-8"))


def test_threat_model_names_tests() -> None:
    assert len(_refs()) >= 40


def test_every_referenced_test_exists() -> None:
    missing = []
    for path, name in _refs():
        file = REPO / path
        if not file.is_file():
            missing.append(f"{path} (no such file)")
            continue
        source = file.read_text(encoding="utf-8")
        if not re.search(rf"^(?:async )?def {re.escape(name)}\(", source, flags=re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert not missing, "threat model names tests that do not exist: " + ", ".join(missing)


def test_every_link_of_the_chain_is_covered() -> None:
    text = (REPO / "docs" / "threat-model.md").read_text(encoding="utf-8")
    for heading in ("SDK build and release attestation", "Job manifest and admission",
                    "Execution, receipt and log", "Verification and reproduction",
                    "Residual risks"):
        assert heading in text
