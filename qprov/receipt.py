"""Result receipts: what the gateway (or provider) signs after a job ran.

A result receipt is an in-toto Statement (predicate
``https://qprov.dev/attestations/result-receipt/v1``, spec
``attestations/result-receipt.md``) whose one subject is the result — the
canonical counts JSON (RFC 8785) — by sha256. It names the manifest (digest and
nonce), the circuit bytes submitted, the backend and its version, the
calibration snapshot (when there is one), the job id and its times, the
executed circuit (canonical digest, and the digest of its pinned-version QPY,
whose bytes travel in the receipt bundle) and, for simulators, the execution
details a replay needs::

    envelope = sign_receipt(receipt, counts.to_json(), gateway_signer)
    verified = verify_receipt(envelope, trust)      # role gateway or provider

A *receipt bundle* (``application/vnd.qprov.receipt-bundle.v1+json``) carries
the receipt and the admission decision, each with its transparency-log
inclusion proof and signed checkpoint (c2sp.org/tlog-proof), and the executed
circuit's QPY: everything :func:`qprov.chain.verify_chain` needs offline.
"""

from __future__ import annotations

from qprov._receipt_impl import (
    CIRCUIT_ENCODING,
    COUNTS_MEDIA_TYPE,
    MAX_RECEIPT_BUNDLE_BYTES,
    RECEIPT_BUNDLE_MEDIA_TYPE,
    RECEIPT_PREDICATE_TYPE,
    RECEIPT_ROLES,
    Calibration,
    ExecutedCircuit,
    LoggedEnvelope,
    ParsedReceipt,
    ReceiptBundle,
    ReceiptRole,
    ResultReceipt,
    VerifiedReceipt,
    check_canonical_result,
    log_entry,
    parse_receipt,
    parse_receipt_bundle,
    sign_receipt,
    verify_receipt,
)

__all__ = [
    "CIRCUIT_ENCODING",
    "COUNTS_MEDIA_TYPE",
    "MAX_RECEIPT_BUNDLE_BYTES",
    "RECEIPT_BUNDLE_MEDIA_TYPE",
    "RECEIPT_PREDICATE_TYPE",
    "RECEIPT_ROLES",
    "Calibration",
    "ExecutedCircuit",
    "LoggedEnvelope",
    "ParsedReceipt",
    "ReceiptBundle",
    "ReceiptRole",
    "ResultReceipt",
    "VerifiedReceipt",
    "check_canonical_result",
    "log_entry",
    "parse_receipt",
    "parse_receipt_bundle",
    "sign_receipt",
    "verify_receipt",
]
