"""Reproducibility checks of a receipted result. Private: see :mod:`qprov.reproduce`."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from qprov._baseline_impl import (
    ParsedBaseline,
    TestBaseline,
    check_device,
    parse_baseline,
    verify_baseline,
)
from qprov.dsse import Envelope
from qprov.errors import (
    MalformedInputError,
    PolicyError,
    ReproductionMismatchError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from qprov.trust import TrustStore

if TYPE_CHECKING:
    import numpy as np
    from qiskit.circuit import QuantumCircuit
    from qiskit_aer.noise import NoiseModel

    from qprov.receipt import ReceiptBundle, ResultReceipt
    from qprov.repro import (
        Counts,
        Distribution,
        ExecutionDetails,
        ReplayReport,
        ReproReport,
        TestResult,
    )

__all__ = [
    "REFERENCE_SHOTS",
    "Reproduction",
    "ReproductionVerdict",
    "check_reproduction",
    "verify_reproduction",
]

logger = logging.getLogger("qprov.reproduce")

ReproductionVerdict = Literal[
    "reproduced", "mismatch", "consistent", "inconsistent", "inconclusive"
]
#: Shots of a sampled reference when no exact distribution is feasible.
REFERENCE_SHOTS: Final = 100_000
_EXACT_IDEAL_QUBITS: Final = 26
_EXACT_NOISY_QUBITS: Final = 13


@dataclass(frozen=True)
class Reproduction:
    """The outcome of a reproducibility check: the verdict and the full report.

    ``verdict`` is ``reproduced`` / ``mismatch`` (exact replay of a simulator
    result decided) or ``consistent`` / ``inconsistent`` / ``inconclusive``
    (a statistical test decided). ``report`` renders as JSON and HTML.
    """

    verdict: ReproductionVerdict
    decided_by: str
    report: ReproReport = field(repr=False)
    summary: str

    @property
    def ok(self) -> bool:
        """True for ``reproduced`` and ``consistent``."""
        return self.verdict in ("reproduced", "consistent")

    @property
    def failed(self) -> bool:
        """True for ``mismatch`` and ``inconsistent``."""
        return self.verdict in ("mismatch", "inconsistent")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_bundle(receipt: ReceiptBundle | bytes) -> ReceiptBundle:
    from qprov.receipt import ReceiptBundle, parse_receipt_bundle

    if isinstance(receipt, ReceiptBundle):
        return receipt
    if not isinstance(receipt, bytes):
        raise MalformedInputError("the receipt must be a receipt bundle (bytes)")
    return parse_receipt_bundle(receipt)


@dataclass
class _Checks:
    """Collects verification failures so that every input is reported, not only the first."""

    failures: list[VerificationError] = field(default_factory=list)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VerificationError as exc:
            self.failures.append(exc)
            return None

    def fail(self, exc: VerificationError) -> None:
        self.failures.append(exc)

    def raise_any(self) -> None:
        if not self.failures:
            return
        if len(self.failures) == 1:
            raise self.failures[0]
        raise VerificationError(
            f"{len(self.failures)} checks failed: " + "; ".join(str(e) for e in self.failures)
        )


def _default_rng(receipt_digest: str, result_sha: str) -> np.random.Generator:
    import numpy as np

    seed = hashlib.sha256(
        b"qprov-reproduce\x00" + receipt_digest.encode() + b"\x00" + result_sha.encode()
    ).digest()
    return np.random.default_rng(int.from_bytes(seed[:16], "big"))


def _drop_idle_qubits(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit on its active qubits only (ideal simulation; hardware ISA circuits are wide)."""
    from qiskit.circuit import ControlFlowOp, QuantumCircuit

    active = sorted(
        {circuit.find_bit(q).index for inst in circuit.data for q in inst.qubits
         if inst.operation.name != "barrier"}
    )  # fmt: skip
    if len(active) == circuit.num_qubits or any(
        isinstance(inst.operation, ControlFlowOp) for inst in circuit.data
    ):
        return circuit
    index = {q: i for i, q in enumerate(active)}
    out = QuantumCircuit(max(len(active), 1), circuit.num_clbits)
    for inst in circuit.data:
        qs = [circuit.find_bit(q).index for q in inst.qubits]
        if inst.operation.name == "barrier":
            qs = [q for q in qs if q in index]
            if not qs:
                continue
        out.append(
            inst.operation,
            [out.qubits[index[q]] for q in qs],
            [out.clbits[circuit.find_bit(c).index] for c in inst.clbits],
        )
    return out


