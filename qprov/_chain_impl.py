"""Offline verification of a result's chain of evidence. Private: see :mod:`qprov.chain`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from qprov._manifest_impl import ManifestBundle, ParsedBundle, parse_bundle_full
from qprov._predicate import format_time
from qprov._receipt_impl import (
    LoggedEnvelope,
    ParsedReceipt,
    ReceiptBundle,
    check_canonical_result,
    log_entry,
    parse_receipt_bundle,
    qpy_matches,
    verify_receipt,
)
from qprov.errors import (
    ConfigError,
    Error,
    MalformedInputError,
    PolicyError,
    SignatureError,
    VerificationError,
)
from qprov.trust import TrustedKey, TrustStore

if TYPE_CHECKING:
    from qprov.slsa import ReleasePolicy
    from qprov.tlog import VerifiedCheckpoint, Verifier

__all__ = [
    "LINKS",
    "ChainError",
    "ChainLink",
    "ChainReport",
    "LogTrust",
    "check_chain",
    "log_trust",
    "verify_chain",
]

#: Every link, in the order it is checked and reported.
LINKS: Final = (
    "receipt-signature",
    "manifest-signature",
    "manifest",
    "circuit",
    "result",
    "executed-circuit",
    "times",
    "admission",
    "sdk",
    "log-inclusion",
    "log-consistency",
)
_SUBMITTER: Final = "submitter"
_GATEWAY: Final = "gateway"
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)


# -- the trust file's [log] table -----------------------------------------------------------


@dataclass(frozen=True)
class LogTrust:
    """The transparency log a trust file trusts: its origin and verifier keys.

    Every key listed must have signed a checkpoint (so neither the Ed25519 nor
    the ML-DSA-44 line can be stripped).
    """

    vkeys: tuple[Verifier, ...]
    origin: str | None = None


def log_trust(trust: TrustStore) -> LogTrust:
    """Parse the trust file's ``[log]`` table: ``origin`` (optional) and ``vkeys``.

    ``vkeys`` are C2SP note verifier keys (``name+hexid+base64``), as
    ``qprov log keygen`` prints them. Raises ConfigError when the table is
    missing, has unknown fields, or lists no key.
    """
    from qprov.tlog import parse_vkey

    table = trust.extra.get("log")
    if table is None:
        raise ConfigError(
            "trust file has no [log] table: give the log's verifier keys as "
            '[log] vkeys = ["<origin>+<id>+<base64>", ...]'
        )
    if not isinstance(table, dict):
        raise ConfigError("trust file: [log] must be a table")
    unknown = sorted(set(table) - {"origin", "vkeys"})
    if unknown:
        raise ConfigError(f"trust file: [log] has unknown field(s): {', '.join(unknown)}")
    origin = table.get("origin")
    if origin is not None and (not isinstance(origin, str) or not origin or "\n" in origin):
        raise ConfigError("trust file: [log].origin must be a one-line string")
    vkeys = table.get("vkeys")
    if not isinstance(vkeys, list) or not vkeys:
        raise ConfigError("trust file: [log].vkeys must be a non-empty list of verifier keys")
    parsed = []
    for i, v in enumerate(vkeys):
        if not isinstance(v, str):
            raise ConfigError(f"trust file: [log].vkeys[{i}] must be a string")
        try:
            parsed.append(parse_vkey(v))
        except MalformedInputError as exc:
            raise ConfigError(f"trust file: [log].vkeys[{i}]: {exc}") from None
    if len({(k.name, k.key_id) for k in parsed}) != len(parsed):
        raise ConfigError("trust file: [log].vkeys lists a key twice")
    if origin is not None and any(k.name != origin for k in parsed):
        raise ConfigError("trust file: every [log].vkeys key must be named after [log].origin")
    return LogTrust(tuple(parsed), origin)


# -- report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    """One link of the chain: its name, whether it holds, and why.

    ``skipped`` links were not asked for (no release policy, no newer
    checkpoint); they are ``ok`` and say so in ``reason``.
    """

    name: str
    ok: bool
    reason: str
    skipped: bool = False
    error: type[Error] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "reason": self.reason}
        if self.skipped:
            out["skipped"] = True
        return out


@dataclass(frozen=True)
class ChainReport:
    """Every link of a result's chain of evidence, checked offline."""

    links: tuple[ChainLink, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(link.ok for link in self.links)

    @property
    def failures(self) -> tuple[ChainLink, ...]:
        return tuple(link for link in self.links if not link.ok)

    def link(self, name: str) -> ChainLink:
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.ok,
            "links": [link.to_dict() for link in self.links],
            **dict(self.facts),
        }

    def raise_for_failures(self) -> None:
        """Raise :class:`ChainError` naming every failed link."""
        if self.failures:
            raise ChainError(self)


