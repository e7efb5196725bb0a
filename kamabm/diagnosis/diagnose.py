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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kamabm.diagnosis.client import KPI_MIX, Client, ClientFileError
from kamabm.diagnosis.runs import MAP_MONTHS, RunsStored, Task, run_all, run_seeds
from kamabm.experiments.seeds import spawned_generator
from kamabm.model.batch import DEFAULT_ENGINE, check_engine
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
#: Bootstrap resamples of the margin-at-risk interval.
BOOTSTRAP = 2000
CONFIDENCE = 0.95

# Spawn keys of the three random streams (kamabm.experiments.seeds).
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
    "The model's behavioural constants are assumptions chosen so that it shows the "
    "essay's patterns (only a handover's cost is fitted to a published number), not "
    "measured at this client; results hold at those constants (docs/findings.md says which "
    "claims hold over the calibration's posterior).",
)


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
        engine: the model's engine this call ran on.

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
    engine: str = DEFAULT_ENGINE

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
             store: RunsStored | None = None, engine: str = DEFAULT_ENGINE) -> Diagnosis:
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
        engine: the model's engine, ``"compiled"`` (default) or ``"mesa"``: the same
            numbers either way, so a stored diagnosis resumes on either.

    Raises:
        ParameterError: ``engine`` is not an engine.
        ClientFileError: a lever asked for is unknown or already in place.
        StoreError: the folder of ``store`` holds runs of another diagnosis.
        FolderLockedError: another process is writing that folder.
        kamabm.experiments.sweep.SweepInterrupted: SIGTERM or SIGHUP (KeyboardInterrupt
            on Ctrl-C); the runs computed so far are stored, the workers stopped.

    Returns:
        The :class:`Diagnosis`.

    """
    check_engine(engine)
    start = time.perf_counter()
    base = client.parameters()
    reps = client.replications
    seeds = run_seeds(client.seed, _DIAGNOSIS_STREAM, reps)
    map_seeds = run_seeds(client.seed, _MAP_STREAM, client.map_replications)
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
    tasks = [Task(("run", name, r), params, seed, read_months)
             for name, params in settings.items() for r, seed in enumerate(seeds)]
    for share in map_shares:
        for pressure in map_pressures:
            params = client.parameters(key_share=share, pressure=pressure,
                                       horizon_months=max(12, map_months))
            tasks += [Task(("map", share, pressure, r), params, seed, ())
                      for r, seed in enumerate(map_seeds)]
    readings, resumed = run_all(tasks, workers, progress, store, engine)

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

    rng = spawned_generator(client.seed, (_BOOTSTRAP_STREAM,))
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
                     runs_resumed=resumed, engine=engine)


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
