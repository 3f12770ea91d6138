"""Chain verification: the happy path on a real Aer run, and one test per broken link."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from admission._env import BELL, GHZ3, OTHER_WHEEL, sdk_attestation

from qprov.chain import LINKS, ChainError, check_chain, log_trust, verify_chain
from qprov.errors import ConfigError, MalformedInputError
from qprov.receipt import (
    LoggedEnvelope,
    ReceiptBundle,
    parse_receipt_bundle,
)
from qprov.slsa import load_release_policy
from qprov.statement import sign_statement
from qprov.tlog import Checkpoint, Log, ProofBundle, parse_note, sign_checkpoint
from qprov.trust import TrustStore

from ._chain_env import LATER, ORIGIN, ChainEnv, log_signers, log_table, make_env
from .conftest import Job


def check(job: Job, **kwargs: object) -> object:
    args: dict[str, object] = {
        "receipt_bundle": job.receipt,
        "manifest_bundle": job.manifest,
        "circuit_bytes": job.circuit,
        "result_bytes": job.result,
        "trust": job.env.env.trust,
        "now": LATER,
    }
    args.update(kwargs)
    return check_chain(**args)  # type: ignore[arg-type]


def failed(report: object) -> dict[str, str]:
    return {link.name: link.reason for link in report.failures}  # type: ignore[attr-defined]


def with_receipt(job: Job, **changes: object) -> bytes:
    bundle = parse_receipt_bundle(job.receipt)
    return replace(bundle, **changes).to_json()  # type: ignore[arg-type]


# -- happy path ------------------------------------------------------------------------------


def test_full_chain_verifies_offline(job: Job) -> None:
    report = verify_chain(
        job.receipt, job.manifest, job.circuit, job.result, job.env.env.trust, now=LATER
    )
    assert [link.name for link in report.links] == list(LINKS)
    assert report.ok
    assert report.link("receipt-signature").reason.startswith("signed by gateway key")
    assert report.link("sdk").skipped
    assert report.link("log-consistency").skipped
    doc = report.to_dict()
    assert doc["verified"] is True
    assert doc["log"] == {"origin": ORIGIN, "index": 1, "treeSize": 2}


def test_receipt_records_what_an_exact_replay_needs(job: Job) -> None:
    from qprov.repro import ExecutionDetails, load_qpy, parse_counts, verify_replay

    bundle = parse_receipt_bundle(job.receipt)
    receipt = bundle.parsed.receipt
    assert receipt.execution is not None
    details = ExecutionDetails.from_dict(receipt.execution)
    counts = parse_counts(job.result, num_clbits=receipt.clbits, shots=receipt.shots)
    report = verify_replay(load_qpy(bundle.executed_qpy), details, counts)
    assert report.status == "reproduced"


def test_chain_error_names_every_failed_link(job: Job) -> None:
    with pytest.raises(ChainError, match=r"2 link\(s\) failed: circuit: .*; result: ") as info:
        verify_chain(job.receipt, job.manifest, GHZ3, b"{}", job.env.env.trust, now=LATER)
    assert [link.name for link in info.value.report.failures] == ["circuit", "result"]


# -- result ------------------------------------------------------------------------------------


def test_counts_changed_after_signing(job: Job) -> None:
    counts = json.loads(job.result)
    counts["00"] += 1
    counts["11"] -= 1
    changed = json.dumps(counts, separators=(",", ":"), sort_keys=True).encode()
    reasons = failed(check(job, result_bytes=changed))
    assert set(reasons) == {"result"}
    assert "counts changed after signing" in reasons["result"]


def test_receipt_whose_result_json_is_not_canonical(job: Job) -> None:
    """The gateway signs the digest of a non-canonical JSON: the result link fails anyway."""
    loose = b'{"11": 497, "00": 503}'
    bundle = parse_receipt_bundle(job.receipt)
    statement = bundle.parsed.statement
    subject = replace(statement.subjects[0], digest={"sha256": hashlib.sha256(loose).hexdigest()})
    resigned = sign_statement(
        replace(statement, subjects=(subject,)), [job.env.keys.signer("gateway")]
    )
    receipt = with_receipt(job, receipt=LoggedEnvelope(resigned, bundle.receipt.proof))
    reasons = failed(check(job, receipt_bundle=receipt, result_bytes=loose))
    assert "not in canonical form" in reasons["result"]
    assert "receipt-signature" not in reasons  # the signature itself is fine


# -- manifest and receipt -----------------------------------------------------------------------


def test_receipt_for_another_manifest(job: Job) -> None:
    other = job.env.env.bundle(nonce="ab" * 16).to_json()
    reasons = failed(check(job, manifest_bundle=other))
    # the other links that involve the manifest hold: it is signed, and its circuit is BELL
    assert set(reasons) == {"manifest"}
    assert "the receipt is for manifest sha256:" in reasons["manifest"]


def test_receipt_signed_by_a_submitter_key(job: Job) -> None:
    bundle = parse_receipt_bundle(job.receipt)
    forged = sign_statement(bundle.parsed.statement, [job.env.keys.signer("submitter")])
    receipt = with_receipt(job, receipt=LoggedEnvelope(forged, bundle.receipt.proof))
    reasons = failed(check(job, receipt_bundle=receipt))
    assert "trusted for role submitter, not for gateway" in reasons["receipt-signature"]
    assert "log-inclusion" in reasons  # and the log never saw that envelope


def test_receipt_signed_by_a_provider_key_is_accepted(job: Job, tmp_path: Path) -> None:
    trust_text = (job.env.dir / "trust.toml").read_text()
    trust_text = trust_text.replace("[roles.gateway]", "[roles.provider]")
    trust = TrustStore.from_toml(trust_text.encode(), job.env.dir)
    report = check(job, trust=trust)
    assert report.link("receipt-signature").reason.startswith("signed by provider key")  # type: ignore[attr-defined]
    # the admission decision must still come from a gateway key
    assert set(failed(report)) == {"admission"}


def test_circuit_bytes_swapped(job: Job) -> None:
    reasons = failed(check(job, circuit_bytes=BELL.replace(b"h q[0];", b"x q[0];")))
    assert set(reasons) == {"circuit"}
    assert "the manifest signed" in reasons["circuit"]


def test_executed_circuit_qpy_swapped(job: Job) -> None:
    from qiskit import QuantumCircuit

    from qprov.repro import dump_qpy

    qc = QuantumCircuit(2, 2)
    qc.x(0)
    qc.measure([0, 1], [0, 1])
    reasons = failed(check(job, receipt_bundle=with_receipt(job, executed_qpy=dump_qpy(qc))))
    assert set(reasons) == {"executed-circuit"}
    assert "is not the one the receipt names" in reasons["executed-circuit"]


def test_receipt_in_the_future(job: Job) -> None:
    from datetime import timedelta

    from admission._env import NOW

    reasons = failed(check(job, now=NOW - timedelta(hours=1)))
    assert set(reasons) == {"times"}
    assert "in the future" in reasons["times"]


# -- SDK -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_job(job: Job) -> Job:
    """A job whose manifest names the SDK wheel and carries its release attestation."""
    env = job.env
    attestation = sdk_attestation(env.keys)
    manifest, outcome = env.submit(GHZ3, sdk=env.env.sdk(), attestation=attestation, shots=500)
    assert outcome.admitted
    assert outcome.receipt_bundle is not None
    assert outcome.result
    return Job(env, manifest, GHZ3, outcome.result, outcome.receipt_bundle.to_json())


def test_sdk_attestation_verifies_against_the_release_policy(sdk_job: Job) -> None:
    policy = load_release_policy(sdk_job.env.dir / "release-policy.toml")
    report = check(sdk_job, release_policy=policy)
    assert report.ok, failed(report)  # type: ignore[attr-defined]
    assert "built by https://github.com/octo/sdk/" in report.link("sdk").reason  # type: ignore[attr-defined]


def test_sdk_attestation_for_another_wheel(sdk_job: Job) -> None:
    policy = load_release_policy(sdk_job.env.dir / "release-policy.toml")
    other = sdk_attestation(sdk_job.env.keys, OTHER_WHEEL)
    reasons = failed(check(sdk_job, release_policy=policy, sdk_attestation=other))
    assert set(reasons) == {"sdk"}
    assert "is not the one the manifest names" in reasons["sdk"]


def test_sdk_attestation_for_another_wheel_when_the_manifest_names_none(job: Job) -> None:
    """The manifest names the wheel only: the attestation's subject must be that wheel."""
    env = job.env
    manifest, outcome = env.submit(sdk=env.env.sdk(), shots=200)
    assert outcome.receipt_bundle is not None
    assert outcome.result
    policy = load_release_policy(env.dir / "release-policy.toml")
    reasons = failed(
        check_chain(
            outcome.receipt_bundle,
            manifest,
            BELL,
            outcome.result,
            env.env.trust,
            release_policy=policy,
            sdk_attestation=sdk_attestation(env.keys, OTHER_WHEEL),
            now=LATER,
        )
    )
    assert set(reasons) == {"sdk"}
    assert "subject" in reasons["sdk"]


