"""Benchmark: `qprov sbom env` against `cyclonedx-py environment` on this environment.

Usage::

    python scripts/bench/bench_sbom.py [--python PATH] [--cyclonedx-py PATH] [--repeat N]

cyclonedx-py (package cyclonedx-bom) is a benchmark-only tool; install it in a
separate virtual environment so it does not change the scanned one::

    python -m venv --system-site-packages /tmp/cdxpy-venv
    /tmp/cdxpy-venv/bin/pip install cyclonedx-bom

Both tools scan the same interpreter. Reported per run: components (nested
included), components with a hash, bundled native libraries found, best wall
time of N runs and best CPU time (user + sys of the process and its children,
steadier than wall time on a loaded machine); then the ratios
qprov / cyclonedx-py, and the time of
`qprov sbom env --verify-record` (every RECORD file re-hashed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for component in components:
        out.append(component)
        out.extend(_walk(component.get("components", [])))
    return out


def _bundled(component: dict[str, Any]) -> bool:
    names = {p.get("name") for p in component.get("properties", [])}
    if "qprov:bundled:kind" in names:
        return True
    name = component.get("name", "")
    return ".so" in name or name.endswith((".dylib", ".dll"))


def _measure(label: str, command: list[str], output: Path, repeat: int) -> dict[str, Any]:
    best = float("inf")
    best_cpu = float("inf")
    code = 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, check=False)
        best = min(best, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best_cpu = min(best_cpu, after.ru_utime - before.ru_utime
                       + after.ru_stime - before.ru_stime)
        code = result.returncode
    if code != 0:
        sys.exit(f"{label} failed ({code}): {result.stderr.decode()[-500:]}")
    doc = json.loads(output.read_text())
    everything = _walk(doc.get("components", []))
    return {
        "label": label,
        "seconds": best,
        "cpu": best_cpu,
        "components": len(everything),
        "top_level": len(doc.get("components", [])),
        "with_hashes": sum(1 for c in everything if c.get("hashes")),
        "bundled": sum(1 for c in everything if _bundled(c)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--cyclonedx-py", default=os.environ.get(
        "CYCLONEDX_PY", shutil.which("cyclonedx-py") or "/tmp/cdxpy-venv/bin/cyclonedx-py"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    qprov = [sys.executable, "-c", "from qprov._cli import main; main()"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sbom.json"
        cdx = [args.cyclonedx_py, "environment", "--of", "JSON", "--sv", "1.6", "-o", str(out),
               args.python]
        rows.append(_measure("cyclonedx-py --no-validate", [*cdx[:2], "--no-validate", *cdx[2:]],
                             out, args.repeat))
        rows.append(_measure("cyclonedx-py --validate", [*cdx[:2], "--validate", *cdx[2:]],
                             out, 1))
        base = [*qprov, "sbom", "env", "--python", args.python, "-o", str(out)]
        rows.append(_measure("qprov sbom env", base, out, args.repeat))
        rows.append(_measure("qprov sbom env --no-validate", [*base, "--no-validate"], out,
                             args.repeat))
        start = time.perf_counter()
        verify = subprocess.run([*base, "--verify-record"], capture_output=True, check=False)
        verify_seconds = time.perf_counter() - start
    print(f"{'tool':32} {'wall s':>8} {'cpu s':>6} {'comps':>6} {'top':>5} {'hashed':>7} "
          f"{'bundled':>8}")
    for row in rows:
        print(f"{row['label']:32} {row['seconds']:8.3f} {row['cpu']:6.3f} {row['components']:6d} "
              f"{row['top_level']:5d} {row['with_hashes']:7d} {row['bundled']:8d}")
    ref = rows[0]
    for row in rows[2:]:
        print(f"{row['label']} / cyclonedx-py --no-validate: time x{row['seconds'] / ref['seconds']:.2f}, "
              f"cpu x{row['cpu'] / ref['cpu']:.2f}, "
              f"components x{row['components'] / max(ref['components'], 1):.2f}, "
              f"hashed {row['with_hashes']} vs {ref['with_hashes']}, "
              f"bundled {row['bundled']} vs {ref['bundled']}")
    print(f"qprov sbom env vs cyclonedx-py --validate: time x{rows[2]['seconds'] / rows[1]['seconds']:.2f}")
    last = verify.stderr.decode().strip().splitlines()[-1:] or [""]
    print(f"qprov sbom env --verify-record: {verify_seconds:.3f} s, exit {verify.returncode}: "
          f"{last[0]}")


if __name__ == "__main__":
    main()
