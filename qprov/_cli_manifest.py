"""``qprov manifest`` (create, approve, show) and ``qprov grant`` (create, revoke).

Flags take ``QPROV_<GROUP>_<COMMAND>_<OPTION>`` environment variables (click's
auto prefix), e.g. ``QPROV_MANIFEST_CREATE_KEY=env:SUBMITTER_KEY``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from qprov._io import read_input, write_output
from qprov.errors import MalformedInputError

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)
_MAX_WHEEL = 512 * 1024 * 1024


def _status(line: str) -> None:
    click.echo(line, err=True)


def _parse_time(value: str, what: str) -> datetime:
    from qprov._predicate import parse_time

    return parse_time(value, what)


def _option_value(text: str) -> str | int | bool:
    if text in ("true", "false"):
        return text == "true"
    if text.lstrip("-").isdigit() and len(text) < 16:
        return int(text)
    return text


# -- manifest -------------------------------------------------------------------------


@click.group()
def manifest() -> None:
    """Create, approve and inspect signed job manifests."""


@manifest.command("create")
@click.argument("circuit", type=_FILE)
@click.option("--backend", required=True, help="Backend the job is for.")
@click.option("--shots", required=True, type=click.IntRange(min=1), help="Shots.")
@click.option("--experiment", required=True, help="Experiment id.")
@click.option("--purpose", default=None, help="Free-text purpose of the job.")
@click.option("--owner", default=None, help="The human owner (name or e-mail).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Execution option (repeatable); integers and true/false are typed.",
)
@click.option("--sdk-wheel", type=_FILE, default=None, help="The SDK wheel the job uses.")
@click.option(
    "--sdk-attestation",
    type=_FILE,
    default=None,
    help="The SDK's release attestation (.intoto.jsonl); carried in the bundle.",
)
@click.option("--grant", "grant_file", type=_FILE, default=None, help="Grant (agent keys).")
@click.option(
    "--lifetime",
    type=click.IntRange(min=1, max=366 * 86400),
    default=300,
    show_default=True,
    help="Seconds until the manifest expires.",
)
@click.option("--key", "key_uri", required=True, help="Signer URI: file:PATH or env:VARIABLE.")
@click.option("-o", "--output", required=True, help="Bundle to write (- for stdout).")
def manifest_create(
    circuit: str,
    backend: str,
    shots: int,
    experiment: str,
    purpose: str | None,
    owner: str | None,
    options: tuple[str, ...],
    sdk_wheel: str | None,
    sdk_attestation: str | None,
    grant_file: str | None,
    lifetime: int,
    key_uri: str,
    output: str,
) -> None:
    """Sign a job manifest for CIRCUIT (OpenQASM 2/3 or QPY) into a manifest bundle."""
    from qprov._cli_core import _ask_passphrase
    from qprov.dsse import parse_envelope
    from qprov.keys import load_signer
    from qprov.manifest import create_manifest, sdk_from_attestation, sdk_from_wheel

    # every input is read and checked before anything is signed or written
    data = read_input(circuit, what="circuit")
    opts: dict[str, str | int | bool] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--option {item!r} is not KEY=VALUE")
        opts[key] = _option_value(value)
    attestation = read_input(sdk_attestation, what="SDK attestation") if sdk_attestation else None
    sdk = None
    if sdk_wheel is not None:
        wheel = read_input(sdk_wheel, what="SDK wheel", max_bytes=_MAX_WHEEL)
        sdk = sdk_from_wheel(Path(sdk_wheel).name, wheel, attestation)
        if attestation is not None:
            named = sdk_from_attestation_subjects(attestation)
            if sdk.wheel_sha256 not in named:
                raise MalformedInputError(
                    f"{sdk_attestation}: the SDK attestation does not name {sdk_wheel}"
                )
    elif attestation is not None:
        sdk = sdk_from_attestation(attestation)
    grant = parse_envelope(read_input(grant_file, what="grant")) if grant_file else None
    signer = load_signer(key_uri, _ask_passphrase)
    bundle = create_manifest(
        data,
        circuit_name=Path(circuit).name if circuit != "-" else "circuit",
        backend=backend,
        shots=shots,
        experiment=experiment,
        signer=signer,
        now=datetime.now(UTC),
        lifetime=timedelta(seconds=lifetime),
        purpose=purpose,
        owner=owner,
        options=opts,
        sdk=sdk,
        sdk_attestation=attestation,
        grant=grant,
    )
    write_output(output, bundle.to_json())
    m = bundle.parsed.manifest
    _status(
        f"OK: manifest for {circuit} ({m.circuit.format}, {m.circuit.qubits} qubits) on "
        f"{backend}, {shots} shots, nonce {m.nonce}, expires {m.expires_at.isoformat()}, "
        f"signed by {signer.public_key.keyid[:16]}… into {output}"
    )


def sdk_from_attestation_subjects(attestation: bytes) -> set[str]:
    from qprov.slsa import parse_attestation_bundle
    from qprov.statement import parse_statement

    out = set()
    for envelope in parse_attestation_bundle(attestation):
        for s in parse_statement(envelope.payload).subjects:
            if "sha256" in s.digest:
                out.add(s.digest["sha256"])
    return out


@manifest.command("approve")
@click.argument("bundle_file", metavar="BUNDLE", type=_FILE)
@click.option("--key", "key_uri", required=True, help="Approver signer URI.")
@click.option("-o", "--output", required=True, help="Approved bundle to write (- for stdout).")
def manifest_approve(bundle_file: str, key_uri: str, output: str) -> None:
    """Add an approver's co-signature to the manifest in BUNDLE."""
    from qprov._cli_core import _ask_passphrase
    from qprov.keys import load_signer
    from qprov.manifest import approve_bundle, parse_bundle

    bundle = parse_bundle(read_input(bundle_file, what="manifest bundle"))
    signer = load_signer(key_uri, _ask_passphrase)
    approved = approve_bundle(bundle, signer)
    write_output(output, approved.to_json())
    m = approved.parsed.manifest
    _status(
        f"OK: approved {m.backend}, {m.shots} shots, experiment {m.experiment} "
        f"(nonce {m.nonce}) with key {signer.public_key.keyid[:16]}… into {output}"
    )


