"""The job flow: admission → log → Aer → receipt → log → bundle, on real SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import timedelta

import pytest
from admission._env import BELL, GHZ3, NOW
from chain._chain_env import LATER, ChainEnv

from qprov.admission import parse_decision
from qprov.backends import AerBackend, Job, derive_seed
from qprov.chain import verify_chain
from qprov.errors import (
    MalformedInputError,
    PolicyError,
    ServiceUnavailableError,
    UnsupportedAlgorithmError,
)
from qprov.receipt import log_entry, parse_receipt, parse_receipt_bundle
from qprov.statement import parse_statement
from qprov.store import open_store
from qprov.tlog import Log, ProofBundle, verify_inclusion_bundle


def test_every_decision_lands_in_the_log(cenv: ChainEnv) -> None:
    bundle = cenv.env.bundle().to_json()
    expired = cenv.env.bundle(now=NOW - timedelta(hours=2)).to_json()
    with cenv.gateway() as gw:
        admitted = gw.submit(bundle, BELL)
        replayed = gw.submit(bundle, BELL)
        swapped = gw.submit(cenv.env.bundle().to_json(), GHZ3)
        too_old = gw.submit(expired, BELL)
    assert admitted.admitted
    assert [o.admitted for o in (replayed, swapped, too_old)] == [False, False, False]
    assert replayed.decision.check("replay").ok is False
    assert swapped.decision.check("circuit-digest").ok is False
    assert too_old.decision.check("time").ok is False
    assert replayed.receipt_bundle is None
    assert replayed.result is None
    vkeys = [s.verifier() for s in cenv.signers]
    with Log.open(f"sqlite:///{cenv.dir / 'state' / 'log.db'}") as log:
        entries = [log.entry(i) for i in range(log.tree().size)]
    # admitted decision, its receipt, then the three refusals, in order
    kinds = [parse_statement(parse_receipt_envelope(e).payload).predicate_type for e in entries]
    assert [k.rsplit("/", 2)[-2] for k in kinds] == [
        "admission-decision",
        "result-receipt",
        "admission-decision",
        "admission-decision",
        "admission-decision",
    ]
    for outcome in (admitted, replayed, swapped, too_old):
        assert outcome.decision.envelope is not None
        entry = log_entry(outcome.decision.envelope)
        assert entries[outcome.decision_index] == entry
        verify_inclusion_bundle(entry, outcome.decision_proof, vkeys)  # proof of the refusal too
        decided = parse_decision(parse_statement(outcome.decision.envelope.payload))
        assert decided.verdict == outcome.decision.verdict


def parse_receipt_envelope(entry: bytes):  # type: ignore[no-untyped-def]
    from qprov.dsse import parse_envelope

    return parse_envelope(entry)


def test_receipt_bundle_verifies_offline_without_the_state(cenv: ChainEnv) -> None:
    manifest, outcome = cenv.submit()
    assert outcome.receipt_bundle is not None
    assert outcome.result is not None
    data = outcome.receipt_bundle.to_json()
    shutil.rmtree(cenv.dir / "state")  # no store, no log: only the bundle and the trust file
    report = verify_chain(data, manifest, BELL, outcome.result, cenv.env.trust, now=LATER)
    assert report.ok
    receipt = parse_receipt_bundle(data).parsed.receipt
    assert receipt.job_id == "job-" + receipt.manifest_sha256[:32]
    assert receipt.queued_at < receipt.started_at < receipt.finished_at  # the injected clock
    assert receipt.backend == "aer"
    assert receipt.execution is not None
    assert receipt.execution["seed_simulator"] == derive_seed(receipt.manifest_sha256)


def test_unsupported_backend_option_is_refused_before_admission(cenv: ChainEnv) -> None:
    bundle = cenv.env.bundle().to_json()
    from qprov.manifest import create_manifest

    odd = create_manifest(
        BELL,
        circuit_name="bell.qasm",
        backend="aer",
        shots=100,
        experiment="exp-1",
        signer=cenv.keys.signer("submitter"),
        now=NOW,
        options={"noise": "on"},
    ).to_json()
    with cenv.gateway() as gw:
        with pytest.raises(PolicyError, match="unsupported option"):
            gw.submit(odd, BELL)
        with pytest.raises(MalformedInputError):
            gw.submit(b"{}", BELL)
        assert gw.submit(bundle, BELL).admitted  # nothing was consumed or logged before
    with Log.open(f"sqlite:///{cenv.dir / 'state' / 'log.db'}") as log:
        assert log.tree().size == 2


def test_manifest_options_set_the_seeds(cenv: ChainEnv) -> None:
    from qprov.manifest import create_manifest

    bundle = create_manifest(
        BELL,
        circuit_name="bell.qasm",
        backend="aer",
        shots=100,
        experiment="exp-1",
        signer=cenv.keys.signer("submitter"),
        now=NOW,
        options={"seed": 42, "optimization_level": 0},
    ).to_json()
    with cenv.gateway() as gw:
        outcome = gw.submit(bundle, BELL)
    assert outcome.receipt_bundle is not None
    execution = outcome.receipt_bundle.parsed.receipt.execution
    assert execution is not None
    assert execution["seed_simulator"] == 42


def test_aer_backend_is_deterministic_and_loads_the_exact_bytes() -> None:
    import hashlib

    backend = AerBackend()
    job = Job("job-1", "a" * 64, BELL, hashlib.sha256(BELL).hexdigest(), "openqasm2", 256, {})  # type: ignore[arg-type]
    first, second = backend.run(job), backend.run(job)
    assert first.result == second.result
    assert first.executed_digest == second.executed_digest
    tampered = Job("job-1", "a" * 64, BELL + b"\n", job.circuit_sha256, "openqasm2", 256, {})  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="not the ones admitted"):
        backend.run(tampered)
    with pytest.raises(PolicyError, match="not served here"):
        backend.check("ibm_torino", {})


def _delay_job(duration: str) -> Job:
    import hashlib

    qasm3 = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\n'
        f"delay[{duration}] q[1];\ncx q[0], q[1];\nc = measure q;\n"
    ).encode()
    return Job("job-d", "a" * 64, qasm3, hashlib.sha256(qasm3).hexdigest(), "openqasm3", 64, {})  # type: ignore[arg-type]


def test_aer_backend_runs_and_digests_the_circuit_its_qpy_holds() -> None:
    from qprov.repro import load_qpy_with_digest

    execution = AerBackend().run(_delay_job("100dt"))
    loaded, digest = load_qpy_with_digest(execution.executed_qpy)
    assert digest == execution.executed_digest
    assert [i.name for i in loaded.data][:3] == ["h", "delay", "cx"]


def test_aer_backend_refuses_a_circuit_qpy_cannot_read_back() -> None:
    # The transpiler turns delay[100ns] into seconds; qiskit 2.6's QPY reads that back as dt
    # and cannot build it: the receipt's QPY could never be checked, so nothing runs.
    with pytest.raises(UnsupportedAlgorithmError, match="does not survive a QPY round trip"):
        AerBackend().run(_delay_job("100ns"))


POSTGRES_URL = os.environ.get(
    "QPROV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.mark.postgres
def test_postgresql_store_and_log(cenv: ChainEnv) -> None:
    namespace = f"j{uuid.uuid4().hex[:12]}"
    try:
        store = open_store(POSTGRES_URL, namespace=namespace)
    except ServiceUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    store.close()
    log_url = f"{POSTGRES_URL}?schema={namespace}"
    try:
        manifest = cenv.env.bundle().to_json()
        with cenv.gateway(log_url=log_url, store_url=POSTGRES_URL, namespace=namespace) as gw:
            outcome = gw.submit(manifest, BELL)
            replay = gw.submit(manifest, BELL)
        assert outcome.admitted
        assert not replay.admitted
        assert outcome.receipt_bundle is not None
        assert outcome.result is not None
        verify_chain(
            outcome.receipt_bundle, manifest, BELL, outcome.result, cenv.env.trust, now=LATER
        )
        assert ProofBundle.from_bytes(replay.decision_proof).index == 2
        assert parse_receipt(outcome.receipt_bundle.receipt.envelope).receipt.backend == "aer"
    finally:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')
            for table in ("nonces", "quota", "decisions"):
                conn.execute(f"DROP TABLE IF EXISTS {namespace}_{table}")
