"""The diagnosis's runs: each a task, computed on the sweep's workers, kept as journaled parts.

A diagnosis is many runs of the client's market (and of its capture map), each read
month by month through :func:`kamabm.model.batch.account_history` on the compiled engine
(or the Mesa engine: the same numbers). They are computed on the sweep's backends and
kept in the output folder as journaled parts by the sweep's
:class:`~kamabm.experiments.store.ResultsStore`, so a diagnosis that is stopped (kill -9,
SIGTERM, Ctrl-C) resumes where it stopped; the folder's identity (the client as read and
the model's code version, not the engine) refuses a resume of another file or model, and
each session records its engine.
:mod:`kamabm.diagnosis.diagnose` turns the readings into the diagnosis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kamabm.diagnosis.client import Client
from kamabm.experiments.seeds import spawned_seeds
from kamabm.experiments.store import StoreError
from kamabm.model.batch import DEFAULT_ENGINE
from kamabm.model.params import Parameters

#: The capture map's reading, in months (or the horizon if shorter).
MAP_MONTHS = 60
#: Runs per chunk sent to a worker process, and stored as one part: a kill loses at most
#: the chunks being computed (two a worker), a few seconds of work on the Mesa engine.
CHUNK = 8
#: Most runs per chunk on the compiled engine, where a run takes about a millisecond: a
#: part costs the same to write and sync whatever its runs cost (a kill loses under a
#: second); a diagnosis of many runs is cut into about :data:`COMPILED_PARTS` parts.
COMPILED_CHUNK, COMPILED_PARTS = 250, 50


def chunk_size(engine: str, runs: int = 0) -> int:
    """Runs per chunk (and stored part) of ``runs`` runs on ``engine``."""
    if engine != "compiled":
        return CHUNK
    return min(COMPILED_CHUNK, max(CHUNK, runs // COMPILED_PARTS))


# --- runs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One run: what it is for (``key``), its parameters, its seed, what to read.

    ``read_months`` are the months at which a run of the client's market is read (the
    last one its horizon); empty for a run of the capture map, read at
    :data:`MAP_MONTHS` (or its horizon).
    """

    key: tuple[Any, ...]
    params: Parameters
    seed: int
    read_months: tuple[int, ...]


def _run_chunk(chunk: Sequence[tuple[int, Task]], engine: str = DEFAULT_ENGINE
               ) -> list[tuple[int, dict[str, Any]]]:
    """Run a chunk of numbered tasks (in a worker process) on ``engine``; return readings.

    Only what the diagnosis needs leaves the worker: whether each account's KAM is
    captured at the months read, each account's profit over the last year (a year's
    worth), and the client's profit, revenue and people and acquisition costs summed
    over the run and year by year (``yearly_*``: months 1-12, 13-24, ...; a last,
    shorter year as it is), all in model units; or, for the map, the share captured.
    """
    from kamabm.experiments.backends import check_stop
    from kamabm.model.batch import account_history

    out: list[tuple[int, dict[str, Any]]] = []
    for run, task in chunk:
        check_stop()  # a stopped diagnosis's worker drops its chunk here
        h = account_history(task.params, task.seed, engine=engine)
        reading: dict[str, Any]
        if task.read_months:
            months = len(h["captured"])
            rows = [min(m, months) - 1 for m in task.read_months]
            last = h["profit"][max(0, months - 12):]
            cost = h["supplier_people"] + h["supplier_acquisition"]
            reading = {"captured": h["captured"][rows], "months": months,
                       "yearly_profit": _by_year(h["supplier_profit"]),
                       "yearly_revenue": _by_year(h["supplier_revenue"]),
                       "yearly_cost": _by_year(cost),
                       "last_year_profit": last.sum(axis=0) * 12.0 / len(last),
                       "supplier_profit": float(h["supplier_profit"].sum()),
                       "supplier_revenue": float(h["supplier_revenue"].sum()),
                       "people_cost": float(h["supplier_people"].sum()
                                           + h["supplier_acquisition"].sum()),
                       "opening_revenue": float(h["opening_revenue"])}
        else:
            month = min(MAP_MONTHS, len(h["captured"])) - 1
            reading = {"map_captured": float(h["captured"][month].mean())}
        out.append((run, reading))
    return out


def _by_year(monthly: np.ndarray) -> list[float]:
    """Sums of a monthly series over months 1-12, 13-24, ... (left to right)."""
    return [float(monthly[k:k + 12].sum()) for k in range(0, len(monthly), 12)]


def run_seeds(master: int, stream: int, n: int) -> list[int]:
    """``n`` seeds (below ``2**63``) of one stream of the master seed."""
    return spawned_seeds(master, (stream,), n)


