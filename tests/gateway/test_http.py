"""The gateway over real HTTP on loopback: admissions, refusals, 4xx, OpenAPI, metrics, logs."""

from __future__ import annotations

import base64
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from qprov.admission import DECISION_PREDICATE_TYPE
from qprov.statement import verify_statement
from qprov.trust import load_trust

from ._env import BELL, HIDDEN_T, Keys, Server, bundle, request_doc
from ._openapi import ApiSpec
from .conftest import BODY_LIMIT

ADMISSIONS = "/v1/admissions"
JSON = {"Content-Type": "application/json"}


def post(server: Server, body: bytes | dict[str, Any], **headers: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        server.url + ADMISSIONS, data=data, headers={**JSON, **headers}, timeout=30
    )


def expect_error(api: ApiSpec, response: requests.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = api.check("POST", ADMISSIONS, response)
    assert body["error"] == error
    assert body["reason"]
    assert response.headers["x-request-id"]
    return str(body["reason"])


# -- the document -------------------------------------------------------------------------


def test_openapi_document_is_valid_and_complete(api: ApiSpec) -> None:
    paths = api.doc["paths"]
    assert set(paths) >= {"/v1/admissions", "/v1/health", "/metrics"}
    post_op = paths["/v1/admissions"]["post"]
    assert set(post_op["responses"]) >= {"200", "400", "413", "415", "422", "503"}
    body = post_op["requestBody"]["content"]
    assert list(body) == ["application/json"]
    api.validate("AdmissionRequest", {"bundle": {}, "circuit": "AA=="})
    api.validate("ErrorResponse", {"error": "body_too_large", "reason": "x"})
    with pytest.raises(Exception, match="Additional properties"):
        api.validate("ErrorResponse", {"error": "body_too_large", "reason": "x", "extra": 1})
    with pytest.raises(Exception, match="Additional properties"):
        api.validate("AdmissionRequest", {"bundle": {}, "circuit": "AA==", "extra": 1})


def test_health_reports_the_store(server: Server, api: ApiSpec) -> None:
    response = requests.get(server.url + "/v1/health", timeout=10)
    assert response.status_code == 200
    body = api.check("GET", "/v1/health", response)
    assert body["status"] == "ok"
    assert body["store"] == {"backend": "sqlite", "reachable": True}


# -- admissions ----------------------------------------------------------------------------


def test_admitted_then_replay_refused(server: Server, api: ApiSpec, keys: Keys) -> None:
    doc = request_doc(bundle(keys))
    first = post(server, doc)
    assert first.status_code == 200, first.text
    body = api.check("POST", ADMISSIONS, first)
    assert body["verdict"] == "admitted" == first.headers["x-qprov-verdict"]
    assert body["failures"] == []
    assert all(c["ok"] for c in body["decision"]["checks"])
    # the decision is signed by the gateway key and says what the body says
    verified = verify_statement(
        json.dumps(body["envelope"]).encode(),
        load_trust(server.config.parent / "trust.toml"),
        "gateway",
        predicate_type=DECISION_PREDICATE_TYPE,
    )
    assert verified.statement.predicate == body["decision"]

    again = post(server, doc)
    assert again.status_code == 200
    body = api.check("POST", ADMISSIONS, again)
    assert body["verdict"] == "refused" == again.headers["x-qprov-verdict"]
    assert [f["check"] for f in body["failures"]] == ["replay"]
    assert "already admitted" in body["failures"][0]["reason"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("other-circuit", {"circuit-digest", "gates"}),
        ("expired", {"time"}),
        ("future", {"time"}),
        ("untrusted-key", {"signature"}),
    ],
)
def test_refusal_carries_each_failed_check(
    server: Server, api: ApiSpec, keys: Keys, case: str, expected: set[str]
) -> None:
    now = datetime.now(UTC)
    circuit = BELL
    if case == "other-circuit":  # manifest for BELL, circuit with a T hidden in a definition
        b, circuit = bundle(keys), HIDDEN_T
    elif case == "expired":
        b = bundle(keys, now=now - timedelta(hours=2), lifetime=timedelta(minutes=10))
    elif case == "future":
        b = bundle(keys, now=now + timedelta(hours=1))
    else:
        b = bundle(keys, signer="stranger")
    response = post(server, request_doc(b, circuit))
    assert response.status_code == 200, response.text
    body = api.check("POST", ADMISSIONS, response)
    assert body["verdict"] == "refused"
    failed = {f["check"] for f in body["failures"]}
    assert expected <= failed
    assert all(f["reason"] for f in body["failures"])
    checks = {c["name"]: c for c in body["decision"]["checks"]}
    for name in expected:
        assert checks[name]["ok"] is False
        assert checks[name]["reason"] == next(
            f["reason"] for f in body["failures"] if f["check"] == name
        )
    assert checks["replay"].get("skipped") is True  # a refusal consumes no nonce


