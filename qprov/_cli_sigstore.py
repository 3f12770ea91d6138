"""``qprov sigstore``: verify upstream Sigstore bundles offline.

``verify-bundle`` follows the sigstore-conformance client protocol::

    qprov sigstore verify-bundle --bundle FILE \\
        (--certificate-identity ID --certificate-oidc-issuer URL | --key FILE) \\
        [--trusted-root FILE [--trusted-root-sha256 HEX]] [--staging] (FILE | sha256:HEX)

With ``--key`` the bundle must be a keyed one (``verificationMaterial.publicKey``)
and the key file is the only trust anchor (see :func:`qprov.sigstore.verify_keyed_bundle`).

Exit 0 when the bundle verifies; otherwise the error is raised and the ``qprov``
group maps it to an exit code (1 verification or policy failure, 3 malformed or
unsupported input, 4 environment). stdout carries only the ``--json`` verdict;
stderr carries ``OK: ...`` or ``FAIL: <bundle>: <reason>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from qprov.errors import EnvironmentProblemError, Error
from qprov.sigstore import (
    ArtifactDigest,
    PinnedTrustedRoot,
    SigstorePolicy,
    TrustedPublicKey,
    VerifiedBundle,
    verify_bundle,
    verify_keyed_bundle,
)

__all__ = ["sigstore"]

#: Version of the ``--json`` verdict document.
VERDICT_SCHEMA = "https://qprov.dev/schemas/sigstore-verdict/v1"

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group("sigstore")
def sigstore() -> None:
    """Verify upstream Sigstore bundles offline against a pinned trusted root."""


def _artifact(value: str, *, all_sha2: bool = False) -> ArtifactDigest:
    if value.lower().startswith("sha256:"):
        return ArtifactDigest.parse(value)
    path = Path(value)
    if not path.is_file():
        raise click.BadParameter(
            f"{value!r} is neither a file nor sha256:HEX", param_hint="'FILE | sha256:HEX'"
        )
    return ArtifactDigest.of_file(path, all_sha2=all_sha2)


def _trusted_root(path: Path | None, sha256: str | None, staging: bool) -> PinnedTrustedRoot:
    if staging and path is not None:
        raise click.UsageError("--staging and --trusted-root are mutually exclusive")
    if sha256 is not None and path is None:
        raise click.UsageError("--trusted-root-sha256 needs --trusted-root")
    if path is None:
        return PinnedTrustedRoot.staging() if staging else PinnedTrustedRoot.production()
    if sha256 is None:
        return PinnedTrustedRoot.from_known_file(path)
    return PinnedTrustedRoot.from_file(path, sha256)


def _verdict(bundle: Path, result: VerifiedBundle | None, error: Error | None) -> str:
    doc: dict[str, Any] = {"schema": VERDICT_SCHEMA, "bundle": str(bundle)}
    if result is not None:
        doc["verified"] = True
        doc.update(result.to_json_dict())
    elif error is not None:
        doc["verified"] = False
        doc["error"] = {
            "type": type(error).__name__,
            "reason": str(error),
            "exit_code": error.exit_code,
        }
    return json.dumps(doc, indent=2, sort_keys=True)


@sigstore.command("verify-bundle")
@click.option(
    "--bundle",
    "bundle_path",
    required=True,
    type=_FILE,
    help="Sigstore bundle (v0.1-v0.3) or PEP 740 *.attestation file.",
)
@click.option(
    "--certificate-identity",
    "identity",
    metavar="ID",
    help="Expected signer identity (certificate SAN), matched exactly.",
)
@click.option(
    "--certificate-oidc-issuer",
    "issuer",
    metavar="URL",
    help="Expected OIDC issuer of the signing certificate.",
)
@click.option(
    "--key",
    "key_path",
    type=_FILE,
    help="PEM public key of a keyed bundle (cosign sign-blob --key); the bundle's hint is ignored.",
)
@click.option(
    "--trusted-root",
    "trusted_root_path",
    type=_FILE,
    help="Sigstore TrustedRoot JSON (default: qprov's pinned production root).",
)
@click.option(
    "--trusted-root-sha256",
    metavar="HEX",
    help="Pinned sha256 of --trusted-root; without it the file must be a root qprov itself pins.",
)
@click.option("--staging", is_flag=True, help="Use qprov's pinned staging root (tests only).")
@click.option("--repository", metavar="OWNER/NAME", help="GitHub workflow repository claim.")
@click.option("--ref", metavar="REF", help="GitHub workflow ref claim, e.g. refs/tags/v1.0.")
@click.option("--trigger", metavar="EVENT", help="GitHub workflow trigger claim, e.g. release.")
@click.option("--sha", metavar="COMMIT", help="GitHub workflow commit sha claim.")
@click.option("--workflow-name", metavar="NAME", help="GitHub workflow name claim.")
@click.option("--runner", metavar="ENV", help="Runner environment claim, e.g. github-hosted.")
@click.option("--visibility", metavar="VIS", help="Source repository visibility, e.g. public.")
@click.option(
    "--source-repository-uri", metavar="URI", help="Source repository URI claim (GitHub or GitLab)."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON verdict on stdout.")
@click.argument("artifact", metavar="FILE | sha256:HEX")
def verify_bundle_command(
    bundle_path: Path,
    identity: str | None,
    issuer: str | None,
    key_path: Path | None,
    trusted_root_path: Path | None,
    trusted_root_sha256: str | None,
    staging: bool,
    repository: str | None,
    ref: str | None,
    trigger: str | None,
    sha: str | None,
    workflow_name: str | None,
    runner: str | None,
    visibility: str | None,
    source_repository_uri: str | None,
    as_json: bool,
    artifact: str,
) -> None:
    """Verify a Sigstore bundle for FILE (or its sha256:HEX digest), offline.

    Keyless bundles are checked against --certificate-identity and
    --certificate-oidc-issuer; keyed bundles (cosign sign-blob --key) against
    --key, whose log entry must bind that key, signature and digest.

    Exit 0 when valid; 1 when a signature, proof, trust or policy check fails;
    3 when the bundle is malformed or unsupported; 4 on environment errors.
    """
    claims = {
        "--repository": repository,
        "--ref": ref,
        "--trigger": trigger,
        "--sha": sha,
        "--workflow-name": workflow_name,
        "--runner": runner,
        "--visibility": visibility,
        "--source-repository-uri": source_repository_uri,
    }
    if key_path is not None and (identity is not None or issuer is not None):
        raise click.UsageError("--key excludes --certificate-identity/--certificate-oidc-issuer")
    if key_path is not None and any(v is not None for v in claims.values()):
        given = ", ".join(flag for flag, v in claims.items() if v is not None)
        raise click.UsageError(f"{given}: certificate claims do not apply to --key")
    if key_path is None and (identity is None or issuer is None):
        raise click.UsageError(
            "give --certificate-identity and --certificate-oidc-issuer (or --key)"
        )
    try:
        root = _trusted_root(trusted_root_path, trusted_root_sha256, staging)
        digest = _artifact(artifact, all_sha2=key_path is not None)
        key = TrustedPublicKey.from_file(key_path) if key_path is not None else None
        try:
            bundle = bundle_path.read_bytes()
        except OSError as exc:
            raise EnvironmentProblemError(f"cannot read: {exc.strerror}") from None
        if key is not None:
            result = verify_keyed_bundle(bundle, digest, key, trusted_root=root)
        else:
            assert identity is not None  # noqa: S101 - checked above
            assert issuer is not None  # noqa: S101
            policy = SigstorePolicy(
                identity=identity,
                issuer=issuer,
                repository=repository,
                ref=ref,
                trigger=trigger,
                sha=sha,
                workflow_name=workflow_name,
                runner=runner,
                visibility=visibility,
                source_repository_uri=source_repository_uri,
            )
            result = verify_bundle(bundle, digest, policy, trusted_root=root)
    except Error as exc:
        failure = type(exc)(f"{bundle_path}: {exc}")
        if as_json:
            click.echo(_verdict(bundle_path, None, failure))
        raise failure from exc
    if as_json:
        click.echo(_verdict(bundle_path, result, None))
    what = "DSSE statement" if result.kind == "dsse" else "signature"
    logged = ""
    if result.log_url is not None:
        logged = f", logged in {result.log_url} at index {result.log_index}"
    click.echo(
        f"OK: {bundle_path}: {what} over {result.artifact} by {result.signer}{logged}, "
        f"trusted root {result.trusted_root}",
        err=True,
    )
