"""``qprov gateway``: admit job manifests (``admit``); the HTTP service adds ``serve``.

Flags take ``QPROV_GATEWAY_<COMMAND>_<OPTION>`` environment variables (click's
auto prefix), e.g. ``QPROV_GATEWAY_ADMIT_STORE=postgresql://...``.

Exit codes of ``admit``: 0 admitted, 1 refused (one ``FAIL: <manifest>: <check>:
<reason>`` line on stderr per failed check), 3 malformed bundle, trust file or
policy, 4 store unavailable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from qprov._io import read_input, write_output
from qprov.errors import Error

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)


@click.group()
def gateway() -> None:
    """Admit job manifests; run the gateway service."""


@gateway.command("admit")
@click.argument("manifest", type=_FILE)
@click.option("--circuit", required=True, type=_FILE, help="The circuit bytes received.")
@click.option("--trust", "trust_file", required=True, type=_FILE, help="Trust file (TOML).")
@click.option("--policy", "policy_file", required=True, type=_FILE, help="Admission policy.")
@click.option(
    "--store",
    "store_url",
    default="sqlite:///qprov-store.db",
    show_default=True,
    help="Replay/quota/audit store: sqlite:///PATH, postgresql://..., redis://...",
)
@click.option("--key", "key_uri", default=None, help="Gateway signer URI: sign the decision.")
@click.option(
    "-o",
    "--output",
    default=None,
    help="Write the decision (a signed DSSE envelope with --key, else the JSON) here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON on stdout.")
def gateway_admit(
    manifest: str,
    circuit: str,
    trust_file: str,
    policy_file: str,
    store_url: str,
    key_uri: str | None,
    output: str | None,
    as_json: bool,
) -> None:
    """Admit (exit 0) or refuse (exit 1) the manifest bundle MANIFEST for CIRCUIT."""
    from qprov._cli_core import _ask_passphrase
    from qprov.admission import Admitter
    from qprov.keys import load_signer
    from qprov.policy import load_admission_policy
    from qprov.store import open_store
    from qprov.trust import load_trust

    if as_json and output == "-":
        raise click.UsageError("--json and -o - both write to stdout: choose one")
    # inputs and configuration are checked before the store is touched
    trust = load_trust(trust_file)
    policy = load_admission_policy(policy_file)
    bundle = read_input(manifest, what="manifest bundle")
    data = read_input(circuit, what="circuit")
    signer = load_signer(key_uri, _ask_passphrase) if key_uri else None
    with open_store(store_url) as store:
        admitter = Admitter(trust=trust, policy=policy, store=store, signer=signer)
        try:
            decision = admitter.admit(bundle, data, now=datetime.now(UTC))
        except Error as exc:
            raise type(exc)(f"{manifest}: {exc}") from None
    if output is not None:
        doc = decision.envelope.to_dict() if decision.envelope else decision.to_dict()
        write_output(output, json.dumps(doc, indent=2).encode() + b"\n")
    if as_json:
        write_output("-", json.dumps(decision.to_dict(), indent=2).encode() + b"\n")
    if decision.admitted:
        click.echo(
            f"OK: {manifest}: admitted (manifest sha256:{decision.manifest_sha256}, "
            f"nonce {decision.nonce}, {decision.shots} shots on {decision.backend})",
            err=True,
        )
        return
    for check in decision.failures:
        click.echo(f"FAIL: {manifest}: {check.name}: {check.reason}", err=True)
    raise click.exceptions.Exit(1)


__all__ = ["gateway"]

from qprov.gateway._cli import serve as _serve  # noqa: E402 - the HTTP service's command

gateway.add_command(_serve)
