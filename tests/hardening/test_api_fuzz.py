"""API fuzzing: schemathesis against the gateway's own OpenAPI document, on a real server.

One gateway on loopback with every route configured (SQLite store, a transparency log,
jobs on Aer) and one admitted job, so that the job, proof and tile routes have something
to find. schemathesis generates requests for every operation in the document (its
examples, coverage and fuzzing phases; at most ``MAX_EXAMPLES`` fuzzed cases per
operation, deterministic) and checks every response:

* never a 5xx (``not_a_server_error``; a 503 would mean the store failed, which it
  must not here);
* the status code is documented, the content type is documented, the body matches its
  schema, documented headers match theirs;
* data the schema calls invalid is refused with a 4xx (``negative_data_rejection``).

The run is bounded: ``MAX_EXAMPLES`` per operation and a wall-clock budget after which
the remaining cases are skipped (and the test fails in CI, where the budget must hold).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, Final

import pytest
import requests

from ._harden import (
    Gateway,
    HardenEnv,
    Keys,
    ci,
    free_port,
    make_bundle,
    post,
    request_doc,
    write_config,
    write_env,
)

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES: Final = 50
#: Wall-clock budget of the whole fuzzing run.
BUDGET_SECONDS: Final = 240.0
CHECKS: Final = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def fuzz_env(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> HardenEnv:
    return write_env(keys, tmp_path_factory.mktemp("api-fuzz"))


@pytest.fixture(scope="module")
def fuzz_gateway(fuzz_env: HardenEnv) -> Iterator[Gateway]:
    port = free_port()
    config = write_config(
        fuzz_env.dir,
        "fuzz",
        port=port,
        store="sqlite:///store.db",
        log="sqlite:///log.db",
        jobs=True,
    )
    gw = Gateway(config, port, fuzz_env.dir / "fuzz.log")
    gw.start()
    try:
        # one admitted job: the job, proof and tile routes have something to serve
        response = post(gw.url + "/v1/jobs", request_doc(make_bundle(fuzz_env.keys)))
        assert response.status_code == 200, response.text
        assert response.json()["verdict"] == "admitted"
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_gateway: Gateway) -> Any:
    config = schemathesis.Config.from_dict(
        {"generation": {"max-examples": MAX_EXAMPLES, "deterministic": True}}
    )
    return schemathesis.openapi.from_url(
        fuzz_gateway.url + "/openapi.json", config=config, timeout=30
    )


@pytest.fixture(scope="module")
def budget() -> dict[str, float]:
    return {"deadline": time.monotonic() + BUDGET_SECONDS}


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


schema = schemathesis.pytest.from_fixture("api_schema")
#: Requests sent per operation ("POST /v1/jobs": n), checked by the last test.
CALLS: Counter[str] = Counter()


@schema.parametrize()  # type: ignore[untyped-decorator]
def test_every_operation_answers_per_its_schema_and_never_5xx(
    case: Any, budget: dict[str, float], session: requests.Session
) -> None:
    if time.monotonic() > budget["deadline"]:
        if ci():
            pytest.fail(f"API fuzzing ran over its budget of {BUDGET_SECONDS}s")
        pytest.skip(f"API fuzzing budget of {BUDGET_SECONDS}s spent")
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    CALLS[f"{case.method.upper()} {case.path}"] += 1
    case.call_and_validate(session=session, checks=checks, timeout=60)


def test_every_route_is_documented_and_was_fuzzed(fuzz_gateway: Gateway) -> None:
    """The fuzzing above covers what the document lists; the document lists every route,
    and each operation was called many times (the run above did happen)."""
    doc = requests.get(fuzz_gateway.url + "/openapi.json", timeout=30).json()
    operations = {
        f"{m.upper()} {p}": op for p, item in doc["paths"].items() for m, op in item.items()
    }
    # schemathesis also sends undocumented methods (answered 405, checked above too)
    assert set(operations) <= set(CALLS), CALLS
    for name, op in operations.items():
        has_input = "requestBody" in op or op.get("parameters")
        assert CALLS[name] >= (10 if has_input else 1), (name, CALLS)
    assert set(doc["paths"]) >= {
        "/v1/admissions",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/health",
        "/metrics",
        "/v1/log/proof",
        "/log/checkpoint",
        "/log/tile/{path}",
    }
