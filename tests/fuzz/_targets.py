"""Fuzz targets: one entry per parser that takes outside input.

Each target turns arbitrary bytes into a call of one qprov parser (writing the
bytes to a file first where the parser reads files). The property every target
must hold: the call returns a valid object or raises :class:`qprov.errors.Error`;
never another exception, never a hang (``run_target`` arms a timer), and never
unbounded memory (inputs are bounded; the atheris harness also runs with an
RSS limit).

Shared by tests/fuzz/test_parsers.py (hypothesis, bounded) and
scripts/fuzz/fuzz_parsers.py (atheris, long runs). docs/fuzzing.md lists them.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import Any

from qprov.errors import Error

from ._corpus import Corpus, build_corpus

# Inputs larger than this are cut: the property is about parsing, and every
# parser's own size limit is far above it, so memory stays bounded by input size.
MAX_INPUT = 64 * 1024


class ParserHang(Exception):  # noqa: N818 - a test signal, not a qprov error
    """A parser ran past its time budget."""


class ForeignException(AssertionError):  # noqa: N818 - a test failure, not a qprov error
    """A parser raised something other than a qprov error."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ParserHang in the main thread when the block runs over ``seconds``."""

    def _alarm(_sig: int, _frame: FrameType | None) -> None:
        raise ParserHang(f"parser ran over {seconds} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Context:
    """Lazily built shared state: the seed corpus, keys, a scratch directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.root = directory or Path(tempfile.mkdtemp(prefix="qprov-fuzz-"))
        self.scratch = self.root / "scratch"
        self.scratch.mkdir(parents=True, exist_ok=True)

    @cached_property
    def corpus(self) -> Corpus:
        return build_corpus(self.root / "corpus")

    @cached_property
    def demo(self) -> Path:
        _ = self.corpus
        return self.root / "corpus" / "demo"

    @cached_property
    def trust(self) -> Any:
        from qprov.trust import TrustStore

        path = self.demo / "trust-chain.toml"
        return TrustStore.from_toml(path.read_bytes(), path.parent)

    @cached_property
    def vkeys(self) -> list[Any]:
        from qprov.chain import log_trust

        return list(log_trust(self.trust).vkeys)

    def file(self, name: str, data: bytes) -> Path:
        """Write ``data`` to a scratch file (a fresh directory per name)."""
        path = self.scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def seeds(self, kinds: tuple[str, ...]) -> list[bytes]:
        out: list[bytes] = []
        for kind in kinds:
            out.extend(self.corpus.get(kind, []))
        return out


@dataclass(frozen=True)
class Target:
    name: str
    parser: str  # the public function the target exercises, for the inventory
    call: Callable[[Context, bytes], object]
    seeds: tuple[str, ...]
    high_risk: bool = False
    timeout: float = 10.0
    notes: str = field(default="")


def run_target(target: Target, ctx: Context, data: bytes) -> object | None:
    """Run one input. Returns the parsed object, or None for a qprov error.

    Raises ForeignException for any other exception and ParserHang on a hang.
    """
    data = data[:MAX_INPUT]
    try:
        with time_limit(target.timeout):
            return target.call(ctx, data)
    except Error:
        return None
    except ParserHang:
        raise
    except RecursionError as exc:
        raise ForeignException(f"{target.name}: RecursionError: {exc}") from exc
    except Exception as exc:
        raise ForeignException(f"{target.name}: {type(exc).__name__}: {exc}") from exc


# -- the targets ---------------------------------------------------------------------


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _envelope(ctx: Context, data: bytes) -> object:
    from qprov.dsse import parse_envelope

    return parse_envelope(data)


def _statement(ctx: Context, data: bytes) -> object:
    from qprov.statement import parse_statement

    return parse_statement(data)


def _json(data: bytes) -> Any:
    from qprov._canon import loads_strict

    return loads_strict(data)


def _manifest_bundle(ctx: Context, data: bytes) -> object:
    from qprov.manifest import parse_bundle

    return parse_bundle(data)


def _manifest_bundle_full(ctx: Context, data: bytes) -> object:
    from qprov.manifest import parse_bundle_full

    return parse_bundle_full(data)


def _manifest_envelope(ctx: Context, data: bytes) -> object:
    from qprov.dsse import parse_envelope
    from qprov.manifest import manifest_from_envelope

    return manifest_from_envelope(parse_envelope(data))


def _manifest_predicate(ctx: Context, data: bytes) -> object:
    from qprov.manifest import JobManifest

    return JobManifest.from_dict(_json(data))


def _grant(ctx: Context, data: bytes) -> object:
    from qprov.grant import parse_grant

    return parse_grant(data)


def _revocations(ctx: Context, data: bytes) -> object:
    from qprov.grant import GrantRevocation, parse_revocations
    from qprov.statement import parse_statement

    envelopes = parse_revocations(data)
    for env in envelopes:  # each line is then read as a revocation statement
        GrantRevocation.from_dict(parse_statement(env.payload).predicate)
    return envelopes


def _decision_envelope(ctx: Context, data: bytes) -> object:
    from qprov.admission import parse_decision
    from qprov.dsse import parse_envelope
    from qprov.statement import parse_statement

    return parse_decision(parse_statement(parse_envelope(data).payload))


def _decision_predicate(ctx: Context, data: bytes) -> object:
    from qprov.admission import AdmissionDecision

    return AdmissionDecision.from_dict(_json(data))


def _receipt_envelope(ctx: Context, data: bytes) -> object:
    from qprov.receipt import parse_receipt

    return parse_receipt(data)


def _receipt_predicate(ctx: Context, data: bytes) -> object:
    from qprov.receipt import ResultReceipt

    return ResultReceipt.from_dict(_json(data))


def _receipt_bundle(ctx: Context, data: bytes) -> object:
    from qprov.receipt import parse_receipt_bundle

    return parse_receipt_bundle(data)


def _receipt_bundle_verify(ctx: Context, data: bytes) -> object:
    """The receipt bundle through the offline verifier's first steps (proof + checkpoint)."""
    from qprov.receipt import log_entry, parse_receipt_bundle
    from qprov.tlog import verify_inclusion_bundle

    bundle = parse_receipt_bundle(data)
    logged = bundle.receipt
    return verify_inclusion_bundle(log_entry(logged.envelope), logged.proof, ctx.vkeys)


def _baseline_envelope(ctx: Context, data: bytes) -> object:
    from qprov.baseline import parse_baseline

    return parse_baseline(data)


def _baseline_predicate(ctx: Context, data: bytes) -> object:
    from qprov.baseline import SimulatorBaseline

    return SimulatorBaseline.from_dict(_json(data))


def _trust(ctx: Context, data: bytes) -> object:
    from qprov.trust import TrustStore

    return TrustStore.from_toml(data, ctx.demo)


def _trust_log(ctx: Context, data: bytes) -> object:
    from qprov.chain import log_trust
    from qprov.trust import TrustStore

    return log_trust(TrustStore.from_toml(data, ctx.demo))


def _admission_policy(ctx: Context, data: bytes) -> object:
    from qprov.policy import AdmissionPolicy

    return AdmissionPolicy.from_toml(data, ctx.demo)


def _release_policy(ctx: Context, data: bytes) -> object:
    from qprov.slsa import ReleasePolicy

    return ReleasePolicy.from_toml(data, ctx.demo)


def _gateway_config(ctx: Context, data: bytes) -> object:
    from qprov.gateway import GatewayConfig

    return GatewayConfig.from_toml(data, ctx.demo)


def _circuit(fmt: str | None) -> Callable[[Context, bytes], object]:
    def call(ctx: Context, data: bytes) -> object:
        from qprov.circuits import analyze_circuit

        return analyze_circuit(data, format=fmt)

    return call


def _executed_qpy(ctx: Context, data: bytes) -> object:
    from qprov.repro import load_qpy

    return load_qpy(data)


def _counts(ctx: Context, data: bytes) -> object:
    from qprov.repro import parse_counts

    return parse_counts(data, num_clbits=2, shots=1024)


def _counts_registers(ctx: Context, data: bytes) -> object:
    from qprov.repro import parse_counts

    return parse_counts(data, num_clbits=3, shots=8, register_sizes=[2, 1])


def _canonical_result(ctx: Context, data: bytes) -> object:
    from qprov.receipt import check_canonical_result

    check_canonical_result(data, shots=1024, clbits=2)
    return True


def _calibration(ctx: Context, data: bytes) -> object:
    from qprov.repro import CalibrationSnapshot

    return CalibrationSnapshot.from_json(data)


def _note(ctx: Context, data: bytes) -> object:
    from qprov.tlog import parse_note

    return parse_note(data)


def _checkpoint(ctx: Context, data: bytes) -> object:
    from qprov.tlog import parse_checkpoint

    return parse_checkpoint(data)


def _checkpoint_verify(ctx: Context, data: bytes) -> object:
    from qprov.tlog import verify_checkpoint

    return verify_checkpoint(data, ctx.vkeys, require_all=False)


def _note_verify(ctx: Context, data: bytes) -> object:
    from qprov.tlog import verify_note

    return verify_note(data, ctx.vkeys)


def _proof_bundle(ctx: Context, data: bytes) -> object:
    from qprov.tlog import ProofBundle

    return ProofBundle.from_bytes(data)


def _hash_lines(ctx: Context, data: bytes) -> object:
    from qprov.tlog import parse_hash_lines

    return parse_hash_lines(data)


def _vkey(ctx: Context, data: bytes) -> object:
    from qprov.tlog import parse_vkey

    return parse_vkey(_text(data))


def _monitor_state(ctx: Context, data: bytes) -> object:
    from qprov.tlog import Monitor

    return Monitor(ctx.file("monitor/state.json", data), ctx.vkeys)


def _public_key(ctx: Context, data: bytes) -> object:
    from qprov.keys import load_public_key

    return load_public_key(data)


def _private_key(ctx: Context, data: bytes) -> object:
    from qprov.keys import load_private_key

    return load_private_key(data, "wrong passphrase")


def _signer_env(ctx: Context, data: bytes) -> object:
    from qprov.keys import load_signer

    text = _text(data).replace("\0", "")
    os.environ["QPROV_FUZZ_SIGNER"] = text
    try:
        return load_signer("env:QPROV_FUZZ_SIGNER", passphrase=lambda: "wrong passphrase")
    finally:
        del os.environ["QPROV_FUZZ_SIGNER"]


def _wheel(ctx: Context, data: bytes) -> object:
    from qprov.sbom import ArchiveLimits, build_sbom, scan_files

    path = ctx.file("wheels/qsdk-1.0.0-py3-none-any.whl", data)
    limits = ArchiveLimits()
    inventory = scan_files([path], limits=limits)
    return build_sbom(inventory, validate=False)


def _sdist(ctx: Context, data: bytes) -> object:
    from qprov.sbom import scan_files

    return scan_files([ctx.file("sdists/qsdk-1.0.0.tar.gz", data)])


def _record(ctx: Context, data: bytes) -> object:
    from qprov.sbom import parse_record

    return parse_record(_text(data))


def _metadata(ctx: Context, data: bytes) -> object:
    from qprov.sbom import parse_metadata

    return parse_metadata(data, origin="fuzz/METADATA")


def _embedded_sbom(ctx: Context, data: bytes) -> object:
    from qprov.sbom._embedded import load_embedded

    return load_embedded("qsdk-1.0.0.dist-info/sboms/x.cdx.json", data)


def _project(filename: str, report: bool = False) -> Callable[[Context, bytes], object]:
    def call(ctx: Context, data: bytes) -> object:
        from qprov.sbom import build_sbom, scan_project

        directory = ctx.scratch / f"project-{filename}"
        if directory.exists():
            for child in directory.iterdir():
                child.unlink()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / filename).write_bytes(data)
        if filename == "pyproject.toml":
            (directory / "requirements.txt").write_bytes(b"numpy==2.0.0\n")
        inventory = scan_project(directory, report=directory / filename if report else None)
        return build_sbom(inventory, validate=False)

    return call


