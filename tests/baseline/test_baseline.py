"""Simulator baselines: creation, bounds, verification, schema and a property test of the parser."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from admission._env import BELL, NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from reproduce._world import CALIBRATION_BYTES, GHZ3_OTHER, World

from qprov.baseline import (
    BASELINE_PREDICATE_TYPE,
    SimulatorBaseline,
    compute_baseline,
    parse_baseline,
    verify_baseline,
)
from qprov.errors import (
    EnvironmentProblemError,
    MalformedInputError,
    PolicyError,
    SimulationTooLargeError,
    VerificationError,
)
from qprov.repro import Counts
from qprov.trust import load_trust

SCHEMA = Path(__file__).resolve().parents[2] / "attestations" / "schemas"


def hadamards(n: int) -> bytes:
    body = "".join(f"h q[{i}];\n" for i in range(n))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\n{body}measure q -> c;\n'
    ).encode()


@pytest.fixture(scope="module")
def exact() -> SimulatorBaseline:
    return compute_baseline(BELL, now=NOW)[1]


@pytest.fixture(scope="module")
def sampled() -> SimulatorBaseline:
    return compute_baseline(hadamards(10), now=NOW, shots=3000, seed=7, max_outcomes=16)[1]


def test_exact_baseline_of_a_bell_circuit(world: World, exact: SimulatorBaseline) -> None:
    assert exact.distribution.kind == "probabilities"
    assert exact.distribution.outcomes == pytest.approx({"00": 0.5, "11": 0.5})
    assert exact.seed is None
    assert exact.shots is None
    assert exact.noise.ideal
    envelope = world.baseline()
    trust = load_trust(world.dir / "trust.toml")
    import hashlib

    sha = hashlib.sha256(BELL).hexdigest()
    verified = verify_baseline(envelope.to_json(), trust, circuit_sha256=sha)
    assert verified.baseline.distribution.outcomes == exact.distribution.outcomes
    assert verified.parsed.circuit_sha256 == sha
    assert parse_baseline(envelope.to_json()).envelope.to_json() == envelope.to_json()


def test_sampled_baseline_is_bounded_and_records_seed_and_shots(
    sampled: SimulatorBaseline,
) -> None:
    d = sampled.distribution
    assert d.kind == "counts"
    assert d.shots == 3000
    assert d.listed == 16
    assert sum(int(v) for v in d.outcomes.values()) + int(d.other) == 3000
    assert sampled.seed is not None
    assert sampled.simulator.method in ("stabilizer", "statevector")
    test = d.for_test()
    assert test.sample is not None
    assert test.placeholder is not None
    observed = Counts.from_mapping({"1" * 10: 5, "0" * 10: 5}, num_clbits=10)
    coarse = test.coarsen(observed)
    assert coarse.shots == 10
    assert set(coarse) <= set(d.outcomes) | {test.placeholder}


def test_exact_wide_register_lists_top_outcomes_plus_other() -> None:
    b = compute_baseline(hadamards(12), now=NOW, max_outcomes=100)[1]
    d = b.distribution
    assert d.kind == "probabilities"
    assert d.listed == 100
    assert float(d.other) == pytest.approx(1 - 100 / 4096)


def test_noise_baseline_records_calibration_and_noise_model_digests() -> None:
    b = compute_baseline(BELL, now=NOW, calibration=CALIBRATION_BYTES)[1]
    import hashlib

    assert b.noise.calibration_sha256 == hashlib.sha256(CALIBRATION_BYTES).hexdigest()
    assert b.noise.noise_model_sha256 is not None
    assert b.simulator.method == "density_matrix"
    assert b.to_dict()["noise"]["model"] == "calibration"


def test_circuit_without_measurements_is_refused() -> None:
    circuit = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\n'
    with pytest.raises(MalformedInputError, match="no measurements"):
        compute_baseline(circuit, now=NOW)


def test_circuit_too_large_for_every_method_is_refused_quickly() -> None:
    n = 64
    lines = [f"rx({0.1 + i}) q[{i}];\n" for i in range(n)] * 3
    lines += [f"cx q[{i}],q[{n - 1 - i}];\n" for i in range(n // 2)] * 6
    circuit = (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\n'
        + "".join(lines)
        + "measure q -> c;\n"
    ).encode()
    started = time.monotonic()
    with pytest.raises(SimulationTooLargeError, match=r"statevector: needs .*matrix_product_state"):
        compute_baseline(circuit, now=NOW)
    assert time.monotonic() - started < 60  # refused, not an hour of work (not a benchmark)


def test_exact_probabilities_refused_past_the_limit() -> None:
    with pytest.raises(SimulationTooLargeError, match="exact probabilities are not feasible"):
        compute_baseline(hadamards(30), now=NOW, kind="probabilities")


def test_gpu_refused_with_a_reason_when_absent() -> None:
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine has Aer's GPU build")
    with pytest.raises(EnvironmentProblemError, match="needs qiskit-aer's GPU build"):
        compute_baseline(BELL, now=NOW, device="GPU")


def test_baseline_for_another_circuit_and_wrong_role(world: World) -> None:
    trust = load_trust(world.dir / "trust.toml")
    import hashlib

    envelope = world.baseline(GHZ3_OTHER)
    with pytest.raises(PolicyError, match="another circuit"):
        verify_baseline(envelope, trust, circuit_sha256=hashlib.sha256(BELL).hexdigest())
    with pytest.raises(VerificationError, match="baseline-authority"):
        verify_baseline(world.baseline(signer="submitter"), trust)


# -- the predicate's parser ------------------------------------------------------------------


def _variants(exact: SimulatorBaseline, sampled: SimulatorBaseline) -> list[tuple[str, Any]]:
    e, s = exact.to_dict(), sampled.to_dict()

    def change(base: dict[str, Any], fn: Any) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        fn(doc)
        return doc

    return [
        ("unknown field", change(e, lambda d: d.update(x=1))),
        ("unknown simulator field", change(e, lambda d: d["simulator"].update(x=1))),
        ("seed on exact", change(e, lambda d: d.update(seed=1))),
        ("counts without seed", change(s, lambda d: d.pop("seed"))),
        ("counts without shots", change(s, lambda d: d.pop("shots"))),
        ("non-binary outcome", change(e, lambda d: d["distribution"]["outcomes"].update(a2=0.0))),
        ("negative count", change(s, lambda d: d["distribution"].update(other=-1))),
        ("probability over 1", change(e, lambda d: d["distribution"].update(other=2))),
        ("other noise model", change(e, lambda d: d["noise"].update(model="thermal"))),
        (
            "calibration without digests",
            change(e, lambda d: d["noise"].update(model="calibration")),
        ),
        ("bad method", change(e, lambda d: d["simulator"].update(method="quantum"))),
        ("local time", change(e, lambda d: d.update(createdAt="2026-03-01T12:00:00+01:00"))),
        (
            "uppercase digest",
            change(e, lambda d: d["circuit"].update(executed={"sha256": "A" * 64})),
        ),
    ]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((SCHEMA / "simulator-baseline.v1.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_schema_accepts_what_the_model_emits(
    validator: Draft202012Validator, exact: SimulatorBaseline, sampled: SimulatorBaseline
) -> None:
    validator.validate(exact.to_dict())
    validator.validate(sampled.to_dict())
    noisy = compute_baseline(BELL, now=NOW, calibration=CALIBRATION_BYTES)[1]
    validator.validate(noisy.to_dict())


def test_schema_and_model_reject_alike(
    validator: Draft202012Validator, exact: SimulatorBaseline, sampled: SimulatorBaseline
) -> None:
    for what, doc in _variants(exact, sampled):
        assert list(validator.iter_errors(doc)), f"schema accepted: {what}"
        with pytest.raises(MalformedInputError):
            SimulatorBaseline.from_dict(doc)


def test_model_rejects_sums_and_widths_the_schema_cannot_express(
    exact: SimulatorBaseline, sampled: SimulatorBaseline
) -> None:
    doc = exact.to_dict()
    doc["distribution"]["outcomes"]["00"] = 0.4
    with pytest.raises(MalformedInputError, match="add up to"):
        SimulatorBaseline.from_dict(doc)
    doc = sampled.to_dict()
    doc["shots"] += 1
    with pytest.raises(MalformedInputError, match="add up to"):
        SimulatorBaseline.from_dict(doc)
    doc = exact.to_dict()
    doc["distribution"]["outcomes"]["000"] = 0.0
    with pytest.raises(MalformedInputError, match="2-bit binary string"):
        SimulatorBaseline.from_dict(doc)
    assert exact.PREDICATE_TYPE == BASELINE_PREDICATE_TYPE


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 2**54)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.sampled_from(
    ["circuit", "simulator", "noise", "distribution", "outcomes", "other", "seed", "shots",
     "createdAt", "qubits", "clbits", "kind", "method", "00", "11"]), min_size=1, max_size=3),
    value=_JSON)  # fmt: skip
def test_parser_only_raises_malformed_and_round_trips(path: list[str], value: Any) -> None:
    base = {
        "circuit": {"qubits": 2, "clbits": 2, "executed": {"sha256": "0" * 64}},
        "simulator": {"name": "qiskit-aer", "version": "0.18.2", "qiskitVersion": "2.6.2",
                      "method": "stabilizer", "device": "CPU", "precision": "double"},
        "seed": 5, "shots": 10, "noise": {"model": "ideal"},
        "distribution": {"kind": "counts", "outcomes": {"00": 4, "11": 5}, "other": 1},
        "createdAt": "2026-03-01T12:00:00Z",
    }  # fmt: skip
    doc: Any = copy.deepcopy(base)
    target = doc
    for key in path[:-1]:
        if not isinstance(target, dict):
            break
        target = target.setdefault(key, {})
    if isinstance(target, dict):
        target[path[-1]] = value
    try:
        parsed = SimulatorBaseline.from_dict(doc)
    except MalformedInputError:
        return
    again = SimulatorBaseline.from_dict(json.loads(json.dumps(parsed.to_dict())))
    assert again == parsed
