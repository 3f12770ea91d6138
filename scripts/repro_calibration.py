#!/usr/bin/env python3
"""Measure the false-alarm rate and power of qprov's goodness-of-fit tests.

For each circuit (GHZ, QFT, random; 5 qubits), shot number (1,000 and 10,000),
alpha (0.01 and 0.05) and statistic (G, Pearson), draw ``--trials`` null
samples from the exact baseline distribution itself and count how often
:func:`qprov.repro.goodness_of_fit` rejects: that is the false-alarm rate, which
must lie in [alpha/2, 2 alpha]. Then draw ``--power-trials`` samples from the
same circuit with one extra ``rz(0.1)`` in the middle and report the rejection
rate (power against that perturbation).

The test itself is the library's, called once per trial with its own null
draws; everything is seeded (``--seed``) so the table is reproducible.

    python scripts/repro_calibration.py --trials 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import QFTGate
from scipy.stats import binomtest

from qprov.repro import Distribution, exact_distribution, goodness_of_fit

WIDTH = 5


def ghz(perturb: bool) -> QuantumCircuit:
    qc = QuantumCircuit(WIDTH, WIDTH)
    qc.h(0)
    for i in range(WIDTH - 1):
        if perturb and i == WIDTH // 2:
            qc.rz(0.1, i)
        qc.cx(i, i + 1)
    qc.measure(range(WIDTH), range(WIDTH))
    return qc


def qft(perturb: bool) -> QuantumCircuit:
    qc = QuantumCircuit(WIDTH, WIDTH)
    qc.h(0)
    qc.x(2)
    qc.ry(0.7, 3)
    qc.cx(3, 4)
    if perturb:
        qc.rz(0.1, 0)
    qc.append(QFTGate(WIDTH), range(WIDTH))
    qc.measure(range(WIDTH), range(WIDTH))
    return qc


def rand(perturb: bool) -> QuantumCircuit:
    """Four layers of random U gates on every qubit and CX between random pairs."""
    gen = np.random.default_rng(20240601)
    qc = QuantumCircuit(WIDTH, WIDTH)
    for layer in range(4):
        for q in range(WIDTH):
            qc.u(*gen.uniform(0, 2 * math.pi, size=3), q)
        if perturb and layer == 2:
            qc.rz(0.1, 0)
        order = gen.permutation(WIDTH)
        for a, b in zip(order[::2], order[1::2], strict=False):
            qc.cx(int(a), int(b))
    qc.measure(range(WIDTH), range(WIDTH))
    return qc


CIRCUITS = {"ghz": ghz, "qft": qft, "random": rand}


def rejection_rate(
    sample_from: Distribution, baseline: Distribution, shots: int, alpha: float,
    statistic: str, trials: int, rng: np.random.Generator,
) -> float:
    hits = 0
    for _ in range(trials):
        counts = sample_from.sample(shots, rng)
        result = goodness_of_fit(counts, baseline, rng=rng, alpha=alpha,
                                 statistic=statistic)  # type: ignore[arg-type]
        hits += result.verdict == "inconsistent"
    return hits / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="null trials per cell")
    parser.add_argument("--power-trials", type=int, default=200, help="perturbed trials")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--shots", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--statistics", nargs="+", default=["g", "pearson"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(f"# trials={args.trials} power_trials={args.power_trials} seed={args.seed}")
    print("| circuit | shots | alpha | stat | false alarms | rate | in [a/2, 2a] | "
          "95% CI | power rz(0.1) | TVD(ideal, perturbed) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    start = time.perf_counter()
    for name, build in CIRCUITS.items():
        base = exact_distribution(build(False))
        pert = exact_distribution(build(True))
        if base.dense is None or pert.dense is None:
            raise SystemExit("exact distributions expected")
        tvd = 0.5 * float(np.abs(base.dense - pert.dense).sum())
        for shots in args.shots:
            for alpha in args.alphas:
                for stat in args.statistics:
                    rate = rejection_rate(base, base, shots, alpha, stat, args.trials, rng)
                    power = rejection_rate(pert, base, shots, alpha, stat,
                                           args.power_trials, rng)
                    inside = alpha / 2 <= rate <= 2 * alpha
                    ok &= inside
                    ci = binomtest(round(rate * args.trials), args.trials).proportion_ci()
                    print(f"| {name} | {shots} | {alpha} | {stat} | "
                          f"{round(rate * args.trials)}/{args.trials} | {rate:.4f} | "
                          f"{'yes' if inside else 'NO'} | [{ci.low:.4f}, {ci.high:.4f}] | "
                          f"{power:.3f} | {tvd:.4f} |", flush=True)
    print(f"# total {time.perf_counter() - start:.1f} s; all rates within bounds: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
