"""Module-level application factory for ASGI servers that take an import string.

uvicorn needs an import string to run several workers:
``qprov.gateway._asgi:app_from_env`` (with ``factory=True``) reads the
configuration path from ``QPROV_GATEWAY_CONFIG`` and, when set, the metrics
directory shared by the workers from ``QPROV_GATEWAY_METRICS_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from qprov.errors import ConfigError
from qprov.gateway._config import load_gateway_config

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["CONFIG_ENV", "FACTORY", "METRICS_DIR_ENV", "app_from_env"]

CONFIG_ENV: Final = "QPROV_GATEWAY_CONFIG"
METRICS_DIR_ENV: Final = "QPROV_GATEWAY_METRICS_DIR"
FACTORY: Final = "qprov.gateway._asgi:app_from_env"


def app_from_env() -> FastAPI:
    """The gateway application for the configuration file named by ``QPROV_GATEWAY_CONFIG``."""
    import logging

    from qprov.gateway._app import create_app

    logging.captureWarnings(True)  # every line on stderr is JSON (see _logging.log_config)
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"set {CONFIG_ENV} to the gateway configuration file")
    metrics_dir = os.environ.get(METRICS_DIR_ENV)
    return create_app(
        load_gateway_config(path), metrics_dir=Path(metrics_dir) if metrics_dir else None
    )
