"""SLSA Provenance v1: predicate model and parser, predicate builders, release policy.

Private: the public names are re-exported by :mod:`qprov.slsa`.

A SLSA predicate is a foreign format (GitHub, slsa-github-generator and other
tools write them): unknown fields are preserved and ignored, as the SLSA
specification asks, but every field the release policy relies on is checked
strictly (type, presence, non-empty).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Final

from qprov._canon import loads_strict
from qprov.errors import ConfigError, EnvironmentProblemError, MalformedInputError
from qprov.sigstore import PinnedTrustedRoot, SigstorePolicy

SLSA_PROVENANCE_V1: Final = "https://slsa.dev/provenance/v1"
CYCLONEDX_BOM: Final = "https://cyclonedx.org/bom"
GITHUB_WORKFLOW_BUILD_TYPE: Final = "https://actions.github.io/buildtypes/workflow/v1"
SLSA_GITHUB_WORKFLOW_BUILD_TYPE: Final = (
    "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
)
LOCAL_BUILD_TYPE: Final = "https://qprov.dev/buildtypes/local/v1"
LOCAL_BUILDER_ID: Final = "https://qprov.dev/builders/local/v1"

_HEX_DIGESTS = {"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": 40}
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

#: externalParameters each known buildType defines: top-level key -> allowed sub-keys
#: (``None``: any value). Anything else is "unknown" for the release policy.
KNOWN_EXTERNAL_PARAMETERS: Final[Mapping[str, Mapping[str, frozenset[str] | None]]] = {
    GITHUB_WORKFLOW_BUILD_TYPE: {"workflow": frozenset({"ref", "repository", "path"})},
    SLSA_GITHUB_WORKFLOW_BUILD_TYPE: {
        "workflow": frozenset({"ref", "repository", "path"}),
        "inputs": None,
        "vars": None,
    },
    LOCAL_BUILD_TYPE: {"source": frozenset({"repository", "ref"})},
}


# -- model and parser -----------------------------------------------------------


@dataclass(frozen=True)
class ResourceDescriptor:
    """An in-toto ResourceDescriptor (name, uri, digest; the rest kept in ``raw``)."""

    name: str | None
    uri: str | None
    digest: Mapping[str, str]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True)
class Provenance:
    """The parts of a SLSA Provenance v1 predicate that verification uses."""

    build_type: str
    external_parameters: Mapping[str, Any]
    internal_parameters: Mapping[str, Any] | None
    resolved_dependencies: tuple[ResourceDescriptor, ...]
    builder_id: str
    invocation_id: str | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The predicate as parsed (unknown fields included)."""
        return dict(self.raw)

    def source(self) -> tuple[str | None, str | None]:
        """(repository, ref) the build says it came from, per its buildType."""
        ext = self.external_parameters
        if self.build_type in (GITHUB_WORKFLOW_BUILD_TYPE, SLSA_GITHUB_WORKFLOW_BUILD_TYPE):
            part = ext.get("workflow")
        elif self.build_type == LOCAL_BUILD_TYPE:
            part = ext.get("source")
        else:
            return None, None
        if not isinstance(part, dict):
            return None, None
        repo, ref = part.get("repository"), part.get("ref")
        return (
            repo if isinstance(repo, str) and repo else None,
            ref if isinstance(ref, str) and ref else None,
        )

    def unknown_external_parameters(self) -> list[str]:
        """Dotted names of externalParameters the buildType does not define.

        For a buildType qprov does not know, every parameter is unknown.
        """
        known = KNOWN_EXTERNAL_PARAMETERS.get(self.build_type, {})
        unknown: list[str] = []
        for key in sorted(self.external_parameters):
            if key not in known:
                unknown.append(key)
                continue
            allowed = known[key]
            value = self.external_parameters[key]
            if allowed is not None and isinstance(value, dict):
                unknown.extend(f"{key}.{k}" for k in sorted(value) if k not in allowed)
        return unknown


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedInputError(f"SLSA provenance: {where} must be an object")
    return value


