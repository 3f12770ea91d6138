"""Coverage-guided fuzzing of qprov's parsers with atheris (libFuzzer), for long runs.

One entry per parser, selected by name; the same targets and property as the
bounded hypothesis tests (tests/fuzz/test_parsers.py): any input gives a valid
object or a ``qprov.errors.Error``; anything else, a hang (the per-call timer)
or an RSS over ``-rss_limit_mb`` is a crash, written by libFuzzer as
``crash-*`` / ``timeout-*`` / ``oom-*`` in the working directory.

    pip install atheris
    python scripts/fuzz/fuzz_parsers.py --list
    python scripts/fuzz/fuzz_parsers.py dsse-envelope -- -max_total_time=300 -rss_limit_mb=2048
    python scripts/fuzz/fuzz_parsers.py --campaign 300 dsse-envelope receipt-bundle ...

The seed corpus (real signed documents, see tests/fuzz/_corpus.py) is written
to ``--corpus-dir/<target>/`` and grows as libFuzzer finds new coverage.
Where atheris is not installed, ``--hypothesis`` runs the same targets under
hypothesis for ``--campaign`` seconds each (the fallback; slower, not
coverage-guided). ``--campaign`` runs each named target (default: the
high-risk ones) in its own process and prints a table: inputs tried, crashes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.fuzz._targets import (  # noqa: E402
    TARGETS,
    Context,
    ForeignException,
    ParserHang,
    run_target,
)


def _write_seeds(ctx: Context, name: str, directory: Path) -> Path:
    out = directory / name
    out.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(ctx.seeds(TARGETS[name].seeds)):
        (out / f"seed-{i:03d}").write_bytes(seed)
    return out


def _instrument_qprov(atheris: Any) -> int:
    """Instrument every function and method defined in a loaded qprov module."""
    import types

    done: set[int] = set()

    def visit(obj: Any, module: str) -> None:
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    visit(f, module)
            return
        if isinstance(obj, types.FunctionType):
            if obj.__module__ == module and id(obj.__code__) not in done:
                done.add(id(obj.__code__))
                with contextlib.suppress(Exception):  # some code objects cannot be patched
                    atheris.instrument_func(obj)
        elif isinstance(obj, type) and obj.__module__ == module:
            for member in vars(obj).values():
                visit(member, module)

    for name, module in list(sys.modules.items()):
        if (name == "qprov" or name.startswith("qprov.")) and module is not None:
            for obj in list(vars(module).values()):
                visit(obj, name)
    return len(done)


def run_atheris(name: str, work: Path, corpus_dir: Path, libfuzzer_args: list[str]) -> None:
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    target = TARGETS[name]
    ctx = Context(work)
    seeds = _write_seeds(ctx, name, corpus_dir)
    # Warm the lazy state (corpus, imports, keys), then instrument qprov's loaded
    # functions for coverage feedback (atheris.instrument_all() would also take
    # qiskit, numpy and scipy and needs minutes to start).
    for seed in ctx.seeds(target.seeds):
        run_target(target, ctx, seed)
    count = _instrument_qprov(atheris)
    print(f"INFO: instrumented {count} qprov functions", file=sys.stderr)

    def one_input(data: bytes) -> None:
        # ForeignException / ParserHang propagate: libFuzzer records the input as a crash
        run_target(target, ctx, data)

    atheris.Setup([sys.argv[0], *libfuzzer_args, str(seeds)], one_input)
    atheris.Fuzz()


def run_hypothesis(name: str, work: Path, seconds: float) -> dict[str, object]:
    """Fallback without atheris: the hypothesis strategy of the bounded tests, for longer."""
    from hypothesis import HealthCheck, given, settings

    from tests.fuzz.test_parsers import _input

    target = TARGETS[name]
    ctx = Context(work)
    seeds = ctx.seeds(target.seeds)
    tried = 0
    crashes: list[str] = []
    deadline = time.monotonic() + seconds

    class _Stop(Exception):  # noqa: N818 - control flow, not an error
        pass

    @settings(max_examples=10**9, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_input(seeds))
    def run(data: bytes) -> None:
        nonlocal tried
        if time.monotonic() > deadline:
            raise _Stop
        tried += 1
        try:
            run_target(target, ctx, data)
        except (ForeignException, ParserHang) as exc:
            crashes.append(f"{exc} input={data[:200]!r}")

    with contextlib.suppress(_Stop):
        run()
    return {"target": name, "inputs": tried, "crashes": crashes}


_STAT = re.compile(r"stat::number_of_executed_units:\s+(\d+)")
_DONE = re.compile(r"Done (\d+) runs")


def campaign(names: list[str], seconds: int, work: Path, use_hypothesis: bool,
             rss_limit_mb: int) -> int:
    rows = []
    failed = 0
    for name in names:
        out_dir = work / "runs" / name
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, name, "--work", str(work / "state"),
               "--corpus-dir", str(work / "corpus")]
        if use_hypothesis:
            cmd += ["--hypothesis", "--seconds", str(seconds)]
        else:
            cmd += ["--", f"-max_total_time={seconds}", f"-rss_limit_mb={rss_limit_mb}",
                    "-timeout=30", "-print_final_stats=1", f"-artifact_prefix={out_dir}/"]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=out_dir,
                              timeout=seconds + 600, check=False)
        elapsed = time.monotonic() - started
        (out_dir / "log.txt").write_text(proc.stdout + proc.stderr)
        if use_hypothesis:
            result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout else {}
            inputs = int(result.get("inputs", 0))
            crashes = len(result.get("crashes", [])) + (proc.returncode != 0)
        else:
            m = _STAT.search(proc.stderr) or _DONE.search(proc.stderr)
            inputs = int(m.group(1)) if m else 0
            crashes = len(list(out_dir.glob("crash-*")) + list(out_dir.glob("timeout-*"))
                          + list(out_dir.glob("oom-*"))) or int(proc.returncode != 0)
        failed += crashes > 0
        rows.append((name, inputs, elapsed, crashes, proc.returncode))
        print(f"{name:24s} inputs={inputs:>9d} time={elapsed:7.1f}s crashes={crashes} "
              f"rc={proc.returncode}", flush=True)
    print("\n| target | inputs tried | seconds | crashes |\n|---|---:|---:|---:|")
    for name, inputs, elapsed, crashes, _rc in rows:
        print(f"| `{name}` | {inputs} | {elapsed:.0f} | {crashes} |")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="target names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--campaign", type=int, metavar="SECONDS",
                        help="run each target this long in its own process; print a table")
    parser.add_argument("--hypothesis", action="store_true",
                        help="use hypothesis instead of atheris (fallback)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="hypothesis run length for one target")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--work", type=Path, default=Path("fuzz-work"),
                        help="scratch directory (seed corpus and state)")
    parser.add_argument("--corpus-dir", type=Path, default=None)
    args, rest = parser.parse_known_args()
    libfuzzer_args = [a for a in rest if a != "--"]
    if args.list:
        for name, t in TARGETS.items():
            print(f"{name:24s} {'high' if t.high_risk else '    '}  {t.parser}")
        return 0
    unknown = [n for n in args.targets if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)} (see --list)")
    work = args.work.resolve()
    if args.campaign is not None:
        names = args.targets or [n for n, t in TARGETS.items() if t.high_risk]
        return campaign(names, args.campaign, work, args.hypothesis, args.rss_limit_mb)
    if len(args.targets) != 1:
        parser.error("give exactly one target (or --campaign)")
    name = args.targets[0]
    if args.hypothesis:
        print(json.dumps(run_hypothesis(name, work, args.seconds)))
        return 0
    corpus_dir = (args.corpus_dir or work / "corpus").resolve()
    run_atheris(name, work, corpus_dir, libfuzzer_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
