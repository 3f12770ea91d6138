"""qprov's transparency log: RFC 9162 Merkle tree, C2SP checkpoints, tiles, proofs.

* :class:`Log` stores entries (SQLite by default, PostgreSQL for a fleet),
  proves inclusion and consistency, signs checkpoints and exports the tree as
  c2sp.org/tlog-tiles static files.
* Checkpoints are c2sp.org/signed-note notes with an Ed25519 line (type 0x01)
  and an ML-DSA-44 line (type 0x06, tlog-cosignature); see docs/adr/0005.
* :func:`verify_inclusion_bundle` checks a c2sp.org/tlog-proof offline with
  only the log's verifier keys; :func:`verify_consistency` checks that one
  checkpoint extends another; :class:`Monitor` remembers what it saw and raises
  :class:`ForkError` / :class:`RollbackError`.

The raw Merkle hashing lives in the private ``qprov.tlog._merkle``.
"""

from __future__ import annotations

from qprov.tlog._bundle import (
    PROOF_HEADER,
    ProofBundle,
    parse_hash_lines,
    verify_consistency,
    verify_inclusion_bundle,
)
from qprov.tlog._checkpoint import (
    Checkpoint,
    VerifiedCheckpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from qprov.tlog._errors import (
    ConsistencyError,
    ForkError,
    InclusionError,
    NoteSignatureError,
    RollbackError,
    UnverifiedNoteError,
)
from qprov.tlog._log import MAX_ENTRY_BYTES, Log, LogIndex, write_file_atomic
from qprov.tlog._monitor import Monitor
from qprov.tlog._note import (
    SIG_COSIGNATURE_ED25519,
    SIG_ED25519,
    SIG_MLDSA44_COSIGNATURE,
    Note,
    NoteSignature,
    NoteSigner,
    VerifiedNote,
    Verifier,
    generate_signer,
    parse_note,
    parse_skey,
    parse_vkey,
    sign_note,
    verify_note,
)
from qprov.tlog._store import Store, TreeState, open_store
from qprov.tlog._tilepath import (
    TileRef,
    entries_path,
    entries_path_for_index,
    parse_tile_path,
    tile_path,
    tiles_for_size,
)

__all__ = [
    "MAX_ENTRY_BYTES",
    "PROOF_HEADER",
    "SIG_COSIGNATURE_ED25519",
    "SIG_ED25519",
    "SIG_MLDSA44_COSIGNATURE",
    "Checkpoint",
    "ConsistencyError",
    "ForkError",
    "InclusionError",
    "Log",
    "LogIndex",
    "Monitor",
    "Note",
    "NoteSignature",
    "NoteSignatureError",
    "NoteSigner",
    "ProofBundle",
    "RollbackError",
    "Store",
    "TileRef",
    "TreeState",
    "UnverifiedNoteError",
    "VerifiedCheckpoint",
    "VerifiedNote",
    "Verifier",
    "entries_path",
    "entries_path_for_index",
    "generate_signer",
    "open_store",
    "parse_checkpoint",
    "parse_hash_lines",
    "parse_note",
    "parse_skey",
    "parse_tile_path",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
    "tile_path",
    "tiles_for_size",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion_bundle",
    "verify_note",
    "write_file_atomic",
]