class ChainError(VerificationError):
    """The chain of evidence of a result does not hold; ``report`` says which links failed."""

    def __init__(self, report: ChainReport) -> None:
        self.report = report
        failed = report.failures
        super().__init__(
            f"{len(failed)} link(s) failed: "
            + "; ".join(f"{link.name}: {link.reason}" for link in failed)
        )


# -- the checks -----------------------------------------------------------------------------


@dataclass
class _Run:
    bundle: ReceiptBundle
    receipt: ParsedReceipt
    manifest: ParsedBundle
    trust: TrustStore
    now: datetime
    clock_skew: timedelta
    links: dict[str, ChainLink] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    checkpoint: VerifiedCheckpoint | None = None  # of the receipt's inclusion proof

    def ok(self, name: str, reason: str) -> None:
        self.links[name] = ChainLink(name, True, reason)

    def skip(self, name: str, reason: str) -> None:
        self.links[name] = ChainLink(name, True, reason, skipped=True)

    def fail(self, name: str, reason: str, error: type[Error] = PolicyError) -> None:
        self.links[name] = ChainLink(name, False, reason, error=error)

    def attempt(self, name: str, check: Callable[[], str]) -> None:
        try:
            reason = check()
        except Error as exc:
            self.fail(name, str(exc), type(exc))
        else:
            self.ok(name, reason)


def _short(keyid: str) -> str:
    return keyid[:16] + "…" if len(keyid) > 16 else keyid or "(none)"


def _receipt_signature(run: _Run) -> str:
    verified = verify_receipt(run.receipt, run.trust)
    run.facts["receiptRole"] = verified.role
    keys = ", ".join(_short(k) for k in verified.keyids)
    return f"signed by {verified.role} key {keys}"


def _manifest_signature(run: _Run) -> str:
    env = run.manifest.bundle.manifest
    submitter = run.manifest.manifest.manifest.submitter
    sig = next((s.sig for s in env.signatures if s.keyid == submitter), None)
    if sig is None:
        raise SignatureError(
            f"the manifest names submitter {_short(submitter)} but carries no signature by it"
        )
    role = run.trust.roles.get(_SUBMITTER)
    grant = run.manifest.grant
    if (
        (role is None or submitter not in role.keyids)
        and grant is not None
        and (grant.grant.agent_keyid == submitter)
    ):
        from qprov.grant import verify_grant

        verified = verify_grant(grant, run.trust)
        public = grant.grant.agent_key
        kind: Literal["composite", "mldsa"] = (
            "composite" if public.algorithm.is_composite else "mldsa"
        )
        key = TrustedKey(submitter, public.algorithm.name, kind, public.to_sslib_key(), "agent")
        crypto_role = next(
            (run.trust.roles[r] for r in ("agent", _SUBMITTER, "owner") if r in run.trust.roles),
            None,
        )
        if crypto_role is None:
            raise ConfigError("trust file has no agent, submitter or owner role")
        run.trust.check_algorithm(key, crypto_role)
        key.verify(sig, env.pae())
        owners = ", ".join(_short(k) for k in verified.owner_keyids)
        return f"signed by agent key {_short(submitter)} under a grant by owner {owners}"
    keyids = run.trust.verify_signatures(env.pae(), [(submitter, sig)], _SUBMITTER)
    return f"signed by submitter key {_short(keyids[0])}"


