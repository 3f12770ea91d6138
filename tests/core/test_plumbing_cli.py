"""``qprov plumbing composite-verify / composite-sign`` against the draft's vectors.

Exit codes: 0 valid, 1 invalid, 3 malformed input (garbage base64, wrong-length
key, unknown algorithm). Algorithm names are accepted with and without ``id-``.
"""

from __future__ import annotations

import base64

import pytest

from qprov.keys import PublicKey

from ._helpers import (
    REQUIRED_ALGORITHMS,
    CompositeVectors,
    Invoke,
    assert_clean_failure,
)

B64 = lambda data: base64.b64encode(data).decode()  # noqa: E731


def _verify_args(alg: str, pk: bytes, m: bytes, sig: bytes, ctx: bytes | None = None) -> list[str]:
    args = [
        "plumbing",
        "composite-verify",
        "--alg",
        alg,
        "--public-key",
        B64(pk),
        "--message",
        B64(m),
        "--signature",
        B64(sig),
    ]
    if ctx is not None:
        args += ["--context", B64(ctx)]
    return args


@pytest.mark.parametrize("name", REQUIRED_ALGORITHMS)
@pytest.mark.parametrize("prefix", ["id-", ""])
def test_composite_verify_accepts_valid_vectors(
    invoke: Invoke, composite_vectors: CompositeVectors, name: str, prefix: str
) -> None:
    case = composite_vectors.case("id-" + name)
    m, ctx = composite_vectors.m, composite_vectors.ctx
    result = invoke(_verify_args(prefix + name, case.pk, m, case.s))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"OK: valid {name} signature\n"
    result = invoke(_verify_args(prefix + name, case.pk, m, case.s_with_context, ctx))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("name", REQUIRED_ALGORITHMS)
def test_composite_verify_accepts_spki_public_key(
    invoke: Invoke, composite_vectors: CompositeVectors, name: str
) -> None:
    case = composite_vectors.case("id-" + name)
    spki = PublicKey.from_raw(name, case.pk).to_spki_der()
    result = invoke(_verify_args(name, spki, composite_vectors.m, case.s))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("name", REQUIRED_ALGORITHMS)
def test_composite_verify_rejects_invalid_with_exit_1(
    invoke: Invoke, composite_vectors: CompositeVectors, name: str
) -> None:
    case = composite_vectors.case("id-" + name)
    m, ctx = composite_vectors.m, composite_vectors.ctx
    # wrong message
    assert_clean_failure(invoke(_verify_args(name, case.pk, m + b"!", case.s)), 1)
    # wrong context
    assert_clean_failure(invoke(_verify_args(name, case.pk, m, case.s, ctx)), 1)
    # flipped bit
    bad = bytearray(case.s)
    bad[100] ^= 0x80
    result = invoke(_verify_args(name, case.pk, m, bytes(bad)))
    assert_clean_failure(result, 1, match="does not verify")
    # truncated
    assert_clean_failure(invoke(_verify_args(name, case.pk, m, case.s[:-1])), 1)


@pytest.mark.parametrize("name", REQUIRED_ALGORITHMS)
def test_composite_verify_malformed_input_exit_3(
    invoke: Invoke, composite_vectors: CompositeVectors, name: str
) -> None:
    case = composite_vectors.case("id-" + name)
    m = composite_vectors.m
    good = _verify_args(name, case.pk, m, case.s)
    for option in ("--public-key", "--message", "--signature"):
        args = list(good)
        args[args.index(option) + 1] = "this is *not* base64!"
        assert_clean_failure(invoke(args), 3, match="is not valid base64")
    assert_clean_failure(invoke(_verify_args(name, case.pk[:-1], m, case.s)), 3, match="public key")
    assert_clean_failure(
        invoke(_verify_args(name, case.pk + b"\x00", m, case.s)), 3, match="public key"
    )
    args = list(good)
    args[args.index("--alg") + 1] = "id-MLDSA65-Ed99999-SHA512"
    assert_clean_failure(invoke(args), 3, match="unknown signature algorithm")
    args = [*good, "--context", "***"]
    assert_clean_failure(invoke(args), 3, match="context is not valid base64")
    args = [*good, "--context", B64(b"c" * 256)]
    assert_clean_failure(invoke(args), 3, match="context is longer than 255 bytes")


