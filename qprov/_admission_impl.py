"""Admission of job manifests: one implementation for the library, the CLI and the gateway.

Private: see :mod:`qprov.admission`. Every check runs and is reported; the
consuming checks (replay: the nonce; quota: shots) run last and only when every
other check passed, so a refused manifest consumes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Generic, Literal, Self, TypeVar, get_args

from securesystemslib.signer import Signer

from qprov._manifest_impl import (
    MAX_BUNDLE_BYTES,
    JobManifest,
    ParsedBundle,
    ParsedManifest,
    parse_bundle_full,
)
from qprov._predicate import (
    Fields,
    Predicate,
    Sha256,
    digest_dict,
    format_time,
    predicate_type,
)
from qprov.circuits import CircuitFacts, CircuitLimits, analyze_circuit, check_gates
from qprov.dsse import Envelope
from qprov.errors import (
    ConfigError,
    Error,
    ExpiredError,
    MalformedInputError,
    PolicyError,
    ReplayError,
    SignatureError,
    TrustError,
)
from qprov.grant import OWNER_ROLE, ParsedGrant, VerifiedGrant, verify_grant
from qprov.policy import AdmissionPolicy
from qprov.statement import STATEMENT_TYPE, Statement, Subject, sign_statement
from qprov.store import QuotaExceededError, Store
from qprov.trust import Role, TrustedKey, TrustStore

logger = logging.getLogger("qprov.admission")

DECISION_PREDICATE_TYPE: Final = predicate_type("admission-decision")
SUBMITTER_ROLE: Final = "submitter"
APPROVER_ROLE: Final = "approver"
GATEWAY_ROLE: Final = "gateway"
#: Optional trust role whose crypto policy applies to agent keys (default: submitter's).
AGENT_ROLE: Final = "agent"

#: Every check, in the order it runs and is reported.
CheckName = Literal[
    "signature",
    "revocation",
    "grant",
    "grant-scope",
    "approval",
    "time",
    "circuit-digest",
    "circuit",
    "gates",
    "qubits",
    "shots",
    "backend",
    "sdk",
    "replay",
    "quota",
    "grant-shots",
]
CHECKS: Final[tuple[CheckName, ...]] = get_args(CheckName)
_CONSUMING: Final = ("replay", "quota", "grant-shots")
_CHECK_NAMES: Final = frozenset(CHECKS)

Verdict = Literal["admitted", "refused"]
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class CheckResult:
    """One admission check: its name, whether it passed, and why."""

    name: str
    ok: bool
    reason: str
    skipped: bool = False
    """True when the check did not run because another one failed (``ok`` is false)."""
    error: type[Error] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "reason": self.reason}
        if self.skipped:
            out["skipped"] = True
        return out

    @classmethod
    def from_fields(cls, f: Fields) -> CheckResult:
        name = f.req_string("name", max_length=64)
        if name not in _CHECK_NAMES:
            raise MalformedInputError(f"admission-decision predicate: unknown check {name!r}")
        ok = f.boolean("ok")
        reason = f.req_string("reason", max_length=8192, allow_empty=True)
        skipped = f.boolean("skipped") if f.has("skipped") else False
        f.done()
        if skipped and ok:
            raise MalformedInputError("admission-decision predicate: a skipped check is not ok")
        return cls(name, ok, reason, skipped)


@dataclass(frozen=True)
class AdmissionDecision(Predicate):
    """The admission decision predicate (``attestations/admission-decision.md``).

    ``envelope`` is the signed statement when the admitter has a signer.
    """

    NAME: ClassVar[str] = "admission-decision"
    PREDICATE_TYPE: ClassVar[str] = DECISION_PREDICATE_TYPE

    verdict: Verdict
    checks: tuple[CheckResult, ...]
    manifest_sha256: Sha256
    circuit_sha256: Sha256
    nonce: str
    submitter: str
    backend: str
    shots: int
    decided_at: datetime
    envelope: Envelope | None = field(default=None, compare=False, repr=False)

    @property
    def admitted(self) -> bool:
        return self.verdict == "admitted"

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """Checks that ran and failed (skipped checks are not failures)."""
        return tuple(c for c in self.checks if not c.ok and not c.skipped)

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def raise_for_refusal(self) -> None:
        """Raise the error of the first failed check, naming every failure."""
        failures = self.failures
        if not failures:
            return
        error = next((c.error for c in failures if c.error is not None), PolicyError)
        raise error("; ".join(f"{c.name}: {c.reason}" for c in failures))

    @classmethod
    def from_dict(cls, doc: Any) -> Self:
        f = Fields(doc, "admission-decision predicate")
        verdict = f.req_string("verdict")
        if verdict not in ("admitted", "refused"):
            raise MalformedInputError(
                "admission-decision predicate: verdict must be admitted or refused"
            )
        checks = tuple(CheckResult.from_fields(c) for c in f.objects("checks", max_items=64))
        manifest = f.req_digest("manifest")
        circuit = f.req_digest("circuit")
        nonce = f.req_string("nonce", max_length=256)
        sub = f.req_fields("submitter")
        submitter = sub.req_string("keyid", max_length=256)
        sub.done()
        backend = f.req_string("backend", max_length=128)
        shots = f.req_integer("shots")
        decided_at = f.time("decidedAt")
        f.done()
        ok = all(c.ok for c in checks)
        if ok != (verdict == "admitted"):
            raise MalformedInputError(
                "admission-decision predicate: verdict contradicts the checks"
            )
        return cls(
            "admitted" if verdict == "admitted" else "refused",
            checks,
            manifest,
            circuit,
            nonce,
            submitter,
            backend,
            shots,
            decided_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
            "manifest": digest_dict(self.manifest_sha256),
            "circuit": digest_dict(self.circuit_sha256),
            "nonce": self.nonce,
            "submitter": {"keyid": self.submitter},
            "backend": self.backend,
            "shots": self.shots,
            "decidedAt": format_time(self.decided_at),
        }

    def statement(self) -> Statement:
        subject = Subject("job-manifest", {"sha256": self.manifest_sha256})
        return Statement((subject,), DECISION_PREDICATE_TYPE, self.to_dict())

    def statement_dict(self) -> dict[str, Any]:
        """``statement().to_dict()``, built in one pass: the unsigned audit record."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "job-manifest", "digest": {"sha256": self.manifest_sha256}}],
            "predicateType": DECISION_PREDICATE_TYPE,
            "predicate": self.to_dict(),
        }