@dataclass(frozen=True)
class _Reference:
    """What the counts are tested against."""

    description: str
    distribution: Distribution | None = None
    sample: Counts | None = None
    test_baseline: TestBaseline | None = None
    xeb_circuit: QuantumCircuit | None = None
    notes: tuple[str, ...] = ()


def _reference(
    executed: QuantumCircuit,
    noise_model: NoiseModel | None,
    *,
    device: str,
    rng: np.random.Generator,
    tolerance: float | None,
) -> _Reference:
    """The baseline computed here: exact when feasible, else XEB (ideal) or a sample."""
    from qprov.repro import exact_distribution, final_measurements, simulate

    noisy = noise_model is not None
    circuit = executed if noisy else _drop_idle_qubits(executed)
    label = "noise model from the receipt's calibration snapshot" if noisy else "ideal simulation"
    limit = _EXACT_NOISY_QUBITS if noisy else _EXACT_IDEAL_QUBITS
    reason = ""
    try:
        final_measurements(circuit)
        if circuit.num_qubits <= limit:
            dist = exact_distribution(circuit, noise_model=noise_model)
            method = "density matrix" if noisy else "statevector"
            return _Reference(f"{label} of the executed circuit (exact, {method})", dist)
        reason = f"{circuit.num_qubits} qubits is past the exact limit of {limit}"
    except UnsupportedAlgorithmError as exc:
        reason = str(exc)
    if not noisy and tolerance is None and not _has_mid_circuit(circuit):
        return _Reference(
            f"{label} of the executed circuit (cross-entropy; {reason})", xeb_circuit=circuit
        )
    seed = int(rng.integers(0, 2**52))
    ref = simulate(
        circuit, shots=REFERENCE_SHOTS, seed=seed, device=device, noise_model=noise_model
    )
    return _Reference(
        f"{label} of the executed circuit ({REFERENCE_SHOTS} reference shots, "
        f"{ref.details.method}, seed {ref.details.seed_simulator}; {reason})",
        sample=ref.counts,
    )


def _has_mid_circuit(circuit: QuantumCircuit) -> bool:
    from qprov.repro import final_measurements

    try:
        final_measurements(circuit)
    except UnsupportedAlgorithmError:
        return True
    return False


def _run_test(
    observed: Counts,
    ref: _Reference,
    *,
    rng: np.random.Generator,
    alpha: float,
    effect_size: float,
    tolerance: float | None,
) -> tuple[TestResult, Counts, list[str]]:
    """Run the test that fits the reference; return (result, observed as tested, notes)."""
    from qprov.repro import (
        Distribution,
        cross_entropy_check,
        equivalence_test,
        goodness_of_fit,
        two_sample_test,
    )

    notes: list[str] = []
    tested = observed
    if ref.test_baseline is not None:
        tested = ref.test_baseline.coarsen(observed)
        if tested is not observed:
            notes.append(
                "outcomes the baseline does not list are merged into its 'other' bin; "
                "TVD and Hellinger fidelity are over the listed outcomes plus 'other'"
            )
    if ref.xeb_circuit is not None:
        result = cross_entropy_check(
            ref.xeb_circuit, observed, rng=rng, alpha=alpha, effect_size=effect_size
        )
        return result, tested, notes
    if tolerance is not None:
        dist = ref.distribution
        if dist is None:
            assert ref.sample is not None  # noqa: S101 - one of the two
            sample = ref.sample
            dist = Distribution.from_mapping(
                {k: v / sample.shots for k, v in sample.items()}, sample.num_clbits
            )
            notes.append(
                "equivalence test against a sampled baseline: its own sampling error is not "
                "included in the bound"
            )
        result = equivalence_test(tested, dist, tolerance=tolerance, rng=rng, alpha=alpha)
        return result, tested, notes
    if ref.sample is not None:
        result = two_sample_test(tested, ref.sample, rng=rng, alpha=alpha, effect_size=effect_size)
        return result, tested, notes
    assert ref.distribution is not None  # noqa: S101
    bins = max(4096, (ref.test_baseline.source.listed + 1) if ref.test_baseline else 0)
    result = goodness_of_fit(
        tested, ref.distribution, rng=rng, alpha=alpha, effect_size=effect_size, max_bins=bins
    )
    return result, tested, notes


