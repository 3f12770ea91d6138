"""The ASGI application: ``create_app(config)``.

Routes: ``POST /v1/admissions``, ``POST /v1/jobs``, ``GET /v1/jobs/{job_id}``,
``GET /v1/log/proof``, ``GET /log/checkpoint``, ``GET /log/tile/...``
(c2sp.org/tlog-tiles), ``GET /v1/health``, ``GET /metrics``,
``GET /openapi.json``. Status codes and the request form are decided in
docs/adr/0013-gateway-http.md.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import functools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qprov import __version__
from qprov._canon import loads_strict
from qprov._predicate import format_time
from qprov.admission import CHECKS, AdmissionDecision, Admitter
from qprov.circuits import analyze_circuit
from qprov.errors import (
    ConfigError,
    EnvironmentProblemError,
    Error,
    MalformedInputError,
    PolicyError,
    ProofError,
    ServiceUnavailableError,
)
from qprov.gateway._config import GatewayConfig
from qprov.gateway._jobrecords import JobRecord, JobRecords
from qprov.gateway._logging import ACCESS_LOGGER
from qprov.gateway._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from qprov.gateway._metrics import Metrics
from qprov.gateway._models import (
    AdmissionRequest,
    AdmissionResponse,
    ErrorCode,
    ErrorResponse,
    HealthResponse,
    JobModel,
    JobResponse,
    ProofResponse,
)
from qprov.gateway._store import LazyStore, store_backend
from qprov.gateway._workers import WorkerPool
from qprov.jobs import JobGateway, JobOutcome
from qprov.keys import load_signer
from qprov.policy import load_admission_policy
from qprov.tlog import (
    Log,
    NoteSigner,
    parse_checkpoint,
    parse_note,
    parse_skey,
    parse_tile_path,
)
from qprov.trust import load_trust

__all__ = [
    "ADMISSIONS_PATH",
    "HEALTH_PATH",
    "JOBS_PATH",
    "LOG_CHECKPOINT_PATH",
    "LOG_PROOF_PATH",
    "LOG_TILE_PREFIX",
    "METRICS_PATH",
    "create_app",
]

logger = logging.getLogger("qprov.gateway")
access_logger = logging.getLogger(ACCESS_LOGGER)

ADMISSIONS_PATH: Final = "/v1/admissions"
HEALTH_PATH: Final = "/v1/health"
METRICS_PATH: Final = "/metrics"
OPENAPI_PATH: Final = "/openapi.json"
JOBS_PATH: Final = "/v1/jobs"
JOB_PATH: Final = "/v1/jobs/{job_id}"
LOG_PROOF_PATH: Final = "/v1/log/proof"
LOG_CHECKPOINT_PATH: Final = "/log/checkpoint"
LOG_TILE_PREFIX: Final = "/log/tile/"
_ROUTES: Final = frozenset(
    {
        ADMISSIONS_PATH,
        HEALTH_PATH,
        METRICS_PATH,
        OPENAPI_PATH,
        JOBS_PATH,
        LOG_PROOF_PATH,
        LOG_CHECKPOINT_PATH,
    }
)
#: Full tiles never change; partial tiles are superseded as the log grows, and the
#: checkpoint moves with every decision (docs/adr/0013-gateway-http.md).
CACHE_FULL_TILE: Final = "public, max-age=31536000, immutable"
CACHE_PARTIAL_TILE: Final = "public, max-age=60"
CACHE_CHECKPOINT: Final = "public, max-age=2, must-revalidate"
_JOB_ID_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOG_READ_THREADS: Final = 4
T = TypeVar("T")
_REQUEST_FIELDS: Final = frozenset({"bundle", "circuit"})
_REQUEST_ID_RE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_JSON_TYPE_RE: Final = re.compile(
    r"\s*application/json\s*(;\s*charset\s*=\s*\"?utf-8\"?\s*)?", re.IGNORECASE
)
_METRICS_FLUSH_SECONDS: Final = 0.5
_PURGE_SECONDS: Final = 600.0
_SCOPE_KEY: Final = "qprov.gateway"
_WARM_UP_CIRCUIT: Final = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n'

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- responses --------------------------------------------------------------------------


def _json(status: int, doc: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(
    status: int,
    code: ErrorCode,
    reason: str,
    *,
    close: bool = False,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    out = dict(headers or {})
    if close:
        # The body was not (fully) read: close rather than drain it.
        out["Connection"] = "close"
    if retry_after is not None:
        out["Retry-After"] = str(retry_after)
    return _json(status, {"error": code, "reason": reason}, out)


def _decision_doc(decision: AdmissionDecision) -> dict[str, Any]:
    return {
        "verdict": decision.verdict,
        "decision": decision.to_dict(),
        "failures": [{"check": c.name, "reason": c.reason} for c in decision.failures],
        "envelope": decision.envelope.to_dict() if decision.envelope is not None else None,
    }


def _log_doc(outcome: JobOutcome) -> dict[str, Any]:
    """Where the decision is in the log: its index, proof and the checkpoint it proves against."""
    return {
        "index": int(outcome.decision_index),
        "proof": outcome.decision_proof.decode("utf-8"),
        "checkpoint": outcome.checkpoint.decode("utf-8"),
    }


def _job_doc(record: JobRecord) -> dict[str, Any]:
    return {
        "job_id": record.job_id,
        "manifest": {"sha256": record.manifest_sha256},
        "created_at": record.created_at,
        "receipt_index": record.receipt_index,
        "result": record.result.decode("utf-8"),
        "receipt_bundle": json.loads(record.bundle),
    }


def _refuse(status: int, code: ErrorCode, reason: str, *, close: bool = False) -> _BadRequestError:
    return _BadRequestError(_error(status, code, reason, close=close), code)


class _BadRequestError(Exception):
    """A request refused before admission; carries the error response."""

    def __init__(self, response: Response, code: ErrorCode) -> None:
        super().__init__(code)
        self.response = response
        self.code = code


# -- the observing middleware --------------------------------------------------------------


class _Observe:
    """Request id, in-flight gauge, latency histogram, one JSON access log line per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        info: dict[str, Any] = {"request_id": request_id}
        scope[_SCOPE_KEY] = info
        status = 500
        start = time.perf_counter()
        self.metrics.request_started()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            path = str(scope.get("path", ""))
            route = _route(path)
            self.metrics.request_finished(route, status, elapsed)
            extra: dict[str, Any] = {
                "request_id": request_id,
                "method": scope.get("method", ""),
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
            }
            for key in ("verdict", "manifest", "failed_checks", "job", "error"):
                if key in info:
                    extra[key] = info[key]
            if route == "other":
                extra["path"] = path[:256]
            level = logging.WARNING if status >= 500 else logging.INFO
            access_logger.log(level, "request", extra=extra)