def test_composite_verify_key_of_another_algorithm_exit_3(
    invoke: Invoke, composite_vectors: CompositeVectors
) -> None:
    case65 = composite_vectors.case("id-MLDSA65-Ed25519-SHA512")
    case44 = composite_vectors.case("id-MLDSA44-Ed25519-SHA512")
    m = composite_vectors.m
    # raw key of another algorithm: wrong length for the named algorithm
    result = invoke(_verify_args("MLDSA65-Ed25519-SHA512", case44.pk, m, case65.s))
    assert_clean_failure(result, 3, match="invalid MLDSA65-Ed25519-SHA512 public key")
    # SPKI naming another algorithm
    spki44 = PublicKey.from_raw("MLDSA44-Ed25519-SHA512", case44.pk).to_spki_der()
    result = invoke(_verify_args("MLDSA65-Ed25519-SHA512", spki44, m, case65.s))
    assert_clean_failure(
        result, 3, match="is a MLDSA44-Ed25519-SHA512 key, not MLDSA65-Ed25519-SHA512"
    )


@pytest.mark.parametrize("name", REQUIRED_ALGORITHMS)
def test_composite_sign_output_verifies(
    invoke: Invoke, composite_vectors: CompositeVectors, name: str
) -> None:
    case = composite_vectors.case("id-" + name)
    message, ctx = b"plumbing message \x00\xff", b"app-context"
    for key_form in (case.sk, case.sk_pkcs8):
        args = [
            "plumbing",
            "composite-sign",
            "--alg",
            "id-" + name,
            "--private-key",
            B64(key_form),
            "--message",
            B64(message),
            "--context",
            B64(ctx),
        ]
        result = invoke(args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        sig = base64.b64decode(result.stdout.strip(), validate=True)
        verified = invoke(_verify_args(name, case.pk, message, sig, ctx))
        assert verified.exit_code == 0, verified.stderr
        PublicKey.from_raw(name, case.pk).verify(sig, message, ctx)
        # the context is bound: without it the signature fails
        assert invoke(_verify_args(name, case.pk, message, sig)).exit_code == 1


def test_composite_sign_malformed_input_exit_3(
    invoke: Invoke, composite_vectors: CompositeVectors
) -> None:
    case = composite_vectors.case("id-MLDSA65-Ed25519-SHA512")
    base = ["plumbing", "composite-sign", "--message", B64(b"m")]
    result = invoke([*base, "--alg", "nope", "--private-key", B64(case.sk)])
    assert_clean_failure(result, 3, match="unknown signature algorithm 'nope'")
    result = invoke([*base, "--alg", "MLDSA65-Ed25519-SHA512", "--private-key", "%%%"])
    assert_clean_failure(result, 3, match="private key is not valid base64")
    result = invoke([*base, "--alg", "MLDSA65-Ed25519-SHA512", "--private-key", B64(case.sk[:-1])])
    assert_clean_failure(result, 3, match="invalid MLDSA65-Ed25519-SHA512 private key")
    other = composite_vectors.case("id-MLDSA44-Ed25519-SHA512").sk_pkcs8
    result = invoke([*base, "--alg", "MLDSA65-Ed25519-SHA512", "--private-key", B64(other)])
    assert_clean_failure(result, 3, match="is a MLDSA44-Ed25519-SHA512 key")


def test_composite_verify_missing_option_is_usage_error(invoke: Invoke) -> None:
    result = invoke(["plumbing", "composite-verify", "--alg", "ML-DSA-65"])
    assert result.exit_code == 2
    assert "Missing option" in result.stderr
    assert result.stdout == ""
