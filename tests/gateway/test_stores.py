"""Gateways on shared and failing stores: exactly-once across processes, 503 and recovery,
several workers, graceful shutdown."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from qprov.store import open_store

from ._env import Keys, Server, bundle, free_port, request_doc, write_config
from ._openapi import ApiSpec
from .conftest import POSTGRES_URL, drop_postgres, require
from .test_http import ADMISSIONS, metric, parse_exposition, post

SUBMISSIONS = 200


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    started: list[Server] = []
    try:
        for srv in servers:
            srv.start()
            started.append(srv)  # a server that fails to start stops itself
        yield servers
    finally:
        for srv in started:
            srv.stop()


def spec(server: Server) -> ApiSpec:
    return ApiSpec(requests.get(server.url + "/openapi.json", timeout=10).json())


# -- PostgreSQL: two gateways, one nonce ------------------------------------------------------


def test_two_gateways_on_postgres_admit_one_manifest_exactly_once(
    env_dir: Path, keys: Keys
) -> None:
    require("postgresql", POSTGRES_URL)
    namespace = f"g{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("pg-a", "pg-b"):
        port = free_port()
        config = write_config(
            env_dir, name, store=POSTGRES_URL, port=port, store_namespace=namespace
        )
        servers.append(Server(config, port, env_dir / f"{name}.log"))
    doc = json.dumps(request_doc(bundle(keys))).encode()
    try:
        with running(*servers):

            def submit(i: int) -> tuple[int, str, tuple[str, ...]]:
                response = post(servers[i % 2], doc)
                if response.status_code != 200:
                    return response.status_code, response.text, ()
                body = response.json()
                return 200, body["verdict"], tuple(f["check"] for f in body["failures"])

            with ThreadPoolExecutor(max_workers=32) as pool:
                results = list(pool.map(submit, range(SUBMISSIONS)))
            assert {status for status, _, _ in results} == {200}, results[:3]
            verdicts = Counter(verdict for _, verdict, _ in results)
            assert verdicts == {"admitted": 1, "refused": SUBMISSIONS - 1}
            assert all(
                failed == ("replay",) for _, verdict, failed in results if verdict == "refused"
            )
            # each gateway saw half; together their metrics count one admission
            admitted = 0.0
            for srv in servers:
                text = requests.get(srv.url + "/metrics", timeout=10).text
                samples = parse_exposition(text)
                admitted += metric(samples, "qprov_gateway_decisions_total", verdict="admitted")
                assert (
                    metric(samples, "qprov_gateway_requests_total", route=ADMISSIONS, status="200")
                    == SUBMISSIONS // 2
                )
            assert admitted == 1
        # the shared audit trail holds one admitted decision among 200
        with open_store(POSTGRES_URL, namespace=namespace) as store:
            records = store.list_decisions(limit=1000)
        verdict_of = [r.record["predicate"]["verdict"] for r in records]
        assert Counter(verdict_of) == {"admitted": 1, "refused": SUBMISSIONS - 1}
    finally:
        drop_postgres(namespace)


def test_postgres_unreachable_gives_503_never_500(env_dir: Path, keys: Keys) -> None:
    closed = free_port()  # nothing listens there
    port = free_port()
    config = write_config(
        env_dir, "pg-away", store=f"postgresql://postgres@127.0.0.1:{closed}/test", port=port
    )
    with running(Server(config, port, env_dir / "pg-away.log")) as (srv,):
        api = spec(srv)
        health = requests.get(srv.url + "/v1/health", timeout=30)
        assert health.status_code == 503
        body = api.check("GET", "/v1/health", health)
        assert body["status"] == "unavailable"
        assert body["store"]["reachable"] is False
        assert "unreachable" in body["store"]["reason"]
        response = post(srv, request_doc(bundle(keys)))
        assert response.status_code == 503
        error = api.check("POST", ADMISSIONS, response)
        assert error["error"] == "store_unavailable"
        assert "PostgreSQL" in error["reason"]
        assert response.headers["retry-after"] == "2"
        # bad input is still judged without the store
        assert post(srv, b"{").status_code == 400


# -- Redis: 503 while away, recovery without restart --------------------------------------------


class RedisServer:
    """A throwaway redis-server on a free loopback port, owned by the test."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
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
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.exceptions.ConnectionError):
                    if client.ping():
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed in CI")
        pytest.skip("redis-server is not installed")
    srv = RedisServer(free_port(), tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_redis_away_gives_503_then_recovers_without_restart(
    env_dir: Path, keys: Keys, redis_server: RedisServer
) -> None:
    port = free_port()
    config = write_config(
        env_dir, "redis-gw", store=f"redis://127.0.0.1:{redis_server.port}/0", port=port
    )
    with running(Server(config, port, env_dir / "redis-gw.log")) as (srv,):
        api = spec(srv)
        first = post(srv, request_doc(bundle(keys)))
        assert first.status_code == 200
        assert api.check("POST", ADMISSIONS, first)["verdict"] == "admitted"

        redis_server.stop()
        away = post(srv, request_doc(bundle(keys)))
        assert away.status_code == 503, away.text
        error = api.check("POST", ADMISSIONS, away)
        assert error["error"] == "store_unavailable"
        assert "Redis" in error["reason"]
        assert "retry later" in error["reason"]
        assert int(away.headers["retry-after"]) > 0
        health = requests.get(srv.url + "/v1/health", timeout=30)
        assert health.status_code == 503
        assert api.check("GET", "/v1/health", health)["store"]["reachable"] is False

        redis_server.start()  # same port; the gateway process was never restarted
        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = post(srv, request_doc(bundle(keys)))
            statuses.append(response.status_code)
            if response.status_code == 200:
                assert api.check("POST", ADMISSIONS, response)["verdict"] == "admitted"
                break
            assert response.status_code == 503
            time.sleep(0.2)
        assert statuses[-1] == 200, statuses
        assert requests.get(srv.url + "/v1/health", timeout=30).status_code == 200
        assert 500 not in statuses


# -- several workers ------------------------------------------------------------------------------


def test_two_workers_metrics_sum_every_worker(env_dir: Path, keys: Keys) -> None:
    port = free_port()
    config = write_config(env_dir, "workers", store="sqlite:///workers.db", port=port)
    srv = Server(config, port, env_dir / "workers.log", workers=2)
    n = 12
    with running(srv):

        def submit(_: int) -> str:
            r = post(srv, request_doc(bundle(keys)))
            assert r.status_code == 200, (r.status_code, r.text)
            verdict: str = r.json()["verdict"]
            return verdict

        with ThreadPoolExecutor(max_workers=4) as pool:
            verdicts = list(pool.map(submit, range(n)))
        assert verdicts == ["admitted"] * n
        # whichever worker answers the scrape, it reports both workers' counts
        seen: set[float] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            samples = parse_exposition(requests.get(srv.url + "/metrics", timeout=10).text)
            seen.add(metric(samples, "qprov_gateway_decisions_total", verdict="admitted"))
            if n in seen:
                break
            time.sleep(0.2)
        assert n in seen, seen
        assert max(seen) == n
        pids = {line.get("message") for line in srv.log_lines() if "process" in line["message"]}
        assert len([p for p in pids if p and p.startswith("Started server process")]) == 2


# -- graceful shutdown ----------------------------------------------------------------------------


def test_sigterm_lets_an_in_flight_request_finish(env_dir: Path, keys: Keys) -> None:
    import socket

    port = free_port()
    config = write_config(env_dir, "graceful", store="sqlite:///graceful.db", port=port)
    srv = Server(config, port, env_dir / "graceful.log")
    body = json.dumps(request_doc(bundle(keys))).encode()
    with running(srv):
        assert srv.proc is not None
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = (
                b"POST /v1/admissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            sock.sendall(head + body[:100])  # the request is in flight, its body half sent
            # wait until the application is serving it: in flight beside the scrape itself
            in_flight = 0.0
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and in_flight < 2:
                samples = parse_exposition(requests.get(srv.url + "/metrics", timeout=10).text)
                in_flight = metric(samples, "qprov_gateway_requests_in_flight")
            assert in_flight == 2
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "Shutting down" not in srv.log.read_text():
                time.sleep(0.05)
            assert "Shutting down" in srv.log.read_text()
            sock.sendall(body[100:])
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 "), data[:200]
        decision = json.loads(data.partition(b"\r\n\r\n")[2])
        assert decision["verdict"] == "admitted"
        # uvicorn re-raises the signal after a clean shutdown (the conventional exit status)
        assert srv.proc.wait(timeout=20) in (0, -signal.SIGTERM)
        messages = [line["message"] for line in srv.log_lines()]
        assert "Application shutdown complete." in messages
