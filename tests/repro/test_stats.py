"""Statistics: false-alarm rate on small cases (binomial bounds), power, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from scipy.stats import binom

from qprov.errors import MalformedInputError
from qprov.repro import (
    Counts,
    Distribution,
    check_job,
    cross_entropy_check,
    equivalence_test,
    exact_distribution,
    goodness_of_fit,
    holm_bonferroni,
    min_null_draws,
    outcome_probabilities,
    two_sample_test,
)

from ._helpers import ghz

# A test at level alpha over T independent null trials rejects X ~ Bin(T, r) times with
# r the true false-alarm rate. We check r is in [alpha/2, 2 alpha] by refusing only when
# X is implausible (tail probability < 1e-3) under r = 2 alpha (too many) or r = alpha/2
# (too few). Seeds are fixed, so the outcome is deterministic.
TAIL = 1e-3


def assert_rate_in_band(rejections: int, trials: int, alpha: float) -> None:
    too_many = binom.sf(rejections - 1, trials, 2 * alpha)  # P(X >= x | 2 alpha)
    too_few = binom.cdf(rejections, trials, alpha / 2)  # P(X <= x | alpha/2)
    assert too_many > TAIL, f"{rejections}/{trials} false alarms: rate above 2*alpha"
    assert too_few > TAIL, f"{rejections}/{trials} false alarms: rate below alpha/2"


def null_rejections(dist: Distribution, shots: int, alpha: float, stat: str, trials: int,
                    seed: int) -> int:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        counts = dist.sample(shots, rng)
        hits += goodness_of_fit(counts, dist, rng=rng, alpha=alpha,
                                statistic=stat).verdict == "inconsistent"  # type: ignore[arg-type]
    return hits


@pytest.mark.parametrize("stat", ["g", "pearson"])
def test_false_alarm_rate_ghz(stat: str) -> None:
    dist = exact_distribution(ghz(3))
    assert_rate_in_band(null_rejections(dist, 200, 0.05, stat, 1000, seed=1), 1000, 0.05)


@pytest.mark.parametrize("stat", ["g", "pearson"])
def test_false_alarm_rate_skewed(skewed3: QuantumCircuit, stat: str) -> None:
    dist = exact_distribution(skewed3)
    assert_rate_in_band(null_rejections(dist, 300, 0.05, stat, 1000, seed=2), 1000, 0.05)


def test_false_alarm_rate_alpha_001(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    assert_rate_in_band(null_rejections(dist, 1000, 0.01, "g", 1500, seed=3), 1500, 0.01)


def test_detects_a_real_difference(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    assert dist.dense is not None
    other = Distribution.from_dense(0.8 * dist.dense + 0.2 / 8)
    rng = np.random.default_rng(4)
    result = goodness_of_fit(other.sample(5000, rng), dist, rng=rng)
    assert result.verdict == "inconsistent"
    assert result.p_value <= 0.01
    assert result.power > 0.99
    assert result.tvd > 0.02


def test_reproducible_with_the_same_seed(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    counts = dist.sample(1000, np.random.default_rng(5))
    a = goodness_of_fit(counts, dist, rng=np.random.default_rng(6))
    b = goodness_of_fit(counts, dist, rng=np.random.default_rng(6))
    assert a == b


def test_impossible_outcome_rejects_outright(ghz3: QuantumCircuit) -> None:
    dist = exact_distribution(ghz3)
    counts = Counts.from_mapping({"000": 4999, "111": 5000, "010": 1}, num_clbits=3)
    result = goodness_of_fit(counts, dist, rng=np.random.default_rng(0))
    assert result.verdict == "inconsistent"
    assert result.p_value == 0.0
    assert result.impossible_outcomes == ("010",)
    assert "baseline probability 0" in result.reason


def test_few_shots_are_inconclusive(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    rng = np.random.default_rng(7)
    result = goodness_of_fit(dist.sample(20, rng), dist, rng=rng, effect_size=0.05)
    assert result.verdict == "inconclusive"
    assert result.power < 0.8
    assert "too few shots" in result.reason
    big = goodness_of_fit(dist.sample(20000, rng), dist, rng=rng, effect_size=0.05)
    assert big.verdict == "consistent"
    assert big.power >= 0.8


def test_too_few_null_draws_refused(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    counts = dist.sample(100, np.random.default_rng(0))
    assert min_null_draws(0.01) == 2000
    with pytest.raises(MalformedInputError, match="too few"):
        goodness_of_fit(counts, dist, rng=np.random.default_rng(0), null_draws=100)
    with pytest.raises(MalformedInputError, match="alpha"):
        goodness_of_fit(counts, dist, rng=np.random.default_rng(0), alpha=0.7)


def test_baseline_for_another_circuit_refused(skewed3: QuantumCircuit) -> None:
    counts = Counts.from_mapping({"00": 10}, num_clbits=2)
    with pytest.raises(MalformedInputError, match="another circuit"):
        goodness_of_fit(counts, exact_distribution(skewed3), rng=np.random.default_rng(0))


def test_holm_bonferroni_known_values() -> None:
    rejected, adjusted = holm_bonferroni([0.01, 0.04, 0.03, 0.005], 0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected == [True, False, False, True]


def test_job_family_wise_rate(skewed3: QuantumCircuit, ghz3: QuantumCircuit) -> None:
    dists = [exact_distribution(skewed3), exact_distribution(ghz3)]
    rng = np.random.default_rng(8)
    hits = 0
    trials = 150
    for _ in range(trials):
        pairs = [(d.sample(500, rng), d) for d in dists]
        hits += check_job(pairs, rng=rng, alpha=0.05).verdict == "inconsistent"
    # Holm controls the family-wise rate at alpha (it may be below alpha/2).
    assert binom.sf(hits - 1, trials, 2 * 0.05) > TAIL
    job = check_job([(dists[0].sample(500, rng), dists[0])], rng=rng, alpha=0.05)
    assert "Holm-adjusted" in job.results[0].reason
    assert job.to_dict()["correction"] == "holm-bonferroni"


def test_two_sample_null_rate_and_detection(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    rng = np.random.default_rng(9)
    hits = 0
    trials = 200
    for _ in range(trials):
        result = two_sample_test(dist.sample(300, rng), dist.sample(600, rng), rng=rng, alpha=0.05)
        hits += result.verdict == "inconsistent"
    assert_rate_in_band(hits, trials, 0.05)
    assert dist.dense is not None
    shifted = Distribution.from_dense(0.7 * dist.dense + 0.3 / 8)
    result = two_sample_test(shifted.sample(4000, rng), dist.sample(4000, rng), rng=rng)
    assert result.verdict == "inconsistent"
    assert result.method.startswith("two-sample permutation")


def test_equivalence_verdicts(skewed3: QuantumCircuit) -> None:
    dist = exact_distribution(skewed3)
    assert dist.dense is not None
    rng = np.random.default_rng(10)
    near = equivalence_test(dist.sample(20000, rng), dist, tolerance=0.05, rng=rng)
    assert near.verdict == "consistent"
    assert near.extra["tvd_upper"] <= 0.05
    far_dist = Distribution.from_dense(0.5 * dist.dense + 0.5 / 8)
    far = equivalence_test(far_dist.sample(20000, rng), dist, tolerance=0.05, rng=rng)
    assert far.verdict == "inconsistent"
    few = equivalence_test(dist.sample(50, rng), dist, tolerance=0.05, rng=rng)
    assert few.verdict == "inconclusive"


def test_equivalence_is_valid_at_the_tolerance(skewed3: QuantumCircuit) -> None:
    """At true TVD exactly equal to the tolerance, 'within tolerance' is rare (<= alpha)."""
    dist = exact_distribution(skewed3)
    assert dist.dense is not None
    u = np.full(8, 1 / 8)
    lam = 0.05 / (0.5 * float(np.abs(dist.dense - u).sum()))
    edge = Distribution.from_dense((1 - lam) * dist.dense + lam * u)
    rng = np.random.default_rng(11)
    hits = sum(
        equivalence_test(edge.sample(3000, rng), dist, tolerance=0.05, rng=rng,
                         alpha=0.05).verdict == "consistent"
        for _ in range(100)
    )
    assert binom.sf(hits - 1, 100, 0.05) > TAIL


def test_wide_register_uses_bounded_bins() -> None:
    n = 40
    probs = {"0" * n: 0.5, "1" * n: 0.25}
    rng = np.random.default_rng(12)
    for _ in range(500):
        probs[format(int(rng.integers(0, 2**n)), f"0{n}b")] = 0.25 / 500
    total = sum(probs.values())
    dist = Distribution.from_mapping({k: v / total for k, v in probs.items()}, n)
    counts = dist.sample(2000, rng)
    result = goodness_of_fit(counts, dist, rng=rng, max_bins=64)
    assert result.bins == 64  # 63 most likely outcomes + "other"
    assert result.verdict in ("consistent", "inconclusive")
    bad = Counts.from_mapping({**counts.as_dict(), "01" * 20: 1}, num_clbits=n)
    assert goodness_of_fit(bad, dist, rng=rng, max_bins=64).verdict == "inconsistent"


def test_result_is_json_serialisable(skewed3: QuantumCircuit) -> None:
    import json

    dist = exact_distribution(skewed3)
    rng = np.random.default_rng(13)
    doc = goodness_of_fit(dist.sample(100, rng), dist, rng=rng).to_dict()
    json.dumps(doc, allow_nan=False)
    assert set(doc) >= {"verdict", "p_value", "tvd", "hellinger_fidelity", "power", "method"}


def test_stabilizer_probabilities_match_statevector() -> None:
    qc = QuantumCircuit(5, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.s(1)
    qc.h(1)
    qc.x(2)
    qc.cx(2, 3)
    qc.h(4)
    qc.cz(4, 3)
    qc.sdg(3)
    qc.h(3)
    qc.measure([3, 1, 2], [0, 1, 2])
    outcomes = [format(i, "03b") for i in range(8)]
    exact, _ = outcome_probabilities(qc, outcomes, method="statevector")
    stab, used = outcome_probabilities(qc, outcomes, method="stabilizer")
    assert used == "stabilizer"
    np.testing.assert_allclose(stab, exact, atol=1e-12)
    assert sorted(set(np.round(exact, 6))) != [0.125]  # not trivially uniform


def test_mps_probabilities_match_statevector(skewed3: QuantumCircuit) -> None:
    outcomes = [format(i, "03b") for i in range(8)]
    exact, _ = outcome_probabilities(skewed3, outcomes, method="statevector")
    mps, _ = outcome_probabilities(skewed3, outcomes, method="matrix_product_state")
    np.testing.assert_allclose(mps, exact, atol=1e-10)


def test_cross_entropy_on_100_qubit_clifford() -> None:
    circuit = ghz(100)
    rng = np.random.default_rng(14)
    good = Counts.from_mapping({"0" * 100: 510, "1" * 100: 490}, num_clbits=100)
    result = cross_entropy_check(circuit, good, rng=rng, reference_shots=500)
    assert result.verdict != "inconsistent"
    assert "stabilizer" in result.method
    noisy = Counts.from_mapping({"0" * 100: 500, "1" * 100: 499, "0" * 99 + "1": 1},
                                num_clbits=100)
    bad = cross_entropy_check(circuit, noisy, rng=rng, reference_shots=500)
    assert bad.verdict == "inconsistent"
    assert math.isnan(bad.tvd)


def test_noisy_exact_distribution_matches_aer_sampling(skewed3: QuantumCircuit) -> None:
    import json

    from qiskit import transpile

    from qprov.repro import CalibrationSnapshot, noise_model_from_calibration, simulate

    from ._helpers import CALIBRATION

    model = noise_model_from_calibration(
        CalibrationSnapshot.from_json(json.dumps(CALIBRATION).encode()))
    isa = transpile(skewed3, basis_gates=["sx", "rz", "cx", "x"], optimization_level=0)
    noisy = exact_distribution(isa, noise_model=model)
    ideal = exact_distribution(isa)
    sample = simulate(isa, shots=20000, seed=3, noise_model=model).counts
    rng = np.random.default_rng(15)
    assert goodness_of_fit(sample, noisy, rng=rng).verdict == "consistent"
    assert goodness_of_fit(sample, ideal, rng=rng).verdict == "inconsistent"


def test_cross_entropy_with_mps_reference() -> None:
    n = 24
    qc = QuantumCircuit(n, n)
    for q in range(n):
        qc.ry(0.4 + 0.05 * q, q)
    for q in range(n - 1):
        qc.cx(q, q + 1)
        qc.t(q + 1)
        qc.ry(0.3, q + 1)
    qc.measure(range(n), range(n))
    from qprov.repro import simulate

    rng = np.random.default_rng(16)
    good = simulate(qc, shots=1000, seed=4, method="matrix_product_state").counts
    result = cross_entropy_check(qc, good, rng=rng, method="matrix_product_state",
                                 reference_shots=1000)
    assert result.verdict != "inconsistent"
    assert "matrix_product_state" in result.method
    uniform = Counts.from_mapping(
        {format(int(v), f"0{n}b"): 1 for v in rng.choice(2**n, size=1000, replace=False)},
        num_clbits=n)
    bad = cross_entropy_check(qc, uniform, rng=rng, method="matrix_product_state",
                              reference_shots=1000)
    assert bad.verdict == "inconsistent"
    assert bad.extra["xeb"] < bad.extra["reference_xeb"]