class _LRU(Generic[K, V]):
    """A small thread-safe LRU mapping."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ConfigError("a cache size must not be negative")
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class ReleaseCache:
    """Results of SDK release verification, keyed by (attestation, wheel) digest.

    A cache belongs to one trust store and release policy: make a new one when
    either is reloaded.
    """

    def __init__(self, size: int = 256) -> None:
        self._lru: _LRU[tuple[str, str], tuple[bool, str, type[Error] | None]] = _LRU(size)
        self.hits = 0
        self.misses = 0

    def get_or_verify(
        self, key: tuple[str, str], verify: Callable[[], str]
    ) -> tuple[bool, str, type[Error] | None]:
        cached = self._lru.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        try:
            result: tuple[bool, str, type[Error] | None] = (True, verify(), None)
        except Error as exc:
            result = (False, str(exc), type(exc))
        self._lru.put(key, result)
        return result

    def __len__(self) -> int:
        return len(self._lru)


@dataclass
class _Run:
    """The state of one admission."""

    parsed: ParsedBundle
    circuit: bytes
    circuit_sha256: Sha256
    now: datetime
    results: dict[str, CheckResult] = field(default_factory=dict)
    principal: str = ""
    is_agent: bool = False
    grant: VerifiedGrant | None = None
    facts: CircuitFacts | None = None
    quota_subject: str = ""
    nonce_with_record: bool = False
    """The nonce is consumed together with the audit record (``Store.admit_and_record``)."""

    @property
    def manifest(self) -> JobManifest:
        return self.parsed.manifest.manifest

    def ok(self, name: str, reason: str) -> None:
        self.results[name] = CheckResult(name, True, reason)

    def fail(self, name: str, reason: str, error: type[Error] = PolicyError) -> None:
        self.results[name] = CheckResult(name, False, reason, error=error)

    def skip(self, name: str, reason: str) -> None:
        self.results[name] = CheckResult(name, False, reason, skipped=True)

    def fail_exc(self, name: str, exc: Error) -> None:
        self.fail(name, str(exc), type(exc))


def _nonce_key(m: JobManifest) -> str:
    """The replay key: scoped by the signing key, so one submitter cannot burn another's nonce."""
    return f"{m.submitter}:{m.nonce}"


