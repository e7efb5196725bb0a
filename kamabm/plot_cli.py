"""The ``kamabm plot`` and ``kamabm report`` commands: parse options, draw, report.

Bad input (a missing or unreadable results folder, results of an experiment no chart
fits, an output folder that cannot be written) gets a one-line message on stderr and exit
status 2, with no traceback. Heavy modules (matplotlib, the model) are imported only when
a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kamabm.outputs import unwritable

EXIT_OK, EXIT_USAGE = 0, 2
CHARTS = "charts"
REPORT = "report.html"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_plot_parsers(subparsers: Any) -> None:
    """Add the ``plot`` and ``report`` commands to an ``argparse`` sub-parser collection.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned; the commands set
            ``args.command`` to ``"plot"`` or ``"report"`` (with ``dest="command"``).
            Call :func:`run_plot_command` with the parsed arguments.

    """
    plot = subparsers.add_parser(
        "plot", help="draw the charts of a sweep's results (PNG, SVG and CSV)",
        description="Draw the charts an experiment's results call for (capture phase "
                    "diagram and boundary, margins, erosion, interventions, hysteresis, "
                    "typical runs), each as PNG (300 dpi) and SVG with a CSV of the "
                    "plotted numbers, plus summary.csv (and boundary.csv).")
    plot.add_argument("results", type=Path, metavar="RESULTS_DIR",
                      help="results folder written by 'kamabm sweep'")
    plot.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help=f"folder for the charts (default RESULTS_DIR/{CHARTS})")
    _common(plot)

    report = subparsers.add_parser(
        "report", help="write a self-contained HTML report of a sweep's results",
        description="Draw the charts and write one self-contained HTML file with the "
                    "experiment, its parameters, findings computed from the data, the "
                    "charts (embedded) and tables.")
    report.add_argument("results", type=Path, metavar="RESULTS_DIR",
                        help="results folder written by 'kamabm sweep'")
    report.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help=f"the HTML file (default RESULTS_DIR/{REPORT})")
    report.add_argument("--charts", type=Path, default=None, metavar="DIR",
                        help=f"folder for the charts (default {CHARTS}/ beside the report)")
    report.add_argument("--deck", action="store_true",
                        help="also write a slide deck beside the report (.pptx, one chart "
                             "a slide; needs the extra kamabm[deck])")
    _common(report)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-boot", type=_positive, default=500, metavar="N",
                        help="bootstrap resamples for the capture boundary (default 500)")
    parser.add_argument("--no-typical-runs", dest="typical", action="store_false",
                        help="do not re-run and draw two typical runs")


def _fail(command: str, message: str) -> int:
    print(f"kamabm {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_plot_command(args: argparse.Namespace) -> int:
    """Carry out ``kamabm plot`` or ``kamabm report`` with parsed arguments.

    Remarks on the results (runs missing from an interrupted sweep, a chart the design
    calls for that the runs cannot give) are printed on stderr, one line each; what can
    be drawn is drawn. A folder a sweep is writing now is refused.

    Returns:
        The exit status: 0 done, 2 bad input or an output that cannot be written.

    """
    from kamabm.lock import FolderLockedError, check_unlocked
    from kamabm.results import ResultsError, analyse, load

    command = args.command
    try:
        # A sweep writing the folder may rewrite or remove its charts and report.
        check_unlocked(args.results)
    except FolderLockedError as exc:
        return _fail(command, str(exc))
    try:
        res = load(args.results)
        if command == "report":
            path = args.out if args.out is not None else args.results / REPORT
            charts_dir = args.charts if args.charts is not None else path.parent / CHARTS
            if path.is_dir():
                return _fail(command, f"{path}: is a folder; --out takes the HTML file")
            problem = unwritable(path.parent) or unwritable(charts_dir)
            if problem:
                return _fail(command, problem)
            from kamabm import deck

            if args.deck and not deck.available():
                return _fail(command, "--deck needs python-pptx: pip install -e '.[deck]'")
            an = analyse(res, n_boot=args.n_boot, typical=args.typical)
            _notes(command, an.notes)
            from kamabm.report import write_report

            written, charts = write_report(an, path, charts_dir=charts_dir)
            print(f"report: {written} ({len(charts)} charts in {charts_dir})",
                  file=sys.stderr)
            if args.deck:
                from kamabm.summary import executive_summary

                slides = deck.write_deck(f"kamabm: {res.experiment.name}",
                                         executive_summary(an), charts,
                                         path.with_suffix(".pptx"))
                print(f"deck: {slides} ({len(charts) + 1} slides)", file=sys.stderr)
            return EXIT_OK
        out = args.out if args.out is not None else args.results / CHARTS
        problem = unwritable(out)
        if problem:
            return _fail(command, problem)
        an = analyse(res, n_boot=args.n_boot, typical=args.typical)
        _notes(command, an.notes)
        from kamabm.plots import make_charts

        charts = make_charts(an, out)
    except ResultsError as exc:
        return _fail(command, str(exc))
    except OSError as exc:
        return _fail(command, f"{exc.filename or ''}: cannot write ({exc.strerror or exc})")
    for chart in charts:
        print(f"{chart.files[0]}: {chart.title}")
    return EXIT_OK


def _notes(command: str, notes: tuple[str, ...]) -> None:
    for note in notes:
        print(f"kamabm {command}: note: {note}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``plot`` or ``report`` on their own: ``python -m kamabm.plot_cli report DIR``."""
    parser = argparse.ArgumentParser(prog="kamabm")
    add_plot_parsers(parser.add_subparsers(dest="command", required=True))
    return run_plot_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
