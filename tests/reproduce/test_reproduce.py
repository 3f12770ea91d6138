"""check_reproduction: replay of simulator results, statistics for hardware, bad input."""

from __future__ import annotations

import io

import pytest
from qiskit import QuantumCircuit, qpy

from qprov.errors import (
    EnvironmentProblemError,
    MalformedInputError,
    PolicyError,
    SimulationTooLargeError,
    VerificationError,
)
from qprov.receipt import ExecutedCircuit
from qprov.repro import QPY_FORMAT_VERSION, circuit_digest
from qprov.reproduce import check_reproduction, verify_reproduction
from qprov.trust import TrustStore, load_trust

from ._world import CALIBRATION_BYTES, GHZ3_OTHER, World, bell_sample


@pytest.fixture(scope="module")
def trust(world: World) -> TrustStore:
    return load_trust(world.dir / "trust.toml")


def test_simulator_result_is_reproduced_exactly(world: World, trust: TrustStore) -> None:
    out = check_reproduction(world.bundle.to_json(), world.circuit, world.result, trust=trust)
    assert out.verdict == "reproduced"
    assert out.ok
    assert out.report.replay is not None
    assert out.report.replay.counts_identical
    assert "exact replay" in out.decided_by


def test_changed_counts_are_a_mismatch_showing_the_difference(
    world: World, trust: TrustStore
) -> None:
    changed = world.shifted_counts()
    bundle, result = world.resign(changed)
    out = check_reproduction(bundle, world.circuit, result, trust=trust)
    assert out.verdict == "mismatch"
    assert out.failed
    assert f"00: recorded {changed['00']}, replayed" in out.summary
    with pytest.raises(VerificationError, match=f"11: recorded {changed['11']}, replayed"):
        verify_reproduction(bundle, world.circuit, result, trust=trust)


def test_other_library_version_falls_back_to_the_statistical_test(
    world: World, trust: TrustStore
) -> None:
    execution = dict(world.bundle.parsed.receipt.execution or {}, aer_version="0.17.0")
    bundle, result = world.resign(execution=execution)
    out = check_reproduction(bundle, world.circuit, result, trust=trust)
    assert out.verdict == "consistent"
    assert out.report.replay is not None
    assert out.report.replay.status == "environment_differs"
    assert "G test" in out.decided_by
    assert any("aer_version recorded '0.17.0'" in n for n in out.report.notes)


def test_hardware_counts_consistent_with_the_ideal_distribution(
    world: World, trust: TrustStore
) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=1))
    out = check_reproduction(bundle, world.circuit, result, trust=trust)
    assert out.verdict == "consistent"
    assert out.report.test is not None
    assert out.report.test.power >= 0.8
    assert "ideal simulation" in out.decided_by


def test_hardware_counts_inconsistent_with_the_ideal_distribution(
    world: World, trust: TrustStore
) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=2, flip=0.05))
    out = check_reproduction(bundle, world.circuit, result, trust=trust)
    assert out.verdict == "inconsistent"
    with pytest.raises(VerificationError, match="inconsistent"):
        verify_reproduction(bundle, world.circuit, result, trust=trust)


def test_too_few_shots_is_inconclusive(world: World, trust: TrustStore) -> None:
    bundle, result = world.hardware(bell_sample(20, seed=3))
    out = check_reproduction(bundle, world.circuit, result, trust=trust)
    assert out.verdict == "inconclusive"
    assert "too few shots" in out.summary
    with pytest.raises(VerificationError, match="inconclusive"):
        verify_reproduction(bundle, world.circuit, result, trust=trust)
    ok = verify_reproduction(bundle, world.circuit, result, trust=trust, allow_inconclusive=True)
    assert ok.verdict == "inconclusive"


def test_signed_exact_baseline_decides(world: World, trust: TrustStore) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=4, flip=0.05))
    baseline = world.baseline().to_json()
    out = check_reproduction(bundle, world.circuit, result, trust=trust, baseline=baseline)
    assert out.verdict == "inconsistent"
    assert "signed baseline" in out.decided_by
    assert out.report.subject["baseline"].startswith("sha256:")


def test_sampled_baseline_uses_the_two_sample_test(world: World, trust: TrustStore) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=5))
    baseline = world.baseline(shots=20_000).to_json()
    out = check_reproduction(bundle, world.circuit, result, trust=trust, baseline=baseline)
    assert out.verdict == "consistent"
    assert "two-sample" in out.decided_by