# --- the runs as journaled parts ----------------------------------------------------------------
#: The columns of a part of the diagnosis's runs (:class:`kamabm.experiments.store.ResultsStore`
#: parts): the run's number and key, then its readings; a map run has only
#: ``map_captured``, a run of the client's market every other reading. ``captured`` is the
#: (years read x accounts) table of the run, row by row.
READINGS = pa.schema([
    pa.field("run", pa.int64()), pa.field("key", pa.string()),
    pa.field("captured", pa.list_(pa.bool_())), pa.field("months", pa.int64()),
    pa.field("last_year_profit", pa.list_(pa.float64())),
    pa.field("supplier_profit", pa.float64()), pa.field("supplier_revenue", pa.float64()),
    pa.field("people_cost", pa.float64()), pa.field("opening_revenue", pa.float64()),
    pa.field("yearly_profit", pa.list_(pa.float64())),
    pa.field("yearly_revenue", pa.list_(pa.float64())),
    pa.field("yearly_cost", pa.list_(pa.float64())),
    pa.field("map_captured", pa.float64())])
_YEARLY = ("yearly_profit", "yearly_revenue", "yearly_cost")
_SCALARS = ("supplier_profit", "supplier_revenue", "people_cost", "opening_revenue")
#: Version of the diagnosis's runs as stored (part of the folder's identity).
RUNS_FORMAT = 2


def task_key(task: Task) -> str:
    """A run's key as stored: ``run/<setting>/<replication>`` or ``map/<share>/<pressure>/<r>``."""
    return "/".join(str(k) for k in task.key)


def _table(chunk: Sequence[tuple[int, Task]],
           readings: Sequence[tuple[int, dict[str, Any]]]) -> pa.Table:
    """The part of a computed chunk: one row per run, in run order."""
    keys = {run: task_key(task) for run, task in chunk}
    rows = []
    for run, reading in readings:
        row: dict[str, Any] = dict.fromkeys(READINGS.names)
        row.update(run=run, key=keys[run])
        if "map_captured" in reading:
            row["map_captured"] = reading["map_captured"]
        else:
            row.update({name: reading[name] for name in _SCALARS},
                       captured=np.asarray(reading["captured"]).ravel().tolist(),
                       months=int(reading["months"]),
                       last_year_profit=np.asarray(reading["last_year_profit"]).tolist(),
                       **{name: list(reading[name]) for name in _YEARLY})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=READINGS)