def _summary(verdict: str, decided_by: str, test: TestResult | None, extra: str = "") -> str:
    if test is None:
        text = extra if extra.startswith(verdict) else f"{verdict}: {extra}"
        return f"{text} (decided by {decided_by})"
    parts = [f"p-value {test.p_value:.4g}", f"alpha {test.alpha:g}"]
    if test.tvd == test.tvd:  # not NaN
        parts.append(f"TVD {test.tvd:.4g}")
    if test.hellinger_fidelity == test.hellinger_fidelity:
        parts.append(f"Hellinger fidelity {test.hellinger_fidelity:.4g}")
    parts.append(f"power {test.power:.3f} at effect size {test.effect_size:g}")
    return f"{verdict}: {test.reason} [{', '.join(parts)}] (decided by {decided_by})"


def check_reproduction(
    receipt: ReceiptBundle | bytes,
    circuit: bytes,
    result: bytes,
    *,
    trust: TrustStore | None = None,
    baseline: Envelope | bytes | None = None,
    calibration: bytes | None = None,
    alpha: float = 0.01,
    effect_size: float = 0.05,
    tolerance: float | None = None,
    device: str = "CPU",
    rng: np.random.Generator | None = None,
) -> Reproduction:
    """Check a receipted result: exact replay for simulators, a calibrated test otherwise.

    Every input is checked before any simulation: the receipt bundle, the
    counts (:class:`~qprov.errors.MalformedInputError` for keys of the wrong
    width, non-binary keys, negative values, totals other than the shots),
    that the circuit and result are the ones the receipt names, that the QPY
    is the executed circuit the receipt names, the receipt's signature (with
    ``trust``), the baseline's signature (role ``baseline-authority``) and
    subject (this circuit), and the calibration snapshot's digest. Failures of
    these raise (every failure named); a completed check returns its verdict.
    ``rng`` defaults to a generator seeded from the receipt and the result, so
    the same inputs give the same report.
    """
    from qprov.receipt import verify_receipt
    from qprov.repro import (
        CalibrationSnapshot,
        ExecutionDetails,
        ReproReport,
        chart_series,
        load_qpy_with_digest,
        noise_model_digest,
        noise_model_from_calibration,
        parse_counts,
        require_measurements,
    )

    if not 0.0 < alpha < 0.5:
        raise MalformedInputError(f"alpha must be in (0, 0.5), got {alpha!r}")
    if not 0.0 < effect_size < 1.0:
        raise MalformedInputError(f"effect size must be in (0, 1), got {effect_size!r}")
    if tolerance is not None and not 0.0 < tolerance < 1.0:
        raise MalformedInputError(f"tolerance must be in (0, 1), got {tolerance!r}")
    if baseline is not None and trust is None:
        raise MalformedInputError(
            "a baseline is only used once verified: give a trust file with the "
            "baseline-authority role"
        )
    check_device(device)
    bundle = _parse_bundle(receipt)
    parsed = bundle.parsed
    rec: ResultReceipt = parsed.receipt
    observed = parse_counts(result, num_clbits=rec.clbits, shots=rec.shots)
    parsed_baseline: ParsedBaseline | None = None
    if baseline is not None:
        parsed_baseline = parse_baseline(
            baseline.to_json() if isinstance(baseline, Envelope) else baseline
        )
    snapshot = CalibrationSnapshot.from_json(calibration) if calibration is not None else None
    details: ExecutionDetails | None = None
    if rec.execution is not None:
        details = ExecutionDetails.from_dict(dict(rec.execution))

    checks = _Checks()
    notes: list[str] = []
    keyids = ""
    if trust is not None:
        verified = checks.run(verify_receipt, parsed, trust)
        if verified is not None:
            keyids = (
                f"signed by {verified.role} key(s) {', '.join(k[:16] for k in verified.keyids)}"
            )
            notes.append(f"receipt {keyids}")
    else:
        notes.append(
            "receipt signature not checked (no trust file); use 'qprov verify chain' for the "
            "chain of evidence"
        )
    circuit_sha = _sha256(circuit)
    if circuit_sha != rec.circuit_sha256:
        checks.fail(
            PolicyError(
                f"the circuit (sha256:{circuit_sha[:16]}…) is not the one the receipt names "
                f"(sha256:{rec.circuit_sha256[:16]}…)"
            )
        )
    result_sha = _sha256(result)
    if result_sha != parsed.result_sha256:
        checks.fail(
            PolicyError(
                f"the result (sha256:{result_sha[:16]}…) is not the one the receipt signed "
                f"(sha256:{parsed.result_sha256[:16]}…)"
            )
        )
    qpy_sha = _sha256(bundle.executed_qpy)
    executed: QuantumCircuit | None = None
    if qpy_sha != rec.executed_circuit.qpy_sha256:
        checks.fail(
            PolicyError("the executed-circuit QPY in the bundle is not the one the receipt names")
        )
    else:
        executed, executed_digest = load_qpy_with_digest(bundle.executed_qpy)
        if str(executed_digest) != str(rec.executed_circuit.digest):
            checks.fail(
                PolicyError(
                    "the executed circuit's canonical digest differs from the one the receipt names"
                )
            )
        require_measurements(executed)
        if executed.num_clbits != rec.clbits:
            raise MalformedInputError(
                f"the executed circuit has {executed.num_clbits} clbits; the receipt says "
                f"{rec.clbits}"
            )
    verified_baseline = None
    if parsed_baseline is not None:
        assert trust is not None  # noqa: S101 - checked above
        verified_baseline = checks.run(
            verify_baseline, parsed_baseline, trust, circuit_sha256=rec.circuit_sha256
        )
        if parsed_baseline.baseline.clbits != rec.clbits:
            checks.fail(
                PolicyError(
                    f"the baseline is over {parsed_baseline.baseline.clbits} clbits; the result "
                    f"has {rec.clbits}"
                )
            )
    if snapshot is not None:
        if rec.calibration is None:
            checks.fail(PolicyError("the receipt names no calibration snapshot"))
        elif snapshot.digest != rec.calibration.digest:
            checks.fail(
                PolicyError(
                    f"the calibration snapshot (sha256:{snapshot.digest[:16]}…) is not the one "
                    f"the receipt names (sha256:{rec.calibration.digest[:16]}…)"
                )
            )
    checks.raise_any()
    assert executed is not None  # noqa: S101 - a failure above raised

    noise_model = noise_model_from_calibration(snapshot) if snapshot is not None else None
    subject = {
        "receipt": f"sha256:{parsed.digest}",
        "job": rec.job_id,
        "backend": f"{rec.backend} {rec.backend_version}",
        "circuit": f"sha256:{rec.circuit_sha256}",
        "result": f"sha256:{result_sha}",
        "executed circuit": f"sha256:{rec.executed_circuit.digest}",
    }
    if verified_baseline is not None:
        subject["baseline"] = f"sha256:{verified_baseline.parsed.digest}"
        notes.append(
            f"baseline: {verified_baseline.baseline.describe()}; signed by baseline-authority "
            f"key(s) {', '.join(k[:16] for k in verified_baseline.keyids)}"
        )

    replay_report: ReplayReport | None = None
    if details is not None:
        replay_report, why = _try_replay(details, executed, observed, noise_model, notes)
        if replay_report is not None and replay_report.status != "environment_differs":
            verdict: ReproductionVerdict = (
                "reproduced" if replay_report.status == "reproduced" else "mismatch"
            )
            decided_by = "exact replay of the executed circuit with the recorded settings"
            charts = [
                ("recorded vs replayed counts", chart_series(observed, replay_report.replayed))
            ]
            report = ReproReport(
                subject=subject,
                verdict=verdict,
                decided_by=decided_by,
                replay=replay_report,
                charts=charts,
                notes=notes,
            )
            return Reproduction(
                verdict,
                decided_by,
                report,
                _summary(verdict, decided_by, None, replay_report.describe()),
            )
        notes.append(f"exact replay cannot decide: {why}; falling back to the statistical test")
        if (
            noise_model is None
            and details.noise_model_digest != "ideal"
            and verified_baseline is None
        ):
            raise MalformedInputError(
                "the simulator ran with a noise model: give the receipt's calibration snapshot "
                "(--calibration) or a signed baseline for the statistical test"
            )
    elif rec.calibration is not None and noise_model is None and verified_baseline is None:
        notes.append(
            "the receipt names a calibration snapshot; without it (--calibration) the "
            "baseline is the ideal distribution"
        )
    if noise_model is not None and details is None:
        notes.append(f"noise model digest {noise_model_digest(noise_model)[:16]}…")

    # Only the statistical test draws from it (not needed when the replay decides).
    rng = rng if rng is not None else _default_rng(parsed.digest, result_sha)
    if verified_baseline is not None:
        tb = verified_baseline.baseline.distribution.for_test()
        ref = _Reference(
            f"signed baseline ({verified_baseline.baseline.describe()})",
            distribution=tb.distribution,
            sample=tb.sample,
            test_baseline=tb,
        )
    else:
        ref = _reference(executed, noise_model, device=device, rng=rng, tolerance=tolerance)
    test, tested, test_notes = _run_test(
        observed, ref, rng=rng, alpha=alpha, effect_size=effect_size, tolerance=tolerance
    )
    notes.extend(test_notes)
    verdict = test.verdict
    decided_by = f"{test.method} against the {ref.description}"
    charts = []
    if ref.sample is not None:
        charts.append(("measured vs baseline sample", chart_series(tested, ref.sample)))
    elif ref.distribution is not None:
        charts.append(("measured vs baseline", chart_series(tested, ref.distribution)))
    report = ReproReport(
        subject=subject,
        verdict=verdict,
        decided_by=decided_by,
        test=test,
        replay=replay_report,
        charts=charts,
        notes=notes,
    )
    return Reproduction(verdict, decided_by, report, _summary(verdict, decided_by, test))


