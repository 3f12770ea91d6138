"""Benchmark: `qprov sbom env` against `cyclonedx-py environment` on this environment.

Usage::

    python scripts/bench/bench_sbom.py [--python PATH | --qiskit-env DIR]
        [--cyclonedx-py PATH] [--repeat N] [--validate-repeat M] [--baseline DIR]

qprov's bytecode is compiled first (``compileall``), as a pip install of the
wheel would have it. ``--qiskit-env DIR`` scans the environment issue 3 states its goal on: a virtual
environment with qiskit and qiskit-aer only (made with pip in DIR when missing).
The default scans this interpreter's environment (with qprov's development
tools: several times more packages and embedded SBOMs).

cyclonedx-py (package cyclonedx-bom) is a benchmark-only tool; install it in a
separate virtual environment so it does not change the scanned one::

    python -m venv /tmp/cdxpy-venv
    /tmp/cdxpy-venv/bin/pip install cyclonedx-bom

Both tools scan the same environment: cyclonedx-py is given the interpreter
(``environment PYTHON``), qprov ``--python PYTHON``; each also pays for running
that interpreter once to find its packages. The runs are interleaved: every
round runs each command once, in an order rotated from round to round, so a
burst of load from other processes on the machine falls on all of them alike.
``cyclonedx-py --validate`` (about 20 s: it checks every URL with a lark
grammar) runs in the first ``--validate-repeat`` rounds only.

Reported per command: components (nested included), top-level components,
components with a hash, bundled native libraries found, the median wall time
and the median CPU time (user + sys of the process and its children, steadier
than wall time on a loaded machine), and the minima of both (on a machine
shared with other CPU-heavy work, the least disturbed run); then the ratios of
the medians to ``cyclonedx-py --no-validate``, and the time of ``qprov sbom env
--verify-record --no-validate`` (every RECORD file re-hashed) beside the same
command without it (it exits 1, and is still timed, where installed files differ
from RECORD). ``--baseline DIR`` adds the qprov commands run from another source
tree (e.g. ``git archive HEAD qprov | tar -x -C DIR``), interleaved with the
others, for a before/after comparison in one run; the outputs of all qprov runs
are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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


@dataclass
class _Command:
    label: str
    argv: list[str]
    output: Path
    rounds: int
    env: dict[str, str] | None = None
    accept: tuple[int, ...] = (0,)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    stderr: str = ""
    returncode: int = 0

    def run(self) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(self.argv, capture_output=True, check=False, env=self.env)
        self.wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        self.stderr = result.stderr.decode("utf-8", "replace")
        self.returncode = result.returncode
        if result.returncode not in self.accept:
            sys.exit(f"{self.label} failed ({result.returncode}): {self.stderr[-800:]}")

    def row(self) -> dict[str, Any]:
        if not self.wall:
            return {
                "label": self.label,
                "runs": 0,
                "wall": float("nan"),
                "cpu": float("nan"),
                "min_wall": float("nan"),
                "min_cpu": float("nan"),
                "components": 0,
                "top_level": 0,
                "with_hashes": 0,
                "bundled": 0,
            }
        doc = json.loads(self.output.read_text(encoding="utf-8")) if self.output.exists() else {}
        everything = _walk(doc.get("components", []))
        return {
            "label": self.label,
            "runs": len(self.wall),
            "wall": statistics.median(self.wall),
            "cpu": statistics.median(self.cpu),
            "min_wall": min(self.wall),
            "min_cpu": min(self.cpu),
            "components": len(everything),
            "top_level": len(doc.get("components", [])),
            "with_hashes": sum(1 for c in everything if c.get("hashes")),
            "bundled": sum(1 for c in everything if _bundled(c)),
        }


def _qprov_commands(
    label: str, python: str, tmp: Path, repeat: int, tree: Path | None
) -> list[_Command]:
    env = None
    if tree is not None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    qprov = [sys.executable, "-c", "from qprov._cli import main; main()"]
    commands = []
    for suffix, extra in (
        ("", []),
        (" --no-validate", ["--no-validate"]),
        (" --verify-record --no-validate", ["--verify-record", "--no-validate"]),
    ):
        name = f"{label}{suffix}"
        out = tmp / (name.replace(" ", "_").replace("-", "") + ".json")
        # --verify-record exits 1 (no SBOM) where installed files differ from RECORD,
        # e.g. a certifi bundle patched in place; its time is still measured.
        accept = (0, 1) if "--verify-record" in extra else (0,)
        commands.append(
            _Command(
                name,
                [*qprov, "sbom", "env", "--python", python, "-o", str(out), *extra],
                out,
                repeat,
                env,
                accept,
            )
        )
    return commands


def _compile_bytecode(trees: list[Path | None]) -> None:
    """Write qprov's .pyc files, as pip does when it installs a wheel (cyclonedx-py has its).

    An editable install under PYTHONDONTWRITEBYTECODE=1 (set on this project's machines)
    never writes them, and every run would compile qprov's modules again (~75 ms here).
    """
    for tree in trees:
        if tree is not None:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True)


#: The environment the issue measured cyclonedx-py on: qiskit and qiskit-aer, nothing else.
QISKIT_ENV = ("qiskit==2.6.2", "qiskit-aer==0.18.2")


def _qiskit_env(where: Path) -> Path:
    """The interpreter of a virtual environment holding only QISKIT_ENV (made if missing)."""
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *QISKIT_ENV], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter whose environment both tools scan (default: this one)",
    )
    parser.add_argument(
        "--qiskit-env",
        type=Path,
        metavar="DIR",
        help="scan the issue's environment instead: a virtual environment in DIR holding "
        f"only {' and '.join(QISKIT_ENV)} (created with pip when DIR does not exist)",
    )
    parser.add_argument(
        "--cyclonedx-py",
        default=os.environ.get(
            "CYCLONEDX_PY", shutil.which("cyclonedx-py") or "/tmp/cdxpy-venv/bin/cyclonedx-py"
        ),
    )
    parser.add_argument("--repeat", type=int, default=11, help="rounds (default 11)")
    parser.add_argument(
        "--validate-repeat",
        type=int,
        default=1,
        help="rounds that also run cyclonedx-py --validate (default 1; 0 skips it)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run qprov from this source tree (before/after)",
    )
    args = parser.parse_args()
    _compile_bytecode([Path(__file__).resolve().parents[2] / "qprov", args.baseline])
    if args.qiskit_env is not None:
        args.python = str(_qiskit_env(args.qiskit_env))
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", "1700000000")
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cdx = [args.cyclonedx_py, "environment", "--of", "JSON", "--sv", "1.6"]
        commands = [
            _Command(
                "cyclonedx-py --no-validate",
                [*cdx, "--no-validate", "-o", str(tmp / "cdx.json"), args.python],
                tmp / "cdx.json",
                args.repeat,
            ),
            _Command(
                "cyclonedx-py --validate",
                [*cdx, "--validate", "-o", str(tmp / "cdx-v.json"), args.python],
                tmp / "cdx-v.json",
                min(args.validate_repeat, args.repeat),
            ),
            *_qprov_commands("qprov sbom env", args.python, tmp, args.repeat, None),
        ]
        if args.baseline is not None:
            commands += _qprov_commands(
                "baseline", args.python, tmp, args.repeat, args.baseline.resolve()
            )
        for round_ in range(args.repeat):
            shift = round_ % len(commands)
            for command in commands[shift:] + commands[:shift]:
                if round_ < command.rounds:
                    command.run()
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)
        rows = [c.row() for c in commands]
        identical = {
            c.label: c.output.read_bytes() == commands[2].output.read_bytes()
            for c in commands[3:]
            if c.output.exists()
        }
        verify_status = commands[4].stderr.strip().splitlines()
        verify_code = commands[4].returncode
    print(
        f"{'command':44} {'runs':>4} {'wall s':>7} {'cpu s':>6} {'min wall':>8} {'min cpu':>7} "
        f"{'comps':>6} {'top':>5} {'hashed':>7} {'bundled':>8}"
    )
    for row in rows:
        print(
            f"{row['label']:44} {row['runs']:4d} {row['wall']:7.3f} {row['cpu']:6.3f} "
            f"{row['min_wall']:8.3f} {row['min_cpu']:7.3f} {row['components']:6d} {row['top_level']:5d} {row['with_hashes']:7d} "
            f"{row['bundled']:8d}"
        )
    ref = rows[0]
    print()
    for row in rows[2:]:
        print(
            f"{row['label']} / cyclonedx-py --no-validate: "
            f"wall x{row['wall'] / ref['wall']:.2f}, cpu x{row['cpu'] / ref['cpu']:.2f}, "
            f"components {row['components']} vs {ref['components']}, "
            f"hashed {row['with_hashes']} vs {ref['with_hashes']}, "
            f"bundled {row['bundled']} vs {ref['bundled']}"
        )
    print(
        f"qprov sbom env / cyclonedx-py --validate: wall x{rows[2]['wall'] / rows[1]['wall']:.3f}"
    )
    print(
        f"--verify-record costs {rows[4]['wall'] - rows[3]['wall']:.3f} s wall "
        f"({rows[4]['cpu'] - rows[3]['cpu']:.3f} s cpu) over --no-validate; "
        f"exit {verify_code}, last status: {verify_status[-1] if verify_status else ''}"
    )
    if args.baseline is not None:
        for now, before in zip(rows[2:5], rows[5:8], strict=True):
            print(
                f"{now['label']}: wall {before['wall']:.3f} -> {now['wall']:.3f} s "
                f"(x{now['wall'] / before['wall']:.2f}), cpu {before['cpu']:.3f} -> "
                f"{now['cpu']:.3f} s"
            )
    print(
        "output identical to 'qprov sbom env': "
        + ", ".join(f"{k}: {v}" for k, v in identical.items())
    )


if __name__ == "__main__":
    main()
