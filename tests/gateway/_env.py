"""Keys, trust file, policy and gateway configurations for the gateway tests; real servers."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import requests

from qprov.keys import CompositeSigner, PrivateKey, generate_private_key
from qprov.manifest import ManifestBundle, create_manifest

ALG = "MLDSA44-Ed25519-SHA512"  # the fastest composite

BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

#: A T gate hidden in a gate definition; t is not allowed.
HIDDEN_T = b"""OPENQASM 2.0;
include "qelib1.inc";
gate innocent a { h a; t a; h a; }
qreg q[2];
creg c[2];
innocent q[0];
cx q[0],q[1];
measure q -> c;
"""

POLICY = """\
version = 1
max_shots = 100000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx", "x", "rz", "sx"]

[backends.aer]
max_qubits = 5
"""

TRUST = """\
version = 1

[crypto]
signatures = "composite"

[roles.submitter]
keys = [{ file = "submitter.pub" }]

[roles.gateway]
keys = [{ file = "gateway.pub" }]
"""

#: Start-up of a server process (imports qiskit): generous, still bounded.
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Keys:
    submitter: PrivateKey
    gateway: PrivateKey
    stranger: PrivateKey

    @staticmethod
    def generate() -> Keys:
        return Keys(*(generate_private_key(ALG) for _ in range(3)))


def write_env(keys: Keys, d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name in ("submitter", "gateway", "stranger"):
        key: PrivateKey = getattr(keys, name)
        (d / f"{name}.pub").write_bytes(key.public_key().to_pem())
        (d / f"{name}.key").write_bytes(key.to_unencrypted_pem())
    (d / "trust.toml").write_text(TRUST)
    (d / "policy.toml").write_text(POLICY)


def write_config(d: Path, name: str, *, store: str, port: int, **extra: Any) -> Path:
    lines = [
        "version = 1",
        'trust = "trust.toml"',
        'policy = "policy.toml"',
        f"store = {json.dumps(store)}",
        f"port = {port}",
        'host = "127.0.0.1"',
        "graceful_timeout = 10",
        "retry_after = 2",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = d / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def bundle(
    keys: Keys,
    circuit: bytes = BELL,
    *,
    signer: str = "submitter",
    now: datetime | None = None,
    lifetime: timedelta = timedelta(minutes=10),
    shots: int = 100,
) -> ManifestBundle:
    key: PrivateKey = getattr(keys, signer)
    return create_manifest(
        circuit,
        circuit_name="bell.qasm",
        backend="aer",
        shots=shots,
        experiment="exp-1",
        signer=CompositeSigner(key),
        now=now or datetime.now(UTC),
        lifetime=lifetime,
    )


def request_doc(b: ManifestBundle, circuit: bytes = BELL) -> dict[str, Any]:
    return {"bundle": b.to_dict(), "circuit": base64.b64encode(circuit).decode("ascii")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """``qprov gateway serve`` in a subprocess on loopback.

    ``preexec`` runs in the child before exec (resource limits, dropped capabilities).
    """

    config: Path
    port: int
    log: Path
    workers: int = 1
    preexec: Callable[[], None] | None = None
    start_timeout: float = START_TIMEOUT
    proc: subprocess.Popen[bytes] | None = None
    _log_fh: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Self:
        self._log_fh = self.log.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QPROV_GATEWAY")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from qprov._cli import main; main()",
                "gateway",
                "serve",
                "--config",
                str(self.config),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log_fh,
            env=env,
            cwd=self.config.parent,
            preexec_fn=self.preexec,  # noqa: PLW1509 - a resource limit or a dropped capability
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"gateway exited at start:\n{self.tail()}")
            with contextlib.suppress(requests.RequestException):
                requests.get(self.url + "/v1/health", timeout=10)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not answer in {self.start_timeout}s:\n{self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        return proc.returncode

    def log_lines(self) -> list[dict[str, Any]]:
        # every line must be one JSON object
        return [json.loads(line) for line in self.log.read_text().splitlines()]
