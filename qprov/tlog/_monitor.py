"""A monitor: remembers the checkpoints it saw and raises on fork or rollback."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qprov._canon import canonical_json, loads_strict
from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.tlog._bundle import verify_consistency
from qprov.tlog._checkpoint import VerifiedCheckpoint, verify_checkpoint
from qprov.tlog._errors import ConsistencyError, ForkError, RollbackError
from qprov.tlog._log import write_file_atomic
from qprov.tlog._note import Verifier

__all__ = ["Monitor"]

_STATE_VERSION = 1

#: Callback giving the consistency proof between two sizes (e.g. Log.consistency_proof).
ProofSource = Callable[[int, int], Sequence[bytes]]


class Monitor:
    """Watches one log. State file (JSON, written atomically) holds the latest
    checkpoint note and the root of every tree size seen."""

    def __init__(
        self, state_path: str | os.PathLike[str], trusted_vkeys: Sequence[Verifier | str]
    ) -> None:
        if not trusted_vkeys:
            raise MalformedInputError("monitor needs the log's verifier keys")
        self._path = Path(state_path)
        self._vkeys = list(trusted_vkeys)
        self._origin: str | None = None
        self._latest: bytes | None = None
        self._roots: dict[int, bytes] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise EnvironmentProblemError(
                f"cannot read monitor state {self._path}: {exc}"
            ) from None
        doc = loads_strict(raw, what=f"monitor state {self._path}")
        try:
            if doc["version"] != _STATE_VERSION:
                raise MalformedInputError(f"monitor state version {doc['version']!r} unknown")
            self._origin = str(doc["origin"])
            self._latest = str(doc["latest"]).encode("utf-8")
            self._roots = {int(k): base64.b64decode(v) for k, v in doc["roots"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedInputError(f"monitor state {self._path} is malformed: {exc}") from None
        # The stored latest checkpoint is re-verified: the file is not trusted blindly.
        verify_checkpoint(self._latest, self._vkeys, origin=self._origin)

    def _save(self) -> None:
        if self._latest is None or self._origin is None:
            raise EnvironmentProblemError("monitor has no checkpoint to save")
        doc: dict[str, Any] = {
            "version": _STATE_VERSION,
            "origin": self._origin,
            "latest": self._latest.decode("utf-8"),
            "roots": {str(k): base64.b64encode(v).decode("ascii") for k, v in self._roots.items()},
        }
        write_file_atomic(self._path, canonical_json(doc))

    @property
    def latest(self) -> VerifiedCheckpoint | None:
        if self._latest is None:
            return None
        return verify_checkpoint(self._latest, self._vkeys, origin=self._origin)

    def observe(
        self,
        note: bytes,
        proof: Sequence[bytes] | None = None,
        *,
        proof_source: ProofSource | None = None,
    ) -> VerifiedCheckpoint:
        """Check a new checkpoint against everything seen; remember it if good.

        ``proof`` is the consistency proof from the latest seen size to the new
        one; or ``proof_source(old, new)`` fetches it. Raises ForkError,
        RollbackError or ConsistencyError (the state file is left unchanged).
        """
        new = verify_checkpoint(note, self._vkeys, origin=self._origin)
        seen_root = self._roots.get(new.size)
        if seen_root is not None and seen_root != new.root:
            raise ForkError(
                f"FORK of log {new.origin!r}: tree size {new.size} was seen with root "
                f"{base64.b64encode(seen_root).decode()} and now with "
                f"{base64.b64encode(new.root).decode()}"
            )
        old = self.latest
        if old is not None:
            if new.size < old.size:
                raise RollbackError(
                    f"ROLLBACK of log {new.origin!r}: checkpoint of size {new.size} after "
                    f"size {old.size} was seen"
                )
            if new.size > old.size:
                if proof is None:
                    if proof_source is None:
                        raise ConsistencyError(
                            f"no consistency proof from size {old.size} to {new.size}"
                        )
                    proof = proof_source(old.size, new.size)
                verify_consistency(old, new, list(proof))
        self._origin = new.origin
        self._latest = bytes(note)
        self._roots[new.size] = new.root
        self._save()
        return new
