"""``qprov attest``: SLSA provenance, build and verify release attestations.

Flags take ``QPROV_ATTEST_<COMMAND>_<OPTION>`` environment variables (click's
auto prefix), e.g. ``QPROV_ATTEST_BUILD_KEY=env:RELEASE_KEY``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qprov._io import read_input, write_output
from qprov.errors import Error

if TYPE_CHECKING:
    from qprov.slsa import ReleasePolicy, ReleaseReport

_FILE = click.Path(exists=True, dir_okay=False, readable=True)


def _status(line: str) -> None:
    click.echo(line, err=True)


@click.group()
def attest() -> None:
    """SLSA provenance: build and verify release attestations."""


@attest.command("build")
@click.option(
    "--subject",
    "subjects",
    multiple=True,
    required=True,
    type=_FILE,
    help="Artifact to attest (repeat for several); named by its file name.",
)
@click.option("--sbom", type=_FILE, default=None, help="CycloneDX JSON SBOM to attest as well.")
@click.option("--key", "key_uri", required=True, help="Signer URI: file:PATH or env:VARIABLE.")
@click.option(
    "-o",
    "--output",
    required=True,
    help="The .intoto.jsonl bundle to write (- for stdout). Written atomically.",
)
@click.option(
    "--builder-id",
    default=None,
    help="Override runDetails.builder.id (default: the workflow in GitHub Actions, "
    "https://qprov.dev/builders/local/v1 elsewhere).",
)
@click.option(
    "--source-dir",
    type=click.Path(file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="Source tree whose git commit is recorded (local builds).",
)
def attest_build(
    subjects: tuple[str, ...],
    sbom: str | None,
    key_uri: str,
    output: str,
    builder_id: str | None,
    source_dir: str,
) -> None:
    """Sign SLSA provenance (and an SBOM statement) for the subjects into OUT."""
    from qprov import __version__
    from qprov._cli_core import _ask_passphrase
    from qprov.keys import load_signer
    from qprov.slsa import (
        build_attestations,
        build_predicate,
        provenance_statement,
        sbom_statement,
        subjects_from_files,
    )

    # every input is read and checked before anything is signed or written
    files = [(Path(p).name, read_input(p, what="subject")) for p in subjects]
    subject_list = subjects_from_files(files)
    sbom_bytes = read_input(sbom, what="SBOM") if sbom is not None else None
    predicate = build_predicate(
        os.environ,
        source_dir=Path(source_dir),
        builder_id=builder_id,
        qprov_version=__version__,
    )
    provenance_statement(subject_list, predicate)
    if sbom_bytes is not None:
        sbom_statement(subject_list, sbom_bytes)
    signer = load_signer(key_uri, _ask_passphrase)
    bundle = build_attestations(subject_list, [signer], predicate=predicate, sbom=sbom_bytes)
    write_output(output, bundle)
    kinds = "provenance" + (" and SBOM" if sbom_bytes is not None else "")
    _status(
        f"OK: attested {', '.join(s.name for s in subject_list)} ({kinds}, "
        f"{predicate['buildDefinition']['buildType']}) with {signer.algorithm.name} key "
        f"{signer.public_key.keyid[:16]}… into {output}"
    )


@attest.command("verify")
@click.argument("artifact", type=_FILE)
@click.option(
    "--attestation",
    required=True,
    type=_FILE,
    help="qprov's .intoto.jsonl bundle (or one DSSE envelope), or an upstream Sigstore "
    "bundle: GitHub artifact attestation, PEP 740 attestation, PyPI provenance, release bundle.",
)
@click.option(
    "--trust",
    "trust_file",
    type=_FILE,
    help="Trust file (TOML); required for qprov attestations, unused for Sigstore bundles.",
)
@click.option(
    "--policy",
    "policy_file",
    type=_FILE,
    help="Release policy (TOML); required for qprov attestations; for Sigstore bundles its "
    "[sigstore] table gives the identity policy and its provenance checks apply.",
)
@click.option(
    "--certificate-identity",
    "identity",
    metavar="ID",
    help="Sigstore: expected signer identity (certificate SAN), exact; overrides the policy.",
)
@click.option(
    "--certificate-oidc-issuer",
    "issuer",
    metavar="URL",
    help="Sigstore: expected OIDC issuer; overrides the policy.",
)
@click.option("--repository", metavar="OWNER/NAME", help="Sigstore: GitHub workflow repository.")
@click.option("--ref", metavar="REF", help="Sigstore: GitHub workflow ref, e.g. refs/tags/v1.0.")
@click.option(
    "--trusted-root",
    "trusted_root_path",
    type=_FILE,
    help="Sigstore TrustedRoot JSON (default: the policy's, else qprov's pinned production root).",
)
@click.option("--trusted-root-sha256", metavar="HEX", help="Pinned sha256 of --trusted-root.")
@click.option("--staging", is_flag=True, help="Sigstore: qprov's pinned staging root (tests only).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON verdict on stdout.")
def attest_verify(
    artifact: str,
    attestation: str,
    trust_file: str | None,
    policy_file: str | None,
    identity: str | None,
    issuer: str | None,
    repository: str | None,
    ref: str | None,
    trusted_root_path: str | None,
    trusted_root_sha256: str | None,
    staging: bool,
    as_json: bool,
) -> None:
    """Verify ARTIFACT's provenance: qprov attestations against a trust file and a
    release policy, upstream Sigstore bundles offline against a pinned trusted root
    and an identity policy (plus the release policy when they carry SLSA provenance).
    """
    from qprov.slsa import check_release, load_release_policy, sigstore_bundles
    from qprov.trust import load_trust

    bundle = read_input(attestation, what="attestation")
    sigstore = sigstore_bundles(bundle) is not None
    sigstore_flags = {
        "--certificate-identity": identity,
        "--certificate-oidc-issuer": issuer,
        "--repository": repository,
        "--ref": ref,
        "--trusted-root": trusted_root_path,
        "--trusted-root-sha256": trusted_root_sha256,
        "--staging": staging or None,
    }
    if not sigstore:
        given = [flag for flag, value in sigstore_flags.items() if value is not None]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: only for Sigstore bundles; {attestation} is not one"
            )
        if trust_file is None or policy_file is None:
            raise click.UsageError("a qprov attestation needs --trust and --policy")
    trust = load_trust(trust_file) if trust_file is not None and not sigstore else None
    policy = load_release_policy(policy_file) if policy_file is not None else None
    data = read_input(artifact, what="artifact")
    report: ReleaseReport
    try:
        if sigstore:
            report = _check_sigstore(
                artifact, data, bundle, policy, identity, issuer, repository, ref,
                trusted_root_path, trusted_root_sha256, staging,
            )  # fmt: skip
        else:
            assert trust is not None  # noqa: S101 - checked above
            assert policy is not None  # noqa: S101
            report = check_release(data, bundle, trust, policy)
    except Error as exc:
        if as_json:
            verdict = {
                "verified": False,
                "artifact": artifact,
                "error": type(exc).__name__,
                "reason": str(exc),
            }
            click.echo(json.dumps(verdict))
        raise type(exc)(f"{artifact}: {exc}") from None
    if as_json:
        doc = report.to_dict()
        doc["artifact"] = {"path": artifact, "sha256": report.artifact_sha256}
        write_output("-", json.dumps(doc, indent=2).encode() + b"\n")
    try:
        report.raise_for_failures()
    except Error as exc:
        raise type(exc)(f"{artifact}: {exc}") from None
    prov = report.provenance
    built = ""
    if prov is not None:
        repo, source_ref = prov.source()
        built = f"built by {prov.builder_id} from {repo}@{source_ref}, "
    if report.sigstore is not None:
        sig = report.sigstore
        carried = sig.predicate_type or "signature"
        _status(
            f"OK: {artifact}: {built}Sigstore {carried} by {sig.identity} ({sig.issuer}), "
            f"trusted root {sig.trusted_root}"
        )
    else:
        _status(
            f"OK: {artifact}: {built}"
            f"signed for release-signer by {', '.join(k[:16] for k in report.keyids)}"
        )


def _check_sigstore(
    artifact: str,
    data: bytes,
    bundle: bytes,
    policy: ReleasePolicy | None,
    identity: str | None,
    issuer: str | None,
    repository: str | None,
    ref: str | None,
    trusted_root_path: str | None,
    trusted_root_sha256: str | None,
    staging: bool,
) -> ReleaseReport:
    from qprov.sigstore import ArtifactDigest, PinnedTrustedRoot
    from qprov.slsa import SigstoreReleasePolicy, check_sigstore_release

    if staging and trusted_root_path is not None:
        raise click.UsageError("--staging and --trusted-root are mutually exclusive")
    if trusted_root_sha256 is not None and trusted_root_path is None:
        raise click.UsageError("--trusted-root-sha256 needs --trusted-root")
    table = policy.sigstore if policy is not None and policy.sigstore is not None else None
    identity_policy = (table or SigstoreReleasePolicy()).sigstore_policy(
        identity=identity, issuer=issuer, repository=repository, ref=ref
    )
    root: PinnedTrustedRoot | None = None
    if staging:
        root = PinnedTrustedRoot.staging()
    elif trusted_root_path is not None:
        root = (
            PinnedTrustedRoot.from_file(trusted_root_path, trusted_root_sha256)
            if trusted_root_sha256 is not None
            else PinnedTrustedRoot.from_known_file(trusted_root_path)
        )
    digest = ArtifactDigest.of_bytes(data, Path(artifact).name)
    return check_sigstore_release(digest, bundle, identity_policy, policy, trusted_root=root)