def test_release_policy_without_any_attestation(job: Job) -> None:
    policy = load_release_policy(job.env.dir / "release-policy.toml")
    reasons = failed(check(job, release_policy=policy))
    assert reasons == {
        "sdk": "the release policy requires SDK provenance; the manifest names no SDK"
    }


# -- log ---------------------------------------------------------------------------------------


def proof_of(job: Job) -> ProofBundle:
    return ProofBundle.from_bytes(parse_receipt_bundle(job.receipt).receipt.proof)


def with_proof(job: Job, proof: ProofBundle) -> bytes:
    bundle = parse_receipt_bundle(job.receipt)
    return with_receipt(job, receipt=LoggedEnvelope(bundle.receipt.envelope, proof.to_bytes()))


def test_proof_for_another_leaf(job: Job) -> None:
    bundle = parse_receipt_bundle(job.receipt)
    assert bundle.decision is not None
    swapped = with_receipt(
        job, receipt=LoggedEnvelope(bundle.receipt.envelope, bundle.decision.proof)
    )
    reasons = failed(check(job, receipt_bundle=swapped))
    assert set(reasons) == {"log-inclusion"}
    assert "not proven included" in reasons["log-inclusion"]


@pytest.mark.parametrize("how", ["truncated", "extended"])
def test_truncated_or_extended_proof(job: Job, how: str) -> None:
    proof = proof_of(job)
    hashes = proof.hashes[:-1] if how == "truncated" else (*proof.hashes, b"\x00" * 32)
    reasons = failed(check(job, receipt_bundle=with_proof(job, replace(proof, hashes=hashes))))
    assert set(reasons) == {"log-inclusion"}
    assert "not proven included" in reasons["log-inclusion"]


