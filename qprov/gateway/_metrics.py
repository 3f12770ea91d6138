"""Prometheus text exposition (format 0.0.4), written by hand.

A few counters, one gauge and one histogram do not justify a dependency. With
several uvicorn workers each process keeps its own counts and, when given a
directory shared by the workers, writes a snapshot there (at most twice a
second, and on every scrape); a scrape answered by any worker sums every
worker's snapshot, so counters never depend on which worker answered. The
in-flight gauge counts only live processes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the request latency histogram.
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PREFIX: Final = "qprov_gateway_"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(LATENCY_BUCKETS)  # non-cumulative counts per bucket
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
                break
        self.count += 1
        self.sum += seconds

    def to_dict(self) -> dict[str, Any]:
        return {"buckets": list(self.buckets), "count": self.count, "sum": self.sum}

    def merge(self, doc: Mapping[str, Any]) -> None:
        buckets = doc.get("buckets")
        if not isinstance(buckets, list) or len(buckets) != len(self.buckets):
            return
        for i, n in enumerate(buckets):
            self.buckets[i] += int(n)
        self.count += int(doc.get("count", 0))
        self.sum += float(doc.get("sum", 0.0))


class Metrics:
    """Counters of one gateway process; :meth:`render` gives the exposition text."""

    def __init__(
        self,
        *,
        checks: Iterable[str],
        version: str,
        directory: Path | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._checks = tuple(checks)
        self._version = version
        self._dir = directory
        self._pid = os.getpid()
        self._dirty = True
        self._decisions: dict[str, int] = {"admitted": 0, "refused": 0}
        self._refusals: dict[str, int] = dict.fromkeys(self._checks, 0)
        self._requests: dict[tuple[str, str], int] = {}
        self._latency: dict[str, _Histogram] = {}
        self._in_flight = 0

    # -- recording --------------------------------------------------------------------

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._dirty = True

    def request_finished(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._in_flight -= 1
            key = (route, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            hist = self._latency.get(route)
            if hist is None:
                hist = self._latency[route] = _Histogram()
            hist.observe(max(0.0, seconds))
            self._dirty = True

    def decision(self, verdict: str, failed_checks: Iterable[str]) -> None:
        with self._lock:
            self._decisions[verdict] = self._decisions.get(verdict, 0) + 1
            for name in failed_checks:
                self._refusals[name] = self._refusals.get(name, 0) + 1
            self._dirty = True

    # -- snapshots shared between workers -----------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pid": self._pid,
                "decisions": dict(self._decisions),
                "refusals": dict(self._refusals),
                "requests": [[r, s, n] for (r, s), n in self._requests.items()],
                "latency": {r: h.to_dict() for r, h in self._latency.items()},
                "in_flight": self._in_flight,
            }

    def flush(self) -> None:
        """Write this process's snapshot to the shared directory if it changed."""
        if self._dir is None:
            return
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
        data = json.dumps(self.snapshot()).encode()
        target = self._dir / f"metrics-{self._pid}.json"
        tmp = self._dir / f".metrics-{self._pid}.tmp"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError:
            with self._lock:
                self._dirty = True

    def _others(self) -> list[dict[str, Any]]:
        if self._dir is None:
            return []
        out = []
        for path in sorted(self._dir.glob("metrics-*.json")):
            if path.name == f"metrics-{self._pid}.json":
                continue
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads(path.read_bytes())
                if isinstance(doc, dict):
                    out.append(doc)
        return out

    # -- exposition ---------------------------------------------------------------------

    def render(self) -> str:
        """The Prometheus text exposition of every worker's counts."""
        self.flush()
        decisions: dict[str, int] = {}
        refusals: dict[str, int] = {}
        requests: dict[tuple[str, str], int] = {}
        latency: dict[str, _Histogram] = {}
        in_flight = 0
        for doc in [self.snapshot(), *self._others()]:
            for verdict, n in dict(doc.get("decisions", {})).items():
                decisions[str(verdict)] = decisions.get(str(verdict), 0) + int(n)
            for check, n in dict(doc.get("refusals", {})).items():
                refusals[str(check)] = refusals.get(str(check), 0) + int(n)
            for route, status, n in doc.get("requests", []):
                key = (str(route), str(status))
                requests[key] = requests.get(key, 0) + int(n)
            for route, h in dict(doc.get("latency", {})).items():
                latency.setdefault(str(route), _Histogram()).merge(h)
            if doc.get("pid") == self._pid or _alive(doc.get("pid")):
                in_flight += int(doc.get("in_flight", 0))
        lines: list[str] = []

        def family(name: str, kind: str, text: str) -> None:
            lines.append(f"# HELP {_PREFIX}{name} {text}")
            lines.append(f"# TYPE {_PREFIX}{name} {kind}")

        family("build_info", "gauge", "The qprov version serving; always 1.")
        lines.append(f"{_PREFIX}build_info{_labels([('version', self._version)])} 1")
        family("decisions_total", "counter", "Admission decisions by verdict.")
        lines.extend(
            f"{_PREFIX}decisions_total{_labels([('verdict', v)])} {decisions[v]}"
            for v in sorted(decisions)
        )
        family(
            "refusals_total",
            "counter",
            "Refused admissions by failed check (a refusal counts once per failed check).",
        )
        lines.extend(
            f"{_PREFIX}refusals_total{_labels([('check', c)])} {refusals[c]}"
            for c in sorted(refusals)
        )
        family("requests_total", "counter", "HTTP requests by route and status code.")
        for (route, status), n in sorted(requests.items()):
            lines.append(
                f"{_PREFIX}requests_total{_labels([('route', route), ('status', status)])} {n}"
            )
        family("requests_in_flight", "gauge", "HTTP requests being served now.")
        lines.append(f"{_PREFIX}requests_in_flight {in_flight}")
        family("request_duration_seconds", "histogram", "HTTP request latency by route.")
        for route, hist in sorted(latency.items()):
            cumulative = 0
            for bound, n in zip(LATENCY_BUCKETS, hist.buckets, strict=True):
                cumulative += n
                labels = _labels([("route", route), ("le", _number(bound))])
                lines.append(f"{_PREFIX}request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels([("route", route), ("le", "+Inf")])
            lines.append(f"{_PREFIX}request_duration_seconds_bucket{labels} {hist.count}")
            route_label = _labels([("route", route)])
            lines.append(f"{_PREFIX}request_duration_seconds_sum{route_label} {_number(hist.sum)}")
            lines.append(f"{_PREFIX}request_duration_seconds_count{route_label} {hist.count}")
        return "\n".join(lines) + "\n"


def _alive(pid: Any) -> bool:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
