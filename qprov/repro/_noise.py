"""Noise models: canonical digest, and building one from a calibration snapshot.

Canonical digest
    ``NoiseModel.to_dict()`` gives every quantum error a random ``id`` (a fresh
    UUID per build) and lists errors in insertion order. The canonical document
    drops the ids, writes floats as ``float.hex()`` and complex numbers as
    ``[re, im]`` hex pairs, sorts the error entries by their own canonical bytes
    and adds the model's sorted basis gates and its delay-relaxation passes
    (``RelaxationNoisePass``, added by ``NoiseModel.from_backend``). Any other
    custom noise pass is refused: its effect would not be in the digest.

Calibration snapshot
    The JSON format ``qprov-calibration/v1`` is specified in
    ``attestations/calibration.md``. :func:`noise_model_from_calibration`
    builds a :class:`~qiskit.transpiler.Target` from it and hands it to
    qiskit-aer's own device-model helpers (``basic_device_gate_errors``:
    thermal relaxation from T1/T2/duration combined with a depolarizing error
    that makes up the reported gate error; ``basic_device_readout_errors``), as
    ``NoiseModel.from_backend`` does. The snapshot's digest is the SHA-256 of
    the exact bytes parsed; it is never re-serialised.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NewType

import numpy as np

from qprov._canon import canonical_json, loads_strict
from qprov.errors import MalformedInputError, UnsupportedAlgorithmError

if TYPE_CHECKING:
    from qiskit_aer.noise import NoiseModel

__all__ = [
    "CALIBRATION_FORMAT",
    "CalibrationSnapshot",
    "GateCalibration",
    "NoiseDigest",
    "QubitCalibration",
    "calibration_from_backend_properties",
    "canonical_noise_bytes",
    "noise_model_digest",
    "noise_model_from_calibration",
]

NoiseDigest = NewType("NoiseDigest", str)
"""Hex SHA-256 of :func:`canonical_noise_bytes`, or ``"ideal"`` for no model."""

CALIBRATION_FORMAT = "qprov-calibration/v1"
NOISE_ENCODING = "qprov-noise/v1"
_MAX_QUBITS = 10_000


# -- canonical digest -------------------------------------------------------------


def _canon_value(value: Any) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value).hex()
    if isinstance(value, complex | np.complexfloating):
        return [float(value.real).hex(), float(value.imag).hex()]
    if isinstance(value, np.ndarray):
        return _canon_value(value.tolist())
    if isinstance(value, list | tuple):
        return [_canon_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canon_value(v) for k, v in value.items() if k != "id"}
    raise UnsupportedAlgorithmError(
        f"noise model entry of type {type(value).__name__} cannot be canonically encoded"
    )


def _passes(model: NoiseModel) -> list[Any]:
    from qiskit_aer.noise.passes import RelaxationNoisePass

    out: list[Any] = []
    for pass_ in getattr(model, "_custom_noise_passes", []):
        if type(pass_) is not RelaxationNoisePass:
            raise UnsupportedAlgorithmError(
                f"noise model has a custom noise pass {type(pass_).__name__}; "
                "it cannot be canonically digested"
            )
        attrs = vars(pass_)
        out.append(
            {
                "pass": "RelaxationNoisePass",
                "t1s": _canon_value(np.asarray(attrs.get("_t1s"), dtype=float)),
                "t2s": _canon_value(np.asarray(attrs.get("_t2s"), dtype=float)),
                "p1s": _canon_value(np.asarray(attrs.get("_p1s"), dtype=float)),
                "dt": _canon_value(attrs.get("_dt")),
                "ops": sorted(op.__name__ for op in attrs.get("_ops", ())),
            }
        )
    return sorted(out, key=canonical_json)


def canonical_noise_bytes(model: NoiseModel) -> bytes:
    """The canonical encoding of ``model`` (see the module docstring)."""
    from qiskit_aer.noise import NoiseModel

    if not isinstance(model, NoiseModel):
        raise MalformedInputError(f"expected a NoiseModel, got {type(model).__name__}")
    raw = model.to_dict(serializable=False)
    errors = [_canon_value(entry) for entry in raw.get("errors", [])]
    errors.sort(key=canonical_json)
    doc = {
        "encoding": NOISE_ENCODING,
        "basis_gates": sorted(model.basis_gates),
        "errors": errors,
        "passes": _passes(model),
    }
    return canonical_json(doc)


def noise_model_digest(model: NoiseModel | None) -> NoiseDigest:
    """Hex SHA-256 of the canonical encoding; ``"ideal"`` when ``model`` is None."""
    if model is None:
        return NoiseDigest("ideal")
    return NoiseDigest(hashlib.sha256(canonical_noise_bytes(model)).hexdigest())


# -- calibration snapshot ----------------------------------------------------------


@dataclass(frozen=True)
class QubitCalibration:
    """Per-qubit calibration: seconds, Hz, probabilities."""

    t1: float
    t2: float
    readout_error: float
    prob_meas1_prep0: float | None = None
    prob_meas0_prep1: float | None = None
    frequency: float | None = None

    def __post_init__(self) -> None:
        _positive("t1", self.t1)
        _positive("t2", self.t2)
        if self.t2 > 2 * self.t1:
            raise MalformedInputError(
                f"qubit calibration has t2 = {self.t2} > 2 * t1 = {2 * self.t1}, "
                "which is not physical"
            )
        for name in ("readout_error", "prob_meas1_prep0", "prob_meas0_prep1"):
            value = getattr(self, name)
            if value is not None:
                _probability(name, value)
        if (self.prob_meas1_prep0 is None) != (self.prob_meas0_prep1 is None):
            raise MalformedInputError(
                "prob_meas1_prep0 and prob_meas0_prep1 must be given together"
            )
        if self.frequency is not None:
            _positive("frequency", self.frequency)


@dataclass(frozen=True)
class GateCalibration:
    """One gate on one tuple of qubits: error probability and duration (s)."""

    name: str
    qubits: tuple[int, ...]
    error: float
    duration: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise MalformedInputError("gate name must be a non-empty string")
        _probability(f"error of {self.name}", self.error)
        _number(f"duration of {self.name}", self.duration)
        if self.duration < 0:
            raise MalformedInputError(f"duration of {self.name} is negative")


@dataclass(frozen=True)
class CalibrationSnapshot:
    """A parsed ``qprov-calibration/v1`` document and the digest of its bytes."""

    backend: str
    taken_at: str
    qubits: tuple[QubitCalibration, ...]
    gates: tuple[GateCalibration, ...]
    digest: str

    @classmethod
    def from_json(cls, data: bytes) -> CalibrationSnapshot:
        """Parse strictly; unknown fields and inconsistent values are refused."""
        doc = loads_strict(data, what="calibration snapshot")
        return _snapshot_from_doc(doc, hashlib.sha256(data).hexdigest())

    def to_dict(self) -> dict[str, Any]:
        """The document as a JSON-ready dict (for writing a new snapshot)."""
        qubits = []
        for q in self.qubits:
            entry: dict[str, Any] = {"t1": q.t1, "t2": q.t2, "readout_error": q.readout_error}
            for name in ("prob_meas1_prep0", "prob_meas0_prep1", "frequency"):
                if getattr(q, name) is not None:
                    entry[name] = getattr(q, name)
            qubits.append(entry)
        return {
            "format": CALIBRATION_FORMAT,
            "backend": self.backend,
            "taken_at": self.taken_at,
            "qubits": qubits,
            "gates": [
                {"name": g.name, "qubits": list(g.qubits), "error": g.error, "duration": g.duration}
                for g in self.gates
            ],
        }

    def to_json(self) -> bytes:
        """Canonical bytes of :meth:`to_dict` (hash these bytes, as written)."""
        return canonical_json(self.to_dict())


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedInputError(f"calibration {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise MalformedInputError(f"calibration {name} must be finite")
    return float(value)


def _positive(name: str, value: Any) -> None:
    if _number(name, value) <= 0:
        raise MalformedInputError(f"calibration {name} must be positive, got {value!r}")


def _probability(name: str, value: Any) -> None:
    v = _number(name, value)
    if not 0.0 <= v <= 1.0:
        raise MalformedInputError(f"calibration {name} must be in [0, 1], got {value!r}")


def _fields(doc: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise MalformedInputError(f"{where} must be a JSON object")
    missing = required - doc.keys()
    if missing:
        raise MalformedInputError(f"{where} lacks field(s) {sorted(missing)}")
    unknown = doc.keys() - required - optional
    if unknown:
        raise MalformedInputError(f"{where} has unknown field(s) {sorted(unknown)}")
    return doc


def _snapshot_from_doc(doc: Any, digest: str) -> CalibrationSnapshot:
    top = _fields(
        doc, "calibration snapshot", {"format", "backend", "taken_at", "qubits", "gates"}, set()
    )
    if top["format"] != CALIBRATION_FORMAT:
        raise UnsupportedAlgorithmError(
            f"calibration format {top['format']!r} is not supported "
            f"(expected {CALIBRATION_FORMAT!r})"
        )
    for name in ("backend", "taken_at"):
        if not isinstance(top[name], str):
            raise MalformedInputError(f"calibration {name} must be a string")
    if not isinstance(top["qubits"], list) or not 0 < len(top["qubits"]) <= _MAX_QUBITS:
        raise MalformedInputError(
            f"calibration qubits must be a list of 1 to {_MAX_QUBITS} entries"
        )
    if not isinstance(top["gates"], list):
        raise MalformedInputError("calibration gates must be a list")
    qubits = []
    for i, entry in enumerate(top["qubits"]):
        q = _fields(
            entry,
            f"calibration qubit {i}",
            {"t1", "t2", "readout_error"},
            {"prob_meas1_prep0", "prob_meas0_prep1", "frequency"},
        )
        qubits.append(QubitCalibration(**q))
    gates = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for i, entry in enumerate(top["gates"]):
        g = _fields(entry, f"calibration gate {i}", {"name", "qubits", "error", "duration"}, set())
        qs = g["qubits"]
        if (
            not isinstance(qs, list)
            or not qs
            or any(isinstance(x, bool) or not isinstance(x, int) for x in qs)
            or any(not 0 <= x < len(qubits) for x in qs)
            or len(set(qs)) != len(qs)
        ):
            raise MalformedInputError(
                f"calibration gate {i}: qubits must be distinct indices below {len(qubits)}"
            )
        key = (g["name"], tuple(qs))
        if key in seen:
            raise MalformedInputError(f"calibration gate {g['name']} on {qs} is listed twice")
        seen.add(key)
        gates.append(
            GateCalibration(
                name=g["name"], qubits=tuple(qs), error=g["error"], duration=g["duration"]
            )
        )
    return CalibrationSnapshot(
        backend=top["backend"],
        taken_at=top["taken_at"],
        qubits=tuple(qubits),
        gates=tuple(gates),
        digest=digest,
    )


_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_FREQ_UNITS = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


def calibration_from_backend_properties(props: Mapping[str, Any]) -> CalibrationSnapshot:
    """Convert a qiskit ``BackendProperties.to_dict()``-style document.

    Reads per-qubit ``T1``, ``T2``, ``frequency``, ``readout_error``,
    ``prob_meas1_prep0``/``prob_meas0_prep1`` and per-gate ``gate_error`` and
    ``gate_length``, converting units to seconds and Hz. The digest of the
    result is that of its canonical bytes (:meth:`CalibrationSnapshot.to_json`).
    """
    try:
        qubits = []
        for i, params in enumerate(props["qubits"]):
            values: dict[str, float] = {}
            for p in params:
                name, value, unit = p["name"], float(p["value"]), p.get("unit", "")
                if name in ("T1", "T2"):
                    values[name.lower()] = value * _TIME_UNITS[unit]
                elif name == "frequency":
                    values["frequency"] = value * _FREQ_UNITS[unit]
                elif name in ("readout_error", "prob_meas1_prep0", "prob_meas0_prep1"):
                    values[name] = value
            if "t1" not in values or "t2" not in values:
                raise MalformedInputError(f"backend properties: qubit {i} lacks T1 or T2")
            values.setdefault("readout_error", 0.0)
            qubits.append(QubitCalibration(**values))
        gates = []
        for g in props.get("gates", []):
            pv = {p["name"]: (float(p["value"]), p.get("unit", "")) for p in g["parameters"]}
            error = pv.get("gate_error", (0.0, ""))[0]
            length, unit = pv.get("gate_length", (0.0, "s"))
            gates.append(
                GateCalibration(
                    name=str(g["gate"]),
                    qubits=tuple(g["qubits"]),
                    error=error,
                    duration=length * _TIME_UNITS[unit or "s"],
                )
            )
        snapshot_doc = {
            "format": CALIBRATION_FORMAT,
            "backend": str(props.get("backend_name", "")),
            "taken_at": str(props.get("last_update_date", "")),
        }
    except MalformedInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedInputError(
            f"backend properties document is malformed: {type(exc).__name__}: {exc}"
        ) from None
    draft = CalibrationSnapshot(
        backend=snapshot_doc["backend"],
        taken_at=snapshot_doc["taken_at"],
        qubits=tuple(qubits),
        gates=tuple(gates),
        digest="",
    )
    return CalibrationSnapshot.from_json(draft.to_json())


def noise_model_from_calibration(snapshot: CalibrationSnapshot) -> NoiseModel:
    """Build an Aer NoiseModel from a snapshot with qiskit-aer's device helpers."""
    from qiskit.circuit import Measure
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.transpiler import InstructionProperties, QubitProperties, Target
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device.models import (
        basic_device_gate_errors,
        basic_device_readout_errors,
    )

    class _MeasureProperties(InstructionProperties):  # type: ignore[misc]
        # aer's readout helper reads these two attributes when present.
        prob_meas1_prep0: float
        prob_meas0_prep1: float

    n = len(snapshot.qubits)
    target = Target(
        num_qubits=n,
        qubit_properties=[
            QubitProperties(t1=q.t1, t2=q.t2, frequency=q.frequency) for q in snapshot.qubits
        ],
    )
    standard = get_standard_gate_name_mapping()
    by_name: dict[str, dict[tuple[int, ...], Any]] = {}
    for g in snapshot.gates:
        gate = standard.get(g.name)
        if gate is None or g.name in ("measure", "reset", "delay", "global_phase"):
            raise UnsupportedAlgorithmError(
                f"calibration gate {g.name!r} is not a qiskit standard gate"
            )
        if gate.num_qubits != len(g.qubits):
            raise MalformedInputError(
                f"calibration gate {g.name} acts on {gate.num_qubits} qubits, not {len(g.qubits)}"
            )
        by_name.setdefault(g.name, {})[g.qubits] = InstructionProperties(
            duration=g.duration, error=g.error
        )
    for name, props in by_name.items():
        target.add_instruction(standard[name], props)
    measure: dict[tuple[int, ...], Any] = {}
    for i, q in enumerate(snapshot.qubits):
        prop = _MeasureProperties(error=q.readout_error)
        prop.prob_meas1_prep0 = (
            q.prob_meas1_prep0 if q.prob_meas1_prep0 is not None else q.readout_error
        )
        prop.prob_meas0_prep1 = (
            q.prob_meas0_prep1 if q.prob_meas0_prep1 is not None else q.readout_error
        )
        measure[(i,)] = prop
    target.add_instruction(Measure(), measure)

    model = NoiseModel(basis_gates=sorted(by_name))
    for name, qubits, error in basic_device_gate_errors(target=target):
        model.add_quantum_error(error, name, list(qubits))
    for qubits, error in basic_device_readout_errors(target=target):
        if not np.allclose(error.probabilities, np.eye(2)):
            model.add_readout_error(error, list(qubits))
    return model
