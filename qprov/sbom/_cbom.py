"""CBOM: cryptographic assets (CycloneDX 1.6 cryptoProperties) for qprov's algorithms."""

from __future__ import annotations

from dataclasses import dataclass

from cyclonedx.model import Property
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.crypto import (
    AlgorithmProperties,
    CryptoAssetType,
    CryptoFunction,
    CryptoPrimitive,
    CryptoProperties,
)

from qprov.errors import UnsupportedAlgorithmError

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "AlgorithmInfo",
    "algorithm_ref",
    "cbom_components",
]


@dataclass(frozen=True, slots=True)
class AlgorithmInfo:
    """One algorithm: identifiers and strength.

    ``nist_level`` is the NIST PQC security category (0 for algorithms a
    quantum computer breaks). ``parts`` names the algorithms a composite combines.
    """

    name: str
    oid: str
    primitive: CryptoPrimitive
    nist_level: int
    classical_bits: int
    parameter_set: str | None = None
    curve: str | None = None
    parts: tuple[str, ...] = ()
    functions: tuple[CryptoFunction, ...] = (
        CryptoFunction.KEYGEN,
        CryptoFunction.SIGN,
        CryptoFunction.VERIFY,
    )
    reference: str = ""

    @property
    def quantum_vulnerable(self) -> bool:
        return self.nist_level == 0


_COMPOSITE = "draft-ietf-lamps-pq-composite-sigs-19"
_DIGEST = (CryptoFunction.DIGEST,)
_SIG = CryptoPrimitive.SIGNATURE

ALGORITHMS: dict[str, AlgorithmInfo] = {
    a.name: a
    for a in (
        AlgorithmInfo(
            "ML-DSA-44", "2.16.840.1.101.3.4.3.17", _SIG, 2, 128, "44", reference="FIPS 204"
        ),
        AlgorithmInfo(
            "ML-DSA-65", "2.16.840.1.101.3.4.3.18", _SIG, 3, 192, "65", reference="FIPS 204"
        ),
        AlgorithmInfo(
            "ML-DSA-87", "2.16.840.1.101.3.4.3.19", _SIG, 5, 256, "87", reference="FIPS 204"
        ),
        AlgorithmInfo(
            "MLDSA44-Ed25519-SHA512",
            "1.3.6.1.5.5.7.6.39",
            _SIG,
            2,
            128,
            "44",
            parts=("ML-DSA-44", "Ed25519", "SHA-512"),
            reference=_COMPOSITE,
        ),
        AlgorithmInfo(
            "MLDSA65-ECDSA-P256-SHA512",
            "1.3.6.1.5.5.7.6.45",
            _SIG,
            3,
            128,
            "65",
            parts=("ML-DSA-65", "ECDSA-P256-SHA256", "SHA-512"),
            reference=_COMPOSITE,
        ),
        AlgorithmInfo(
            "MLDSA65-Ed25519-SHA512",
            "1.3.6.1.5.5.7.6.48",
            _SIG,
            3,
            128,
            "65",
            parts=("ML-DSA-65", "Ed25519", "SHA-512"),
            reference=_COMPOSITE,
        ),
        AlgorithmInfo(
            "MLDSA87-ECDSA-P384-SHA512",
            "1.3.6.1.5.5.7.6.49",
            _SIG,
            5,
            192,
            "87",
            parts=("ML-DSA-87", "ECDSA-P384-SHA384", "SHA-512"),
            reference=_COMPOSITE,
        ),
        AlgorithmInfo(
            "MLDSA87-Ed448-SHAKE256",
            "1.3.6.1.5.5.7.6.51",
            _SIG,
            5,
            224,
            "87",
            parts=("ML-DSA-87", "Ed448", "SHAKE256"),
            reference=_COMPOSITE,
        ),
        AlgorithmInfo(
            "Ed25519", "1.3.101.112", _SIG, 0, 128, curve="Ed25519", reference="RFC 8032"
        ),
        AlgorithmInfo("Ed448", "1.3.101.113", _SIG, 0, 224, curve="Ed448", reference="RFC 8032"),
        AlgorithmInfo(
            "ECDSA-P256-SHA256",
            "1.2.840.10045.4.3.2",
            _SIG,
            0,
            128,
            curve="P-256",
            reference="FIPS 186-5",
        ),
        AlgorithmInfo(
            "ECDSA-P384-SHA384",
            "1.2.840.10045.4.3.3",
            _SIG,
            0,
            192,
            curve="P-384",
            reference="FIPS 186-5",
        ),
        AlgorithmInfo(
            "SHA-256",
            "2.16.840.1.101.3.4.2.1",
            CryptoPrimitive.HASH,
            2,
            128,
            functions=_DIGEST,
            reference="FIPS 180-4",
        ),
        AlgorithmInfo(
            "SHA-512",
            "2.16.840.1.101.3.4.2.3",
            CryptoPrimitive.HASH,
            4,
            256,
            functions=_DIGEST,
            reference="FIPS 180-4",
        ),
        AlgorithmInfo(
            "SHAKE256",
            "2.16.840.1.101.3.4.2.12",
            CryptoPrimitive.XOF,
            4,
            256,
            functions=_DIGEST,
            reference="FIPS 202",
        ),
    )
}

