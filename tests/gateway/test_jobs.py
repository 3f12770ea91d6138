"""Jobs and the transparency log over real HTTP on loopback.

``POST /v1/jobs`` admits, runs on Aer, signs and logs a receipt; the receipt
bundle verifies offline with the trust file alone. Every decision (through
either route) is logged. The log is read over HTTP in the c2sp.org/tlog-tiles
layout and checked with qprov.tlog alone. A log that is away gives 503 without
consuming the nonce, and the gateway recovers by itself. Two gateways sharing
PostgreSQL for store and log keep one consistent log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from tcp_proxy import TcpProxy

from qprov.chain import verify_chain
from qprov.dsse import envelope_from_dict
from qprov.receipt import log_entry
from qprov.tlog import (
    Log,
    ProofBundle,
    _merkle,
    entries_path_for_index,
    generate_signer,
    parse_checkpoint,
    parse_note,
    tiles_for_size,
    verify_checkpoint,
    verify_inclusion_bundle,
)
from qprov.tlog._tilepath import TILE_HEIGHT, TILE_WIDTH
from qprov.trust import load_trust

from ._env import BELL, TRUST, Keys, Server, bundle, free_port, request_doc, write_env
from ._openapi import ApiSpec
from .conftest import POSTGRES_URL, drop_postgres, require

JOBS = "/v1/jobs"
ADMISSIONS = "/v1/admissions"
JSON = {"Content-Type": "application/json"}
ORIGIN = "qprov.test/gateway-log"


# -- environment ------------------------------------------------------------------------------


def write_log_env(keys: Keys, d: Path) -> list[str]:
    """Keys, policy, a trust file naming the log's verifier keys, and the log key file."""
    write_env(keys, d)
    signers = [generate_signer(ORIGIN, alg) for alg in (0x01, 0x06)]
    (d / "log.skey").write_text("".join(s.to_skey() + "\n" for s in signers))
    vkeys = [s.verifier().to_vkey() for s in signers]
    (d / "trust.toml").write_text(
        TRUST + f"\n[log]\norigin = {json.dumps(ORIGIN)}\nvkeys = {json.dumps(vkeys)}\n"
    )
    return vkeys


