"""The attacker's end-to-end suite: real gateways on loopback, the researcher's verifier.

Two gateways share one PostgreSQL store (the shared ``test`` database, a namespace of
this module's own, dropped afterwards): gateway A runs jobs on Aer, signs receipts and
keeps a transparency log (SQLite); gateway B only admits. Each test plays one attack
and asserts it is refused *for the right reason* (the check that failed and its text):

* replay of one manifest across the two gateways;
* a circuit swapped in transit (gateway), and swapped before verification (verifier);
* signature stripping: the classical half, the ML-DSA half, the whole signature;
* downgrade to a classical-only key where composite signatures are required;
* a receipt re-signed with a submitter key (``verify_chain`` and ``qprov verify chain``
  name the ``receipt-signature`` link);
* a tampered SDK: the installed copy fails ``qprov sbom env --verify-record``, and a
  manifest naming the tampered wheel's digest beside the genuine release attestation is
  refused on the ``sdk`` check;
* log rollback: a stale checkpoint served to a monitor, and the gateway's log database
  really rolled back to an older copy; the monitor raises RollbackError both times;
* a stolen submitter key used after its revocation (trust file revokes it, gateway
  restarted): refused on the ``revocation`` check.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from admission._env import GHZ3, WHEEL_NAME, sdk_attestation
from click.testing import CliRunner

from qprov._cli import cli
from qprov.chain import ChainError, verify_chain
from qprov.dsse import EnvelopeSignature
from qprov.manifest import ManifestBundle, sdk_from_wheel
from qprov.receipt import LoggedEnvelope, parse_receipt_bundle
from qprov.sbom import parse_record
from qprov.statement import sign_statement
from qprov.tlog import Monitor, RollbackError, verify_checkpoint
from qprov.trust import load_trust

from ._harden import (
    BELL,
    ORIGIN,
    POSTGRES_URL,
    Gateway,
    HardenEnv,
    Keys,
    drop_postgres,
    free_port,
    make_bundle,
    post,
    request_doc,
    require_postgres,
    write_config,
    write_env,
)

JOBS = "/v1/jobs"
ADMISSIONS = "/v1/admissions"


@dataclass
class Fleet:
    env: HardenEnv
    a: Gateway  # jobs, receipts, log (SQLite); store on PostgreSQL
    b: Gateway  # admissions only; the same PostgreSQL store
    namespace: str

    @property
    def log_db(self) -> Path:
        return self.env.dir / "log.db"


@pytest.fixture(scope="module")
def fleet(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_postgres()
    env = write_env(keys, tmp_path_factory.mktemp("adversarial"))
    namespace = f"h{uuid.uuid4().hex[:12]}"
    port_a, port_b = free_port(), free_port()
    config_a = write_config(
        env.dir,
        "gw-a",
        port=port_a,
        store=POSTGRES_URL,
        store_namespace=namespace,
        log="sqlite:///log.db",
        jobs=True,
    )
    config_b = write_config(
        env.dir, "gw-b", port=port_b, store=POSTGRES_URL, store_namespace=namespace
    )
    a = Gateway(config_a, port_a, env.dir / "gw-a.log")
    b = Gateway(config_b, port_b, env.dir / "gw-b.log")
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for started in [pool.submit(a.start), pool.submit(b.start)]:
                started.result()
        yield Fleet(env, a, b, namespace)
    finally:
        a.stop()
        b.stop()
        drop_postgres(namespace)


@dataclass(frozen=True)
class HonestJob:
    manifest: ManifestBundle
    body: dict[str, Any]

    @property
    def job(self) -> dict[str, Any]:
        job: dict[str, Any] = self.body["job"]
        return job

    @property
    def receipt(self) -> bytes:
        return json.dumps(self.job["receipt_bundle"]).encode()

    @property
    def result(self) -> bytes:
        return str(self.job["result"]).encode("utf-8")


@pytest.fixture(scope="module")
def honest(fleet: Fleet) -> HonestJob:
    """One honest job through gateway A; a consistent copy of A's log is kept right after
    it (the copy a malicious operator later rolls the log back to)."""
    manifest = make_bundle(fleet.env.keys)
    response = post(fleet.a.url + JOBS, request_doc(manifest))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "admitted", body["failures"]
    with (
        sqlite3.connect(fleet.log_db) as src,
        sqlite3.connect(fleet.env.dir / "log-snapshot.db") as dst,
    ):
        src.backup(dst)  # consistent while the gateway writes (WAL)
    src.close()
    dst.close()
    return HonestJob(manifest, body)


def refused(response: requests.Response, check: str) -> str:
    """The response is a refusal by exactly ``check``; returns its reason."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "refused" == response.headers["x-qprov-verdict"], body
    failed = [(f["check"], f["reason"]) for f in body["failures"]]
    assert [name for name, _ in failed] == [check], failed
    assert body.get("job") is None  # nothing ran
    reason: str = failed[0][1]
    return reason


