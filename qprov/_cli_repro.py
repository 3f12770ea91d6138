"""``qprov baseline create`` and ``qprov reproduce``.

Flags take ``QPROV_<COMMAND>_<OPTION>`` environment variables (click's auto
prefix), e.g. ``QPROV_REPRODUCE_TRUST=trust.toml``, ``QPROV_BASELINE_CREATE_KEY=env:KEY``.

Exit codes of ``qprov reproduce``: 0 reproduced or consistent; 1 mismatch,
inconsistent, or inconclusive (``--allow-inconclusive`` makes inconclusive exit
0 with a ``WARN`` line), and any failed check of the inputs (signatures, digests,
baseline role or circuit); 2 usage; 3 malformed input (counts, receipt,
baseline, calibration); 4 environment (unreadable file, simulation too large,
GPU not available). A report (``--json``, ``--report``) is written only when the
check completed with a verdict; never a partial one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from qprov._io import atomic_write, read_input, write_output

__all__ = ["baseline", "reproduce"]

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)
_METHODS = click.Choice(
    ["automatic", "statevector", "density_matrix", "stabilizer", "matrix_product_state"]
)
_DEVICES = click.Choice(["CPU", "GPU"])


@click.group()
def baseline() -> None:
    """Signed simulator baselines of circuits."""


@baseline.command("create")
@click.argument("circuit", type=_FILE)
@click.option(
    "--noise",
    "calibration_file",
    type=_FILE,
    default=None,
    help="Calibration snapshot (qprov-calibration/v1) to build the noise model from.",
)
@click.option("--method", type=_METHODS, default="automatic", show_default=True)
@click.option(
    "--kind",
    type=click.Choice(["auto", "probabilities", "counts"]),
    default="auto",
    show_default=True,
    help="Exact probabilities, sampled counts, or exact where feasible.",
)
@click.option("--shots", type=click.IntRange(1, 10**9), default=None, help="Sampled baseline.")
@click.option("--seed", type=click.IntRange(0, 2**53 - 1), default=None, help="Simulator seed.")
@click.option(
    "--max-outcomes",
    type=click.IntRange(1, 65536),
    default=4095,
    show_default=True,
    help="Outcomes listed; the rest is summed into 'other'.",
)
@click.option("--device", type=_DEVICES, default="CPU", show_default=True)
@click.option("--key", "key_uri", required=True, help="Baseline-authority signer URI.")
@click.option("-o", "--output", required=True, help="Signed baseline to write (- for stdout).")
def baseline_create(
    circuit: str,
    calibration_file: str | None,
    method: str,
    kind: str,
    shots: int | None,
    seed: int | None,
    max_outcomes: int,
    device: str,
    key_uri: str,
    output: str,
) -> None:
    """Simulate CIRCUIT and sign its distribution as a simulator baseline."""
    from qprov._cli_core import _ask_passphrase
    from qprov.baseline import check_device, compute_baseline, sign_baseline
    from qprov.keys import load_signer

    if kind == "probabilities" and (shots is not None or seed is not None):
        raise click.UsageError("--shots and --seed describe sampled baselines (--kind counts)")
    data = read_input(circuit, what="circuit")
    cal = read_input(calibration_file, what="calibration") if calibration_file else None
    signer = load_signer(key_uri, _ask_passphrase)  # before any simulation work
    check_device(device)
    circuit_sha, predicate = compute_baseline(
        data,
        now=datetime.now(UTC),
        calibration=cal,
        kind=kind,  # type: ignore[arg-type]
        method=method,
        shots=shots,
        seed=seed,
        device=device,
        max_outcomes=max_outcomes,
    )
    envelope = sign_baseline(predicate, circuit_sha, signer)
    write_output(output, envelope.to_json() + b"\n")
    click.echo(
        f"OK: {circuit}: baseline sha256:{circuit_sha[:16]}… ({predicate.describe()}) "
        f"written to {output}",
        err=True,
    )


@click.command("reproduce")
@click.option("--receipt", "receipt_file", required=True, type=_FILE, help="Receipt bundle.")
@click.option("--circuit", "circuit_file", required=True, type=_FILE, help="Circuit submitted.")
@click.option("--result", "result_file", required=True, type=_FILE, help="Result (counts JSON).")
@click.option("--baseline", "baseline_file", type=_FILE, default=None, help="Signed baseline.")
@click.option("--trust", "trust_file", type=_FILE, default=None, help="Trust file (TOML).")
@click.option(
    "--calibration",
    "calibration_file",
    type=_FILE,
    default=None,
    help="The calibration snapshot the receipt names (noise-model baseline).",
)
@click.option(
    "--alpha", type=click.FloatRange(0, 0.5, min_open=True, max_open=True), default=0.01,
    show_default=True, help="False-alarm rate of the statistical test.",
)  # fmt: skip
@click.option(
    "--effect-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
    show_default=True, help="TVD the test must detect with power >= 0.8 to say 'consistent'.",
)  # fmt: skip
@click.option(
    "--tolerance", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
    help="Equivalence test: is the result within this TVD of the baseline?",
)  # fmt: skip
@click.option("--device", type=_DEVICES, default="CPU", show_default=True)
@click.option(
    "--allow-inconclusive", is_flag=True, help="Exit 0 (with a WARN line) when inconclusive."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--report", "report_file", type=click.Path(dir_okay=False), default=None,
    help="Write a self-contained HTML report (distributions side by side).",
)  # fmt: skip
def reproduce(
    receipt_file: str,
    circuit_file: str,
    result_file: str,
    baseline_file: str | None,
    trust_file: str | None,
    calibration_file: str | None,
    alpha: float,
    effect_size: float,
    tolerance: float | None,
    device: str,
    allow_inconclusive: bool,
    as_json: bool,
    report_file: str | None,
) -> None:
    """Check a receipted result: exact replay (simulators) or a calibrated test (hardware)."""
    from qprov.reproduce import check_reproduction
    from qprov.trust import load_trust

    if baseline_file is not None and trust_file is None:
        raise click.UsageError("--baseline needs --trust (the baseline-authority role)")
    dashes = [f for f in (receipt_file, circuit_file, result_file, baseline_file) if f == "-"]
    if len(dashes) > 1:
        raise click.UsageError("only one input can be read from stdin")
    trust = load_trust(trust_file) if trust_file else None
    outcome = check_reproduction(
        read_input(receipt_file, what="receipt bundle"),
        read_input(circuit_file, what="circuit"),
        read_input(result_file, what="result"),
        trust=trust,
        baseline=read_input(baseline_file, what="baseline") if baseline_file else None,
        calibration=read_input(calibration_file, what="calibration") if calibration_file else None,
        alpha=alpha,
        effect_size=effect_size,
        tolerance=tolerance,
        device=device,
    )
    report = outcome.report
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report_file is not None:
        atomic_write(report_file, report.to_html().encode("utf-8"))
    if as_json:
        write_output("-", report.to_json())
    if outcome.ok:
        click.echo(f"OK: {receipt_file}: {outcome.summary}", err=True)
        return
    if outcome.verdict == "inconclusive" and allow_inconclusive:
        click.echo(f"WARN: {receipt_file}: {outcome.summary}", err=True)
        return
    click.echo(f"FAIL: {receipt_file}: {outcome.summary}", err=True)
    raise click.exceptions.Exit(1)
