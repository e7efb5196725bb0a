"""Running an experiment: every (design point, replication) through a run function.

The sweep knows nothing of the model beyond the run function's contract,
``run_fn(params, seed, *, keep_series=()) -> {outcome: float | None, "series": {...}}``
(the default is :func:`kamabm.run.run_one`). Runs are grouped in chunks of consecutive
runs; each chunk is computed by one worker and stored as one part, so results stream to
disk, memory stays flat, and an interrupted sweep resumes where it stopped.

Backends: the calling process (one worker), a local process pool, or Dask distributed
(an existing scheduler, or a local cluster). Each run depends only on its parameters and
seed, so the results are the same whatever the backend and the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from kamabm.experiment import Experiment, Number, RunSpec
from kamabm.params import Parameters
from kamabm.store import ResultsStore, environment, now

RunFunction = Callable[..., Mapping[str, Any]]
Task = tuple[int, str, int, int, int, dict[str, Number]]
Chunk = list[Task]

# `import mesa` (3.3) switches the global start method to spawn; choosing the context
# here keeps the pool the same whoever imported what, on every platform.
START_METHOD = "spawn"
META_COLUMNS = ("run", "key", "point", "replication", "seed")
STATUS_OK, STATUS_ERROR = "ok", "error"
# Enough chunks per worker to balance the load, few enough that storing them is cheap.
_CHUNKS_PER_WORKER = 16
_MAX_CHUNK = 100
#: Runs a local worker process does before it is replaced by a fresh one.
RUNS_PER_PROCESS = 2000


class SweepError(RuntimeError):
    """The sweep could not be carried out (not a failed run, which is recorded)."""


@dataclass(frozen=True)
class SweepSummary:
    """What a call of :func:`run_sweep` did.

    Attributes:
        experiment: the experiment's name.
        directory: the results folder.
        runs_total: runs in the experiment.
        runs_resumed: runs already stored before this call.
        runs_now: runs computed by this call.
        failures: failed runs in the whole folder.
        wall_time: seconds this call took.
        backend: how the runs were computed, e.g. ``"local x2"``.

    """

    experiment: str
    directory: Path
    runs_total: int
    runs_resumed: int
    runs_now: int
    failures: int
    wall_time: float
    backend: str


def default_run_function() -> RunFunction:
    """:func:`kamabm.run.run_one`, imported only when needed (it imports Mesa)."""
    from kamabm.run import run_one

    return run_one


def default_outcomes() -> tuple[str, ...]:
    """The outcome names of :func:`kamabm.run.run_one`."""
    from kamabm.run import OUTCOMES

    return tuple(OUTCOMES)


def function_name(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function, as recorded in the manifest."""
    return f"{fn.__module__}:{fn.__qualname__}"


def results_schema(outcomes: Sequence[str]) -> pa.Schema:
    """Arrow schema of the runs table: run metadata, all parameters, outcomes, status."""
    clash = set(outcomes) & (set(META_COLUMNS) | set(Parameters.names()) | {"status", "error"})
    if clash:
        raise SweepError(f"outcome names clash with column names: {sorted(clash)}")
    fields = [pa.field("run", pa.int64()), pa.field("key", pa.string()),
              pa.field("point", pa.int64()), pa.field("replication", pa.int64()),
              pa.field("seed", pa.int64())]
    fields += [pa.field(n, pa.int64() if Parameters.is_integer(n) else pa.float64())
               for n in Parameters.names()]
    fields += [pa.field(n, pa.float64()) for n in outcomes]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string())]
    return pa.schema(fields)


def series_schema(series: Sequence[str]) -> pa.Schema:
    """Arrow schema of the series table (long format: one row per run and month)."""
    return pa.schema([pa.field("run", pa.int64()), pa.field("key", pa.string()),
                      pa.field("month", pa.int64())]
                     + [pa.field(n, pa.float64()) for n in series])


def run_chunk(run_fn: RunFunction, base: Parameters, tasks: Chunk,
              outcomes: Sequence[str], series: Sequence[str]
              ) -> tuple[pa.Table, pa.Table | None]:
    """Compute a chunk of runs; a run that raises is recorded with its traceback.

    Args:
        run_fn: the run function.
        base: the parameters the runs share; each run changes its design point's.
        tasks: ``(run, key, point, replication, seed, values)`` of each run.
        outcomes: outcome names to keep.
        series: series names to keep (none: ``keep_series`` is not passed).

    Returns:
        The runs table and, if series are kept, the series table.

    """
    shared = base.as_dict()
    rows: list[dict[str, Any]] = []
    months: dict[str, list[Any]] = {name: [] for name in ("run", "key", "month", *series)}
    for run, key, point, replication, seed, values in tasks:
        row: dict[str, Any] = {"run": run, "key": key, "point": point,
                               "replication": replication, "seed": seed, **shared, **values}
        try:
            kwargs = {"keep_series": tuple(series)} if series else {}
            result = run_fn(base.replace(**values), seed, **kwargs)
            kept = {name: _outcome(result, name) for name in outcomes}
            columns = _series(result, series) if series else {}
        except Exception:  # noqa: BLE001 -- fault isolation: record it, go on
            row.update(dict.fromkeys(outcomes), status=STATUS_ERROR,
                       error=traceback.format_exc())
        else:
            row.update(kept, status=STATUS_OK, error=None)
            n = len(next(iter(columns.values()))) if columns else 0
            months["run"] += [run] * n
            months["key"] += [key] * n
            months["month"] += list(range(1, n + 1))
            for name, values_ in columns.items():
                months[name] += values_
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=results_schema(outcomes))
    if not series:
        return table, None
    return table, pa.Table.from_pydict(months, schema=series_schema(series))


