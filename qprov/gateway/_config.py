"""The gateway's configuration file (TOML, ``attestations/gateway-config.md``).

Imports nothing heavier than :mod:`tomllib`: the CLI reads and checks the
configuration before it imports FastAPI or uvicorn.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from qprov.errors import ConfigError, EnvironmentProblemError
from qprov.store import DEFAULT_NAMESPACE

__all__ = [
    "CONFIG_VERSION",
    "GatewayConfig",
    "JobsConfig",
    "LogConfig",
    "LogLevel",
    "load_gateway_config",
]

CONFIG_VERSION: Final = 1
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
_LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
_MAX_CONFIG_FILE: Final = 256 * 1024
_KEYS: Final = frozenset(
    {
        "version",
        "host",
        "port",
        "workers",
        "trust",
        "policy",
        "store",
        "store_namespace",
        "signing_key",
        "max_body_bytes",
        "admission_threads",
        "retry_after",
        "graceful_timeout",
        "log_level",
        "log",
        "jobs",
    }
)
_LOG_KEYS: Final = frozenset({"url", "keys", "sqlite_cache_kib"})
#: Bounds of ``[log] sqlite_cache_kib``: those of ``?cache_kib=`` in a log URL
#: (qprov.tlog._store, not imported here: this module stays light).
SQLITE_CACHE_KIB_RANGE: Final = (64, 1 << 20)
_JOBS_KEYS: Final = frozenset({"backend", "backend_names", "threads"})
#: The built-in backends a gateway can run jobs on.
JobBackend = Literal["aer"]
_JOB_BACKENDS: Final = ("aer",)
DEFAULT_LOG_FILE: Final = "qprov-log.db"


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: the transparency log every decision and receipt is appended to.

    ``url`` is a log store URL (:func:`qprov.tlog.open_store`: ``sqlite:///`` or
    ``postgresql://``); ``keys`` is the note key file ``qprov log keygen
    --key-file`` writes (Ed25519 + ML-DSA-44 signing keys, one per line), used
    to sign a checkpoint after each decision. ``sqlite_cache_kib`` in the file
    is folded into a SQLite ``url`` as ``?cache_kib=``: the page cache of each
    of the gateway's log connections (one per admission, job and log-read
    thread).
    """

    url: str
    keys: Path

    def __post_init__(self) -> None:
        scheme = self.url.split(":", 1)[0].lower() if isinstance(self.url, str) else ""
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ConfigError(
                "gateway config: [log] url must be sqlite:///PATH or postgresql://..."
            )


@dataclass(frozen=True)
class JobsConfig:
    """``[jobs]``: run admitted jobs on a built-in backend and issue receipts.

    ``backend_names`` are the manifest backend names served (the first is the
    one receipts record); ``threads`` bounds the jobs running at once in one
    worker process.
    """

    backend: JobBackend = "aer"
    backend_names: tuple[str, ...] = ("aer_simulator",)
    threads: int = 2

    def __post_init__(self) -> None:
        if self.backend not in _JOB_BACKENDS:
            raise ConfigError(
                f"gateway config: [jobs] backend must be one of {', '.join(_JOB_BACKENDS)}"
            )
        names = self.backend_names
        if (
            not isinstance(names, tuple)
            or not names
            or len(names) > 16
            or not all(isinstance(n, str) and 0 < len(n) <= 128 for n in names)
        ):
            raise ConfigError("gateway config: [jobs] backend_names must be 1..16 non-empty names")
        _int_in("[jobs] threads", self.threads, 1, 64)


