#!/usr/bin/env python3
"""Benchmark ``qprov reproduce`` against the bare Aer run it needs.

1. Overhead of the exact replay of simulator results, for several circuit sizes
   and shot numbers (8 and 16 qubits at 1k/10k/20k shots, a 24-qubit
   statevector and a 100-qubit Clifford circuit at 10k shots). Each result is
   receipted in the real job flow's receipt format, then checked with
   ``check_reproduction`` (the library call ``qprov reproduce`` makes) against
   the bare run the replay needs: ``AerSimulator(method=...).run(circuit,
   shots=..., seed_simulator=...)`` of the same executed circuit with the
   recorded method, shots and effective seed, both ``.result()`` alone and
   ``.result().get_counts()`` (the result-to-counts extraction a caller of Aer
   needs). Runs are interleaved (bare, bare + counts, qprov, bare, ...) so that
   load from other processes hits all of them; medians (and minima) of wall
   time, and overhead ratios, are printed, and "qprov part": the median of each
   qprov call minus the Aer run inside it (timed there), over the median bare
   run: what qprov adds, which load on Aer's threads does not blur as much.
2. Where qprov's own time goes: thread CPU time per stage of
   ``check_reproduction`` with Aer's run replaced by its (cached) result, per
   workload: the part of the overhead that is qprov's and that load from other
   processes does not inflate (much).
3. The CLI: wall time of ``qprov reproduce`` as a new process (interpreter start,
   imports, file reads, report) against a new process doing only the bare run
   (``python -c``: import qiskit-aer, load the QPY, run, get_counts), and the
   in-process CLI (click's CliRunner), for the 16-qubit 20k-shot workload.
4. Statistical checks of hardware-like counts (no replay possible): a 24-qubit
   statevector check (G test against the exact distribution, 4,096 bins) and a
   100-qubit Clifford (GHZ) check (linear cross-entropy with exact stabilizer
   probabilities), with the bare Aer run of the same shots for scale.

Goal (issue 6): the overhead of ``qprov reproduce`` over the bare run < 10 %.

    python scripts/bench/bench_reproduce.py [--repeat 7] [--skip-large] [--skip-cli]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from qiskit import QuantumCircuit
from qiskit.quantum_info import random_clifford
from qiskit_aer import AerSimulator

from qprov._cli import cli
from qprov._predicate import Sha256
from qprov.keys import CompositeSigner, generate_private_key
from qprov.receipt import (
    ExecutedCircuit,
    LoggedEnvelope,
    ReceiptBundle,
    ResultReceipt,
    sign_receipt,
)
from qprov.repro import QPY_FORMAT_VERSION, circuit_digest, dump_qpy, simulate
from qprov.reproduce import check_reproduction

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PROOF = None


def layered(n: int, layers: int, seed: int) -> QuantumCircuit:
    gen = np.random.default_rng(seed)
    qc = QuantumCircuit(n, n)
    for layer in range(layers):
        for q in range(n):
            qc.u(*gen.uniform(0, 6.283, size=3), q)
        for q in range(layer % 2, n - 1, 2):
            qc.cx(q, q + 1)
    qc.measure(range(n), range(n))
    return qc


def clifford_blocks(n: int = 100) -> QuantumCircuit:
    """Random 10-qubit Clifford blocks joined by a CX ladder (many distinct outcomes)."""
    qc = QuantumCircuit(n, n)
    for block in range(n // 10):
        qc.compose(random_clifford(10, seed=block).to_circuit(),
                   qubits=range(10 * block, 10 * block + 10), inplace=True)
    for block in range(n // 10 - 1):
        qc.cx(10 * block + 9, 10 * block + 10)
    qc.measure(range(n), range(n))
    return qc


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure(range(n), range(n))
    return qc


def receipt_bundle(
    circuit: QuantumCircuit,
    counts: bytes,
    shots: int,
    details: dict[str, object] | None,
    signer: object,
) -> bytes:
    """A signed receipt bundle (log proof: a syntactically valid placeholder, not checked)."""
    from qprov.tlog import Log

    qpy = dump_qpy(circuit)
    receipt = ResultReceipt(
        manifest_sha256=Sha256("a" * 64), nonce="0" * 32,
        circuit_sha256=Sha256(hashlib.sha256(b"c").hexdigest()),
        shots=shots, clbits=circuit.num_clbits, backend="aer", backend_version="0.18.2",
        job_id="job-bench", queued_at=NOW, started_at=NOW, finished_at=NOW,
        executed_circuit=ExecutedCircuit(Sha256(circuit_digest(circuit)),
                                         Sha256(hashlib.sha256(qpy).hexdigest()),
                                         QPY_FORMAT_VERSION, len(qpy)),
        execution=details,
    )
    env = sign_receipt(receipt, counts, signer)  # type: ignore[arg-type]
    global PROOF  # noqa: PLW0603 - one placeholder proof per run
    if PROOF is None:
        from qprov.tlog import SIG_ED25519, generate_signer

        log = Log.open(f"sqlite:///{tempfile.mkdtemp()}/log.db")
        idx = log.append(b"x")
        cp = log.sign_checkpoint([generate_signer("bench", SIG_ED25519, seed=b"\1" * 32)], timestamp=1)
        PROOF = log.prove_inclusion(idx, checkpoint=cp).to_bytes()
        log.close()
    return ReceiptBundle(LoggedEnvelope(env, PROOF), "a" * 64, qpy).to_json()  # type: ignore[arg-type]


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Wall time of each function over ``repeat`` rounds, the functions interleaved."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
    return wall


@dataclass(frozen=True)
class Workload:
    label: str
    circuit: QuantumCircuit
    shots: int
    method: str
    repeat_cap: int | None = None  # large circuits: fewer rounds

    def prepare(self, signer: object) -> Prepared:
        run = simulate(self.circuit, shots=self.shots, seed=42, method=self.method)
        counts = run.counts.to_json()
        bundle = receipt_bundle(self.circuit, counts, self.shots, run.details.to_dict(), signer)
        return Prepared(self, bundle, counts, run.details.method, run.details.seed_simulator,
                        len(run.counts))


@dataclass(frozen=True)
class Prepared:
    work: Workload
    bundle: bytes
    counts: bytes
    method: str  # what the replay uses: the recorded method and effective seed
    seed: int
    outcomes: int

    def bare(self) -> object:
        return AerSimulator(method=self.method).run(
            self.work.circuit, shots=self.work.shots, seed_simulator=self.seed).result()

    def bare_counts(self) -> object:
        return self.bare().get_counts()  # type: ignore[attr-defined]

    def api(self) -> object:
        out = check_reproduction(self.bundle, b"c", self.counts)
        assert out.verdict == "reproduced", out.summary
        return out


def _pct(a: float, b: float) -> str:
    return f"{(a / b - 1) * 100:+6.1f} %"


def overhead(workloads: list[Workload], repeat: int, signer: object) -> None:
    """Wall time, interleaved; also qprov's part of its own call (the call minus its Aer run).

    The Aer run inside ``check_reproduction`` is timed too (``_run`` wrapped): the
    call minus that run is what qprov adds in wall time, per call, which load
    from other processes on the (multi-threaded) Aer run does not blur.
    """
    import qprov.repro._simulate as sim_mod

    print(f"1. Exact replay: wall time, median (min) of interleaved runs [{repeat} rounds, fewer "
          "for the large ones]; overhead of check_reproduction over the bare run, and qprov's "
          "part (the call minus its own Aer run) over the bare run")
    print(f"  {'workload':34s} {'outcomes':>8s} {'bare run':>17s} {'bare + counts':>17s} "
          f"{'qprov':>17s} {'vs run':>9s} {'vs counts':>9s} {'qprov part':>10s} {'/ run':>7s}")
    real_run = sim_mod._run
    inner: list[float] = []

    def timed_run(*a: object, **k: object) -> object:
        t0 = time.perf_counter()
        try:
            return real_run(*a, **k)  # type: ignore[arg-type]
        finally:
            inner.append(time.perf_counter() - t0)

    for w in workloads:
        p = w.prepare(signer)
        for fn in (p.bare, p.bare_counts, p.api):
            fn()  # warm up
        rounds = min(repeat, w.repeat_cap or repeat)
        inner.clear()
        sim_mod._run = timed_run
        try:
            t = interleaved({"bare": p.bare, "counts": p.bare_counts, "api": p.api}, rounds)
        finally:
            sim_mod._run = real_run
        med = {k: statistics.median(v) for k, v in t.items()}
        low = {k: min(v) for k, v in t.items()}
        own = statistics.median(a - b for a, b in zip(t["api"], inner, strict=True))
        cells = " ".join(f"{med[k] * 1e3:8.1f} ({low[k] * 1e3:6.1f})" for k in t)
        print(f"  {w.label:34s} {p.outcomes:8d} {cells} {_pct(med['api'], med['bare']):>9s} "
              f"{_pct(med['api'], med['counts']):>9s} {own * 1e3:8.2f}ms "
              f"{own / med['bare'] * 100:6.1f}%")
    print("  (ms; 'vs run': over AerSimulator.run().result(); 'vs counts': over "
          ".result().get_counts())")


_STAGES = (
    ("qprov.receipt", "parse_receipt_bundle", "bundle"),
    ("qprov.repro", "parse_counts", "counts"),
    ("qprov.repro", "load_qpy_with_digest", "QPY+dgst"),
    ("qprov.repro", "replay", "replay"),
    ("qprov.repro", "chart_series", "chart"),
)


def stage_times(p: Prepared, repeat: int) -> tuple[dict[str, float], float]:
    """Median thread CPU time of each stage and of the whole check, Aer's run replaced."""
    import importlib

    import qprov.repro._simulate as sim_mod

    cached = p.bare()
    spent: dict[str, list[float]] = {label: [] for _, _, label in _STAGES}
    saved: list[tuple[object, str, object]] = [(sim_mod, "_run", sim_mod._run)]

    def wrap(mod: object, name: str, label: str) -> None:
        fn = getattr(mod, name)
        saved.append((mod, name, fn))

        def timed(*a: object, **k: object) -> object:
            t0 = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label].append(time.thread_time() - t0)

        setattr(mod, name, timed)

    sim_mod._run = lambda *_a, **_k: cached
    for module, name, label in _STAGES:
        wrap(importlib.import_module(module), name, label)
    total = []
    try:
        p.api()
        for values in spent.values():
            values.clear()
        for _ in range(repeat):
            t0 = time.thread_time()
            p.api()
            total.append(time.thread_time() - t0)
    finally:
        for mod, name, fn in reversed(saved):
            setattr(mod, name, fn)
    return {k: statistics.median(v) for k, v in spent.items()}, statistics.median(total)


