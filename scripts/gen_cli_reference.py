"""Generate docs/cli.md, the CLI reference, from the click command tree.

Every command (the lazily loaded groups of ``qprov._cli._COMMANDS`` included)
with its usage line, its help and its options, each option with the
environment variable that sets it: the explicit ``envvar`` where the option
has one, else the name click derives from ``auto_envvar_prefix="QPROV"``
(``QPROV_<COMMAND>_<SUBCOMMAND>_<OPTION>``). The output is deterministic (sorted
commands, no dates), so tests/docs/test_cli_reference.py can regenerate it and
fail when docs/cli.md is stale.

    python scripts/gen_cli_reference.py            # write docs/cli.md
    python scripts/gen_cli_reference.py --check    # exit 1 if docs/cli.md is stale
    python scripts/gen_cli_reference.py -o -       # print it
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "cli.md"

_HEADER = """\
# qprov command-line reference

Generated from the click command tree by `scripts/gen_cli_reference.py`; do not edit by
hand (`python scripts/gen_cli_reference.py` rewrites it, and
`tests/docs/test_cli_reference.py` fails when it is stale).

Conventions for every command: stdout carries data only, stderr carries status
(`OK: ...`, `FAIL: <subject>: <reason>`); exit codes 0 ok, 1 verification or policy
failure, 2 usage, 3 malformed input, 4 environment or service error. Every option can
also be set from the environment variable shown beside it (click's
`auto_envvar_prefix="QPROV"`: `QPROV_<COMMAND>_<OPTION>`, dashes as underscores;
multiple values separated by spaces); an option with its own variable shows that one.
Private-key passphrases come from `QPROV_KEY_PASSPHRASE` (or a prompt).
"""


def _help_text(cmd: click.Command) -> str:
    text = inspect.cleandoc(cmd.help or cmd.short_help or "")
    lines = [line for line in text.splitlines() if line.strip() != "\b"]
    return "\n".join(lines).strip()


def _envvar(param: click.Parameter, ctx: click.Context) -> str | None:
    if not isinstance(param, click.Option):
        return None
    if param.envvar:
        return param.envvar if isinstance(param.envvar, str) else " ".join(param.envvar)
    if param.allow_from_autoenv and ctx.auto_envvar_prefix and param.name:
        return f"{ctx.auto_envvar_prefix}_{param.name.upper()}"
    return None


def _type_name(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    ptype = param.type
    if isinstance(ptype, click.Choice):
        return " \\| ".join(f"`{c}`" for c in ptype.choices)
    name = ptype.name.upper() if ptype.name else "TEXT"
    if param.multiple:
        name += ", repeatable"
    if param.nargs == -1:
        name += ", one or more" if param.required else ", any number"
    return name


def _default(param: click.Parameter) -> str:
    if not isinstance(param, click.Option) or param.is_flag:
        return ""
    default = param.default
    unset = getattr(click.core, "UNSET", None)
    if (default is None or default is unset or callable(default) or default == ()
            or param.show_default is False or type(default).__name__ == "Sentinel"):
        return ""
    return f"`{default}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _command_section(cmd: click.Command, ctx: click.Context, path: list[str]) -> list[str]:
    out = [f"## `{' '.join(path)}`", ""]
    pieces = cmd.collect_usage_pieces(ctx)
    out += ["```", f"Usage: {' '.join([*path, *pieces])}", "```", ""]
    text = _help_text(cmd)
    if text:
        out += [text, ""]
    rows = []
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option) and param.hidden:
            continue
        if isinstance(param, click.Argument):
            name = f"`{param.human_readable_name}`"
            required = "required" if param.required else ""
            rows.append((name, _type_name(param), required, "", "", "argument"))
            continue
        assert isinstance(param, click.Option)
        opts = [*param.opts, *param.secondary_opts]
        if param.name == "help":
            # click caches the help option on the command from the first context it
            # saw; the names in force are the context's (``-h`` comes from the root).
            opts = list(ctx.help_option_names)
        names = ", ".join(f"`{o}`" for o in opts)
        env = _envvar(param, ctx)
        if param.name in ("help", "version"):
            env = None
        rows.append((
            names,
            _type_name(param),
            "required" if param.required else "",
            _default(param),
            f"`{env}`" if env else "",
            _cell(param.help or ""),
        ))
    if rows:
        out += ["| option | type | required | default | environment | help |",
                "|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        out.append("")
    if isinstance(cmd, click.Group):
        subs = cmd.list_commands(ctx)
        if subs:
            out += ["Commands: " + ", ".join(f"`{' '.join([*path, s])}`" for s in subs), ""]
    return out


def _walk(cmd: click.Command, ctx: click.Context, path: list[str]) -> list[str]:
    out = _command_section(cmd, ctx, path)
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, parent=ctx, info_name=name)
            out += _walk(sub, sub_ctx, [*path, name])
    return out


def render() -> str:
    """The reference as Markdown."""
    from qprov._cli import _COMMANDS, cli

    root = click.Context(cli, info_name="qprov", auto_envvar_prefix="QPROV")
    missing = [name for name in sorted(_COMMANDS) if cli.get_command(root, name) is None]
    if missing:
        raise SystemExit(f"commands that do not load: {', '.join(missing)}")
    names = cli.list_commands(root)
    toc = ["## Commands", ""]
    for name in names:
        sub = cli.get_command(root, name)
        assert sub is not None
        short = _cell(sub.get_short_help_str(limit=100))
        toc.append(f"- [`qprov {name}`](#qprov-{name}) {short}")
        if isinstance(sub, click.Group):
            sub_ctx = click.Context(sub, parent=root, info_name=name)
            for child in sub.list_commands(sub_ctx):
                anchor = f"qprov-{name}-{child}"
                toc.append(f"  - [`qprov {name} {child}`](#{anchor})")
    lines = [_HEADER, *toc, "", *_walk(cli, root, ["qprov"])]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(OUTPUT), help="file to write, - for stdout")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = Path(args.output).read_text(encoding="utf-8") if Path(
            args.output).is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run python scripts/gen_cli_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