# What qprov signs with: the default composite, the other composites and ML-DSA
# parameter sets it offers, Ed25519 for transparency-log checkpoint lines, and
# SHA-256 for subjects, log leaves and digests.
DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "MLDSA65-Ed25519-SHA512",
    "MLDSA44-Ed25519-SHA512",
    "MLDSA65-ECDSA-P256-SHA512",
    "MLDSA87-ECDSA-P384-SHA512",
    "MLDSA87-Ed448-SHAKE256",
    "ML-DSA-44",
    "ML-DSA-65",
    "ML-DSA-87",
    "Ed25519",
    "SHA-256",
)
QPROV_DEFAULT_SIGNATURE = "MLDSA65-Ed25519-SHA512"

_ALIASES = {name.lower().replace("_", "-"): name for name in ALGORITHMS}
_ALIASES.update(
    {
        "ed25519-checkpoint": "Ed25519",
        "sha256": "SHA-256",
        "mldsa44": "ML-DSA-44",
        "mldsa65": "ML-DSA-65",
        "mldsa87": "ML-DSA-87",
        "sha512": "SHA-512",
    }
)


def canonical_algorithm(name: str) -> str:
    """The table name of an algorithm (case-insensitive), or raise."""
    found = _ALIASES.get(name.strip().lower().replace("_", "-"))
    if found is None:
        raise UnsupportedAlgorithmError(
            f"unknown algorithm {name!r} (known: {', '.join(sorted(ALGORITHMS))})"
        )
    return found


def algorithm_ref(name: str) -> str:
    """The bom-ref qprov gives the crypto asset of an algorithm."""
    return f"qprov:crypto:{canonical_algorithm(name)}"


def _closure(names: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    stack = [canonical_algorithm(n) for n in names]
    while stack:
        name = stack.pop(0)
        if name in seen:
            continue
        seen[name] = None
        stack.extend(ALGORITHMS[name].parts)
    return sorted(seen)


def cbom_components(algorithms: list[str]) -> list[Component]:
    """Crypto-asset components for ``algorithms`` and the parts of composites.

    Bom-refs are ``qprov:crypto:<name>``; a composite lists its parts in the
    property ``qprov:crypto:composite-of`` (and :func:`cbom_dependencies` gives
    the graph edges). Unknown names raise :class:`UnsupportedAlgorithmError`.
    """
    components = []
    for name in _closure(algorithms):
        info = ALGORITHMS[name]
        properties = [
            Property(
                name="qprov:crypto:quantum-vulnerable",
                value="true" if info.quantum_vulnerable else "false",
            ),
        ]
        if info.reference:
            properties.append(Property(name="qprov:crypto:specification", value=info.reference))
        if info.parts:
            properties.append(
                Property(name="qprov:crypto:composite-of", value=" ".join(info.parts))
            )
        if name == QPROV_DEFAULT_SIGNATURE:
            properties.append(Property(name="qprov:crypto:default", value="true"))
        components.append(
            Component(
                name=name,
                type=ComponentType.CRYPTOGRAPHIC_ASSET,
                bom_ref=algorithm_ref(name),
                properties=properties,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.ALGORITHM,
                    oid=info.oid,
                    algorithm_properties=AlgorithmProperties(
                        primitive=info.primitive,
                        parameter_set_identifier=info.parameter_set,
                        curve=info.curve,
                        crypto_functions=info.functions,
                        classical_security_level=info.classical_bits,
                        nist_quantum_security_level=info.nist_level,
                    ),
                ),
            )
        )
    return components


def cbom_dependencies(algorithms: list[str]) -> dict[str, list[str]]:
    """Edges composite -> parts, by bom-ref, for the closure of ``algorithms``."""
    return {
        algorithm_ref(name): [algorithm_ref(p) for p in ALGORITHMS[name].parts]
        for name in _closure(algorithms)
        if ALGORITHMS[name].parts
    }