def test_tolerance_runs_the_equivalence_test(world: World, trust: TrustStore) -> None:
    bundle, result = world.hardware(bell_sample(4000, seed=6))
    out = check_reproduction(bundle, world.circuit, result, trust=trust, tolerance=0.05)
    assert out.verdict == "consistent"
    assert "equivalence" in out.decided_by


def test_noise_model_from_the_receipts_calibration(world: World, trust: TrustStore) -> None:
    import hashlib
    from datetime import UTC, datetime

    from qprov.receipt import Calibration

    cal = Calibration(
        hashlib.sha256(CALIBRATION_BYTES).hexdigest(), datetime(2025, 1, 1, tzinfo=UTC)
    )  # type: ignore[arg-type]
    bundle, result = world.hardware(bell_sample(2000, seed=7), calibration=cal)
    out = check_reproduction(
        bundle, world.circuit, result, trust=trust, calibration=CALIBRATION_BYTES
    )
    assert "noise model from the receipt's calibration" in out.decided_by
    with pytest.raises(PolicyError, match=r"calibration snapshot .* is not the one"):
        check_reproduction(
            bundle, world.circuit, result, trust=trust, calibration=CALIBRATION_BYTES + b" "
        )


# -- bad input: each a clear error --------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (b'{"000":500,"111":500}', "has 3 bits, but the circuit has 2"),
        (b'{"0a":500,"11":500}', "not a binary string"),
        (b'{"00":1100,"11":-100}', "negative"),
        (b'{"00":400,"11":500}', "add up to 900 shots, but 1000"),
    ],
    ids=["wrong width", "not binary", "negative", "wrong total"],
)
def test_bad_counts_are_malformed(world: World, counts: bytes, match: str) -> None:
    with pytest.raises(MalformedInputError, match=match):
        check_reproduction(world.bundle.to_json(), world.circuit, counts)


def test_baseline_for_another_circuit(world: World, trust: TrustStore) -> None:
    baseline = world.baseline(GHZ3_OTHER).to_json()
    with pytest.raises(PolicyError, match="baseline is for another circuit"):
        check_reproduction(
            world.bundle.to_json(), world.circuit, world.result, trust=trust, baseline=baseline
        )


def test_baseline_signed_outside_the_authority_role(world: World, trust: TrustStore) -> None:
    baseline = world.baseline(signer="gateway").to_json()
    with pytest.raises(VerificationError, match="baseline-authority"):
        check_reproduction(
            world.bundle.to_json(), world.circuit, world.result, trust=trust, baseline=baseline
        )


def test_baseline_without_trust_is_refused(world: World) -> None:
    with pytest.raises(MalformedInputError, match="trust file"):
        check_reproduction(world.bundle.to_json(), world.circuit, world.result, baseline=b"{}")


def test_every_input_failure_is_reported(world: World, trust: TrustStore) -> None:
    other = b'{"00":1000}'
    with pytest.raises(VerificationError, match=r"2 checks failed: the circuit .* the result"):
        check_reproduction(world.bundle.to_json(), GHZ3_OTHER, other, trust=trust)


def test_gpu_is_refused_with_a_reason_when_absent(world: World) -> None:
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine has Aer's GPU build")
    with pytest.raises(EnvironmentProblemError, match="'GPU' is not available here"):
        check_reproduction(world.bundle.to_json(), world.circuit, world.result, device="GPU")


def test_circuit_too_large_for_every_method_is_refused(world: World, trust: TrustStore) -> None:
    n = 64
    qc = QuantumCircuit(n, 2)
    for layer in range(6):
        for q in range(n):
            qc.rx(0.1 + layer + q, q)
        for q in range(n // 2):
            qc.cx(q, n - 1 - q)
    qc.measure([0, 1], [0, 1])
    buf = io.BytesIO()
    qpy.dump(qc, buf, version=QPY_FORMAT_VERSION)
    data = buf.getvalue()
    import hashlib

    executed = ExecutedCircuit(
        circuit_digest(qc),  # type: ignore[arg-type]
        hashlib.sha256(data).hexdigest(),  # type: ignore[arg-type]
        QPY_FORMAT_VERSION,
        len(data),
    )
    bundle, result = world.hardware(bell_sample(1000, 8), executed_circuit=executed, _qpy=data)
    with pytest.raises(SimulationTooLargeError, match="too large for every simulation method"):
        check_reproduction(bundle, world.circuit, result, trust=trust)
