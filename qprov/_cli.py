"""The qprov command line: a thin layer over the public API.

Conventions (see README "Exit codes"): stdout carries data only; stderr carries
status lines (``OK: ...``, ``FAIL: <subject>: <reason>``). Errors from
:mod:`qprov.errors` are mapped to exit codes in exactly one place
(:func:`main`). Subcommands live in ``qprov/_cli_*.py`` modules imported only
when their command runs, so that ``qprov verify-envelope`` never imports qiskit.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from qprov import __version__
from qprov.errors import EXIT_ENVIRONMENT, Error

# name -> "module:attribute". Each module is imported only when needed.
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("qprov._cli_core:demo", "Run the whole chain in a temporary directory."),
    "keys": ("qprov._cli_core:keys", "Generate and inspect keys."),
    "sign": ("qprov._cli_core:sign", "Sign a file into a DSSE envelope."),
    "verify-envelope": (
        "qprov._cli_core:verify_envelope",
        "Verify a DSSE envelope against a trust file and role.",
    ),
    "plumbing": ("qprov._cli_core:plumbing", "Low-level commands for interop checks."),
    "log": ("qprov._cli_log:log", "Transparency log: append, prove, verify, checkpoint, monitor."),
    "sbom": ("qprov._cli_sbom:sbom", "CycloneDX SBOM and CBOM of environments, wheels, projects."),
    "sigstore": ("qprov._cli_sigstore:sigstore", "Verify upstream Sigstore bundles offline."),
    "attest": ("qprov._cli_attest:attest", "SLSA provenance: build and verify attestations."),
    "gateway": ("qprov._cli_gateway:gateway", "Admit job manifests; run the gateway service."),
    "manifest": ("qprov._cli_manifest:manifest", "Create, approve and inspect job manifests."),
    "grant": ("qprov._cli_manifest:grant", "Delegate scoped job submission to agent keys."),
    "verify": ("qprov._cli_verify:verify", "Verify the chain of evidence of a result offline."),
    "job": ("qprov._cli_job:job", "Run jobs locally: admit, run on Aer, receipt, log."),
    "baseline": ("qprov._cli_repro:baseline", "Create signed simulator baselines of circuits."),
    "reproduce": ("qprov._cli_repro:reproduce", "Check a receipted result: replay or statistics."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        module = importlib.import_module(module_name)  # a broken command fails loudly
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # The one place where qprov errors become exit codes.
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Error as exc:
            if _STATE.verbose:
                logging.getLogger("qprov").exception("error")
            click.echo(f"FAIL: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:  # last line of defence: no traceback without -v
            if _STATE.verbose:
                raise
            click.echo(
                f"FAIL: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
                err=True,
            )
            ctx.exit(EXIT_ENVIRONMENT)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # List every command with its short help without importing any of them.
        rows = [(name, _COMMANDS[name][1]) for name in sorted(_COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _State:
    verbose: bool = False


_STATE = _State()


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qprov")
@click.option(
    "-v", "--verbose", is_flag=True, envvar="QPROV_VERBOSE", help="Debug logging and tracebacks."
)
def cli(verbose: bool) -> None:
    """qprov: provenance and attestations for quantum computing.

    Exit codes: 0 ok, 1 verification or policy failure, 2 usage,
    3 malformed input, 4 environment or service error.
    """
    _STATE.verbose = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


#: Modules the CLI process never needs but a dependency imports when they are installed:
#: securesystemslib.signer imports its AWS KMS signer, and with it boto3 and botocore (about
#: 0.25 s on this project's machines), although qprov never signs through AWS KMS.
_NEVER_IMPORTED = ("boto3",)


def main(argv: list[str] | None = None) -> None:
    """Console entry point.

    The process is qprov's own, so the modules in ``_NEVER_IMPORTED`` are marked absent
    (``import`` raises ImportError, which securesystemslib handles by leaving its AWS
    signer unavailable). A library user's process is left alone.
    """
    for name in _NEVER_IMPORTED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    cli.main(args=argv, prog_name="qprov", auto_envvar_prefix="QPROV")


__all__ = ["cli", "main"]
