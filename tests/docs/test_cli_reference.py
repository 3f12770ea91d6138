"""docs/cli.md is generated from the click command tree and must match the code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner

from qprov._cli import cli

REPO = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_reference", REPO / "scripts" / "gen_cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_cli_reference", module)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    expected = _generator().render()
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/cli.md is stale: run `python scripts/gen_cli_reference.py` and commit it"
    )


def test_generation_is_deterministic() -> None:
    gen = _generator()
    assert gen.render() == gen.render()


def test_reference_lists_every_command_and_option() -> None:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for heading in ("## `qprov keys generate`", "## `qprov gateway serve`",
                    "## `qprov verify chain`", "## `qprov log monitor`",
                    "## `qprov sigstore verify-bundle`"):
        assert heading in text
    assert "`QPROV_KEYS_GENERATE_ALG`" in text
    assert "`QPROV_VERIFY_ENVELOPE_TRUST`" in text  # named after the parameter
    assert "`QPROV_LOG_STORE`" in text  # an option with its own variable


def test_documented_environment_variable_is_the_one_click_reads(tmp_path: Path) -> None:
    """The name the reference shows really sets the option (auto_envvar_prefix=QPROV)."""
    runner = CliRunner()
    out = tmp_path / "k"
    result = runner.invoke(
        cli,
        ["keys", "generate", "--no-passphrase", "--out", str(out)],
        env={"QPROV_KEYS_GENERATE_ALG": "MLDSA44-Ed25519-SHA512"},
        auto_envvar_prefix="QPROV",
    )
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["keys", "show", str(out) + ".pub"], auto_envvar_prefix="QPROV")
    assert shown.exit_code == 0, shown.output
    assert "MLDSA44-Ed25519-SHA512" in shown.output
