"""The ``kamabm`` command line: parse input, call the model or the runner, show output.

Exit status: 0 success, 1 a failure while running, 2 bad input (a one-line message on
stderr naming the field and its allowed range; no traceback), 141 when the reader of the
output went away (``kamabm params | head``), silently, as other Unix tools do.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from kamabm.params import ParameterError, Parameters

EXIT_OK, EXIT_USAGE, EXIT_BROKEN_PIPE = 0, 2, 141
#: Seeds are stored as 64-bit signed integers, like the sweep's.
MAX_SEED = 2**63 - 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with status 2 and one short line."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 (argparse's own contract)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``kamabm`` argument parser with all its sub-commands."""
    from kamabm.app_cli import add_app_parser
    from kamabm.calibrate_cli import add_calibrate_parser
    from kamabm.patterns_cli import add_patterns_parser
    from kamabm.plot_cli import add_plot_parsers
    from kamabm.screen_cli import add_screen_parser
    from kamabm.sweep_cli import add_sweep_parser

    parser = _Parser(prog="kamabm", description="Key account managers captured by their "
                     "clients: an agent-based model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run", help="run the model once, print its outcomes and chart the run",
        description="Run the model once with default parameters changed by --set, print "
                    "the outcomes and write a time-series chart of the run.")
    run.add_argument("--set", dest="assignments", action="append", default=[],
                     metavar="NAME=VALUE", help="change a parameter (repeatable); see "
                     "'kamabm params' for names, units and ranges")
    run.add_argument("--params", type=Path, metavar="FILE",
                     help="TOML file of parameters (applied before --set)")
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    run.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    run.add_argument("--out", type=Path, default=Path("results") / "single_run",
                     metavar="DIR", help="folder for the chart (default results/single_run)")
    run.add_argument("--no-chart", action="store_true", help="do not draw the chart")

    commands.add_parser("params", help="list parameters: default, unit, range, meaning")
    add_sweep_parser(commands)
    add_plot_parsers(commands)
    add_app_parser(commands)
    add_screen_parser(commands)
    add_calibrate_parser(commands)
    add_patterns_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kamabm`` console command."""
    try:
        status = _dispatch(build_parser().parse_args(argv))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`kamabm params | head`): stop quietly. Point stdout at devnull
        # so that the interpreter's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "params":
        print(Parameters.markdown_table())
        return EXIT_OK
    if args.command in ("plot", "report"):
        from kamabm.plot_cli import run_plot_command

        return run_plot_command(args)
    if args.command == "app":
        from kamabm.app_cli import run_app_command

        return run_app_command(args)
    if args.command == "screen":
        from kamabm.screen_cli import run_screen_command
        return run_screen_command(args)
    if args.command == "calibrate":
        from kamabm.calibrate_cli import run_calibrate_command
        return run_calibrate_command(args)
    if args.command == "patterns":
        from kamabm.patterns_cli import run_patterns_command
        return run_patterns_command(args)
    from kamabm.sweep_cli import run_sweep_command

    return run_sweep_command(args)


def _fail(message: str) -> int:
    print(f"kamabm: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.seed <= MAX_SEED:
        return _fail(f"--seed {args.seed}: expected a whole number in [0, 2**63 - 1]")
    names = [text.partition("=")[0].strip() for text in args.assignments]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return _fail(f"--set {twice[0]}: given {names.count(twice[0])} times; give each "
                     "parameter once")
    try:
        params = Parameters.from_toml(args.params) if args.params else Parameters()
        params = params.with_assignments(args.assignments)
    except ParameterError as exc:
        return _fail(str(exc))
    except UnicodeDecodeError as exc:
        return _fail(f"--params {args.params}: not UTF-8 text (byte "
                     f"0x{exc.object[exc.start]:02x} at position {exc.start}); save it as "
                     "UTF-8")
    if not args.no_chart:
        from kamabm.outputs import unwritable

        problem = unwritable(args.out)
        if problem:
            return _fail(f"--out {problem}")

    from kamabm.run import run_with_table

    result, table = run_with_table(params, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(map(len, result))
        for name, value in result.items():
            shown = "none" if value is None else f"{value:.4g}"
            print(f"{name:<{width}}  {shown}")
    if args.no_chart:
        return EXIT_OK

    from kamabm.charts import plot_run, save_table

    changed = {k: v for k, v in params.as_dict().items() if v != Parameters.default(k)}
    title = ", ".join(f"{k} = {v:g}" for k, v in changed.items()) or "default parameters"
    stem = args.out / chart_stem(changed, args.seed)
    try:
        save_table(table, stem.with_suffix(".csv"))
        written = plot_run(table, result, f"{title}; seed {args.seed}", stem)
    except OSError as exc:
        return _fail(f"--out {args.out}: cannot write the chart ({exc.strerror})")
    print(f"chart: {written[0]} (+ .svg, .csv)", file=sys.stderr)
    return EXIT_OK


def chart_stem(changed: dict[str, float], seed: int) -> str:
    """File name (no suffix) of a run's chart: its changed parameters and seed.

    Two runs share a name only if they share parameters and seed, so a run never
    overwrites the chart of a different one. Decimal points are written ``p`` (0.8 is
    ``0p8``), so that the name has no suffix of its own; long lists of changes become a
    short hash.
    """
    if not changed:
        return f"run_seed{seed}"
    readable = "_".join(f"{name}{value:g}".replace(".", "p") for name, value in changed.items())
    if len(readable) > 80:
        blob = json.dumps(changed, sort_keys=True).encode()
        readable = "params-" + hashlib.sha256(blob).hexdigest()[:12]
    return f"run_{readable}_seed{seed}"


if __name__ == "__main__":
    sys.exit(main())
