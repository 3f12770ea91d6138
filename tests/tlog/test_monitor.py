"""The monitor remembers checkpoints and raises on fork, rollback, bad proofs."""

from __future__ import annotations

from pathlib import Path

import pytest

from qprov.errors import MalformedInputError
from qprov.tlog import ConsistencyError, ForkError, Log, Monitor, NoteSigner, RollbackError

TS = 1_700_000_000


def _logs(tmp_path: Path) -> tuple[Log, Log]:
    honest = Log.open(f"sqlite:///{tmp_path}/honest.sqlite")
    evil = Log.open(f"sqlite:///{tmp_path}/evil.sqlite")
    honest.append_many([b"a", b"b", b"c"])
    evil.append_many([b"a", b"b", b"X"])
    return honest, evil


def test_monitor_follows_a_growing_log(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    log, _ = _logs(tmp_path)
    state = tmp_path / "monitor.json"
    mon = Monitor(state, vkeys)
    assert mon.observe(log.sign_checkpoint(signers, timestamp=TS)).size == 3
    log.append_many([b"d", b"e"])
    note = log.sign_checkpoint(signers, timestamp=TS)
    assert mon.observe(note, proof_source=log.consistency_proof).size == 5
    # State survives a restart and is re-verified on load.
    again = Monitor(state, vkeys)
    assert again.latest is not None
    assert again.latest.size == 5
    assert again.observe(note).size == 5  # same checkpoint again: fine
    assert not list(tmp_path.glob(".monitor.json.*"))  # no temp file left behind


def test_monitor_alarms_on_fork(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    log, evil = _logs(tmp_path)
    mon = Monitor(tmp_path / "m.json", vkeys)
    mon.observe(log.sign_checkpoint(signers, timestamp=TS))
    before = (tmp_path / "m.json").read_bytes()
    with pytest.raises(ForkError, match=r"FORK of log .* tree size 3 was seen with root"):
        mon.observe(evil.sign_checkpoint(signers, timestamp=TS))
    assert (tmp_path / "m.json").read_bytes() == before


def test_monitor_alarms_on_rollback(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    log, _ = _logs(tmp_path)
    old = log.sign_checkpoint(signers, timestamp=TS)
    log.append(b"d")
    mon = Monitor(tmp_path / "m.json", vkeys)
    mon.observe(log.sign_checkpoint(signers, timestamp=TS))
    with pytest.raises(RollbackError, match=r"ROLLBACK of log .* size 3 after size 4"):
        mon.observe(old)


def test_monitor_alarms_on_failed_consistency(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    log, evil = _logs(tmp_path)
    mon = Monitor(tmp_path / "m.json", vkeys)
    mon.observe(log.sign_checkpoint(signers, timestamp=TS))
    evil.append(b"d")
    note = evil.sign_checkpoint(signers, timestamp=TS)
    with pytest.raises(ConsistencyError, match="not consistent with size 3"):
        mon.observe(note, proof_source=evil.consistency_proof)
    with pytest.raises(ConsistencyError, match="no consistency proof"):
        mon.observe(note)


def test_monitor_rejects_tampered_state(
    tmp_path: Path, signers: list[NoteSigner], vkeys: list[str]
) -> None:
    log, _ = _logs(tmp_path)
    state = tmp_path / "m.json"
    Monitor(state, vkeys).observe(log.sign_checkpoint(signers, timestamp=TS))
    state.write_bytes(b'{"version": 1, "version": 2}')
    with pytest.raises(MalformedInputError, match="duplicate key"):
        Monitor(state, vkeys)
    with pytest.raises(MalformedInputError, match="verifier keys"):
        Monitor(tmp_path / "other.json", [])
