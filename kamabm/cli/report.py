"""The ``kamabm report`` command: one self-contained HTML report of a sweep's results.

Bad input (a missing or unreadable results folder, results of an experiment no chart
fits, a report or chart folder that cannot be written, ``--deck`` without its extra) gets
a one-line message on stderr and exit status 2, with no traceback. Matplotlib is imported
only when the command runs; the model never is: the report reads what the sweep kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kamabm.cli.common import EXIT_OK, fail, unwritable
from kamabm.cli.plot import CHARTS, add_analysis_arguments, cannot_write, in_use, print_notes

COMMAND = "report"
REPORT = "report.html"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``report`` command to an ``argparse`` sub-parser collection.

    Args:
        commands: what ``ArgumentParser.add_subparsers()`` returned; the command sets
            ``args.command`` to ``"report"`` (with ``dest="command"``). Call :func:`run`
            with the parsed arguments.

    """
    report = commands.add_parser(
        "report", help="write a self-contained HTML report of a sweep's results",
        description="Draw the charts and write one self-contained HTML file with the "
                    "experiment, its parameters, findings computed from the data, the "
                    "charts (embedded) and tables; every table is also written as CSV "
                    "beside the charts, and a long one (one row per design point) is only "
                    "linked, so that the report prints on a few A4 pages.")
    report.add_argument("results", type=Path, metavar="RESULTS_DIR",
                        help="results folder written by 'kamabm sweep'")
    report.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help=f"the HTML file (default RESULTS_DIR/{REPORT})")
    report.add_argument("--charts", type=Path, default=None, metavar="DIR",
                        help=f"folder for the charts (default {CHARTS}/ beside the report)")
    report.add_argument("--deck", action="store_true",
                        help="also write a slide deck beside the report (.pptx, one chart "
                             "a slide; needs the extra kamabm[deck])")
    add_analysis_arguments(report)
    return report


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm report`` with parsed arguments.

    Remarks on the results are printed on stderr, one line each, as ``kamabm plot``
    prints them; a folder a sweep is writing now is refused.

    Returns:
        The exit status: 0 done, 2 bad input or an output that cannot be written.

    """
    from kamabm.analysis.results import ResultsError, load
    from kamabm.analysis.tables import analyse

    problem = in_use(args.results)
    if problem:
        return fail(COMMAND, problem)
    try:
        res = load(args.results)
        path = args.out if args.out is not None else args.results / REPORT
        charts_dir = args.charts if args.charts is not None else path.parent / CHARTS
        if path.is_dir():
            return fail(COMMAND, f"{path}: is a folder; --out takes the HTML file")
        problem = unwritable(path.parent, charts_dir)
        if problem:
            return fail(COMMAND, problem)
        from kamabm.report import deck
        if args.deck and not deck.available():
            return fail(COMMAND, "--deck needs python-pptx: pip install -e '.[deck]'")
        an = analyse(res, n_boot=args.n_boot, typical=args.typical)
        print_notes(COMMAND, an.notes)
        from kamabm.cli.outputs import staged_report
        from kamabm.report.html import write_report

        with staged_report(path, charts_dir) as (page, charts_tmp):  # all or nothing
            _, charts = write_report(an, page, charts_dir=charts_tmp)
            if args.deck:
                from kamabm.report.summary import executive_summary

                deck.write_deck(f"kamabm: {res.experiment.name}", executive_summary(an),
                                charts, page.with_suffix(".pptx"))
        print(f"report: {path} ({len(charts)} charts in {charts_dir})", file=sys.stderr)
        if args.deck:
            print(f"deck: {path.with_suffix('.pptx')} ({len(charts) + 1} slides)",
                  file=sys.stderr)
    except ResultsError as exc:
        return fail(COMMAND, str(exc))
    except OSError as exc:
        return fail(COMMAND, cannot_write(exc, args.out or args.results))
    return EXIT_OK
