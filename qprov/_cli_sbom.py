"""``qprov sbom``: CycloneDX SBOM + CBOM of environments, wheels and projects.

Data (the SBOM) goes to stdout or ``-o FILE`` (written atomically); status and
``--verify-record`` findings go to stderr. Errors are :mod:`qprov.errors`
exceptions, mapped to exit codes by the top-level group (1 verification,
3 malformed input, 4 environment).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import click

from qprov import sbom as api


@contextmanager
def _progress(label: str) -> Iterator[api.ProgressCallback | None]:
    """A progress callback drawing a bar on stderr, or None if stderr is no terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list[Any] = []
    last = [0]

    def callback(done: int, total: int, _item: str) -> None:
        if not bars:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
            bars.append(bar)
        bars[0].update(max(done - last[0], 0))
        last[0] = done

    try:
        yield callback
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


def _output_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "-o",
            "--output",
            default="-",
            show_default=True,
            metavar="FILE",
            help="Where to write the SBOM ('-' for stdout); written atomically.",
        ),
        click.option(
            "--algorithm",
            "algorithms",
            multiple=True,
            metavar="NAME",
            help="CBOM: an algorithm of the keys and signatures in use (repeatable; "
            "default: every algorithm qprov signs with).",
        ),
        click.option("--no-cbom", is_flag=True, help="Leave the cryptographic assets out."),
        click.option(
            "--no-validate",
            is_flag=True,
            help="Skip the CycloneDX 1.6 schema validation of the output.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _emit(
    inventory: api.Inventory,
    output: str,
    algorithms: tuple[str, ...],
    no_cbom: bool,
    no_validate: bool,
) -> None:
    chosen: list[str] | None = [] if no_cbom else (list(algorithms) or None)
    data = api.build_sbom(
        inventory, algorithms=chosen, timestamp=api.source_date(), validate=not no_validate
    )
    api.write_output(data, output)
    components = len(inventory.packages)
    bundled = sum(len(p.bundled) for p in inventory.packages)
    where = "stdout" if output == "-" else output
    click.echo(f"OK: {components} packages, {bundled} bundled libraries -> {where}", err=True)


@click.group()
@click.pass_context
def sbom(ctx: click.Context) -> None:
    """CycloneDX 1.6 SBOM and CBOM (profile: sbom/README.md).

    Timestamps come from SOURCE_DATE_EPOCH; without it no timestamp is written,
    so the same input always gives the same bytes.
    """
    # No cyclic garbage collection while an sbom command runs. The scan and the
    # rendering pause the collector themselves, but between them it would walk
    # the ~100,000 objects the scan keeps alive (all still in the youngest
    # generation) while the CycloneDX model is imported: ~40 ms, for objects
    # that reference counting frees.
    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(_resume_gc)


def _resume_gc() -> None:
    """Turn the collector back on once the command is done.

    What is still alive then (imported modules, per-process caches) lives as
    long as the process: it goes to the permanent generation first, so neither
    the collection that re-enabling would start at once nor the one at exit
    walks it again (~30 ms). In a process that runs many commands (CliRunner
    tests) the collector works as before on everything created afterwards.
    """
    gc.freeze()
    gc.enable()


@sbom.command("env")
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="Interpreter whose environment to scan (default: this one). It is run "
    "with a standard-library-only probe; none of its packages is imported.",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Scan these site directories instead of an interpreter (repeatable).",
)
@click.option(
    "--verify-record",
    is_flag=True,
    help="Re-hash installed files against RECORD first; exit 1 on any modified, "
    "missing or unexpected file.",
)
@click.option(
    "--include-extensions",
    is_flag=True,
    help="Also list Python extension modules (.so/.pyd) as file components.",
)
@click.option(
    "--skip-broken", is_flag=True, help="Skip broken distributions (logged) instead of failing."
)
@_output_options
def env(
    python: str | None,
    paths: tuple[Path, ...],
    verify_record: bool,
    include_extensions: bool,
    skip_broken: bool,
    output: str,
    algorithms: tuple[str, ...],
    no_cbom: bool,
    no_validate: bool,
) -> None:
    """SBOM of an installed Python environment."""
    on_error: Literal["raise", "skip"] = "skip" if skip_broken else "raise"
    with _progress("scanning") as callback:
        if paths:
            if python is not None:
                raise click.UsageError("--python and --path are mutually exclusive")
            inventory = api.scan_directories(
                list(paths),
                include_extensions=include_extensions,
                on_error=on_error,
                progress=callback,
            )
        else:
            inventory = api.scan_environment(
                python, include_extensions=include_extensions, on_error=on_error, progress=callback
            )
    if verify_record:
        try:
            with _progress("verifying RECORD") as callback:
                report = api.verify_record(inventory, progress=callback)
        except api.RecordVerificationError as exc:
            for finding in exc.report.findings:
                detail = f" ({finding.detail})" if finding.detail else ""
                click.echo(
                    f"FAIL: {finding.package}: {finding.kind}: {finding.path}{detail}", err=True
                )
            raise
        click.echo(
            f"OK: RECORD verified: {report.files_checked} files in {report.packages} packages",
            err=True,
        )
    _emit(inventory, output, algorithms, no_cbom, no_validate)


@sbom.command("wheel")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--include-extensions",
    is_flag=True,
    help="Also list Python extension modules (.so/.pyd) as file components.",
)
@_output_options
def wheel(
    files: tuple[Path, ...],
    include_extensions: bool,
    output: str,
    algorithms: tuple[str, ...],
    no_cbom: bool,
    no_validate: bool,
) -> None:
    """SBOM of wheel and sdist files (every file is checked; all failures reported)."""
    with _progress("reading") as callback:
        inventory = api.scan_files(
            list(files), include_extensions=include_extensions, progress=callback
        )
    _emit(inventory, output, algorithms, no_cbom, no_validate)


@sbom.command("project")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A 'pip install --report' JSON file (else pylock.toml or requirements.txt in DIRECTORY).",
)
@_output_options
def project(
    directory: Path,
    report: Path | None,
    output: str,
    algorithms: tuple[str, ...],
    no_cbom: bool,
    no_validate: bool,
) -> None:
    """SBOM of a project from its lock, requirements or pip report."""
    inventory = api.scan_project(directory, report=report)
    _emit(inventory, output, algorithms, no_cbom, no_validate)


__all__ = ["sbom"]
