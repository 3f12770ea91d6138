"""``qprov log``: the transparency log commands (a thin layer over qprov.tlog)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.tlog import (
    SIG_ED25519,
    SIG_MLDSA44_COSIGNATURE,
    Log,
    Monitor,
    NoteSigner,
    ProofBundle,
    Verifier,
    generate_signer,
    parse_hash_lines,
    parse_skey,
    parse_vkey,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion_bundle,
    write_file_atomic,
)

__all__ = ["log"]

DEFAULT_STORE = "sqlite:///./qprov-log.sqlite"


def _read(path: str, what: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot read {what} {path}: {exc}") from None


def _emit(data: bytes, output: str) -> None:
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_file_atomic(output, data)


def _lines(data: bytes, what: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInputError(f"{what} is not UTF-8") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _vkeys(path: str) -> list[Verifier]:
    keys = [parse_vkey(v) for v in _lines(_read(path, "vkeys file"), "vkeys file")]
    if not keys:
        raise MalformedInputError(f"vkeys file {path} holds no key")
    return keys


def _signers(path: str) -> list[NoteSigner]:
    keys = [parse_skey(s) for s in _lines(_read(path, "key file"), "key file")]
    if not keys:
        raise MalformedInputError(f"key file {path} holds no key")
    return keys


def _open(ctx: click.Context) -> Log:
    store: str = ctx.obj["store"]
    log_ = Log.open(store)
    ctx.call_on_close(log_.close)
    return log_


_output = click.option(
    "-o", "--output", default="-", show_default=True, help="Write data here ('-' = stdout)."
)
_vkeys_opt = click.option(
    "--vkeys",
    "vkeys_path",
    required=True,
    envvar="QPROV_LOG_VKEYS",
    help="File of the log's verifier keys (one vkey a line).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    envvar="QPROV_LOG_STORE",
    help="Log storage URL: sqlite:///PATH or postgresql://...[?schema=NAME].",
)
@click.pass_context
def log(ctx: click.Context, store: str) -> None:
    """Transparency log: append, prove, verify, checkpoint, monitor, tiles."""
    ctx.ensure_object(dict)
    ctx.obj["store"] = store


@log.command()
@click.argument("origin")
@click.option(
    "--key-file", required=True, envvar="QPROV_LOG_KEY_FILE", help="New private key file (0600)."
)
@_output
def keygen(origin: str, key_file: str, output: str) -> None:
    """Create the log's signing keys (Ed25519 + ML-DSA-44) for ORIGIN.

    The private keys go to --key-file; the verifier keys (vkeys) to stdout / -o.
    """
    signers = [
        generate_signer(origin, SIG_ED25519),
        generate_signer(origin, SIG_MLDSA44_COSIGNATURE),
    ]
    secret = "".join(s.to_skey() + "\n" for s in signers).encode("ascii")
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret)
    except FileExistsError:
        raise EnvironmentProblemError(f"{key_file} exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise EnvironmentProblemError(f"cannot write {key_file}: {exc}") from None
    _emit("".join(s.verifier().to_vkey() + "\n" for s in signers).encode("ascii"), output)
    click.echo(f"OK: keys for log {origin} written to {key_file}", err=True)


@log.command()
@click.argument("files", nargs=-1)
@click.option("--lines", is_flag=True, help="Each line of the input is one entry (batched).")
@_output
@click.pass_context
def append(ctx: click.Context, files: tuple[str, ...], lines: bool, output: str) -> None:
    """Append FILES (each one entry; '-' = stdin) and print their indexes."""
    entries: list[bytes] = []
    for f in files or ("-",):
        data = _read(f, "entry")
        if lines:
            entries.extend(ln for ln in data.splitlines() if ln)
        else:
            entries.append(data)
    if not entries:
        raise MalformedInputError("nothing to append")
    indexes = _open(ctx).append_many(entries)
    _emit("".join(f"{i}\n" for i in indexes).encode("ascii"), output)
    click.echo(f"OK: appended {len(indexes)} entries at {indexes[0]}..{indexes[-1]}", err=True)


@log.command()
@click.option("--key-file", required=True, envvar="QPROV_LOG_KEY_FILE", help="Log key file.")
@click.option("--origin", default=None, help="Origin line (default: the first key's name).")
@_output
@click.pass_context
def checkpoint(ctx: click.Context, key_file: str, origin: str | None, output: str) -> None:
    """Sign the current tree head and print the checkpoint."""
    note = _open(ctx).sign_checkpoint(_signers(key_file), origin=origin)
    _emit(note, output)
    size = note.split(b"\n")[1].decode()
    click.echo(f"OK: signed checkpoint of size {size}", err=True)


@log.command()
@click.option("--index", type=int, default=None, help="Prove the entry at this index.")
@click.option("--entry", "entry_path", default=None, help="Prove the entry with these bytes.")
@click.option(
    "--consistency", "old_size", type=int, default=None, help="Consistency proof from this size."
)
@click.option("--to", "new_size", type=int, default=None, help="...to this size (default: now).")
@_output
@click.pass_context
def prove(
    ctx: click.Context,
    index: int | None,
    entry_path: str | None,
    old_size: int | None,
    new_size: int | None,
    output: str,
) -> None:
    """Print an inclusion proof bundle (c2sp.org/tlog-proof) or a consistency proof."""
    chosen = [x is not None for x in (index, entry_path, old_size)]
    if sum(chosen) != 1:
        raise click.UsageError("give exactly one of --index, --entry, --consistency")
    log_ = _open(ctx)
    if old_size is not None:
        import base64

        proof = log_.consistency_proof(old_size, new_size)
        _emit("".join(base64.b64encode(h).decode() + "\n" for h in proof).encode(), output)
        click.echo(f"OK: consistency proof of {len(proof)} hashes", err=True)
        return
    target: int | bytes = index if index is not None else _read(str(entry_path), "entry")
    bundle = log_.prove_inclusion(target)
    _emit(bundle.to_bytes(), output)
    click.echo(f"OK: inclusion proof for entry {bundle.index}", err=True)


@log.command()
@_vkeys_opt
@click.option("--entry", "entry_path", default=None, help="Entry bytes (inclusion mode).")
@click.option("--bundle", "bundle_path", default=None, help="tlog-proof bundle (inclusion mode).")
@click.option("--old", "old_path", default=None, help="Older checkpoint (consistency mode).")
@click.option("--new", "new_path", default=None, help="Newer checkpoint (consistency mode).")
@click.option("--proof", "proof_path", default=None, help="Consistency proof (base64 lines).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON verdict on stdout.")
def verify(
    vkeys_path: str,
    entry_path: str | None,
    bundle_path: str | None,
    old_path: str | None,
    new_path: str | None,
    proof_path: str | None,
    as_json: bool,
) -> None:
    """Verify offline: an entry against a proof bundle, or two checkpoints' consistency."""
    vkeys = _vkeys(vkeys_path)
    if entry_path and bundle_path and not (old_path or new_path):
        bundle = ProofBundle.from_bytes(_read(bundle_path, "proof bundle"))
        cp = verify_inclusion_bundle(_read(entry_path, "entry"), bundle, vkeys)
        report = {"index": bundle.index, "origin": cp.origin, "size": cp.size}
        msg = f"OK: entry {bundle.index} is in log {cp.origin} (tree size {cp.size})"
    elif old_path and new_path and not (entry_path or bundle_path):
        old = verify_checkpoint(_read(old_path, "checkpoint"), vkeys)
        new_raw = _read(new_path, "checkpoint")
        proof = parse_hash_lines(_read(proof_path, "proof")) if proof_path else ()
        cp = verify_consistency(old, verify_checkpoint(new_raw, vkeys), proof)
        report = {"origin": cp.origin, "old_size": old.size, "size": cp.size}
        msg = f"OK: log {cp.origin} size {cp.size} is consistent with size {old.size}"
    else:
        raise click.UsageError("give --entry and --bundle, or --old and --new [--proof]")
    if as_json:
        click.echo(json.dumps({"ok": True, **report}, sort_keys=True))
    click.echo(msg, err=True)


