"""``qprov attest``: SLSA provenance, build and verify release attestations.

Flags take ``QPROV_ATTEST_<COMMAND>_<OPTION>`` environment variables (click's
auto prefix), e.g. ``QPROV_ATTEST_BUILD_KEY=env:RELEASE_KEY``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from qprov._io import read_input, write_output
from qprov.errors import Error

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
    help="The .intoto.jsonl bundle (or one DSSE envelope).",
)
@click.option("--trust", "trust_file", required=True, type=_FILE, help="Trust file (TOML).")
@click.option("--policy", "policy_file", required=True, type=_FILE, help="Release policy (TOML).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON verdict on stdout.")
def attest_verify(
    artifact: str, attestation: str, trust_file: str, policy_file: str, as_json: bool
) -> None:
    """Verify ARTIFACT's SLSA provenance against a trust file and a release policy."""
    from qprov.slsa import check_release, load_release_policy
    from qprov.trust import load_trust

    trust = load_trust(trust_file)
    policy = load_release_policy(policy_file)
    data = read_input(artifact, what="artifact")
    bundle = read_input(attestation, what="attestation")
    try:
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
    assert prov is not None  # noqa: S101 - a passing report has a provenance
    repo, ref = prov.source()
    _status(
        f"OK: {artifact}: built by {prov.builder_id} from {repo}@{ref}, "
        f"signed for release-signer by {', '.join(k[:16] for k in report.keyids)}"
    )
