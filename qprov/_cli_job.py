"""``qprov job run``: run a job locally through the gateway's job flow (admit, log, run on
Aer, receipt, log, proofs).

Flags take ``QPROV_JOB_RUN_<OPTION>`` environment variables (click's auto prefix),
e.g. ``QPROV_JOB_RUN_KEY=env:GATEWAY_KEY``.

Exit codes: 0 admitted and run (the receipt bundle and the result are written),
1 refused (one ``FAIL`` line per failed check; the refusal is logged, nothing is
written), 3 malformed input or configuration, 4 store, log or simulator failure.
"""

from __future__ import annotations

import click

from qprov._io import atomic_write, read_input, write_output
from qprov.errors import MalformedInputError

__all__ = ["job"]

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)


@click.group()
def job() -> None:
    """Run jobs locally through the gateway's job flow."""


@job.command("run")
@click.argument("manifest", type=_FILE)
@click.option("--circuit", required=True, type=_FILE, help="The circuit bytes the job runs.")
@click.option("--trust", "trust_file", required=True, type=_FILE, help="Trust file (TOML).")
@click.option("--policy", "policy_file", required=True, type=_FILE, help="Admission policy.")
@click.option("--key", "key_uri", required=True, help="Gateway signer URI (decisions, receipts).")
@click.option(
    "--log-key",
    "log_key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="The log's note signing keys (qprov log keygen --key-file).",
)
@click.option(
    "--state-dir",
    default="qprov-state",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory of the SQLite store and log (used unless --store/--log are given).",
)
@click.option("--store", "store_url", default=None, help="Store URL (sqlite:///, postgresql://).")
@click.option("--log", "log_url", default=None, help="Log URL (sqlite:///, postgresql://).")
@click.option(
    "--backend-name",
    "backend_names",
    multiple=True,
    default=("aer_simulator",),
    show_default=True,
    help="Backend name(s) the local Aer backend serves (repeatable).",
)
@click.option("-o", "--output", required=True, help="Receipt bundle to write (- for stdout).")
@click.option("--result-out", required=True, help="Counts JSON to write (- for stdout).")
def job_run(
    manifest: str,
    circuit: str,
    trust_file: str,
    policy_file: str,
    key_uri: str,
    log_key_file: str,
    state_dir: str,
    store_url: str | None,
    log_url: str | None,
    backend_names: tuple[str, ...],
    output: str,
    result_out: str,
) -> None:
    """Admit MANIFEST for --circuit, run it on Aer, and write a receipt bundle and the result."""
    from pathlib import Path

    from qprov._cli_core import _ask_passphrase
    from qprov.backends import AerBackend
    from qprov.jobs import JobGateway, state_paths
    from qprov.keys import load_signer
    from qprov.policy import load_admission_policy
    from qprov.store import open_store
    from qprov.tlog import parse_skey
    from qprov.trust import load_trust

    if output == "-" and result_out == "-":
        raise click.UsageError("-o and --result-out both write to stdout: choose one")
    # every input is checked before the store, the log or the simulator is touched
    trust = load_trust(trust_file)
    policy = load_admission_policy(policy_file)
    bundle = read_input(manifest, what="manifest bundle")
    data = read_input(circuit, what="circuit")
    signer = load_signer(key_uri, _ask_passphrase)
    lines = read_input(log_key_file, what="log key file").decode("utf-8", "replace").splitlines()
    log_signers = [parse_skey(ln.strip()) for ln in lines if ln.strip() and not ln.startswith("#")]
    if not log_signers:
        raise MalformedInputError(f"log key file {log_key_file} holds no key")
    if store_url is None or log_url is None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    paths = state_paths(state_dir)
    with (
        open_store(store_url or paths.store_url) as store,
        JobGateway(
            trust=trust,
            policy=policy,
            store=store,
            log=log_url or paths.log_url,
            signer=signer,
            log_signers=log_signers,
            backend=AerBackend(names=backend_names),
        ) as gateway,
    ):
        outcome = gateway.submit(bundle, data)
    decision = outcome.decision
    if not outcome.admitted:
        for check in decision.failures:
            click.echo(f"FAIL: {manifest}: {check.name}: {check.reason}", err=True)
        click.echo(
            f"FAIL: {manifest}: refused; the decision is logged at index {outcome.decision_index}",
            err=True,
        )
        raise click.exceptions.Exit(1)
    assert outcome.receipt_bundle is not None  # noqa: S101 - admitted jobs have one
    assert outcome.result is not None  # noqa: S101
    receipt = outcome.receipt_bundle.to_json()
    # both files appear whole, or (on a write error) the second one is not left behind
    if output != "-":
        atomic_write(output, receipt)
    write_output(result_out, outcome.result)
    if output == "-":
        write_output("-", receipt)
    parsed = outcome.receipt_bundle.parsed.receipt
    click.echo(
        f"OK: {manifest}: job {parsed.job_id} ran on {parsed.backend} ({parsed.shots} shots); "
        f"decision logged at {outcome.decision_index}, receipt at {outcome.receipt_index}",
        err=True,
    )
