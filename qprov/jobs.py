"""The gateway's job flow, shared by the HTTP service and ``qprov job run``.

::

    paths = state_paths("state/")                  # SQLite files by default
    with open_store(paths.store_url) as store, JobGateway(
        trust=trust, policy=policy, store=store, log=paths.log_url,
        signer=gateway_signer, log_signers=log_signers, backend=AerBackend(),
    ) as gateway:
        outcome = gateway.submit(manifest_bundle_bytes, circuit_bytes)
        if outcome.admitted:
            outcome.result                  # canonical counts JSON
            outcome.receipt_bundle.to_json()  # verifies offline (qprov.chain)

One submission: admit (:mod:`qprov.admission`; the decision signed by the
gateway key) → append the decision to the transparency log → run the job on the
backend → sign a result receipt (:mod:`qprov.receipt`) → append it to the log →
sign a checkpoint → return a receipt bundle holding the receipt, the decision,
their inclusion proofs against that checkpoint and the executed circuit's QPY.
Every decision, admitted or refused, is logged. The store and the log take
SQLite or PostgreSQL URLs.
"""

from __future__ import annotations

from qprov._jobs_impl import (
    JobGateway,
    JobOutcome,
    StatePaths,
    default_job_id,
    state_paths,
)

__all__ = ["JobGateway", "JobOutcome", "StatePaths", "default_job_id", "state_paths"]
