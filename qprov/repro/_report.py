"""Reproducibility report: JSON-serialisable object and a self-contained HTML page.

The HTML page has no external resources: styles and an inline SVG bar chart of
the measured frequencies beside the baseline probabilities (the most frequent
outcomes, the rest summed as "other"). Files are written atomically: a
temporary file in the target directory, flushed and fsynced, then
``os.replace``.
"""

from __future__ import annotations

import heapq
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qprov._io import atomic_write
from qprov.repro._counts import Counts, key_arrays
from qprov.repro._simulate import ReplayReport

if TYPE_CHECKING:
    from qprov.repro._stats import Distribution, JobResult, TestResult

__all__ = ["REPORT_VERSION", "ReproReport", "chart_series", "write_atomic"]

REPORT_VERSION = "qprov-repro-report/v1"
_CHART_BARS = 24


def chart_series(
    observed: Counts, baseline: Distribution | Counts, bars: int = _CHART_BARS
) -> list[tuple[str, float, float]]:
    """(outcome, measured frequency, baseline probability) for the chart, plus "other".

    The ``bars`` outcomes with the largest ``max(measured, baseline)`` (ties by
    outcome), in outcome order. Only the few candidates :func:`_candidates`
    keeps are ranked in Python, so tens of thousands of outcomes cost little
    more than reading their counts.
    """
    if bars <= 0:  # not a size: rank every outcome
        return _ranked_rows(observed, baseline, bars)
    data = observed.data
    arrays = key_arrays(observed, compute=False)  # arrays when the validation built them
    if arrays is not None and isinstance(baseline, Counts) and baseline.data is data:
        # A reproduced replay shares the recorded counts: rank them once, as arrays,
        # and name only the candidates.
        picked = _top_indices(arrays.counts, bars)
        if len(picked) > bars:  # ties: the chart's order, (-count, outcome), picks exactly
            picked = picked[np.lexsort((arrays.keys[picked], -arrays.counts[picked]))[:bars]]
        width = observed.num_clbits
        names = [format(v, f"0{width}b") for v in arrays.keys[picked].tolist()]
        shown = arrays.counts[picked].tolist()
        freq = {k: n / observed.shots for k, n in zip(names, shown, strict=True)}
        base = {k: n / baseline.shots for k, n in zip(names, shown, strict=True)}
        keys = sorted(names, key=lambda k: (-max(freq[k], base[k]), k))
        return _rows(sorted(keys[:bars]), freq, base)
    obs_keys = list(data)
    candidates = _candidates(obs_keys, data.values() if arrays is None else arrays.counts, bars)
    if isinstance(baseline, Counts):
        if baseline.data is not data:  # a reproduced replay shares the recorded counts
            candidates |= _candidates(list(baseline.data), baseline.data.values(), bars)
        base = {k: baseline.data[k] / baseline.shots for k in candidates if k in baseline.data}
    else:
        names, probs = baseline.top(bars)
        base = dict(zip(names, probs.tolist(), strict=True))
        candidates |= _candidates(obs_keys, baseline.probabilities_of(obs_keys), bars)
        candidates |= base.keys()
        # An observed outcome takes its own baseline probability (also over a top entry).
        seen = [k for k in candidates if k in data]
        base.update(zip(seen, baseline.probabilities_of(seen).tolist(), strict=True))
    freq = {k: data[k] / observed.shots for k in candidates if k in data}
    keys = sorted(candidates, key=lambda k: (-max(freq.get(k, 0.0), base.get(k, 0.0)), k))
    return _rows(sorted(keys[:bars]), freq, base)


def _candidates(keys: list[str], values: Any, bars: int) -> set[str]:
    """The first ``bars`` keys in this side's order (value descending, then key).

    An outcome among the first ``bars`` of the chart order is among these on
    the side its larger value comes from: every outcome ahead of it on that
    side is ahead of it overall. Past 2**53 (values float64 may round) every
    key whose value is at least the ``bars``-th largest is kept instead: the
    rounding is monotone, so ties can only widen that set, never drop a key.
    """
    if len(keys) <= bars:
        return set(keys)
    if not isinstance(values, np.ndarray):
        values = np.fromiter(values, np.float64, len(keys))
    picked = _top_indices(values, bars)
    if len(picked) > bars and float(np.abs(values).max()) < 2**53:
        # Ties at the threshold (values exact in float64): the chart orders equal values by
        # outcome, so only the smallest tied outcomes can make it on this side.
        top = values[picked]
        threshold = top.min()
        above = picked[top > threshold].tolist()
        tied = (keys[i] for i in picked[top == threshold].tolist())
        return {keys[i] for i in above} | set(heapq.nsmallest(bars - len(above), tied))
    return {keys[i] for i in picked.tolist()}


def _top_indices(values: np.ndarray[Any, Any], bars: int) -> np.ndarray[Any, Any]:
    """Indices of the values at least the ``bars``-th largest (all of them when fewer)."""
    arr = values.astype(np.float64, copy=False)
    if len(arr) <= bars:
        return np.arange(len(arr))
    cut = len(arr) - bars
    threshold = np.partition(arr, cut)[cut]
    return np.flatnonzero(arr >= threshold)


def _ranked_rows(
    observed: Counts, baseline: Distribution | Counts, bars: int
) -> list[tuple[str, float, float]]:
    """:func:`chart_series` by sorting every outcome (any ``bars``; the reference)."""
    if isinstance(baseline, Counts):
        base = {k: n / baseline.shots for k, n in baseline.data.items()}
    else:
        names, probs = baseline.top(bars)
        base = dict(zip(names, probs.tolist(), strict=True))
        keys = list(observed.data)
        base.update(zip(keys, baseline.probabilities_of(keys).tolist(), strict=True))
    freq = {k: n / observed.shots for k, n in observed.data.items()}
    keys = sorted(
        set(freq) | set(base), key=lambda k: (-max(freq.get(k, 0.0), base.get(k, 0.0)), k)
    )
    return _rows(sorted(keys[:bars]), freq, base)


