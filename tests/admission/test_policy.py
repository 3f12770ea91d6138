"""Admission policy files: empty allow-lists, zero limits and typos are ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qprov.errors import ConfigError
from qprov.policy import AdmissionPolicy, load_admission_policy

from ._env import Env

EXAMPLE = Path(__file__).resolve().parents[2] / "attestations" / "examples"


def test_example_policy_loads() -> None:
    policy = load_admission_policy(EXAMPLE / "admission-policy.toml")
    assert policy.sdk_required
    assert policy.max_shots_for("ibm_torino") == 20000
    assert policy.max_shots_for("aer_simulator") == 100000
    assert policy.approval is not None
    assert policy.approval.reasons("ibm_torino", 20000, 32.0) == [
        "backend ibm_torino requires approval",
        "cost 32 > 25",
    ]


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('"h", "cx", "x", "rz", "sx"', "", "allowed_gates is empty"),
        ("max_shots = 10000", "max_shots = 0", "max_shots must be a positive integer"),
        ("max_lifetime = 3600", "max_lifetime = 0", "max_lifetime must be > 0"),
        ("clock_skew = 60", "clock_skew = -1", "clock_skew must be >= 0"),
        ("max_qubits = 5\nmax_shots = 4500", "max_qubits = 0", "max_qubits must be a positive"),
        ("[quota]\nshots = 6000", "[quota]\nshots = 0", r"\[quota\].shots"),
        ("window = 3600", "window = 0", r"\[quota\].window"),
        ('backends = ["qpu"]', "backends = []", r"\[approval\].backends is empty"),
        ("shots_above = 5000", "shots_above = 0", "shots_above"),
        ("version = 1", "version = 2", "version = 1"),
        ("clock_skew = 60", "clock_skew = 60\nmax_shot = 5", "unknown field.*max_shot"),
        ("[backends.aer]", "[backends.aer]\nqubits = 3", "unknown field.*qubits"),
        ("required = false", "required = true\nrelease = 1", "unknown field.*release"),
        (
            'release_policy = "release-policy.toml"',
            'release_policy = "missing.toml"',
            "cannot read release policy",
        ),
        ('revocations = ["revocations.jsonl"]', 'revocations = ["nope.jsonl"]', "cannot read"),
        ('revocations = ["revocations.jsonl"]', 'revoked_grants = ["abc"]', "64 lowercase hex"),
        ("accept = true", 'accept = "yes"', "accept must be true or false"),
        ('backends = ["qpu"]', 'backends = ["qpv"]', "not an allowed backend: qpv"),  # typo
    ],
)
def test_config_errors(env: Env, old: str, new: str, match: str) -> None:
    path = env.dir / "policy.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=match):
        load_admission_policy(path)


def test_no_backends_and_bad_toml(env: Env) -> None:
    with pytest.raises(ConfigError, match="at least one"):
        AdmissionPolicy.from_toml(
            b'version = 1\nmax_shots = 1\nmax_lifetime = 1\nallowed_gates = ["h"]\n', env.dir
        )
    with pytest.raises(ConfigError, match="not valid TOML"):
        AdmissionPolicy.from_toml(b"version = ", env.dir)
    with pytest.raises(ConfigError, match="required = true needs release_policy"):
        AdmissionPolicy.from_toml(
            b'version = 1\nmax_shots = 1\nmax_lifetime = 1\nallowed_gates = ["h"]\n'
            b"[backends.a]\nmax_qubits = 1\n[sdk]\nrequired = true\n",
            env.dir,
        )


def test_broken_revocation_file(env: Env) -> None:
    (env.dir / "revocations.jsonl").write_text('{"payload": 1}\n')
    with pytest.raises(ConfigError, match="line 1"):
        load_admission_policy(env.dir / "policy.toml")