def test_checkpoint_signed_by_an_unknown_key(job: Job) -> None:
    proof = proof_of(job)
    text = parse_note(proof.checkpoint).text
    impostor = log_signers(seed=9)  # same origin, other keys
    forged = sign_checkpoint(Checkpoint(ORIGIN, 2, _root(text)), impostor, timestamp=1_770_000_000)
    reasons = failed(check(job, receipt_bundle=with_proof(job, replace(proof, checkpoint=forged))))
    assert set(reasons) == {"log-inclusion"}
    assert "no signature from a trusted key" in reasons["log-inclusion"]


def test_checkpoint_with_the_pq_line_stripped(job: Job) -> None:
    proof = proof_of(job)
    lines = proof.checkpoint.split(b"\n")
    stripped = b"\n".join([*lines[:-2], b""])  # drop the last signature line (ML-DSA-44)
    reasons = failed(
        check(job, receipt_bundle=with_proof(job, replace(proof, checkpoint=stripped)))
    )
    assert set(reasons) == {"log-inclusion"}
    assert "lacks a signature by trusted key" in reasons["log-inclusion"]


def _root(text: bytes) -> bytes:
    from qprov.tlog import parse_checkpoint

    return parse_checkpoint(text).root


def _log(job: Job) -> Log:
    return Log.open(f"sqlite:///{job.env.dir / 'state' / 'log.db'}")


