"""Reproducibility engine: simulator baselines, exact replay and statistical checks.

Everything here imports qiskit, qiskit-aer and scipy lazily (only when this
package is imported, never by ``import qprov``).

* Counts: :func:`parse_counts`, :class:`Counts`.
* Executed-circuit identity: :func:`circuit_digest`, :func:`dump_qpy`,
  :func:`load_qpy`, :func:`load_qpy_with_digest` (pinned :data:`QPY_FORMAT_VERSION`).
* Noise: :func:`noise_model_digest`, :class:`CalibrationSnapshot`,
  :func:`noise_model_from_calibration`.
* Simulation and replay: :func:`simulate`, :func:`simulate_job`,
  :func:`replay`, :func:`verify_replay`, :func:`choose_method`.
* Statistics: :func:`goodness_of_fit`, :func:`check_job`,
  :func:`two_sample_test`, :func:`equivalence_test`,
  :func:`cross_entropy_check`, :class:`Distribution`,
  :func:`exact_distribution`.
* Report: :class:`ReproReport` (JSON and self-contained HTML).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qprov._lazy import lazy_names
from qprov.repro._circuit import (
    CANONICAL_ENCODING,
    QPY_FORMAT_VERSION,
    CircuitDigest,
    canonical_circuit_bytes,
    circuit_digest,
    dump_qpy,
    load_qpy,
    load_qpy_with_digest,
    require_measurements,
)
from qprov.repro._counts import Counts, parse_counts
from qprov.repro._methods import Limits, MethodChoice, choose_method, is_clifford
from qprov.repro._noise import (
    CALIBRATION_FORMAT,
    CalibrationSnapshot,
    GateCalibration,
    NoiseDigest,
    QubitCalibration,
    calibration_from_backend_properties,
    canonical_noise_bytes,
    noise_model_digest,
    noise_model_from_calibration,
)
from qprov.repro._report import ReproReport, chart_series, write_atomic
from qprov.repro._simulate import (
    CountDifference,
    ExecutionDetails,
    ReplayReport,
    SimulationResult,
    current_environment,
    replay,
    simulate,
    simulate_job,
    verify_replay,
)

if TYPE_CHECKING:
    from qprov.repro._reference import (
        cross_entropy_check,
        exact_distribution,
        final_measurements,
        outcome_probabilities,
    )
    from qprov.repro._stats import (
        DEFAULT_ALPHA,
        Distribution,
        JobResult,
        TestResult,
        Verdict,
        check_job,
        cross_entropy_test,
        equivalence_test,
        goodness_of_fit,
        hellinger_fidelity,
        holm_bonferroni,
        min_null_draws,
        total_variation,
        two_sample_test,
    )

# The statistics (and the references they test against) are imported on first use: an exact
# replay, the common check, needs neither.
_LAZY = {
    **dict.fromkeys(
        (
            "cross_entropy_check",
            "exact_distribution",
            "final_measurements",
            "outcome_probabilities",
        ),
        "_reference",
    ),
    **dict.fromkeys(
        (
            "DEFAULT_ALPHA",
            "Distribution",
            "JobResult",
            "TestResult",
            "Verdict",
            "check_job",
            "cross_entropy_test",
            "equivalence_test",
            "goodness_of_fit",
            "hellinger_fidelity",
            "holm_bonferroni",
            "min_null_draws",
            "total_variation",
            "two_sample_test",
        ),
        "_stats",
    ),
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())

__all__ = [
    "CALIBRATION_FORMAT",
    "CANONICAL_ENCODING",
    "DEFAULT_ALPHA",
    "QPY_FORMAT_VERSION",
    "CalibrationSnapshot",
    "CircuitDigest",
    "CountDifference",
    "Counts",
    "Distribution",
    "ExecutionDetails",
    "GateCalibration",
    "JobResult",
    "Limits",
    "MethodChoice",
    "NoiseDigest",
    "QubitCalibration",
    "ReplayReport",
    "ReproReport",
    "SimulationResult",
    "TestResult",
    "Verdict",
    "calibration_from_backend_properties",
    "canonical_circuit_bytes",
    "canonical_noise_bytes",
    "chart_series",
    "choose_method",
    "circuit_digest",
    "cross_entropy_check",
    "cross_entropy_test",
    "current_environment",
    "dump_qpy",
    "equivalence_test",
    "exact_distribution",
    "final_measurements",
    "goodness_of_fit",
    "hellinger_fidelity",
    "holm_bonferroni",
    "is_clifford",
    "load_qpy",
    "load_qpy_with_digest",
    "min_null_draws",
    "noise_model_digest",
    "noise_model_from_calibration",
    "outcome_probabilities",
    "parse_counts",
    "replay",
    "require_measurements",
    "simulate",
    "simulate_job",
    "check_job",
    "total_variation",
    "two_sample_test",
    "verify_replay",
    "write_atomic",
]
