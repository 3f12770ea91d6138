"""Noise model digest and calibration snapshots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error, thermal_relaxation_error

from qprov.errors import MalformedInputError, UnsupportedAlgorithmError
from qprov.repro import (
    CalibrationSnapshot,
    calibration_from_backend_properties,
    noise_model_digest,
    noise_model_from_calibration,
)

from ._helpers import CALIBRATION


def manual_model(order: int = 0) -> NoiseModel:
    entries = [
        (depolarizing_error(0.01, 1), ["sx", "x"], [0]),
        (thermal_relaxation_error(5e-5, 4e-5, 3.5e-8), ["sx"], [1]),
        (depolarizing_error(0.02, 2), ["cx"], [0, 1]),
    ]
    if order:
        entries.reverse()
    model = NoiseModel(basis_gates=["sx", "rz", "cx", "x"])
    for err, ops, qubits in entries:
        model.add_quantum_error(err, ops, qubits)
    model.add_readout_error(ReadoutError([[0.98, 0.02], [0.03, 0.97]]), [0])
    return model


def test_digest_stable_across_builds_and_insertion_order() -> None:
    first, second = manual_model(), manual_model()
    # The to_dict() ids really differ between the two builds.
    assert first.to_dict()["errors"][0]["id"] != second.to_dict()["errors"][0]["id"]
    assert noise_model_digest(first) == noise_model_digest(second)
    assert noise_model_digest(first) == noise_model_digest(manual_model(order=1))


def test_digest_changes_with_parameters() -> None:
    other = manual_model()
    other.add_readout_error(ReadoutError([[0.9, 0.1], [0.1, 0.9]]), [1])
    assert noise_model_digest(other) != noise_model_digest(manual_model())
    assert noise_model_digest(None) == "ideal"


def test_calibration_builds_reproducible_noise_model() -> None:
    raw = json.dumps(CALIBRATION).encode()
    snap = CalibrationSnapshot.from_json(raw)
    assert len(snap.digest) == 64
    a = noise_model_from_calibration(snap)
    b = noise_model_from_calibration(CalibrationSnapshot.from_json(raw))
    assert noise_model_digest(a) == noise_model_digest(b)
    assert set(a.basis_gates) >= {"sx", "x", "rz", "cx"}
    assert {"sx", "cx", "measure"} <= set(a.noise_instructions)
    # Asymmetric readout on qubit 1 is honoured.
    ro = [e for e in a.to_dict()["errors"]
          if e["type"] == "roerror" and [tuple(g) for g in e["gate_qubits"]] == [(1,)]]
    assert ro[0]["probabilities"][0][1] == pytest.approx(0.01)
    assert ro[0]["probabilities"][1][0] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda d: d.update(extra=1), MalformedInputError, "unknown field"),
        (lambda d: d.update(format="qprov-calibration/v9"), UnsupportedAlgorithmError,
         "not supported"),
        (lambda d: d["qubits"][0].update(t2=1.0), MalformedInputError, "not physical"),
        (lambda d: d["qubits"][0].update(readout_error=1.5), MalformedInputError, r"\[0, 1\]"),
        (lambda d: d["qubits"][0].update(t1=-1), MalformedInputError, "positive"),
        (lambda d: d["qubits"][1].pop("prob_meas0_prep1"), MalformedInputError, "together"),
        (lambda d: d["gates"][0].update(qubits=[7]), MalformedInputError, "indices below 3"),
        (lambda d: d["gates"].append(dict(d["gates"][0])), MalformedInputError, "twice"),
        (lambda d: d["gates"][0].update(name="warp"), UnsupportedAlgorithmError,
         "not a qiskit standard gate"),
        (lambda d: d["gates"][7].update(qubits=[0]), MalformedInputError, "acts on 2 qubits"),
    ],
)
def test_bad_calibration(mutate: Any, error: type[Exception], match: str) -> None:
    doc = json.loads(json.dumps(CALIBRATION))
    mutate(doc)
    with pytest.raises(error, match=match):
        noise_model_from_calibration(CalibrationSnapshot.from_json(json.dumps(doc).encode()))


def test_backend_properties_dict_is_accepted() -> None:
    props = {
        "backend_name": "fake", "last_update_date": "2025-01-01T00:00:00Z",
        "qubits": [
            [{"name": "T1", "unit": "us", "value": 100.0},
             {"name": "T2", "unit": "us", "value": 80.0},
             {"name": "frequency", "unit": "GHz", "value": 5.0},
             {"name": "readout_error", "unit": "", "value": 0.02}],
        ],
        "gates": [{"gate": "sx", "qubits": [0], "parameters": [
            {"name": "gate_error", "unit": "", "value": 1e-3},
            {"name": "gate_length", "unit": "ns", "value": 35.0}]}],
        "general": [],
    }
    snap = calibration_from_backend_properties(props)
    assert snap.qubits[0].t1 == pytest.approx(1e-4)
    assert snap.gates[0].duration == pytest.approx(3.5e-8)
    noise_model_from_calibration(snap)
    with pytest.raises(MalformedInputError, match="malformed"):
        calibration_from_backend_properties({"qubits": [[{"name": "T1"}]]})
