"""SLSA predicates: the GitHub example reproduced, the local buildType, the parser, the policy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qprov.errors import ConfigError, EnvironmentProblemError, Error, MalformedInputError
from qprov.slsa import (
    LOCAL_BUILD_TYPE,
    Provenance,
    ReleasePolicy,
    build_predicate,
    local_predicate,
    parse_provenance,
    parse_provenance_json,
    provenance_statement,
)
from qprov.statement import Subject

from .conftest import GITHUB_ENV, load_vector

_REPO = Path(__file__).resolve().parents[2]

# The environment of the run that produced actions/buildtypes' workflow/v1/example.json.
EXAMPLE_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "octocat/hello-world",
    "GITHUB_WORKFLOW_REF": "octocat/hello-world/.github/workflow/release.yml@refs/heads/main",
    "GITHUB_EVENT_NAME": "workflow_dispatch",
    "GITHUB_REPOSITORY_ID": "1296269",
    "GITHUB_REPOSITORY_OWNER_ID": "583231",
    "RUNNER_ENVIRONMENT": "github-hosted",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SHA": "c27d339ee6075c1f744c5d4b200f7901aad2c369",
    "GITHUB_RUN_ID": "1536140711",
    "GITHUB_RUN_ATTEMPT": "1",
    # the example's builder is a reusable workflow: the OIDC job_workflow_ref claim
    "QPROV_GITHUB_JOB_WORKFLOW_REF": (
        "octocat/builders/.github/workflows/builder_go_slsa3.yml@refs/tags/v1.0.0"
    ),
}


def test_github_example_is_reproduced_from_the_environment() -> None:
    example = load_vector("github_actions_buildtypes_workflow_v1_example.json")
    predicate = build_predicate(EXAMPLE_ENV)
    assert predicate == example["predicate"]
    subjects = tuple(Subject(s["name"], s["digest"]) for s in example["subject"])
    assert provenance_statement(subjects, predicate).to_dict() == example


def test_without_reusable_workflow_the_builder_is_the_workflow() -> None:
    pred = build_predicate(GITHUB_ENV)
    assert pred["runDetails"]["builder"]["id"] == (
        "https://github.com/octo/sdk/.github/workflows/release.yml@refs/tags/v1.2.3"
    )


def test_missing_github_variables_are_an_environment_error() -> None:
    env = dict(GITHUB_ENV)
    del env["GITHUB_SHA"], env["GITHUB_RUN_ID"]
    with pytest.raises(EnvironmentProblemError, match="missing GITHUB_SHA, GITHUB_RUN_ID"):
        build_predicate(env)


@pytest.mark.parametrize(
    "name",
    [
        "github_actions_buildtypes_workflow_v1_example.json",
        "slsa_github_actions_buildtype_workflow_v1_example.json",
    ],
)
def test_github_examples_parse(name: str) -> None:
    prov = parse_provenance(load_vector(name)["predicate"])
    assert prov.source() == ("https://github.com/octocat/hello-world", "refs/heads/main")
    assert prov.unknown_external_parameters() == []


def test_go_fixture_valid_predicate() -> None:
    fixtures = load_vector("in_toto_attestation_go_unit_fixtures.json")
    prov = parse_provenance(fixtures["valid_slsa_provenance_v1_predicate"])
    assert prov.build_type == "theBuildType"
    assert prov.builder_id == "theId"
    assert prov.invocation_id == "theInvocationId"
    assert prov.resolved_dependencies[0].digest == {"alg1": "abc123"}
    # an unknown buildType names no source and all its parameters are unknown
    assert prov.source() == (None, None)
    assert prov.unknown_external_parameters() == ["param1"]


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("empty_buildDefinition", r"buildDefinition\.buildType"),
        ("missing_buildType", r"buildDefinition\.buildType"),
        ("missing_externalParameters", r"externalParameters must be an object"),
        ("empty_runDetails", r"runDetails\.builder must be an object"),
        ("empty_builder", r"runDetails\.builder\.id"),
    ],
)
def test_go_fixture_invalid_predicates(case: str, match: str) -> None:
    fixtures = load_vector("in_toto_attestation_go_unit_fixtures.json")
    with pytest.raises(MalformedInputError, match=match):
        parse_provenance(fixtures["invalid_slsa_provenance_v1_predicates"][case])


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda p: p["runDetails"]["metadata"].update(startedOn="yesterday"), "RFC 3339"),
        (
            lambda p: p["buildDefinition"]["resolvedDependencies"][0].update(
                digest={"gitCommit": "XYZ"}
            ),
            "40 lowercase hex",
        ),
        (lambda p: p["buildDefinition"]["resolvedDependencies"].append({}), "uri, a digest"),
        (lambda p: p["buildDefinition"].update(resolvedDependencies={}), "must be a list"),
    ],
)
def test_invalid_fields(mutate: Any, match: str) -> None:
    pred = load_vector("github_actions_buildtypes_workflow_v1_example.json")["predicate"]
    mutate(pred)
    with pytest.raises(MalformedInputError, match=match):
        parse_provenance(pred)


def _git(answers: dict[str, str | None]) -> Any:
    def run(args: list[str], cwd: Path) -> str | None:
        return answers.get(args[0])

    return run


def test_local_predicate_records_source_and_environment() -> None:
    git = _git(
        {
            "rev-parse": "0123456789abcdef0123456789abcdef01234567",
            "remote": "https://ci:s3cret@github.com/octo/sdk.git",
            "symbolic-ref": "refs/heads/main",
        }
    )
    pred = local_predicate(source_dir=Path("."), git=git, qprov_version="0.1.0")
    prov = parse_provenance(pred)
    assert prov.build_type == LOCAL_BUILD_TYPE
    # credentials in the remote are never signed into the provenance
    assert "s3cret" not in json.dumps(pred)
    assert prov.source() == ("https://github.com/octo/sdk", "refs/heads/main")
    assert prov.unknown_external_parameters() == []
    deps = {d.name or d.uri: d for d in prov.resolved_dependencies}
    source = deps["git+https://github.com/octo/sdk@refs/heads/main"]
    assert source.digest == {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}
    crypto = deps["cryptography"]
    assert crypto.uri is not None
    assert crypto.uri.startswith("pkg:pypi/cryptography@")
    assert re.fullmatch(r"[0-9a-f]{64}", crypto.raw["annotations"]["recordSha256"])


def test_local_predicate_without_git() -> None:
    pred = local_predicate(source_dir=Path("."), git=_git({}), distributions=[])
    assert pred["buildDefinition"]["externalParameters"] == {}
    assert pred["buildDefinition"]["resolvedDependencies"] == []


def test_wheel_digest_from_direct_url(tmp_path: Path) -> None:
    from importlib.metadata import PathDistribution

    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.0\n")
    (info / "RECORD").write_text("demo/__init__.py,sha256=abc,0\n")
    digest = "a" * 64
    (info / "direct_url.json").write_text(
        json.dumps({"url": "file:///x.whl", "archive_info": {"hashes": {"sha256": digest}}})
    )
    pred = local_predicate(git=_git({}), distributions=[PathDistribution(info)])
    (dep,) = pred["buildDefinition"]["resolvedDependencies"]
    assert dep["name"] == "demo-pkg"
    assert dep["uri"] == "pkg:pypi/demo-pkg@1.0"
    assert dep["digest"] == {"sha256": digest}


# -- parser properties ------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "buildDefinition",
        "buildType",
        "externalParameters",
        "runDetails",
        "builder",
        "id",
        "resolvedDependencies",
        "digest",
        "uri",
        "metadata",
        "startedOn",
        "byproducts",
        "version",
    ]
)
_shaped = st.recursive(
    st.none() | st.text(max_size=8) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, _shaped))
def test_parser_on_arbitrary_json(value: Any) -> None:
    try:
        prov = parse_provenance(value)
    except Error:
        return
    assert isinstance(prov, Provenance)
    assert prov.build_type
    assert prov.builder_id


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_parser_on_arbitrary_bytes(data: bytes) -> None:
    try:
        parse_provenance_json(data)
    except MalformedInputError:
        return


# -- policy file ------------------------------------------------------------------------


def test_example_policy_loads() -> None:
    policy = ReleasePolicy.from_toml(
        (_REPO / "attestations" / "examples" / "release-policy.toml").read_bytes()
    )
    assert policy.reject_unknown_external_parameters
    assert policy.allows_ref("refs/tags/2.1.0")
    assert not policy.allows_ref("refs/heads/dev")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version = 1\nbuilder_ids = []\nsource_repositories = ['x']\nrefs = ['y']\n", "empty"),
        ("version = 1\nbuilder_ids = ['b']\nsource_repositories = ['x']\n", "refs is required"),
        ("version = 2\n", "version = 1"),
        (
            "version = 1\nbuilder_ids = ['b']\nsource_repositories = ['x']\nrefs = ['y']\n"
            "colour = 'red'\n",
            "unknown field",
        ),
        (
            "version = 1\nbuilder_ids = ['b']\nsource_repositories = ['x']\nrefs = ['y']\n"
            "predicate_type = 'https://example.com/p'\n",
            "predicate_type must be",
        ),
        ("version = \n", "not valid TOML"),
    ],
)
def test_bad_policy(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ReleasePolicy.from_toml(text.encode())