def test_consistency_with_a_newer_checkpoint(job: Job, sdk_job: Job) -> None:
    del sdk_job  # the log has grown since job's checkpoint
    with _log(job) as log:
        newer = log.latest_checkpoint()
        proof = log.consistency_proof(2)
    report = check(job, newer_checkpoint=newer, consistency_proof=proof)
    assert report.ok, failed(report)  # type: ignore[attr-defined]
    assert "extends the receipt's (size 2)" in report.link("log-consistency").reason  # type: ignore[attr-defined]


def test_rolled_back_checkpoint(job: Job) -> None:
    with _log(job) as log:
        root1 = log.root_at(1)
    rolled = sign_checkpoint(Checkpoint(ORIGIN, 1, root1), job.env.signers, timestamp=2)
    reasons = failed(check(job, newer_checkpoint=rolled))
    assert set(reasons) == {"log-consistency"}
    assert "rolled back" in reasons["log-consistency"]


def test_forked_log(job: Job, tmp_path: Path) -> None:
    """The same log key signs a second tree: same size, other root (and a larger one)."""
    with Log.open(f"sqlite:///{tmp_path / 'fork.db'}") as fork:
        fork.append_many([b"rewritten history 0", b"rewritten history 1"])
        same_size = fork.sign_checkpoint(job.env.signers, timestamp=3)
        fork.append(b"more")
        larger = fork.sign_checkpoint(job.env.signers, timestamp=4)
        proof = fork.consistency_proof(2)
    reasons = failed(check(job, newer_checkpoint=same_size))
    assert set(reasons) == {"log-consistency"}
    assert "forked" in reasons["log-consistency"]
    reasons = failed(check(job, newer_checkpoint=larger, consistency_proof=proof))
    assert set(reasons) == {"log-consistency"}
    assert "is not consistent with size 2" in reasons["log-consistency"]


def test_newer_checkpoint_by_an_unknown_key(job: Job) -> None:
    with _log(job) as log:
        root, size = log.tree().root, log.tree().size
        proof = log.consistency_proof(2)
    forged = sign_checkpoint(Checkpoint(ORIGIN, size, root), log_signers(seed=9), timestamp=5)
    reasons = failed(check(job, newer_checkpoint=forged, consistency_proof=proof))
    assert set(reasons) == {"log-consistency"}


# -- configuration and form --------------------------------------------------------------------


def test_trust_file_without_log_table(job: Job) -> None:
    text = (job.env.dir / "trust.toml").read_text().split("\n[log]")[0]
    trust = TrustStore.from_toml(text.encode(), job.env.dir)
    with pytest.raises(ConfigError, match=r"no \[log\] table"):
        check(job, trust=trust)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ("[log]\nvkeys = []\n", "non-empty list"),
        ('[log]\nvkeys = ["not a vkey"]\n', r"vkeys\[0\]"),
        ('[log]\nvkeys = ["x"]\nurl = "https://log"\n', "unknown field"),
    ],
)
def test_bad_log_table(job: Job, table: str, match: str) -> None:
    text = (job.env.dir / "trust.toml").read_text().split("\n[log]")[0] + "\n" + table
    with pytest.raises(ConfigError, match=match):
        log_trust(TrustStore.from_toml(text.encode(), job.env.dir))


def test_log_origin_must_match(job: Job, tmp_path: Path) -> None:
    other = make_env(job.env.keys, tmp_path / "other", seed=1)
    text = (other.dir / "trust.toml").read_text().split("\n[log]")[0]
    text += log_table(job.env.signers).replace(ORIGIN + '"', 'other.origin"', 1)
    with pytest.raises(ConfigError, match="named after"):
        log_trust(TrustStore.from_toml(text.encode(), other.dir))


def test_unparseable_receipt_bundle_is_malformed(job: Job) -> None:
    doc = json.loads(job.receipt)
    doc["extra"] = 1
    with pytest.raises(MalformedInputError, match="unknown field"):
        check(job, receipt_bundle=json.dumps(doc).encode())


def test_bundle_object_and_bytes_agree(job: Job, cenv: ChainEnv) -> None:
    del cenv
    bundle = parse_receipt_bundle(job.receipt)
    assert isinstance(bundle, ReceiptBundle)
    assert check(job, receipt_bundle=bundle).ok  # type: ignore[attr-defined]
