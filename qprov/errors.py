"""The exception hierarchy of qprov.

Every error qprov raises derives from :class:`Error`. There are four branches,
one per exit code of the CLI:

* :class:`MalformedInputError` (exit 3): input that cannot be parsed or is not
  of the expected form (bad base64, truncated key, JSON with duplicate keys...).
* :class:`VerificationError` (exit 1): well-formed input that fails a check
  (signature, trust, policy, proof, replay, expiry...).
* :class:`UnsupportedAlgorithmError` (exit 3): an algorithm qprov does not
  implement (a verification *policy* refusing a supported algorithm is a
  :class:`PolicyError` instead).
* :class:`EnvironmentProblemError` (exit 4): the environment or a service is
  at fault (database away, file not writable, missing optional library).

Foreign exceptions (``ValueError``, ``InvalidSignature``, ``KeyError``...) never
leave a verify path: they are translated into one of these.
"""

from __future__ import annotations

__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_MALFORMED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_VERIFICATION",
    "ConfigError",
    "EnvironmentProblemError",
    "Error",
    "ExpiredError",
    "KeyDecryptionError",
    "MalformedInputError",
    "PolicyError",
    "ProofError",
    "ReplayError",
    "ReproductionMismatchError",
    "ServiceUnavailableError",
    "SignatureError",
    "SimulationTooLargeError",
    "TrustError",
    "UnsupportedAlgorithmError",
    "VerificationError",
]

EXIT_OK = 0
EXIT_VERIFICATION = 1
EXIT_USAGE = 2
EXIT_MALFORMED = 3
EXIT_ENVIRONMENT = 4


class Error(Exception):
    """Root of every qprov error."""

    exit_code: int = EXIT_ENVIRONMENT


# -- malformed input -----------------------------------------------------------


class MalformedInputError(Error):
    """The input cannot be parsed, or does not have the required form."""

    exit_code = EXIT_MALFORMED


class ConfigError(MalformedInputError):
    """A trust, policy or configuration file is malformed or inconsistent."""


class KeyDecryptionError(MalformedInputError):
    """A private key could not be decrypted (wrong passphrase, corrupt file)."""


class UnsupportedAlgorithmError(MalformedInputError):
    """An algorithm (or key type, or format version) qprov does not implement."""


# -- verification failures -----------------------------------------------------


class VerificationError(Error):
    """Well-formed input failed verification. The message names the reason."""

    exit_code = EXIT_VERIFICATION


class SignatureError(VerificationError):
    """A signature does not verify (or not enough of them do)."""


class TrustError(VerificationError):
    """A key is not trusted for the role, is revoked, or is of another role."""


class PolicyError(VerificationError):
    """A verification policy refused the input (crypto policy included)."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof, or a checkpoint, is invalid."""


class ReplayError(VerificationError):
    """A nonce was already admitted."""


class ExpiredError(VerificationError):
    """A document is outside its validity window."""


class ReproductionMismatchError(VerificationError):
    """A replayed simulation, or a statistical test, contradicts the recorded result."""


# -- environment ---------------------------------------------------------------


class EnvironmentProblemError(Error):
    """The environment or a service failed (I/O, database, missing library)."""

    exit_code = EXIT_ENVIRONMENT


class ServiceUnavailableError(EnvironmentProblemError):
    """A backing service (database, cache) is unreachable. Retry later."""


class SimulationTooLargeError(EnvironmentProblemError):
    """No simulation method can run the circuit within this machine's limits."""