def _provenance(ctx: Context, data: bytes) -> object:
    from qprov.slsa import parse_provenance_json

    return parse_provenance_json(data)


def _attestation_bundle(ctx: Context, data: bytes) -> object:
    from qprov.slsa import parse_attestation_bundle

    return parse_attestation_bundle(data)


def _sdk_attestation(ctx: Context, data: bytes) -> object:
    from qprov.manifest import sdk_from_attestation

    return sdk_from_attestation(data)


_SIGSTORE_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


def _sigstore_policy() -> Any:
    from qprov.sigstore import SigstorePolicy

    return SigstorePolicy(
        identity=_SIGSTORE_IDENTITY, issuer="https://token.actions.githubusercontent.com"
    )


def _sigstore_bundle(ctx: Context, data: bytes) -> object:
    from qprov.sigstore import ArtifactDigest, verify_bundle

    return verify_bundle(data, ArtifactDigest.of_bytes(b"artifact", "a.whl"), _sigstore_policy())


_KEYED = Path(__file__).resolve().parents[1] / "sigstore" / "data" / "keyed"


def _sigstore_keyed_bundle(ctx: Context, data: bytes) -> object:
    from qprov.sigstore import PinnedTrustedRoot, TrustedPublicKey, verify_keyed_bundle

    root_bytes = (_KEYED / "trusted_root.json").read_bytes()
    root = PinnedTrustedRoot("keyed vectors", hashlib.sha256(root_bytes).hexdigest(), root_bytes)  # type: ignore[arg-type]
    key = TrustedPublicKey.from_pem((_KEYED / "signer-p256.pub").read_bytes())
    artifact = (_KEYED / "artifact.txt").read_bytes()
    return verify_keyed_bundle(data, artifact, key, trusted_root=root)


