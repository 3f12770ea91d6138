#!/usr/bin/env python3
"""Benchmark offline chain verification and the job flow, against their raw costs, in one run.

Prints the median time of:

* full chain verification (``qprov.chain.check_chain``: every link of a real receipt bundle),
  and its parts (receipt signature, manifest signature, admission decision signature, the two
  inclusion proofs with their checkpoints, the result's canonical check, the executed circuit's
  QPY load and canonical digest), against one raw composite signature verification of the same
  algorithm (the primitive the chain repeats three times);
* the job flow (``JobGateway.submit``: admission, two log appends, receipt signing, a checkpoint
  and two proofs, on SQLite) against the bare Aer run of the same job (``AerBackend.run``) it
  wraps, and the difference (the flow's own overhead).

    python scripts/bench/bench_chain.py [--iterations N] [--alg MLDSA65-Ed25519-SHA512]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

BELL = b"""OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

POLICY = b"""version = 1
max_shots = 100000
max_lifetime = 3600
clock_skew = 60
allowed_gates = ["h", "cx"]

[backends.aer_simulator]
max_qubits = 30
"""


def median_ms(fn: Callable[[], object], n: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--alg", default="MLDSA65-Ed25519-SHA512")
    args = parser.parse_args()
    n = args.iterations

    from qprov._chain_impl import (
        _admission_link,
        _executed_link,
        _manifest_signature,
        _receipt_signature,
        _result_link,
        _Run,
    )
    from qprov._manifest_impl import parse_bundle_full
    from qprov.backends import AerBackend, Job
    from qprov.chain import check_chain, log_trust
    from qprov.jobs import JobGateway, state_paths
    from qprov.keys import CompositeSigner, generate_private_key
    from qprov.manifest import create_manifest
    from qprov.policy import AdmissionPolicy
    from qprov.receipt import log_entry, parse_receipt_bundle
    from qprov.store import open_store
    from qprov.tlog import (
        SIG_ED25519,
        SIG_MLDSA44_COSIGNATURE,
        generate_signer,
        verify_inclusion_bundle,
    )
    from qprov.trust import TrustStore

    with tempfile.TemporaryDirectory(prefix="qprov-bench-chain-") as tmp:
        d = Path(tmp)
        submitter = generate_private_key(args.alg)
        gateway = generate_private_key(args.alg)
        (d / "submitter.pub").write_bytes(submitter.public_key().to_pem())
        (d / "gateway.pub").write_bytes(gateway.public_key().to_pem())
        signers = [
            generate_signer("bench.log", SIG_ED25519),
            generate_signer("bench.log", SIG_MLDSA44_COSIGNATURE),
        ]
        vkeys = ", ".join(f'"{s.verifier().to_vkey()}"' for s in signers)
        trust = TrustStore.from_toml(
            (
                'version = 1\n[roles.submitter]\nkeys = [{ file = "submitter.pub" }]\n'
                '[roles.gateway]\nkeys = [{ file = "gateway.pub" }]\n'
                f'[log]\norigin = "bench.log"\nvkeys = [{vkeys}]\n'
            ).encode(),
            d,
        )
        policy = AdmissionPolicy.from_toml(POLICY)
        paths = state_paths(d)
        now = datetime.now(UTC)

        def manifest() -> bytes:
            return create_manifest(
                BELL,
                circuit_name="bell.qasm",
                backend="aer_simulator",
                shots=1024,
                experiment="bench",
                signer=CompositeSigner(submitter),
                now=now,
                lifetime=timedelta(minutes=30),
            ).to_json()

        backend = AerBackend()
        with (
            open_store(paths.store_url) as store,
            JobGateway(
                trust=trust,
                policy=policy,
                store=store,
                log=paths.log_url,
                signer=CompositeSigner(gateway),
                log_signers=signers,
                backend=backend,
            ) as jobs,
        ):
            bundle = manifest()
            outcome = jobs.submit(bundle, BELL)
            assert outcome.receipt_bundle is not None
            assert outcome.result is not None
            receipt_json = outcome.receipt_bundle.to_json()
            result = outcome.result

            manifests = [manifest() for _ in range(n + 1)]
            it = iter(manifests)
            t_flow = median_ms(lambda: jobs.submit(next(it), BELL), n)

        digest = hashlib.sha256(BELL).hexdigest()
        job = Job("bench", digest, BELL, digest, "openqasm2", 1024, {})  # type: ignore[arg-type]
        t_aer = median_ms(lambda: backend.run(job), n)

        later = now + timedelta(hours=1)
        t_full = median_ms(
            lambda: check_chain(receipt_json, bundle, BELL, result, trust, now=later), n
        )
        assert check_chain(receipt_json, bundle, BELL, result, trust, now=later).ok

        rb = parse_receipt_bundle(receipt_json)
        run = _Run(rb, rb.parsed, parse_bundle_full(bundle), trust, later, timedelta(minutes=5))
        log = log_trust(trust)
        assert rb.decision is not None
        parts = {
            "parse receipt bundle": lambda: parse_receipt_bundle(receipt_json),
            "receipt signature": lambda: _receipt_signature(run),
            "manifest signature": lambda: _manifest_signature(run),
            "admission (signature + proof)": lambda: _admission_link(run, log),
            "receipt inclusion proof": lambda: verify_inclusion_bundle(
                log_entry(rb.receipt.envelope), rb.receipt.proof, log.vkeys
            ),
            "result canonical check": lambda: _result_link(run, result),
            "executed circuit (QPY + digest)": lambda: _executed_link(run),
        }
        env = rb.receipt.envelope
        key = trust.keys[gateway.public_key().keyid]
        pae = env.pae()
        t_raw = median_ms(lambda: key.verify(env.signatures[0].sig, pae), n)

    print(f"bench_chain: {args.alg}, median of {n} iterations")
    print(f"  raw composite signature verify          {t_raw:8.3f} ms")
    print(
        f"  full chain verification (11 links)      {t_full:8.3f} ms  ({t_full / t_raw:5.1f}x raw)"
    )
    for name, fn in parts.items():
        t = median_ms(fn, n)
        print(f"    {name:<37} {t:8.3f} ms  ({t / t_raw:5.1f}x raw)")
    print(f"  bare Aer run (load, transpile, simulate) {t_aer:8.3f} ms")
    print(
        f"  job flow (admit, log x2, run, receipt)  {t_flow:8.3f} ms  ({t_flow / t_aer:5.2f}x bare Aer)"
    )
    print(f"  job flow overhead over bare Aer         {t_flow - t_aer:8.3f} ms")


if __name__ == "__main__":
    main()
