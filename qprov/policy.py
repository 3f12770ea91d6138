"""Admission policy: what a gateway admits (TOML, ``attestations/admission-policy.md``).

The policy is data, read by the library, the CLI and the HTTP gateway alike::

    policy = load_admission_policy("admission-policy.toml")

Empty allow-lists and zero or negative limits are :class:`~qprov.errors.ConfigError`,
never "allow everything"; unknown fields are errors (a typo must not weaken a policy).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from qprov.errors import ConfigError, Error
from qprov.grant import GATE_RE, NAME_RE, RevocationList, parse_revocations
from qprov.slsa import ReleasePolicy, load_release_policy

__all__ = [
    "AdmissionPolicy",
    "ApprovalPolicy",
    "BackendLimits",
    "QuotaPolicy",
    "load_admission_policy",
]

_MAX_POLICY_FILE: Final = 1024 * 1024
_MAX_SECONDS: Final = 366 * 86_400


@dataclass(frozen=True)
class BackendLimits:
    """Limits of one allowed backend."""

    name: str
    max_qubits: int
    max_shots: int | None = None
    cost_per_shot: float | None = None


@dataclass(frozen=True)
class QuotaPolicy:
    """Shots per submitter in a sliding window."""

    shots: int
    window: timedelta


@dataclass(frozen=True)
class ApprovalPolicy:
    """When an approver's co-signature is required (any condition suffices)."""

    shots_above: int | None = None
    backends: frozenset[str] = frozenset()
    cost_above: float | None = None

    def reasons(self, backend: str, shots: int, cost: float | None) -> list[str]:
        out = []
        if self.shots_above is not None and shots > self.shots_above:
            out.append(f"{shots} shots > {self.shots_above}")
        if backend in self.backends:
            out.append(f"backend {backend} requires approval")
        if self.cost_above is not None and cost is not None and cost > self.cost_above:
            out.append(f"cost {cost:g} > {self.cost_above:g}")
        return out


@dataclass(frozen=True)
class AdmissionPolicy:
    """A parsed admission policy."""

    max_shots: int
    max_lifetime: timedelta
    clock_skew: timedelta
    allowed_gates: frozenset[str]
    backends: Mapping[str, BackendLimits]
    sdk_required: bool = False
    release_policy: ReleasePolicy | None = None
    quota: QuotaPolicy | None = None
    approval: ApprovalPolicy | None = None
    accept_agents: bool = False
    revocations: RevocationList = field(default_factory=RevocationList)
    max_circuit_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.allowed_gates:
            raise ConfigError("admission policy: allowed_gates is empty: no circuit could run")
        if not self.backends:
            raise ConfigError("admission policy: no [backends.NAME] table: no job could run")
        for name in ("max_shots", "max_circuit_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"admission policy: {name} must be positive")
        if self.max_lifetime <= timedelta(0):
            raise ConfigError("admission policy: max_lifetime must be positive")
        if self.clock_skew < timedelta(0):
            raise ConfigError("admission policy: clock_skew must not be negative")
        if self.approval is not None:
            unknown = sorted(self.approval.backends - set(self.backends))
            if unknown:
                raise ConfigError(
                    "admission policy: [approval].backends names what is not an allowed "
                    f"backend: {', '.join(unknown)}"
                )
        if self.sdk_required and self.release_policy is None:
            raise ConfigError("admission policy: [sdk] required = true needs release_policy")

    def backend_limits(self, backend: str) -> BackendLimits | None:
        return self.backends.get(backend)

    def max_shots_for(self, backend: str) -> int:
        limits = self.backends.get(backend)
        if limits is not None and limits.max_shots is not None:
            return min(limits.max_shots, self.max_shots)
        return self.max_shots

    @classmethod
    def from_toml(cls, data: bytes, base_dir: Path | None = None) -> AdmissionPolicy:
        if len(data) > _MAX_POLICY_FILE:
            raise ConfigError("admission policy file is too large")
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("admission policy is not valid UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"admission policy is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError("admission policy is not valid TOML: nested too deeply") from None
        return cls.from_dict(doc, base_dir or Path.cwd())

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], base_dir: Path) -> AdmissionPolicy:
        _fields(
            doc,
            "the file",
            {
                "version",
                "max_shots",
                "max_lifetime",
                "clock_skew",
                "allowed_gates",
                "max_circuit_bytes",
                "backends",
                "sdk",
                "quota",
                "approval",
                "agents",
            },
        )
        version = doc.get("version")
        if version != 1 or isinstance(version, bool):
            raise ConfigError("admission policy: 'version = 1' is required")
        gates = _names(doc.get("allowed_gates"), "allowed_gates", gate=True)
        backends_doc = doc.get("backends")
        if not isinstance(backends_doc, dict) or not backends_doc:
            raise ConfigError("admission policy: at least one [backends.NAME] table is required")
        backends: dict[str, BackendLimits] = {}
        for name, table in backends_doc.items():
            where = f"[backends.{name}]"
            if not NAME_RE.fullmatch(name):
                raise ConfigError(f"admission policy: invalid backend name {name!r}")
            if not isinstance(table, dict):
                raise ConfigError(f"admission policy: {where} must be a table")
            _fields(table, where, {"max_qubits", "max_shots", "cost_per_shot"})
            backends[name] = BackendLimits(
                name,
                _positive_int(table.get("max_qubits"), f"{where}.max_qubits"),
                _positive_int(table["max_shots"], f"{where}.max_shots")
                if "max_shots" in table
                else None,
                _non_negative_float(table["cost_per_shot"], f"{where}.cost_per_shot")
                if "cost_per_shot" in table
                else None,
            )
        sdk_required, release_policy = _sdk(doc.get("sdk"), base_dir)
        quota = None
        if "quota" in doc:
            q = _table(doc["quota"], "[quota]", {"shots", "window"})
            quota = QuotaPolicy(
                _positive_int(q.get("shots"), "[quota].shots"),
                timedelta(seconds=_seconds(q.get("window"), "[quota].window")),
            )
        approval = None
        if "approval" in doc:
            a = _table(doc["approval"], "[approval]", {"shots_above", "backends", "cost_above"})
            if not a:
                raise ConfigError("admission policy: [approval] is empty: name a threshold")
            approval = ApprovalPolicy(
                _positive_int(a["shots_above"], "[approval].shots_above")
                if "shots_above" in a
                else None,
                frozenset(_names(a["backends"], "[approval].backends"))
                if "backends" in a
                else frozenset(),
                _non_negative_float(a["cost_above"], "[approval].cost_above")
                if "cost_above" in a
                else None,
            )
        accept_agents, revocations = _agents(doc.get("agents"), base_dir)
        return cls(
            max_shots=_positive_int(doc.get("max_shots"), "max_shots"),
            max_lifetime=timedelta(seconds=_seconds(doc.get("max_lifetime"), "max_lifetime")),
            clock_skew=timedelta(
                seconds=_seconds(doc.get("clock_skew", 60), "clock_skew", allow_zero=True)
            ),
            allowed_gates=frozenset(gates),
            backends=backends,
            sdk_required=sdk_required,
            release_policy=release_policy,
            quota=quota,
            approval=approval,
            accept_agents=accept_agents,
            revocations=revocations,
            max_circuit_bytes=_positive_int(
                doc.get("max_circuit_bytes", 8 * 1024 * 1024), "max_circuit_bytes"
            ),
        )


