"""Diagnosing a client: capture risk, margin at risk and levers, from its own portfolio.

A consultant describes one supplier firm (the *client*) in a small TOML file (its key
accounts with their share of turnover and who negotiates for them, the market, its sales
management; ``experiments/client_example.toml``), which
:func:`kamabm.diagnosis.client.load_client` reads and checks. :func:`diagnose` runs the
client's market many times and reads, for the client only:

* **capture risk** per key account at 1, 3 and 5 years: the share of replications in
  which the KAM in charge of that account is captured (alignment below
  :data:`kamabm.model.run.CAPTURED_BELOW`), with a 95 % Wilson interval;
* **margin at risk** per key account: what capture costs on that account a year, as the
  probability that its KAM is captured at the horizon times the gap in the account's
  profit over the last year between replications where he stays loyal and where he is
  captured, in the client's money, with a 95 % bootstrap interval;
* **levers**: each management lever the client does not use yet, at the standard dose of
  ``experiments/interventions.toml``, against the status quo on the same seeds: change in
  capture and in the client's profit a year, net of what the lever costs (the model's
  ledger books every lever's cost), with 95 % t intervals over the paired runs;
* a **capture map**: the client's capture after five years over its key accounts' share
  of turnover and its pressure, its other settings kept.

The client is supplier 0 of the model's market; every rival has the same portfolio. Money
is scaled from the model's units (unit production cost 1) to the client's currency by its
turnover. Everything is computed here and nothing is written
(:mod:`kamabm.diagnosis.report` writes the tables, charts and report); all randomness flows
from the master seed, so the numbers do not depend on the number of worker processes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kamabm.diagnosis.client import KPI_MIX, Client, ClientFileError
from kamabm.experiments.store import StoreError
from kamabm.model.params import Parameters
from kamabm.names import human, pct, value_text
from kamabm.stats import wilson

# --- what the diagnosis reads -----------------------------------------------------------------
#: The standard dose at which a lever not in place is tested: its "on" level in
#: ``experiments/interventions.toml`` (a test checks they agree).
STANDARD_DOSES: dict[str, float] = {
    "kpi_margin_weight": 0.5, "training": 1.0, "deal_review": 0.5, "senior_support": 0.5,
    "rotation_months": 12, "smb_growth": 0.02,
}
#: Years at which capture risk is read (those within the horizon, and the horizon).
READ_YEARS = (1, 3, 5)
#: The capture map's grid: key accounts' total share of turnover, and pressure.
MAP_SHARES: tuple[float, ...] = tuple(round(0.1 * k, 2) for k in range(1, 11))
MAP_PRESSURES: tuple[float, ...] = tuple(round(0.2 * k, 2) for k in range(6))
#: The capture map's reading, in months (or the horizon if shorter).
MAP_MONTHS = 60
#: Bootstrap resamples of the margin-at-risk interval.
BOOTSTRAP = 2000
CONFIDENCE = 0.95
#: Runs per chunk sent to a worker process, and stored as one part: a kill loses at most
#: the chunks being computed (two a worker), a few seconds of work.
CHUNK = 8

# SeedSequence spawn keys of the three random streams.
_DIAGNOSIS_STREAM, _MAP_STREAM, _BOOTSTRAP_STREAM = 0, 1, 2

#: What the model assumes, in plain words, for the report's box.
ASSUMPTIONS: tuple[str, ...] = (
    "The client is one of several suppliers selling the same product to the same key "
    "buyers; each key account is contested by every supplier in the market, and every "
    "rival has a portfolio like the client's (same key buyers, same small-client base).",
    "Each key account is run by one KAM. A KAM is 'captured' when his loyalty to his "
    "employer has fallen below the midpoint: he negotiates and lobbies for the client. "
    "Capture is a state he drifts into through negotiations, stress, time spent on the "
    "client's demands and what his colleagues do; it is not a formula of the inputs.",
    "Buyers' negotiators are either owners (they weigh their own firm's result) or "
    "detached procurement staff (they chase procedural targets and can always say 'the "
    "next supplier will'). Only these two kinds, and mixtures, are modelled.",
    "The client's levers are its own: its rivals run none of them (unless the file says "
    "rivals_levers = 'same'), and each lever not in place is tested on the client alone. "
    "The rivals may differ from the client in the pressure on their KAMs, not otherwise.",
    "Every lever books its cost in the client's ledger (senior time, training fees and "
    "time away, review time and lost offers, handovers, winning small clients), so the "
    "profit effects are net of it. Costs are model assumptions, not the client's prices.",
    "Money is in the model's units (unit production cost 1), scaled to the client's "
    "turnover; prices, margins and costs follow the model's defaults, not the client's "
    "books. The numbers are orders of magnitude for comparing options, not a forecast.",
    "Not modelled: hiring and firing of KAMs, changes of product or price list, "
    "competitors entering or leaving, contracts of different lengths per account, "
    "personal differences between KAMs beyond what happens to them in the model.",
    "The model's behavioural constants are set by calibration to published patterns, "
    "not measured at this client; results hold at those constants.",
)


# --- runs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    """One run: what it is for (``key``), its parameters, its seed, what to read.

    ``read_months`` are the months at which a run of the client's market is read (the
    last one its horizon); empty for a run of the capture map, read at
    :data:`MAP_MONTHS` (or its horizon).
    """

    key: tuple[Any, ...]
    params: Parameters
    seed: int
    read_months: tuple[int, ...]


def _run_chunk(chunk: Sequence[tuple[int, _Task]]) -> list[tuple[int, dict[str, Any]]]:
    """Run a chunk of numbered tasks (in a worker process); return each run's readings.

    Only what the diagnosis needs leaves the worker: whether each account's KAM is
    captured at the months read, each account's profit over the last year (a year's
    worth), and the client's profit, revenue and people and acquisition costs summed
    over the run, all in model units; or, for the map, the share captured.
    """
    from kamabm.model.run import account_history

    out: list[tuple[int, dict[str, Any]]] = []
    for run, task in chunk:
        h = account_history(task.params, task.seed)
        reading: dict[str, Any]
        if task.read_months:
            months = len(h["captured"])
            rows = [min(m, months) - 1 for m in task.read_months]
            last = h["profit"][max(0, months - 12):]
            reading = {"captured": h["captured"][rows], "months": months,
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


def _seeds(master: int, stream: int, n: int) -> list[int]:
    """``n`` seeds (below ``2**63``) of one stream of the master seed."""
    return [int(np.random.SeedSequence(master, spawn_key=(stream, r)).generate_state(
        1, np.uint64)[0] >> np.uint64(1)) for r in range(n)]


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
    pa.field("map_captured", pa.float64())])
_SCALARS = ("supplier_profit", "supplier_revenue", "people_cost", "opening_revenue")
#: Version of the diagnosis's runs as stored (part of the folder's identity).
RUNS_FORMAT = 1


def task_key(task: _Task) -> str:
    """A run's key as stored: ``run/<setting>/<replication>`` or ``map/<share>/<pressure>/<r>``."""
    return "/".join(str(k) for k in task.key)