# -- the honest path, for contrast -------------------------------------------------------------


def test_an_honest_job_verifies_end_to_end(fleet: Fleet, honest: HonestJob) -> None:
    report = verify_chain(
        honest.receipt,
        honest.manifest.to_json(),
        BELL,
        honest.result,
        load_trust(fleet.env.trust_file),
    )
    assert report.ok
    assert report.link("receipt-signature").ok
    assert report.link("log-inclusion").ok


# -- replay across two gateways ------------------------------------------------------------------


def test_replay_across_two_gateways_sharing_postgres(fleet: Fleet, honest: HonestJob) -> None:
    nonce = honest.manifest.parsed.manifest.nonce
    # the manifest A ran is replayed at B, through either route of A, and again at B
    doc = request_doc(honest.manifest)
    for url in (fleet.b.url + ADMISSIONS, fleet.a.url + JOBS, fleet.a.url + ADMISSIONS):
        reason = refused(post(url, doc), "replay")
        assert reason == f"nonce {nonce} was already admitted (replay)"

    # one fresh manifest raced at both gateways at once: admitted exactly once
    fresh = json.dumps(request_doc(make_bundle(fleet.env.keys))).encode()
    targets = [fleet.a.url + ADMISSIONS, fleet.b.url + ADMISSIONS] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda url: post(url, fresh), targets))
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    verdicts = Counter(r.json()["verdict"] for r in responses)
    assert verdicts == {"admitted": 1, "refused": len(targets) - 1}
    for r in responses:
        if r.json()["verdict"] == "refused":
            assert refused(r, "replay").endswith("was already admitted (replay)")


# -- circuit swapped -----------------------------------------------------------------------------


def test_swapped_circuit_is_refused_by_the_gateway_and_by_the_verifier(
    fleet: Fleet, honest: HonestJob
) -> None:
    manifest = make_bundle(fleet.env.keys)  # signed for BELL
    ghz = hashlib.sha256(GHZ3).hexdigest()
    bell = hashlib.sha256(BELL).hexdigest()
    reason = refused(post(fleet.a.url + JOBS, request_doc(manifest, GHZ3)), "circuit-digest")
    assert reason == (
        f"the manifest is for circuit sha256:{bell}, the circuit received is sha256:{ghz}"
    )
    # nothing was consumed: the genuine circuit is still admitted with the same manifest
    assert post(fleet.b.url + ADMISSIONS, request_doc(manifest)).json()["verdict"] == "admitted"

    # the researcher is handed other circuit bytes for an honest result
    with pytest.raises(ChainError) as caught:
        verify_chain(
            honest.receipt,
            honest.manifest.to_json(),
            GHZ3,
            honest.result,
            load_trust(fleet.env.trust_file),
        )
    failed = {link.name for link in caught.value.report.failures}
    assert failed == {"circuit"}, caught.value


# -- signature stripping and downgrade ---------------------------------------------------------


def _with_signature(bundle: ManifestBundle, sig: bytes | None) -> dict[str, Any]:
    original = bundle.manifest.signatures[0]
    signatures = () if sig is None else (EnvelopeSignature(original.keyid, sig),)
    return replace(bundle, manifest=replace(bundle.manifest, signatures=signatures)).to_dict()