def breakdown(workloads: list[Workload], repeat: int, signer: object) -> None:
    """Where qprov's own time goes: thread CPU time of each stage, Aer's run replaced by its result.

    The total is the work qprov adds to the run; thread CPU time is what that
    work costs, whatever the load from other processes (up to cache and
    hyper-thread contention).
    """
    print(f"2. qprov's own work in check_reproduction (thread CPU ms, median of {repeat}; Aer's "
          "run replaced by its result) and its share of the median bare run")
    print(f"  {'workload':34s} " + " ".join(f"{label:>7s}" for _, _, label in _STAGES)
          + f" {'rest':>7s} {'total':>7s} {'/ run':>7s}")
    for w in workloads:
        p = w.prepare(signer)
        bare = statistics.median(interleaved({"bare": p.bare}, 3)["bare"])
        meds, total = stage_times(p, repeat)
        rest = total - sum(meds.values())
        print(f"  {w.label:34s} " + " ".join(f"{meds[label] * 1e3:7.2f}" for _, _, label in _STAGES)
              + f" {rest * 1e3:7.2f} {total * 1e3:7.2f} {total / bare * 100:6.1f}%")


def cli_times(repeat: int, signer: object, d: Path) -> None:
    # qprov's .pyc files, as a pip install of the wheel has them (qiskit's are): an editable
    # install under PYTHONDONTWRITEBYTECODE=1 would compile qprov's modules on every run.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[2] / "qprov")],
        check=True,
    )
    w = Workload("16 qubits x 8 layers, 20k shots", layered(16, 8, seed=1), 20_000, "statevector")
    p = w.prepare(signer)
    (d / "r.json").write_bytes(p.bundle)
    (d / "c.qasm").write_bytes(b"c")
    (d / "res.json").write_bytes(p.counts)
    (d / "exec.qpy").write_bytes(dump_qpy(w.circuit))
    args = ["reproduce", "--receipt", str(d / "r.json"), "--circuit", str(d / "c.qasm"),
            "--result", str(d / "res.json")]
    bare_code = (
        "import sys\nfrom qiskit import qpy\nfrom qiskit_aer import AerSimulator\n"
        f"c = qpy.load(open({str(d / 'exec.qpy')!r}, 'rb'))[0]\n"
        f"AerSimulator(method={p.method!r}).run(c, shots={w.shots}, "
        f"seed_simulator={p.seed}).result().get_counts()\n"
    )
    qprov_exe = [sys.executable, "-c", "from qprov._cli import main; main()"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    def proc_bare() -> object:
        return subprocess.run([sys.executable, "-c", bare_code], check=True, env=env)

    def proc_qprov() -> object:
        return subprocess.run([*qprov_exe, *args], check=True, env=env, stderr=subprocess.DEVNULL)

    def in_process() -> object:
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.stderr
        return res

    for fn in (proc_bare, proc_qprov, in_process):
        fn()
    t = interleaved({"bare": proc_bare, "qprov": proc_qprov, "inproc": in_process},
                    max(5, repeat))
    med = {k: statistics.median(v) for k, v in t.items()}
    low = {k: min(v) for k, v in t.items()}
    api = statistics.median(interleaved({"bare": p.bare_counts, "api": p.api}, repeat)["api"])
    print(f"3. CLI, {w.label} (wall, median (min) of {len(t['bare'])} interleaved runs):")
    print(f"  new process, bare run (python -c: import, load QPY, run, get_counts) "
          f"{med['bare'] * 1e3:8.0f} ms ({low['bare'] * 1e3:.0f})")
    print(f"  new process, qprov reproduce                                   "
          f"{med['qprov'] * 1e3:8.0f} ms ({low['qprov'] * 1e3:.0f})  "
          f"(median {_pct(med['qprov'], med['bare']).strip()}, "
          f"+{(med['qprov'] - med['bare']) * 1e3:.0f} ms; min "
          f"{_pct(low['qprov'], low['bare']).strip()}; mostly imports)")
    print(f"  in-process CLI (CliRunner; no interpreter start or imports)     "
          f"{med['inproc'] * 1e3:8.0f} ms  (the library call alone: {api * 1e3:.0f} ms)")


def hardware_check(circuit: QuantumCircuit, label: str, signer: object, shots: int = 20_000) -> None:
    sample = simulate(circuit, shots=shots, seed=7)  # stands in for hardware counts
    counts = sample.counts.to_json()
    bundle = receipt_bundle(circuit, counts, shots, None, signer)
    t0 = time.perf_counter()
    out = check_reproduction(bundle, b"c", counts)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    AerSimulator(method=sample.details.method).run(circuit, shots=shots, seed_simulator=7).result()
    bare = time.perf_counter() - t0
    print(f"  {label}: {out.verdict} in {dt:.2f} s (bare Aer {sample.details.method} run of the "
          f"same shots: {bare:.2f} s); decided by {out.decided_by}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    signer = CompositeSigner(generate_private_key("MLDSA44-Ed25519-SHA512"))
    small, medium = layered(8, 4, seed=1), layered(16, 8, seed=1)
    workloads = [
        Workload("8 qubits x 4 layers, 1k shots", small, 1_000, "statevector"),
        Workload("8 qubits x 4 layers, 10k shots", small, 10_000, "statevector"),
        Workload("16 qubits x 8 layers, 1k shots", medium, 1_000, "statevector"),
        Workload("16 qubits x 8 layers, 10k shots", medium, 10_000, "statevector"),
        Workload("16 qubits x 8 layers, 20k shots", medium, 20_000, "statevector"),
    ]
    if not args.skip_large:
        workloads += [
            Workload("24 qubits x 4 layers, 10k, statevec", layered(24, 4, seed=3), 10_000,
                     "statevector", repeat_cap=3),
            Workload("100-qubit Clifford, 10k, stabilizer", clifford_blocks(), 10_000,
                     "stabilizer", repeat_cap=3),
        ]
    overhead(workloads, args.repeat, signer)
    breakdown(workloads, max(args.repeat, 7), signer)
    if not args.skip_cli:
        with tempfile.TemporaryDirectory() as tmp:
            cli_times(args.repeat, signer, Path(tmp))
    if not args.skip_large:
        print("4. Statistical checks of hardware-like counts (single runs):")
        hardware_check(layered(24, 4, seed=3), "24-qubit statevector check", signer)
        hardware_check(ghz(100), "100-qubit Clifford (GHZ) check", signer)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
