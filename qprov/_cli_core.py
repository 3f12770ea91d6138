"""Core commands: keys, sign, verify-envelope, plumbing, demo."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from qprov._io import atomic_write, read_input, write_output
from qprov.errors import (
    Error,
    KeyDecryptionError,
    MalformedInputError,
    SignatureError,
)

_FILE = click.Path(exists=True, dir_okay=False, readable=True, allow_dash=True)


def _status(line: str) -> None:
    click.echo(line, err=True)


def _ask_passphrase(confirm: bool = False) -> str:
    value = os.environ.get("QPROV_KEY_PASSPHRASE")
    if value:
        return value
    if not sys.stdin.isatty():
        raise KeyDecryptionError(
            "a passphrase is needed: set QPROV_KEY_PASSPHRASE (no terminal to prompt on)"
        )
    result: str = click.prompt(
        "Key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return result


def _with_subject(subject: str, exc: Error) -> Error:
    return type(exc)(f"{subject}: {exc}")


# -- keys ---------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Generate and inspect keys."""


@keys.command("generate")
@click.option(
    "--alg",
    "alg",
    default="MLDSA65-Ed25519-SHA512",
    show_default=True,
    help="Algorithm (draft name, with or without 'id-').",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Private key path; the public key goes to OUT.pub (PEM) and OUT.pub.json.",
)
@click.option(
    "--no-passphrase",
    is_flag=True,
    help="Write the private key unencrypted (PKCS #8 PEM). Not recommended.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keys_generate(alg: str, out: str, no_passphrase: bool, force: bool) -> None:
    """Generate a key pair: encrypted private key, PEM and JSON public key."""
    from qprov.keys import generate_private_key, get_algorithm

    algorithm = get_algorithm(alg)  # check input before any work
    paths = [Path(out), Path(out + ".pub"), Path(out + ".pub.json")]
    if not force:
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise click.UsageError(f"refusing to overwrite {', '.join(existing)} (use --force)")
    passphrase = "" if no_passphrase else _ask_passphrase(confirm=True)
    key = generate_private_key(algorithm)
    private = key.to_unencrypted_pem() if no_passphrase else key.to_encrypted(passphrase)
    public = key.public_key()
    sslib = dict(public.to_sslib_dict(), keyid=public.keyid)
    atomic_write(paths[1], public.to_pem())
    atomic_write(paths[2], json.dumps(sslib, indent=2).encode() + b"\n")
    atomic_write(paths[0], private, mode=0o600)
    _status(
        f"OK: {algorithm.name} key {public.keyid} written to {out} "
        f"({'unencrypted' if no_passphrase else 'encrypted'}), {out}.pub, {out}.pub.json"
    )


@keys.command("show")
@click.argument("file", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def keys_show(file: str, as_json: bool) -> None:
    """Print a key's algorithm, key id and fingerprint."""
    from qprov._canon import loads_strict
    from qprov.keys import load_private_key, load_public_key

    data = read_input(file, what="key file", max_bytes=1024 * 1024)
    kind = "public"
    if b"PRIVATE KEY" in data:
        public = load_private_key(data).public_key()
        kind = "private (unencrypted)"
    elif data.lstrip().startswith(b"{") and b'"ciphertext"' in data:
        public = load_private_key(data, _ask_passphrase).public_key()
        doc = loads_strict(data, what="key file")
        kind = f"private ({doc.get('format')})"
    else:
        public = load_public_key(data)
    info: dict[str, Any] = {
        "kind": kind,
        "algorithm": public.algorithm.name,
        "oid": public.algorithm.oid,
        "composite": public.algorithm.is_composite,
        "nistLevel": public.algorithm.nist_level,
        "keyid": public.keyid,
        "fingerprint": public.fingerprint,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            click.echo(f"{k}: {v}")


# -- sign / verify-envelope ------------------------------------------------------------


@click.command("sign")
@click.argument("file", type=_FILE)
@click.option("--key", required=True, help="Signer URI: file:PATH or env:VARIABLE.")
@click.option(
    "--payload-type",
    default=None,
    help="DSSE payloadType (default: in-toto for a Statement, else application/octet-stream).",
)
@click.option("-o", "--output", default="-", show_default=True, help="Envelope file, - for stdout.")
def sign(file: str, key: str, payload_type: str | None, output: str) -> None:
    """Sign FILE into a DSSE envelope."""
    from qprov.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
    from qprov.keys import load_signer

    payload = read_input(file, what="payload")
    if payload_type is None:
        payload_type = "application/octet-stream"
        if b'"https://in-toto.io/Statement/v1"' in payload[:4096] or payload.lstrip()[:1] == b"{":
            from qprov.statement import parse_statement

            try:
                parse_statement(payload)
                payload_type = INTOTO_PAYLOAD_TYPE
            except MalformedInputError:
                pass
    signer = load_signer(key, _ask_passphrase)
    envelope = sign_envelope(payload, payload_type, [signer])
    write_output(output, envelope.to_json())
    _status(
        f"OK: signed {file} ({payload_type}) with {signer.algorithm.name} key "
        f"{signer.public_key.keyid}"
    )


@click.command("verify-envelope")
@click.argument("file", type=_FILE)
@click.option("--trust", required=True, type=_FILE, help="Trust file (TOML).")
@click.option("--role", required=True, help="Role whose keys must have signed.")
@click.option("--payload-type", default=None, help="Require this payloadType.")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Where the verified payload goes, - for stdout.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON verdict instead of the payload."
)
def verify_envelope(
    file: str, trust: str, role: str, payload_type: str | None, output: str, as_json: bool
) -> None:
    """Verify a DSSE envelope; print the verified payload bytes."""
    from qprov.dsse import parse_envelope
    from qprov.dsse import verify_envelope as verify
    from qprov.trust import load_trust

    store = load_trust(trust)
    store.role(role)
    try:
        envelope = parse_envelope(read_input(file, what="envelope"))
        verified = verify(envelope, store, role, payload_type=payload_type)
    except Error as exc:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "verified": False,
                        "file": file,
                        "error": type(exc).__name__,
                        "reason": str(exc),
                    }
                )
            )
        raise _with_subject(file, exc) from None
    if as_json:
        verdict = {
            "verified": True,
            "file": file,
            "role": role,
            "keyids": list(verified.keyids),
            "payloadType": verified.payload_type,
            "payload": base64.b64encode(verified.payload).decode(),
        }
        write_output(output, json.dumps(verdict).encode() + b"\n")
    else:
        write_output(output, verified.payload)
    _status(f"OK: {file}: signed by {', '.join(k[:16] for k in verified.keyids)} for role {role}")