def _outcome(result: Mapping[str, Any], name: str) -> float | None:
    if name not in result:
        raise KeyError(f"the run function reported no outcome {name!r}")
    value = result[name]
    return None if value is None else float(value)


def _series(result: Mapping[str, Any], names: Sequence[str]) -> dict[str, list[float]]:
    kept = result.get("series", {})
    columns = {name: [float(x) for x in kept[name]] for name in names}
    if len({len(c) for c in columns.values()}) > 1:
        raise ValueError("the kept series have different lengths")
    return columns


# --- backends ----------------------------------------------------------------------------
class _Backend(AbstractContextManager):
    """Computes chunks; :meth:`map` yields results as chunks finish, any order."""

    label = "in-process"
    workers = 1

    def map(self, job: Callable[[Chunk], Any], chunks: Iterable[Chunk],
            chunk_size: int = 1) -> Iterator[Any]:
        for chunk in chunks:
            yield job(chunk)

    def __exit__(self, *exc: object) -> None:
        return None


def _bounded(submit: Callable[[Chunk], Any], wait_first: Callable[[set[Any]], Any],
             chunks: Iterable[Chunk], in_flight: int) -> Iterator[Any]:
    # At most `in_flight` chunks are queued, so neither side holds the whole sweep.
    pending: set[Any] = set()
    for chunk in chunks:
        pending.add(submit(chunk))
        while len(pending) >= in_flight:
            done, pending = wait_first(pending)
            for future in done:
                yield future.result()
    while pending:
        done, pending = wait_first(pending)
        for future in done:
            yield future.result()


class _LocalPool(_Backend):
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.label = f"local x{workers}"
        self.pool: ProcessPoolExecutor | None = None

    def map(self, job: Callable[[Chunk], Any], chunks: Iterable[Chunk],
            chunk_size: int = 1) -> Iterator[Any]:
        # Mesa < 3.4 keeps every model ever made alive (Agent._ids, mesa/mesa#3179), about
        # 75 kB a run here; fresh worker processes now and then keep memory flat.
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context(START_METHOD),
            max_tasks_per_child=max(1, RUNS_PER_PROCESS // chunk_size))

        def first(pending: set[Any]) -> Any:
            return wait_futures(pending, return_when=FIRST_COMPLETED)

        pool = self.pool
        yield from _bounded(lambda c: pool.submit(job, c), first, chunks, 2 * self.workers)

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)


class _Dask(_Backend):
    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        try:
            import distributed
        except ImportError:
            raise SweepError("the Dask backend needs the dask extra: "
                             "pip install 'kamabm[dask]'") from None
        self.distributed = distributed
        self.cluster = None
        try:
            if scheduler is not None:
                self.client = distributed.Client(scheduler, timeout="10s")
                self.label = f"dask {scheduler}"
            else:
                import logging

                self.cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster)
                self.label = f"dask local x{workers}"
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        self.workers = max(1, len(self.client.scheduler_info()["workers"]))

    def map(self, job: Callable[[Chunk], Any], chunks: Iterable[Chunk],
            chunk_size: int = 1) -> Iterator[Any]:
        def first(pending: set[Any]) -> tuple[set[Any], set[Any]]:
            done, rest = self.distributed.wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(rest)

        def submit(chunk: Chunk) -> Any:
            return self.client.submit(job, chunk, pure=False)

        yield from _bounded(submit, first, chunks, 2 * self.workers)

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_backend(*, workers: int | None = None, scheduler: str | None = None,
                 dask_workers: int | None = None) -> _Backend:
    """The backend for the given options: Dask if asked, else local processes.

    Args:
        workers: local worker processes (default: all cores); 1 runs in this process.
        scheduler: address of a Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
        dask_workers: start a local Dask cluster with this many worker processes.

    """
    if scheduler is not None or dask_workers is not None:
        return _Dask(scheduler, dask_workers)
    n = workers if workers is not None else (os.cpu_count() or 1)
    return _Backend() if n == 1 else _LocalPool(n)


# --- the sweep ---------------------------------------------------------------------------
def chunked(runs: Iterable[RunSpec], size: int) -> Iterator[Chunk]:
    """Group runs into chunks of at most ``size`` consecutive runs (never across a gap)."""
    chunk: Chunk = []
    for spec in runs:
        if chunk and (len(chunk) == size or spec.run != chunk[-1][0] + 1):
            yield chunk
            chunk = []
        chunk.append((spec.run, spec.key, spec.point, spec.replication, spec.seed,
                      spec.values))
    if chunk:
        yield chunk