def _trusted_root(ctx: Context, data: bytes) -> object:
    from qprov.sigstore import ArtifactDigest, PinnedTrustedRoot, verify_bundle

    bundles = ctx.corpus.get("sigstore-bundle", [])
    root = PinnedTrustedRoot("fuzz", hashlib.sha256(data).hexdigest(), data)  # type: ignore[arg-type]
    policy = _sigstore_policy()
    bundle = bundles[0] if bundles else b"{}"
    return verify_bundle(bundle, ArtifactDigest.of_bytes(b"a"), policy, trusted_root=root)


_ENVELOPE = ("envelope", "manifest-envelope", "receipt-envelope", "decision-envelope", "grant")

TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        # envelopes, statements, qprov predicates
        Target("dsse-envelope", "qprov.dsse.parse_envelope", _envelope, _ENVELOPE, True),
        Target("statement", "qprov.statement.parse_statement", _statement, ("statement",), True),
        Target(
            "manifest-bundle",
            "qprov.manifest.parse_bundle",
            _manifest_bundle,
            ("manifest-bundle",),
            True,
        ),
        Target(
            "manifest-bundle-full",
            "qprov.manifest.parse_bundle_full",
            _manifest_bundle_full,
            ("manifest-bundle",),
            True,
        ),
        Target(
            "manifest-envelope",
            "qprov.manifest.manifest_from_envelope",
            _manifest_envelope,
            ("manifest-envelope",),
        ),
        Target(
            "manifest-predicate",
            "qprov.manifest.JobManifest.from_dict",
            _manifest_predicate,
            ("manifest-predicate",),
        ),
        Target("grant", "qprov.grant.parse_grant", _grant, ("grant",), True),
        Target(
            "grant-revocations", "qprov.grant.parse_revocations", _revocations, ("revocations",)
        ),
        Target(
            "decision-envelope",
            "qprov.admission.parse_decision",
            _decision_envelope,
            ("decision-envelope",),
        ),
        Target(
            "decision-predicate",
            "qprov.admission.AdmissionDecision.from_dict",
            _decision_predicate,
            ("decision-predicate",),
        ),
        Target(
            "receipt-envelope",
            "qprov.receipt.parse_receipt",
            _receipt_envelope,
            ("receipt-envelope",),
        ),
        Target(
            "receipt-predicate",
            "qprov.receipt.ResultReceipt.from_dict",
            _receipt_predicate,
            ("receipt-predicate",),
        ),
        Target(
            "receipt-bundle",
            "qprov.receipt.parse_receipt_bundle",
            _receipt_bundle,
            ("receipt-bundle",),
            True,
        ),
        Target(
            "receipt-bundle-proof",
            "qprov.tlog.verify_inclusion_bundle (receipt bundle)",
            _receipt_bundle_verify,
            ("receipt-bundle",),
            True,
        ),
        Target(
            "baseline-envelope",
            "qprov.baseline.parse_baseline",
            _baseline_envelope,
            ("baseline-envelope",),
        ),
        Target(
            "baseline-predicate",
            "qprov.baseline.SimulatorBaseline.from_dict",
            _baseline_predicate,
            ("baseline-predicate",),
        ),
        # trust, policy, configuration
        Target("trust", "qprov.trust.TrustStore.from_toml", _trust, ("trust",), True),
        Target("trust-log", "qprov.chain.log_trust", _trust_log, ("trust",)),
        Target(
            "admission-policy",
            "qprov.policy.AdmissionPolicy.from_toml",
            _admission_policy,
            ("admission-policy",),
            True,
        ),
        Target(
            "release-policy",
            "qprov.slsa.ReleasePolicy.from_toml",
            _release_policy,
            ("release-policy",),
            True,
        ),
        Target(
            "gateway-config",
            "qprov.gateway.GatewayConfig.from_toml",
            _gateway_config,
            ("gateway-config",),
            True,
        ),
        # circuits as the gateway receives them, results
        Target(
            "circuit",
            "qprov.circuits.analyze_circuit",
            _circuit(None),
            ("qasm", "qasm3", "qpy"),
            True,
            20.0,
        ),
        Target(
            "circuit-openqasm2",
            "qprov.circuits.analyze_circuit(format='openqasm2')",
            _circuit("openqasm2"),
            ("qasm",),
            True,
            20.0,
        ),
        Target(
            "circuit-openqasm3",
            "qprov.circuits.analyze_circuit(format='openqasm3')",
            _circuit("openqasm3"),
            ("qasm3",),
            True,
            20.0,
        ),
        Target(
            "circuit-qpy",
            "qprov.circuits.analyze_circuit(format='qpy')",
            _circuit("qpy"),
            ("qpy",),
            True,
            20.0,
        ),
        Target("executed-qpy", "qprov.repro.load_qpy", _executed_qpy, ("qpy",), True, 20.0),
        Target("counts", "qprov.repro.parse_counts", _counts, ("counts",), True),
        Target(
            "counts-registers",
            "qprov.repro.parse_counts(register_sizes=...)",
            _counts_registers,
            ("counts",),
            True,
        ),
        Target(
            "canonical-result",
            "qprov.receipt.check_canonical_result",
            _canonical_result,
            ("counts",),
            True,
        ),
        Target(
            "calibration",
            "qprov.repro.CalibrationSnapshot.from_json",
            _calibration,
            ("calibration",),
        ),
        # transparency log
        Target("note", "qprov.tlog.parse_note", _note, ("note",), True),
        Target("checkpoint", "qprov.tlog.parse_checkpoint", _checkpoint, ("checkpoint",), True),
        Target(
            "checkpoint-verify", "qprov.tlog.verify_checkpoint", _checkpoint_verify, ("note",), True
        ),
        Target("note-verify", "qprov.tlog.verify_note", _note_verify, ("note",), True),
        Target(
            "proof-bundle",
            "qprov.tlog.ProofBundle.from_bytes",
            _proof_bundle,
            ("proof-bundle",),
            True,
        ),
        Target("hash-lines", "qprov.tlog.parse_hash_lines", _hash_lines, ("hash-lines",)),
        Target("vkey", "qprov.tlog.parse_vkey", _vkey, ("vkey",)),
        Target(
            "monitor-state", "qprov.tlog.Monitor (state file)", _monitor_state, ("monitor-state",)
        ),
        # keys
        Target("public-key", "qprov.keys.load_public_key", _public_key, ("public-key",)),
        Target("private-key", "qprov.keys.load_private_key", _private_key, ("private-key",)),
        Target("signer-env", "qprov.keys.load_signer('env:...')", _signer_env, ("private-key",)),
        # SBOM inputs
        Target(
            "wheel", "qprov.sbom.scan_files (wheel) + build_sbom", _wheel, ("wheel",), True, 20.0
        ),
        Target("sdist", "qprov.sbom.scan_files (sdist)", _sdist, ("sdist",), True),
        Target("record", "qprov.sbom.parse_record", _record, ("record",)),
        Target("metadata", "qprov.sbom.parse_metadata", _metadata, ("metadata",)),
        Target(
            "embedded-sbom",
            "qprov.sbom._embedded.load_embedded",
            _embedded_sbom,
            ("embedded-sbom",),
        ),
        Target(
            "pip-report",
            "qprov.sbom.scan_project(report=...) + build_sbom",
            _project("report.json", report=True),
            ("pip-report",),
            True,
        ),
        Target(
            "requirements",
            "qprov.sbom.scan_project (requirements.txt) + build_sbom",
            _project("requirements.txt"),
            ("requirements",),
            True,
        ),
        Target(
            "pylock",
            "qprov.sbom.scan_project (pylock.toml) + build_sbom",
            _project("pylock.toml"),
            ("pylock",),
        ),
        Target(
            "pyproject",
            "qprov.sbom.scan_project (pyproject.toml)",
            _project("pyproject.toml"),
            ("pyproject",),
        ),
        # SLSA and Sigstore
        Target("provenance", "qprov.slsa.parse_provenance_json", _provenance, ("provenance",)),
        Target(
            "attestation-bundle",
            "qprov.slsa.parse_attestation_bundle",
            _attestation_bundle,
            ("attestation-bundle",),
            True,
        ),
        Target(
            "sdk-attestation",
            "qprov.manifest.sdk_from_attestation",
            _sdk_attestation,
            ("attestation-bundle",),
        ),
        Target(
            "sigstore-bundle",
            "qprov.sigstore.verify_bundle",
            _sigstore_bundle,
            ("sigstore-bundle",),
            True,
            20.0,
        ),
        Target(
            "sigstore-keyed-bundle",
            "qprov.sigstore.verify_keyed_bundle",
            _sigstore_keyed_bundle,
            ("sigstore-keyed-bundle",),
            True,
            20.0,
        ),
        Target(
            "sigstore-trusted-root",
            "qprov.sigstore.PinnedTrustedRoot + verify_bundle",
            _trusted_root,
            ("trusted-root",),
            False,
            20.0,
        ),
    ]
}

__all__ = [
    "MAX_INPUT",
    "TARGETS",
    "Context",
    "ForeignException",
    "ParserHang",
    "Target",
    "run_target",
    "time_limit",
]