def _table(chunk: Sequence[tuple[int, _Task]],
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
                       last_year_profit=np.asarray(reading["last_year_profit"]).tolist())
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=READINGS)


def _readings(table: pa.Table, tasks: Sequence[_Task]) -> Iterator[tuple[int, dict[str, Any]]]:
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


def _run_all(tasks: list[_Task], workers: int | None,
             progress: Callable[[int, int], None] | None,
             stored: RunsStored | None = None) -> tuple[dict[tuple[Any, ...], Any], int]:
    """Every task's readings, by key, and how many were read back rather than run.

    The readings are computed here or by worker processes, or read back from the store.

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
            store, manifest = _open_store(stack, stored, tasks)
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
        chunks = list(_consecutive(missing, CHUNK))
        if progress is not None:
            progress(len(readings), len(tasks))
        try:
            for computed in backend.map(_run_chunk, chunks, CHUNK):
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
        readings = {run: reading for part in _consecutive(numbered, CHUNK)
                    for run, reading in _readings(
                        _table(part, [(r, readings[r]) for r, _ in part]), tasks)}
    return {tasks[run].key: reading for run, reading in readings.items()}, resumed


def _consecutive(pairs: Sequence[tuple[int, _Task]], size: int
                 ) -> Iterator[list[tuple[int, _Task]]]:
    """Chunks of at most ``size`` runs with consecutive numbers (a part holds such runs)."""
    chunk: list[tuple[int, _Task]] = []
    for pair in pairs:
        if chunk and (len(chunk) == size or pair[0] != chunk[-1][0] + 1):
            yield chunk
            chunk = []
        chunk.append(pair)
    if chunk:
        yield chunk


def _open_store(stack: ExitStack, stored: RunsStored, tasks: Sequence[_Task]
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
    manifest["sessions"].append({"command": " ".join(sys.argv), "started": _now(),
                                 "finished": None, **environment()})
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
           "capture_map.csv", "charts", "provenance.json", "diagnosis.pptx")


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
    raise StoreError(f"{directory}: holds runs of another client file (or other "
                     f"--replications); resuming would mix them: {fresh}")


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
    return {"kind": "diagnosis", "format": RUNS_FORMAT,
            "client": hashlib.sha256(blob.encode()).hexdigest(), "code": code["version"]}


# --- statistics ------------------------------------------------------------------------------
def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    from kamabm.stats import mean_ci

    return mean_ci(values, CONFIDENCE)


def margin_at_risk(captured: np.ndarray, profit: np.ndarray, rng: np.random.Generator,
                   resamples: int = BOOTSTRAP) -> tuple[float, float, float, float]:
    """Probability of capture times the loyal-minus-captured profit gap, with a bootstrap.

    Args:
        captured: one bool per replication: the account's KAM captured at the horizon.
        profit: the account's profit over the last year, per replication.
        rng: the bootstrap's generator.
        resamples: bootstrap resamples.

    Returns:
        ``(at_risk, low, high, gap)``: the margin at risk, its 95 % percentile interval
        and the gap itself. NaN when the gap cannot be estimated (every replication
        captured, or none loyal); 0 with interval [0, 0] when no replication is captured.

    """
    captured = np.asarray(captured, dtype=bool)
    profit = np.asarray(profit, dtype=float)
    n = len(captured)
    k = int(captured.sum())
    if k == 0:
        return 0.0, 0.0, 0.0, float("nan")
    if k == n:
        return (float("nan"),) * 4
    gap = float(profit[~captured].mean() - profit[captured].mean())
    point = k / n * gap
    idx = rng.integers(0, n, size=(resamples, n))
    c, x = captured[idx], profit[idx]
    n_cap = c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loyal = (x * ~c).sum(axis=1) / (n - n_cap)
        capt = (x * c).sum(axis=1) / n_cap
        draws = n_cap / n * (loyal - capt)
    draws = np.where(n_cap == 0, 0.0, draws)
    draws = draws[np.isfinite(draws)]
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return point, float(low), float(high), gap


# --- the diagnosis -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found. Money is in the client's currency, a year.

    Attributes:
        client: the client diagnosed.
        params: the model's parameters of the status quo.
        money_per_unit: the client's money per unit of the model's money.
        read_years: the years at which capture risk is read.
        capture_risk: one row per (account, year): ``account``, ``negotiator``,
            ``share``, ``year``, ``captured`` (share of replications), ``low``, ``high``
            (95 % Wilson interval), ``replications``.
        margin_at_risk: one row per account: ``account``, ``negotiator``, ``share``,
            ``turnover`` (the account's yearly turnover at the start, money),
            ``capture_at_horizon``, ``profit_loyal``, ``profit_captured`` (mean profit on
            the account over the last year where its KAM is loyal or captured at the
            horizon), ``gap``, ``at_risk``, ``low``, ``high`` (95 % bootstrap interval).
        status_quo: the client's status quo: ``profit`` (a year, mean over the horizon)
            with ``profit_low``/``profit_high``, ``capture`` (share of its key accounts in
            captured hands at the horizon), ``people_cost`` (KAMs, senior time, training,
            review, handovers and small-client acquisition, a year), ``margin`` (net
            margin), ``revenue`` (a year).
        levers: one row per lever tested, best net money effect first: ``lever``,
            ``dose``, ``capture_sq``, ``capture``, ``capture_low``, ``capture_high``
            (change of the share of key accounts in captured hands at the horizon, paired),
            ``net``, ``net_low``, ``net_high`` (change of the client's profit a year, net
            of the lever's cost), ``cost``, ``cost_low``, ``cost_high`` (change of the
            people and acquisition costs booked a year), ``gross``, ``gross_low``,
            ``gross_high`` (the profit change before those costs), ``verdict``.
        capture_map: one row per map point: ``key_share``, ``pressure``, ``capture``
            (share of the client's key accounts in captured hands after
            ``map_months``), ``runs``.
        map_months: the month at which the capture map is read.
        seeds: the status quo's seeds, one per replication (every lever uses the same).
        map_seeds: the capture map's seeds, the same at every point.
        runs: model runs made.
        wall_time: seconds the runs took.
        workers: worker processes used (None: every core).
        runs_resumed: runs read back from the folder's parts rather than run (a resumed
            diagnosis); ``runs - runs_resumed`` were run by this call, in ``wall_time``.

    """

    client: Client
    params: Parameters
    money_per_unit: float
    read_years: tuple[int, ...]
    capture_risk: pd.DataFrame
    margin_at_risk: pd.DataFrame
    status_quo: dict[str, float]
    levers: pd.DataFrame
    capture_map: pd.DataFrame
    map_months: int
    seeds: tuple[int, ...]
    map_seeds: tuple[int, ...]
    runs: int
    wall_time: float
    workers: int | None
    runs_resumed: int = 0

    def money(self, value: float, *, sign: bool = False) -> str:
        """An amount with thousands separators and the currency: ``EUR 1,234,000``."""
        return money_text(value, self.client.currency, sign=sign)


