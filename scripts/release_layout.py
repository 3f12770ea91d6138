#!/usr/bin/env python3
"""Write and sign the in-toto layout of an SDK release pipeline (docs/release-layout.md).

Steps: checkout -> build -> sbom -> attest. Each step names the functionary
key(s) allowed to sign its link; the layout is signed (DSSE) by the project
owner's composite ML-DSA key, so both use qprov's post-quantum signatures
through in-toto's own API (qprov registers its key type with securesystemslib).

    python scripts/release_layout.py sign --owner-key file:owner.key \
        --functionary checkout=ci.pub --functionary build=ci.pub \
        --functionary sbom=ci.pub --functionary attest=release.pub \
        -o root.layout
    python scripts/release_layout.py verify --layout root.layout \
        --owner-pub owner.pub --link-dir links

Functionary keys are qprov public keys (PEM).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from in_toto.models.layout import Layout, Step
from in_toto.models.metadata import Envelope
from securesystemslib.signer import Signer

from qprov.keys import load_public_key, load_signer

STEPS: tuple[str, ...] = ("checkout", "build", "sbom", "attest")

#: Artifact rules of each step: what it may consume and what it must produce.
_RULES: dict[str, dict[str, list[list[str]]]] = {
    "checkout": {
        "expected_materials": [],
        "expected_products": [["CREATE", "*"]],
    },
    "build": {
        "expected_materials": [
            ["MATCH", "*", "WITH", "PRODUCTS", "FROM", "checkout"],
            ["DISALLOW", "*"],
        ],
        "expected_products": [["CREATE", "dist/*"], ["DISALLOW", "*"]],
    },
    "sbom": {
        "expected_materials": [
            ["MATCH", "dist/*", "WITH", "PRODUCTS", "FROM", "build"],
            ["DISALLOW", "*"],
        ],
        "expected_products": [["CREATE", "sbom.cdx.json"], ["DISALLOW", "*"]],
    },
    "attest": {
        "expected_materials": [
            ["MATCH", "dist/*", "WITH", "PRODUCTS", "FROM", "build"],
            ["MATCH", "sbom.cdx.json", "WITH", "PRODUCTS", "FROM", "sbom"],
            ["DISALLOW", "*"],
        ],
        "expected_products": [["CREATE", "*.intoto.jsonl"], ["DISALLOW", "*"]],
    },
}

#: Commands each step is expected to run (in-toto only warns on a mismatch).
_COMMANDS: dict[str, list[str]] = {
    "checkout": ["git", "clone"],
    "build": ["python", "-m", "build"],
    "sbom": ["qprov", "sbom", "wheel"],
    "attest": ["qprov", "attest", "build"],
}


def functionary_key(pem: bytes) -> dict[str, Any]:
    """The in-toto (securesystemslib) key dict of a qprov public key, with its keyid."""
    public = load_public_key(pem)
    return dict(public.to_sslib_dict(), keyid=public.keyid)


def build_layout(
    functionaries: Mapping[str, list[dict[str, Any]]], *, expires_months: int = 12
) -> Layout:
    """The release layout; ``functionaries`` maps each step to its key dicts."""
    missing = [s for s in STEPS if not functionaries.get(s)]
    if missing:
        raise ValueError(f"no functionary key for step(s): {', '.join(missing)}")
    unknown = sorted(set(functionaries) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown step(s): {', '.join(unknown)}")
    layout = Layout()
    layout.set_relative_expiration(months=expires_months)
    for step_name in STEPS:
        keyids = []
        for key in functionaries[step_name]:
            layout.add_functionary_key(key)
            keyids.append(key["keyid"])
        layout.steps.append(
            Step(
                name=step_name,
                pubkeys=keyids,
                threshold=1,
                expected_command=_COMMANDS[step_name],
                **_RULES[step_name],
            )
        )
    layout.validate()
    return layout


def sign_layout(layout: Layout, signer: Signer) -> Envelope:
    """A DSSE envelope of the layout, signed by the owner."""
    envelope = Envelope.from_signable(layout)
    envelope.create_signature(signer)
    return envelope


def verify_release_layout(layout_path: str, owner_pem: bytes, link_dir: str) -> None:
    """in-toto verification of the layout with the owner's qprov public key.

    ``in-toto-verify`` cannot do this itself: it loads verification keys with
    ``cryptography``'s PEM loader, which does not know composite ML-DSA keys.
    """
    from in_toto.models.metadata import Metadata
    from in_toto.verifylib import in_toto_verify

    owner = functionary_key(owner_pem)
    in_toto_verify(Metadata.load(layout_path), {owner["keyid"]: owner}, link_dir_path=link_dir)


def _sign_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    functionaries: dict[str, list[dict[str, Any]]] = {}
    for item in args.functionary:
        step, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--functionary {item!r}: expected STEP=PUBKEY")
        functionaries.setdefault(step, []).append(functionary_key(Path(path).read_bytes()))
    try:
        layout = build_layout(functionaries, expires_months=args.expires_months)
    except ValueError as exc:
        parser.error(str(exc))
    signer = load_signer(args.owner_key)
    sign_layout(layout, signer).dump(args.output)
    print(f"OK: layout {args.output} signed by {signer.public_key.keyid}", file=sys.stderr)
    return 0


def _verify_command(args: argparse.Namespace) -> int:
    try:
        verify_release_layout(args.layout, Path(args.owner_pub).read_bytes(), args.link_dir)
    except Exception as exc:  # noqa: BLE001 - a script: report any failure and exit 1
        print(f"FAIL: {args.layout}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"OK: {args.layout}: supply chain verified", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sign = sub.add_parser("sign", help="Write and sign the layout.")
    sign.add_argument("--owner-key", required=True, help="Signer URI of the layout owner.")
    sign.add_argument(
        "--functionary",
        action="append",
        default=[],
        metavar="STEP=PUBKEY",
        help="Public key (PEM) allowed to sign STEP's link; repeat per step.",
    )
    sign.add_argument("--expires-months", type=int, default=12)
    sign.add_argument("-o", "--output", default="root.layout")
    verify = sub.add_parser("verify", help="Verify links against the layout (in_toto_verify).")
    verify.add_argument("--layout", required=True)
    verify.add_argument("--owner-pub", required=True, help="The owner's public key (PEM).")
    verify.add_argument("--link-dir", default=".")
    args = parser.parse_args(argv)
    if args.command == "sign":
        return _sign_command(args, sign)
    return _verify_command(args)


if __name__ == "__main__":
    sys.exit(main())
