"""Fixtures for the core tests (defined in ``_helpers``)."""

from ._helpers import (  # noqa: F401 - fixtures are found by name
    _clean_env,
    composite_vectors,
    invoke,
    release_key,
    release_signer,
)
