"""Offline verification of a result's chain of evidence.

::

    report = verify_chain(receipt_bundle, manifest_bundle, circuit_bytes, result_bytes, trust,
                          release_policy=policy, newer_checkpoint=cp, consistency_proof=proof)

checks, without any network or store, every link (:data:`LINKS`, in order):

* ``receipt-signature``: the receipt is signed by a trusted ``gateway`` or
  ``provider`` key (a submitter's key fails);
* ``manifest-signature``: the manifest is signed by a trusted ``submitter`` key
  (or by an agent key under an owner's grant);
* ``manifest``: the receipt names this manifest (digest, nonce, circuit, shots, backend);
* ``circuit``: the circuit bytes are the ones the manifest and the receipt name;
* ``result``: the result bytes are the ones the receipt signed, and canonical;
* ``executed-circuit``: the QPY in the bundle is the one the receipt names, and
  its canonical digest matches;
* ``times``: the job was queued inside the manifest's validity window and did
  not finish in the future;
* ``admission``: the gateway's signed decision admitted this manifest, and is logged;
* ``sdk``: the SDK's release attestation verifies against the release policy;
* ``log-inclusion``: the receipt is in the log, by an inclusion proof against
  a checkpoint signed by every key of the trust file's ``[log]`` table;
* ``log-consistency``: a newer checkpoint extends that one (no fork, no rollback).

:func:`check_chain` returns the report without raising; :func:`verify_chain`
raises :class:`ChainError` naming every failed link. The trust file names the
log with ``[log] origin = "..."`` and ``vkeys = ["<name>+<id>+<base64>", ...]``.
"""

from __future__ import annotations

from qprov._chain_impl import (
    DEFAULT_CLOCK_SKEW,
    LINKS,
    ChainError,
    ChainLink,
    ChainReport,
    LogTrust,
    check_chain,
    log_trust,
    verify_chain,
)

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "LINKS",
    "ChainError",
    "ChainLink",
    "ChainReport",
    "LogTrust",
    "check_chain",
    "log_trust",
    "verify_chain",
]
