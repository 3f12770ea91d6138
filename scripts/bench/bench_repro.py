#!/usr/bin/env python3
"""Benchmark qprov's reproducibility checks against the bare Aer runs they need.

1. Replay overhead: ``verify_replay`` (configure, run, validate counts, compare)
   against the bare ``AerSimulator.run(...).result().get_counts()`` it wraps,
   on the same circuit, shots and seed; median of ``--repeat`` runs. Goal < 10 %.
2. 24-qubit statevector check: seeded simulation, exact replay, exact ideal
   distribution and the G test (4,096 bins) against it.
3. 100-qubit Clifford check: stabilizer simulation, exact replay, and the
   cross-entropy check with exact stabilizer probabilities.

    python scripts/bench/bench_repro.py [--repeat 7] [--skip-large]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import random_clifford
from qiskit_aer import AerSimulator

from qprov.repro import (
    cross_entropy_check,
    exact_distribution,
    goodness_of_fit,
    parse_counts,
    simulate,
    verify_replay,
)


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


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def overhead(repeat: int) -> None:
    circuit = layered(16, 8, seed=1)
    shots = 20_000
    res = simulate(circuit, shots=shots, seed=42, method="statevector")

    def bare_run() -> object:
        sim = AerSimulator(method="statevector")
        return sim.run(circuit, shots=shots, seed_simulator=42).result()

    def bare_counts() -> object:
        sim = AerSimulator(method="statevector")
        return sim.run(circuit, shots=shots, seed_simulator=42).result().get_counts(0)

    # A freshly parsed copy of the recorded counts per call, as ``qprov reproduce`` has
    # (the replay reuses what parsing built, so a reused object would flatter it).
    recorded = res.counts.to_json()
    fresh = [parse_counts(recorded, num_clbits=circuit.num_clbits, shots=shots)
             for _ in range(repeat + 1)]

    def check() -> object:
        return verify_replay(circuit, res.details, fresh.pop())

    bare_counts()  # warm up
    check()
    t_run, t_counts, t_check = [], [], []
    report: object = None
    for _ in range(repeat):  # interleaved, so load from other processes hits all three
        t_run.append(timed(bare_run, 1)[0])
        t_counts.append(timed(bare_counts, 1)[0])
        t, report = timed(check, 1)
        t_check.append(t)
    run, counts, chk = (statistics.median(x) for x in (t_run, t_counts, t_check))
    print(f"replay overhead (16 qubits, 8 layers, {shots} shots, median of {repeat}): "
          f"bare Aer run {run * 1e3:.1f} ms, bare run + get_counts {counts * 1e3:.1f} ms, "
          f"verify_replay {chk * 1e3:.1f} ms; overhead vs run {100 * (chk / run - 1):+.1f} %, "
          f"vs run + get_counts {100 * (chk / counts - 1):+.1f} % "
          f"[{getattr(report, 'status', '?')}]")


def statevector_24() -> None:
    circuit = layered(24, 4, seed=2)
    shots = 10_000
    t0 = time.perf_counter()
    res = simulate(circuit, shots=shots, seed=7)
    t1 = time.perf_counter()
    report = verify_replay(circuit, res.details, res.counts)
    t2 = time.perf_counter()
    dist = exact_distribution(circuit)
    t3 = time.perf_counter()
    test = goodness_of_fit(res.counts, dist, rng=np.random.default_rng(0), alpha=0.01)
    t4 = time.perf_counter()
    print(f"24-qubit statevector check ({res.details.method}, {shots} shots): simulate "
          f"{t1 - t0:.2f} s, replay {t2 - t1:.2f} s [{report.status}], exact distribution "
          f"{t3 - t2:.2f} s, G test {t4 - t3:.2f} s [{test.verdict}, p={test.p_value:.3g}, "
          f"bins={test.bins}]; total {t4 - t0:.2f} s")


def clifford_100() -> None:
    # Ten 10-qubit blocks, each a random Clifford, entangled by a CX ladder across
    # blocks: structured enough that the ideal distribution is far from uniform.
    n = 100
    qc = QuantumCircuit(n, n)
    for block in range(10):
        qc.compose(random_clifford(10, seed=block).to_circuit(),
                   qubits=range(10 * block, 10 * block + 10), inplace=True)
    for block in range(9):
        qc.cx(10 * block + 9, 10 * block + 10)
    qc.measure(range(n), range(n))
    shots = 10_000
    t0 = time.perf_counter()
    res = simulate(qc, shots=shots, seed=9)
    t1 = time.perf_counter()
    report = verify_replay(qc, res.details, res.counts)
    t2 = time.perf_counter()
    xeb = cross_entropy_check(qc, res.counts, rng=np.random.default_rng(1),
                              reference_shots=2000)
    t3 = time.perf_counter()
    print(f"100-qubit Clifford check ({len(qc.data)} instructions, {res.details.method}, "
          f"{shots} shots): simulate {t1 - t0:.2f} s, replay {t2 - t1:.2f} s "
          f"[{report.status}], XEB check {t3 - t2:.2f} s [{xeb.verdict}, "
          f"{xeb.method}]; total {t3 - t0:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    overhead(args.repeat)
    if not args.skip_large:
        statevector_24()
        clifford_100()


if __name__ == "__main__":
    main()
