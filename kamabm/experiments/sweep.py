"""Running an experiment: every (design point, replication), chunk by chunk.

The one runner of every workflow that runs the model: sweeps, refinement, Sobol designs,
ensembles and screenings. Runs are grouped in chunks of consecutive runs; each chunk is
computed by one worker and stored as one part, so results stream to disk, memory stays
flat, and an interrupted sweep resumes where it stopped. A chunk of the model's runs is
one call of :func:`kamabm.model.batch.run_many` on the chosen engine (``"compiled"``, the
default, or ``"mesa"``); if that call raises, the chunk's runs are run one by one so that
the failing run is recorded as failed and the others are kept. The engine is recorded in
each session of the manifest; it is not part of the folder's identity, because both
engines give the same numbers (``tests/test_engine_equivalence.py``): a sweep started on
one engine may be resumed on the other.

Tests pass their own run function instead of the model (``run_fn``), with the contract
``run_fn(params, seed, *, keep_series=()) -> {outcome: float | None, "series": {...}}``
of :func:`kamabm.model.run.run_one`; such a sweep calls it run by run.

Backends (:mod:`kamabm.experiments.backends`): the calling process (one worker), a local process
pool, or Dask distributed (an existing scheduler, or a local cluster). Each run depends
only on its parameters and seed, so the results are the same whatever the backend and
the number of workers.

A sweep owns its results folder while it runs (:mod:`kamabm.experiments.lock`); its identity
includes the model's code version, so a resume never mixes runs of two models; its size
is checked before anything is allocated; and SIGINT, SIGTERM or SIGHUP end it cleanly:
workers stopped, the manifest marked ``interrupted``, the folder ready to resume.

A complete sweep of the model (the default run function) also keeps two typical runs
month by month (:mod:`kamabm.experiments.typical`), so that its report draws them without
running the model.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from kamabm.experiments.backends import BackendError, ChunkDropped, check_stop, open_backend
from kamabm.experiments.design import DEFAULT_MAX_RUNS, Experiment, RunSpec
from kamabm.experiments.lock import folder_lock
from kamabm.experiments.provenance import MODEL_MODULES, code_version, environment, now
from kamabm.experiments.store import (
    Notify,
    ResultsStore,
    StoreError,
    sequence_text,
)
from kamabm.experiments.tables import load_results
from kamabm.experiments.typical import ENTRY, keep_typical_runs
from kamabm.model.batch import DEFAULT_ENGINE, check_engine
from kamabm.model.params import Parameters

RunFunction = Callable[..., Mapping[str, Any]]
Chunk = list[RunSpec]

META_COLUMNS = ("run", "key", "point", "replication", "seed")
#: The extra column of an ensemble's runs: which constant set
#: (:class:`~kamabm.experiments.ensemble.Draw`).
DRAW = "draw"
STATUS_OK, STATUS_ERROR = "ok", "error"
# Enough chunks per worker to balance the load, few enough that storing them is cheap.
_CHUNKS_PER_WORKER = 16
#: Most runs in a chunk: about a second's work or more on either engine, so that storing a
#: part (written, synced, read back at the end) stays small beside computing it.
_MAX_CHUNK = 100
_MAX_COMPILED_CHUNK = 400
#: Signals that end a sweep cleanly, as Ctrl-C does (those the platform has).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class SweepError(RuntimeError):
    """The sweep could not be carried out (not a failed run, which is recorded)."""


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was stopped by a signal (SIGTERM, SIGHUP); rerun to resume.

    Attributes:
        signum: the signal's number.

    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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
        typical_runs: whether the folder keeps two typical runs month by month.
        engine: the model's engine this call ran on (``None``: a test's run function).

    """

    experiment: str
    directory: Path
    runs_total: int
    runs_resumed: int
    runs_now: int
    failures: int
    wall_time: float
    backend: str
    typical_runs: bool = False
    engine: str | None = None


def default_run_function() -> RunFunction:
    """:func:`kamabm.model.run.run_one`, imported only when needed (it imports Mesa)."""
    from kamabm.model.run import run_one

    return run_one


def default_outcomes() -> tuple[str, ...]:
    """The outcome names of :func:`kamabm.model.run.run_one`."""
    from kamabm.model.run import OUTCOMES

    return tuple(OUTCOMES)


