"""Verify upstream Sigstore bundles offline against a pinned trusted root.

Sigstore bundles (v0.1, v0.2, v0.3; message signatures and DSSE envelopes such
as GitHub artifact attestations) and PEP 740 attestations are verified with
sigstore-python, without TUF and without the network, against a trusted root
whose sha256 is pinned::

    from qprov.sigstore import ArtifactDigest, SigstorePolicy, verify_bundle

    result = verify_bundle(
        bundle_bytes,
        ArtifactDigest.of_file("qiskit-2.0.0-cp39-abi3-manylinux_2_17_x86_64.whl"),
        SigstorePolicy(
            identity="https://github.com/Qiskit/qiskit/.github/workflows/wheels.yml@refs/tags/2.0.0",
            issuer="https://token.actions.githubusercontent.com",
            repository="Qiskit/qiskit",
            ref="refs/tags/2.0.0",
        ),
    )  # raises a qprov.errors.Error subclass on any failure

Keyed bundles (``cosign sign-blob --key ... --new-bundle-format``) are verified
with the signer's public key as the only trust anchor::

    from qprov.sigstore import TrustedPublicKey, verify_keyed_bundle

    result = verify_keyed_bundle(
        bundle_bytes, artifact_bytes, TrustedPublicKey.from_file("cosign.pub")
    )

Importing this module does not import sigstore-python; verification does.
"""

from __future__ import annotations

from qprov._sigstore import (
    IN_TOTO_PAYLOAD_TYPE,
    PRODUCTION_TRUSTED_ROOT_SHA256,
    STAGING_TRUSTED_ROOT_SHA256,
    ArtifactDigest,
    PinnedTrustedRoot,
    Sha256Hex,
    SigstorePolicy,
    VerifiedBundle,
    pep740_to_bundle,
    verify_bundle,
)
from qprov._sigstore_keyed import TrustedPublicKey, verify_keyed_bundle

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "PRODUCTION_TRUSTED_ROOT_SHA256",
    "STAGING_TRUSTED_ROOT_SHA256",
    "ArtifactDigest",
    "PinnedTrustedRoot",
    "Sha256Hex",
    "SigstorePolicy",
    "TrustedPublicKey",
    "VerifiedBundle",
    "pep740_to_bundle",
    "verify_bundle",
    "verify_keyed_bundle",
]