# -- 4xx classes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b'{"bundle": {}, "bundle": {}, "circuit": "AA=="}',
        b'{"bundle": {}, "circuit": NaN}',
        b'{"bundle": {}, "circuit": "\xff"}',
    ],
    ids=["truncated", "empty", "duplicate-key", "nan", "bad-utf8"],
)
def test_malformed_json_is_400(server: Server, api: ApiSpec, body: bytes) -> None:
    expect_error(api, post(server, body), 400, "malformed_json")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: {**d, "priority": "high"}, "unknown field"),
        (lambda d: {"bundle": d["bundle"]}, "missing field"),
        (lambda d: {**d, "circuit": "not base64!"}, "base64"),
        (lambda d: {**d, "circuit": 42}, "base64"),
        (lambda d: {**d, "bundle": "a string"}, "JSON object"),
        (lambda d: [d], "JSON object"),
    ],
    ids=[
        "unknown-field",
        "missing-field",
        "bad-base64",
        "circuit-not-string",
        "bundle-string",
        "array",
    ],
)
def test_invalid_request_is_422(
    server: Server, api: ApiSpec, keys: Keys, mutate: Any, match: str
) -> None:
    reason = expect_error(
        api, post(server, mutate(request_doc(bundle(keys)))), 422, "invalid_request"
    )
    assert match in reason


@pytest.mark.parametrize("where", ["bundle", "manifest"])
def test_unknown_field_in_the_bundle_is_422(
    server: Server, api: ApiSpec, keys: Keys, where: str
) -> None:
    doc = request_doc(bundle(keys))
    if where == "bundle":
        doc["bundle"]["comment"] = "hi"
    else:
        doc["bundle"]["mediaType"] = "application/vnd.qprov.manifest-bundle.v9+json"
    expect_error(api, post(server, doc), 422, "malformed_bundle")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonp",
    ],
)
def test_wrong_content_type_is_415(
    server: Server, api: ApiSpec, keys: Keys, content_type: str
) -> None:
    response = post(server, request_doc(bundle(keys)), **{"Content-Type": content_type})
    expect_error(api, response, 415, "unsupported_media_type")


def test_missing_content_type_is_415(server: Server, api: ApiSpec) -> None:
    request = requests.Request("POST", server.url + ADMISSIONS, data=b"{}").prepare()
    request.headers.pop("Content-Type", None)
    with requests.Session() as session:
        response = session.send(request, timeout=10)
    expect_error(api, response, 415, "unsupported_media_type")


def test_json_with_charset_utf8_is_accepted(server: Server, api: ApiSpec, keys: Keys) -> None:
    response = post(
        server, request_doc(bundle(keys)), **{"Content-Type": "application/json; charset=UTF-8"}
    )
    assert response.status_code == 200
    assert api.check("POST", ADMISSIONS, response)["verdict"] == "admitted"


def test_oversized_body_is_413(server: Server, api: ApiSpec) -> None:
    body = b'{"bundle": {}, "circuit": "' + b"A" * BODY_LIMIT + b'"}'
    response = post(server, body)
    expect_error(api, response, 413, "body_too_large")
    assert response.headers["connection"] == "close"


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, headers, rest[:length]