def test_signature_stripping(fleet: Fleet) -> None:
    bundle = make_bundle(fleet.env.keys)
    sig = bundle.manifest.signatures[0].sig  # ML-DSA-44 (2420 bytes) || Ed25519 (64 bytes)
    assert len(sig) == 2420 + 64

    classical_stripped = post(fleet.a.url + JOBS, request_doc(_with_signature(bundle, sig[:-64])))
    reason = refused(classical_stripped, "signature")
    assert reason.endswith(
        "MLDSA44-Ed25519-SHA512 signature is 2420 bytes: the traditional half is missing"
    )

    # only the classical half left: a downgrade of a composite key to Ed25519
    pq_stripped = post(fleet.a.url + JOBS, request_doc(_with_signature(bundle, sig[-64:])))
    reason = refused(pq_stripped, "signature")
    assert reason.endswith(
        "MLDSA44-Ed25519-SHA512 signature is 64 bytes, shorter than its ML-DSA-44 half alone "
        "(2420 bytes): the ML-DSA half is missing or truncated"
    )

    # no signature at all: not even a manifest to decide on
    unsigned = post(fleet.a.url + JOBS, request_doc(_with_signature(bundle, None)))
    assert unsigned.status_code == 422, unsigned.text
    assert unsigned.json() == {
        "error": "malformed_bundle",
        "reason": "DSSE envelope has no signatures",
    }

    # none of the stripped copies consumed the nonce: the intact manifest is admitted
    assert post(fleet.b.url + ADMISSIONS, request_doc(bundle)).json()["verdict"] == "admitted"


def test_downgrade_to_a_classical_key(fleet: Fleet) -> None:
    bundle = make_bundle(fleet.env.keys, signer="classical")  # Ed25519, trusted as submitter
    reason = refused(post(fleet.a.url + JOBS, request_doc(bundle)), "signature")
    assert reason.endswith(
        "is classical-only (Ed25519); role submitter requires composite ML-DSA signatures"
    )
    assert reason.startswith("key ")


# -- receipt forgery -----------------------------------------------------------------------------


