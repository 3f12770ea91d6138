"""Statistical tests of measured counts against a baseline (numpy/scipy only).

Goodness of fit (:func:`goodness_of_fit`)
    H0: the shots are i.i.d. draws from the baseline distribution ``p``.
    Statistic: the likelihood-ratio G = 2 sum n_k ln(n_k / (N p_k)) (default) or
    Pearson's X^2 = sum (n_k - N p_k)^2 / (N p_k). Calibration: parametric
    bootstrap, ``B >= ceil(20 / alpha)`` multinomial draws of N shots from ``p``
    (vectorised, seeded by an injected ``numpy.random.Generator``); Monte Carlo
    p-value ``(1 + #{T_b >= T}) / (B + 1)``, which is a valid (slightly
    conservative) level-alpha test for any N, however small the expected counts.
    A shot on an outcome whose baseline probability is below ``zero_tolerance``
    rejects outright (p-value 0).

    Wide registers: the bins are the ``max_bins - 1`` most probable baseline
    outcomes plus one ``other`` bin holding the rest. The bins depend on the
    baseline only, never on the data, so the coarsened test keeps its level;
    memory is O(max_bins * chunk). TVD and Hellinger fidelity are still exact
    (they only need the observed outcomes and their baseline probabilities).

Power and the verdict
    Power is estimated by Monte Carlo against an alternative at TVD
    ``effect_size`` from the baseline: global depolarising, ``q = (1 - l) p + l u``
    (``u`` uniform over all 2^n outcomes), or, when ``p`` is too close to uniform
    for that, a mixture with a point mass on the most likely outcome. Verdict:
    ``inconsistent`` when H0 is rejected at alpha; otherwise ``consistent`` when
    the power at the stated effect size is at least ``required_power``, else
    ``inconclusive`` (the shots could not have detected the stated effect).

Several circuits of one job (:func:`check_job`)
    Holm-Bonferroni on the per-circuit p-values controls the family-wise
    false-alarm rate at alpha; each test draws ``ceil(20 m / alpha)`` null
    samples so that the smallest Holm threshold alpha/m can be reached, and
    power is reported at level alpha/m (conservative).

Two samples (:func:`two_sample_test`)
    When the baseline is itself a sample (counts), H0: both samples come from
    one distribution. G or X^2 of the 2 x K table; calibration by the exact
    conditional (permutation) distribution given the pooled counts, drawn with
    ``Generator.multivariate_hypergeometric``. Bins with small pooled counts
    beyond ``max_bins`` are merged (pooled counts are permutation invariant, so
    this keeps the level).

Equivalence (:func:`equivalence_test`)
    H0: TVD(true, baseline) >= tolerance vs H1: TVD < tolerance ("within
    tolerance of ideal"). With D the (1 - alpha) bootstrap quantile of
    TVD(f*, f) (f the observed frequencies, f* resampled from f), the triangle
    inequality bounds TVD(true, baseline) within TVD(f, baseline) +/- D.
    ``consistent`` (within tolerance) when the upper bound is below the
    tolerance, ``inconsistent`` when the lower bound is above it, otherwise
    ``inconclusive``. Conservative by construction; the p-value reported is the
    bootstrap probability P(TVD(f*, f) >= tolerance - TVD(f, baseline)).

Beyond statevector size (:func:`cross_entropy_test`)
    Linear cross-entropy XEB = mean(2^n p(x_i)) - 1 over the observed shots,
    with ``p`` from a stabilizer or MPS reference. H0: hardware samples from
    ``p``; the null distribution of the mean is bootstrapped from the values
    2^n p(y) of a reference sample y drawn from the simulator. One-sided: noise
    lowers XEB. Power uses the normal approximation under a depolarising
    alternative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from qprov.errors import MalformedInputError
from qprov.repro._counts import Counts

__all__ = [
    "DEFAULT_ALPHA",
    "Distribution",
    "JobResult",
    "TestResult",
    "Verdict",
    "cross_entropy_test",
    "equivalence_test",
    "goodness_of_fit",
    "hellinger_fidelity",
    "holm_bonferroni",
    "min_null_draws",
    "check_job",
    "total_variation",
    "two_sample_test",
]

Verdict = Literal["consistent", "inconsistent", "inconclusive"]
Statistic = Literal["g", "pearson"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_ALPHA = 0.01
DEFAULT_MAX_BINS = 4096
DEFAULT_ZERO_TOLERANCE = 1e-12
_CHUNK_CELLS = 4_000_000  # draws * bins per chunk (32 MiB of int64)
_MAX_DENSE_BITS = 30


def min_null_draws(alpha: float, comparisons: int = 1) -> int:
    """ceil(20 m / alpha): the fewest null draws used for a test at level alpha/m."""
    _check_alpha(alpha)
    return math.ceil(20 * comparisons / alpha - 1e-9)


def _check_alpha(alpha: float) -> None:
    if not isinstance(alpha, float | int) or not 0.0 < alpha < 0.5:
        raise MalformedInputError(f"alpha must be in (0, 0.5), got {alpha!r}")


# -- baseline distribution --------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """A baseline distribution over ``num_clbits``-bit outcomes.

    Either dense (``dense[i]`` is the probability of the outcome whose binary
    value is ``i``; up to 2^30 outcomes) or sparse (``sparse`` maps listed
    outcomes to probabilities; unlisted outcomes have probability 0).
    Construct with :meth:`from_dense` or :meth:`from_mapping`.
    """

    num_clbits: int
    dense: FloatArray | None = field(default=None, repr=False)
    sparse: Mapping[str, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.dense is None) == (self.sparse is None):
            raise MalformedInputError("a distribution is either dense or sparse")

    @classmethod
    def from_dense(cls, probabilities: npt.ArrayLike) -> Distribution:
        """From a probability vector of length 2^n (index = outcome value)."""
        arr = np.asarray(probabilities, dtype=np.float64)
        size = arr.size
        if arr.ndim != 1 or size < 2 or size & (size - 1):
            raise MalformedInputError("a dense distribution needs 2^n probabilities, n >= 1")
        n = size.bit_length() - 1
        if n > _MAX_DENSE_BITS:
            raise MalformedInputError(f"dense distributions are limited to {_MAX_DENSE_BITS} bits")
        _check_probabilities(arr)
        arr = np.clip(arr, 0.0, None)
        return cls(num_clbits=n, dense=arr / arr.sum())

    @classmethod
    def from_mapping(cls, probabilities: Mapping[str, float], num_clbits: int) -> Distribution:
        """From ``{outcome: probability}``; unlisted outcomes are impossible."""
        if not probabilities:
            raise MalformedInputError("baseline distribution is empty")
        keys = list(probabilities)
        for k in keys:
            if not isinstance(k, str) or len(k) != num_clbits or set(k) - {"0", "1"}:
                raise MalformedInputError(
                    f"baseline outcome {k!r} is not a {num_clbits}-bit binary string"
                )
        arr = np.array([probabilities[k] for k in keys], dtype=np.float64)
        _check_probabilities(arr)
        arr = np.clip(arr, 0.0, None) / arr.sum()
        return cls(num_clbits=num_clbits, sparse=dict(zip(keys, arr.tolist(), strict=True)))

    def probabilities_of(self, outcomes: Sequence[str]) -> FloatArray:
        """Baseline probability of each outcome."""
        if self.dense is not None:
            idx = np.fromiter(map(int, outcomes, repeat(2)), dtype=np.int64, count=len(outcomes))
            return np.asarray(self.dense[idx], dtype=np.float64)
        return np.array([(self.sparse or {}).get(o, 0.0) for o in outcomes], dtype=np.float64)

    def top(self, k: int) -> tuple[list[str], FloatArray]:
        """The ``k`` most probable outcomes (ties broken by outcome) and their masses."""
        if self.dense is not None:
            k = min(k, self.dense.size)
            idx = (
                np.argpartition(-self.dense, k - 1)[:k]
                if k < self.dense.size
                else np.arange(self.dense.size)
            )
            idx = idx[np.lexsort((idx, -self.dense[idx]))]
            idx = idx[self.dense[idx] > 0]
            width = self.num_clbits
            return [format(int(i), f"0{width}b") for i in idx], self.dense[idx].copy()
        items = sorted((self.sparse or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        items = [kv for kv in items if kv[1] > 0]
        return [o for o, _ in items], np.array([p for _, p in items], dtype=np.float64)

    def tvd_to_uniform(self) -> float:
        """TVD between this distribution and the uniform one over 2^n outcomes."""
        u = 2.0 ** (-self.num_clbits)
        if self.dense is not None:
            return float(0.5 * np.abs(self.dense - u).sum())
        listed = np.array(list((self.sparse or {}).values()))
        unlisted = 2.0**self.num_clbits - listed.size
        return float(0.5 * (np.abs(listed - u).sum() + unlisted * u))

    def sample(self, shots: int, rng: np.random.Generator) -> Counts:
        """Draw a counts sample (for tests and calibration)."""
        outcomes, probs = self.top(self.support_size())
        draw = rng.multinomial(shots, probs / probs.sum())
        return Counts.from_mapping(
            {o: int(c) for o, c in zip(outcomes, draw, strict=True) if c},
            num_clbits=self.num_clbits,
            shots=shots,
        )

    def support_size(self) -> int:
        """Number of outcomes with positive probability."""
        if self.dense is not None:
            return int(np.count_nonzero(self.dense))
        return sum(1 for p in (self.sparse or {}).values() if p > 0)


def _check_probabilities(arr: FloatArray) -> None:
    if not np.all(np.isfinite(arr)) or np.any(arr < -1e-12):
        raise MalformedInputError("baseline probabilities must be finite and non-negative")
    total = float(arr.sum())
    if not abs(total - 1.0) < 1e-6:
        raise MalformedInputError(f"baseline probabilities add up to {total}, not 1")


# -- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test. ``to_dict()`` is JSON-serialisable."""

    __test__ = False  # not a pytest class

    verdict: Verdict
    method: str
    statistic: str
    statistic_value: float
    p_value: float
    alpha: float
    shots: int
    null_draws: int
    tvd: float
    hellinger_fidelity: float
    effect_size: float
    power: float
    required_power: float
    bins: int
    reason: str
    impossible_outcomes: tuple[str, ...] = ()
    alternative: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "verdict": self.verdict,
            "method": self.method,
            "statistic": self.statistic,
            "statistic_value": _finite(self.statistic_value),
            "p_value": self.p_value,
            "alpha": self.alpha,
            "shots": self.shots,
            "null_draws": self.null_draws,
            "tvd": _finite(self.tvd),
            "hellinger_fidelity": _finite(self.hellinger_fidelity),
            "effect_size": self.effect_size,
            "power": self.power,
            "required_power": self.required_power,
            "bins": self.bins,
            "reason": self.reason,
            "impossible_outcomes": list(self.impossible_outcomes),
            "alternative": self.alternative,
            "extra": dict(self.extra),
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _verdict(rejected: bool, power: float, required_power: float) -> Verdict:
    if rejected:
        return "inconsistent"
    return "consistent" if power >= required_power else "inconclusive"


