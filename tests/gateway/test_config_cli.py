"""The configuration file, ``qprov gateway serve``, and keeping FastAPI out of other commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qprov._cli import cli
from qprov.errors import ConfigError
from qprov.gateway import GatewayConfig, create_app, load_gateway_config

from ._env import Keys, write_env

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str) -> GatewayConfig:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    return load_gateway_config(path)


def test_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        'version = 1\ntrust = "t.toml"\npolicy = "sub/p.toml"\nstore = "sqlite:///s.db?synchronous=full"\n'
        'signing_key = "keys/gw.key"\n',
    )
    assert config.trust == tmp_path / "t.toml"
    assert config.policy == tmp_path / "sub" / "p.toml"
    assert config.store == f"sqlite:///{tmp_path / 's.db'}?synchronous=full"
    assert config.signing_key == f"file:{tmp_path / 'keys' / 'gw.key'}"
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8080, 1)
    assert config.with_overrides(port=9000, workers=3).port == 9000


def test_env_key_uri_and_server_urls_are_kept(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        'version = 1\ntrust = "t"\npolicy = "p"\nstore = "postgresql://u@db:5432/q"\n'
        'signing_key = "env:GATEWAY_KEY"\n',
    )
    assert config.store == "postgresql://u@db:5432/q"
    assert config.signing_key == "env:GATEWAY_KEY"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('trust = "t"\npolicy = "p"\n', "version = 1"),
        ('version = 2\ntrust = "t"\npolicy = "p"\n', "version = 1"),
        ('version = 1\npolicy = "p"\n', "'trust'"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nport = 0\n', "port"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nworkers = true\n', "workers"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nmax_body_bytes = 10\n', "max_body_bytes"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nlog_level = "loud"\n', "log_level"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nstore = "sqlite:///:memory:"\n', "memory"),
        ('version = 1\ntrust = "t"\npolicy = "p"\nbody_limit = 5\n', "unknown field"),
        ("version = ", "not valid TOML"),
    ],
)
def test_bad_configs_are_config_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _load(tmp_path, text)


def test_the_example_config_parses() -> None:
    config = load_gateway_config(ROOT / "attestations" / "examples" / "gateway.toml")
    assert config.workers >= 1
    assert config.store.startswith("sqlite:///")


def test_a_signing_key_outside_the_gateway_role_stops_the_start(tmp_path: Path) -> None:
    write_env(Keys.generate(), tmp_path)
    config = _load(
        tmp_path,
        'version = 1\ntrust = "trust.toml"\npolicy = "policy.toml"\nsigning_key = "stranger.key"\n'
        'store = "sqlite:///s.db"\n',
    )
    with pytest.raises(ConfigError, match="gateway role"):
        create_app(config)


def test_serve_is_a_gateway_command() -> None:
    result = CliRunner().invoke(cli, ["gateway", "serve", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output
    assert "--workers" in result.output
    missing = CliRunner().invoke(cli, ["gateway", "serve"])
    assert missing.exit_code == 2


def test_serve_with_a_bad_config_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('version = 1\ntrust = "t"\npolicy = "p"\nunknown = 1\n')
    result = CliRunner().invoke(cli, ["gateway", "serve", "--config", str(path)])
    assert result.exit_code == 3
    assert "unknown field" in result.output


@pytest.mark.parametrize(
    "argv", [["gateway", "admit", "--help"], ["verify-envelope", "--help"], ["gateway", "--help"]]
)
def test_other_commands_do_not_import_fastapi_or_uvicorn(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from qprov._cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'uvicorn', 'starlette', 'pydantic'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert "HEAVY []" in result.stderr, result.stderr[-2000:]
