"""The ``kamabm plot`` command: draw the charts of a sweep's results.

Bad input (a missing or unreadable results folder, results of an experiment no chart
fits, an output folder that cannot be written) gets a one-line message on stderr and exit
status 2, with no traceback. Matplotlib is imported only when a command runs; the model
never is: the charts draw what the sweep kept. The options and checks it shares with
``kamabm report`` (:mod:`kamabm.cli.report`) are here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kamabm.cli.common import EXIT_OK, fail, positive_int, say, unwritable

COMMAND = "plot"
CHARTS = "charts"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``plot`` command to an ``argparse`` sub-parser collection.

    Args:
        commands: what ``ArgumentParser.add_subparsers()`` returned; the command sets
            ``args.command`` to ``"plot"`` (with ``dest="command"``). Call :func:`run`
            with the parsed arguments.

    """
    plot = commands.add_parser(
        "plot", help="draw the charts of a sweep's results (PNG, SVG and CSV)",
        description="Draw the charts an experiment's results call for (capture phase "
                    "diagram and boundary, margins, erosion, interventions, hysteresis, "
                    "typical runs), each as PNG (300 dpi) and SVG with a CSV of the "
                    "plotted numbers, plus summary.csv (and boundary.csv).")
    plot.add_argument("results", type=Path, metavar="RESULTS_DIR",
                      help="results folder written by 'kamabm sweep'")
    plot.add_argument("--out", type=Path, default=None, metavar="DIR",
                      help=f"folder for the charts (default RESULTS_DIR/{CHARTS})")
    add_analysis_arguments(plot)
    return plot


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of the analysis ``plot`` and ``report`` both run."""
    parser.add_argument("--n-boot", type=positive_int, default=500, metavar="N",
                        help="bootstrap resamples for the capture boundary (default 500)")
    parser.add_argument("--no-typical-runs", dest="typical", action="store_false",
                        help="leave out the two typical runs the sweep kept")


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm plot`` with parsed arguments.

    Remarks on the results (runs missing from an interrupted sweep, a chart the design
    calls for that the runs cannot give) are printed on stderr, one line each; what can
    be drawn is drawn. A folder a sweep is writing now is refused.

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
        out = args.out if args.out is not None else args.results / CHARTS
        problem = unwritable(out)
        if problem:
            return fail(COMMAND, problem)
        an = analyse(res, n_boot=args.n_boot, typical=args.typical)
        print_notes(COMMAND, an.notes)
        from kamabm.cli.outputs import in_target, staged
        from kamabm.report.plots import make_charts

        with staged(out) as tmp:  # every chart, or none
            shown = [(in_target(c.files[0], tmp, out), c.title) for c in make_charts(an, tmp)]
    except ResultsError as exc:
        return fail(COMMAND, str(exc))
    except OSError as exc:
        return fail(COMMAND, cannot_write(exc, out))
    for first, title in shown:
        print(f"{first}: {title}")
    return EXIT_OK


def in_use(results: Path) -> str | None:
    """Why ``results`` cannot be read now (a sweep is writing it), or ``None``.

    A sweep writing the folder may rewrite or remove its charts and report.
    """
    from kamabm.experiments.lock import FolderLockedError, check_unlocked

    try:
        check_unlocked(results)
    except FolderLockedError as exc:
        return str(exc)
    return None


def cannot_write(exc: OSError, where: Path | None = None) -> str:
    """One line for a file that could not be written (in the output folder ``where``)."""
    return f"{where or exc.filename or ''}: cannot write ({exc.strerror or exc})"


def print_notes(command: str, notes: tuple[str, ...]) -> None:
    """Print the analysis' remarks on the results on stderr, one line each."""
    for note in notes:
        say(command, f"note: {note}")
