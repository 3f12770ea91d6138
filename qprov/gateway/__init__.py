"""The HTTP gateway: admission of signed job manifests as a service.

Build the ASGI application from a configuration and serve it with any ASGI
server (``qprov gateway serve`` runs uvicorn)::

    from qprov.gateway import create_app, load_gateway_config

    app = create_app(load_gateway_config("gateway.toml"))

Routes: ``POST /v1/admissions``, ``GET /v1/health``, ``GET /metrics``,
``GET /openapi.json``; with ``[log]`` every decision is logged and the log is
served in the c2sp.org/tlog-tiles layout (``GET /log/checkpoint``,
``GET /log/tile/...``, ``GET /v1/log/proof?index=N``); with ``[jobs]``,
``POST /v1/jobs`` runs admitted jobs on Aer and returns signed receipts
(``GET /v1/jobs/{job_id}``). See docs/adr/0013-gateway-http.md and
attestations/gateway-config.md. FastAPI is imported only when
:func:`create_app` is first used, so reading a configuration stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qprov.gateway._config import CONFIG_VERSION, GatewayConfig, LogLevel, load_gateway_config

if TYPE_CHECKING:
    from qprov.gateway._app import create_app

__all__ = [
    "CONFIG_VERSION",
    "GatewayConfig",
    "LogLevel",
    "create_app",
    "load_gateway_config",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from qprov.gateway._app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
