"""``[log] sqlite_cache_kib``: the page cache of the gateway's log connections.

Checked in the configuration file, folded into the SQLite log URL, and taken by a
real gateway on loopback whose log connections then use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from qprov.dsse import envelope_from_dict
from qprov.errors import ConfigError
from qprov.gateway import GatewayConfig
from qprov.gateway._config import SQLITE_CACHE_KIB_RANGE
from qprov.receipt import log_entry
from qprov.tlog import generate_signer, open_store, verify_inclusion_bundle
from qprov.tlog._store import MAX_SQLITE_CACHE_KIB, MIN_SQLITE_CACHE_KIB

from ._env import TRUST, Keys, Server, bundle, free_port, request_doc, write_env

HEAD = (
    'version = 1\ntrust = "t.toml"\npolicy = "p.toml"\nstore = "sqlite:///state/s.db"\n'
    'signing_key = "file:g.key"\n'
)
ORIGIN = "qprov.test/log-cache"


def _parse(text: str, base: Path) -> GatewayConfig:
    return GatewayConfig.from_toml((HEAD + text).encode(), base)


def test_the_bounds_are_the_log_stores(tmp_path: Path) -> None:
    assert SQLITE_CACHE_KIB_RANGE == (MIN_SQLITE_CACHE_KIB, MAX_SQLITE_CACHE_KIB)


def test_sqlite_cache_kib_is_folded_into_the_log_url(tmp_path: Path) -> None:
    default = _parse('[log]\nkeys = "k"\n', tmp_path)
    assert default.log is not None
    # the log store's own modest default
    assert default.log.url == f"sqlite:///{tmp_path / 'state' / 'qprov-log.db'}"
    config = _parse('[log]\nkeys = "k"\nsqlite_cache_kib = 2048\n', tmp_path)
    assert config.log is not None
    assert config.log.url == f"sqlite:///{tmp_path / 'state' / 'qprov-log.db'}?cache_kib=2048"
    kept = _parse(
        '[log]\nkeys = "k"\nurl = "sqlite:///l.db?synchronous=normal"\nsqlite_cache_kib = 512\n',
        tmp_path,
    )
    assert kept.log is not None
    assert kept.log.url == f"sqlite:///{tmp_path / 'l.db'}?synchronous=normal&cache_kib=512"
    store = open_store(kept.log.url)  # the log store takes the URL as written
    try:
        db: Any = store._db  # type: ignore[attr-defined]  # the connection itself
        assert db.execute("PRAGMA cache_size").fetchone()[0] == -512
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("sqlite_cache_kib = 10\n", r"sqlite_cache_kib must be an integer in 64\.\.1048576"),
        ("sqlite_cache_kib = 2000000\n", r"sqlite_cache_kib must be an integer in 64\.\.1048576"),
        ("sqlite_cache_kib = true\n", "sqlite_cache_kib must be an integer"),
        ('sqlite_cache_kib = "4096"\n', "sqlite_cache_kib must be an integer"),
        ("sqlite_cache_kib = 4096.0\n", "sqlite_cache_kib must be an integer"),
        (
            'url = "postgresql://u@h/db?schema=l"\nsqlite_cache_kib = 4096\n',
            "applies to a sqlite:/// log only",
        ),
        ('url = "sqlite:///l.db?cache_kib=64"\nsqlite_cache_kib = 4096\n', "give one"),
        ("sqlite_cache = 4096\n", "unknown field"),
    ],
)
def test_sqlite_cache_kib_is_checked(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _parse('[log]\nkeys = "k"\n' + text, tmp_path)


def test_a_gateway_serves_its_log_with_the_configured_page_cache(
    keys: Keys, tmp_path: Path
) -> None:
    """Admission, then the proof of its log entry over HTTP, with a small page cache."""
    write_env(keys, tmp_path)
    signers = [generate_signer(ORIGIN, alg) for alg in (0x01, 0x06)]
    (tmp_path / "log.skey").write_text("".join(s.to_skey() + "\n" for s in signers))
    vkeys = [s.verifier().to_vkey() for s in signers]
    (tmp_path / "trust.toml").write_text(
        TRUST + f"\n[log]\norigin = {json.dumps(ORIGIN)}\nvkeys = {json.dumps(vkeys)}\n"
    )
    port = free_port()
    config = tmp_path / "gw.toml"
    config.write_text(
        "version = 1\n"
        'trust = "trust.toml"\npolicy = "policy.toml"\nstore = "sqlite:///store.db"\n'
        f'host = "127.0.0.1"\nport = {port}\nsigning_key = "file:gateway.key"\n'
        "graceful_timeout = 10\n"
        '\n[log]\nurl = "sqlite:///log.db"\nkeys = "log.skey"\nsqlite_cache_kib = 256\n'
    )
    server = Server(config, port, tmp_path / "gw.log").start()
    try:
        indexes, entries = [], []
        for _ in range(3):
            response = requests.post(
                server.url + "/v1/admissions",
                data=json.dumps(request_doc(bundle(keys))).encode(),
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["verdict"] == "admitted"
            indexes.append(body["log"]["index"])
            entries.append(log_entry(envelope_from_dict(body["envelope"])))
        assert indexes == [0, 1, 2]
        proof = requests.get(server.url + "/v1/log/proof", params={"index": 1}, timeout=10)
        assert proof.status_code == 200, proof.text
        doc = proof.json()
        assert doc["tree_size"] == 3
        assert verify_inclusion_bundle(entries[1], doc["proof"].encode(), vkeys).size == 3
    finally:
        server.stop()