def _try_replay(
    details: ExecutionDetails,
    executed: QuantumCircuit,
    observed: Counts,
    noise_model: NoiseModel | None,
    notes: list[str],
) -> tuple[ReplayReport | None, str]:
    """Replay when possible; (None, why) when the environment rules it out beforehand."""
    from qiskit_aer import AerSimulator

    from qprov.repro import current_environment, noise_model_digest, replay

    env = current_environment()
    recorded = details.environment()
    differs = {k: (recorded[k], env[k]) for k in recorded if recorded[k] != env[k]}
    if details.device != "CPU" and details.device not in AerSimulator().available_devices():
        return None, f"the recorded Aer device {details.device!r} is not available here"
    if details.noise_model_digest != "ideal" and noise_model is None:
        return None, "the simulator ran with a noise model and no calibration snapshot was given"
    if noise_model_digest(noise_model) != details.noise_model_digest:
        if not differs:
            raise VerificationError(
                "the noise model rebuilt from the calibration snapshot has digest "
                f"{noise_model_digest(noise_model)[:16]}…, not the recorded "
                f"{details.noise_model_digest[:16]}… (same platform and versions)"
            )
        return None, "the noise model digest differs (different platform or library versions)"
    report = replay(executed, details, observed, noise_model=noise_model)
    if report.status == "environment_differs":
        env_text = ", ".join(
            f"{k} recorded {a!r}, here {b!r}"
            for k, (a, b) in report.environment_differences.items()
        )
        notes.append(f"environment differs from the record: {env_text}")
        same = "identical" if report.counts_identical else "different"
        notes.append(f"the replay here gave {same} counts (not decisive in another environment)")
        return report, f"environment differs ({env_text})"
    return report, ""


def verify_reproduction(
    receipt: ReceiptBundle | bytes,
    circuit: bytes,
    result: bytes,
    *,
    allow_inconclusive: bool = False,
    **kwargs: Any,
) -> Reproduction:
    """:func:`check_reproduction`, raising unless the result is reproduced or consistent.

    Raises :class:`~qprov.errors.ReproductionMismatchError` for ``mismatch``,
    ``inconsistent`` and (unless ``allow_inconclusive``) ``inconclusive``.
    """
    outcome = check_reproduction(receipt, circuit, result, **kwargs)
    if outcome.failed or (outcome.verdict == "inconclusive" and not allow_inconclusive):
        raise ReproductionMismatchError(outcome.summary)
    return outcome
