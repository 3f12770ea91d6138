"""Admission of signed job manifests: the gateway's decision, in the library.

One implementation serves the library, ``qprov gateway admit`` and the HTTP
gateway::

    admitter = Admitter(trust=trust, policy=policy, store=open_store(url), signer=None)
    decision = admitter.admit(bundle_bytes, circuit_bytes, now=datetime.now(UTC))
    decision.admitted, decision.failures, decision.to_dict()

or in one call, :func:`admit`. Every check runs and is reported (``CHECKS``, in
order); the nonce (replay) and the quotas are consumed last, only when every
other check passed. The decision is an ``admission-decision`` predicate
(``attestations/admission-decision.md``), signed by the gateway's key when a
``signer`` is given, and recorded in the store where the store keeps audit
records. Malformed bundles raise :class:`~qprov.errors.MalformedInputError`.
"""

from __future__ import annotations

from qprov._admission_impl import (
    AGENT_ROLE,
    APPROVER_ROLE,
    CHECKS,
    DECISION_PREDICATE_TYPE,
    GATEWAY_ROLE,
    SUBMITTER_ROLE,
    AdmissionDecision,
    Admitter,
    CheckName,
    CheckResult,
    ReleaseCache,
    Verdict,
    admit,
    parse_decision,
)

__all__ = [
    "AGENT_ROLE",
    "APPROVER_ROLE",
    "CHECKS",
    "CheckName",
    "DECISION_PREDICATE_TYPE",
    "GATEWAY_ROLE",
    "SUBMITTER_ROLE",
    "AdmissionDecision",
    "Admitter",
    "CheckResult",
    "ReleaseCache",
    "Verdict",
    "admit",
    "parse_decision",
]