# -- plumbing -------------------------------------------------------------------------


@click.group()
def plumbing() -> None:
    """Low-level commands for interop checks (stable interface, base64 everywhere)."""


def _b64(value: str, what: str) -> bytes:
    from qprov.keys import _b64decode

    return _b64decode(value, what)


@plumbing.command("composite-verify")
@click.option("--alg", required=True, help="e.g. id-MLDSA65-Ed25519-SHA512 or ML-DSA-65.")
@click.option(
    "--public-key", required=True, help="Raw public key (draft form) or SPKI DER, base64."
)
@click.option("--message", required=True, help="Message, base64.")
@click.option("--signature", required=True, help="Signature, base64.")
@click.option("--context", default="", help="Application context, base64 (default empty).")
def composite_verify(alg: str, public_key: str, message: str, signature: str, context: str) -> None:
    """Exit 0 when the signature is valid, 1 when not, 3 on malformed input."""
    from qprov.keys import PublicKey, get_algorithm

    algorithm = get_algorithm(alg)
    pk_bytes = _b64(public_key, "public key")
    msg = _b64(message, "message")
    sig = _b64(signature, "signature")
    ctx = _b64(context, "context") if context else b""
    if len(ctx) > 255:
        raise MalformedInputError("context is longer than 255 bytes")
    try:
        key = PublicKey.from_raw(algorithm, pk_bytes)
    except MalformedInputError:
        if not pk_bytes.startswith(b"\x30"):
            raise
        key = PublicKey.from_spki_der(pk_bytes)
        if key.algorithm is not algorithm:
            raise MalformedInputError(
                f"public key is a {key.algorithm.name} key, not {algorithm.name}"
            ) from None
    key.verify(sig, msg, ctx)
    _status(f"OK: valid {algorithm.name} signature")


@plumbing.command("composite-sign")
@click.option("--alg", required=True, help="e.g. id-MLDSA65-Ed25519-SHA512 or ML-DSA-65.")
@click.option(
    "--private-key",
    required=True,
    help="Raw private key (draft form: seed || traditional) or PKCS #8 DER, base64.",
)
@click.option("--message", required=True, help="Message, base64.")
@click.option("--context", default="", help="Application context, base64 (default empty).")
def composite_sign(alg: str, private_key: str, message: str, context: str) -> None:
    """Print the base64 signature of MESSAGE."""
    from qprov.keys import PrivateKey, get_algorithm

    algorithm = get_algorithm(alg)
    sk_bytes = _b64(private_key, "private key")
    msg = _b64(message, "message")
    ctx = _b64(context, "context") if context else b""
    try:
        key = PrivateKey.from_raw(algorithm, sk_bytes)
    except MalformedInputError:
        if not sk_bytes.startswith(b"\x30"):
            raise
        key = PrivateKey.from_pkcs8_der(sk_bytes)
        if key.algorithm is not algorithm:
            raise MalformedInputError(
                f"private key is a {key.algorithm.name} key, not {algorithm.name}"
            ) from None
    click.echo(base64.b64encode(key.sign(msg, ctx)).decode())


# -- demo -----------------------------------------------------------------------------


@click.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    default=None,
    help="Work in this directory and keep the files (default: a temporary one).",
)
def demo(keep: str | None) -> None:
    """Run qprov's main job end to end in a temporary directory."""
    from qprov._demo import run_demo

    failures = run_demo(Path(keep) if keep else None, _status)
    if failures:
        raise SignatureError(f"demo: {failures} step(s) did not behave as expected")