def _opt_obj(value: Any, where: str) -> dict[str, Any] | None:
    return None if value is None else _obj(value, where)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedInputError(f"SLSA provenance: {where} must be a non-empty string")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _digest_set(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MalformedInputError(f"SLSA provenance: {where} must be an object")
    out: dict[str, str] = {}
    for alg, hexval in value.items():
        if not isinstance(hexval, str) or not hexval:
            raise MalformedInputError(f"SLSA provenance: {where}.{alg} must be a non-empty string")
        want = _HEX_DIGESTS.get(alg)
        if want is not None and (len(hexval) != want or not _HEX_RE.match(hexval)):
            raise MalformedInputError(
                f"SLSA provenance: {where}.{alg} must be {want} lowercase hex digits"
            )
        out[alg] = hexval
    return out


def _resource(value: Any, where: str) -> ResourceDescriptor:
    doc = _obj(value, where)
    for key in ("name", "uri", "downloadLocation", "mediaType"):
        if key in doc:
            _str(doc[key], f"{where}.{key}")
    if "annotations" in doc:
        _obj(doc["annotations"], f"{where}.annotations")
    digest = _digest_set(doc["digest"], f"{where}.digest") if "digest" in doc else {}
    if not digest and "uri" not in doc and "content" not in doc:
        raise MalformedInputError(f"SLSA provenance: {where} needs a uri, a digest or content")
    return ResourceDescriptor(doc.get("name"), doc.get("uri"), digest, doc)


def _resources(value: Any, where: str) -> tuple[ResourceDescriptor, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedInputError(f"SLSA provenance: {where} must be a list")
    return tuple(_resource(v, f"{where}[{i}]") for i, v in enumerate(value))


def parse_provenance(predicate: Any) -> Provenance:
    """Check a SLSA Provenance v1 predicate (a parsed JSON value); MalformedInputError if not."""
    doc = _obj(predicate, "predicate")
    build = _obj(doc.get("buildDefinition"), "buildDefinition")
    build_type = _str(build.get("buildType"), "buildDefinition.buildType")
    ext = _obj(build.get("externalParameters"), "buildDefinition.externalParameters")
    internal = _opt_obj(build.get("internalParameters"), "buildDefinition.internalParameters")
    deps = _resources(build.get("resolvedDependencies"), "buildDefinition.resolvedDependencies")
    run = _obj(doc.get("runDetails"), "runDetails")
    builder = _obj(run.get("builder"), "runDetails.builder")
    builder_id = _str(builder.get("id"), "runDetails.builder.id")
    if "version" in builder:
        version = _obj(builder["version"], "runDetails.builder.version")
        for k, v in version.items():
            _str(v, f"runDetails.builder.version.{k}")
    _resources(builder.get("builderDependencies"), "runDetails.builder.builderDependencies")
    meta = _opt_obj(run.get("metadata"), "runDetails.metadata") or {}
    invocation = _opt_str(meta.get("invocationId"), "runDetails.metadata.invocationId")
    for key in ("startedOn", "finishedOn"):
        if key in meta and not _RFC3339.fullmatch(_str(meta[key], f"runDetails.metadata.{key}")):
            raise MalformedInputError(
                f"SLSA provenance: runDetails.metadata.{key} must be an RFC 3339 timestamp"
            )
    _resources(run.get("byproducts"), "runDetails.byproducts")
    return Provenance(build_type, ext, internal, deps, builder_id, invocation, doc)


def parse_provenance_json(data: bytes) -> Provenance:
    """Parse a predicate from JSON bytes (strict JSON, then :func:`parse_provenance`)."""
    return parse_provenance(loads_strict(data, what="SLSA provenance predicate"))


# -- builders: GitHub Actions ----------------------------------------------------

# Environment variable -> OIDC claim of the same value, as actions/attest-build-provenance
# reads them from the job's ID token (actions/toolkit packages/attest/src/provenance.ts).
_GITHUB_ENV_CLAIMS: Final = {
    "repository": "GITHUB_REPOSITORY",
    "workflow_ref": "GITHUB_WORKFLOW_REF",
    "event_name": "GITHUB_EVENT_NAME",
    "repository_id": "GITHUB_REPOSITORY_ID",
    "repository_owner_id": "GITHUB_REPOSITORY_OWNER_ID",
    "runner_environment": "RUNNER_ENVIRONMENT",
    "ref": "GITHUB_REF",
    "sha": "GITHUB_SHA",
    "run_id": "GITHUB_RUN_ID",
    "run_attempt": "GITHUB_RUN_ATTEMPT",
}
#: The OIDC ``job_workflow_ref`` claim has no environment variable; this one may carry it
#: (a reusable workflow's ref). Without it the builder is the top-level workflow.
JOB_WORKFLOW_REF_ENV: Final = "QPROV_GITHUB_JOB_WORKFLOW_REF"


def in_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def github_claims_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The ID-token claims attest-build-provenance uses, read from the job's environment."""
    claims: dict[str, str] = {}
    missing = []
    for claim, var in _GITHUB_ENV_CLAIMS.items():
        value = env.get(var, "")
        if not value:
            missing.append(var)
        claims[claim] = value
    if missing:
        raise EnvironmentProblemError(f"GitHub Actions environment is missing {', '.join(missing)}")
    claims["job_workflow_ref"] = env.get(JOB_WORKFLOW_REF_ENV) or claims["workflow_ref"]
    return claims


def github_predicate(
    claims: Mapping[str, str], server_url: str = "https://github.com"
) -> dict[str, Any]:
    """The predicate actions/attest-build-provenance emits, field for field."""
    try:
        repository = claims["repository"]
        prefix = f"{repository}/"
        workflow_ref = claims["workflow_ref"]
        stripped = workflow_ref.replace(prefix, "", 1) if prefix in workflow_ref else workflow_ref
        workflow_path, sep, ref = stripped.partition("@")
        if not sep or not workflow_path or not ref:
            raise MalformedInputError(f"workflow ref {workflow_ref!r} is not OWNER/REPO/PATH@REF")
        return {
            "buildDefinition": {
                "buildType": GITHUB_WORKFLOW_BUILD_TYPE,
                "externalParameters": {
                    "workflow": {
                        "ref": ref,
                        "repository": f"{server_url}/{repository}",
                        "path": workflow_path,
                    }
                },
                "internalParameters": {
                    "github": {
                        "event_name": claims["event_name"],
                        "repository_id": claims["repository_id"],
                        "repository_owner_id": claims["repository_owner_id"],
                        "runner_environment": claims["runner_environment"],
                    }
                },
                "resolvedDependencies": [
                    {
                        "uri": f"git+{server_url}/{repository}@{claims['ref']}",
                        "digest": {"gitCommit": claims["sha"]},
                    }
                ],
            },
            "runDetails": {
                "builder": {"id": f"{server_url}/{claims['job_workflow_ref']}"},
                "metadata": {
                    "invocationId": (
                        f"{server_url}/{repository}/actions/runs/{claims['run_id']}"
                        f"/attempts/{claims['run_attempt']}"
                    )
                },
            },
        }
    except KeyError as exc:
        raise MalformedInputError(f"GitHub claims lack {exc.args[0]!r}") from None


# -- builders: local ---------------------------------------------------------------

GitRunner = Callable[[list[str], Path], str | None]


def _run_git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else None


_SCP_LIKE = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")


def _normalise_remote(url: str) -> str:
    """``git@github.com:o/r.git`` and ``https://github.com/o/r.git`` -> ``https://github.com/o/r``.

    Credentials in an https remote are dropped: they must never be signed into provenance.
    """
    m = _SCP_LIKE.match(url)
    if m:
        url = f"https://{m.group(1)}/{m.group(2)}"
    url = re.sub(r"^(https?://)[^/@]+@", r"\1", url)
    return url.removesuffix(".git").rstrip("/")


@dataclass(frozen=True)
class GitSource:
    repository: str | None
    ref: str | None
    commit: str


def git_source(directory: Path, run: GitRunner = _run_git) -> GitSource | None:
    """The git commit (and remote, ref) of the tree at ``directory``, or None."""
    commit = run(["rev-parse", "HEAD"], directory)
    if commit is None or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    remote = run(["remote", "get-url", "origin"], directory)
    ref = run(["symbolic-ref", "-q", "HEAD"], directory)
    return GitSource(_normalise_remote(remote) if remote else None, ref, commit)


def _read_text(dist: importlib_metadata.Distribution, name: str) -> str | None:
    try:
        return dist.read_text(name)
    except (OSError, UnicodeDecodeError):
        return None


def _record_digest(dist: importlib_metadata.Distribution) -> str | None:
    text = _read_text(dist, "RECORD")
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _direct_url_digest(dist: importlib_metadata.Distribution) -> dict[str, str]:
    text = _read_text(dist, "direct_url.json")
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    archive = doc.get("archive_info") if isinstance(doc, dict) else None
    if not isinstance(archive, dict):
        return {}
    hashes = archive.get("hashes")
    if isinstance(hashes, dict):
        return {
            k: v
            for k, v in hashes.items()
            if k in _HEX_DIGESTS and isinstance(v, str) and _HEX_RE.fullmatch(v)
        }
    legacy = archive.get("hash")
    if isinstance(legacy, str) and "=" in legacy:
        alg, _, value = legacy.partition("=")
        if alg in _HEX_DIGESTS and _HEX_RE.fullmatch(value):
            return {alg: value}
    return {}


def _canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environment_dependencies(
    distributions: Iterable[importlib_metadata.Distribution] | None = None,
) -> list[dict[str, Any]]:
    """ResourceDescriptors of the installed Python distributions, sorted by name.

    The digest is the wheel's (from ``direct_url.json``) where recorded; the
    sha256 of the distribution's RECORD file, which commits to every installed
    file, goes in the annotations.
    """
    if distributions is None:
        distributions = importlib_metadata.distributions()
    seen: dict[str, dict[str, Any]] = {}
    for dist in distributions:
        raw_name = dist.metadata["Name"] if dist.metadata else None
        if not raw_name:
            continue
        name = _canonical_name(str(raw_name))
        if name in seen:
            continue  # the first on sys.path wins, as for an import
        version = dist.version
        if not version:
            continue  # a broken dist-info: nothing to pin
        entry: dict[str, Any] = {"name": name, "uri": f"pkg:pypi/{name}@{version}"}
        digest = _direct_url_digest(dist)
        if digest:
            entry["digest"] = digest
        record = _record_digest(dist)
        if record:
            entry["annotations"] = {"recordSha256": record}
        seen[name] = entry
    return [seen[n] for n in sorted(seen)]


def local_predicate(
    *,
    source_dir: Path | None = None,
    builder_id: str = LOCAL_BUILDER_ID,
    distributions: Iterable[importlib_metadata.Distribution] | None = None,
    git: GitRunner = _run_git,
    qprov_version: str = "",
) -> dict[str, Any]:
    """A predicate of the local buildType (attestations/slsa-local-buildtype.md)."""
    deps: list[dict[str, Any]] = []
    external: dict[str, Any] = {}
    src = git_source(source_dir, git) if source_dir is not None else None
    if src is not None:
        source: dict[str, str] = {}
        if src.repository:
            source["repository"] = src.repository
        if src.ref:
            source["ref"] = src.ref
        if source:
            external["source"] = source
        location = src.repository or "unknown"
        uri = f"git+{location}@{src.ref}" if src.ref else f"git+{location}"
        deps.append({"uri": uri, "digest": {"gitCommit": src.commit}})
    deps.extend(environment_dependencies(distributions))
    builder: dict[str, Any] = {"id": builder_id}
    if qprov_version:
        builder["version"] = {"qprov": qprov_version}
    return {
        "buildDefinition": {
            "buildType": LOCAL_BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": {
                "python": {
                    "implementation": platform.python_implementation(),
                    "version": platform.python_version(),
                },
                "platform": {"system": platform.system(), "machine": platform.machine()},
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {"builder": builder},
    }


def build_predicate(
    env: Mapping[str, str] | None = None,
    *,
    source_dir: Path | None = None,
    builder_id: str | None = None,
    qprov_version: str = "",
    distributions: Iterable[importlib_metadata.Distribution] | None = None,
    git: GitRunner = _run_git,
) -> dict[str, Any]:
    """The provenance predicate for this build: GitHub Actions' form there, local elsewhere."""
    env = os.environ if env is None else env
    if in_github_actions(env):
        predicate = github_predicate(
            github_claims_from_env(env), env.get("GITHUB_SERVER_URL") or "https://github.com"
        )
        if builder_id:
            predicate["runDetails"]["builder"]["id"] = builder_id
        return predicate
    return local_predicate(
        source_dir=source_dir,
        builder_id=builder_id or LOCAL_BUILDER_ID,
        distributions=distributions,
        git=git,
        qprov_version=qprov_version,
    )


# -- release policy ----------------------------------------------------------------

_POLICY_FIELDS = (
    "version",
    "predicate_type",
    "builder_ids",
    "build_types",
    "source_repositories",
    "refs",
    "reject_unknown_external_parameters",
    "sigstore",
)
_MAX_POLICY_FILE = 1024 * 1024

#: ``[sigstore]`` keys that map one to one onto :class:`qprov.sigstore.SigstorePolicy`.
_SIGSTORE_CLAIMS: Final = (
    "identity",
    "issuer",
    "repository",
    "ref",
    "trigger",
    "sha",
    "workflow_name",
    "runner",
    "visibility",
    "source_repository_uri",
)
_SIGSTORE_FIELDS: Final = frozenset(
    {*_SIGSTORE_CLAIMS, "trusted_root", "trusted_root_sha256", "require_provenance"}
)
_SHIPPED_INSTANCES: Final = ("production", "staging")


@dataclass(frozen=True)
class SigstoreReleasePolicy:
    """The ``[sigstore]`` table: who must have signed an upstream Sigstore bundle.

    ``claims`` holds the :class:`~qprov.sigstore.SigstorePolicy` fields the
    policy sets (``identity`` and ``issuer`` may be left to the command line).
    ``trusted_root`` is ``"production"``, ``"staging"`` or a file whose
    ``trusted_root_sha256`` pin is then required. ``require_provenance``
    refuses bundles that carry no SLSA provenance (plain signatures, PyPI
    publish attestations).
    """

    claims: Mapping[str, str] = field(default_factory=dict)
    trusted_root: str = "production"
    trusted_root_sha256: str | None = None
    require_provenance: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.claims) - set(_SIGSTORE_CLAIMS))
        if unknown:
            raise ConfigError(f"release policy [sigstore]: unknown field(s): {', '.join(unknown)}")
        for key, value in self.claims.items():
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"release policy [sigstore]: {key} must be a non-empty string")
        if self.trusted_root in _SHIPPED_INSTANCES:
            if self.trusted_root_sha256 is not None:
                raise ConfigError(
                    "release policy [sigstore]: trusted_root_sha256 is only for a trusted_root "
                    "file (qprov pins its shipped roots itself)"
                )
        elif self.trusted_root_sha256 is None:
            raise ConfigError(
                f"release policy [sigstore]: trusted_root {self.trusted_root!r} needs "
                "trusted_root_sha256 (a trusted root is used only when pinned)"
            )

    @classmethod
    def from_dict(cls, doc: Any, base_dir: Path | None = None) -> SigstoreReleasePolicy:
        if not isinstance(doc, dict):
            raise ConfigError("release policy: sigstore must be a table")
        unknown = sorted(set(doc) - _SIGSTORE_FIELDS)
        if unknown:
            raise ConfigError(f"release policy [sigstore]: unknown field(s): {', '.join(unknown)}")
        root = doc.get("trusted_root", "production")
        pin = doc.get("trusted_root_sha256")
        require = doc.get("require_provenance", False)
        if not isinstance(root, str) or not root:
            raise ConfigError("release policy [sigstore]: trusted_root must be a non-empty string")
        if pin is not None and not isinstance(pin, str):
            raise ConfigError("release policy [sigstore]: trusted_root_sha256 must be a string")
        if not isinstance(require, bool):
            raise ConfigError("release policy [sigstore]: require_provenance must be a bool")
        if root not in _SHIPPED_INSTANCES and base_dir is not None:
            root = str(base_dir / root)  # relative to the policy file
        claims = {k: doc[k] for k in _SIGSTORE_CLAIMS if k in doc}
        return cls(claims, root, pin, require)

    def sigstore_policy(self, **overrides: str | None) -> SigstorePolicy:
        """The Sigstore identity policy; non-``None`` overrides (CLI flags) win.

        Raises ConfigError when no identity or issuer is given by either.
        """
        unknown = sorted(set(overrides) - set(_SIGSTORE_CLAIMS))
        if unknown:
            raise ConfigError(f"unknown Sigstore policy field(s): {', '.join(unknown)}")
        values = dict(self.claims)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for required, flag in (("identity", "identity"), ("issuer", "oidc-issuer")):
            if required not in values:
                raise ConfigError(
                    f"Sigstore bundle: no {required} to verify against (set it in the release "
                    f"policy's [sigstore] table or give --certificate-{flag})"
                )
        return SigstorePolicy(**values)

    def pinned_trusted_root(self) -> PinnedTrustedRoot:
        """The trusted root the policy names, checked against its pin."""
        if self.trusted_root == "staging":
            return PinnedTrustedRoot.staging()
        if self.trusted_root == "production":
            return PinnedTrustedRoot.production()
        assert self.trusted_root_sha256 is not None  # noqa: S101 - __post_init__
        return PinnedTrustedRoot.from_file(self.trusted_root, self.trusted_root_sha256)


