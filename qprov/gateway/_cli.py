"""``qprov gateway serve``: run the HTTP gateway under uvicorn.

Imports FastAPI and uvicorn only when the command runs, so that
``qprov gateway admit`` (the same click group) stays light. Flags take
``QPROV_GATEWAY_SERVE_<OPTION>`` environment variables (click's auto prefix).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from qprov.gateway._config import load_gateway_config

__all__ = ["serve"]


@click.command("serve")
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="Gateway configuration (TOML, attestations/gateway-config.md).",
)
@click.option("--host", default=None, help="Listen address (overrides the file's host).")
@click.option(
    "--port", type=click.IntRange(1, 65_535), default=None, help="Listen port (overrides port)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (overrides workers).",
)
def serve(config_file: str, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve admissions (and, with [log]/[jobs], jobs and the log) over HTTP until
    SIGINT/SIGTERM (in-flight requests finish).

    The trust file, policy and signing key are checked before the port is bound;
    a store that is unreachable at start is retried per request (503 meanwhile).
    """
    import logging

    import uvicorn

    from qprov.gateway._app import create_app
    from qprov.gateway._asgi import CONFIG_ENV, FACTORY, METRICS_DIR_ENV
    from qprov.gateway._logging import log_config

    logging.captureWarnings(True)  # every line on stderr is JSON (see _logging.log_config)
    config = load_gateway_config(config_file).with_overrides(host=host, port=port, workers=workers)
    app = create_app(config)  # checks every input; the store opens at startup
    options = {
        "host": config.host,
        "port": config.port,
        "log_config": log_config(config.log_level),
        "log_level": config.log_level,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": config.graceful_timeout,
        "lifespan": "on",
    }
    if config.workers == 1:
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    del app  # each worker builds its own from the same file
    with tempfile.TemporaryDirectory(prefix="qprov-gateway-metrics-") as metrics_dir:
        os.environ[CONFIG_ENV] = str(Path(config_file).resolve())
        os.environ[METRICS_DIR_ENV] = metrics_dir
        uvicorn.run(FACTORY, factory=True, workers=config.workers, **options)  # type: ignore[arg-type]