def load_admission_policy(path: str | Path) -> AdmissionPolicy:
    """Read an admission policy file; relative paths in it are relative to the file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read admission policy {p}: {exc.strerror}") from None
    return AdmissionPolicy.from_toml(data, p.parent)


# -- helpers -----------------------------------------------------------------------------


def _fields(table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"admission policy: unknown field(s) in {where}: {', '.join(unknown)}")


def _table(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"admission policy: {where} must be a table")
    _fields(value, where, allowed)
    return value


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"admission policy: {where} must be a positive integer")
    return value


def _non_negative_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e18:
        raise ConfigError(f"admission policy: {where} must be a non-negative number")
    return float(value)


def _seconds(value: Any, where: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"admission policy: {where} must be an integer number of seconds")
    if value < 0 or (value == 0 and not allow_zero) or value > _MAX_SECONDS:
        raise ConfigError(
            f"admission policy: {where} must be {'>= 0' if allow_zero else '> 0'} "
            f"and at most {_MAX_SECONDS} seconds"
        )
    return value


def _names(value: Any, where: str, *, gate: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"admission policy: {where} must be a list of strings")
    if not value:
        raise ConfigError(f"admission policy: {where} is empty: it would allow nothing")
    pattern = GATE_RE if gate else NAME_RE
    for v in value:
        if not pattern.fullmatch(v):
            raise ConfigError(f"admission policy: {where}: invalid name {v!r}")
    return list(value)


def _sdk(value: Any, base_dir: Path) -> tuple[bool, ReleasePolicy | None]:
    if value is None:
        return False, None
    t = _table(value, "[sdk]", {"required", "release_policy"})
    required = t.get("required", False)
    if not isinstance(required, bool):
        raise ConfigError("admission policy: [sdk].required must be true or false")
    path = t.get("release_policy")
    if path is None:
        if required:
            raise ConfigError("admission policy: [sdk] required = true needs release_policy")
        return False, None
    if not isinstance(path, str) or not path:
        raise ConfigError("admission policy: [sdk].release_policy must be a file name")
    try:
        return required, load_release_policy(base_dir / path)
    except Error as exc:
        raise ConfigError(f"admission policy: [sdk].release_policy: {exc}") from None


def _agents(value: Any, base_dir: Path) -> tuple[bool, RevocationList]:
    if value is None:
        return False, RevocationList()
    t = _table(value, "[agents]", {"accept", "revocations", "revoked_grants"})
    accept = t.get("accept", False)
    if not isinstance(accept, bool):
        raise ConfigError("admission policy: [agents].accept must be true or false")
    files = t.get("revocations", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise ConfigError("admission policy: [agents].revocations must be a list of file names")
    envelopes = []
    for name in files:
        path = base_dir / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"admission policy: cannot read {path}: {exc.strerror}") from None
        envelopes.extend(parse_revocations(data, what=str(path)))
    digests = t.get("revoked_grants", [])
    if not isinstance(digests, list):
        raise ConfigError("admission policy: [agents].revoked_grants must be a list of digests")
    try:
        return accept, RevocationList(envelopes, digests)
    except Error as exc:
        raise ConfigError(f"admission policy: [agents]: {exc}") from None