def _reason(verdict: Verdict, p: float, alpha: float, power: float, effect: float) -> str:
    if verdict == "inconsistent":
        return f"p-value {p:.4g} <= alpha {alpha:g}: counts are not consistent with the baseline"
    if verdict == "consistent":
        return f"p-value {p:.4g} > alpha {alpha:g} and power {power:.3f} to detect TVD {effect:g}"
    return (
        f"p-value {p:.4g} > alpha {alpha:g}, but power to detect TVD {effect:g} is only "
        f"{power:.3f}: too few shots to decide"
    )


# -- distances ---------------------------------------------------------------------


def total_variation(observed: Counts, baseline: Distribution) -> float:
    """Exact TVD between observed frequencies and the baseline (all outcomes)."""
    outcomes = list(observed)
    f = np.array([observed[o] for o in outcomes], dtype=np.float64) / observed.shots
    p = baseline.probabilities_of(outcomes)
    return float(0.5 * (np.abs(f - p).sum() + max(0.0, 1.0 - p.sum())))


def hellinger_fidelity(observed: Counts, baseline: Distribution) -> float:
    """(sum sqrt(f p))^2 over all outcomes (qiskit's ``hellinger_fidelity``)."""
    outcomes = list(observed)
    f = np.array([observed[o] for o in outcomes], dtype=np.float64) / observed.shots
    p = baseline.probabilities_of(outcomes)
    return float(np.sqrt(f * p).sum() ** 2)


