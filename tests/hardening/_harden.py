"""The hardening tests' environment: keys, trust file, policy, log keys, gateway processes.

Everything runs on loopback. Every process a test starts is owned by a fixture whose
finalizer stops it (SIGTERM, then SIGKILL), even when the test fails. Every loop is
bounded in count and in time.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import requests
from admission._env import BELL, RELEASE_POLICY, Keys
from gateway._env import Server, free_port

from qprov.manifest import ManifestBundle, SdkIdentity, create_manifest
from qprov.tlog import SIG_ED25519, SIG_MLDSA44_COSIGNATURE, NoteSigner, generate_signer

__all__ = [
    "BELL",
    "JSON",
    "ORIGIN",
    "POSTGRES_URL",
    "Gateway",
    "HardenEnv",
    "Keys",
    "ci",
    "drop_postgres",
    "free_port",
    "make_bundle",
    "post",
    "request_doc",
    "require_postgres",
    "running",
    "skip_or_fail",
    "write_config",
    "write_env",
]

ORIGIN: Final = "log.qprov.test/hardening"
JSON: Final = {"Content-Type": "application/json"}
#: A gateway imports qiskit (and with [jobs] warms Aer up) before it answers; the
#: machine is shared, so this is generous, but still a bound.
START_TIMEOUT: Final = 180.0

POLICY: Final = """\
version = 1
max_shots = 100000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx", "x", "rz", "sx"]

[backends.aer]
max_qubits = 5

[sdk]
required = false
release_policy = "release-policy.toml"
"""


POSTGRES_URL: Final = os.environ.get(
    "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service or binary is missing; in CI that is a failure."""
    import pytest

    if ci():
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def require_postgres(url: str = POSTGRES_URL) -> None:
    from qprov.errors import ServiceUnavailableError
    from qprov.store import open_store

    try:
        open_store(url, namespace="probe_hardening").close()
    except ServiceUnavailableError as exc:
        skip_or_fail(f"PostgreSQL unreachable: {exc}")


def drop_postgres(namespace: str, url: str = POSTGRES_URL) -> None:
    """Drop the store tables of ``namespace`` (the shared server is never stopped)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for table in ("nonces", "quota", "decisions"):
            conn.execute(f"DROP TABLE IF EXISTS {namespace}_{table}")


@dataclass(frozen=True)
class HardenEnv:
    """A directory holding keys, trust.toml, policy.toml, release-policy.toml, log.skey."""

    keys: Keys
    dir: Path
    log_signers: tuple[NoteSigner, ...]

    @property
    def trust_file(self) -> Path:
        return self.dir / "trust.toml"

    @property
    def vkeys(self) -> list[str]:
        return [s.verifier().to_vkey() for s in self.log_signers]

    def write_trust(self, *, revoked: tuple[str, ...] = ()) -> None:
        """The trust file: submitters (one of them classical-only), the gateway, the release
        signer, revoked key ids and the log's verifier keys."""
        revoked_list = ", ".join(json.dumps(k) for k in revoked)
        self.trust_file.write_text(
            f"""version = 1

[crypto]
signatures = "composite"

[roles.submitter]
keys = [{{ file = "submitter.pub" }}, {{ file = "other_submitter.pub" }},
        {{ file = "classical.pub" }}]

[roles.gateway]
keys = [{{ file = "gateway.pub" }}]

[roles.release-signer]
keys = [{{ file = "release.pub" }}]

[revoked]
keyids = [{revoked_list}]

[log]
origin = {json.dumps(ORIGIN)}
vkeys = {json.dumps(self.vkeys)}
"""
        )


def write_env(keys: Keys, d: Path) -> HardenEnv:
    from cryptography.hazmat.primitives import serialization

    d.mkdir(parents=True, exist_ok=True)
    for name in ("submitter", "other_submitter", "gateway", "release"):
        key = getattr(keys, name)
        (d / f"{name}.pub").write_bytes(key.public_key().to_pem())
        (d / f"{name}.key").write_bytes(key.to_unencrypted_pem())
    (d / "classical.pub").write_bytes(
        keys.classical.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    signers = tuple(generate_signer(ORIGIN, alg) for alg in (SIG_ED25519, SIG_MLDSA44_COSIGNATURE))
    (d / "log.skey").write_text("".join(s.to_skey() + "\n" for s in signers))
    (d / "policy.toml").write_text(POLICY)
    (d / "release-policy.toml").write_text(RELEASE_POLICY)
    env = HardenEnv(keys, d, signers)
    env.write_trust()
    return env


def write_config(
    d: Path,
    name: str,
    *,
    port: int,
    store: str,
    log: str | None = None,
    jobs: bool = False,
    **extra: Any,
) -> Path:
    """A gateway configuration; with ``log`` every decision is signed and logged; with
    ``jobs`` admitted jobs run on Aer and get receipts."""
    lines = [
        "version = 1",
        'trust = "trust.toml"',
        'policy = "policy.toml"',
        f"store = {json.dumps(store)}",
        f"port = {port}",
        'host = "127.0.0.1"',
        'signing_key = "file:gateway.key"',
        "graceful_timeout = 10",
        "retry_after = 2",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    if log is not None:
        lines += ["", "[log]", f"url = {json.dumps(log)}", 'keys = "log.skey"']
    if jobs:
        lines += ["", "[jobs]", 'backend_names = ["aer"]', "threads = 2"]
    path = d / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_bundle(
    keys: Keys,
    circuit: bytes = BELL,
    *,
    signer: str = "submitter",
    shots: int = 100,
    sdk: SdkIdentity | None = None,
    attestation: bytes | None = None,
) -> ManifestBundle:
    """A fresh manifest (new nonce) valid from now for 30 minutes."""
    return create_manifest(
        circuit,
        circuit_name="bell.qasm",
        backend="aer",
        shots=shots,
        experiment="exp-1",
        signer=keys.signer(signer),
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
        sdk=sdk,
        sdk_attestation=attestation,
    )


def request_doc(b: ManifestBundle | dict[str, Any], circuit: bytes = BELL) -> dict[str, Any]:
    bundle_doc = b if isinstance(b, dict) else b.to_dict()
    return {"bundle": bundle_doc, "circuit": base64.b64encode(circuit).decode("ascii")}


def post(
    url: str, doc: dict[str, Any] | bytes, *, timeout: float = 120, session: Any = None
) -> requests.Response:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    client = session or requests
    response: requests.Response = client.post(url, data=data, headers=JSON, timeout=timeout)
    return response


@dataclass
class Gateway(Server):
    """A gateway owned by a hardening test: one worker, a slower start allowed under faults."""

    start_timeout: float = START_TIMEOUT


@contextlib.contextmanager
def running(*gateways: Gateway) -> Iterator[tuple[Gateway, ...]]:
    """Start the gateways one after the other (the machine is small); stop them all."""
    try:
        for gw in gateways:
            gw.start()  # a gateway that fails to start stops itself
        yield gateways
    finally:
        for gw in gateways:
            gw.stop()
