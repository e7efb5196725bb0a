"""The ``kamabm run`` command: run the model once, print its outcomes, chart the run.

The chart (PNG, SVG) and its table (CSV) are written together or not at all: a folder
that cannot be written, or a disk that fills up, is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from kamabm.cli.common import EXIT_OK, MAX_SEED, add_set_argument, fail, unwritable
from kamabm.cli.outputs import cannot_write, in_target, staged
from kamabm.model.params import ParameterError, Parameters
from kamabm.names import setting_text


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``run`` sub-command to the ``kamabm`` parser's ``commands``."""
    parser = commands.add_parser(
        "run", help="run the model once, print its outcomes and chart the run",
        description="Run the model once with default parameters changed by --set, print "
                    "the outcomes and write a time-series chart of the run.")
    add_set_argument(parser, "change a parameter (repeatable); see 'kamabm params' for "
                     "names, units and ranges", dest="assignments")
    parser.add_argument("--params", type=Path, metavar="FILE",
                        help="TOML file of parameters (applied before --set)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    parser.add_argument("--out", type=Path, default=Path("results") / "single_run",
                        metavar="DIR", help="folder for the chart (default results/single_run)")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm run`` with parsed arguments; return the exit status."""
    if not 0 <= args.seed <= MAX_SEED:
        return fail(None, f"--seed {args.seed}: expected a whole number in [0, 2**63 - 1]")
    names = [text.partition("=")[0].strip() for text in args.assignments]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return fail(None, f"--set {twice[0]}: given {names.count(twice[0])} times; give "
                    "each parameter once")
    try:
        params = Parameters.from_toml(args.params) if args.params else Parameters()
        params = params.with_assignments(args.assignments)
    except ParameterError as exc:
        return fail(None, str(exc))
    except UnicodeDecodeError as exc:
        return fail(None, f"--params {args.params}: not UTF-8 text (byte "
                    f"0x{exc.object[exc.start]:02x} at position {exc.start}); save it as "
                    "UTF-8")
    if not args.no_chart:
        problem = unwritable(args.out, option="--out")
        if problem:
            return fail(None, problem)

    from kamabm.model.run import run_with_table

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

    from kamabm.report.charts import plot_run, save_table

    changed = {k: v for k, v in params.as_dict().items() if v != Parameters.default(k)}
    title = setting_text(changed) if changed else "default parameters"
    name = chart_stem(changed, args.seed)
    try:
        with staged(args.out) as tmp:  # the chart and its table, or nothing
            save_table(table, (tmp / name).with_suffix(".csv"))
            written = [in_target(path, tmp, args.out)
                       for path in plot_run(table, result, f"{title}; seed {args.seed}",
                                            tmp / name)]
    except OSError as exc:
        return fail(None, f"--out {cannot_write(exc, args.out)}")
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
    readable = "_".join(f"{name}{_stem_value(value)}".replace(".", "p")
                        for name, value in changed.items())
    if len(readable) > 80:
        blob = json.dumps(changed, sort_keys=True).encode()
        readable = "params-" + hashlib.sha256(blob).hexdigest()[:12]
    return f"run_{readable}_seed{seed}"


def _stem_value(value: Any) -> str:
    # a list parameter (one number per key buyer or supplier) as its numbers joined by "-"
    if isinstance(value, tuple | list):
        return "-".join(f"{v:g}" for v in value)
    return f"{value:g}"