# -- statistics on (draws x bins) count matrices -----------------------------------------


def _xlogx(x: npt.NDArray[Any]) -> FloatArray:
    xf = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(xf > 0, xf * np.log(np.where(xf > 0, xf, 1.0)), 0.0)
    return out


def _stat(counts: npt.NDArray[Any], expected: FloatArray, kind: Statistic) -> FloatArray:
    """G or Pearson statistic for each row of ``counts`` (expected > 0 everywhere)."""
    c = np.atleast_2d(counts)
    if kind == "g":
        return np.asarray(2.0 * (_xlogx(c).sum(axis=1) - c @ np.log(expected)), dtype=np.float64)
    n = c.sum(axis=1).astype(np.float64)
    return np.asarray((c.astype(np.float64) ** 2 / expected).sum(axis=1) - n, dtype=np.float64)


def _draw_stats(
    rng: np.random.Generator,
    shots: int,
    probs: FloatArray,
    draws: int,
    expected: FloatArray,
    kind: Statistic,
) -> FloatArray:
    chunk = max(1, _CHUNK_CELLS // max(probs.size, 1))
    out = np.empty(draws, dtype=np.float64)
    pos = 0
    while pos < draws:
        size = min(chunk, draws - pos)
        out[pos : pos + size] = _stat(rng.multinomial(shots, probs, size=size), expected, kind)
        pos += size
    return out


def _mc_p_value(null: FloatArray, observed: float) -> float:
    tol = 1e-9 * max(1.0, abs(observed))
    return float((1 + np.count_nonzero(null >= observed - tol)) / (null.size + 1))


def _critical(null: FloatArray, alpha: float) -> float:
    """Reject iff T > critical: at most floor(alpha (B+1)) - 1 null draws reach T."""
    m = math.floor(alpha * (null.size + 1)) - 1
    if m < 0:
        return math.inf
    srt = np.sort(null)[::-1]
    return float(srt[min(m, srt.size - 1)])


def _bins(
    observed: Counts, baseline: Distribution, max_bins: int, zero_tolerance: float
) -> tuple[list[str], FloatArray, IntArray, list[str]]:
    """Data-independent bins; returns (names, probs, observed counts, impossible)."""
    if observed.num_clbits != baseline.num_clbits:
        raise MalformedInputError(
            f"counts have {observed.num_clbits} bits but the baseline has "
            f"{baseline.num_clbits}: a baseline for another circuit?"
        )
    outcomes = list(observed)
    p_obs = baseline.probabilities_of(outcomes)
    impossible = [o for o, p in zip(outcomes, p_obs, strict=True) if p <= zero_tolerance]
    names, probs = baseline.top(max(1, max_bins - 1))
    keep = probs > zero_tolerance
    names = [n for n, k in zip(names, keep, strict=True) if k]
    probs = probs[keep]
    index = {n: i for i, n in enumerate(names)}
    obs = np.zeros(len(names) + 1, dtype=np.int64)
    for o in outcomes:
        obs[index.get(o, len(names))] += observed[o]
    other = max(0.0, 1.0 - float(probs.sum()))
    if other > zero_tolerance:
        probs = np.append(probs, other)
        names.append("other")
    else:
        if obs[-1]:  # shots outside the listed bins, on (near) impossible outcomes
            impossible = impossible or ["other"]
        obs = obs[:-1]
    return names, probs / probs.sum(), obs, impossible


def _alternative(
    baseline: Distribution, names: list[str], probs: FloatArray, effect: float
) -> tuple[FloatArray, float, str]:
    """Binned alternative at TVD ``effect``: (bin masses, mass on impossible outcomes, name)."""
    dist_u = baseline.tvd_to_uniform()
    if dist_u >= effect and dist_u > 0:
        lam = effect / dist_u
        unit = 2.0 ** (-baseline.num_clbits)
        listed = len(names) - (1 if names and names[-1] == "other" else 0)
        u = np.full(len(names), unit)
        support = baseline.support_size()
        if names and names[-1] == "other":
            u[-1] = (support - listed) * unit
        impossible = max(0.0, 1.0 - support * unit)
        q = (1 - lam) * probs + lam * u
        return q, lam * impossible, (f"global depolarising (weight {lam:.4g}) at TVD {effect:g}")
    top = int(np.argmax(probs))
    lam = min(1.0, effect / max(1e-300, 1.0 - float(probs[top])))
    q = (1 - lam) * probs
    q[top] += lam
    return q / q.sum(), 0.0, f"point mass on {names[top]} (weight {lam:.4g}) at TVD {effect:g}"


def _power(
    rng: np.random.Generator,
    shots: int,
    q: FloatArray,
    impossible: float,
    draws: int,
    expected: FloatArray,
    kind: Statistic,
    crit: float,
) -> float:
    """P(reject) under the alternative: a shot on an impossible outcome, or T > crit."""
    masses = np.append(q * (1.0 - impossible) / q.sum(), impossible)
    chunk = max(1, _CHUNK_CELLS // masses.size)
    hits = 0
    pos = 0
    tol = 1e-9 * max(1.0, abs(crit))
    while pos < draws:
        size = min(chunk, draws - pos)
        sample = rng.multinomial(shots, masses / masses.sum(), size=size)
        stats = _stat(sample[:, :-1], expected, kind)
        hits += int(np.count_nonzero((sample[:, -1] > 0) | (stats > crit + tol)))
        pos += size
    return hits / draws


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        raise MalformedInputError("a seeded numpy Generator (rng) is required")
    return rng


def goodness_of_fit(
    observed: Counts,
    baseline: Distribution,
    *,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    statistic: Statistic = "g",
    null_draws: int | None = None,
    effect_size: float = 0.05,
    required_power: float = 0.8,
    max_bins: int = DEFAULT_MAX_BINS,
    zero_tolerance: float = DEFAULT_ZERO_TOLERANCE,
    power_alpha: float | None = None,
) -> TestResult:
    """Monte Carlo calibrated G (or Pearson) goodness-of-fit test (module docstring)."""
    rng = _rng(rng)
    _check_alpha(alpha)
    if statistic not in ("g", "pearson"):
        raise MalformedInputError(f"unknown statistic {statistic!r}")
    if not 0 < effect_size < 1 or not 0 < required_power < 1:
        raise MalformedInputError("effect_size and required_power must be in (0, 1)")
    if max_bins < 2:
        raise MalformedInputError("max_bins must be at least 2")
    draws = null_draws if null_draws is not None else min_null_draws(alpha)
    if draws < min_null_draws(alpha):
        raise MalformedInputError(
            f"{draws} null draws are too few for alpha {alpha}: at least "
            f"{min_null_draws(alpha)} (20/alpha) are needed"
        )
    names, probs, obs, impossible = _bins(observed, baseline, max_bins, zero_tolerance)
    tvd = total_variation(observed, baseline)
    fid = hellinger_fidelity(observed, baseline)
    n = observed.shots
    method = f"parametric bootstrap {'G' if statistic == 'g' else 'Pearson chi-square'} test"
    if impossible:
        return TestResult(
            verdict="inconsistent",
            method=method,
            statistic=statistic,
            statistic_value=math.inf,
            p_value=0.0,
            alpha=alpha,
            shots=n,
            null_draws=0,
            tvd=tvd,
            hellinger_fidelity=fid,
            effect_size=effect_size,
            power=1.0,
            required_power=required_power,
            bins=len(names),
            reason=f"{len(impossible)} observed outcome(s) have baseline probability 0, "
            f"e.g. {impossible[0]!r}",
            impossible_outcomes=tuple(sorted(impossible)[:100]),
        )
    expected = n * probs
    t_obs = float(_stat(obs, expected, statistic)[0])
    null = _draw_stats(rng, n, probs, draws, expected, statistic)
    p_value = _mc_p_value(null, t_obs)
    q, impossible_mass, alt_name = _alternative(baseline, names, probs, effect_size)
    crit = _critical(null, power_alpha if power_alpha is not None else alpha)
    power = _power(rng, n, q, impossible_mass, min(draws, 1000), expected, statistic, crit)
    verdict = _verdict(p_value <= alpha, power, required_power)
    return TestResult(
        verdict=verdict,
        method=method,
        statistic=statistic,
        statistic_value=t_obs,
        p_value=p_value,
        alpha=alpha,
        shots=n,
        null_draws=draws,
        tvd=tvd,
        hellinger_fidelity=fid,
        effect_size=effect_size,
        power=power,
        required_power=required_power,
        bins=len(names),
        reason=_reason(verdict, p_value, alpha, power, effect_size),
        alternative=alt_name,
    )


# -- several circuits ----------------------------------------------------------------------


def holm_bonferroni(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm's step-down procedure: (rejected, adjusted p-values), in input order."""
    _check_alpha(alpha)
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return [a <= alpha for a in adjusted], adjusted


@dataclass(frozen=True)
class JobResult:
    """Per-circuit results after Holm-Bonferroni, and the job verdict."""

    verdict: Verdict
    alpha: float
    results: tuple[TestResult, ...]
    adjusted_p_values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "verdict": self.verdict,
            "alpha": self.alpha,
            "correction": "holm-bonferroni",
            "circuits": [
                dict(r.to_dict(), adjusted_p_value=a)
                for r, a in zip(self.results, self.adjusted_p_values, strict=True)
            ],
        }


def check_job(
    pairs: Sequence[tuple[Counts, Distribution]],
    *,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    statistic: Statistic = "g",
    effect_size: float = 0.05,
    required_power: float = 0.8,
    max_bins: int = DEFAULT_MAX_BINS,
) -> JobResult:
    """Test every circuit of a job; Holm-Bonferroni across them."""
    if not pairs:
        raise MalformedInputError("a job needs at least one circuit")
    m = len(pairs)
    draws = min_null_draws(alpha, m)
    raw = [
        goodness_of_fit(
            obs,
            base,
            rng=rng,
            alpha=alpha,
            statistic=statistic,
            null_draws=draws,
            effect_size=effect_size,
            required_power=required_power,
            max_bins=max_bins,
            power_alpha=alpha / m,
        )
        for obs, base in pairs
    ]
    rejected, adjusted = holm_bonferroni([r.p_value for r in raw], alpha)
    final = []
    for r, rej, adj in zip(raw, rejected, adjusted, strict=True):
        verdict = _verdict(rej, r.power, required_power)
        reason = (
            r.reason
            if r.impossible_outcomes
            else (
                f"Holm-adjusted p-value {adj:.4g} (raw {r.p_value:.4g}) over {m} circuits; "
                + _reason(verdict, adj, alpha, r.power, effect_size)
            )
        )
        final.append(TestResult(**{**r.__dict__, "verdict": verdict, "reason": reason}))
    job_verdict: Verdict = (
        "inconsistent"
        if any(v.verdict == "inconsistent" for v in final)
        else "inconclusive"
        if any(v.verdict == "inconclusive" for v in final)
        else "consistent"
    )
    return JobResult(
        verdict=job_verdict, alpha=alpha, results=tuple(final), adjusted_p_values=tuple(adjusted)
    )


# -- two samples -------------------------------------------------------------------------------


def _table_stat(a: npt.NDArray[Any], b: npt.NDArray[Any], kind: Statistic) -> FloatArray:
    """Statistic of 2 x K tables given row-1 draws ``a`` and row-2 draws ``b``."""
    a2, b2 = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    col = a2 + b2
    n1 = a2.sum(axis=1, keepdims=True)
    n2 = b2.sum(axis=1, keepdims=True)
    total = n1 + n2
    e1 = n1 * col / total
    e2 = n2 * col / total
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "g":
            t1 = np.where(a2 > 0, a2 * np.log(np.where(a2 > 0, a2, 1) / np.where(e1 > 0, e1, 1)), 0)
            t2 = np.where(b2 > 0, b2 * np.log(np.where(b2 > 0, b2, 1) / np.where(e2 > 0, e2, 1)), 0)
            return np.asarray(2.0 * (t1 + t2).sum(axis=1), dtype=np.float64)
        t1 = np.where(e1 > 0, (a2 - e1) ** 2 / np.where(e1 > 0, e1, 1), 0)
        t2 = np.where(e2 > 0, (b2 - e2) ** 2 / np.where(e2 > 0, e2, 1), 0)
        return np.asarray((t1 + t2).sum(axis=1), dtype=np.float64)


def _tvd_counts(a: Counts, b: Counts) -> tuple[float, float]:
    keys = set(a) | set(b)
    fa = np.array([a.get(k, 0) for k in keys], dtype=np.float64) / a.shots
    fb = np.array([b.get(k, 0) for k in keys], dtype=np.float64) / b.shots
    return float(0.5 * np.abs(fa - fb).sum()), float(np.sqrt(fa * fb).sum() ** 2)


def two_sample_test(
    observed: Counts,
    reference: Counts,
    *,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    statistic: Statistic = "g",
    null_draws: int | None = None,
    effect_size: float = 0.05,
    required_power: float = 0.8,
    max_bins: int = DEFAULT_MAX_BINS,
) -> TestResult:
    """Homogeneity test of two count samples (module docstring)."""
    rng = _rng(rng)
    _check_alpha(alpha)
    if observed.num_clbits != reference.num_clbits:
        raise MalformedInputError(
            f"samples have {observed.num_clbits} and {reference.num_clbits} bits"
        )
    draws = null_draws if null_draws is not None else min_null_draws(alpha)
    if draws < min_null_draws(alpha):
        raise MalformedInputError(f"at least {min_null_draws(alpha)} null draws are needed")
    keys = sorted(
        set(observed) | set(reference),
        key=lambda k: (-(observed.get(k, 0) + reference.get(k, 0)), k),
    )
    head, tail = keys[: max_bins - 1], keys[max_bins - 1 :]
    a = np.array(
        [observed.get(k, 0) for k in head]
        + ([sum(observed.get(k, 0) for k in tail)] if tail else []),
        dtype=np.int64,
    )
    b = np.array(
        [reference.get(k, 0) for k in head]
        + ([sum(reference.get(k, 0) for k in tail)] if tail else []),
        dtype=np.int64,
    )
    t_obs = float(_table_stat(a, b, statistic)[0])
    col = a + b
    chunk = max(1, _CHUNK_CELLS // col.size)
    null = np.empty(draws)
    pos = 0
    while pos < draws:
        size = min(chunk, draws - pos)
        ra = rng.multivariate_hypergeometric(col, int(a.sum()), size=size)
        null[pos : pos + size] = _table_stat(ra, col - ra, statistic)
        pos += size
    p_value = _mc_p_value(null, t_obs)
    # Power (approximate): reference p from the reference sample, observed from a
    # depolarised alternative at TVD effect_size; critical value from the
    # unconditional null with the same sample sizes.
    p_ref = b / b.sum()
    u = np.full(p_ref.size, 1.0 / p_ref.size)
    dist_u = 0.5 * float(np.abs(p_ref - u).sum())
    if dist_u >= effect_size:
        lam = effect_size / dist_u
        q = (1 - lam) * p_ref + lam * u
        alt_name = f"global depolarising (weight {lam:.4g}) at TVD {effect_size:g}"
    else:
        top = int(np.argmax(p_ref))
        lam = min(1.0, effect_size / max(1e-300, 1 - float(p_ref[top])))
        q = (1 - lam) * p_ref
        q[top] += lam
        alt_name = f"point mass (weight {lam:.4g}) at TVD {effect_size:g}"
    k = min(draws, 2000)
    n1, n2 = int(a.sum()), int(b.sum())
    null_u = _table_stat(
        rng.multinomial(n1, p_ref, size=k), rng.multinomial(n2, p_ref, size=k), statistic
    )
    crit = _critical(null_u, alpha)
    alt = _table_stat(
        rng.multinomial(n1, q / q.sum(), size=k), rng.multinomial(n2, p_ref, size=k), statistic
    )
    power = float(np.mean(alt > crit))
    tvd, fid = _tvd_counts(observed, reference)
    verdict = _verdict(p_value <= alpha, power, required_power)
    return TestResult(
        verdict=verdict,
        method=f"two-sample permutation {'G' if statistic == 'g' else 'Pearson'} test",
        statistic=statistic,
        statistic_value=t_obs,
        p_value=p_value,
        alpha=alpha,
        shots=observed.shots,
        null_draws=draws,
        tvd=tvd,
        hellinger_fidelity=fid,
        effect_size=effect_size,
        power=power,
        required_power=required_power,
        bins=int(a.size),
        reason=_reason(verdict, p_value, alpha, power, effect_size),
        alternative=alt_name,
        extra={"reference_shots": reference.shots},
    )


# -- equivalence -------------------------------------------------------------------------------


def equivalence_test(
    observed: Counts,
    baseline: Distribution,
    *,
    tolerance: float,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    draws: int | None = None,
    max_bins: int = DEFAULT_MAX_BINS,
) -> TestResult:
    """Is the true distribution within TVD ``tolerance`` of the baseline? (docstring)."""
    rng = _rng(rng)
    _check_alpha(alpha)
    if not 0 < tolerance < 1:
        raise MalformedInputError("tolerance must be in (0, 1)")
    b = draws if draws is not None else min_null_draws(alpha)
    tvd = total_variation(observed, baseline)
    fid = hellinger_fidelity(observed, baseline)
    outcomes = list(observed)
    f = np.array([observed[o] for o in outcomes], dtype=np.float64) / observed.shots
    n = observed.shots
    chunk = max(1, _CHUNK_CELLS // max(f.size, 1))
    dev = np.empty(b)
    pos = 0
    while pos < b:
        size = min(chunk, b - pos)
        dev[pos : pos + size] = 0.5 * np.abs(rng.multinomial(n, f, size=size) / n - f).sum(axis=1)
        pos += size
    d = float(np.quantile(dev, 1 - alpha, method="higher"))
    upper, lower = tvd + d, tvd - d
    p_value = (
        float((1 + np.count_nonzero(dev >= tolerance - tvd)) / (b + 1))
        if (tvd < tolerance)
        else 1.0
    )
    # Power: probability of declaring equivalence if the hardware were exactly
    # the baseline (binned), with the observed bootstrap margin as plug-in.
    names, probs, _obs, _imp = _bins(observed, baseline, max_bins, DEFAULT_ZERO_TOLERANCE)
    sims = rng.multinomial(n, probs, size=min(b, 2000)) / n
    power = float(np.mean(0.5 * np.abs(sims - probs).sum(axis=1) + d <= tolerance))
    if upper <= tolerance:
        verdict: Verdict = "consistent"
        reason = (
            f"TVD {tvd:.4g} with upper {1 - alpha:.0%} bound {upper:.4g} <= "
            f"tolerance {tolerance:g}: within tolerance"
        )
    elif lower > tolerance:
        verdict = "inconsistent"
        reason = f"TVD lower bound {lower:.4g} > tolerance {tolerance:g}: outside tolerance"
    else:
        verdict = "inconclusive"
        reason = (
            f"TVD {tvd:.4g}, bounds [{max(lower, 0):.4g}, {upper:.4g}] straddle "
            f"tolerance {tolerance:g}"
        )
    return TestResult(
        verdict=verdict,
        method="equivalence test (bootstrap TVD bound, triangle inequality)",
        statistic="tvd",
        statistic_value=tvd,
        p_value=p_value,
        alpha=alpha,
        shots=n,
        null_draws=b,
        tvd=tvd,
        hellinger_fidelity=fid,
        effect_size=tolerance,
        power=power,
        required_power=0.0,
        bins=len(names),
        reason=reason,
        alternative="baseline itself (power to declare equivalence)",
        extra={"tolerance": tolerance, "tvd_upper": upper, "tvd_lower": max(lower, 0.0)},
    )


# -- cross entropy -------------------------------------------------------------------------------


def cross_entropy_test(
    observed_probabilities: npt.ArrayLike,
    reference_probabilities: npt.ArrayLike,
    *,
    num_qubits: int,
    rng: np.random.Generator,
    alpha: float = DEFAULT_ALPHA,
    null_draws: int | None = None,
    effect_size: float = 0.05,
    required_power: float = 0.8,
    reference_method: str = "",
) -> TestResult:
    """Linear XEB of observed shots against a reference sample (module docstring).

    ``observed_probabilities[i]`` is the reference probability of the i-th
    observed shot; ``reference_probabilities[j]`` that of the j-th shot of a
    sample drawn from the reference simulator itself.
    """
    rng = _rng(rng)
    _check_alpha(alpha)
    obs = np.asarray(observed_probabilities, dtype=np.float64)
    ref = np.asarray(reference_probabilities, dtype=np.float64)
    if obs.ndim != 1 or ref.ndim != 1 or obs.size == 0 or ref.size < 2:
        raise MalformedInputError("cross-entropy test needs observed and reference samples")
    scale = 2.0**num_qubits
    impossible = int(np.count_nonzero(obs <= 0.0))
    v_obs, v_ref = scale * obs, scale * ref
    xeb = float(v_obs.mean() - 1)
    ideal = float(v_ref.mean() - 1)
    draws = null_draws if null_draws is not None else min_null_draws(alpha)
    n = obs.size
    method = f"linear cross-entropy (reference: {reference_method or 'simulator sample'})"
    if impossible:
        return TestResult(
            verdict="inconsistent",
            method=method,
            statistic="xeb",
            statistic_value=xeb,
            p_value=0.0,
            alpha=alpha,
            shots=n,
            null_draws=0,
            tvd=math.nan,
            hellinger_fidelity=math.nan,
            effect_size=effect_size,
            power=1.0,
            required_power=required_power,
            bins=0,
            reason=f"{impossible} shot(s) on outcomes with reference probability 0",
            extra={"xeb": xeb, "reference_xeb": ideal},
        )
    chunk = max(1, _CHUNK_CELLS // n)
    null = np.empty(draws)
    pos = 0
    while pos < draws:
        size = min(chunk, draws - pos)
        idx = rng.integers(0, ref.size, size=(size, n))
        null[pos : pos + size] = v_ref[idx].mean(axis=1) - 1
        pos += size
    tol = 1e-9 * max(1.0, abs(xeb))
    p_value = float((1 + np.count_nonzero(null <= xeb + tol)) / (draws + 1))
    from scipy.stats import norm

    sd = float(v_ref.std(ddof=1)) / math.sqrt(n)
    shift = effect_size * max(ideal, 0.0)  # depolarising weight ~ effect size
    power = (
        1.0
        if sd == 0 and shift > 0
        else (0.0 if sd == 0 else float(norm.cdf(shift / sd - norm.ppf(1 - alpha))))
    )
    verdict = _verdict(p_value <= alpha, power, required_power)
    return TestResult(
        verdict=verdict,
        method=method,
        statistic="xeb",
        statistic_value=xeb,
        p_value=p_value,
        alpha=alpha,
        shots=n,
        null_draws=draws,
        tvd=math.nan,
        hellinger_fidelity=math.nan,
        effect_size=effect_size,
        power=power,
        required_power=required_power,
        bins=0,
        reason=_reason(verdict, p_value, alpha, power, effect_size),
        alternative=f"depolarising weight {effect_size:g} (normal approximation)",
        extra={"xeb": xeb, "reference_xeb": ideal, "reference_shots": int(ref.size)},
    )
