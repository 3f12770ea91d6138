"""Errors specific to the transparency log, all under :mod:`qprov.errors`."""

from __future__ import annotations

from qprov.errors import ProofError, SignatureError

__all__ = [
    "ConsistencyError",
    "ForkError",
    "InclusionError",
    "NoteSignatureError",
    "RollbackError",
    "UnverifiedNoteError",
]


class InclusionError(ProofError):
    """An inclusion proof does not lead to the checkpoint's root."""


class ConsistencyError(ProofError):
    """A consistency proof between two checkpoints does not verify."""


class ForkError(ConsistencyError):
    """ALARM: two checkpoints of the log disagree (same size, different roots)."""


class RollbackError(ConsistencyError):
    """ALARM: the log presented a checkpoint smaller than one already seen."""


class NoteSignatureError(SignatureError):
    """A signature line from a trusted key does not verify (or one is missing)."""


class UnverifiedNoteError(SignatureError):
    """No signature line of the note comes from a trusted key."""
