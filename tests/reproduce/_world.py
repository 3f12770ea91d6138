"""A real job run through the gateway's job flow, a baseline authority, and re-signed variants.

Receipts are built with the receipt/job library (``qprov.jobs`` on the built-in Aer backend,
as ``tests/chain`` does). Variants (hardware-like, changed counts, other library version)
are new receipts signed with the gateway key over the changed predicate and counts: what a
buggy or dishonest gateway could produce, and what ``qprov reproduce`` must catch. Their
bundles reuse the original log proofs, which ``reproduce`` does not check (``qprov verify
chain`` does).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from admission._env import ALG, BELL, NOW, Keys
from chain._chain_env import ChainEnv, make_env

from qprov.baseline import compute_baseline as _compute
from qprov.baseline import sign_baseline
from qprov.dsse import Envelope
from qprov.keys import CompositeSigner, PrivateKey, generate_private_key
from qprov.receipt import LoggedEnvelope, ReceiptBundle, sign_receipt
from qprov.repro import Counts

CALIBRATION: dict[str, Any] = {
    "format": "qprov-calibration/v1",
    "backend": "example_3q",
    "taken_at": "2025-01-01T00:00:00Z",
    "qubits": [
        {"t1": 1.2e-4, "t2": 9.0e-5, "readout_error": 0.02},
        {"t1": 1.0e-4, "t2": 1.1e-4, "readout_error": 0.03},
        {"t1": 8.0e-5, "t2": 6.0e-5, "readout_error": 0.015},
    ],
    "gates": [
        {"name": "sx", "qubits": [0], "error": 3e-4, "duration": 3.5e-8},
        {"name": "sx", "qubits": [1], "error": 4e-4, "duration": 3.5e-8},
        {"name": "rz", "qubits": [0], "error": 0.0, "duration": 0.0},
        {"name": "rz", "qubits": [1], "error": 0.0, "duration": 0.0},
        {"name": "cx", "qubits": [0, 1], "error": 8e-3, "duration": 3.0e-7},
    ],
}
CALIBRATION_BYTES = json.dumps(CALIBRATION, sort_keys=True).encode()

GHZ3_OTHER = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
x q[0];
cx q[0],q[1];
measure q -> c;
"""


@dataclass
class World:
    cenv: ChainEnv
    authority: PrivateKey
    circuit: bytes
    result: bytes
    bundle: ReceiptBundle

    @property
    def dir(self) -> Path:
        return self.cenv.dir

    @property
    def keys(self) -> Keys:
        return self.cenv.keys

    def resign(self, counts: dict[str, int] | None = None, **changes: Any) -> tuple[bytes, bytes]:
        """(bundle JSON, canonical counts) of a receipt re-signed by the gateway key."""
        receipt = self.bundle.parsed.receipt
        result = self.result
        executed_qpy = changes.pop("_qpy", None) or self.bundle.executed_qpy
        if counts is not None:
            shots = sum(counts.values())
            result = Counts.from_mapping(counts, num_clbits=receipt.clbits).to_json()
            changes.setdefault("shots", shots)
            if receipt.execution is not None and "execution" not in changes:
                changes["execution"] = dict(receipt.execution, shots=shots)
        new = dataclasses.replace(receipt, **changes)
        env = sign_receipt(new, result, self.keys.signer("gateway"))
        bundle = ReceiptBundle(
            receipt=LoggedEnvelope(env, self.bundle.receipt.proof),
            manifest_sha256=self.bundle.manifest_sha256,
            executed_qpy=executed_qpy,
            decision=self.bundle.decision,
        )
        return bundle.to_json(), result

    def shifted_counts(self, moved: int = 5) -> dict[str, int]:
        """The recorded counts with ``moved`` shots moved from '00' to '11': always different.

        (Fixed numbers such as 495/505 equal the recorded counts in ~2 % of runs, since
        the job's seed comes from a fresh manifest nonce.)
        """
        recorded = json.loads(self.result)
        return {"00": recorded.get("00", 0) - moved, "11": recorded.get("11", 0) + moved}

    def hardware(self, counts: dict[str, int], **changes: Any) -> tuple[bytes, bytes]:
        """A hardware-like receipt (no execution details) for these counts."""
        return self.resign(
            counts, execution=None, backend="qpu", backend_version="1.0.0", **changes
        )

    def baseline(
        self, circuit: bytes = BELL, *, signer: str = "authority", **kwargs: Any
    ) -> Envelope:
        sha, predicate = _compute(circuit, now=NOW, **kwargs)
        key = CompositeSigner(self.authority) if signer == "authority" else self.keys.signer(signer)
        return sign_baseline(predicate, sha, key)


def bell_sample(shots: int, seed: int, *, flip: float = 0.0) -> dict[str, int]:
    """Bell-state counts; ``flip`` puts that fraction on the impossible outcomes 01/10."""
    rng = np.random.default_rng(seed)
    p = [0.5 - flip / 2, flip / 2, flip / 2, 0.5 - flip / 2]
    draw = rng.multinomial(shots, p)
    return {k: int(v) for k, v in zip(["00", "01", "10", "11"], draw, strict=True) if v}


def make_world(keys: Keys, d: Path) -> World:
    cenv = make_env(keys, d)
    authority = generate_private_key(ALG)
    (d / "baseline.pub").write_bytes(authority.public_key().to_pem())
    (d / "baseline.key").write_bytes(authority.to_unencrypted_pem())
    with (d / "trust.toml").open("a") as fh:
        fh.write('\n[roles.baseline-authority]\nkeys = [{ file = "baseline.pub" }]\n')
    _, outcome = cenv.submit()
    assert outcome.admitted
    assert outcome.receipt_bundle is not None
    assert outcome.result
    (d / "bell.qasm").write_bytes(BELL)
    (d / "calibration.json").write_bytes(CALIBRATION_BYTES)
    return World(cenv, authority, BELL, outcome.result, outcome.receipt_bundle)