def test_oversized_body_refused_without_reading_it(server: Server, api: ApiSpec) -> None:
    """A declared 50 MB body gets 413 after 16 KiB were sent; the rest is never sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/admissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 16384
        )
        status, headers, body = _read_response(sock)
        assert status == 413
        assert headers["connection"] == "close"
        api.validate("ErrorResponse", json.loads(body))
        assert sock.recv(65536) == b""  # the server closed instead of draining 50 MB


def test_oversized_chunked_body_refused_while_streaming(server: Server, api: ApiSpec) -> None:
    """Without a Content-Length, the limit is enforced as chunks arrive, before the body ends."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/admissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 8192
        for _ in range(BODY_LIMIT // len(chunk) + 2):  # over the limit; no final chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, _, body = _read_response(sock)
        assert status == 413
        assert json.loads(body)["error"] == "body_too_large"


def test_unknown_route_and_method_are_json_errors(server: Server, api: ApiSpec) -> None:
    missing = requests.get(server.url + "/v1/nothing", timeout=10)
    assert missing.status_code == 404
    api.validate("ErrorResponse", missing.json())
    assert missing.json()["error"] == "not_found"
    wrong = requests.get(server.url + ADMISSIONS, timeout=10)
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


# -- metrics and logs ---------------------------------------------------------------------------

_SAMPLE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\",?)*)\})?"
    r" (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))"
)
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\n]|\\[\\\"n])*)\"")


def parse_exposition(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A strict parser of the Prometheus text format 0.0.4 (what qprov writes)."""
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram")
            assert name not in types, f"family {name} declared twice"
            types[name] = kind
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, f"not a sample line: {line!r}"
        name = match["name"]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} before its TYPE line"
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match["value"])
    # histogram invariants: cumulative buckets, +Inf bucket == count
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
        for (sample, labels), value in samples.items():
            if sample == f"{name}_bucket":
                le = dict(labels)["le"]
                rest = frozenset(p for p in labels if p[0] != "le")
                series.setdefault(rest, []).append((float(le), value))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert counts == sorted(counts)
            assert buckets[-1][0] == float("inf")
            assert samples[(f"{name}_count", rest)] == counts[-1]
            assert (f"{name}_sum", rest) in samples
    return samples


def metric(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(server: Server, api: ApiSpec) -> dict[Any, float]:
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(api.check("GET", "/metrics", response))


def test_metrics_count_decisions_by_verdict_and_reason(
    server: Server, api: ApiSpec, keys: Keys
) -> None:
    before = scrape(server, api)
    doc = request_doc(bundle(keys))
    assert post(server, doc).json()["verdict"] == "admitted"
    assert post(server, doc).json()["verdict"] == "refused"
    assert post(server, b"{").status_code == 400
    after = scrape(server, api)

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("qprov_gateway_decisions_total", verdict="admitted") == 1
    assert delta("qprov_gateway_decisions_total", verdict="refused") == 1
    assert delta("qprov_gateway_refusals_total", check="replay") == 1
    assert delta("qprov_gateway_refusals_total", check="signature") == 0
    assert delta("qprov_gateway_requests_total", route=ADMISSIONS, status="200") == 2
    assert delta("qprov_gateway_requests_total", route=ADMISSIONS, status="400") == 1
    assert delta("qprov_gateway_request_duration_seconds_count", route=ADMISSIONS) == 3
    # the scrape itself is in flight while it is answered
    assert metric(after, "qprov_gateway_requests_in_flight") >= 1


def test_logs_are_json_lines_with_request_fields(server: Server, keys: Keys) -> None:
    response = post(server, request_doc(bundle(keys)), **{"X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    lines = server.log_lines()  # raises if any line is not JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("request_id") == "trace-42"]
    assert len(mine) == 1
    assert mine[0]["route"] == ADMISSIONS
    assert mine[0]["status"] == 200
    assert mine[0]["verdict"] == "admitted"
    assert isinstance(mine[0]["latency_ms"], float | int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", mine[0]["time"])


def test_unsafe_request_id_is_replaced(server: Server) -> None:
    response = requests.get(
        server.url + "/v1/health", headers={"X-Request-ID": "a b\x7f"}, timeout=10
    )
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_circuit_bytes_are_hashed_as_received(server: Server, api: ApiSpec, keys: Keys) -> None:
    """One byte more in the circuit than the manifest names: refused on circuit-digest."""
    b = bundle(keys)
    doc = {"bundle": b.to_dict(), "circuit": base64.b64encode(BELL + b"\n").decode()}
    body = api.check("POST", ADMISSIONS, post(server, doc))
    assert body["verdict"] == "refused"
    assert [f["check"] for f in body["failures"]] == ["circuit-digest"]
