"""The ``kamabm sweep`` command: parse options, run the sweep, report.

Bad input (a broken experiment file, contradicting options, a design above
``--max-runs``, a results folder made by another experiment or other model code, or one
that another sweep is writing, a folder that cannot be written) gets a one-line message on
stderr and exit status 2, and nothing is written. Exit status 1 means the sweep finished
but some runs failed (their tracebacks are in the ``error`` column), or the sweep could
not go on; 130 means it was interrupted by Ctrl-C, 128 + N by signal N (143 for SIGTERM),
and it resumes when the same command is run again.

A finished sweep keeps, beside its runs, what its report shows and cannot read off the
runs table: two typical runs month by month (kept by the runner) and, for a two-factor
map, its capture boundary as a table of the folder (kept here, after any refinement), so
that ``kamabm report`` never runs the model and other folders read the estimate.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

from kamabm.analysis.results import BOUNDARY_ENTRY, ResultsError, load
from kamabm.analysis.tables import capture_boundaries
from kamabm.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_engine_argument,
    fail,
    interrupted,
    say,
)
from kamabm.experiments.backends import available_cores
from kamabm.experiments.design import DEFAULT_MAX_RUNS, ExperimentError
from kamabm.experiments.files import load_experiment
from kamabm.experiments.lock import FolderLockedError, folder_lock
from kamabm.experiments.provenance import code_version
from kamabm.experiments.refine import RefineError, RefineSummary, check_refinable, refine_boundary
from kamabm.experiments.store import (
    BOUNDARY_TABLE,
    RUNS_CSV,
    RUNS_PARQUET,
    SERIES_PARQUET,
    TYPICAL_RUNS,
    ResultsStore,
    StoreError,
)
from kamabm.experiments.sweep import (
    RunFunction,
    SweepError,
    SweepSummary,
    default_run_function,
    run_sweep,
    sweep_identity,
)

COMMAND = "sweep"
#: Bootstrap resamples of the capture boundary a map's folder keeps (the report's default).
BOUNDARY_BOOT = 500
# A Dask scheduler address: PROTOCOL://HOST:PORT or HOST:PORT.
_ADDRESS = re.compile(r"((tcp|tls|ucx|inproc|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]*[A-Za-z0-9\]]"
                      r":\d{1,5}")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` command to an ``argparse`` sub-parser collection.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The new sub-parser; call :func:`run` with its parsed arguments.

    """
    parser = subparsers.add_parser(
        "sweep", help="run an experiment file (all design points and replications)",
        description="Run every design point and replication of an experiment file, "
                    "storing results under results/<experiment name>/. Running the same "
                    "command again after an interruption runs only the missing runs.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sweep's arguments to ``parser``."""
    parser.add_argument("experiment", type=Path, help="experiment file (TOML)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: all cores; 1 runs in-process)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="results folder (default: results/<experiment name>)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no summary")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results already in the folder, even of another "
                             "experiment")
    parser.add_argument("--scheduler", default=None, metavar="ADDR",
                        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--dask-workers", type=int, default=None, metavar="N",
                        help="start a local Dask cluster with N worker processes")
    parser.add_argument("--refine", action="store_true",
                        help="then add runs near the capture boundary (share x pressure "
                             "grids) until its confidence band is narrower than "
                             "--refine-width")
    parser.add_argument("--refine-width", type=float, default=0.05, metavar="W",
                        help="widest acceptable band of the boundary, in client revenue "
                             "share (default 0.05)")
    parser.add_argument("--refine-rounds", type=int, default=3, metavar="N",
                        help="most rounds of refinement (default 3)")
    parser.add_argument("--max-runs", type=int, default=DEFAULT_MAX_RUNS, metavar="N",
                        help="refuse an experiment of more runs than this (default "
                             f"{DEFAULT_MAX_RUNS:,})")
    add_engine_argument(parser)


def run(args: argparse.Namespace, *, run_fn: RunFunction | None = None,
        outcomes: Sequence[str] | None = None) -> int:
    """Carry out ``kamabm sweep`` with parsed arguments.

    Args:
        args: the parsed arguments of :func:`add_parser`'s parser.
        run_fn: run function (default :func:`kamabm.model.run.run_one`); for tests.
        outcomes: the outcome names ``run_fn`` reports, when it is not the default.

    Returns:
        The exit status: 0 done, 1 some runs failed or the sweep stopped, 2 bad input,
        130 interrupted.

    """
    try:
        _check_options(args)
        known_outcomes: tuple[str, ...] | None
        known_series: tuple[str, ...] | None
        if run_fn is None:
            from kamabm.model.run import OUTCOMES, SERIES

            known_outcomes, known_series = tuple(OUTCOMES), tuple(SERIES)
        else:
            known_outcomes, known_series = (tuple(outcomes) if outcomes else None), None
        experiment = load_experiment(args.experiment, known_outcomes=known_outcomes,
                                     known_series=known_series)
        experiment.check_size(args.max_runs)
        if args.refine:
            check_refinable(experiment)
    except (ExperimentError, _UsageError, RefineError) as exc:
        return fail(COMMAND, str(exc), EXIT_USAGE, label=None)
    for warning in experiment.warnings:
        say(COMMAND, f"warning: {experiment.path}: {warning}")
    cores = available_cores()
    if args.workers is not None and args.workers > cores:
        say(COMMAND, f"warning: --workers {args.workers} is more than the {cores} cores "
            "available; the workers will share them")
    out = args.out if args.out is not None else Path("results") / experiment.name
    try:
        # Checked before the lock is taken (which creates the folder): a refused folder
        # is left exactly as it was. run_sweep checks again under the lock.
        code = code_version(run_fn or default_run_function())
        identity = sweep_identity(experiment, run_fn, known_outcomes, code=code)
        ResultsStore(out).check(identity, overwrite=args.overwrite, code=code)
        with folder_lock(out):  # held through refinement too
            summary = run_sweep(experiment, out, run_fn=run_fn, outcomes=known_outcomes,
                                workers=args.workers, scheduler=args.scheduler,
                                dask_workers=args.dask_workers, overwrite=args.overwrite,
                                progress=not args.quiet, max_runs=args.max_runs,
                                engine=args.engine)
            if not args.quiet:
                print(_summary(summary, bool(experiment.series)))
            if args.refine and not summary.failures:
                refined = refine_boundary(experiment, out, target=args.refine_width,
                                          max_rounds=args.refine_rounds, run_fn=run_fn,
                                          workers=args.workers, scheduler=args.scheduler,
                                          dask_workers=args.dask_workers,
                                          progress=not args.quiet, typical_runs=False,
                                          engine=args.engine)
                if not args.quiet:
                    print(_refine_summary(refined))
            boundary = keep_boundary(out)
            if not args.quiet and (summary.typical_runs or boundary):
                print(_kept(summary, boundary))
    except (StoreError, FolderLockedError, ExperimentError) as exc:
        return fail(COMMAND, str(exc), EXIT_USAGE, label=None)
    except SweepError as exc:
        return fail(COMMAND, str(exc), EXIT_FAILURE, label=None)
    except KeyboardInterrupt as exc:  # a signal (SweepInterrupted) or Ctrl-C
        return interrupted(COMMAND, exc, lambda how: f"{how}; results so far are in {out}, "
                           "run the same command again to resume")
    except OSError as exc:
        where = exc.filename or out
        return fail(COMMAND, f"{where}: cannot write there ({exc.strerror or exc})",
                    EXIT_USAGE, label=None)
    if summary.failures:
        return fail(COMMAND, f"{summary.failures} of {summary.runs_total} runs failed; "
                    f"their tracebacks are in the error column of {out / RUNS_PARQUET}",
                    EXIT_FAILURE, label=None)
    return EXIT_OK


def keep_boundary(out: Path) -> bool:
    """Keep a map's capture boundary as a table of its results folder, listed in the manifest.

    The estimate is :func:`kamabm.analysis.tables.capture_boundaries` of every stored run
    (refinements included) with the report's default bootstrap; a folder that is no map
    keeps none, and an earlier table is dropped from the manifest.

    Returns:
        Whether the folder now keeps one.

    """
    try:
        res = load(out)
    except ResultsError:  # no successful run: nothing to estimate
        return False
    table = capture_boundaries(res, n_boot=BOUNDARY_BOOT)
    store = ResultsStore(out)
    manifest = store.read_manifest() or {}
    manifest.pop(BOUNDARY_ENTRY, None)
    if table is not None:
        tmp = out / f".tmp-{BOUNDARY_TABLE}"
        table.to_csv(tmp, index=False)
        tmp.replace(out / BOUNDARY_TABLE)
        manifest[BOUNDARY_ENTRY] = {"file": BOUNDARY_TABLE, "along": table["along"].iloc[0],
                                    "across": table["across"].iloc[0],
                                    "n_boot": BOUNDARY_BOOT, "seed": 0,
                                    "runs": len(res.runs)}
    store.write_manifest(manifest)
    return table is not None


def _kept(summary: SweepSummary, boundary: bool) -> str:
    kept = ([TYPICAL_RUNS] if summary.typical_runs else []) + (
        [BOUNDARY_TABLE] if boundary else [])
    return f"kept for the report: {', '.join(kept)}"


def _refine_summary(result: RefineSummary) -> str:
    state = "reached" if result.converged else "not reached"
    return (f"refinement: {result.rounds} rounds, {result.runs_added} runs added; widest "
            f"band {result.widest_band:.3f} (target {result.target:g} {state})")


class _UsageError(ValueError):
    pass


def _check_options(args: argparse.Namespace) -> None:
    for option, value in (("--workers", args.workers), ("--dask-workers", args.dask_workers),
                          ("--max-runs", args.max_runs)):
        if value is not None and value < 1:
            raise _UsageError(f"{option}: expected a whole number >= 1, got {value}")
    if args.refine and not 0.0 < args.refine_width <= 1.0:
        raise _UsageError(f"--refine-width: expected a share in (0, 1], got {args.refine_width}")
    if args.refine and args.refine_rounds < 1:
        raise _UsageError(f"--refine-rounds: expected a whole number >= 1, got "
                          f"{args.refine_rounds}")
    if args.scheduler is not None and not _ADDRESS.fullmatch(args.scheduler):
        raise _UsageError(f"--scheduler {args.scheduler!r}: expected an address such as "
                          "tcp://10.0.0.5:8786")
    if args.scheduler is not None and args.dask_workers is not None:
        raise _UsageError("--scheduler and --dask-workers: give one, not both")
    dask = args.scheduler is not None or args.dask_workers is not None
    if dask and args.workers is not None:
        raise _UsageError("--workers is for local runs; with Dask the cluster sets the workers")
    if dask and importlib.util.find_spec("distributed") is None:
        raise _UsageError("the Dask backend needs the dask extra: pip install 'kamabm[dask]'")
    if not args.experiment.is_file():
        raise _UsageError(f"{args.experiment}: no such experiment file")


def _summary(s: SweepSummary, series: bool) -> str:
    files = ", ".join([RUNS_PARQUET, RUNS_CSV] + ([SERIES_PARQUET] if series else [])
                      + ["manifest.json"])
    resumed = f", {s.runs_resumed} already stored" if s.runs_resumed else ""
    return (f"{s.experiment}: {s.runs_total} runs, {s.failures} failed, {s.runs_now} run "
            f"now{resumed}, wall time {s.wall_time:.1f} s ({s.backend}"
            f"{f', {s.engine} engine' if s.engine else ''})\n"
            f"results: {s.directory}/ ({files})")
