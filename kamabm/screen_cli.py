"""``kamabm screen FILE``: Morris screening of every parameter and structural constant.

Exit status: 0 success, 1 some runs raised (recorded in runs.csv, their trajectories left
out), 2 bad input (one line naming the file and key).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_screen_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``screen`` sub-command on ``commands``."""
    parser = commands.add_parser(
        "screen", help="Morris screening of all parameters and structural constants",
        description="Run a Morris screening (SALib elementary effects) over every field of "
                    "the parameter object, structural constants included, and write mu*, "
                    "sigma and their intervals with a chart. Resumes when run again.")
    _arguments(parser)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="screening file (TOML), e.g. "
                        "experiments/screening.toml")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="results folder (default results/<name>)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: all cores)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard stored runs of a different screening in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run_screen_command(args: argparse.Namespace) -> int:
    """Carry out ``kamabm screen`` with parsed arguments; return the exit status."""
    from kamabm.screening import (
        ScreeningError,
        chart_title,
        kept_factors,
        load_screening,
        plot_screening,
        run_screening,
    )

    try:
        screening = load_screening(args.file)
    except ScreeningError as exc:
        return _fail(str(exc))
    if args.workers is not None and args.workers < 1:
        return _fail(f"--workers {args.workers}: expected a whole number >= 1")
    out = args.out or Path("results") / screening.name
    if not args.quiet:
        print(f"{screening.name}: {len(screening.factors)} factors, {screening.n_runs} runs "
              f"-> {out}", file=sys.stderr)
    try:
        summary = run_screening(screening, out, workers=args.workers,
                                overwrite=args.overwrite, progress=not args.quiet)
    except ScreeningError as exc:
        return _fail(str(exc))
    files = plot_screening(summary.indices, out / "charts", title=chart_title(summary.indices))
    for outcome, table in summary.indices.groupby("outcome", sort=False):
        top = ", ".join(f"{r.parameter} {r.mu_star:.3g}" for r in table.head(5).itertuples())
        print(f"{outcome}: {top}")
    kept = kept_factors(summary.indices, screening.keep_share)
    print(f"kept for Sobol ({len(kept)} of {len(screening.factors)}, mu* >= "
          f"{screening.keep_share:g} x the largest): {', '.join(kept)}")
    print(f"{summary.runs_now} runs now, {summary.runs_resumed} resumed, "
          f"{summary.failed} failed, {summary.wall_time:.1f} s; chart {files[0]}",
          file=sys.stderr)
    return EXIT_FAILED if summary.failed else EXIT_OK


def _fail(message: str) -> int:
    print(f"kamabm: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kamabm screen`` on its own (``python -m kamabm.screen_cli FILE``)."""
    parser = argparse.ArgumentParser(prog="kamabm screen", description=__doc__)
    _arguments(parser)
    return run_screen_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
