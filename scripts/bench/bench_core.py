#!/usr/bin/env python3
"""Benchmark qprov's signature core against the raw primitives, in one run.

Prints, per algorithm: composite sign and verify against the summed cost of the two raw
primitives from `cryptography` (ML-DSA with the label context over M', plus the classical
half over M'); DSSE verification of a 4 KiB statement through qprov's trust store against the
raw composite verification of the same PAE bytes, and against securesystemslib's own DSSE
verification (the peer implementation); and `qprov verify-envelope` as a whole process against
a bare Python interpreter start.

    python scripts/bench/bench_core.py [--iterations N] [--processes N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from securesystemslib.dsse import Envelope as SslibEnvelope

from qprov._crypto.composite import message_representative
from qprov.dsse import sign_envelope, verify_envelope
from qprov.keys import CompositeSigner, generate_private_key
from qprov.trust import TrustStore

ALGS = [
    "MLDSA65-Ed25519-SHA512",
    "MLDSA44-Ed25519-SHA512",
    "MLDSA65-ECDSA-P256-SHA512",
    "MLDSA87-ECDSA-P384-SHA512",
    "MLDSA87-Ed448-SHAKE256",
    "ML-DSA-65",
]


def per_op(fn: Callable[[], object], n: int) -> float:
    """Median of 5 batches, seconds per call."""
    fn()
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def raw_costs(key: object, msg: bytes, n: int) -> tuple[float, float]:
    """Sign/verify cost of the bare primitives that make up one composite operation."""
    raw = key._raw  # type: ignore[attr-defined]
    alg = raw.algorithm
    mldsa = raw._mldsa
    mldsa_pub = mldsa.public_key()
    trad = raw._trad
    if not alg.is_composite:
        sig = mldsa.sign(msg)
        return per_op(lambda: mldsa.sign(msg), n), per_op(lambda: mldsa_pub.verify(sig, msg), n)
    m_prime = message_representative(alg, msg, b"")
    label = alg.label
    msig = mldsa.sign(m_prime, label)
    if isinstance(trad, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        tsign: Callable[[], bytes] = lambda: trad.sign(m_prime)  # noqa: E731
        tsig = tsign()
        tpub = trad.public_key()
        tverify: Callable[[], None] = lambda: tpub.verify(tsig, m_prime)  # noqa: E731
    else:
        h = {"SHA256": "SHA256", "SHA384": "SHA384", "SHA512": "SHA512"}[alg.trad_hash]
        from cryptography.hazmat.primitives import hashes

        halg = getattr(hashes, h)
        tsign = lambda: trad.sign(m_prime, ec.ECDSA(halg()))  # noqa: E731
        tsig = tsign()
        tpub = trad.public_key()
        tverify = lambda: tpub.verify(tsig, m_prime, ec.ECDSA(halg()))  # noqa: E731
    s = per_op(lambda: mldsa.sign(m_prime, label), n) + per_op(tsign, n)
    v = per_op(lambda: mldsa_pub.verify(msig, m_prime, label), n) + per_op(tverify, n)
    return s, v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--processes", type=int, default=15)
    args = ap.parse_args()
    n = args.iterations
    msg = os.urandom(4096)

    print(f"# composite sign/verify vs raw primitives ({n} ops x 5 batches, median)")
    print(
        f"{'algorithm':28} {'sign us':>9} {'raw':>9} {'ratio':>6} {'verify us':>10} {'raw':>9} {'ratio':>6}"
    )
    for name in ALGS:
        key = generate_private_key(name)
        pub = key.public_key()
        sig = key.sign(msg)
        s = per_op(lambda k=key: k.sign(msg), n)
        v = per_op(lambda p=pub, sg=sig: p.verify(sg, msg), n)
        rs, rv = raw_costs(key, msg, n)
        print(
            f"{name:28} {s * 1e6:9.1f} {rs * 1e6:9.1f} {s / rs:6.2f} {v * 1e6:10.1f} {rv * 1e6:9.1f} {v / rv:6.2f}"
        )

    print("\n# DSSE verification of a 4 KiB statement, MLDSA65-Ed25519-SHA512")
    key = generate_private_key("MLDSA65-Ed25519-SHA512")
    pub = key.public_key()
    payload = (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"pad":"'
        + b"x" * 3900
        + b'"},"predicateType":"https://example/v1","subject":[{"digest":{"sha256":"'
        + hashlib.sha256(b"a").hexdigest().encode()
        + b'"},"name":"a"}]}'
    )
    env = sign_envelope(payload, "application/vnd.in-toto+json", [CompositeSigner(key)])
    env_json = env.to_json()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "k.pub").write_bytes(pub.to_pem())
        Path(tmp, "trust.toml").write_text(
            'version = 1\n[roles.release-signer]\nkeys = [{ file = "k.pub" }]\n'
        )
        trust = TrustStore.from_toml(Path(tmp, "trust.toml").read_bytes(), Path(tmp))
        pae = env.pae()
        sigbytes = env.signatures[0].sig
        raw = per_op(lambda: pub.verify(sigbytes, pae), n)
        full = per_op(lambda: verify_envelope(env_json, trust, "release-signer"), n)
        sslib_env = SslibEnvelope.from_dict(__import__("json").loads(env_json))
        sslib_key = pub.to_sslib_key()
        peer = per_op(lambda: sslib_env.verify([sslib_key], 1), n)
        print(f"raw composite verify of PAE      {raw * 1e6:9.1f} us")
        print(
            f"qprov verify_envelope (parse+trust+verify) {full * 1e6:9.1f} us  ratio {full / raw:5.2f}  (goal <= 1.25)"
        )
        print(
            f"securesystemslib Envelope.verify (peer)    {peer * 1e6:9.1f} us  ratio {peer / raw:5.2f}"
        )

        print(f"\n# whole process, median of {args.processes} runs")
        Path(tmp, "env.json").write_bytes(env_json)
        cmd = [
            sys.executable,
            "-m",
            "qprov._cli_main",
            "verify-envelope",
            str(Path(tmp, "env.json")),
            "--trust",
            str(Path(tmp, "trust.toml")),
            "--role",
            "release-signer",
            "-o",
            os.devnull,
        ]
        exe = Path(sys.executable).with_name("qprov")
        if exe.exists():
            cmd = [str(exe), *cmd[3:]]

        def run(c: list[str]) -> float:
            t0 = time.perf_counter()
            subprocess.run(c, check=True, capture_output=True)
            return time.perf_counter() - t0

        base = statistics.median(run([sys.executable, "-c", "pass"]) for _ in range(args.processes))
        whole = statistics.median(run(cmd) for _ in range(args.processes))
        print(f"python -c pass                   {base:6.3f} s")
        print(
            f"qprov verify-envelope            {whole:6.3f} s  ratio {whole / base:5.2f}  (goal < 0.3 s)"
        )


if __name__ == "__main__":
    main()