@manifest.command("show")
@click.argument("bundle_file", metavar="BUNDLE", type=_FILE)
def manifest_show(bundle_file: str) -> None:
    """Print the (unverified) manifest predicate of BUNDLE as JSON."""
    from qprov.manifest import parse_bundle_full

    parsed = parse_bundle_full(read_input(bundle_file, what="manifest bundle"))
    doc = {
        "subject": [s.to_dict() for s in parsed.manifest.statement.subjects],
        "predicate": parsed.manifest.manifest.to_dict(),
        "manifestDigest": {"sha256": parsed.manifest.digest},
        "signatures": [s.keyid for s in parsed.bundle.manifest.signatures],
        "grant": {"sha256": parsed.grant.digest} if parsed.grant else None,
    }
    write_output("-", json.dumps(doc, indent=2).encode() + b"\n")
    _status("OK: parsed (signatures not verified: use qprov gateway admit)")


# -- grant ----------------------------------------------------------------------------


@click.group()
def grant() -> None:
    """Delegate scoped, expiring submission rights to agent keys."""


@grant.command("create")
@click.option("--agent-key", required=True, type=_FILE, help="The agent's public key (PEM/JSON).")
@click.option("--backend", "backends", multiple=True, required=True, help="Allowed backend.")
@click.option("--max-shots", required=True, type=click.IntRange(min=1), help="Shots per job.")
@click.option(
    "--max-total-shots", required=True, type=click.IntRange(min=1), help="Shots in total."
)
@click.option(
    "--gates", "gates", multiple=True, required=True, help="Allowed gates (comma-separated)."
)
@click.option("--experiment", required=True, help="The one experiment the agent may run.")
@click.option("--not-before", default=None, help="RFC 3339 UTC start (default: now).")
@click.option("--expires", required=True, help="RFC 3339 UTC expiry, or +SECONDS from now.")
@click.option("--key", "key_uri", required=True, help="Owner signer URI.")
@click.option("-o", "--output", required=True, help="Grant envelope to write (- for stdout).")
def grant_create(
    agent_key: str,
    backends: tuple[str, ...],
    max_shots: int,
    max_total_shots: int,
    gates: tuple[str, ...],
    experiment: str,
    not_before: str | None,
    expires: str,
    key_uri: str,
    output: str,
) -> None:
    """Sign a grant binding an agent's key to a scope."""
    from qprov._cli_core import _ask_passphrase
    from qprov.grant import create_grant
    from qprov.keys import load_public_key, load_signer

    now = datetime.now(UTC).replace(microsecond=0)
    agent = load_public_key(read_input(agent_key, what="agent key", max_bytes=1024 * 1024))
    start = _parse_time(not_before, "--not-before") if not_before else now
    if expires.startswith("+") and expires[1:].isdigit():
        end = now + timedelta(seconds=int(expires[1:]))
    else:
        end = _parse_time(expires, "--expires")
    gate_list = [g.strip() for item in gates for g in item.split(",") if g.strip()]
    signer = load_signer(key_uri, _ask_passphrase)
    envelope = create_grant(
        agent,
        backends=backends,
        max_shots_per_job=max_shots,
        max_total_shots=max_total_shots,
        gates=gate_list,
        experiment=experiment,
        not_before=start,
        expires_at=end,
        signer=signer,
    )
    write_output(output, envelope.to_json())
    from qprov.grant import grant_digest

    _status(
        f"OK: grant sha256:{grant_digest(envelope)} for agent key {agent.keyid[:16]}… "
        f"until {end.isoformat()} signed by {signer.public_key.keyid[:16]}… into {output}"
    )


@grant.command("revoke")
@click.argument("grant_file", metavar="GRANT", type=_FILE)
@click.option("--reason", default=None, help="Why the grant is revoked.")
@click.option("--key", "key_uri", required=True, help="Owner signer URI.")
@click.option(
    "-o",
    "--output",
    required=True,
    help="Revocation statement to write (- for stdout); append it to the policy's "
    "[agents] revocations file.",
)
def grant_revoke(grant_file: str, reason: str | None, key_uri: str, output: str) -> None:
    """Sign a revocation of GRANT (a grant envelope, or a manifest bundle holding one)."""
    from qprov._canon import loads_strict
    from qprov._cli_core import _ask_passphrase
    from qprov.grant import parse_grant, revoke_grant
    from qprov.keys import load_signer
    from qprov.manifest import BUNDLE_MEDIA_TYPE, parse_bundle

    data = read_input(grant_file, what="grant")
    doc = loads_strict(data, what="grant")
    if isinstance(doc, dict) and doc.get("mediaType") == BUNDLE_MEDIA_TYPE:
        bundle = parse_bundle(data)
        if bundle.grant is None:
            raise MalformedInputError(f"{grant_file}: the manifest bundle holds no grant")
        parsed = parse_grant(bundle.grant)
    else:
        parsed = parse_grant(doc)
    signer = load_signer(key_uri, _ask_passphrase)
    envelope = revoke_grant(
        parsed, signer, now=datetime.now(UTC).replace(microsecond=0), reason=reason
    )
    write_output(output, json.dumps(envelope.to_dict(), separators=(",", ":")).encode() + b"\n")
    _status(f"OK: revoked grant sha256:{parsed.digest} into {output}")


__all__ = ["grant", "manifest"]
