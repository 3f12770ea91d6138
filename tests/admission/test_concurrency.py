"""Replay across processes: two processes admitting one manifest on PostgreSQL, one admission."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

from ._env import BELL, NOW, Env
from ._workers import admit_many
from .conftest import POSTGRES_URL, _drop, open_or_skip


def test_two_processes_one_manifest_admitted_exactly_once(env: Env, tmp_path: Path) -> None:
    namespace = f"c{uuid.uuid4().hex[:12]}"
    open_or_skip("postgresql", POSTGRES_URL, namespace).close()  # tables created once
    try:
        bundle = env.bundle().to_json()
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=admit_many,
                args=(
                    str(env.dir),
                    POSTGRES_URL,
                    namespace,
                    bundle,
                    BELL,
                    NOW,
                    8,
                    barrier,
                    results,
                ),
            )
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert sum(a for a, _, _ in outcomes) == 1
        assert sum(r for _, r, _ in outcomes) == 15
        assert {name for _, _, names in outcomes for name in names} == {"replay"}
    finally:
        _drop("postgresql", namespace)
