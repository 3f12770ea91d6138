"""The ASGI application: ``create_app(config)``.

Routes: ``POST /v1/admissions``, ``GET /v1/health``, ``GET /metrics``,
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
import time
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qprov import __version__
from qprov._canon import loads_strict
from qprov.admission import CHECKS, AdmissionDecision, Admitter
from qprov.circuits import analyze_circuit
from qprov.errors import (
    EnvironmentProblemError,
    Error,
    MalformedInputError,
    ServiceUnavailableError,
)
from qprov.gateway._config import GatewayConfig
from qprov.gateway._logging import ACCESS_LOGGER
from qprov.gateway._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from qprov.gateway._metrics import Metrics
from qprov.gateway._models import (
    AdmissionRequest,
    AdmissionResponse,
    ErrorCode,
    ErrorResponse,
    HealthResponse,
)
from qprov.gateway._store import LazyStore
from qprov.keys import load_signer
from qprov.policy import load_admission_policy
from qprov.trust import load_trust

__all__ = ["ADMISSIONS_PATH", "HEALTH_PATH", "METRICS_PATH", "create_app"]

logger = logging.getLogger("qprov.gateway")
access_logger = logging.getLogger(ACCESS_LOGGER)

ADMISSIONS_PATH: Final = "/v1/admissions"
HEALTH_PATH: Final = "/v1/health"
METRICS_PATH: Final = "/metrics"
OPENAPI_PATH: Final = "/openapi.json"
_ROUTES: Final = frozenset({ADMISSIONS_PATH, HEALTH_PATH, METRICS_PATH, OPENAPI_PATH})
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
            route = path if path in _ROUTES else "other"
            self.metrics.request_finished(route, status, elapsed)
            extra: dict[str, Any] = {
                "request_id": request_id,
                "method": scope.get("method", ""),
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
            }
            for key in ("verdict", "manifest", "failed_checks", "error"):
                if key in info:
                    extra[key] = info[key]
            if route == "other":
                extra["path"] = path[:256]
            level = logging.WARNING if status >= 500 else logging.INFO
            access_logger.log(level, "request", extra=extra)


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


class _Gateway:
    """Everything one gateway process holds: the admitter, its store, limits, metrics."""

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

    async def admissions(self, request: Request) -> Response:
        info = _info(request)
        try:
            bundle, circuit = self.parse(await self.read_body(request))
        except _BadRequestError as exc:
            info["error"] = exc.code
            return exc.response
        now = self.clock()
        try:
            decision = await anyio.to_thread.run_sync(
                functools.partial(self.admitter.admit, bundle, circuit, now=now),
                limiter=self.admission_limiter,
            )
        except ServiceUnavailableError as exc:
            info["error"] = "store_unavailable"
            return _error(
                503,
                "store_unavailable",
                f"the admission store is unavailable, retry later: {exc}",
                retry_after=self.config.retry_after,
            )
        except EnvironmentProblemError as exc:
            info["error"] = "service_error"
            return _error(
                503,
                "service_error",
                f"the gateway cannot decide now: {exc}",
                retry_after=self.config.retry_after,
            )
        except MalformedInputError as exc:
            info["error"] = "malformed_bundle"
            return _error(422, "malformed_bundle", str(exc))
        failed = [c.name for c in decision.failures]
        self.metrics.decision(decision.verdict, failed)
        info["verdict"] = decision.verdict
        info["manifest"] = f"sha256:{decision.manifest_sha256}"
        if failed:
            info["failed_checks"] = failed
        return _json(200, _decision_doc(decision), {"X-Qprov-Verdict": decision.verdict})

    # -- health and metrics ------------------------------------------------------------------

    async def health(self) -> Response:
        store: dict[str, Any] = {"backend": self.store.backend, "reachable": True}
        try:
            await anyio.to_thread.run_sync(
                functools.partial(self.store.ping, self.clock()), limiter=self.health_limiter
            )
        except EnvironmentProblemError as exc:
            store.update(reachable=False, reason=str(exc))
            doc = {"status": "unavailable", "version": __version__, "store": store}
            return _json(503, doc, {"Retry-After": str(self.config.retry_after)})
        return _json(200, {"status": "ok", "version": __version__, "store": store})

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
        try:
            await anyio.to_thread.run_sync(self.store.ping, self.clock())
        except EnvironmentProblemError as exc:
            logger.warning("store unavailable at start (will retry per request): %s", exc)
        tasks = [asyncio.create_task(self.purge())]
        if self.metrics_dir is not None:
            tasks.append(asyncio.create_task(self.flush_metrics()))
        logger.info(
            "gateway ready",
            extra={"store": self.store.backend, "signing": self.admitter.signer is not None},
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
            self.store.close()


def _warm_up() -> None:
    """Load the circuit toolchain (qiskit) now rather than in the first request."""
    with contextlib.suppress(Error):
        analyze_circuit(_WARM_UP_CIRCUIT)


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
        summary="Admission of signed quantum job manifests.",
        description=(
            "Admits or refuses signed job manifests before a job runs. See "
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
                "The store is unavailable (error store_unavailable) or the environment "
                "failed (service_error); see Retry-After.",
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
