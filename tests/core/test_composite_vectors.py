"""draft-ietf-lamps-pq-composite-sigs-19 known-answer vectors, and one test per tamper class.

Every one of the 21 test cases of the draft's ``testvectors.json``: the published
signatures verify, the keys load from both private key forms and re-encode byte for
byte, our own signatures verify, and each tampering fails with its own reason.
"""

from __future__ import annotations

import pytest

from qprov._crypto.composite import ALGORITHMS, Algorithm
from qprov.errors import MalformedInputError, SignatureError
from qprov.keys import PrivateKey, PublicKey, get_algorithm

from ._helpers import (
    ALL_VECTOR_IDS,
    COMPOSITE_VECTOR_IDS,
    EXPECTED_OIDS,
    CompositeVectors,
    vector_private_key,
)

OTHER_MESSAGE = b"a different message, signed by the same key"


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def _public(vectors: CompositeVectors, tc_id: str) -> tuple[Algorithm, PublicKey]:
    case = vectors.case(tc_id)
    alg = get_algorithm(tc_id)
    return alg, PublicKey.from_raw(alg, case.pk)


def test_vector_file_has_every_case(composite_vectors: CompositeVectors) -> None:
    assert sorted(composite_vectors.cases) == sorted(ALL_VECTOR_IDS)
    assert {t.removeprefix("id-") for t in ALL_VECTOR_IDS} == set(ALGORITHMS)


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_published_signatures_verify(composite_vectors: CompositeVectors, tc_id: str) -> None:
    case = composite_vectors.case(tc_id)
    _, pk = _public(composite_vectors, tc_id)
    pk.verify(case.s, composite_vectors.m)
    pk.verify(case.s_with_context, composite_vectors.m, composite_vectors.ctx)
    assert pk.to_raw() == case.pk


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_keys_load_from_both_forms_and_round_trip(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    from_sk = vector_private_key(tc_id, "sk")
    from_pkcs8 = vector_private_key(tc_id, "pkcs8")
    expected = PublicKey.from_raw(case.name, case.pk)
    assert from_sk.public_key() == expected
    assert from_pkcs8.public_key() == expected
    assert from_sk.public_key().to_raw() == case.pk
    # byte-exact re-encoding of both private key forms, from either load
    assert from_sk.to_raw() == case.sk
    assert from_pkcs8.to_raw() == case.sk
    assert from_sk.to_pkcs8_der() == case.sk_pkcs8
    assert from_pkcs8.to_pkcs8_der() == case.sk_pkcs8
    assert from_sk.algorithm.name == case.name


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_certificate_spki_equals_our_encoding(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    # The draft's self-signed certificate carries the SubjectPublicKeyInfo other
    # implementations produce; ours must be the same bytes.
    case = composite_vectors.case(tc_id)
    _, pk = _public(composite_vectors, tc_id)
    spki = pk.to_spki_der()
    assert spki in case.x5c
    assert PublicKey.from_spki_der(spki) == pk


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_our_signature_verifies(composite_vectors: CompositeVectors, tc_id: str) -> None:
    _, pk = _public(composite_vectors, tc_id)
    sk = vector_private_key(tc_id, "sk")
    m, ctx = composite_vectors.m, composite_vectors.ctx
    pk.verify(sk.sign(m), m)
    pk.verify(sk.sign(m, ctx), m, ctx)


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_flipped_bit_in_mldsa_part_fails(composite_vectors: CompositeVectors, tc_id: str) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    bad = _flip(case.s, alg.mldsa_signature_size // 2, 3)
    reason = f"the ML-DSA-{alg.mldsa} half does not verify" if alg.is_composite else "does not"
    with pytest.raises(SignatureError, match=reason):
        pk.verify(bad, composite_vectors.m)


@pytest.mark.parametrize("tc_id", COMPOSITE_VECTOR_IDS)
def test_flipped_bit_in_classical_part_fails(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    # the last byte: inside the ECDSA DER ``s`` integer, so the DER stays well formed
    bad = _flip(case.s, len(case.s) - 1, 0)
    with pytest.raises(SignatureError, match=f"the {alg.trad_name} half does not verify"):
        pk.verify(bad, composite_vectors.m)


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_wrong_context_fails(composite_vectors: CompositeVectors, tc_id: str) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    m, ctx = composite_vectors.m, composite_vectors.ctx
    reason = (
        f"both halves \\(ML-DSA-{alg.mldsa} and {alg.trad_name}\\) do not verify"
        if alg.is_composite
        else "signature does not verify"
    )
    with pytest.raises(SignatureError, match=reason):
        pk.verify(case.s, m, ctx)  # signed without context
    with pytest.raises(SignatureError, match=reason):
        pk.verify(case.s_with_context, m)  # signed with context, checked without
    with pytest.raises(SignatureError, match=reason):
        pk.verify(case.s_with_context, m, ctx[:-1])


@pytest.mark.parametrize("tc_id", COMPOSITE_VECTOR_IDS)
def test_stripped_classical_half_fails(composite_vectors: CompositeVectors, tc_id: str) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    with pytest.raises(SignatureError, match="the traditional half is missing"):
        pk.verify(case.s[: alg.mldsa_signature_size], composite_vectors.m)


@pytest.mark.parametrize("tc_id", COMPOSITE_VECTOR_IDS)
def test_stripped_mldsa_half_fails(composite_vectors: CompositeVectors, tc_id: str) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    with pytest.raises(SignatureError, match="the ML-DSA half is missing"):
        pk.verify(case.s[alg.mldsa_signature_size :], composite_vectors.m)


@pytest.mark.parametrize("tc_id", COMPOSITE_VECTOR_IDS)
def test_halves_swapped_between_two_signatures_fail(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    n = alg.mldsa_signature_size
    m = composite_vectors.m
    other = vector_private_key(tc_id, "sk").sign(OTHER_MESSAGE)
    pk.verify(other, OTHER_MESSAGE)  # both signatures are valid on their own
    hybrid = case.s[:n] + other[n:]  # ML-DSA half over m, classical half over the other
    with pytest.raises(SignatureError, match=f"the {alg.trad_name} half does not verify"):
        pk.verify(hybrid, m)
    with pytest.raises(SignatureError, match=f"the ML-DSA-{alg.mldsa} half does not verify"):
        pk.verify(hybrid, OTHER_MESSAGE)


def _truncation_reason(alg: Algorithm) -> str:
    if not alg.is_composite:
        return f"must be {alg.mldsa_signature_size} bytes, got {alg.mldsa_signature_size - 1}"
    if alg.trad == "ed25519":
        return "Ed25519 half of the signature must be 64 bytes"
    if alg.trad == "ed448":
        return "Ed448 half of the signature must be 114 bytes"
    if alg.trad.startswith("rsa"):
        return f"RSA half of the signature must be {alg.rsa_bits // 8} bytes"
    return f"the {alg.trad_name} half does not verify"  # DER ECDSA has no fixed length


@pytest.mark.parametrize("tc_id", ALL_VECTOR_IDS)
def test_signature_truncated_by_one_byte_fails(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    alg, pk = _public(composite_vectors, tc_id)
    with pytest.raises(SignatureError, match=_truncation_reason(alg)):
        pk.verify(case.s[:-1], composite_vectors.m)


@pytest.mark.parametrize("tc_id", ["id-ML-DSA-44", "id-ML-DSA-65", "id-ML-DSA-87"])
def test_pure_mldsa_signature_with_extra_bytes_fails(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    _, pk = _public(composite_vectors, tc_id)
    with pytest.raises(SignatureError, match="signature must be"):
        pk.verify(case.s + b"\x00" * 64, composite_vectors.m)


@pytest.mark.parametrize("tc_id", ["id-MLDSA65-Ed25519-SHA512", "id-ML-DSA-65"])
def test_context_longer_than_255_bytes_is_malformed(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    case = composite_vectors.case(tc_id)
    _, pk = _public(composite_vectors, tc_id)
    with pytest.raises(
        MalformedInputError, match=r"(?i)context (is longer than|must be at most) 255 bytes"
    ):
        pk.verify(case.s, composite_vectors.m, b"c" * 256)
    sk = vector_private_key(tc_id, "sk")
    with pytest.raises(
        MalformedInputError, match=r"(?i)context (is longer than|must be at most) 255 bytes"
    ):
        sk.sign(b"m", b"c" * 256)


@pytest.mark.parametrize("tc_id", ["id-MLDSA65-Ed25519-SHA512", "id-MLDSA87-ECDSA-P384-SHA512"])
def test_public_key_of_another_algorithm_is_refused(
    composite_vectors: CompositeVectors, tc_id: str
) -> None:
    other = composite_vectors.case("id-MLDSA44-Ed25519-SHA512")
    with pytest.raises(MalformedInputError, match=r"invalid .* public key"):
        PublicKey.from_raw(tc_id.removeprefix("id-"), other.pk)
    with pytest.raises(MalformedInputError, match=r"invalid .* private key"):
        PrivateKey.from_raw(tc_id.removeprefix("id-"), other.sk + b"\x00")


def test_oids_match_the_draft() -> None:
    for name, oid in EXPECTED_OIDS.items():
        assert get_algorithm(name).oid == oid
        assert get_algorithm("id-" + name).oid == oid
        assert get_algorithm(name.lower()).name == name