def _short(keyid: str) -> str:
    return keyid[:16] + "…" if len(keyid) > 16 else keyid or "(none)"


class Admitter:
    """Admits job manifests: the one implementation behind :func:`admit`, the CLI and the gateway.

    Build one per configuration (trust, policy, store, signer) and call
    :meth:`admit` for each submission; it is thread-safe (the store is) and
    caches SDK release verifications and circuit analyses by digest.
    """

    def __init__(
        self,
        *,
        trust: TrustStore,
        policy: AdmissionPolicy,
        store: Store,
        signer: Signer | None = None,
        release_cache: ReleaseCache | None = None,
        circuit_cache_size: int = 256,
        max_bundle_bytes: int = MAX_BUNDLE_BYTES,
    ) -> None:
        self.trust = trust
        self.policy = policy
        self.store = store
        self.signer = signer
        self.release_cache = release_cache if release_cache is not None else ReleaseCache()
        self.max_bundle_bytes = max_bundle_bytes
        self._circuits: _LRU[str, CircuitFacts | Error] = _LRU(circuit_cache_size)
        self._limits = CircuitLimits(max_bytes=policy.max_circuit_bytes)
        if SUBMITTER_ROLE not in trust.roles and not policy.accept_agents:
            raise ConfigError(f"trust file has no role {SUBMITTER_ROLE!r}: no manifest can verify")
        if policy.accept_agents:
            trust.role(OWNER_ROLE)  # grants are signed by owners
        if policy.approval is not None:
            trust.role(APPROVER_ROLE)
        if policy.release_policy is not None:
            trust.role("release-signer")
        policy.revocations.verify(trust)
        if signer is not None:
            keyid = signer.public_key.keyid
            if keyid not in trust.role(GATEWAY_ROLE).keyids:
                raise ConfigError(
                    f"the decision signer's key {_short(keyid)} is not in the trust file's "
                    f"{GATEWAY_ROLE} role: its decisions could not be verified"
                )

    # -- entry point ------------------------------------------------------------------

    def admit(self, bundle: bytes, circuit: bytes, *, now: datetime) -> AdmissionDecision:
        """Run every check on a bundle and the circuit bytes received; record the decision.

        Raises :class:`MalformedInputError` when the bundle (or anything in it)
        cannot be parsed, and :class:`~qprov.errors.ServiceUnavailableError`
        when the store is away. A well-formed submission always gets a decision.
        """
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise MalformedInputError("now must be a timezone-aware datetime")
        if not isinstance(circuit, bytes):
            raise MalformedInputError("the circuit must be given as bytes")
        parsed = parse_bundle_full(bundle, max_bytes=self.max_bundle_bytes)
        run = _Run(parsed, circuit, Sha256(hashlib.sha256(circuit).hexdigest()), now)
        self._signature(run)
        self._revocation(run)
        self._grant(run)
        self._approval(run)
        self._time(run)
        self._circuit(run)
        self._scope(run)
        self._limits_checks(run)
        self._sdk(run)
        self._consume(run)
        return self._decide(run)

    # -- checks ---------------------------------------------------------------------

    def _signature(self, run: _Run) -> None:
        env = run.parsed.bundle.manifest
        m = run.manifest
        run.principal = m.submitter
        sig = next((s.sig for s in env.signatures if s.keyid == m.submitter), None)
        grant = run.parsed.grant
        run.is_agent = (
            grant is not None
            and grant.grant.agent_keyid == m.submitter
            and m.submitter not in self._submitters()
        )
        if sig is None:
            run.fail(
                "signature",
                f"the manifest names submitter {_short(m.submitter)} but carries no signature "
                "by that key",
                SignatureError,
            )
            return
        try:
            key = self._principal_key(run, grant)
            self.trust.check_algorithm(key, self._crypto_role(run.is_agent))
            key.verify(sig, env.pae())
        except Error as exc:
            run.fail_exc("signature", exc)
            return
        who = (
            f"agent key {_short(key.keyid)} (by grant)"
            if run.is_agent
            else (f"submitter key {_short(key.keyid)}")
        )
        run.ok("signature", f"signed by {who}, {key.algorithm}")

    def _crypto_role(self, agent: bool) -> Role:
        """The role whose crypto policy applies: ``agent`` (if defined) for agent keys."""
        names = (AGENT_ROLE, SUBMITTER_ROLE, OWNER_ROLE) if agent else (SUBMITTER_ROLE,)
        for name in names:
            if name in self.trust.roles:
                return self.trust.roles[name]
        return self.trust.role(SUBMITTER_ROLE)  # raises ConfigError naming the roles

    def _submitters(self) -> tuple[str, ...]:
        role = self.trust.roles.get(SUBMITTER_ROLE)
        return role.keyids if role is not None else ()

    def _principal_key(self, run: _Run, grant: ParsedGrant | None) -> TrustedKey:
        keyid = run.principal
        if run.is_agent:
            assert grant is not None  # noqa: S101 - is_agent implies a grant
            public = grant.grant.agent_key
            kind: Literal["composite", "mldsa"] = (
                "composite" if public.algorithm.is_composite else "mldsa"
            )
            return TrustedKey(keyid, public.algorithm.name, kind, public.to_sslib_key(), "agent")
        if keyid in self._submitters():
            return self.trust.keys[keyid]
        others = self.trust.roles_of(keyid)
        if others:
            raise TrustError(
                f"key {_short(keyid)} is trusted for role {', '.join(others)}, "
                f"not for {SUBMITTER_ROLE}"
            )
        if grant is not None:
            raise TrustError(
                f"key {_short(keyid)} is not a submitter key and the bundle's grant is for "
                f"another agent key ({_short(grant.grant.agent_keyid)})"
            )
        raise TrustError(
            f"key {_short(keyid)} is not trusted (not a submitter key, and the bundle carries "
            "no grant for it)"
        )

    def _revocation(self, run: _Run) -> None:
        problems = []
        revoked = self.trust.revoked
        if run.principal in revoked:
            problems.append(f"signing key {_short(run.principal)} is revoked")
        grant = run.parsed.grant
        if grant is not None and run.is_agent:
            reason = self.policy.revocations.reason(grant.digest)
            if reason is not None:
                problems.append(reason)
            problems.extend(
                f"grant signer key {_short(s.keyid)} is revoked"
                for s in grant.envelope.signatures
                if s.keyid in revoked
            )
        if problems:
            run.fail("revocation", "; ".join(problems), TrustError)
        else:
            run.ok("revocation", "no key or grant involved is revoked")

    def _grant(self, run: _Run) -> None:
        grant = run.parsed.grant
        if not run.is_agent:
            if run.principal in self._submitters():
                run.ok("grant", "not needed: signed by a submitter key")
                run.quota_subject = run.principal
            elif grant is None:
                run.fail(
                    "grant",
                    f"key {_short(run.principal)} is not a submitter key and the bundle "
                    "carries no grant",
                    TrustError,
                )
            else:
                run.fail(
                    "grant",
                    f"the grant is for agent key {_short(grant.grant.agent_keyid)}, not for "
                    f"the signing key {_short(run.principal)}",
                    TrustError,
                )
            return
        assert grant is not None  # noqa: S101 - is_agent implies a grant
        if not self.policy.accept_agents:
            run.fail("grant", "the admission policy does not accept agents (grants)")
            return
        problems: list[tuple[str, type[Error]]] = []
        try:
            run.grant = verify_grant(grant, self.trust)
        except Error as exc:
            problems.append((f"grant signature: {exc}", type(exc)))
        try:
            grant.grant.check_window(run.now, self.policy.clock_skew)
        except ExpiredError as exc:
            problems.append((str(exc), ExpiredError))
        if problems:
            run.grant = None
            run.fail("grant", "; ".join(p for p, _ in problems), problems[0][1])
            return
        assert run.grant is not None  # noqa: S101
        run.quota_subject = run.grant.owner_keyids[0]
        run.ok(
            "grant",
            f"grant sha256:{grant.digest[:16]}… by owner {_short(run.quota_subject)}, "
            f"valid until {format_time(grant.grant.expires_at)}",
        )

    def _approval(self, run: _Run) -> None:
        m = run.manifest
        approval = self.policy.approval
        limits = self.policy.backend_limits(m.backend)
        cost = (
            m.shots * limits.cost_per_shot
            if limits is not None and limits.cost_per_shot is not None
            else None
        )
        needed = approval.reasons(m.backend, m.shots, cost) if approval is not None else []
        if not needed:
            run.ok("approval", "not required")
            return
        env = run.parsed.bundle.manifest
        others = [(s.keyid, s.sig) for s in env.signatures if s.keyid != run.principal]
        why = ", ".join(needed)
        if not others:
            run.fail(
                "approval",
                f"approval required ({why}) but the manifest carries no approver signature",
                SignatureError,
            )
            return
        try:
            keyids = self.trust.verify_signatures(env.pae(), others, APPROVER_ROLE)
        except Error as exc:
            run.fail("approval", f"approval required ({why}): {exc}", type(exc))
            return
        run.ok("approval", f"approved ({why}) by {', '.join(_short(k) for k in keyids)}")

    def _time(self, run: _Run) -> None:
        m = run.manifest
        skew = self.policy.clock_skew
        problems = []
        if m.issued_at > run.now + skew:
            problems.append(
                f"issued in the future: issuedAt {format_time(m.issued_at)} is after "
                f"{format_time(run.now)} (clock skew {int(skew.total_seconds())}s)"
            )
        if run.now - skew >= m.expires_at:
            problems.append(f"expired at {format_time(m.expires_at)}")
        lifetime = m.expires_at - m.issued_at
        if lifetime > self.policy.max_lifetime:
            problems.append(
                f"lifetime {int(lifetime.total_seconds())}s exceeds the maximum of "
                f"{int(self.policy.max_lifetime.total_seconds())}s"
            )
        if problems:
            run.fail("time", "; ".join(problems), ExpiredError)
        else:
            run.ok("time", f"valid until {format_time(m.expires_at)}")

    def _circuit(self, run: _Run) -> None:
        pm: ParsedManifest = run.parsed.manifest
        if pm.circuit_sha256 == run.circuit_sha256:
            run.ok("circuit-digest", f"sha256:{run.circuit_sha256}")
        else:
            run.fail(
                "circuit-digest",
                f"the manifest is for circuit sha256:{pm.circuit_sha256}, the circuit received "
                f"is sha256:{run.circuit_sha256}",
            )
        cached = self._circuits.get(run.circuit_sha256)
        if cached is None:
            try:
                cached = analyze_circuit(run.circuit, limits=self._limits)
            except Error as exc:
                cached = exc
            self._circuits.put(run.circuit_sha256, cached)
        if isinstance(cached, Error):
            run.fail("circuit", f"cannot load the circuit: {cached}", type(cached))
            return
        run.facts = cached
        if cached.format != run.manifest.circuit.format:
            run.fail(
                "circuit",
                f"the manifest says {run.manifest.circuit.format}, the circuit is {cached.format}",
            )
            return
        run.ok(
            "circuit",
            f"{cached.format}, {cached.num_qubits} qubits, {cached.num_clbits} clbits, "
            f"depth {cached.depth}",
        )

    def _scope(self, run: _Run) -> None:
        m = run.manifest
        facts = run.facts
        if facts is None:
            run.skip("gates", "not checked: the circuit could not be loaded")
        else:
            try:
                check_gates(facts.inventory, self.policy.allowed_gates)
            except Error as exc:
                run.fail_exc("gates", exc)
            else:
                run.ok("gates", "applied: " + ", ".join(sorted(facts.inventory.gates)))
        if not run.is_agent:
            run.ok("grant-scope", "not needed: no grant")
            return
        grant = run.parsed.grant
        assert grant is not None  # noqa: S101 - is_agent implies a grant
        violations = grant.grant.scope.violations(
            backend=m.backend,
            shots=m.shots,
            gates=facts.inventory.gates if facts is not None else (),
            experiment=m.experiment,
        )
        if facts is None:
            violations.append("gates not checked: the circuit could not be loaded")
        if violations:
            run.fail("grant-scope", "; ".join(violations))
        else:
            run.ok("grant-scope", "backend, shots, gates and experiment within the grant")

    def _limits_checks(self, run: _Run) -> None:
        m = run.manifest
        limits = self.policy.backend_limits(m.backend)
        if limits is None:
            run.fail(
                "backend",
                f"backend {m.backend!r} is not allowed (allowed: "
                f"{', '.join(sorted(self.policy.backends))})",
            )
            run.skip("qubits", "not checked: the backend is not allowed")
        else:
            run.ok("backend", m.backend)
            if run.facts is None:
                run.skip("qubits", "not checked: the circuit could not be loaded")
            elif run.facts.num_qubits > limits.max_qubits:
                run.fail(
                    "qubits",
                    f"{run.facts.num_qubits} qubits exceed {m.backend}'s limit of "
                    f"{limits.max_qubits}",
                )
            else:
                run.ok("qubits", f"{run.facts.num_qubits} <= {limits.max_qubits}")
        max_shots = self.policy.max_shots_for(m.backend)
        if m.shots > max_shots:
            run.fail("shots", f"{m.shots} shots exceed the limit of {max_shots}")
        else:
            run.ok("shots", f"{m.shots} <= {max_shots}")

    def _sdk(self, run: _Run) -> None:
        sdk = run.manifest.sdk
        required = self.policy.sdk_required
        release_policy = self.policy.release_policy
        attestation = run.parsed.bundle.sdk_attestation
        if sdk is None or sdk.attestation_sha256 is None:
            if required:
                what = "no SDK" if sdk is None else "no SDK release attestation"
                run.fail("sdk", f"the policy requires SDK provenance; the manifest names {what}")
            else:
                run.ok("sdk", "not required")
            return
        if attestation is None:
            if required:
                run.fail("sdk", "the bundle carries no SDK release attestation")
            else:
                run.ok("sdk", "not required (no attestation in the bundle)")
            return
        att_sha = hashlib.sha256(attestation).hexdigest()
        if att_sha != sdk.attestation_sha256:
            run.fail(
                "sdk",
                f"the bundle's SDK attestation (sha256:{att_sha[:16]}…) is not the one the "
                f"manifest names (sha256:{sdk.attestation_sha256[:16]}…)",
            )
            return
        if release_policy is None:
            run.ok("sdk", "not required (no release policy)")
            return

        def verify() -> str:
            from qprov.slsa import verify_release_digest

            release = verify_release_digest(
                sdk.wheel_sha256, attestation, self.trust, release_policy
            )
            repo, ref = release.provenance.source()
            return f"built by {release.provenance.builder_id} from {repo}@{ref}"

        ok, reason, error = self.release_cache.get_or_verify((att_sha, sdk.wheel_sha256), verify)
        label = f"{sdk.name} {sdk.version}"
        if ok:
            run.ok("sdk", f"{label} {reason}")
        else:
            run.fail("sdk", f"{label}: {reason}", error or PolicyError)

    def _consume(self, run: _Run) -> None:
        """Nonce, then quota, then the grant's total: only when every other check passed."""
        m = run.manifest
        if any(not r.ok for r in run.results.values()):
            why = "not checked: refused by another check (nothing consumed)"
            for name in _CONSUMING:
                run.skip(name, why)
            return
        skew = self.policy.clock_skew
        quota = self.policy.quota
        if quota is None and not run.is_agent and self.store.supports_audit:
            # The nonce is the only thing consumed: consume it in the same transaction
            # as the audit record (one commit), in _decide. If it turns out replayed,
            # _decide reports it exactly as below and records the refusal instead.
            run.nonce_with_record = True
            run.ok("replay", f"nonce {m.nonce} admitted once")
            run.ok("quota", "no quota configured")
            run.ok("grant-shots", "not needed: no grant")
            return
        try:
            # scoped by the signing key: one submitter cannot burn another's nonce
            self.store.admit_nonce(_nonce_key(m), m.expires_at + skew, run.now)
        except ReplayError:
            self._replayed(run)
            return
        run.ok("replay", f"nonce {m.nonce} admitted once")
        if quota is None:
            run.ok("quota", "no quota configured")
        else:
            window = int(quota.window.total_seconds())
            try:
                used = self.store.consume_quota(
                    run.quota_subject, m.shots, quota.shots, window, run.now
                )
            except QuotaExceededError as exc:
                run.fail("quota", f"{_short(run.quota_subject)}: {exc}", QuotaExceededError)
                run.skip("grant-shots", "not checked: quota exceeded")
                return
            run.ok("quota", f"{used} of {quota.shots} shots used in {window}s")
        grant = run.parsed.grant
        if not run.is_agent or grant is None:
            run.ok("grant-shots", "not needed: no grant")
            return
        g = grant.grant
        span = g.expires_at - g.not_before + 2 * skew
        window = max(1, math.ceil(span.total_seconds()))
        total = g.scope.max_total_shots
        try:
            used = self.store.consume_quota(
                f"grant:{grant.digest}", m.shots, total, window, run.now
            )
        except QuotaExceededError as exc:
            run.fail("grant-shots", f"grant total: {exc}", QuotaExceededError)
            return
        run.ok("grant-shots", f"{used} of the grant's {total} shots used")

    @staticmethod
    def _replayed(run: _Run) -> None:
        m = run.manifest
        run.fail("replay", f"nonce {m.nonce} was already admitted (replay)", ReplayError)
        run.skip("quota", "not checked: replayed")
        run.skip("grant-shots", "not checked: replayed")

    # -- decision ----------------------------------------------------------------------

    def _build(self, run: _Run) -> tuple[AdmissionDecision, dict[str, Any]]:
        """The decision (signed when there is a signer) and its audit record."""
        m = run.manifest
        checks = tuple(run.results[name] for name in CHECKS)
        verdict: Verdict = "admitted" if all(c.ok for c in checks) else "refused"
        decision = AdmissionDecision(
            verdict=verdict,
            checks=checks,
            manifest_sha256=run.parsed.manifest.digest,
            circuit_sha256=run.circuit_sha256,
            nonce=m.nonce,
            submitter=m.submitter,
            backend=m.backend,
            shots=m.shots,
            decided_at=run.now,
        )
        record = decision.statement_dict()
        if self.signer is not None:
            envelope = sign_statement(decision.statement(), [self.signer])
            decision = dataclasses.replace(decision, envelope=envelope)
            record = {"statement": record, "envelope": envelope.to_dict()}
        return decision, record

    def _decide(self, run: _Run) -> AdmissionDecision:
        m = run.manifest
        decision, record = self._build(run)
        if run.nonce_with_record:
            try:
                self.store.admit_and_record(
                    _nonce_key(m), m.expires_at + self.policy.clock_skew, run.now, record
                )
            except ReplayError:
                self._replayed(run)
                decision, record = self._build(run)
                self.store.record_decision(record)
        elif self.store.supports_audit:
            self.store.record_decision(record)
        verdict = decision.verdict
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "admission %s: manifest sha256:%s nonce %s %s",
                verdict,
                decision.manifest_sha256,
                m.nonce,
                ", ".join(c.name for c in decision.failures),
            )
        return decision


def admit(
    bundle: bytes,
    circuit: bytes,
    *,
    trust: TrustStore,
    policy: AdmissionPolicy,
    store: Store,
    now: datetime,
    signer: Signer | None = None,
    release_cache: ReleaseCache | None = None,
) -> AdmissionDecision:
    """Admit (or refuse) one manifest bundle for the circuit bytes received.

    A one-shot :class:`Admitter`; a service should build one Admitter and reuse it.
    """
    admitter = Admitter(
        trust=trust, policy=policy, store=store, signer=signer, release_cache=release_cache
    )
    return admitter.admit(bundle, circuit, now=now)


def parse_decision(statement: Statement) -> AdmissionDecision:
    """The decision predicate of a (verified) statement."""
    return AdmissionDecision.parse_predicate(statement.predicate_type, statement.predicate)