def _rows(
    shown: list[str], freq: Mapping[str, float], base: Mapping[str, float]
) -> list[tuple[str, float, float]]:
    rows = [(k, freq.get(k, 0.0), base.get(k, 0.0)) for k in shown]
    rest_f = max(0.0, 1.0 - sum(r[1] for r in rows))
    rest_b = max(0.0, 1.0 - sum(r[2] for r in rows))
    if rest_f > 1e-12 or rest_b > 1e-12:
        rows.append(("other", rest_f, rest_b))
    return rows


def _svg(rows: Sequence[tuple[str, float, float]]) -> str:
    width_per = 34
    height, top, bottom, left = 220, 16, 70, 44
    width = left + width_per * max(len(rows), 1) + 16
    ymax = max([1e-9] + [max(f, b) for _, f, b in rows])
    scale = (height - top - bottom) / ymax
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="measured versus baseline distribution">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 8}" y2="{height - bottom}" '
        'stroke="#333"/>',
        f'<text x="4" y="{top + 4}" font-size="10">{ymax:.3g}</text>',
        f'<text x="4" y="{height - bottom}" font-size="10">0</text>',
    ]
    for i, (label, f, b) in enumerate(rows):
        x = left + i * width_per
        for j, (value, colour, name) in enumerate(
            ((f, "#1f77b4", "measured"), (b, "#ff7f0e", "baseline"))
        ):
            h = value * scale
            parts.append(
                f'<rect x="{x + 3 + j * 14}" y="{height - bottom - h:.2f}" width="13" '
                f'height="{h:.2f}" fill="{colour}"><title>{html.escape(label)} {name}: '
                f"{value:.5f}</title></rect>"
            )
        lx, ly = x + 16, height - bottom + 6
        parts.append(
            f'<text x="{lx}" y="{ly}" font-size="9" font-family="monospace" '
            f'transform="rotate(60 {lx} {ly})">{html.escape(label[-16:])}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{height - 14}" width="10" height="10" fill="#1f77b4"/>'
        f'<text x="{left + 14}" y="{height - 5}" font-size="10">measured</text>'
        f'<rect x="{left + 80}" y="{height - 14}" width="10" height="10" fill="#ff7f0e"/>'
        f'<text x="{left + 94}" y="{height - 5}" font-size="10">baseline</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class ReproReport:
    """Everything a reproducibility check found, for JSON and HTML output."""

    subject: Mapping[str, str]
    verdict: str
    decided_by: str
    test: TestResult | JobResult | None = None
    replay: ReplayReport | None = None
    charts: Sequence[tuple[str, Sequence[tuple[str, float, float]]]] = field(default=())
    notes: Sequence[str] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite numbers become null)."""
        out: dict[str, Any] = {
            "version": REPORT_VERSION,
            "subject": dict(self.subject),
            "verdict": self.verdict,
            "decided_by": self.decided_by,
            "notes": list(self.notes),
        }
        if self.test is not None:
            out["test"] = self.test.to_dict()
        if self.replay is not None:
            out["replay"] = {
                "status": self.replay.status,
                "counts_identical": self.replay.counts_identical,
                "differences": [
                    {"outcome": d.outcome, "recorded": d.recorded, "replayed": d.replayed}
                    for d in self.replay.differences
                ],
                "environment_differences": {
                    k: {"recorded": a, "here": b}
                    for k, (a, b) in self.replay.environment_differences.items()
                },
                "summary": self.replay.describe(),
            }
        out["charts"] = [
            {
                "title": title,
                "bars": [{"outcome": o, "measured": f, "baseline": b} for o, f, b in rows],
            }
            for title, rows in self.charts
        ]
        result: dict[str, Any] = _clean(out)
        return result

    def to_json(self) -> bytes:
        """Indented UTF-8 JSON (for people and tools; not a signed format)."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    def to_html(self) -> str:
        """A self-contained HTML page."""
        d = self.to_dict()
        colour = {
            "consistent": "#2ca02c",
            "reproduced": "#2ca02c",
            "inconsistent": "#d62728",
            "mismatch": "#d62728",
        }.get(self.verdict, "#b8860b")
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.subject.items()
        )
        test_rows = ""
        if "test" in d:
            flat = {k: v for k, v in d["test"].items() if not isinstance(v, dict | list)}
            test_rows = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
                for k, v in flat.items()
            )
        replay_html = ""
        if self.replay is not None:
            replay_html = f"<h2>Replay</h2><p>{html.escape(self.replay.describe(limit=50))}</p>"
        charts = "".join(
            f"<h2>{html.escape(title)}</h2><figure>{_svg(bars)}</figure>"
            for title, bars in self.charts
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<title>qprov reproducibility report</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
            "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;"
            "text-align:left;font-size:90%}.verdict{font-size:140%;font-weight:bold}"
            "</style></head><body><h1>Reproducibility report</h1>"
            f'<p class="verdict" style="color:{colour}">{html.escape(self.verdict)}</p>'
            f"<p>Decided by: {html.escape(self.decided_by)}</p>"
            f"<table>{rows}</table>"
            + (f"<h2>Test</h2><table>{test_rows}</table>" if test_rows else "")
            + replay_html
            + charts
            + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
            + f"<p><small>{REPORT_VERSION}</small></p></body></html>\n"
        )

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` atomically."""
        write_atomic(path, self.to_json())

    def write_html(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_html` atomically."""
        write_atomic(path, self.to_html().encode("utf-8"))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`qprov._io.atomic_write`)."""
    atomic_write(path, data)