def function_name(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function, as recorded in the manifest."""
    return f"{fn.__module__}:{fn.__qualname__}"


def results_schema(outcomes: Sequence[str], *, draw: bool = False) -> pa.Schema:
    """Arrow schema of the runs table: run metadata, all parameters, outcomes, status.

    With ``draw`` (an ensemble), a ``draw`` column follows the seed.
    """
    clash = set(outcomes) & (set(META_COLUMNS) | set(Parameters.names())
                             | {"status", "error", DRAW})
    if clash:
        raise SweepError(f"outcome names clash with column names: {sorted(clash)}")
    fields = [pa.field("run", pa.int64()), pa.field("key", pa.string()),
              pa.field("point", pa.int64()), pa.field("replication", pa.int64()),
              pa.field("seed", pa.int64())]
    if draw:
        fields.append(pa.field(DRAW, pa.int64()))
    # one scalar a cell: a list parameter as its canonical text (store.sequence_text)
    fields += [pa.field(n, pa.string() if Parameters.is_sequence(n) else
                        pa.int64() if Parameters.is_integer(n) else pa.float64())
               for n in Parameters.names()]
    fields += [pa.field(n, pa.float64()) for n in outcomes]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string())]
    return pa.schema(fields)


def series_schema(series: Sequence[str]) -> pa.Schema:
    """Arrow schema of the series table (long format: one row per run and month)."""
    return pa.schema([pa.field("run", pa.int64()), pa.field("key", pa.string()),
                      pa.field("month", pa.int64())]
                     + [pa.field(n, pa.float64()) for n in series])


def run_chunk(run_fn: RunFunction | None, base: Parameters, specs: Chunk,
              outcomes: Sequence[str], series: Sequence[str], *,
              engine: str = DEFAULT_ENGINE) -> tuple[pa.Table, pa.Table | None]:
    """Compute a chunk of runs; a run that raises is recorded with its traceback.

    Args:
        run_fn: the run function, called run by run; ``None`` runs the model, the whole
            chunk in one call of :func:`kamabm.model.batch.run_many` (run by run only if
            that call raises, to find the failing run).
        base: the parameters the runs share; each run changes its design point's.
        specs: the runs.
        outcomes: outcome names to keep.
        series: series names to keep (none: ``keep_series`` is not passed).
        engine: the model's engine (``run_fn`` ``None`` only).

    Returns:
        The runs table (with a ``draw`` column when the runs belong to an ensemble) and,
        if series are kept, the series table.

    """
    shared = _cells(base.as_dict())
    rows: list[dict[str, Any]] = []
    months: dict[str, list[Any]] = {name: [] for name in ("run", "key", "month", *series)}
    ensemble = any(spec.draw is not None for spec in specs)
    computed = (_model_results(base, specs, series, engine) if run_fn is None
                else _function_results(run_fn, base, specs, series))
    for spec, result in zip(specs, computed, strict=True):
        run, key = spec.run, spec.key
        row: dict[str, Any] = {"run": run, "key": key, "point": spec.point,
                               "replication": spec.replication, "seed": spec.seed,
                               **shared, **_cells(spec.values)}
        if ensemble:
            row[DRAW] = spec.draw
        try:
            if isinstance(result, _Failed):
                raise result.error
            kept = {name: _outcome(result, name) for name in outcomes}
            columns = _series(result, series) if series else {}
        except Exception:  # noqa: BLE001 -- fault isolation: record it, go on
            row.update(dict.fromkeys(outcomes), status=STATUS_ERROR,
                       error=result.text if isinstance(result, _Failed)
                       else traceback.format_exc())
        else:
            row.update(kept, status=STATUS_OK, error=None)
            n = len(next(iter(columns.values()))) if columns else 0
            months["run"] += [run] * n
            months["key"] += [key] * n
            months["month"] += list(range(1, n + 1))
            for name, values_ in columns.items():
                months[name] += values_
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=results_schema(outcomes, draw=ensemble))
    if not series:
        return table, None
    return table, pa.Table.from_pydict(months, schema=series_schema(series))


class _Failed:
    """A run that raised: the exception and its traceback as text."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.text = traceback.format_exc()


Computed = Mapping[str, Any] | _Failed


def _function_results(run_fn: RunFunction, base: Parameters, specs: Chunk,
                      series: Sequence[str]) -> list[Computed]:
    """Each run's result from ``run_fn``, run by run (a run that raises: :class:`_Failed`)."""
    kwargs = {"keep_series": tuple(series)} if series else {}
    out: list[Computed] = []
    for spec in specs:
        check_stop()  # a stopped sweep's worker drops its chunk here
        try:
            out.append(run_fn(base.replace(**spec.values), spec.seed, **kwargs))
        except Exception as exc:  # noqa: BLE001 -- recorded by run_chunk
            out.append(_Failed(exc))
    return out


def _model_results(base: Parameters, specs: Chunk, series: Sequence[str],
                   engine: str) -> list[Computed]:
    """Each run's outcomes from the model: the chunk in one :func:`run_many` call.

    If the batch raises, its runs are run one by one (each a batch of one), so that only
    the run that raises is recorded as failed.
    """
    from kamabm.model import batch  # looked up at call time: tests replace run_many

    out: list[Computed] = []
    todo: list[tuple[int, Parameters, int]] = []
    for i, spec in enumerate(specs):
        try:
            todo.append((i, base.replace(**spec.values), spec.seed))
            out.append({})
        except Exception as exc:  # noqa: BLE001 -- a design point the model refuses
            out.append(_Failed(exc))
    keep = tuple(series)
    try:  # a stopped sweep's worker drops the chunk between runs (ChunkDropped)
        found = batch.run_many([p for _, p, _ in todo], [s for _, _, s in todo],
                               keep_series=keep, engine=engine, between_runs=check_stop)
        for (i, _, _), result in zip(todo, found, strict=True):
            out[i] = result
    except ChunkDropped:
        raise
    except Exception:  # noqa: BLE001 -- find the run that raised, keep the others
        for i, params, seed in todo:
            check_stop()
            try:
                out[i] = batch.run_many([params], [seed], keep_series=keep, engine=engine)[0]
            except Exception as exc:  # noqa: BLE001 -- recorded by run_chunk
                out[i] = _Failed(exc)
    return out


def _cells(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as cells of the runs table: list parameters as canonical text."""
    return {name: sequence_text(value) if Parameters.is_sequence(name) else value
            for name, value in values.items()}


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


# --- the sweep ---------------------------------------------------------------------------
def chunked(runs: Iterable[RunSpec], size: int) -> Iterator[Chunk]:
    """Group runs into chunks of at most ``size`` consecutive runs (never across a gap)."""
    chunk: Chunk = []
    for spec in runs:
        if chunk and (len(chunk) == size or spec.run != chunk[-1].run + 1):
            yield chunk
            chunk = []
        chunk.append(spec)
    if chunk:
        yield chunk


class _Job:
    """The picklable work of one chunk: ``run_chunk`` with the sweep's fixed arguments.

    ``run_fn`` ``None`` runs the model on ``engine``, a chunk per :func:`run_many` call.
    """

    def __init__(self, run_fn: RunFunction | None, base: Parameters,
                 outcomes: Sequence[str], series: Sequence[str],
                 engine: str = DEFAULT_ENGINE) -> None:
        self.args = (run_fn, base)
        self.outcomes, self.series = tuple(outcomes), tuple(series)
        self.engine = engine

    def __call__(self, chunk: Chunk) -> tuple[pa.Table, pa.Table | None]:
        return run_chunk(*self.args, chunk, self.outcomes, self.series, engine=self.engine)


def missing_runs(experiment: Experiment, stored: Sequence[tuple[int, int]]) -> Iterator[RunSpec]:
    """The experiment's runs not in the ``stored`` ``(first, last)`` ranges, lazily."""
    ranges = iter(sorted(stored))
    current = next(ranges, None)
    for spec in experiment.runs():
        while current is not None and current[1] < spec.run:
            current = next(ranges, None)
        if current is None or spec.run < current[0]:
            yield spec


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`SweepInterrupted` for the ``with`` block.

    Schedulers, ``timeout`` and ``docker stop`` end a job with SIGTERM; raising lets the
    sweep record the interruption and stop its workers, as it does on Ctrl-C. A repeated
    signal while the sweep is stopping is ignored. Outside the main thread (where Python
    cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: object) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise SweepInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def sweep_identity(experiment: Experiment, run_fn: RunFunction | None = None,
                   outcomes: Sequence[str] | None = None, *,
                   code: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What makes two sweeps the same: experiment, model code, run function, kept names.

    A results folder is resumed only by a sweep of the same identity.
    """
    run_fn = run_fn or default_run_function()
    kept = experiment.outcomes or tuple(outcomes or default_outcomes())
    code = code or code_version(run_fn)
    return {"experiment": experiment.digest, "code": code["version"],
            "run_function": function_name(run_fn), "outcomes": list(kept),
            "series": list(experiment.series)}


def run_sweep(experiment: Experiment, directory: str | Path, *,
              run_fn: RunFunction | None = None, outcomes: Sequence[str] | None = None,
              workers: int | None = None, scheduler: str | None = None,
              dask_workers: int | None = None, overwrite: bool = False,
              progress: bool = True, chunk_size: int | None = None,
              command: str | None = None, max_runs: int = DEFAULT_MAX_RUNS,
              notify: Notify | None = None, typical_runs: bool = True,
              engine: str = DEFAULT_ENGINE) -> SweepSummary:
    """Run every missing run of an experiment and store the results in ``directory``.

    Args:
        experiment: the experiment.
        directory: the results folder; runs already stored there are not run again.
        run_fn: a run function to call run by run instead of the model (tests); it must
            be picklable, i.e. defined at module level. Default: the model, each chunk
            one :func:`kamabm.model.batch.run_many` call on ``engine``.
        outcomes: outcomes to keep when the experiment does not say (default: those of
            :func:`kamabm.model.run.run_one`).
        workers: local worker processes (default: the available cores).
        scheduler: Dask scheduler address.
        dask_workers: size of a local Dask cluster.
        overwrite: replace a folder holding results of another experiment or model code.
        progress: show a progress bar on stderr.
        chunk_size: runs per chunk (default: about 16 chunks per worker, at most 100, or
            400 on the compiled engine).
        command: the command line to record (default: ``sys.argv``).
        max_runs: refuse an experiment of more runs than this, before allocating anything.
        notify: called with one-line notices (parts set aside, uncommitted model code);
            default: printed on stderr.
        typical_runs: once the sweep is complete, pick two typical runs and keep them
            month by month (:func:`kamabm.experiments.typical.keep_typical_runs`, through
            :func:`kamabm.model.run.run_with_table`). Only a sweep of the default run
            function can: another run function has no per-month table, and its sweep
            keeps none.
        engine: the model's engine, ``"compiled"`` (default) or ``"mesa"``; both give the
            same numbers. Recorded in the manifest's session; a folder started on one
            engine is resumed on the other (the identity does not include it).

    Returns:
        What was done.

    Raises:
        ParameterError: ``engine`` is not one of :data:`kamabm.model.batch.ENGINES`.
        ExperimentError: the experiment has more than ``max_runs`` runs.
        FolderLockedError: another process is writing the folder.
        StoreError: the folder holds something else, or other model code's runs.
        SweepError: the backend cannot be started or a chunk could not be computed.
        KeyboardInterrupt: on Ctrl-C (:class:`SweepInterrupted` on SIGTERM or SIGHUP),
            after recording the interruption; rerun to resume.

    """
    start = time.perf_counter()
    check_engine(engine)
    experiment.check_size(max_runs)
    model = run_fn is None
    typical_runs = typical_runs and model
    run_fn = run_fn or default_run_function()
    kept = experiment.outcomes or tuple(outcomes or default_outcomes())
    code = code_version(run_fn)
    identity = sweep_identity(experiment, run_fn, outcomes, code=code)
    store = ResultsStore(directory, notify=notify)
    store.check(identity, overwrite=overwrite, code=code)  # before the lock makes the folder
    n_runs = experiment.n_runs
    with ExitStack() as stack:
        stack.enter_context(folder_lock(directory))
        stack.enter_context(stop_on_signals())
        try:
            backend = stack.enter_context(open_backend(
                workers=workers, scheduler=scheduler, dask_workers=dask_workers))
        except BackendError as exc:
            raise SweepError(str(exc)) from None
        store.open(identity, overwrite=overwrite, code=code)
        stored = store.done_ranges()
        n_done = store.n_stored()
        manifest = _manifest(store, experiment, identity, code, n_runs)
        session = {"command": command or " ".join(sys.argv), "backend": backend.label,
                   "engine": engine if model else function_name(run_fn),
                   "started": now(), "finished": None, "runs_run": 0, **environment()}
        _warn_if_uncommitted(session["code_version"], code, store.notify)
        manifest["sessions"].append(session)
        manifest["status"] = "running"
        store.write_manifest(manifest)
        most = _MAX_COMPILED_CHUNK if model and engine == "compiled" else _MAX_CHUNK
        size = chunk_size or max(1, min(most, (n_runs - n_done)
                                        // (_CHUNKS_PER_WORKER * backend.workers)))
        job = _Job(None if model else run_fn, experiment.base, kept, experiment.series,
                   engine)
        bar = stack.enter_context(tqdm(total=n_runs - n_done, unit="run",
                                       desc=experiment.name, disable=not progress,
                                       dynamic_ncols=True))
        try:
            # The compiled engine's workers are kept: their memory stays flat (the Mesa
            # model's grows, mesa/mesa#3179) and a new one loads the engine again.
            recycle = not (model and engine == "compiled")
            for runs, series in backend.map(job, chunked(missing_runs(experiment, stored),
                                                         size), size, recycle=recycle):
                store.write_part(runs, series)
                session["runs_run"] += runs.num_rows
                bar.update(runs.num_rows)
            failures = store.consolidate(n_runs, (spec.key for spec in experiment.runs()))
        except BaseException as exc:
            session["finished"] = now()
            interrupted = isinstance(exc, KeyboardInterrupt)
            manifest.update(status="interrupted" if interrupted else "failed",
                            runs_done=store.n_stored())
            if isinstance(exc, SweepInterrupted):
                session["signal"] = signal.Signals(exc.signum).name
            store.write_manifest(manifest)
            if interrupted or isinstance(exc, SweepError | StoreError | OSError):
                raise
            raise SweepError(f"the sweep stopped: {type(exc).__name__}: {exc}") from exc
        session["finished"] = now()
        manifest.update(status="complete", runs_done=n_runs, failures=failures,
                        finished=session["finished"], tables=store.tables)
        manifest.pop(ENTRY, None)
        store.write_manifest(manifest)
        if typical_runs:  # interrupted here, the sweep is complete and a rerun keeps them
            typical = _keep_typical(store)
            if typical is not None:
                manifest[ENTRY] = typical
                store.write_manifest(manifest)
    return SweepSummary(experiment.name, store.directory, n_runs, n_done,
                        session["runs_run"], failures, time.perf_counter() - start,
                        backend.label, ENTRY in manifest, engine if model else None)


def _keep_typical(store: ResultsStore) -> dict[str, Any] | None:
    """The manifest entry of the typical runs kept in the store's folder, or ``None``.

    A run that cannot be repeated costs the folder its typical runs, not the sweep: the
    notice says why.
    """
    from kamabm.model.run import run_with_table

    try:
        runs = load_results(store.directory, refinements=False)
        entry = keep_typical_runs(store.directory, runs[runs["status"] == STATUS_OK],
                                  run_with_table)
    except Exception as exc:  # noqa: BLE001 -- the runs are stored; say why and go on
        store.notify(f"warning: no typical runs kept ({type(exc).__name__}: {exc})")
        return None
    if entry is not None and not all(r["reproduced"] for r in entry["runs"]):
        store.notify("warning: a typical run repeated from its seed does not end with the "
                     "capture rate the sweep stored (is the model deterministic?)")
    return entry


def _warn_if_uncommitted(git: Mapping[str, Any] | None, code: Mapping[str, Any],
                         notify: Notify) -> None:
    if not git or not git.get("dirty"):
        return
    model = {f"kamabm/model/{name}.py" for name in MODEL_MODULES}
    changed = [path for path in git.get("changed", []) if path in model]
    if changed:
        notify(f"warning: the model has uncommitted changes ({', '.join(changed)}); the "
               f"results record its source hash {code['version']}, not a commit")


def _manifest(store: ResultsStore, experiment: Experiment, identity: Mapping[str, Any],
              code: Mapping[str, Any], n_runs: int) -> dict[str, Any]:
    old = store.read_manifest()
    if old is not None and old.get("identity") == dict(identity):
        return old
    path = experiment.path
    described: dict[str, Any] = {
        "name": experiment.name, "path": str(path) if path else None,
        "digest": experiment.digest, "text": experiment.text,
        "uncertainties": list(experiment.uncertainties), "levers": list(experiment.levers),
        "design": experiment.design.method, "replications": experiment.replications,
        "seed": experiment.seed, "common_random_numbers": experiment.common_random_numbers}
    if experiment.ensemble is not None:
        # the posterior's digest, the draws and its text: the folder can be analysed,
        # and resumed, whatever becomes of the file
        described["ensemble"] = experiment.ensemble.describe(experiment.base, experiment.seed)
    return {
        "format": 2,
        "identity": dict(identity),
        "code": dict(code),
        "experiment": described,
        "status": "running",
        "started": now(),
        "finished": None,
        "runs_planned": n_runs,
        "runs_done": 0,
        "failures": 0,
        "sessions": [],
    }