def _manifest_link(run: _Run) -> str:
    r = run.receipt.receipt
    pm = run.manifest.manifest
    m = pm.manifest
    problems = []
    if r.manifest_sha256 != pm.digest:
        problems.append(
            f"the receipt is for manifest sha256:{r.manifest_sha256[:16]}…, the manifest given "
            f"is sha256:{pm.digest[:16]}…"
        )
    else:
        if r.nonce != m.nonce:
            problems.append(f"the receipt's nonce {r.nonce} is not the manifest's {m.nonce}")
        if r.circuit_sha256 != pm.circuit_sha256:
            problems.append("the receipt names another circuit than the manifest")
        if r.shots != m.shots:
            problems.append(f"the receipt reports {r.shots} shots, the manifest asked {m.shots}")
        if r.backend != m.backend:
            problems.append(f"the job ran on {r.backend!r}, the manifest asked {m.backend!r}")
    if problems:
        raise PolicyError("; ".join(problems))
    return f"receipt names manifest sha256:{pm.digest[:16]}… (nonce {m.nonce})"


def _circuit_link(run: _Run, circuit: bytes) -> str:
    sha = hashlib.sha256(circuit).hexdigest()
    pm = run.manifest.manifest
    problems = []
    if sha != pm.circuit_sha256:
        problems.append(
            f"the circuit given is sha256:{sha[:16]}…, the manifest signed "
            f"sha256:{pm.circuit_sha256[:16]}…"
        )
    if sha != run.receipt.receipt.circuit_sha256:
        problems.append(
            f"the receipt names circuit sha256:{run.receipt.receipt.circuit_sha256[:16]}…"
        )
    if problems:
        raise PolicyError("; ".join(problems))
    return f"{pm.circuit_name}: sha256:{sha[:16]}… as signed in the manifest and the receipt"


def _result_link(run: _Run, result: bytes) -> str:
    sha = hashlib.sha256(result).hexdigest()
    r = run.receipt.receipt
    if sha != run.receipt.result_sha256:
        raise PolicyError(
            f"the result given is sha256:{sha[:16]}…, the receipt signed "
            f"sha256:{run.receipt.result_sha256[:16]}… (counts changed after signing?)"
        )
    check_canonical_result(result, shots=r.shots, clbits=r.clbits)
    return f"sha256:{sha[:16]}…, canonical counts of {r.shots} shots over {r.clbits} bits"


def _executed_link(run: _Run) -> str:
    from qprov.repro import load_qpy_with_digest

    qpy_matches(run.bundle)
    executed = run.receipt.receipt.executed_circuit
    circuit, loaded_digest = load_qpy_with_digest(
        run.bundle.executed_qpy, max_version=executed.qpy_version
    )
    digest = str(loaded_digest)
    if digest != executed.digest:
        raise PolicyError(
            f"the QPY's canonical digest is {digest[:16]}…, the receipt names "
            f"{executed.digest[:16]}…"
        )
    return (
        f"QPY v{executed.qpy_version} ({executed.qpy_size} bytes), canonical digest "
        f"{digest[:16]}…, {circuit.num_qubits} qubits, depth {circuit.depth()}"
    )


def _times_link(run: _Run) -> str:
    r = run.receipt.receipt
    m = run.manifest.manifest.manifest
    skew = run.clock_skew
    problems = []
    if r.queued_at + skew < m.issued_at:
        problems.append(
            f"queued at {format_time(r.queued_at)}, before the manifest was issued "
            f"({format_time(m.issued_at)})"
        )
    if r.queued_at - skew >= m.expires_at:
        problems.append(
            f"queued at {format_time(r.queued_at)}, after the manifest expired "
            f"({format_time(m.expires_at)})"
        )
    if r.finished_at > run.now + skew:
        problems.append(f"finished at {format_time(r.finished_at)}, in the future")
    if problems:
        raise PolicyError("; ".join(problems))
    return (
        f"queued {format_time(r.queued_at)}, ran {format_time(r.started_at)} to "
        f"{format_time(r.finished_at)}, within the manifest's window"
    )


def _inclusion(logged: LoggedEnvelope, log: LogTrust) -> VerifiedCheckpoint:
    from qprov.tlog import verify_inclusion_bundle

    return verify_inclusion_bundle(
        log_entry(logged.envelope), logged.proof, log.vkeys, origin=log.origin
    )