def write_job_config(
    d: Path,
    name: str,
    *,
    port: int,
    store: str,
    log: str,
    jobs: bool = True,
    **extra: Any,
) -> Path:
    lines = [
        "version = 1",
        'trust = "trust.toml"',
        'policy = "policy.toml"',
        f"store = {json.dumps(store)}",
        f"port = {port}",
        'host = "127.0.0.1"',
        'signing_key = "file:gateway.key"',
        "graceful_timeout = 10",
        "retry_after = 2",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    lines += ["", "[log]", f"url = {json.dumps(log)}", 'keys = "log.skey"']
    if jobs:
        lines += ["", "[jobs]", 'backend_names = ["aer"]', "threads = 2"]
    path = d / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Start the servers side by side (each imports qiskit and Aer), stop them all."""
    try:
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            list(pool.map(Server.start, servers))  # a server that fails stops itself
        yield servers
    finally:
        for srv in servers:
            srv.stop()


def post(server: Server, path: str, doc: dict[str, Any] | bytes) -> requests.Response:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return requests.post(server.url + path, data=data, headers=JSON, timeout=60)


def checkpoint_size(server: Server) -> int:
    response = requests.get(server.url + "/log/checkpoint", timeout=10)
    assert response.status_code == 200, response.text
    return parse_checkpoint(parse_note(response.content).text).size


def verify_job(job: dict[str, Any], manifest: Any, trust_file: Path) -> None:
    """The researcher's offline check: every link, log inclusion included."""
    report = verify_chain(
        json.dumps(job["receipt_bundle"]).encode(),
        manifest.to_json(),
        BELL,
        job["result"].encode("utf-8"),
        load_trust(trust_file),
    )
    by_name = {link.name: link for link in report.links}
    assert by_name["log-inclusion"].ok, by_name["log-inclusion"]
    assert by_name["admission"].ok
    assert by_name["receipt-signature"].ok


@pytest.fixture(scope="module")
def job_env(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    d = tmp_path_factory.mktemp("gateway-jobs")
    return d, write_log_env(keys, d)


@pytest.fixture(scope="module")
def job_server(job_env: tuple[Path, list[str]]) -> Iterator[Server]:
    d, _ = job_env
    port = free_port()
    config = write_job_config(
        d, "jobs-sqlite", port=port, store="sqlite:///store.db", log="sqlite:///log.db"
    )
    srv = Server(config, port, d / "jobs-sqlite.log")
    with running(srv):
        yield srv


@pytest.fixture(scope="module")
def job_api(job_server: Server) -> ApiSpec:
    return ApiSpec(requests.get(job_server.url + "/openapi.json", timeout=10).json())


# -- jobs --------------------------------------------------------------------------------------


def test_job_admitted_runs_and_its_receipt_verifies_offline(
    job_server: Server, job_api: ApiSpec, keys: Keys, job_env: tuple[Path, list[str]]
) -> None:
    d, vkeys = job_env
    manifest = bundle(keys)
    before = checkpoint_size(job_server) if _has_checkpoint(job_server) else 0
    response = post(job_server, JOBS, request_doc(manifest))
    assert response.status_code == 200, response.text
    body = job_api.check("POST", JOBS, response)
    assert body["verdict"] == "admitted" == response.headers["x-qprov-verdict"]
    job = body["job"]
    assert job["job_id"] == "job-" + body["decision"]["manifest"]["sha256"][:32]
    assert isinstance(json.loads(job["result"]), dict)
    verify_job(job, manifest, d / "trust.toml")
    # the log grew by exactly the decision and the receipt, in that order
    assert body["log"]["index"] == before
    assert job["receipt_index"] == before + 1
    assert checkpoint_size(job_server) == before + 2
    decision_entry = log_entry(envelope_from_dict(body["envelope"]))
    verify_inclusion_bundle(decision_entry, body["log"]["proof"].encode(), vkeys)

    # the stored job, by id: the same bundle and result bytes, verifying again
    fetched = requests.get(f"{job_server.url}{JOBS}/{job['job_id']}", timeout=10)
    assert fetched.status_code == 200, fetched.text
    stored = job_api.check("GET", "/v1/jobs/{job_id}", fetched)
    assert stored == job
    verify_job(stored, manifest, d / "trust.toml")
    missing = requests.get(f"{job_server.url}{JOBS}/job-{'0' * 32}", timeout=10)
    assert missing.status_code == 404
    assert job_api.check("GET", "/v1/jobs/{job_id}", missing)["error"] == "not_found"


def _has_checkpoint(server: Server) -> bool:
    return requests.get(server.url + "/log/checkpoint", timeout=10).status_code == 200


def test_replayed_job_is_refused_and_the_refusal_is_logged(
    job_server: Server, job_api: ApiSpec, keys: Keys, job_env: tuple[Path, list[str]]
) -> None:
    _, vkeys = job_env
    doc = request_doc(bundle(keys))
    first = post(job_server, JOBS, doc)
    assert job_api.check("POST", JOBS, first)["verdict"] == "admitted"
    size = checkpoint_size(job_server)
    again = post(job_server, JOBS, doc)
    assert again.status_code == 200, again.text
    body = job_api.check("POST", JOBS, again)
    assert body["verdict"] == "refused" == again.headers["x-qprov-verdict"]
    assert [f["check"] for f in body["failures"]] == ["replay"]
    assert body["job"] is None
    # the refused decision is the log's next entry, with a proof that verifies
    assert body["log"]["index"] == size
    assert checkpoint_size(job_server) == size + 1
    entry = log_entry(envelope_from_dict(body["envelope"]))
    verified = verify_inclusion_bundle(entry, body["log"]["proof"].encode(), vkeys)
    assert verified.size == size + 1


def test_admissions_share_the_logged_path(
    job_server: Server, job_api: ApiSpec, keys: Keys, job_env: tuple[Path, list[str]]
) -> None:
    _, vkeys = job_env
    doc = request_doc(bundle(keys))
    size = checkpoint_size(job_server)
    admitted = post(job_server, ADMISSIONS, doc)
    body = job_api.check("POST", ADMISSIONS, admitted)
    assert body["verdict"] == "admitted"
    assert body["log"]["index"] == size
    verify_inclusion_bundle(
        log_entry(envelope_from_dict(body["envelope"])), body["log"]["proof"].encode(), vkeys
    )
    # one admitter for both routes: the nonce admitted here is a replay for /v1/jobs
    replay = job_api.check("POST", JOBS, post(job_server, JOBS, doc))
    assert replay["verdict"] == "refused"
    assert [f["check"] for f in replay["failures"]] == ["replay"]
    assert replay["log"]["index"] == size + 1
    assert checkpoint_size(job_server) == size + 2


def test_a_backend_this_gateway_does_not_run_consumes_nothing(
    job_server: Server, job_api: ApiSpec, keys: Keys
) -> None:
    from qprov.keys import CompositeSigner
    from qprov.manifest import create_manifest

    size = checkpoint_size(job_server)
    other = create_manifest(
        BELL,
        circuit_name="bell.qasm",
        backend="ibm_torino",
        shots=10,
        experiment="exp-1",
        signer=CompositeSigner(keys.submitter),
        now=datetime.now(UTC),
    )
    response = post(job_server, JOBS, request_doc(other))
    assert response.status_code == 422, response.text
    assert job_api.check("POST", JOBS, response)["error"] == "backend_unsupported"
    assert checkpoint_size(job_server) == size


# -- the log over HTTP, read as a tlog-tiles client would -----------------------------------------


def _fetch(server: Server, path: str) -> requests.Response:
    response = requests.get(f"{server.url}/log/{path}", timeout=10)
    assert response.status_code == 200, (path, response.text)
    return response


def test_tiles_over_http_recompute_the_checkpoint_root_and_prove_inclusion(
    job_server: Server, job_api: ApiSpec, keys: Keys, job_env: tuple[Path, list[str]]
) -> None:
    d, vkeys = job_env
    # grow the log past one level-1 tile: filler entries, then a logged decision signs it all
    with Log.open(f"sqlite:///{d / 'log.db'}") as log:
        log.append_many([f"filler {i}".encode() for i in range(2 * TILE_WIDTH + 40)])
    response = post(job_server, ADMISSIONS, request_doc(bundle(keys)))
    admitted = job_api.check("POST", ADMISSIONS, response)
    decision_index = admitted["log"]["index"]

    # a client with the vkeys only: checkpoint, then every tile it names
    response = _fetch(job_server, "checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    assert "max-age=2" in response.headers["cache-control"]
    checkpoint = verify_checkpoint(response.content, vkeys, origin=ORIGIN)
    size = checkpoint.size
    assert size > 2 * TILE_WIDTH

    tiles: dict[tuple[int, int], list[bytes]] = {}
    for ref in tiles_for_size(size):
        r = _fetch(job_server, ref.path())
        assert r.headers["content-type"] == "application/octet-stream"
        cache = r.headers["cache-control"]
        assert ("immutable" in cache) == (ref.width == 0), (ref.path(), cache)
        data = r.content
        assert len(data) == 32 * ref.count
        tiles[(ref.level or 0, ref.index)] = [data[i : i + 32] for i in range(0, len(data), 32)]

    # entry bundles hash to the level-0 tiles
    leaves: list[bytes] = []
    for start in range(0, size, TILE_WIDTH):
        width = min(TILE_WIDTH, size - start)
        suffix = "" if width == TILE_WIDTH else f".p/{width}"
        data = _fetch(job_server, f"tile/entries/{start // TILE_WIDTH:03d}{suffix}").content
        pos = 0
        while pos < len(data):
            n = int.from_bytes(data[pos : pos + 2], "big")
            leaves.append(_merkle.leaf_hash(data[pos + 2 : pos + 2 + n]))
            pos += 2 + n
    level0 = [h for i in range(-(-size // TILE_WIDTH)) for h in tiles[(0, i)]]
    assert leaves == level0

    # the root from the tiles: perfect subtrees of 256^k leaves from level-k tiles
    frontier: list[bytes] = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        if not size >> bit & 1:
            continue
        level = min(bit // TILE_HEIGHT, 1)
        unit = 1 << (TILE_HEIGHT * level)
        nodes = [
            tiles[(level, j // TILE_WIDTH)][j % TILE_WIDTH]
            for j in range(start // unit, (start + (1 << bit)) // unit)
        ]
        frontier.append(_merkle.root_of_leaves(nodes))
        start += 1 << bit
    assert _merkle.root_from_frontier(frontier) == checkpoint.root
    assert _merkle.root_of_leaves(leaves) == checkpoint.root

    # an inclusion proof from the API verifies against the entry read from the tiles
    proof = requests.get(
        f"{job_server.url}/v1/log/proof", params={"index": decision_index}, timeout=10
    )
    assert proof.status_code == 200, proof.text
    doc = job_api.check("GET", "/v1/log/proof", proof)
    assert doc["index"] == decision_index
    entries = _fetch(job_server, entries_path_for_index(decision_index, size)).content
    entry = _nth_entry(entries, decision_index % TILE_WIDTH)
    assert entry == log_entry(envelope_from_dict(admitted["envelope"]))
    verify_inclusion_bundle(entry, ProofBundle.from_bytes(doc["proof"].encode()), vkeys)

    # what is not there is a 404, never a 500
    for path in ("tile/0/999", "tile/0/000.p/0", "tile/x/000", "tile/entries/abc"):
        assert requests.get(f"{job_server.url}/log/{path}", timeout=10).status_code == 404, path
    beyond = requests.get(f"{job_server.url}/v1/log/proof", params={"index": 10**9}, timeout=10)
    assert beyond.status_code == 404
    bad = requests.get(f"{job_server.url}/v1/log/proof", params={"index": "-1"}, timeout=10)
    assert bad.status_code == 422
    job_api.check("GET", "/v1/log/proof", bad)


def _nth_entry(bundle_bytes: bytes, n: int) -> bytes:
    pos = 0
    for _ in range(n):
        pos += 2 + int.from_bytes(bundle_bytes[pos : pos + 2], "big")
    size = int.from_bytes(bundle_bytes[pos : pos + 2], "big")
    return bundle_bytes[pos + 2 : pos + 2 + size]


# -- the log away: 503, nothing consumed, recovery ---------------------------------------------


def _pg_via(port: int, schema: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/test?schema={schema}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_log_away_gives_503_consumes_nothing_and_recovers(
    job_env: tuple[Path, list[str]], keys: Keys
) -> None:
    require("postgresql", POSTGRES_URL)
    d, _ = job_env
    schema = f"l{uuid.uuid4().hex[:12]}"
    proxy = TcpProxy(("127.0.0.1", 5432), port=free_port())  # not listening yet: log away
    port = free_port()
    config = write_job_config(
        d, "log-away", port=port, store="sqlite:///away-store.db", log=_pg_via(proxy.port, schema)
    )
    manifest = bundle(keys)
    doc = request_doc(manifest)
    try:
        with running(Server(config, port, d / "log-away.log")) as (srv,):
            api = ApiSpec(requests.get(srv.url + "/openapi.json", timeout=10).json())
            for path in (JOBS, ADMISSIONS):
                away = post(srv, path, doc)
                assert away.status_code == 503, away.text
                error = api.check("POST", path, away)
                assert error["error"] == "log_unavailable"
                assert "PostgreSQL" in error["reason"]
                assert away.headers["retry-after"] == "2"
            health = requests.get(srv.url + "/v1/health", timeout=30)
            assert health.status_code == 503
            body = api.check("GET", "/v1/health", health)
            assert body["store"]["reachable"] is True
            assert body["log"]["reachable"] is False
            assert requests.get(srv.url + "/log/checkpoint", timeout=10).status_code == 503

            proxy.start()  # the log comes back; the same manifest is admitted: nothing consumed
            first = _until_not_503(srv, doc)
            assert api.check("POST", JOBS, first)["verdict"] == "admitted"
            verify_job(first.json()["job"], manifest, d / "trust.toml")

            proxy.stop()  # every connection cut: the gateway's log connections are dead
            cut = post(srv, JOBS, request_doc(bundle(keys)))
            assert cut.status_code == 503
            assert api.check("POST", JOBS, cut)["error"] == "log_unavailable"
            proxy.start()
            later = _until_not_503(srv, request_doc(bundle(keys)))
            assert api.check("POST", JOBS, later)["verdict"] == "admitted"
            assert requests.get(srv.url + "/v1/health", timeout=30).status_code == 200
        # nothing acknowledged was lost, nothing was logged twice
        with Log.open(POSTGRES_URL + f"?schema={schema}") as log:
            state = log.verify_integrity()
            assert state.size == 4  # two jobs: decision + receipt each
    finally:
        proxy.stop()
        _drop_schema(schema)


def _until_not_503(srv: Server, doc: dict[str, Any]) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        response = post(srv, JOBS, doc)
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response
        time.sleep(0.2)


# -- a fleet: two gateways, PostgreSQL for store and log ---------------------------------------


def test_two_gateways_on_postgres_keep_one_consistent_log(
    job_env: tuple[Path, list[str]], keys: Keys
) -> None:
    require("postgresql", POSTGRES_URL)
    d, vkeys = job_env
    namespace = f"g{uuid.uuid4().hex[:12]}"
    schema = f"l{uuid.uuid4().hex[:12]}"
    log_url = POSTGRES_URL + f"?schema={schema}"
    servers = []
    for name in ("fleet-a", "fleet-b"):
        port = free_port()
        config = write_job_config(
            d, name, port=port, store=POSTGRES_URL, log=log_url, store_namespace=namespace
        )
        servers.append(Server(config, port, d / f"{name}.log"))
    jobs = 8
    manifests = [bundle(keys) for _ in range(jobs)]
    replayed = json.dumps(request_doc(manifests[0])).encode()
    try:
        with running(*servers):

            def submit(i: int) -> dict[str, Any]:
                srv = servers[i % 2]
                body = replayed if i >= jobs else json.dumps(request_doc(manifests[i])).encode()
                response = post(srv, JOBS, body)
                assert response.status_code == 200, response.text
                out: dict[str, Any] = response.json()
                return out

            with ThreadPoolExecutor(max_workers=8) as pool:
                results = list(pool.map(submit, range(jobs + 3)))
            verdicts = Counter(r["verdict"] for r in results)
            # manifest 0 is submitted four times in all: admitted once
            assert verdicts == {"admitted": jobs, "refused": 3}
            indexes = [r["log"]["index"] for r in results]
            indexes += [r["job"]["receipt_index"] for r in results if r["job"] is not None]
            size = len(indexes)
            assert size == 2 * jobs + 3
            assert sorted(indexes) == list(range(size))  # no gap, no duplicate
            for i, r in enumerate(results):
                entry = log_entry(envelope_from_dict(r["envelope"]))
                verify_inclusion_bundle(entry, r["log"]["proof"].encode(), vkeys)
                if r["job"] is not None:
                    verify_job(r["job"], manifests[i % jobs], d / "trust.toml")
                    # any gateway of the fleet answers for any job
                    other = servers[(i + 1) % 2]
                    got = requests.get(f"{other.url}{JOBS}/{r['job']['job_id']}", timeout=10)
                    assert got.status_code == 200
                    assert got.json() == r["job"]
            assert checkpoint_size(servers[0]) == checkpoint_size(servers[1]) == size
        with Log.open(log_url) as log:
            assert log.verify_integrity().size == size
    finally:
        drop_postgres(namespace)
        _drop_schema(schema)


def test_openapi_documents_the_job_and_log_routes(job_api: ApiSpec) -> None:
    paths = job_api.doc["paths"]
    assert {
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/log/proof",
        "/log/checkpoint",
        "/log/tile/{path}",
    } <= set(paths)
    assert set(paths["/v1/jobs"]["post"]["responses"]) >= {"200", "422", "502", "503"}
    job_api.validate(
        "LogEntryModel", {"index": 0, "proof": "p", "checkpoint": base64.b64encode(b"x").decode()}
    )


# -- configuration ----------------------------------------------------------------------------


def _parse(text: str, base: Path) -> Any:
    from qprov.gateway import GatewayConfig

    head = 'version = 1\ntrust = "t.toml"\npolicy = "p.toml"\nstore = "sqlite:///state/s.db"\n'
    return GatewayConfig.from_toml((head + text).encode(), base)


def test_log_and_jobs_tables_are_checked(tmp_path: Path) -> None:
    from qprov.errors import ConfigError

    key = 'signing_key = "file:g.key"\n'
    config = _parse(key + '[log]\nkeys = "log.skey"\n[jobs]\n', tmp_path)
    # the log defaults to a SQLite file beside a SQLite store; paths are resolved
    assert config.log.url == f"sqlite:///{tmp_path / 'state' / 'qprov-log.db'}"
    assert config.log.keys == tmp_path / "log.skey"
    assert config.jobs.backend_names == ("aer_simulator",)
    assert config.jobs.threads == 2
    pg = _parse(key + '[log]\nurl = "postgresql://u@h/db?schema=l"\nkeys = "k"\n', tmp_path)
    assert pg.log.url == "postgresql://u@h/db?schema=l"
    assert pg.jobs is None
    for text, reason in [
        ('[log]\nkeys = "k"\n', "needs signing_key"),
        (key + "[jobs]\n", r"\[jobs\] needs a \[log\]"),
        (key + "[log]\n", "keys"),
        (key + '[log]\nkeys = "k"\nextra = 1\n', "unknown field"),
        (key + '[log]\nkeys = "k"\nurl = "redis://h/0"\n', "sqlite:///PATH or postgresql"),
        (key + '[log]\nkeys = "k"\n[jobs]\nbackend = "qpu"\n', "backend must be one of aer"),
        (key + '[log]\nkeys = "k"\n[jobs]\nthreads = 0\n', "threads"),
        (key + '[log]\nkeys = "k"\n[jobs]\nbackend_names = []\n', "backend_names"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            _parse(text, tmp_path)