def money_text(value: float, currency: str = "", *, sign: bool = False) -> str:
    """An amount with thousands separators, to three significant digits above 1,000.

    ``money_text(-1234567, "EUR")`` is ``"−EUR 1,230,000"``; ``sign`` writes a plus
    sign on gains; ``"n/a"`` for a missing amount.
    """
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        magnitude = round(magnitude, 2 - int(math.floor(math.log10(magnitude))))
    text = f"{magnitude:,.0f}"
    zero = text == "0"
    prefix = "−" if value < 0 and not zero else "+" if sign and value > 0 and not zero else ""
    return f"{prefix}{currency + ' ' if currency else ''}{text}"


def read_years(horizon_years: int) -> tuple[int, ...]:
    """The years at which capture risk is read: 1, 3, 5 within the horizon, and the horizon."""
    return tuple(sorted({y for y in READ_YEARS if y <= horizon_years} | {horizon_years}))


def diagnose(client: Client, *, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             levers: Sequence[str] | None = None,
             map_shares: Sequence[float] = MAP_SHARES,
             map_pressures: Sequence[float] = MAP_PRESSURES,
             store: RunsStored | None = None) -> Diagnosis:
    """Run the client's market and read its capture risk, margin at risk and levers.

    Args:
        client: the client (:func:`load_client`).
        workers: worker processes (default: every core; 1 runs here). The results are
            the same for any number.
        progress: called with (runs done, runs planned) as chunks finish.
        levers: the levers to test (default: every lever not in place); each must be
            one of :data:`kamabm.diagnosis.client.LEVERS` not in place.
        map_shares: the capture map's key accounts' shares of turnover, in (0, 1].
        map_pressures: the capture map's pressures, in [0, 1].
        store: keep the runs as journaled parts of a folder and resume those already
            there (``kamabm diagnose`` keeps them in its output folder); by default they
            are kept in memory only. The numbers are the same either way.

    Raises:
        ClientFileError: a lever asked for is unknown or already in place.
        StoreError: the folder of ``store`` holds runs of another diagnosis.
        FolderLockedError: another process is writing that folder.
        kamabm.experiments.sweep.SweepInterrupted: SIGTERM or SIGHUP (KeyboardInterrupt
            on Ctrl-C); the runs computed so far are stored, the workers stopped.

    Returns:
        The :class:`Diagnosis`.

    """
    start = time.perf_counter()
    base = client.parameters()
    reps = client.replications
    seeds = _seeds(client.seed, _DIAGNOSIS_STREAM, reps)
    map_seeds = _seeds(client.seed, _MAP_STREAM, client.map_replications)
    tested = client.not_in_place() if levers is None else tuple(levers)
    for lever in tested:
        if lever not in client.not_in_place():
            raise ClientFileError(f"{lever}: not a lever the client lacks; allowed: "
                                  f"{', '.join(client.not_in_place()) or 'none'}")
    settings: dict[str, Parameters] = {"status quo": base}
    for lever in tested:
        dose = STANDARD_DOSES[lever]
        settings[lever] = base.replace(**{lever: int(dose) if Parameters.is_integer(lever)
                                          else dose})
    map_months = min(MAP_MONTHS, base.horizon_months)
    years = read_years(client.horizon_years)
    read_months = tuple(12 * y for y in years)
    tasks = [_Task(("run", name, r), params, seed, read_months)
             for name, params in settings.items() for r, seed in enumerate(seeds)]
    for share in map_shares:
        for pressure in map_pressures:
            params = client.parameters(key_share=share, pressure=pressure,
                                       horizon_months=max(12, map_months))
            tasks += [_Task(("map", share, pressure, r), params, seed, ())
                      for r, seed in enumerate(map_seeds)]
    readings, resumed = _run_all(tasks, workers, progress, store)

    def stack(name: str, item: str) -> np.ndarray:
        return np.stack([readings[("run", name, r)][item] for r in range(reps)])

    opening = readings[("run", "status quo", 0)]["opening_revenue"]
    scale = client.turnover / (12.0 * opening)
    captured = stack("status quo", "captured")  # (replications, years read, accounts)
    risk_rows = []
    for j, account in enumerate(client.accounts):
        for y, year in enumerate(years):
            k = int(captured[:, y, j].sum())
            low, high = wilson(k, reps, CONFIDENCE)
            risk_rows.append({"account": account.name, "negotiator": account.negotiator,
                              "share": account.share, "year": year, "captured": k / reps,
                              "low": low, "high": high, "replications": reps})
    capture_risk = pd.DataFrame(risk_rows)

    rng = np.random.default_rng(np.random.SeedSequence(client.seed,
                                                       spawn_key=(_BOOTSTRAP_STREAM,)))
    last_year = stack("status quo", "last_year_profit") * scale
    mar_rows = []
    for j, account in enumerate(client.accounts):
        at_end = captured[:, -1, j]
        at_risk, low, high, gap = margin_at_risk(at_end, last_year[:, j], rng)
        loyal = last_year[~at_end, j]
        capt = last_year[at_end, j]
        mar_rows.append({
            "account": account.name, "negotiator": account.negotiator,
            "share": account.share, "turnover": account.share * client.turnover,
            "capture_at_horizon": float(at_end.mean()),
            "profit_loyal": float(loyal.mean()) if len(loyal) else float("nan"),
            "profit_captured": float(capt.mean()) if len(capt) else float("nan"),
            "gap": gap, "at_risk": at_risk, "low": low, "high": high})
    margin_table = pd.DataFrame(mar_rows)

    def yearly(name: str, item: str) -> np.ndarray:
        return stack(name, item) * scale * 12.0 / stack(name, "months")

    def capture_share(name: str) -> np.ndarray:
        return stack(name, "captured")[:, -1, :].mean(axis=1)

    sq_profit, sq_cost = yearly("status quo", "supplier_profit"), yearly("status quo",
                                                                         "people_cost")
    sq_revenue = yearly("status quo", "supplier_revenue")
    sq_capture = capture_share("status quo")
    mean, low, high = _mean_ci(sq_profit)
    status_quo = {"profit": mean, "profit_low": low, "profit_high": high,
                  "capture": float(sq_capture.mean()), "people_cost": float(sq_cost.mean()),
                  "revenue": float(sq_revenue.mean()),
                  "margin": float(sq_profit.sum() / sq_revenue.sum())}

    lever_rows = []
    for lever in tested:
        d_capture = capture_share(lever) - sq_capture
        d_net = yearly(lever, "supplier_profit") - sq_profit
        d_cost = yearly(lever, "people_cost") - sq_cost
        row: dict[str, Any] = {"lever": lever, "dose": STANDARD_DOSES[lever],
                               "capture_sq": float(sq_capture.mean())}
        for name, values in (("capture", d_capture), ("net", d_net), ("cost", d_cost),
                             ("gross", d_net + d_cost)):
            m, lo, hi = _mean_ci(values)
            row.update({name: m, f"{name}_low": lo, f"{name}_high": hi})
        row["verdict"] = ("pays" if row["net_low"] > 0 else "does not pay"
                          if row["net_high"] < 0 else "unclear")
        lever_rows.append(row)
    columns = ["lever", "dose", "capture_sq", *(f"{n}{s}" for n in ("capture", "net", "cost",
                                                                  "gross")
                                                for s in ("", "_low", "_high")), "verdict"]
    lever_table = pd.DataFrame(lever_rows, columns=columns)
    if not lever_table.empty:
        lever_table = lever_table.sort_values("net", ascending=False,
                                              kind="stable").reset_index(drop=True)

    map_rows = []
    for share in map_shares:
        for pressure in map_pressures:
            values = [readings[("map", share, pressure, r)]["map_captured"]
                      for r in range(len(map_seeds))]
            map_rows.append({"key_share": share, "pressure": pressure,
                             "capture": float(np.mean(values)), "runs": len(values)})
    return Diagnosis(client=client, params=base, money_per_unit=scale, read_years=years,
                     capture_risk=capture_risk, margin_at_risk=margin_table,
                     status_quo=status_quo, levers=lever_table, capture_map=pd.DataFrame(map_rows),
                     map_months=map_months, seeds=tuple(seeds), map_seeds=tuple(map_seeds),
                     runs=len(tasks), wall_time=time.perf_counter() - start, workers=workers,
                     runs_resumed=resumed)


