"""Diagnosing a client: capture risk, margin at risk and levers, from its own portfolio.

A consultant describes one supplier firm (the *client*) in a small TOML file (its key
accounts with their share of turnover and who negotiates for them, the market, its sales
management, optionally its books and the levers it wants combined;
``experiments/client_example.toml``), which :func:`kamabm.diagnosis.client.load_client`
reads and checks. :func:`diagnose` runs the client's market many times, over constant
sets drawn from the calibration's posterior (:mod:`kamabm.diagnosis.constants`; or at the
model's defaults only), and reads, for the client only:

* **capture risk** per key account at 1, 3 and 5 years: the share of runs in which the
  KAM in charge of that account is captured (alignment below
  :data:`kamabm.model.run.CAPTURED_BELOW`);
* **margin at risk** per key account: the probability that its KAM is captured at the
  horizon times the gap in the account's profit over the last year between runs where he
  stays loyal and where he is captured, in the client's money;
* **options**: each management lever the client does not use yet at its standard dose,
  lowering the sales pressure, every pair of them and the client's own combination,
  against the status quo on the same seeds and constants: change in capture and in the
  client's profit a year, net of what the option costs;
* a **timeline**: the status quo and the best option year by year, with the payback year;
* per account, **what would have to be true** for its capture to pass one half;
* a **capture map** over the key accounts' share of turnover and the pressure.

Every figure has a *band* (:mod:`kamabm.diagnosis.tables`): with enough constant sets, the
middle 90 % of the sets' values (each averaged over its runs), so it holds the
uncertainty of the constants and the runs' noise; at the defaults only, a 95 % confidence
interval over the runs. Money is scaled from the model's units to the client's turnover
and, given the client's actual margin, anchored to it by a fixed yearly amount. All
randomness flows from the master seed: the numbers do not depend on the worker count.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kamabm.diagnosis.client import LOWER_PRESSURE, Client, ClientFileError
from kamabm.diagnosis.constants import (
    CalibrationFacts,
    Condition,
    ConstantSets,
    calibration_facts,
    constant_sets,
)
from kamabm.diagnosis.runs import MAP_MONTHS, RunsStored, Task, run_all, run_seeds
from kamabm.diagnosis.words import (
    dose_text,
    lever_name,
    money_text,
    status_quo_text,
)
from kamabm.model.batch import DEFAULT_ENGINE, check_engine
from kamabm.model.params import Parameters

__all__ = ["ASSUMPTIONS", "BOOTSTRAP", "CONFIDENCE", "Diagnosis", "MAP_PRESSURES",
           "MAP_SHARES", "READ_YEARS", "STANDARD_DOSES", "STATUS_QUO", "diagnose",
           "dose_text", "lever_name", "margin_at_risk", "money_text", "option_doses",
           "options_run", "read_years", "status_quo_text"]

# --- what the diagnosis reads -----------------------------------------------------------------
#: The standard dose at which a lever not in place is tested: its "on" level in
#: ``experiments/interventions.toml`` (a test checks they agree).
STANDARD_DOSES: dict[str, float] = {
    "kpi_margin_weight": 0.5, "training": 1.0, "deal_review": 0.5, "senior_support": 0.5,
    "rotation_months": 12, "smb_growth": 0.02,
}
#: The status quo's name among the options run.
STATUS_QUO = "status quo"
#: Years at which capture risk is read (those within the horizon, and the horizon).
READ_YEARS = (1, 3, 5)
#: The capture map's grid: key accounts' total share of turnover, and pressure.
MAP_SHARES: tuple[float, ...] = tuple(round(0.1 * k, 2) for k in range(1, 11))
MAP_PRESSURES: tuple[float, ...] = tuple(round(0.2 * k, 2) for k in range(6))
#: Bootstrap resamples of the margin-at-risk interval (at the defaults only).
BOOTSTRAP = 2000
#: Coverage of a confidence interval over runs (at the defaults only).
CONFIDENCE = 0.95

# Spawn keys of the three random streams (kamabm.experiments.seeds).
_DIAGNOSIS_STREAM, _MAP_STREAM, _BOOTSTRAP_STREAM = 0, 1, 2

#: What the model assumes, in plain words, for the report's box (what the constants are
#: calibrated to is read from the calibration itself, see the report).
ASSUMPTIONS: tuple[str, ...] = (
    "One product, sold by a few suppliers to the same key buyers and to small owner-run "
    "clients; every rival has a portfolio like the client's.",
    "A KAM is 'captured' when his loyalty to his employer has fallen below the midpoint; "
    "he drifts there through negotiations, stress, time spent on the client's demands and "
    "his colleagues; it is not a formula of the inputs.",
    "The client's levers are its own (its rivals run none of them unless the file says "
    "they run the same); every lever books its cost, at the model's prices scaled to the "
    "client's turnover, not the client's own prices.",
    "Not modelled: hiring and firing, product or price-list changes, entry and exit of "
    "competitors, contracts of different lengths. The numbers compare options; they are "
    "not a forecast of the client's books.",
)


def margin_at_risk(captured: np.ndarray, profit: np.ndarray, rng: np.random.Generator,
                   resamples: int = BOOTSTRAP) -> tuple[float, float, float, float]:
    """Probability of capture times the loyal-minus-captured profit gap, with a bootstrap.

    Args:
        captured: one bool per run: the account's KAM captured at the horizon.
        profit: the account's profit over the last year, per run.
        rng: the bootstrap's generator.
        resamples: bootstrap resamples.

    Returns:
        ``(at_risk, low, high, gap)``: the margin at risk, its 95 % percentile interval
        and the gap itself. NaN when the gap cannot be estimated (every run captured);
        0 with interval [0, 0] when no run is captured.

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

    Every ``low``/``high`` pair is a band (:func:`kamabm.diagnosis.tables.band`).

    Attributes:
        client: the client diagnosed.
        params: the model's parameters of the status quo (at the default constants).
        money_per_unit: the client's money per unit of the model's money (mean over sets).
        read_years: the years at which capture risk is read.
        capture_risk: one row per (account, year): ``account``, ``negotiator`` (as given,
            in words and number), ``detachment``, ``share``, ``year``, ``captured``
            (share of runs), ``low``, ``high``, ``runs``.
        margin_at_risk: one row per account: ``account``, ``negotiator``, ``share``,
            ``turnover``, ``capture_at_horizon``, ``profit_loyal``, ``profit_captured``,
            ``gap``, ``at_risk``, ``low``, ``high`` (what would have to be true for
            capture above one half is in ``conditions``).
        status_quo: ``profit`` a year over the horizon (``profit_low``/``_high``),
            ``revenue`` a year, ``margin`` (profit / revenue over the horizon),
            ``margin_year1`` (the same in the first year), ``capture``, ``people_cost``,
            ``at_risk`` (every account's margin at risk, with ``at_risk_low``/``_high``),
            ``anchor`` (the fixed yearly amount taken off the model's profit to match the
            client's margin, one per constant set, mean and ``anchor_low``/``_high``; 0
            without one), ``model_margin_year1`` (before it).
        levers: one row per option ranked, best net money effect first: ``lever`` (its
            name, levers joined by " + "), ``kind`` (single, pressure, best pair, your
            combination), ``dose``, ``capture_sq``, ``capture``/``_low``/``_high``,
            ``net``/``_low``/``_high``, ``cost``/``_low``/``_high``,
            ``gross``/``_low``/``_high``, ``verdict``, ``rank`` and ``tied``.
        combinations: every pair of single options (and the client's combination), the
            same columns, best first.
        timeline: one row per year: ``year``, ``option`` (the best), ``profit_sq``,
            ``profit_sq_low``/``_high``, ``profit_best`` (and band), ``capture_sq``,
            ``capture_best``, ``gain`` (the best option's profit less the status quo's),
            ``cumulative_gain`` (and its band).
        payback_year: the first year from which the best option's cumulative gain stays
            above zero (None: not within the horizon).
        capture_map: one row per map point: ``key_share``, ``pressure``, ``capture``,
            ``runs``.
        map_months: the month at which the capture map is read.
        constants: the constant sets run (:class:`ConstantSets`).
        conditions: per account, its :class:`Condition` (None without a spread).
        calibration: what the calibration fitted, to what (None at the defaults).
        seeds: the runs' seeds, set by set (every option uses the same).
        map_seeds: the capture map's seeds, the same at every point.
        runs, wall_time, workers, runs_resumed, engine: as before: model runs made,
            seconds, worker processes, runs read back from a stopped call, the engine.

    """

    client: Client
    params: Parameters
    money_per_unit: float
    read_years: tuple[int, ...]
    capture_risk: pd.DataFrame
    margin_at_risk: pd.DataFrame
    status_quo: dict[str, float]
    levers: pd.DataFrame
    combinations: pd.DataFrame
    timeline: pd.DataFrame
    payback_year: int | None
    capture_map: pd.DataFrame
    map_months: int
    constants: ConstantSets
    conditions: tuple[Condition | None, ...]
    calibration: CalibrationFacts | None
    seeds: tuple[int, ...]
    map_seeds: tuple[int, ...]
    runs: int
    wall_time: float
    workers: int | None
    runs_resumed: int = 0
    engine: str = DEFAULT_ENGINE

    def money(self, value: float, *, sign: bool = False) -> str:
        """An amount with thousands separators and the currency: ``EUR 1,234,000``."""
        return money_text(value, self.client.currency, sign=sign)


def read_years(horizon_years: int) -> tuple[int, ...]:
    """The years at which capture risk is read: 1, 3, 5 within the horizon, and the horizon."""
    return tuple(sorted({y for y in READ_YEARS if y <= horizon_years} | {horizon_years}))


def option_doses(client: Client) -> dict[str, float]:
    """The dose of each single option: a lever's standard dose, the lowered pressure."""
    doses = {lever: STANDARD_DOSES[lever] for lever in client.not_in_place()}
    if client.lowers_pressure():
        doses[LOWER_PRESSURE] = client.lowered_pressure
    return doses


def options_run(levers: Sequence[str], combination: Sequence[str] = ()) -> dict[str, str]:
    """Every option run, by name, with its kind.

    The single ``levers``, their pairs, and the client's ``combination`` (levers joined
    by " + ", in the order given).
    """
    kinds = {lever: "pressure" if lever == LOWER_PRESSURE else "single" for lever in levers}
    for pair in itertools.combinations(levers, 2):
        kinds[" + ".join(pair)] = "pair"
    if combination:
        kinds[" + ".join(combination)] = "your combination"
    return kinds


def _parameters(client: Client, option: str, doses: dict[str, float]) -> Parameters:
    changes: dict[str, Any] = {}
    pressure = None
    for lever in option.split(" + ") if option != STATUS_QUO else ():
        if lever == LOWER_PRESSURE:
            pressure = doses[lever]
        else:
            dose = doses[lever]
            changes[lever] = int(dose) if Parameters.is_integer(lever) else dose
    return client.parameters(pressure=pressure, **changes)


def diagnose(client: Client, *, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             levers: Sequence[str] | None = None,
             map_shares: Sequence[float] = MAP_SHARES,
             map_pressures: Sequence[float] = MAP_PRESSURES,
             store: RunsStored | None = None, engine: str = DEFAULT_ENGINE) -> Diagnosis:
    """Run the client's market and read its capture risk, margin at risk and options.

    Args:
        client: the client (:func:`load_client`).
        workers: worker processes (default: every core; 1 runs here). The results are
            the same for any number.
        progress: called with (runs done, runs planned) as chunks finish.
        levers: the single options to test (default: every lever not in place, and
            lowering the pressure when the client's is above the lowered one); each must
            be one of :meth:`Client.options`. Their pairs are tested too.
        map_shares: the capture map's key accounts' shares of turnover, in (0, 1].
        map_pressures: the capture map's pressures, in [0, 1].
        store: keep the runs as journaled parts of a folder and resume those already
            there (``kamabm diagnose`` keeps them in its output folder); by default they
            are kept in memory only. The numbers are the same either way.
        engine: the model's engine, ``"compiled"`` (default) or ``"mesa"``.

    Raises:
        ParameterError: ``engine`` is not an engine.
        ClientFileError: a lever asked for is unknown or already in place; the posterior
            is missing or malformed.
        StoreError: the folder of ``store`` holds runs of another diagnosis.
        FolderLockedError: another process is writing that folder.
        kamabm.experiments.sweep.SweepInterrupted: SIGTERM or SIGHUP (KeyboardInterrupt
            on Ctrl-C); the runs computed so far are stored, the workers stopped.

    Returns:
        The :class:`Diagnosis`.

    """
    from kamabm.diagnosis.tables import summarise

    check_engine(engine)
    start = time.perf_counter()
    base = client.parameters()
    allowed = client.options()
    tested = allowed if levers is None else tuple(levers)
    for lever in (*tested, *client.combine):
        if lever not in allowed:
            raise ClientFileError(f"{lever}: not a lever the client lacks; allowed: "
                                  f"{', '.join(allowed) or 'none'}")
    tested = tuple(lever for lever in allowed if lever in tested)  # in the client's order
    doses = option_doses(client)
    kinds = options_run(tested, tuple(lever for lever in allowed if lever in client.combine))
    sets = constant_sets(client, base)
    n_sets = len(sets.sets)
    reps = client.replications * (client.draws if sets.mode == "defaults" else 1)
    seeds = run_seeds(client.seed, _DIAGNOSIS_STREAM, n_sets * reps)
    map_seeds = run_seeds(client.seed, _MAP_STREAM, client.map_replications)
    map_months = min(MAP_MONTHS, base.horizon_months)
    months = tuple(12 * y for y in range(1, client.horizon_years + 1))
    tasks = []
    for option in (STATUS_QUO, *kinds):
        params = _parameters(client, option, doses)
        for d, constants in enumerate(sets.sets):
            varied = params.replace(**constants) if constants else params
            tasks += [Task(("run", option, d, r), varied, seeds[d * reps + r], months)
                      for r in range(reps)]
    for share in map_shares:
        for pressure in map_pressures:
            params = client.parameters(key_share=share, pressure=pressure,
                                       horizon_months=max(12, map_months))
            for r, seed in enumerate(map_seeds):
                constants = sets.sets[r % n_sets]
                varied = params.replace(**constants) if constants else params
                tasks.append(Task(("map", share, pressure, r), varied, seed, ()))
    readings, resumed = run_all(tasks, workers, progress, store, engine)
    found = summarise(client, readings, (STATUS_QUO, *kinds), kinds, doses, sets, reps,
                      _BOOTSTRAP_STREAM)
    map_rows = []
    for share in map_shares:
        for pressure in map_pressures:
            values = [readings[("map", share, pressure, r)]["map_captured"]
                      for r in range(len(map_seeds))]
            map_rows.append({"key_share": share, "pressure": pressure,
                             "capture": float(np.mean(values)), "runs": len(values)})
    facts = calibration_facts(sets.source) if sets.mode == "posterior" else None
    return Diagnosis(client=client, params=base, read_years=read_years(client.horizon_years),
                     capture_map=pd.DataFrame(map_rows), map_months=map_months,
                     constants=sets, calibration=facts, seeds=tuple(seeds),
                     map_seeds=tuple(map_seeds), runs=len(tasks),
                     wall_time=time.perf_counter() - start, workers=workers,
                     runs_resumed=resumed, engine=engine, **found)