@dataclass(frozen=True)
class GatewayConfig:
    """A checked gateway configuration. Paths are absolute.

    ``store`` is a store URL (:func:`qprov.store.open_store`); a relative
    ``sqlite:///`` path in the file is resolved against the file's directory.
    ``signing_key`` is a signer URI (:func:`qprov.keys.load_signer`); encrypted
    keys take their passphrase from ``QPROV_KEY_PASSPHRASE``.
    """

    trust: Path
    policy: Path
    store: str = "sqlite:///qprov-store.db"
    store_namespace: str = DEFAULT_NAMESPACE
    signing_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    admission_threads: int = 8
    retry_after: int = 5
    graceful_timeout: int = 30
    log_level: LogLevel = "info"
    log: LogConfig | None = None
    jobs: JobsConfig | None = None

    def __post_init__(self) -> None:
        _int_in("port", self.port, 1, 65_535)
        _int_in("workers", self.workers, 1, 64)
        _int_in("max_body_bytes", self.max_body_bytes, 1024, 64 * 1024 * 1024)
        _int_in("admission_threads", self.admission_threads, 1, 256)
        _int_in("retry_after", self.retry_after, 1, 3600)
        _int_in("graceful_timeout", self.graceful_timeout, 1, 3600)
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(f"gateway config: log_level must be one of {', '.join(_LOG_LEVELS)}")
        if not isinstance(self.host, str) or not self.host or len(self.host) > 255:
            raise ConfigError("gateway config: host must be a non-empty string")
        if not isinstance(self.store, str) or ":" not in self.store:
            raise ConfigError("gateway config: store must be a store URL (sqlite:///PATH, ...)")
        if self.jobs is not None and self.log is None:
            raise ConfigError("gateway config: [jobs] needs a [log] table (receipts are logged)")
        if self.log is not None and self.signing_key is None:
            raise ConfigError(
                "gateway config: [log] needs signing_key (decisions and receipts are signed "
                "before they are logged)"
            )

    def with_overrides(
        self, *, host: str | None = None, port: int | None = None, workers: int | None = None
    ) -> GatewayConfig:
        """This configuration with command-line overrides applied (None keeps a value)."""
        return replace(
            self,
            host=self.host if host is None else host,
            port=self.port if port is None else port,
            workers=self.workers if workers is None else workers,
        )

    @classmethod
    def from_toml(cls, data: bytes, base_dir: Path) -> GatewayConfig:
        """Parse a configuration; relative paths are resolved against ``base_dir``."""
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"gateway config is not valid TOML: {exc}") from None
        return cls.from_dict(doc, base_dir)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], base_dir: Path) -> GatewayConfig:
        unknown = set(doc) - _KEYS
        if unknown:
            raise ConfigError(f"gateway config: unknown field(s) {', '.join(sorted(unknown))}")
        version = doc.get("version")
        if version != CONFIG_VERSION or isinstance(version, bool):
            raise ConfigError(f"gateway config: 'version = {CONFIG_VERSION}' is required")
        for required in ("trust", "policy"):
            if required not in doc:
                raise ConfigError(f"gateway config: {required!r} (a file path) is required")
        args: dict[str, Any] = {
            "trust": _path(doc["trust"], "trust", base_dir),
            "policy": _path(doc["policy"], "policy", base_dir),
        }
        if "store" in doc:
            args["store"] = _store_url(_string(doc["store"], "store"), base_dir)
        else:
            args["store"] = _store_url("sqlite:///qprov-store.db", base_dir)
        for name in ("host", "store_namespace", "log_level"):
            if name in doc:
                args[name] = _string(doc[name], name)
        if "signing_key" in doc:
            args["signing_key"] = _key_uri(_string(doc["signing_key"], "signing_key"), base_dir)
        for name in (
            "port",
            "workers",
            "max_body_bytes",
            "admission_threads",
            "retry_after",
            "graceful_timeout",
        ):
            if name in doc:
                args[name] = doc[name]
        if "log" in doc:
            args["log"] = _log_config(doc["log"], args["store"], base_dir)
        if "jobs" in doc:
            args["jobs"] = _jobs_config(doc["jobs"])
        return cls(**args)


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and check a gateway configuration file."""
    source = Path(path)
    try:
        with source.open("rb") as fh:
            data = fh.read(_MAX_CONFIG_FILE + 1)
    except OSError as exc:
        raise EnvironmentProblemError(
            f"cannot read gateway config {source}: {exc.strerror}"
        ) from None
    if len(data) > _MAX_CONFIG_FILE:
        raise ConfigError(f"gateway config {source} is over {_MAX_CONFIG_FILE} bytes")
    try:
        return GatewayConfig.from_toml(data, source.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


# -- field helpers ----------------------------------------------------------------------


def _table(value: Any, name: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"gateway config: [{name}] must be a table")
    unknown = set(value) - keys
    if unknown:
        raise ConfigError(f"gateway config: [{name}] unknown field(s) {', '.join(sorted(unknown))}")
    return value


def _log_config(value: Any, store_url: str, base_dir: Path) -> LogConfig:
    """``[log]``; the url defaults to ``qprov-log.db`` beside a SQLite store, else the file."""
    table = _table(value, "log", _LOG_KEYS)
    if "keys" not in table:
        raise ConfigError("gateway config: [log] keys (the log's note key file) is required")
    if "url" in table:
        url = _store_url(_string(table["url"], "[log] url"), base_dir)
    else:
        scheme, _, rest = store_url.partition(":")
        directory = base_dir
        if scheme.lower() == "sqlite" and rest.startswith("///"):
            directory = Path(rest[3:].partition("?")[0]).parent
        url = f"sqlite:///{directory / DEFAULT_LOG_FILE}"
    if "sqlite_cache_kib" in table:
        url = _with_sqlite_cache(url, table["sqlite_cache_kib"])
    return LogConfig(url=url, keys=_path(table["keys"], "[log] keys", base_dir))


def _with_sqlite_cache(url: str, kib: Any) -> str:
    """``url`` with ``cache_kib=kib`` in its query; only a SQLite log has a page cache here."""
    _int_in("[log] sqlite_cache_kib", kib, *SQLITE_CACHE_KIB_RANGE)
    if url.split(":", 1)[0].lower() != "sqlite":
        raise ConfigError(
            "gateway config: [log] sqlite_cache_kib applies to a sqlite:/// log only "
            "(a PostgreSQL log's cache is the server's shared_buffers)"
        )
    _, qmark, query = url.partition("?")
    if any(p.partition("=")[0] == "cache_kib" for p in query.split("&")):
        raise ConfigError(
            "gateway config: [log] sqlite_cache_kib and ?cache_kib= in the url: give one"
        )
    return f"{url}{'&' if qmark else '?'}cache_kib={kib}"


def _jobs_config(value: Any) -> JobsConfig:
    table = _table(value, "jobs", _JOBS_KEYS)
    args: dict[str, Any] = {}
    if "backend" in table:
        args["backend"] = _string(table["backend"], "[jobs] backend")
    if "backend_names" in table:
        names = table["backend_names"]
        if not isinstance(names, list):
            raise ConfigError("gateway config: [jobs] backend_names must be a list of names")
        args["backend_names"] = tuple(names)
    if "threads" in table:
        args["threads"] = table["threads"]
    return JobsConfig(**args)


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"gateway config: {name} must be an integer in {low}..{high}")


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"gateway config: {name} must be a non-empty string")
    return value


def _path(value: Any, name: str, base_dir: Path) -> Path:
    text = _string(value, name)
    path = Path(text)
    return path if path.is_absolute() else (base_dir / path).resolve()


def _store_url(url: str, base_dir: Path) -> str:
    """Resolve a relative ``sqlite:///PATH`` against ``base_dir``; other URLs unchanged."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() != "sqlite" or not rest.startswith("///"):
        return url
    path, qmark, query = rest[3:].partition("?")
    if not path or path == ":memory:":
        raise ConfigError("gateway config: an in-memory SQLite store cannot be shared by workers")
    if not path.startswith("/"):
        path = str((base_dir / path).resolve())
    return f"sqlite:///{path}{qmark}{query}"


def _key_uri(uri: str, base_dir: Path) -> str:
    """Resolve the path of a ``file:`` signer URI (or a bare path) against ``base_dir``."""
    scheme, sep, rest = uri.partition(":")
    if sep and scheme != "file" and "/" not in scheme:
        return uri  # env:VAR and other schemes are not paths
    path = Path(rest if sep and scheme == "file" else uri)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    return f"file:{path}"