# --- plain words -------------------------------------------------------------------------------
def lever_name(lever: str) -> str:
    """A lever's plain name."""
    return human(lever)


def dose_text(lever: str, dose: float) -> str:
    """A lever's dose in plain words (``every 12 months``, ``50 %``)."""
    if lever == "rotation_months":
        return f"every {dose:g} months"
    if lever == "smb_growth":
        return f"{100 * dose:g} % more small clients a month"
    if lever == KPI_MIX:
        return f"{100 * dose:.0f} % of the KPI on margin"
    return value_text(lever, dose) if Parameters.spec(lever).unit != "index" else (
        f"{100 * dose:.0f} % strength")


def status_quo_text(client: Client) -> str:
    """The client's status quo in one plain paragraph."""
    accounts = ", ".join(f"{a.name} ({pct(a.share, 0)}, "
                         f"{'owner-run' if a.negotiator == 'owner' else 'procurement'})"
                         for a in client.accounts)
    in_place = [f"{human(n)} ({dose_text(n, v)})" for n, v in client.settings().items()
                if v]
    rivals = ("" if client.rival_pressure is None else
              f" Its rivals' pressure is {client.rival_pressure:g}.")
    return (f"{client.name}: turnover {money_text(client.turnover, client.currency)} a year; "
            f"{len(client.accounts)} key account{'s' if len(client.accounts) > 1 else ''} "
            f"make{'' if len(client.accounts) > 1 else 's'} {pct(client.key_share, 0)} of "
            f"it: {accounts}. {client.suppliers} suppliers "
            f"compete for every key account (the client included). Sales management: "
            f"{client.pressure_text()}.{rivals} Levers in place: "
            f"{', '.join(in_place) if in_place else 'none'}.")