def test_receipt_forged_with_a_submitter_key(
    fleet: Fleet, honest: HonestJob, tmp_path: Path
) -> None:
    bundle = parse_receipt_bundle(honest.receipt)
    forged_envelope = sign_statement(bundle.parsed.statement, [fleet.env.keys.signer("submitter")])
    forged = replace(bundle, receipt=LoggedEnvelope(forged_envelope, bundle.receipt.proof))
    with pytest.raises(ChainError) as caught:
        verify_chain(
            forged.to_json(),
            honest.manifest.to_json(),
            BELL,
            honest.result,
            load_trust(fleet.env.trust_file),
        )
    reasons = {link.name: link.reason for link in caught.value.report.failures}
    assert "trusted for role submitter, not for gateway" in reasons["receipt-signature"]
    assert "log-inclusion" in reasons  # and the log never saw the forged envelope

    # the researcher's CLI names the same link and exits 1
    files = {
        "receipt": forged.to_json(),
        "manifest": honest.manifest.to_json(),
        "circuit": BELL,
        "result": honest.result,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    args = ["verify", "chain", "--trust", str(fleet.env.trust_file), "--json"]
    for name in files:
        args += [f"--{name}", str(tmp_path / name)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "receipt-signature" in result.stderr
    report = json.loads(result.stdout)
    links = {link["name"]: link for link in report["links"]}
    assert links["receipt-signature"]["ok"] is False
    assert "not for gateway" in links["receipt-signature"]["reason"]


# -- tampered SDK --------------------------------------------------------------------------------


def _install_copy(site: Path) -> Path:
    """Copy the installed ``packaging`` distribution (the 'SDK') into ``site``."""
    import packaging

    assert packaging.__file__ is not None
    real = Path(packaging.__file__).parent.parent
    dist_info = next(real.glob("packaging-*.dist-info"))
    for entry in parse_record((dist_info / "RECORD").read_text()):
        source = real / entry.path
        if source.is_file() and not entry.path.startswith(".."):
            (site / entry.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, site / entry.path)
    return site


def _wheel(site: Path) -> bytes:
    """The installed files zipped as a wheel, in a fixed order and with fixed times."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), (2020, 1, 1, 0, 0, 0))
            zf.writestr(info, path.read_bytes())
    return out.getvalue()


def test_tampered_sdk_wheel(fleet: Fleet, tmp_path: Path) -> None:
    site = _install_copy(tmp_path / "site")
    genuine = _wheel(site)
    clean = CliRunner().invoke(cli, ["sbom", "env", "--path", str(site), "--verify-record"])
    assert clean.exit_code == 0, clean.stderr
    assert clean.stderr.startswith("OK: RECORD verified")

    # the attacker patches one module of the installed SDK
    (site / "packaging" / "version.py").write_text("import os\nBACKDOOR = True\n")
    tampered = _wheel(site)
    found = CliRunner().invoke(cli, ["sbom", "env", "--path", str(site), "--verify-record"])
    assert found.exit_code == 1
    assert found.stdout == ""
    assert "FAIL: packaging: modified: packaging/version.py (sha256 " in found.stderr

    # the genuine wheel's release attestation, beside a manifest naming the tampered wheel
    keys = fleet.env.keys
    attestation = sdk_attestation(keys, genuine)
    ok = make_bundle(keys, sdk=sdk_from_wheel(WHEEL_NAME, genuine), attestation=attestation)
    admitted = post(fleet.b.url + ADMISSIONS, request_doc(ok))
    assert admitted.json()["verdict"] == "admitted", admitted.text
    bad_sdk = sdk_from_wheel(WHEEL_NAME, tampered)
    bad = make_bundle(keys, sdk=bad_sdk, attestation=attestation)
    reason = refused(post(fleet.a.url + JOBS, request_doc(bad)), "sdk")
    digest = hashlib.sha256(tampered).hexdigest()
    assert reason == f"octo-sdk 1.2.3: subject: no subject of the statement matches sha256:{digest}"


# -- log rollback and a stolen key, after the operator restarts gateway A ----------------------


def _checkpoint(gw: Gateway) -> bytes:
    response = requests.get(gw.url + "/log/checkpoint", timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def test_stale_checkpoint_served_to_a_monitor(fleet: Fleet, honest: HonestJob) -> None:
    env = fleet.env
    old = honest.body["log"]["checkpoint"].encode()
    newer = _checkpoint(fleet.a)
    monitor = Monitor(env.dir / "stale-monitor.json", env.vkeys)
    seen = monitor.observe(newer)
    assert seen.size > verify_checkpoint(old, env.vkeys, origin=ORIGIN).size
    with pytest.raises(RollbackError, match=r"ROLLBACK of log .*: checkpoint of size \d+ after"):
        monitor.observe(old)  # a mirror (or the log) answers with an older tree
    assert monitor.latest is not None
    assert monitor.latest.size == seen.size  # the alarm changed nothing


@dataclass(frozen=True)
class Restarted:
    monitor: Monitor
    seen_size: int
    stolen_admitted: dict[str, Any]


@pytest.fixture(scope="module")
def restarted(fleet: Fleet, honest: HonestJob) -> Restarted:
    """The attacker's key works until it is revoked; then gateway A is restarted with the key
    revoked in its trust file, and with its log database rolled back to the old copy."""
    env = fleet.env
    keys = env.keys
    stolen = keys.other_submitter
    before = post(fleet.a.url + JOBS, request_doc(make_bundle(keys, signer="other_submitter")))
    assert before.json()["verdict"] == "admitted", before.text

    monitor = Monitor(env.dir / "monitor.json", env.vkeys)
    seen = monitor.observe(_checkpoint(fleet.a))

    fleet.a.stop()
    env.write_trust(revoked=(stolen.public_key().keyid,))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fleet.log_db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(env.dir / "log-snapshot.db", fleet.log_db)
    fleet.a.start()
    return Restarted(monitor, seen.size, before.json())


def test_log_rolled_back_by_its_operator_is_shown_to_the_monitor(
    fleet: Fleet, restarted: Restarted
) -> None:
    served = _checkpoint(fleet.a)
    assert verify_checkpoint(served, fleet.env.vkeys, origin=ORIGIN).size < restarted.seen_size
    with pytest.raises(RollbackError, match=rf"after size {restarted.seen_size} was seen"):
        restarted.monitor.observe(served)


def test_stolen_submitter_key_after_revocation(fleet: Fleet, restarted: Restarted) -> None:
    keys = fleet.env.keys
    stolen_id = keys.other_submitter.public_key().keyid
    reason = refused(
        post(fleet.a.url + JOBS, request_doc(make_bundle(keys, signer="other_submitter"))),
        "revocation",
    )
    assert reason == f"signing key {stolen_id[:16]}… is revoked"
    assert restarted.stolen_admitted["job"] is not None  # it did work before the revocation
    # the honest submitter is unaffected
    ok = post(fleet.a.url + JOBS, request_doc(make_bundle(keys)))
    assert ok.json()["verdict"] == "admitted", ok.text