class _Job:
    """The picklable work of one chunk: ``run_chunk`` with the sweep's fixed arguments."""

    def __init__(self, run_fn: RunFunction, base: Parameters,
                 outcomes: Sequence[str], series: Sequence[str]) -> None:
        self.args = (run_fn, base)
        self.outcomes, self.series = tuple(outcomes), tuple(series)

    def __call__(self, chunk: Chunk) -> tuple[pa.Table, pa.Table | None]:
        return run_chunk(*self.args, chunk, self.outcomes, self.series)


def run_sweep(experiment: Experiment, directory: str | Path, *,
              run_fn: RunFunction | None = None, outcomes: Sequence[str] | None = None,
              workers: int | None = None, scheduler: str | None = None,
              dask_workers: int | None = None, overwrite: bool = False,
              progress: bool = True, chunk_size: int | None = None,
              command: str | None = None) -> SweepSummary:
    """Run every missing run of an experiment and store the results in ``directory``.

    Args:
        experiment: the experiment.
        directory: the results folder; runs already stored there are not run again.
        run_fn: the run function (default :func:`kamabm.run.run_one`); it must be
            picklable, i.e. defined at module level.
        outcomes: outcomes to keep when the experiment does not say (default: those of
            :func:`kamabm.run.run_one`).
        workers: local worker processes (default: all cores).
        scheduler: Dask scheduler address.
        dask_workers: size of a local Dask cluster.
        overwrite: replace a folder holding results of another experiment.
        progress: show a progress bar on stderr.
        chunk_size: runs per chunk (default: about 16 chunks per worker, at most 100).
        command: the command line to record (default: ``sys.argv``).

    Returns:
        What was done.

    Raises:
        StoreError: the folder holds something else.
        SweepError: the backend cannot be started or a chunk could not be computed.
        KeyboardInterrupt: after recording the interruption; rerun to resume.

    """
    start = time.perf_counter()
    run_fn = run_fn or default_run_function()
    kept = experiment.outcomes or tuple(outcomes or default_outcomes())
    identity = {"experiment": experiment.digest, "run_function": function_name(run_fn),
                "outcomes": list(kept), "series": list(experiment.series)}
    store = ResultsStore(directory)
    store.check(identity, overwrite=overwrite)
    n_runs = experiment.n_runs
    with ExitStack() as stack:
        backend = stack.enter_context(open_backend(
            workers=workers, scheduler=scheduler, dask_workers=dask_workers))
        store.open(identity, overwrite=overwrite)
        done = store.done_runs()
        manifest = _manifest(store, experiment, identity, n_runs)
        session = {"command": command or " ".join(sys.argv), "backend": backend.label,
                   "started": now(), "finished": None, "runs_run": 0, **environment()}
        manifest["sessions"].append(session)
        manifest["status"] = "running"
        store.write_manifest(manifest)
        size = chunk_size or max(1, min(_MAX_CHUNK, (n_runs - len(done))
                                        // (_CHUNKS_PER_WORKER * backend.workers)))
        todo = (spec for spec in experiment.runs() if spec.run not in done)
        job = _Job(run_fn, experiment.base, kept, experiment.series)
        bar = stack.enter_context(tqdm(total=n_runs - len(done), unit="run",
                                       desc=experiment.name, disable=not progress,
                                       dynamic_ncols=True))
        try:
            for runs, series in backend.map(job, chunked(todo, size), size):
                store.write_part(runs, series)
                session["runs_run"] += runs.num_rows
                bar.update(runs.num_rows)
        except BaseException as exc:
            session["finished"] = now()
            interrupted = isinstance(exc, KeyboardInterrupt)
            manifest.update(status="interrupted" if interrupted else "failed",
                            runs_done=len(store.done_runs()))
            store.write_manifest(manifest)
            if interrupted or isinstance(exc, SweepError):
                raise
            raise SweepError(f"the sweep stopped: {type(exc).__name__}: {exc}") from exc
    failures = store.consolidate(n_runs)
    session["finished"] = now()
    manifest.update(status="complete", runs_done=n_runs, failures=failures,
                    finished=session["finished"])
    store.write_manifest(manifest)
    return SweepSummary(experiment.name, store.directory, n_runs, len(done),
                        session["runs_run"], failures, time.perf_counter() - start,
                        backend.label)


def _manifest(store: ResultsStore, experiment: Experiment, identity: Mapping[str, Any],
              n_runs: int) -> dict[str, Any]:
    old = store.read_manifest()
    if old is not None and old.get("identity") == dict(identity):
        return old
    path = experiment.path
    return {
        "format": 1,
        "identity": dict(identity),
        "experiment": {"name": experiment.name, "path": str(path) if path else None,
                       "digest": experiment.digest, "text": experiment.text,
                       "uncertainties": list(experiment.uncertainties),
                       "levers": list(experiment.levers),
                       "design": experiment.design.method,
                       "replications": experiment.replications, "seed": experiment.seed,
                       "common_random_numbers": experiment.common_random_numbers},
        "status": "running",
        "started": now(),
        "finished": None,
        "runs_planned": n_runs,
        "runs_done": 0,
        "failures": 0,
        "sessions": [],
    }