def _patterns(
    doc: Mapping[str, Any], key: str, default: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    if key not in doc:
        if default is not None:
            return default
        raise ConfigError(f"release policy: {key} is required (an empty policy allows nothing)")
    value = doc[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"release policy: {key} must be a list of non-empty strings")
    if not value:
        raise ConfigError(f"release policy: {key} is empty: nothing could ever verify")
    return tuple(value)


def _matches(value: str, patterns: Iterable[str]) -> bool:
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(value, p):
                return True
        elif value == p:
            return True
    return False


@dataclass(frozen=True)
class ReleasePolicy:
    """What a release attestation must say (attestations/release-policy.md)."""

    builder_ids: tuple[str, ...]
    source_repositories: tuple[str, ...]
    refs: tuple[str, ...]
    build_types: tuple[str, ...] = (GITHUB_WORKFLOW_BUILD_TYPE, LOCAL_BUILD_TYPE)
    reject_unknown_external_parameters: bool = True
    predicate_type: str = SLSA_PROVENANCE_V1
    sigstore: SigstoreReleasePolicy | None = None

    def __post_init__(self) -> None:
        for name in ("builder_ids", "source_repositories", "refs", "build_types"):
            if not getattr(self, name):
                raise ConfigError(f"release policy: {name} is empty: nothing could ever verify")
        if self.predicate_type != SLSA_PROVENANCE_V1:
            raise ConfigError(
                f"release policy: predicate_type must be {SLSA_PROVENANCE_V1!r} "
                f"(the only provenance type qprov verifies), not {self.predicate_type!r}"
            )

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], base_dir: Path | None = None) -> ReleasePolicy:
        """The policy from a parsed TOML document; ``base_dir`` anchors relative paths."""
        unknown = sorted(set(doc) - set(_POLICY_FIELDS))
        if unknown:
            raise ConfigError(f"release policy: unknown field(s): {', '.join(unknown)}")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version != 1:
            raise ConfigError("release policy: 'version = 1' is required")
        reject = doc.get("reject_unknown_external_parameters", True)
        if not isinstance(reject, bool):
            raise ConfigError("release policy: reject_unknown_external_parameters must be a bool")
        ptype = doc.get("predicate_type", SLSA_PROVENANCE_V1)
        if not isinstance(ptype, str):
            raise ConfigError("release policy: predicate_type must be a string")
        return cls(
            builder_ids=_patterns(doc, "builder_ids"),
            source_repositories=_patterns(doc, "source_repositories"),
            refs=_patterns(doc, "refs"),
            build_types=_patterns(
                doc, "build_types", (GITHUB_WORKFLOW_BUILD_TYPE, LOCAL_BUILD_TYPE)
            ),
            reject_unknown_external_parameters=reject,
            predicate_type=ptype,
            sigstore=(
                SigstoreReleasePolicy.from_dict(doc["sigstore"], base_dir)
                if "sigstore" in doc
                else None
            ),
        )

    @classmethod
    def from_toml(cls, data: bytes, base_dir: Path | None = None) -> ReleasePolicy:
        if len(data) > _MAX_POLICY_FILE:
            raise ConfigError("release policy file is too large")
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError("release policy is not valid UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"release policy is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError("release policy is not valid TOML: nested too deeply") from None
        return cls.from_dict(doc, base_dir)

    def allows_builder(self, builder_id: str) -> bool:
        return _matches(builder_id, self.builder_ids)

    def allows_build_type(self, build_type: str) -> bool:
        return build_type in self.build_types

    def allows_repository(self, repository: str) -> bool:
        return _matches(repository, self.source_repositories)

    def allows_ref(self, ref: str) -> bool:
        return _matches(ref, self.refs)


def load_release_policy(path: str | Path) -> ReleasePolicy:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read release policy {p}: {exc.strerror}") from None
    return ReleasePolicy.from_toml(data, p.parent)
