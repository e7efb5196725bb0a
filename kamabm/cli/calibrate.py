"""``kamabm calibrate FILE``: fit structural constants to published numbers by ABC-SMC.

The fit is reproducible: the same file and seed give the same posterior whatever the
number of workers (said in its last line and manifest). Its workers are started with
``spawn`` and leave by themselves if the command is killed; SIGTERM and Ctrl-C stop them
and end the command with one line saying how to resume; run again, the fit resumes from
the generations its history (``abc.db``) holds, saying so. The posterior, tables, charts
and manifest are written into a temporary folder and moved into place once all are
written.

The model runs on the compiled engine unless ``--engine mesa`` (the same numbers).

Exit status: 0 success; 2 bad input (one line naming the file and key, or an unknown
``--engine``), pyabc missing, a
folder in the way, or output that does not fit (a full disk, a read-only folder: one
line); 130 interrupted by Ctrl-C, 128 + N by signal N (143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kamabm.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_engine_argument,
    fail,
    interrupted,
    say,
    unwritable,
    workers_problem,
)
from kamabm.cli.outputs import cannot_write, in_target, is_write_error, staged, write_error

COMMAND = "calibrate"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``calibrate`` sub-command on ``commands``."""
    parser = commands.add_parser(
        "calibrate", help="fit structural constants to published numbers (ABC-SMC, pyabc)",
        description="Fit the constants a calibration file lists to its published targets by "
                    "ABC-SMC (pyabc; pip install -e '.[calibrate]'), write the posterior, "
                    "each target against the model, and charts. Resumes when run again.")
    parser.add_argument("file", type=Path, help="calibration file (TOML), e.g. "
                        "experiments/calibration.toml")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="results folder (default results/<name>, results/<name>-quick "
                             "with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny fit (8 particles, 2 generations, 1 replication, at most "
                             "24 months) to try the pipeline")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: all cores); the posterior "
                             "does not depend on it")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="sample on an existing Dask cluster (tcp://HOST:PORT)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard the history of a different calibration in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_engine_argument(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out ``kamabm calibrate`` with parsed arguments; return the exit status."""
    from kamabm.experiments.calibration import CalibrationError, load_calibration
    from kamabm.experiments.calibration_fit import DB, constants_table, fit, generations_stored
    from kamabm.experiments.lock import FolderLockedError, folder_lock

    try:
        calibration = load_calibration(args.file)
    except CalibrationError as exc:
        return fail(None, str(exc))
    problem = workers_problem(args.workers)
    if problem:
        return fail(None, problem)
    if args.quick:
        calibration = calibration.quick_version()
    out = args.out or Path("results") / (calibration.name + ("-quick" if args.quick else ""))
    problem = unwritable(out, option="--out")
    if problem:
        return fail(None, problem)
    if not args.quiet:
        for name in calibration.skipped:
            print(f"target {name} left out: the model does not report its outcome",
                  file=sys.stderr)
        print(f"{calibration.name}: {len(calibration.targets)} targets, fitting "
              f"{', '.join(p.name for p in calibration.priors)}; "
              f"{calibration.runs_per_particle} runs per particle -> {out}", file=sys.stderr)

    def stopped(how: str) -> str:
        g = generations_stored(out)
        kept = (f"generations 0 to {g - 1} are kept in {out / DB}" if g else
                f"no generation had finished ({out / DB})")
        return f"{how}; {kept}, run the same command again to resume at generation {g}"

    try:
        with folder_lock(out, purpose="calibration"):  # through the report too
            with staged(out) as tmp:
                summary = fit(calibration, out, workers=args.workers, scheduler=args.scheduler,
                              overwrite=args.overwrite, progress=not args.quiet,
                              notify=lambda line: say(COMMAND, line), results=tmp,
                              engine=args.engine)
                from kamabm.report.charts.calibration import plot_calibration

                files = [in_target(f, tmp, out) for f in plot_calibration(
                    summary.targets, summary.posterior, calibration, tmp / "charts",
                    epsilon=summary.epsilon)]
    except CalibrationError as exc:
        return fail(None, str(exc))
    except FolderLockedError as exc:
        return fail(COMMAND, str(exc), label=None)
    except KeyboardInterrupt as exc:  # a signal (SweepInterrupted) or Ctrl-C
        return interrupted(COMMAND, exc, stopped)
    except Exception as exc:
        if not is_write_error(exc):  # a bug: its traceback says where
            raise
        return fail(COMMAND, cannot_write(write_error(exc), out) + "; the finished "
                    "generations are kept, run the same command again once there is room",
                    EXIT_USAGE, label=None)
    by_name = {t.name: t for t in calibration.targets}
    for row in summary.targets.itertuples():
        print(f"{row.target}: published {by_name[row.target].wanted}, model "
              f"{row.posterior_mean:.4g} [{row.posterior_low:.4g}, {row.posterior_high:.4g}]"
              f" ({'met' if row.matched else 'missed'})")
    for row in constants_table(summary.posterior, calibration).itertuples():
        print(f"{row.constant}: posterior median {row.posterior_median:.4g}, central half "
              f"[{row.posterior_q25:.4g}, {row.posterior_q75:.4g}] (prior [{row.prior_low:g}, "
              f"{row.prior_high:g}] {row.scale}; {'pinned' if row.pinned else 'not pinned'}: "
              f"central half {row.narrowing:.0%} of the prior's; default {row.default:g})")
    print(f"{summary.generations} generations, {summary.simulations} particles simulated, "
          f"stopped: {summary.stopped_because}; {summary.wall_time:.1f} s; "
          f"posterior {out / 'posterior.csv'}, chart {files[0]}", file=sys.stderr)
    print("reproducible: the same file and seed give this posterior on any number of "
          "workers (each particle seeded by its place in its generation)", file=sys.stderr)
    return EXIT_OK
