"""A complete local gateway for chain tests: the admission environment plus a log and Aer.

The admission environment (keys for every role, trust file, policy) is
``tests/admission/_env.py``; this adds the log's note signers and a ``[log]``
table to the trust file, a deterministic clock, and a :class:`JobGateway` on
real SQLite files (or PostgreSQL) running the built-in Aer backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from admission._env import BELL, NOW, Env, Keys, write_env

from qprov.backends import AerBackend
from qprov.jobs import JobGateway, JobOutcome, state_paths
from qprov.store import open_store
from qprov.tlog import SIG_ED25519, SIG_MLDSA44_COSIGNATURE, NoteSigner, generate_signer

ORIGIN = "log.qprov.test/chain"
#: When the chain is verified: an hour after the jobs ran.
LATER = NOW + timedelta(hours=1)


def log_signers(origin: str = ORIGIN, seed: int = 1) -> list[NoteSigner]:
    return [
        generate_signer(origin, SIG_ED25519, seed=bytes([seed]) * 32),
        generate_signer(origin, SIG_MLDSA44_COSIGNATURE, seed=bytes([seed + 1]) * 32),
    ]


@dataclass
class Clock:
    """Starts at NOW and advances one second per reading: every run gives the same times."""

    at: datetime = NOW
    step: timedelta = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self.at += self.step
        return self.at


def log_table(signers: list[NoteSigner], origin: str = ORIGIN) -> str:
    vkeys = ", ".join(f'"{s.verifier().to_vkey()}"' for s in signers)
    return f'\n[log]\norigin = "{origin}"\nvkeys = [{vkeys}]\n'


@dataclass
class ChainEnv:
    env: Env
    signers: list[NoteSigner]
    clock: Clock = field(default_factory=Clock)

    @property
    def dir(self) -> Path:
        return self.env.dir

    @property
    def keys(self) -> Keys:
        return self.env.keys

    @contextmanager
    def gateway(
        self,
        *,
        state: Path | None = None,
        log_url: str | None = None,
        store_url: str | None = None,
        namespace: str = "qprov",
    ) -> Iterator[JobGateway]:
        paths = state_paths(state or self.dir / "state")
        (state or self.dir / "state").mkdir(parents=True, exist_ok=True)
        with (
            open_store(store_url or paths.store_url) as store,
            JobGateway(
                trust=self.env.trust,
                policy=self.env.policy,
                store=store,
                log=log_url or paths.log_url,
                signer=self.keys.signer("gateway"),
                log_signers=self.signers,
                backend=AerBackend(names=("aer",), clock=self.clock),
                clock=self.clock,
            ) as gw,
        ):
            yield gw

    def submit(self, circuit: bytes = BELL, **kwargs: object) -> tuple[bytes, JobOutcome]:
        bundle = self.env.bundle(circuit, **kwargs).to_json()  # type: ignore[arg-type]
        with self.gateway() as gw:
            return bundle, gw.submit(bundle, circuit)


def make_env(keys: Keys, d: Path, *, seed: int = 1) -> ChainEnv:
    write_env(keys, d)
    signers = log_signers(seed=seed)
    with (d / "trust.toml").open("a") as fh:
        fh.write(log_table(signers))
    return ChainEnv(Env(keys, d), signers)
