"""Job manifests: what a researcher (or an agent) asks a gateway to run, signed.

A job manifest is an in-toto Statement (predicate
``https://qprov.dev/attestations/job-manifest/v1``, spec
``attestations/job-manifest.md``) whose subject is the circuit, by the sha256
of its exact bytes. It names the backend, shots and options, the experiment,
the submitter's key id and the human owner, the SDK build, a random nonce and a
validity window. A *manifest bundle* (``application/vnd.qprov.manifest-bundle.v1+json``)
carries the signed manifest with the grant (when an agent signs) and the SDK's
release attestation::

    bundle = create_manifest(circuit_bytes, circuit_name="bell.qasm", backend="aer",
                             shots=1000, experiment="exp-1", signer=signer, now=now)
    data = bundle.to_json()
    approved = approve_bundle(parse_bundle(data), approver_signer)

Time and randomness are injected: ``now=`` and ``nonce=`` (default: 128 bits
from :mod:`secrets`).
"""

from __future__ import annotations

from qprov._manifest_impl import (
    BUNDLE_MEDIA_TYPE,
    MANIFEST_PREDICATE_TYPE,
    MAX_BUNDLE_BYTES,
    MIN_NONCE_BYTES,
    CircuitInfo,
    JobManifest,
    ManifestBundle,
    ParsedBundle,
    ParsedManifest,
    SdkIdentity,
    approve_bundle,
    build_manifest,
    create_manifest,
    manifest_from_envelope,
    manifest_statement,
    new_nonce,
    parse_bundle,
    parse_bundle_full,
    sdk_from_attestation,
    sdk_from_wheel,
)

__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "MANIFEST_PREDICATE_TYPE",
    "MAX_BUNDLE_BYTES",
    "MIN_NONCE_BYTES",
    "CircuitInfo",
    "JobManifest",
    "ManifestBundle",
    "ParsedBundle",
    "ParsedManifest",
    "SdkIdentity",
    "approve_bundle",
    "build_manifest",
    "create_manifest",
    "manifest_from_envelope",
    "manifest_statement",
    "new_nonce",
    "parse_bundle",
    "parse_bundle_full",
    "sdk_from_attestation",
    "sdk_from_wheel",
]