def _readings(table: pa.Table, tasks: Sequence[Task]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The readings of a stored part, as :func:`_run_chunk` returned them (exactly)."""
    for row in table.to_pylist():
        task = tasks[row["run"]]
        if row["key"] != task_key(task):
            raise StoreError(f"run {row['run']} is stored as {row['key']!r}, not "
                             f"{task_key(task)!r}; run with --overwrite to start afresh")
        if not task.read_months:
            yield row["run"], {"map_captured": row["map_captured"]}
            continue
        captured = np.array(row["captured"], dtype=bool).reshape(len(task.read_months), -1)
        yield row["run"], {"captured": captured, "months": row["months"],
                           "last_year_profit": np.array(row["last_year_profit"], dtype=float),
                           **{name: np.array(row[name], dtype=float) for name in _YEARLY},
                           **{name: row[name] for name in _SCALARS}}


@dataclass(frozen=True)
class RunsStored:
    """Where and how a diagnosis keeps its runs (:func:`diagnose`'s ``store``).

    Attributes:
        directory: the folder; the runs go to ``parts/`` with their journal, beside a
            ``manifest.json`` naming the diagnosis (:mod:`kamabm.experiments.store`).
        identity: what the runs are of (:func:`diagnosis_identity`); a folder holding
            runs of another identity is refused unless ``overwrite``.
        overwrite: discard the runs (and the written diagnosis) of another identity.
        notify: called with one-line notices ("resuming: ..."); default: stderr.

    """

    directory: Path
    identity: Mapping[str, Any]
    overwrite: bool = False
    notify: Callable[[str], None] | None = None


def run_all(tasks: list[Task], workers: int | None,
            progress: Callable[[int, int], None] | None,
            stored: RunsStored | None = None, engine: str = DEFAULT_ENGINE
            ) -> tuple[dict[tuple[Any, ...], Any], int]:
    """Every task's readings, by key, and how many were read back rather than run.

    The readings are computed here or by worker processes on ``engine``, or read back
    from the store (whatever engine computed them: both give the same numbers).

    With ``stored``, each finished chunk is journaled as a part of its folder as it comes
    (a kill at any moment loses at most the chunks being computed) and the runs already
    stored are read back instead of being run again. SIGTERM and SIGHUP raise
    :class:`kamabm.experiments.sweep.SweepInterrupted` (Ctrl-C KeyboardInterrupt), after
    the workers are stopped and the manifest marked ``interrupted``.
    """
    from kamabm.experiments.backends import open_backend
    from kamabm.experiments.sweep import stop_on_signals

    numbered = list(enumerate(tasks))
    readings: dict[int, dict[str, Any]] = {}
    with ExitStack() as stack:
        stack.enter_context(stop_on_signals())
        store = manifest = None
        if stored is not None:
            store, manifest = _open_store(stack, stored, tasks, engine)
            for part in store.stored_parts():
                table = pq.read_table(store.parts / part.runs["file"])
                readings.update(_readings(table, tasks))
        backend = stack.enter_context(open_backend(workers=workers))
        missing = [pair for pair in numbered if pair[0] not in readings]
        resumed = len(readings)
        if stored is not None and readings:
            (stored.notify or _notice)(
                f"resuming: {len(readings):,} of {len(tasks):,} runs already stored in "
                f"{stored.directory}" + ("" if missing else "; nothing left to run"))
        size = chunk_size(engine, len(tasks))
        chunks = list(_consecutive(missing, size))
        if progress is not None:
            progress(len(readings), len(tasks))
        job = functools.partial(_run_chunk, engine=engine)
        try:
            # compiled runs keep their workers (flat memory, the engine loaded once)
            for computed in backend.map(job, chunks, size, recycle=engine != "compiled"):
                if store is not None:
                    table = _table([(run, tasks[run]) for run, _ in computed], computed)
                    store.write_part(table)
                    readings.update(_readings(table, tasks))
                else:
                    readings.update(computed)
                if progress is not None:
                    progress(len(readings), len(tasks))
        except BaseException as exc:
            if store is not None and manifest is not None:
                _close_manifest(store, manifest, exc, len(readings))
            raise
        if store is not None and manifest is not None:
            manifest["sessions"][-1]["finished"] = _now()
            manifest.update(status="complete", runs_done=len(readings))
            store.write_manifest(manifest)
    if stored is None:  # the same path as a stored run: readings as the parts keep them
        size = chunk_size(engine, len(tasks))
        readings = {run: reading for part in _consecutive(numbered, size)
                    for run, reading in _readings(
                        _table(part, [(r, readings[r]) for r, _ in part]), tasks)}
    return {tasks[run].key: reading for run, reading in readings.items()}, resumed


def _consecutive(pairs: Sequence[tuple[int, Task]], size: int
                 ) -> Iterator[list[tuple[int, Task]]]:
    """Chunks of at most ``size`` runs with consecutive numbers (a part holds such runs)."""
    chunk: list[tuple[int, Task]] = []
    for pair in pairs:
        if chunk and (len(chunk) == size or pair[0] != chunk[-1][0] + 1):
            yield chunk
            chunk = []
        chunk.append(pair)
    if chunk:
        yield chunk


def _open_store(stack: ExitStack, stored: RunsStored, tasks: Sequence[Task], engine: str
                ) -> tuple[Any, dict[str, Any]]:
    """Lock and open the folder's store; return it and the manifest of this session."""
    import sys

    from kamabm.experiments.lock import folder_lock
    from kamabm.experiments.provenance import environment
    from kamabm.experiments.store import ResultsStore

    store = ResultsStore(stored.directory, notify=stored.notify)
    check_folder(stored.directory, stored.identity, overwrite=stored.overwrite)
    stack.enter_context(folder_lock(stored.directory, purpose="diagnosis"))
    check_folder(stored.directory, stored.identity, overwrite=stored.overwrite)
    if stored.overwrite:
        _clear_outputs(stored.directory)
    store.open(stored.identity, overwrite=stored.overwrite)
    old = store.read_manifest()
    manifest: dict[str, Any] = {
        "format": 2, "kind": "diagnosis", "identity": dict(stored.identity),
        "status": "running", "started": _now(), "runs_planned": len(tasks), "runs_done": 0,
        "sessions": []}
    if old is not None and old.get("identity") == dict(stored.identity):
        manifest = old
    manifest["sessions"].append({"command": " ".join(sys.argv), "engine": engine,
                                 "started": _now(), "finished": None, **environment()})
    manifest.update(status="running", runs_done=store.n_stored())
    store.write_manifest(manifest)
    return store, manifest


def _close_manifest(store: Any, manifest: dict[str, Any], exc: BaseException,
                    done: int) -> None:
    """Mark the manifest ``interrupted`` (a signal, Ctrl-C) or ``failed``, if it can be."""
    import signal

    session = manifest["sessions"][-1]
    session["finished"] = _now()
    signum = getattr(exc, "signum", None)
    if signum is not None:
        session["signal"] = signal.Signals(signum).name
    manifest.update(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                    runs_done=store.n_stored())
    try:
        store.write_manifest(manifest)
    except OSError:
        pass  # the disk that stopped the runs may refuse the manifest too: parts count


def _now() -> str:
    from kamabm.experiments.provenance import now

    return now()


def _notice(message: str) -> None:
    import sys

    print(f"kamabm diagnose: {message}", file=sys.stderr)


#: What a diagnosis writes into its folder besides its runs (removed by an overwrite).
OUTPUTS = ("report.html", "capture_risk.csv", "margin_at_risk.csv", "levers.csv",
           "capture_map.csv", "combinations.csv", "timeline.csv", "charts", "provenance.json",
           "diagnosis.pptx")


def check_folder(directory: Path, identity: Mapping[str, Any], *, overwrite: bool) -> None:
    """Refuse a folder that holds another diagnosis's runs, or anything else; writes nothing.

    A folder is accepted when it is missing or empty, holds runs of the same identity
    (they are resumed), or, with ``overwrite``, a diagnosis of another client file or
    model code, or one written before diagnoses kept their runs.

    Raises:
        StoreError: one line naming the folder and what is in the way.
        FolderLockedError: another process is writing the folder.

    """
    from kamabm.experiments.lock import LOCK_FILE, check_unlocked
    from kamabm.experiments.store import MANIFEST, ResultsStore

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise StoreError(f"{directory}: exists and is not a folder")
    if not directory.is_dir():
        return
    check_unlocked(directory)
    names = {p.name for p in directory.iterdir()} - {LOCK_FILE}
    manifest = ResultsStore(directory).read_manifest()
    fresh = "pass --overwrite to start afresh or --out to write elsewhere"
    if manifest is None:
        if not names:
            return
        if names <= set(OUTPUTS):
            if overwrite:
                return
            raise StoreError(f"{directory}: holds a diagnosis written without its runs (by "
                             f"an earlier kamabm); {fresh}")
        raise StoreError(f"{directory}: folder is not empty and holds no {MANIFEST}; "
                         "choose another --out")
    old = manifest.get("identity") or {}
    if old == dict(identity) or overwrite:
        return
    if old.get("kind") != "diagnosis":
        raise StoreError(f"{directory}: holds results of something else than a diagnosis; "
                         "choose another --out")
    if {k: v for k, v in old.items() if k != "code"} == {
            k: v for k, v in identity.items() if k != "code"}:
        raise StoreError(f"{directory}: holds runs of other model code ({old.get('code')}, "
                         f"now {identity.get('code')}); resuming would mix model versions: "
                         f"{fresh}")
    if {k: v for k, v in old.items() if k != "posterior"} == {
            k: v for k, v in identity.items() if k != "posterior"}:
        raise StoreError(f"{directory}: holds runs over another calibration posterior "
                         f"(it has changed since); resuming would mix them: {fresh}")
    raise StoreError(f"{directory}: holds runs of another client file (or other "
                     f"--replications, --draws or --constants); resuming would mix them: "
                     f"{fresh}")


def _clear_outputs(directory: Path) -> None:
    """Remove the written diagnosis (report, tables, charts), not the user's own files."""
    import shutil

    for name in OUTPUTS:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def diagnosis_identity(client: Client, code: Mapping[str, Any] | None = None
                       ) -> dict[str, Any]:
    """What makes two diagnoses' runs the same: the client as read, the model code.

    ``client`` is the client's content (every field but where it was read, so comments
    and layout of its file do not count, ``--replications`` does); ``code`` the model's
    code version (:func:`kamabm.experiments.provenance.code_version`).
    """
    import hashlib
    import json

    from kamabm.experiments.provenance import code_version

    content = {k: v for k, v in dataclasses.asdict(client).items() if k != "source"}
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    code = code or code_version()
    identity = {"kind": "diagnosis", "format": RUNS_FORMAT,
                "client": hashlib.sha256(blob.encode()).hexdigest(), "code": code["version"]}
    if client.constants == "posterior":  # the constant sets are drawn from its content
        from kamabm.diagnosis.constants import posterior_text

        identity["posterior"] = hashlib.sha256(posterior_text(client)[1].encode()).hexdigest()
    return identity