@log.command()
@_vkeys_opt
@click.option(
    "--state", "state_path", required=True, envvar="QPROV_LOG_MONITOR_STATE", help="State file."
)
@click.option("--proof", "proof_path", default=None, help="Consistency proof (else from --store).")
@click.argument("checkpoint_path", metavar="CHECKPOINT")
@click.pass_context
def monitor(
    ctx: click.Context,
    vkeys_path: str,
    state_path: str,
    proof_path: str | None,
    checkpoint_path: str,
) -> None:
    """Check CHECKPOINT against the checkpoints seen before; alarm on fork or rollback."""
    mon = Monitor(state_path, _vkeys(vkeys_path))
    note = _read(checkpoint_path, "checkpoint")
    if proof_path is not None:
        cp = mon.observe(note, parse_hash_lines(_read(proof_path, "proof")))
    else:
        cp = mon.observe(note, proof_source=lambda a, b: _open(ctx).consistency_proof(a, b))
    click.echo(f"OK: log {cp.origin} at size {cp.size} is consistent with all seen", err=True)


@log.command()
@click.argument("directory")
@click.pass_context
def tiles(ctx: click.Context, directory: str) -> None:
    """Export the latest checkpoint and its tiles (c2sp.org/tlog-tiles) to DIRECTORY."""
    size = _open(ctx).export_tiles(directory)
    click.echo(f"OK: wrote tiles of tree size {size} to {directory}", err=True)
