"""Scan an installed Python environment (this interpreter or another one)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from qprov.errors import EnvironmentProblemError, MalformedInputError
from qprov.sbom import _probe
from qprov.sbom._gc import paused_gc

if TYPE_CHECKING:
    from qprov.sbom._model import Inventory, Package, ProgressCallback

__all__ = ["probe_environment", "scan_directories", "scan_environment"]

_LOG = logging.getLogger(__name__)
_PROBE_TIMEOUT = 120


class _Probe:
    """The probe running in another interpreter: started now, read by :meth:`result`.

    Between the two, the caller can do its own work (the scanner imports its
    parsers, ~50 ms) while the other interpreter starts up.
    """

    def __init__(self, python: str) -> None:
        self.python = python
        source = resources.files("qprov.sbom").joinpath("_probe.py").read_text(encoding="utf-8")
        # An empty working directory: nothing there can shadow the standard library.
        self._cwd = tempfile.TemporaryDirectory(prefix="qprov-probe-")
        try:
            self._process = subprocess.Popen(
                [python, "-c", source],
                cwd=self._cwd.name,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self._cwd.cleanup()
            raise EnvironmentProblemError(f"cannot run {python}: {exc}") from exc

    def close(self) -> None:
        """Stop the probe if it still runs (the caller failed before reading it)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()
        self._cwd.cleanup()

    def result(self) -> dict[str, Any]:
        python = self.python
        try:
            stdout, stderr = self._process.communicate(timeout=_PROBE_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            self.close()
            raise EnvironmentProblemError(f"cannot run {python}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self._cwd.cleanup()
        returncode = self._process.returncode
        if returncode != 0:
            detail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise EnvironmentProblemError(f"{python} exited with {returncode}: {detail[0]}")
        try:
            result: Any = json.loads(stdout)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EnvironmentProblemError(f"{python}: probe printed no JSON") from exc
        if not isinstance(result, dict) or not isinstance(result.get("dists"), list):
            raise EnvironmentProblemError(f"{python}: probe output has the wrong shape")
        return result


def probe_environment(python: str | None) -> dict[str, Any]:
    """Run the probe in ``python`` (a subprocess) or in this interpreter (None)."""
    if python is None:
        return _probe.probe()
    return _Probe(python).result()


def scan_environment(
    python: str | None = None,
    *,
    include_extensions: bool = False,
    on_error: Literal["raise", "skip"] = "raise",
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Inventory the distributions installed for ``python`` (default: this interpreter).

    Another interpreter is inspected by running a standard-library-only probe
    in it; none of its packages is imported. The first distribution of a name
    on ``sys.path`` wins, as for ``importlib.metadata``. Broken distributions
    raise :class:`MalformedInputError` listing all of them, or are skipped with
    a warning (``on_error="skip"``).
    """
    if python is None:
        probed = _probe.probe()
    else:
        pending = _Probe(python)
        try:
            from qprov.sbom import _installed  # noqa: F401 - imported while the probe runs
        except BaseException:
            pending.close()
            raise
        probed = pending.result()
    paths = [Path(p) for p in probed["dists"] if isinstance(p, str)]
    markers = {str(k): str(v) for k, v in dict(probed.get("markers", {})).items()}
    return _scan(
        paths,
        markers,
        include_extensions=include_extensions,
        on_error=on_error,
        progress=progress,
        current_interpreter=python is None,
    )


def scan_directories(
    directories: list[Path],
    *,
    include_extensions: bool = False,
    on_error: Literal["raise", "skip"] = "raise",
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Inventory the distributions in site directories given explicitly (e.g. an
    unpacked image or a ``--target`` install); markers are this interpreter's."""
    paths: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            raise MalformedInputError(f"{directory}: not a directory")
        paths.extend(
            sorted(
                p
                for p in directory.iterdir()
                if p.name.endswith((".dist-info", ".egg-info")) and p.is_dir()
            )
        )
    markers = _probe.probe()["markers"]
    return _scan(
        paths,
        markers,
        include_extensions=include_extensions,
        on_error=on_error,
        progress=progress,
        current_interpreter=False,
    )


def _scan(
    paths: list[Path],
    markers: dict[str, str],
    *,
    include_extensions: bool,
    on_error: Literal["raise", "skip"],
    progress: ProgressCallback | None,
    current_interpreter: bool,
) -> Inventory:
    from qprov.sbom._installed import read_dist_info
    from qprov.sbom._model import Inventory

    packages: dict[str, Package] = {}
    errors: list[str] = []
    total = len(paths)
    with paused_gc():
        for done, dist_info in enumerate(paths, start=1):
            try:
                package = read_dist_info(
                    dist_info,
                    include_extensions=include_extensions,
                    current_interpreter=current_interpreter,
                )
            except MalformedInputError as exc:
                errors.append(str(exc))
                _LOG.warning("skipping %s: %s", dist_info, exc)
            else:
                key = package.metadata.canonical_name
                if key in packages:
                    _LOG.info("%s shadowed by %s", dist_info, packages[key].location)
                else:
                    packages[key] = package
            if progress is not None:
                progress(done, total, dist_info.name)
    if errors and on_error == "raise":
        raise MalformedInputError(
            f"{len(errors)} broken distribution(s): " + "; ".join(sorted(errors))
        )
    inventory = Inventory(
        kind="environment",
        packages=sorted(packages.values(), key=lambda p: p.metadata.canonical_name),
        marker_environment=markers,
    )
    inventory.properties["qprov:environment:python"] = markers.get("python_full_version", "")
    inventory.properties["qprov:environment:platform"] = (
        f"{markers.get('sys_platform', '')}-{markers.get('platform_machine', '')}"
    )
    if errors:
        inventory.properties["qprov:scan:skipped"] = str(len(errors))
    return inventory


def current_python() -> str:
    """The path of this interpreter."""
    return sys.executable