def _admission_link(run: _Run, log: LogTrust | None) -> str:
    from qprov.admission import DECISION_PREDICATE_TYPE, parse_decision
    from qprov.statement import verify_statement

    decision_logged = run.bundle.decision
    assert decision_logged is not None  # noqa: S101 - checked by the caller
    verified = verify_statement(
        decision_logged.envelope, run.trust, _GATEWAY, predicate_type=DECISION_PREDICATE_TYPE
    )
    decision = parse_decision(verified.statement)
    problems = []
    if not decision.admitted:
        problems.append("the decision refused the manifest")
    if decision.manifest_sha256 != run.receipt.receipt.manifest_sha256:
        problems.append("the decision is for another manifest than the receipt")
    if decision.nonce != run.receipt.receipt.nonce:
        problems.append("the decision's nonce differs from the receipt's")
    named = run.receipt.receipt.admission_sha256
    actual = hashlib.sha256(decision_logged.envelope.payload).hexdigest()
    if named is not None and named != actual:
        problems.append("the receipt names another admission decision")
    if problems:
        raise PolicyError("; ".join(problems))
    where = ""
    if log is not None:
        checkpoint = _inclusion(decision_logged, log)
        from qprov.tlog import ProofBundle

        index = ProofBundle.from_bytes(decision_logged.proof).index
        where = f", logged at index {index} (tree size {checkpoint.size})"
    return f"admitted at {format_time(decision.decided_at)} by the gateway{where}"


def _sdk_link(
    run: _Run, attestation: bytes | None, release_policy: ReleasePolicy | None
) -> tuple[bool, str]:
    """(skipped, reason) or raise."""
    sdk = run.manifest.manifest.manifest.sdk
    if release_policy is None:
        if attestation is not None:
            raise PolicyError("an SDK attestation was given without a release policy to check it")
        return True, "not checked: no release policy given"
    if sdk is None:
        raise PolicyError("the release policy requires SDK provenance; the manifest names no SDK")
    att = attestation if attestation is not None else run.manifest.bundle.sdk_attestation
    if att is None:
        raise PolicyError("no SDK attestation given, and the manifest bundle carries none")
    att_sha = hashlib.sha256(att).hexdigest()
    if sdk.attestation_sha256 is not None and att_sha != sdk.attestation_sha256:
        raise PolicyError(
            f"the SDK attestation (sha256:{att_sha[:16]}…) is not the one the manifest names "
            f"(sha256:{sdk.attestation_sha256[:16]}…)"
        )
    from qprov.slsa import verify_release_digest

    release = verify_release_digest(sdk.wheel_sha256, att, run.trust, release_policy)
    repo, ref = release.provenance.source()
    return False, (
        f"{sdk.name} {sdk.version} (wheel sha256:{sdk.wheel_sha256[:16]}…) built by "
        f"{release.provenance.builder_id} from {repo}@{ref}"
    )


def _log_inclusion(run: _Run, log: LogTrust) -> str:
    from qprov.tlog import ProofBundle

    checkpoint = _inclusion(run.bundle.receipt, log)
    run.checkpoint = checkpoint
    index = ProofBundle.from_bytes(run.bundle.receipt.proof).index
    run.facts["log"] = {"origin": checkpoint.origin, "index": index, "treeSize": checkpoint.size}
    return (
        f"receipt is entry {index} of log {checkpoint.origin!r} (checkpoint of size "
        f"{checkpoint.size} signed by {len(checkpoint.signers)} trusted key(s))"
    )


def _log_consistency(run: _Run, log: LogTrust, newer: bytes, proof: Sequence[bytes]) -> str:
    from qprov.tlog import verify_checkpoint, verify_consistency

    if run.checkpoint is None:
        raise VerificationError("not checked: the receipt's checkpoint did not verify")
    new = verify_checkpoint(newer, log.vkeys, origin=log.origin)
    verify_consistency(run.checkpoint, new, proof)
    run.facts.setdefault("log", {})["newerTreeSize"] = new.size
    return f"checkpoint of size {new.size} extends the receipt's (size {run.checkpoint.size})"


def _as_hashes(proof: Sequence[bytes] | bytes | None) -> tuple[bytes, ...]:
    from qprov.tlog import parse_hash_lines

    if proof is None:
        return ()
    if isinstance(proof, bytes | bytearray):
        return parse_hash_lines(bytes(proof), what="consistency proof")
    return tuple(bytes(h) for h in proof)