def _route(path: str) -> str:
    """The metrics label of a path: the route template, never the raw path."""
    if path in _ROUTES:
        return path
    if path.startswith(LOG_TILE_PREFIX):
        return "/log/tile"
    if path.startswith(JOBS_PATH + "/") and "/" not in path[len(JOBS_PATH) + 1 :]:
        return JOB_PATH
    return "other"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID_RE.fullmatch(text):
                return str(text)
            break
    return uuid.uuid4().hex


def _info(request: Request) -> MutableMapping[str, Any]:
    info = request.scope.get(_SCOPE_KEY)
    if isinstance(info, dict):
        return info
    return {}


# -- the application ------------------------------------------------------------------------


class _LogAwayError(Exception):
    """The log store does not answer (carries the reason)."""


class _LogReader:
    """One :class:`~qprov.tlog.Log` per read-pool thread, reopened after a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def call(self, fn: Callable[[Log], T]) -> T:
        log: Log | None = getattr(self._local, "log", None)
        try:
            if log is None:
                log = self._local.log = Log.open(self.url)
            return fn(log)
        except EnvironmentProblemError:
            self.release()  # a dropped PostgreSQL connection does not come back by itself
            raise

    def release(self) -> None:
        log: Log | None = getattr(self._local, "log", None)
        self._local.log = None
        if log is not None:
            with contextlib.suppress(Exception):
                log.close()


def _load_log_signers(path: Path) -> list[NoteSigner]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentProblemError(f"cannot read the log key file {path}: {exc}") from None
    signers = [
        parse_skey(line.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not signers:
        raise ConfigError(f"the log key file {path} holds no key")
    return signers


class _Gateway:
    """Everything one gateway process holds: the admitter, its store, log, limits, metrics."""

    def __init__(self, config: GatewayConfig, clock: Clock, metrics_dir: Path | None) -> None:
        self.config = config
        self.clock = clock
        self.metrics_dir = metrics_dir
        trust = load_trust(config.trust)
        policy = load_admission_policy(config.policy)
        signer = load_signer(config.signing_key) if config.signing_key else None
        self.store = LazyStore(config.store, namespace=config.store_namespace)
        # Built now so that a bad trust file, policy or key stops the start, not a request.
        self.admitter = Admitter(trust=trust, policy=policy, store=self.store, signer=signer)
        self.metrics = Metrics(checks=CHECKS, version=__version__, directory=metrics_dir)
        self.admission_limiter: anyio.CapacityLimiter | None = None
        self.health_limiter: anyio.CapacityLimiter | None = None
        # With a log, every decision goes through the job flow (admit, sign, log).
        self.jobs: JobGateway | None = None
        self.records: JobRecords | None = None
        self.reader: _LogReader | None = None
        self.pools: list[WorkerPool] = []
        self.decide_pool: WorkerPool | None = None
        self.job_pool: WorkerPool | None = None
        self.read_pool: WorkerPool | None = None
        if config.log is not None:
            from qprov.backends import AerBackend
            from qprov.backends.aer import DEFAULT_NAMES

            assert signer is not None  # noqa: S101 - the configuration requires it
            names = config.jobs.backend_names if config.jobs is not None else DEFAULT_NAMES
            self.jobs = JobGateway(
                trust=trust,
                policy=policy,
                store=self.store,
                log=config.log.url,
                signer=signer,
                log_signers=_load_log_signers(config.log.keys),
                backend=AerBackend(names=names),
                clock=clock,
            )
            self.admitter = self.jobs.admitter  # one admitter for both routes
            self.records = JobRecords(config.log.url)
            self.reader = _LogReader(config.log.url)
            release = self.jobs.release_thread_log
            self.decide_pool = WorkerPool("admission", config.admission_threads, on_exit=[release])
            self.read_pool = WorkerPool(
                "log-read", _LOG_READ_THREADS, on_exit=[self.reader.release]
            )
            self.pools += [self.decide_pool, self.read_pool]
            if config.jobs is not None:
                self.job_pool = WorkerPool("jobs", config.jobs.threads, on_exit=[release])
                self.pools.append(self.job_pool)

    # -- admissions ----------------------------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        content_type = request.headers.get("content-type")
        if content_type is None or not _JSON_TYPE_RE.fullmatch(content_type):
            raise _refuse(
                415,
                "unsupported_media_type",
                f"Content-Type must be application/json (UTF-8), not {content_type!r}",
                close=True,
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _refuse(
                413,
                "body_too_large",
                f"the body is {declared} bytes, over the limit of {limit}",
                close=True,
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _refuse(
                    413,
                    "body_too_large",
                    f"the body is over the limit of {limit} bytes",
                    close=True,
                )
        return bytes(body)

    def parse(self, body: bytes) -> tuple[bytes, bytes]:
        """The bundle's JSON bytes and the circuit bytes of an admission request."""
        try:
            doc = loads_strict(body, what="request body", max_bytes=self.config.max_body_bytes)
        except MalformedInputError as exc:
            raise _refuse(400, "malformed_json", str(exc)) from None
        if not isinstance(doc, dict):
            raise _refuse(
                422, "invalid_request", "the request body must be a JSON object {bundle, circuit}"
            )
        unknown = set(doc) - _REQUEST_FIELDS
        if unknown:
            raise _refuse(422, "invalid_request", f"unknown field(s): {', '.join(sorted(unknown))}")
        missing = _REQUEST_FIELDS - set(doc)
        if missing:
            raise _refuse(422, "invalid_request", f"missing field(s): {', '.join(sorted(missing))}")
        bundle, circuit = doc["bundle"], doc["circuit"]
        if not isinstance(bundle, dict):
            raise _refuse(422, "invalid_request", "bundle must be a JSON object (the bundle)")
        if not isinstance(circuit, str) or not circuit:
            raise _refuse(422, "invalid_request", "circuit must be a non-empty base64 string")
        try:
            data = binascii.a2b_base64(circuit.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise _refuse(
                422, "invalid_request", "circuit is not valid base64 (RFC 4648, with padding)"
            ) from None
        bundle_bytes = json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()
        return bundle_bytes, data

    def _logged(self, fn: Callable[[], JobOutcome]) -> JobOutcome:
        """Run a logged decision on this pool thread: the log is checked first, so a log
        that is away is reported before a nonce is consumed."""
        jobs = self.jobs
        assert jobs is not None  # noqa: S101 - only called with a log
        try:
            jobs.check_log()
        except EnvironmentProblemError as exc:
            jobs.release_thread_log()
            raise _LogAwayError(str(exc)) from None
        try:
            return fn()
        except EnvironmentProblemError as exc:
            jobs.release_thread_log()
            try:
                jobs.check_log()
            except EnvironmentProblemError:
                jobs.release_thread_log()
                raise _LogAwayError(str(exc)) from None
            raise

    async def _decide(
        self, request: Request, *, run: bool
    ) -> tuple[AdmissionDecision, JobOutcome | None] | Response:
        """Read, parse and decide one request (and run it when ``run``): the one path of
        ``POST /v1/admissions`` and ``POST /v1/jobs``. Returns an error response or the
        decision (with the logged outcome when the gateway has a log)."""
        info = _info(request)
        try:
            bundle, circuit = self.parse(await self.read_body(request))
        except _BadRequestError as exc:
            info["error"] = exc.code
            return exc.response
        outcome: JobOutcome | None = None
        try:
            if self.jobs is None:
                decision = await anyio.to_thread.run_sync(
                    functools.partial(self.admitter.admit, bundle, circuit, now=self.clock()),
                    limiter=self.admission_limiter,
                )
            else:
                jobs = self.jobs
                pool = self.job_pool if run else self.decide_pool
                assert pool is not None  # noqa: S101 - run only with [jobs]
                step = jobs.submit if run else jobs.decide
                outcome = await pool.run(
                    functools.partial(self._logged, functools.partial(step, bundle, circuit))
                )
                decision = outcome.decision
        except _LogAwayError as exc:
            return self._unavailable(
                info, "log_unavailable", f"the transparency log is unavailable, retry later: {exc}"
            )
        except PolicyError as exc:
            if not run:
                raise
            # raised before admission: this gateway's backend cannot run the job
            info["error"] = "backend_unsupported"
            return _error(422, "backend_unsupported", str(exc))
        except ServiceUnavailableError as exc:
            return self._unavailable(
                info, "store_unavailable", f"the admission store is unavailable, retry later: {exc}"
            )
        except EnvironmentProblemError as exc:
            return self._unavailable(info, "service_error", f"the gateway cannot decide now: {exc}")
        except MalformedInputError as exc:
            info["error"] = "malformed_bundle"
            return _error(422, "malformed_bundle", str(exc))
        except Error as exc:
            if not run:
                raise
            # the job was admitted (and its decision logged) but the backend failed
            info["error"] = "job_failed"
            return _error(502, "job_failed", str(exc))
        failed = [c.name for c in decision.failures]
        self.metrics.decision(decision.verdict, failed)
        info["verdict"] = decision.verdict
        info["manifest"] = f"sha256:{decision.manifest_sha256}"
        if failed:
            info["failed_checks"] = failed
        return decision, outcome

    async def admissions(self, request: Request) -> Response:
        got = await self._decide(request, run=False)
        if isinstance(got, Response):
            return got
        decision, outcome = got
        doc = _decision_doc(decision)
        if outcome is not None:
            doc["log"] = _log_doc(outcome)
        return _json(200, doc, {"X-Qprov-Verdict": decision.verdict})

    async def submit_job(self, request: Request) -> Response:
        if self.job_pool is None:
            _info(request)["error"] = "not_found"
            return _error(404, "not_found", "this gateway runs no jobs (no [jobs] in its config)")
        got = await self._decide(request, run=True)
        if isinstance(got, Response):
            return got
        decision, outcome = got
        assert outcome is not None  # noqa: S101 - jobs always go through the log
        doc = _decision_doc(decision)
        doc["log"] = _log_doc(outcome)
        doc["job"] = None
        receipt_bundle = outcome.receipt_bundle
        if receipt_bundle is not None and outcome.result is not None:
            parsed = receipt_bundle.parsed.receipt
            record = JobRecord(
                job_id=parsed.job_id,
                manifest_sha256=decision.manifest_sha256,
                created_at=format_time(self.clock()),
                bundle=receipt_bundle.to_json(),
                result=outcome.result,
                receipt_index=int(outcome.receipt_index or 0),
            )
            doc["job"] = _job_doc(record)
            _info(request)["job"] = record.job_id
            records = self.records
            assert records is not None  # noqa: S101
            try:
                await self.read_pool_run(functools.partial(records.put, record))
            except EnvironmentProblemError as exc:
                # the client holds everything; only GET /v1/jobs/{id} will miss it
                logger.warning("job %s: storing its record failed: %s", record.job_id, exc)
        return _json(200, doc, {"X-Qprov-Verdict": decision.verdict})

    async def read_pool_run(self, fn: Callable[[], T]) -> T:
        pool = self.read_pool
        assert pool is not None  # noqa: S101 - only with a log
        return await pool.run(fn)

    async def get_job(self, request: Request, job_id: str) -> Response:
        info = _info(request)
        if self.records is None or self.job_pool is None:
            info["error"] = "not_found"
            return _error(404, "not_found", "this gateway runs no jobs (no [jobs] in its config)")
        if not _JOB_ID_RE.fullmatch(job_id):
            info["error"] = "not_found"
            return _error(404, "not_found", "no such job")
        try:
            record = await self.read_pool_run(functools.partial(self.records.get, job_id))
        except EnvironmentProblemError as exc:
            return self._unavailable(
                info, "log_unavailable", f"the job records are unavailable, retry later: {exc}"
            )
        if record is None:
            info["error"] = "not_found"
            return _error(404, "not_found", f"no job {job_id!r} here")
        return _json(200, _job_doc(record))

    # -- the log over HTTP (c2sp.org/tlog-tiles) ------------------------------------------------

    def _unavailable(
        self, info: MutableMapping[str, Any], code: ErrorCode, reason: str
    ) -> Response:
        """A 503 the client should retry after ``retry_after`` seconds; logged as ``code``."""
        info["error"] = code
        return _error(503, code, reason, retry_after=self.config.retry_after)

    async def _read_log(self, request: Request, fn: Callable[[Log], T]) -> T | Response:
        info = _info(request)
        reader = self.reader
        if reader is None:
            info["error"] = "not_found"
            return _error(404, "not_found", "this gateway keeps no log (no [log] in its config)")
        try:
            return await self.read_pool_run(functools.partial(reader.call, fn))
        except (MalformedInputError, ProofError) as exc:
            info["error"] = "not_found"
            return _error(404, "not_found", str(exc))
        except EnvironmentProblemError as exc:
            return self._unavailable(
                info, "log_unavailable", f"the transparency log is unavailable, retry later: {exc}"
            )

    async def log_checkpoint(self, request: Request) -> Response:
        got = await self._read_log(request, lambda log: log.latest_checkpoint())
        if isinstance(got, Response):
            return got
        return Response(
            got,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": CACHE_CHECKPOINT},
        )

    async def log_tile(self, request: Request, path: str) -> Response:
        try:
            ref = parse_tile_path("tile/" + path)
        except MalformedInputError as exc:
            _info(request)["error"] = "not_found"
            return _error(404, "not_found", str(exc))
        got = await self._read_log(request, lambda log: log.read_tile(ref.path()))
        if isinstance(got, Response):
            return got
        cache = CACHE_FULL_TILE if ref.width == 0 else CACHE_PARTIAL_TILE
        return Response(
            got, media_type="application/octet-stream", headers={"Cache-Control": cache}
        )

    async def log_proof(self, request: Request) -> Response:
        text = request.query_params.get("index", "")
        if not text.isdigit() or len(text) > 19 or set(request.query_params) - {"index"}:
            _info(request)["error"] = "invalid_request"
            return _error(
                422, "invalid_request", "give the entry as ?index=N (a non-negative integer)"
            )
        index = int(text)

        def prove(log: Log) -> tuple[bytes, bytes]:
            bundle = log.prove_inclusion(index)
            return bundle.to_bytes(), bundle.checkpoint

        got = await self._read_log(request, prove)
        if isinstance(got, Response):
            return got
        proof, checkpoint = got
        size = parse_checkpoint(parse_note(checkpoint).text).size
        doc = {
            "index": index,
            "tree_size": size,
            "proof": proof.decode("utf-8"),
            "checkpoint": checkpoint.decode("utf-8"),
        }
        return _json(200, doc, {"Cache-Control": "no-store"})

    # -- health and metrics ------------------------------------------------------------------

    async def health(self) -> Response:
        store: dict[str, Any] = {"backend": self.store.backend, "reachable": True}
        doc: dict[str, Any] = {"status": "ok", "version": __version__, "store": store}
        try:
            await anyio.to_thread.run_sync(
                functools.partial(self.store.ping, self.clock()), limiter=self.health_limiter
            )
        except EnvironmentProblemError as exc:
            store.update(reachable=False, reason=str(exc))
            doc["status"] = "unavailable"
        if self.reader is not None and self.config.log is not None:
            log: dict[str, Any] = {"backend": store_backend(self.config.log.url), "reachable": True}
            doc["log"] = log
            try:
                await self.read_pool_run(functools.partial(self.reader.call, Log.tree))
            except EnvironmentProblemError as exc:
                log.update(reachable=False, reason=str(exc))
                doc["status"] = "unavailable"
        if doc["status"] != "ok":
            return _json(503, doc, {"Retry-After": str(self.config.retry_after)})
        return _json(200, doc)

    def metrics_text(self) -> Response:
        return Response(self.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    # -- background work ------------------------------------------------------------------------

    async def flush_metrics(self) -> None:
        while True:
            await asyncio.sleep(_METRICS_FLUSH_SECONDS)
            self.metrics.flush()

    async def purge(self) -> None:
        while True:
            await asyncio.sleep(_PURGE_SECONDS)
            try:
                removed = await anyio.to_thread.run_sync(
                    self.store.purge_expired, self.clock(), limiter=self.health_limiter
                )
            except EnvironmentProblemError as exc:
                logger.warning("purging expired nonces failed: %s", exc)
            else:
                logger.info("purged %d expired nonces", removed)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        self.admission_limiter = anyio.CapacityLimiter(self.config.admission_threads)
        self.health_limiter = anyio.CapacityLimiter(2)
        await anyio.to_thread.run_sync(_warm_up)
        if self.jobs is not None and self.job_pool is not None:
            await self.job_pool.run(functools.partial(_warm_up_backend, self.jobs))
        try:
            await anyio.to_thread.run_sync(self.store.ping, self.clock())
        except EnvironmentProblemError as exc:
            logger.warning("store unavailable at start (will retry per request): %s", exc)
        if self.reader is not None:
            try:
                await self.read_pool_run(functools.partial(self.reader.call, Log.tree))
            except EnvironmentProblemError as exc:
                logger.warning("log unavailable at start (will retry per request): %s", exc)
        tasks = [asyncio.create_task(self.purge())]
        if self.metrics_dir is not None:
            tasks.append(asyncio.create_task(self.flush_metrics()))
        logger.info(
            "gateway ready",
            extra={
                "store": self.store.backend,
                "signing": self.admitter.signer is not None,
                "log": self.config.log is not None,
                "jobs": self.job_pool is not None,
            },
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.metrics.flush()
            # each pool thread closes its own log connection as it stops
            for pool in self.pools:
                await anyio.to_thread.run_sync(pool.stop)
            if self.records is not None:
                self.records.close()
            if self.jobs is not None:
                self.jobs.close()
            self.store.close()


def _warm_up() -> None:
    """Load the circuit toolchain (qiskit) now rather than in the first request."""
    with contextlib.suppress(Error):
        analyze_circuit(_WARM_UP_CIRCUIT)


def _warm_up_backend(jobs: JobGateway) -> None:
    """Run one tiny job on the backend (nothing signed or logged), so that the first real
    job does not pay for loading Aer and building the transpiler's passes."""
    import hashlib

    from qprov._predicate import Sha256
    from qprov.backends import Job

    circuit = _WARM_UP_CIRCUIT + b"creg c[1];\nmeasure q[0] -> c[0];\n"
    digest = Sha256(hashlib.sha256(circuit).hexdigest())
    job = Job("warm-up", digest, circuit, digest, "openqasm2", 1, {})
    try:
        jobs.backend.run(job)
    except Error as exc:
        logger.warning("backend warm-up failed: %s", exc)


def create_app(
    config: GatewayConfig, *, clock: Clock | None = None, metrics_dir: Path | None = None
) -> FastAPI:
    """Build the gateway's ASGI application for ``config``.

    Loads the trust file, the admission policy and the signing key now (a
    :class:`~qprov.errors.ConfigError` or other qprov error stops the start);
    the store is opened at startup or, while it is unreachable, on later
    requests. ``clock`` gives the reference time of each admission (default:
    the system clock, UTC). ``metrics_dir`` is a directory shared by the
    workers of one server, so that ``/metrics`` sums them all.
    """
    gw = _Gateway(config, clock or _utcnow, metrics_dir)
    app = FastAPI(
        title="qprov gateway",
        version=__version__,
        summary="Admission of signed quantum job manifests, jobs with signed receipts, "
        "and a transparency log.",
        description=(
            "Admits or refuses signed job manifests before a job runs; with `[jobs]`, runs "
            "admitted jobs on the built-in Aer backend and returns signed result receipts; "
            "with `[log]`, appends every decision and receipt to a transparency log served "
            "in the c2sp.org/tlog-tiles layout under `/log/`. See "
            "docs/adr/0013-gateway-http.md for the request form and status codes. "
            "Every non-2xx answer carries an `Error` body `{error, reason}` and an "
            "`X-Request-ID` header."
        ),
        lifespan=gw.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH,
    )
    app.state.gateway = gw
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": text}
        for code, text in (
            (400, "Malformed JSON (syntax, duplicate keys, invalid UTF-8)."),
            (413, "Body over the configured limit (refused before reading it all)."),
            (415, "Content-Type is not application/json."),
            (422, "Unknown or missing fields, bad base64, or a malformed manifest bundle."),
            (
                503,
                "The store is unavailable (error store_unavailable), the log is "
                "(log_unavailable), or the environment failed (service_error); see "
                "Retry-After.",
            ),
            (500, "A bug: never returned for a known failure."),
        )
    }
    request_body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AdmissionRequest"}}
        },
    }

    @app.post(
        ADMISSIONS_PATH,
        summary="Admit or refuse a job manifest for a circuit",
        response_model=AdmissionResponse,
        responses={
            200: {
                "description": "A decision (admitted or refused: read `verdict`; "
                "`failures` lists each failed check with its reason).",
                "headers": {
                    "X-Qprov-Verdict": {
                        "schema": {"type": "string", "enum": ["admitted", "refused"]}
                    }
                },
            },
            **errors,
        },
        openapi_extra={"requestBody": request_body},
    )
    async def post_admission(request: Request) -> Response:
        return await gw.admissions(request)

    not_found = {"model": ErrorResponse, "description": "Not found, or not configured here."}
    log_away = {
        "model": ErrorResponse,
        "description": "The log (or the job records beside it) is unavailable; see Retry-After.",
    }

    @app.post(
        JOBS_PATH,
        summary="Admit a job manifest and, when admitted, run the job and sign a receipt",
        response_model=JobResponse,
        responses={
            200: {
                "description": "A decision, logged; when admitted, `job` holds the receipt "
                "bundle and the exact result bytes (read `verdict`).",
                "headers": {
                    "X-Qprov-Verdict": {
                        "schema": {"type": "string", "enum": ["admitted", "refused"]}
                    }
                },
            },
            **{k: v for k, v in errors.items() if k != 422},
            404: {"model": ErrorResponse, "description": "This gateway runs no jobs."},
            422: {
                "model": ErrorResponse,
                "description": "Unknown or missing fields, bad base64, a malformed manifest "
                "bundle, or a backend this gateway does not run (backend_unsupported; "
                "nothing consumed).",
            },
            502: {
                "model": ErrorResponse,
                "description": "The job was admitted (the decision is logged) but the "
                "backend failed (job_failed).",
            },
        },
        openapi_extra={"requestBody": request_body},
    )
    async def post_job(request: Request) -> Response:
        return await gw.submit_job(request)

    @app.get(
        JOB_PATH,
        summary="A completed job's receipt bundle and result",
        response_model=JobModel,
        responses={404: not_found, 503: log_away, 500: errors[500]},
    )
    async def get_job(request: Request, job_id: str) -> Response:
        return await gw.get_job(request, job_id)

    @app.get(
        LOG_PROOF_PATH,
        summary="An inclusion proof of log entry `index` against the latest checkpoint",
        response_model=ProofResponse,
        responses={
            404: not_found,
            422: {"model": ErrorResponse, "description": "`index` is not a non-negative integer."},
            503: log_away,
            500: errors[500],
        },
        openapi_extra={
            "parameters": [
                {
                    "name": "index",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            ]
        },
    )
    async def get_log_proof(request: Request) -> Response:
        return await gw.log_proof(request)

    tlog_text = {"text/plain": {"schema": {"type": "string"}}}
    tlog_bytes = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}

    @app.get(
        LOG_CHECKPOINT_PATH,
        summary="The log's latest signed checkpoint (c2sp.org/tlog-checkpoint)",
        response_class=Response,
        responses={
            200: {"description": "A signed note; short-lived caching.", "content": tlog_text},
            404: not_found,
            503: log_away,
            500: errors[500],
        },
    )
    async def get_log_checkpoint(request: Request) -> Response:
        return await gw.log_checkpoint(request)

    @app.get(
        LOG_TILE_PREFIX + "{path:path}",
        summary="A c2sp.org/tlog-tiles tile: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`",
        response_class=Response,
        responses={
            200: {
                "description": "Hashes (level tiles) or length-prefixed entries (entry "
                "bundles). Full tiles are immutable; partial tiles are cached briefly.",
                "content": tlog_bytes,
            },
            404: not_found,
            503: log_away,
            500: errors[500],
        },
    )
    async def get_log_tile(request: Request, path: str) -> Response:
        return await gw.log_tile(request, path)

    @app.get(
        HEALTH_PATH,
        summary="Liveness and store reachability",
        response_model=HealthResponse,
        responses={
            503: {"model": HealthResponse, "description": "The store does not answer."},
            500: errors[500],
        },
    )
    async def get_health() -> Response:
        return await gw.health()

    @app.get(
        METRICS_PATH,
        summary="Prometheus text exposition (format 0.0.4)",
        response_class=Response,
        responses={
            200: {
                "description": "Counters, gauge and histogram of this gateway's workers.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            500: errors[500],
        },
    )
    async def get_metrics() -> Response:
        return gw.metrics_text()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it
        code: ErrorCode = {404: "not_found", 405: "method_not_allowed"}.get(  # type: ignore[assignment]
            exc.status_code, "invalid_request"
        )
        _info(request)["error"] = code
        return _error(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))

    async def internal_error(request: Request, exc: Exception) -> Response:
        _info(request)["error"] = "internal_error"
        logger.exception("internal error", exc_info=exc)
        return _error(500, "internal_error", "internal error (logged with the request id)")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
    app.add_middleware(_Observe, metrics=gw.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            extra = AdmissionRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(extra.pop("$defs", {}))
            schemas["AdmissionRequest"] = extra
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
