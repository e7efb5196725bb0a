"""The ``kamabm patterns`` command: charts of the patterns read off single runs (P6, P9).

Runs the model at one setting for several seeds (through :mod:`kamabm.model.run`) and draws the
loyalty-discount and whale-curve charts (:mod:`kamabm.report.charts.patterns`) into a folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kamabm.cli.common import EXIT_OK, add_set_argument, fail, unwritable
from kamabm.model.params import ParameterError, Parameters

COMMAND = "patterns"
DEFAULT_OUT = Path("results") / "patterns"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``patterns`` sub-command to the ``kamabm`` parser."""
    parser = commands.add_parser(
        "patterns", help="charts of patterns P6 (loyalty discount) and P9 (whale curve)",
        description="Run the model at one setting for several seeds and draw the loyalty-"
                    "discount (P6) and whale-curve (P9) charts.")
    add_set_argument(parser, "a parameter value (default: client_revenue_share=0.6, "
                     "kam_pressure=0.6)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1 (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the charts (default {DEFAULT_OUT})")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``kamabm patterns``; return the exit status."""
    if not 1 <= args.seeds <= 10_000:
        return fail(COMMAND, f"--seeds = {args.seeds}: allowed 1 to 10000")
    try:
        params = Parameters(client_revenue_share=0.6, kam_pressure=0.6).with_assignments(
            args.set)
    except ParameterError as exc:
        return fail(COMMAND, str(exc))
    out = args.out
    problem = unwritable(out, option="--out")
    if problem:
        return fail(COMMAND, problem)
    from kamabm.report.charts import patterns

    seeds = range(args.seeds)
    for chart in (patterns.loyalty_discount(params, seeds, out),
                  patterns.whale_curve(params, seeds, out)):
        print(f"{chart.png}: {chart.title}")
    return EXIT_OK
