"""``qprov verify chain``: verify a result's chain of evidence offline.

Flags take ``QPROV_VERIFY_CHAIN_<OPTION>`` environment variables (click's auto
prefix), e.g. ``QPROV_VERIFY_CHAIN_TRUST=trust.toml``.

Exit codes: 0 every link holds, 1 a link failed (one ``FAIL`` row per failed
link on stderr), 3 a malformed bundle, trust file or policy, 4 a file that
cannot be read.
"""

from __future__ import annotations

import json

import click

from qprov._io import read_input, write_output

__all__ = ["verify"]

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)


@click.group()
def verify() -> None:
    """Verify the chain of evidence of a result offline."""


@verify.command("chain")
@click.option("--receipt", "receipt_file", required=True, type=_FILE, help="Receipt bundle.")
@click.option("--manifest", "manifest_file", required=True, type=_FILE, help="Manifest bundle.")
@click.option("--circuit", "circuit_file", required=True, type=_FILE, help="Circuit submitted.")
@click.option("--result", "result_file", required=True, type=_FILE, help="Result (counts JSON).")
@click.option("--trust", "trust_file", required=True, type=_FILE, help="Trust file with [log].")
@click.option(
    "--sdk-attestation",
    type=_FILE,
    default=None,
    help="The SDK's release attestation (default: the one in the manifest bundle).",
)
@click.option(
    "--release-policy", type=_FILE, default=None, help="Release policy: check the SDK link."
)
@click.option(
    "--checkpoint", "checkpoint_file", type=_FILE, default=None, help="A newer signed checkpoint."
)
@click.option(
    "--consistency-proof",
    type=_FILE,
    default=None,
    help="Consistency proof to the newer checkpoint (base64 hashes, one a line).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def verify_chain_cmd(
    receipt_file: str,
    manifest_file: str,
    circuit_file: str,
    result_file: str,
    trust_file: str,
    sdk_attestation: str | None,
    release_policy: str | None,
    checkpoint_file: str | None,
    consistency_proof: str | None,
    as_json: bool,
) -> None:
    """Verify every link from the SDK build to the measured result, offline."""
    from qprov.chain import check_chain, log_trust
    from qprov.receipt import parse_receipt_bundle
    from qprov.slsa import load_release_policy
    from qprov.trust import load_trust

    if consistency_proof is not None and checkpoint_file is None:
        raise click.UsageError("--consistency-proof needs --checkpoint")
    if sdk_attestation is not None and release_policy is None:
        raise click.UsageError("--sdk-attestation needs --release-policy to check it against")
    trust = load_trust(trust_file)
    log_trust(trust)  # a trust file without [log] is a configuration error (exit 3)
    policy = load_release_policy(release_policy) if release_policy else None
    receipt = parse_receipt_bundle(read_input(receipt_file, what="receipt bundle"))
    report = check_chain(
        receipt,
        read_input(manifest_file, what="manifest bundle"),
        read_input(circuit_file, what="circuit"),
        read_input(result_file, what="result"),
        trust,
        sdk_attestation=read_input(sdk_attestation, what="SDK attestation")
        if sdk_attestation
        else None,
        release_policy=policy,
        newer_checkpoint=read_input(checkpoint_file, what="checkpoint")
        if checkpoint_file
        else None,
        consistency_proof=read_input(consistency_proof, what="consistency proof")
        if consistency_proof
        else None,
    )
    width = max(len(link.name) for link in report.links)
    for link in report.links:
        status = "SKIP" if link.skipped else "OK" if link.ok else "FAIL"
        click.echo(f"{status:<4}  {link.name:<{width}}  {link.reason}", err=True)
    if as_json:
        write_output("-", json.dumps(report.to_dict(), indent=2).encode() + b"\n")
    if report.ok:
        click.echo(f"OK: {receipt_file}: every link of the chain holds", err=True)
        return
    names = ", ".join(link.name for link in report.failures)
    click.echo(f"FAIL: {receipt_file}: {len(report.failures)} link(s) failed: {names}", err=True)
    raise click.exceptions.Exit(1)
