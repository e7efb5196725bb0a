"""``kamabm screen FILE``: Morris screening of every parameter and structural constant.

The runs go through the sweep's runner into ``<out>/sweep/`` (a chunk of runs a call of
the model's batch door, on the compiled engine unless ``--engine mesa``), stored as they
finish, so a screening stopped in any way resumes where it stopped, saying so; runs of
another screening file or of other model code are refused; its workers are started with
``spawn`` and leave by themselves if the command is killed. The runs table, indices,
manifest and chart are written into a temporary folder and moved into place once all are
written.

Exit status: 0 success; 1 some runs raised (recorded in runs.csv, their trajectories left
out), or the workers could not be started; 2 bad input (an unknown ``--engine`` among
them) (one line naming the file and key), a folder in the way, or output that
does not fit (a full disk, a read-only folder: one line); 130 interrupted by Ctrl-C,
128 + N by signal N (143 for SIGTERM), with one line saying how to resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kamabm.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_engine_argument,
    fail,
    interrupted,
    say,
    unwritable,
    workers_problem,
)
from kamabm.cli.outputs import cannot_write, in_target, staged

COMMAND = "screen"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``screen`` sub-command on ``commands``."""
    parser = commands.add_parser(
        "screen", help="Morris screening of all parameters and structural constants",
        description="Run a Morris screening (SALib elementary effects) over every field of "
                    "the parameter object, structural constants included, and write mu*, "
                    "sigma and their intervals with a chart. Resumes when run again.")
    parser.add_argument("file", type=Path, help="screening file (TOML), e.g. "
                        "experiments/screening.toml")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="results folder (default results/<name>)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: all cores)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard stored runs of a different screening, or of other "
                             "model code, in --out")
    add_engine_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm screen`` with parsed arguments; return the exit status."""
    from kamabm.experiments.screening import (
        ScreeningError,
        kept_factors,
        load_screening,
        run_screening,
    )

    try:
        screening = load_screening(args.file)
    except ScreeningError as exc:
        return fail(None, str(exc))
    problem = workers_problem(args.workers)
    if problem:
        return fail(None, problem)
    out = args.out or Path("results") / screening.name
    problem = unwritable(out, option="--out")
    if problem:
        return fail(None, problem)
    if not args.quiet:
        print(f"{screening.name}: {len(screening.factors)} factors, {screening.n_runs} runs "
              f"-> {out}", file=sys.stderr)
    from kamabm.experiments.lock import FolderLockedError, folder_lock
    from kamabm.experiments.screening import SWEEP
    from kamabm.experiments.sweep import SweepError
    from kamabm.report.charts.screening import chart_title, plot_screening

    def stopped(how: str) -> str:
        return (f"{how}; the runs finished are kept in {out / SWEEP}, run the same "
                "command again to resume")

    try:
        with folder_lock(out, purpose="screening"):  # through the report too
            with staged(out) as tmp:
                summary = run_screening(screening, out, workers=args.workers,
                                        overwrite=args.overwrite, progress=not args.quiet,
                                        notify=lambda line: say(COMMAND, line), results=tmp,
                                engine=args.engine)
                files = [in_target(f, tmp, out) for f in plot_screening(
                    summary.indices, tmp / "charts", title=chart_title(summary.indices))]
    except ScreeningError as exc:
        return fail(None, str(exc))
    except FolderLockedError as exc:
        return fail(COMMAND, str(exc), label=None)
    except SweepError as exc:
        return fail(COMMAND, str(exc), EXIT_FAILURE, label=None)
    except KeyboardInterrupt as exc:  # a signal (SweepInterrupted) or Ctrl-C
        return interrupted(COMMAND, exc, stopped)
    except OSError as exc:
        return fail(COMMAND, cannot_write(exc, out) + "; the runs finished are kept, run "
                    "the same command again once there is room", EXIT_USAGE, label=None)
    for outcome, table in summary.indices.groupby("outcome", sort=False):
        top = ", ".join(f"{r.parameter} {r.mu_star:.3g}" for r in table.head(5).itertuples())
        print(f"{outcome}: {top}")
    kept = kept_factors(summary.indices, screening.keep_share)
    print(f"kept for Sobol ({len(kept)} of {len(screening.factors)}, mu* >= "
          f"{screening.keep_share:g} x the largest): {', '.join(kept)}")
    print(f"{summary.runs_now} runs now, {summary.runs_resumed} resumed, "
          f"{summary.failed} failed, {summary.wall_time:.1f} s; chart {files[0]}",
          file=sys.stderr)
    return EXIT_FAILURE if summary.failed else EXIT_OK
