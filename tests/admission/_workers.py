"""Worker processes for the cross-process replay test (module-level, so they pickle)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from qprov.admission import Admitter
from qprov.policy import load_admission_policy
from qprov.store import open_store
from qprov.trust import load_trust


def admit_many(
    env_dir: str,
    url: str,
    namespace: str,
    bundle: bytes,
    circuit: bytes,
    now: datetime,
    attempts: int,
    barrier: Any,
    results: Any,
) -> None:
    """Admit ``bundle`` ``attempts`` times from threads; put (admitted, refused, failed checks)."""
    d = Path(env_dir)
    store = open_store(url, namespace=namespace)
    admitter = Admitter(
        trust=load_trust(d / "trust.toml"),
        policy=load_admission_policy(d / "policy.toml"),
        store=store,
    )
    barrier.wait()
    with ThreadPoolExecutor(4) as pool:
        decisions = list(
            pool.map(lambda _: admitter.admit(bundle, circuit, now=now), range(attempts))
        )
    store.close()
    admitted = sum(d.admitted for d in decisions)
    reasons = sorted({c.name for d in decisions for c in d.failures})
    results.put((admitted, len(decisions) - admitted, reasons))