def check_chain(
    receipt_bundle: ReceiptBundle | bytes,
    manifest_bundle: ManifestBundle | bytes,
    circuit_bytes: bytes,
    result_bytes: bytes,
    trust: TrustStore,
    *,
    sdk_attestation: bytes | None = None,
    release_policy: ReleasePolicy | None = None,
    newer_checkpoint: bytes | None = None,
    consistency_proof: Sequence[bytes] | bytes | None = None,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> ChainReport:
    """Check every link (see :data:`LINKS`) and return the report; never raises for a
    failed link.

    Raises :class:`MalformedInputError` when a bundle cannot be parsed (there
    is no chain to check), and :class:`ConfigError` for a trust file without a
    usable ``[log]`` table.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.utcoffset() is None:
        raise MalformedInputError("now must be a timezone-aware datetime")
    if not isinstance(circuit_bytes, bytes) or not isinstance(result_bytes, bytes):
        raise MalformedInputError("the circuit and the result must be given as bytes")
    bundle = (
        receipt_bundle
        if isinstance(receipt_bundle, ReceiptBundle)
        else parse_receipt_bundle(receipt_bundle)
    )
    if isinstance(manifest_bundle, ManifestBundle):
        manifest_bundle = manifest_bundle.to_json()
    manifest = parse_bundle_full(manifest_bundle)
    hashes = _as_hashes(consistency_proof)
    log = log_trust(trust)
    run = _Run(bundle, bundle.parsed, manifest, trust, now, clock_skew)
    run.facts["receipt"] = {
        "digest": {"sha256": run.receipt.digest},
        "job": run.receipt.receipt.job_id,
        "backend": run.receipt.receipt.backend,
        "manifest": {"sha256": run.receipt.receipt.manifest_sha256},
        "result": {"sha256": run.receipt.result_sha256},
    }
    run.attempt("receipt-signature", lambda: _receipt_signature(run))
    run.attempt("manifest-signature", lambda: _manifest_signature(run))
    run.attempt("manifest", lambda: _manifest_link(run))
    run.attempt("circuit", lambda: _circuit_link(run, circuit_bytes))
    run.attempt("result", lambda: _result_link(run, result_bytes))
    run.attempt("executed-circuit", lambda: _executed_link(run))
    run.attempt("times", lambda: _times_link(run))
    if bundle.decision is None:
        run.skip("admission", "not checked: the bundle carries no admission decision")
    else:
        run.attempt("admission", lambda: _admission_link(run, log))
    try:
        skipped, reason = _sdk_link(run, sdk_attestation, release_policy)
    except Error as exc:
        run.fail("sdk", str(exc), type(exc))
    else:
        (run.skip if skipped else run.ok)("sdk", reason)
    run.attempt("log-inclusion", lambda: _log_inclusion(run, log))
    if newer_checkpoint is None:
        if hashes:
            run.fail("log-consistency", "a consistency proof was given without a newer checkpoint")
        else:
            run.skip("log-consistency", "not checked: no newer checkpoint given")
    else:
        run.attempt("log-consistency", lambda: _log_consistency(run, log, newer_checkpoint, hashes))
    links = tuple(run.links[name] for name in LINKS)
    return ChainReport(links, run.facts)


def verify_chain(
    receipt_bundle: ReceiptBundle | bytes,
    manifest_bundle: ManifestBundle | bytes,
    circuit_bytes: bytes,
    result_bytes: bytes,
    trust: TrustStore,
    *,
    sdk_attestation: bytes | None = None,
    release_policy: ReleasePolicy | None = None,
    newer_checkpoint: bytes | None = None,
    consistency_proof: Sequence[bytes] | bytes | None = None,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> ChainReport:
    """Verify every link offline; return the report, or raise :class:`ChainError`
    (a :class:`~qprov.errors.VerificationError`) naming each failed link."""
    report = check_chain(
        receipt_bundle,
        manifest_bundle,
        circuit_bytes,
        result_bytes,
        trust,
        sdk_attestation=sdk_attestation,
        release_policy=release_policy,
        newer_checkpoint=newer_checkpoint,
        consistency_proof=consistency_proof,
        now=now,
        clock_skew=clock_skew,
    )
    report.raise_for_failures()
    return report
