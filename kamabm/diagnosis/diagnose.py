"""Diagnosing a client: capture risk, margin at risk and levers, from its own portfolio.

A consultant describes one supplier firm (the *client*) in a small TOML file (its key
accounts with their share of turnover and who negotiates for them, the market, its sales
management; ``experiments/client_example.toml``). :func:`load_client` reads and checks it;
:func:`diagnose` runs the client's market many times and reads, for the client only:

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
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.model.params import LEVER, ParameterError, Parameters
from kamabm.names import human, pct, value_text

# --- what the input file may hold ------------------------------------------------------------
#: The negotiator types and the buyer detachment each stands for (``buyer_detachment``'s
#: default for a procurement department, 0 for an owner).
NEGOTIATORS: dict[str, float] = {
    "procurement": float(Parameters.default("buyer_detachment")),
    "owner": 0.0,
}
#: The management levers (the ``lever`` group of :class:`Parameters`). The KPI mix,
#: ``kpi_margin_weight``, is given under ``[sales]``; the others under ``[levers]``.
LEVERS: tuple[str, ...] = tuple(n for n in Parameters.names()
                                if Parameters.spec(n).group == LEVER)
KPI_MIX = "kpi_margin_weight"
#: The standard dose at which a lever not in place is tested: its "on" level in
#: ``experiments/interventions.toml`` (a test checks they agree).
STANDARD_DOSES: dict[str, float] = {
    "kpi_margin_weight": 0.5, "training": 1.0, "deal_review": 0.5, "senior_support": 0.5,
    "rotation_months": 12, "smb_growth": 0.02,
}
DEFAULT_REPLICATIONS = 200
DEFAULT_MAP_REPLICATIONS = 10
DEFAULT_HORIZON_YEARS = 5
MAX_REPLICATIONS = 100_000
MAX_MAP_REPLICATIONS = 1_000
MAX_SEED = 2**63 - 1
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
#: Runs per chunk sent to a worker process.
CHUNK = 8

#: What the rivals run, as the model's ``focal_levers_only``: "none" of the levers (only
#: the client, supplier 0, runs its levers) or the "same" as the client (every supplier).
RIVALS_LEVERS: dict[str, int] = {"none": 1, "same": 0}

# SeedSequence spawn keys of the three random streams.
_DIAGNOSIS_STREAM, _MAP_STREAM, _BOOTSTRAP_STREAM = 0, 1, 2

_SECTIONS: dict[str, set[str]] = {
    "client": {"name", "turnover", "currency"},
    "key_accounts": {"name", "share", "negotiator", "detachment"},
    "market": {"suppliers", "rivals_levers"},
    "sales": {"pressure", "kpi_margin_weight", "rival_pressure"},
    "levers": {n for n in LEVERS if n != KPI_MIX},
    "run": {"replications", "map_replications", "seed", "horizon_years"},
}

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


class ClientFileError(ParameterError):
    """A client file the diagnosis cannot accept; one line naming the field and range."""


# --- the client ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyAccount:
    """One key account of the client.

    Attributes:
        name: the account's name.
        share: its share of the client's turnover, in (0, 1].
        negotiator: ``"procurement"`` or ``"owner"`` (:data:`NEGOTIATORS`).
        detachment: the buyer negotiator's detachment in the model, 0 (owner) to 1.

    """

    name: str
    share: float
    negotiator: str
    detachment: float


@dataclass(frozen=True)
class Client:
    """A client firm as its input file describes it (see :func:`load_client`).

    Attributes:
        name: the firm's name.
        turnover: yearly turnover, in ``currency``.
        currency: the label of its money.
        accounts: its key accounts, in the file's order.
        suppliers: suppliers in the market, the client included.
        pressure: management pressure on the client's KAMs, 0 to 1.
        kpi_margin_weight: weight of margin (vs. volume) in the KAMs' KPI.
        rival_pressure: the rivals' pressure on their KAMs (None: the same as the client's).
        rivals_levers: ``"none"`` (the rivals run no levers; the client's levers, and each
            lever tested, are the client's alone) or ``"same"`` (the rivals run whatever
            levers the client runs, the tested one included).
        levers: the levers in place (:data:`LEVERS` other than the KPI mix), by name.
        replications: runs of the client's market, each with its own seed.
        map_replications: runs at each point of the capture map.
        seed: the master seed.
        horizon_years: years simulated.
        source: the file it was read from ("" when built in Python).

    """

    name: str
    turnover: float
    currency: str
    accounts: tuple[KeyAccount, ...]
    suppliers: int = 4
    pressure: float = 0.5
    kpi_margin_weight: float = 0.0
    rival_pressure: float | None = None
    rivals_levers: str = "none"
    levers: Mapping[str, float] = field(default_factory=dict)
    replications: int = DEFAULT_REPLICATIONS
    map_replications: int = DEFAULT_MAP_REPLICATIONS
    seed: int = 1
    horizon_years: int = DEFAULT_HORIZON_YEARS
    source: str = ""

    @property
    def key_share(self) -> float:
        """The key accounts' total share of turnover."""
        return float(sum(a.share for a in self.accounts))

    @property
    def slug(self) -> str:
        """The name as a folder name: lower case, words joined by hyphens."""
        return slug(self.name)

    @property
    def market_pressure(self) -> float:
        """The rivals' pressure (the client's when no rival pressure is given)."""
        return self.pressure if self.rival_pressure is None else self.rival_pressure

    def settings(self) -> dict[str, float]:
        """Every lever's value at the client, the KPI mix included (0 when not in place)."""
        values = {name: 0.0 for name in LEVERS}
        values.update(self.levers)
        values[KPI_MIX] = self.kpi_margin_weight
        return values

    def not_in_place(self) -> tuple[str, ...]:
        """The levers the client does not use (each is tested at its standard dose)."""
        return tuple(n for n, v in self.settings().items() if v == 0)

    def parameters(self, *, key_share: float | None = None, pressure: float | None = None,
                   **changes: Any) -> Parameters:
        """The model's parameters of the client's market (the client is supplier 0).

        Args:
            key_share: the key accounts' total share of turnover, if not the client's
                (each account's share is scaled in proportion; the capture map).
            pressure: the client's pressure, if not its own (the rivals' stays).
            **changes: other parameters to change (a lever's dose).

        """
        shares = [a.share for a in self.accounts]
        if key_share is not None:
            shares = [s * key_share / self.key_share for s in shares]
        own = self.pressure if pressure is None else pressure
        rival = self.market_pressure
        values: dict[str, Any] = {
            "n_suppliers": self.suppliers, "n_key_buyers": len(self.accounts),
            "key_account_shares": tuple(shares), "client_revenue_share": float(sum(shares)),
            "buyer_detachments": tuple(a.detachment for a in self.accounts),
            "kam_pressure": rival,
            "supplier_pressures": (() if own == rival
                                   else (own,) + (rival,) * (self.suppliers - 1)),
            "horizon_months": 12 * self.horizon_years,
            "focal_levers_only": RIVALS_LEVERS[self.rivals_levers],
            **{k: (int(v) if Parameters.is_integer(k) else v)
               for k, v in self.settings().items()},
        }
        values.update(changes)
        return Parameters(**values)

    def pressure_text(self, pressure: float | None = None) -> str:
        """What the pressure means in quota and pay terms, derived from the KAM's rules.

        Each KPI year the quota asks ``quota_stretch x pressure`` more than the account
        gives when the year starts (volume, or profit for the margin part of the KPI), and
        the gap to quota and the year-end deadline weigh on the KAM with ``pressure``
        times their full weight (``kamabm.model.kam``).
        """
        p = self.pressure if pressure is None else pressure
        stretch = float(Parameters.default("quota_stretch"))
        asks = 100 * stretch * p
        w = self.kpi_margin_weight
        what = ("volume" if w == 0 else "profit" if w == 1
                else f"volume ({100 * (1 - w):.0f} % of the KPI) and profit "
                     f"({100 * w:.0f} %)")
        return (f"pressure {p:g}: the quota asks {asks:.0f} % more {what} a year than the "
                f"account gives when the KPI year starts, and the gap to quota and the "
                f"year-end deadline weigh on the KAM's pay and standing at {100 * p:.0f} % "
                f"of their full force")


def slug(text: str) -> str:
    """``text`` as a folder name: lower-case letters and digits joined by hyphens."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words) or "client"


# --- reading the file ------------------------------------------------------------------------
def load_client(path: str | Path) -> Client:
    """Read and check a client file (TOML; see ``experiments/client_example.toml``).

    Raises:
        ClientFileError: the file cannot be read, is not TOML, has an unknown key, or a
            field out of its range; the one-line message names the file, the field and
            the allowed range.

    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClientFileError(f"{path}: cannot read the client file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ClientFileError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClientFileError(f"{path}: not valid TOML ({exc})") from None
    try:
        return client_from_mapping(data, source=str(path))
    except ParameterError as exc:
        raise ClientFileError(f"{path}: {exc}") from None


def client_from_mapping(data: Mapping[str, Any], *, source: str = "") -> Client:
    """Build and check a :class:`Client` from a client file's tables.

    Raises:
        ClientFileError: an unknown key or a field out of range (one line naming it).

    """
    _known(data, set(_SECTIONS), "")
    head = _section(data, "client", required=True)
    name = _text(head, "name", "client")
    turnover = _number(head, "turnover", "client", low=0, high=math.inf, low_open=True,
                       high_open=True, unit="money a year")
    currency = _text(head, "currency", "client", default="")

    raw_accounts = data.get("key_accounts")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise ClientFileError("key_accounts: missing; give one [[key_accounts]] block per "
                              "key account (1 to 10)")
    high = int(Parameters.spec("n_key_buyers").high)
    if len(raw_accounts) > high:
        raise ClientFileError(f"key_accounts: {len(raw_accounts)} accounts, allowed 1 to "
                              f"{high}")
    accounts = []
    for k, raw in enumerate(raw_accounts):
        where = f"key_accounts[{k + 1}]"
        if not isinstance(raw, dict):
            raise ClientFileError(f"{where}: expected a table with name, share, negotiator")
        _known(raw, _SECTIONS["key_accounts"], where)
        account_name = _text(raw, "name", where)
        share = _number(raw, "share", where, param="key_account_shares")
        negotiator = _text(raw, "negotiator", where)
        if negotiator not in NEGOTIATORS:
            raise ClientFileError(f"{where}.negotiator = {negotiator!r}: allowed "
                                  f"{' or '.join(repr(n) for n in NEGOTIATORS)}")
        detachment = _number(raw, "detachment", where, param="buyer_detachment",
                             default=NEGOTIATORS[negotiator])
        accounts.append(KeyAccount(account_name, share, negotiator, detachment))
    names = [a.name for a in accounts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ClientFileError(f"key_accounts: name {twice[0]!r} given twice; name each "
                              "account once")
    total = sum(a.share for a in accounts)
    if total > 1.0 + 1e-9:
        raise ClientFileError(f"key_accounts: shares sum to {total:g}, allowed (0, 1] "
                              "(share of the client's turnover)")

    market = _section(data, "market")
    suppliers = int(_number(market, "suppliers", "market", param="n_suppliers",
                            default=Parameters.default("n_suppliers"), whole=True))
    rivals_levers = _text(market, "rivals_levers", "market", default="none")
    if rivals_levers not in RIVALS_LEVERS:
        raise ClientFileError(f"market.rivals_levers = {rivals_levers!r}: allowed "
                              f"{' or '.join(map(repr, RIVALS_LEVERS))}")
    sales = _section(data, "sales")
    pressure = _number(sales, "pressure", "sales", param="kam_pressure",
                       default=Parameters.default("kam_pressure"))
    kpi = _number(sales, KPI_MIX, "sales", param=KPI_MIX, default=0.0)
    rival = (None if "rival_pressure" not in sales
             else _number(sales, "rival_pressure", "sales", param="kam_pressure"))
    lever_table = _section(data, "levers")
    levers = {}
    for lever in sorted(_SECTIONS["levers"]):
        if lever in lever_table:
            value = _number(lever_table, lever, "levers", param=lever,
                            whole=Parameters.is_integer(lever))
            if value:
                levers[lever] = value
    run = _section(data, "run")
    replications = int(_number(run, "replications", "run", low=2, high=MAX_REPLICATIONS,
                               default=DEFAULT_REPLICATIONS, whole=True, unit="runs"))
    map_replications = int(_number(run, "map_replications", "run", low=1,
                                   high=MAX_MAP_REPLICATIONS, default=DEFAULT_MAP_REPLICATIONS,
                                   whole=True, unit="runs a point"))
    seed = int(_number(run, "seed", "run", low=0, high=MAX_SEED, default=1, whole=True,
                       unit="seed"))
    max_years = int(Parameters.spec("horizon_months").high) // 12
    years = int(_number(run, "horizon_years", "run", low=1, high=max_years,
                        default=DEFAULT_HORIZON_YEARS, whole=True, unit="years"))
    client = Client(name=name, turnover=turnover, currency=currency, accounts=tuple(accounts),
                    suppliers=suppliers, pressure=pressure, kpi_margin_weight=kpi,
                    rival_pressure=rival, rivals_levers=rivals_levers, levers=levers,
                    replications=replications, map_replications=map_replications,
                    seed=seed, horizon_years=years, source=source)
    client.parameters()  # anything the model itself refuses, refused now
    return client


def _known(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            home = [s for s, keys in _SECTIONS.items() if key in keys and s != where]
            if home and where in _SECTIONS:
                hint = f" (it belongs under [{home[0]}])"
            name = f"{where}.{key}" if where else key
            raise ClientFileError(f"{name}: unknown key{hint}; allowed: "
                                  f"{', '.join(sorted(allowed))}")


def _section(data: Mapping[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
    table = data.get(name)
    if table is None:
        if required:
            raise ClientFileError(f"[{name}]: missing; see experiments/client_example.toml")
        return {}
    if not isinstance(table, dict):
        raise ClientFileError(f"{name}: expected a table [{name}]")
    _known(table, _SECTIONS[name], name)
    return table


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ClientFileError(f"{where}.{key}: missing")
    if not isinstance(value, str) or (not value.strip() and default is None):
        raise ClientFileError(f"{where}.{key} = {value!r}: expected a non-empty text")
    return value.strip()


def _number(table: Mapping[str, Any], key: str, where: str, *, param: str | None = None,
            low: float = 0.0, high: float = 1.0, low_open: bool = False,
            high_open: bool = False, unit: str = "", default: float | None = None,
            whole: bool = False) -> float:
    """A number of the file, checked against its range (a parameter's range if ``param``)."""
    if param is not None:
        spec = Parameters.spec(param)
        low, high, low_open, high_open, unit = (spec.low, spec.high, spec.low_open,
                                                spec.high_open, spec.unit.removesuffix(" each"))
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    allowed = f"allowed {left}{low:g}, {high:g}{right}" + (f" ({unit})" if unit else "")
    name = f"{where}.{key}"
    if key not in table:
        if default is None:
            raise ClientFileError(f"{name}: missing, {allowed}")
        return float(default)
    value = table[key]
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClientFileError(f"{name} = {value!r}: must be {kind}, {allowed}")
    if whole and not float(value).is_integer():
        raise ClientFileError(f"{name} = {value!r}: must be {kind}, {allowed}")
    x = float(value)
    above = x > low if low_open else x >= low
    below = x < high if high_open else x <= high
    if not (math.isfinite(x) and above and below):
        raise ClientFileError(f"{name} = {value!r}: out of range, {allowed}")
    return x


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


def _run_chunk(tasks: Sequence[_Task]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Run a chunk of tasks (in a worker process); return each task's readings.

    Only what the diagnosis needs leaves the worker: whether each account's KAM is
    captured at the months read, each account's profit over the last year (a year's
    worth), and the client's profit, revenue and people and acquisition costs summed
    over the run, all in model units; or, for the map, the share captured.
    """
    from kamabm.model.run import account_history

    out: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for task in tasks:
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
            reading = {"captured": float(h["captured"][month].mean())}
        out.append((task.key, reading))
    return out


def _seeds(master: int, stream: int, n: int) -> list[int]:
    """``n`` seeds (below ``2**63``) of one stream of the master seed."""
    return [int(np.random.SeedSequence(master, spawn_key=(stream, r)).generate_state(
        1, np.uint64)[0] >> np.uint64(1)) for r in range(n)]


def _run_all(tasks: list[_Task], workers: int | None,
             progress: Callable[[int, int], None] | None) -> dict[tuple[Any, ...], Any]:
    from kamabm.experiments.backends import open_backend

    chunks = [tasks[i:i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    readings: dict[tuple[Any, ...], Any] = {}
    with open_backend(workers=workers) as backend:
        for part in backend.map(_run_chunk, chunks, CHUNK):
            readings.update(part)
            if progress is not None:
                progress(len(readings), len(tasks))
    return readings


# --- statistics ------------------------------------------------------------------------------
def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n``."""
    from scipy.stats import norm

    if n == 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


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
             map_pressures: Sequence[float] = MAP_PRESSURES) -> Diagnosis:
    """Run the client's market and read its capture risk, margin at risk and levers.

    Args:
        client: the client (:func:`load_client`).
        workers: worker processes (default: every core; 1 runs here). The results are
            the same for any number.
        progress: called with (runs done, runs planned) as chunks finish.
        levers: the levers to test (default: every lever not in place); each must be
            one of :data:`LEVERS` not in place.
        map_shares: the capture map's key accounts' shares of turnover, in (0, 1].
        map_pressures: the capture map's pressures, in [0, 1].

    Raises:
        ClientFileError: a lever asked for is unknown or already in place.

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
    readings = _run_all(tasks, workers, progress)

    def stack(name: str, item: str) -> np.ndarray:
        return np.stack([readings[("run", name, r)][item] for r in range(reps)])

    opening = readings[("run", "status quo", 0)]["opening_revenue"]
    scale = client.turnover / (12.0 * opening)
    captured = stack("status quo", "captured")  # (replications, years read, accounts)
    risk_rows = []
    for j, account in enumerate(client.accounts):
        for y, year in enumerate(years):
            k = int(captured[:, y, j].sum())
            low, high = wilson(k, reps)
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
            values = [readings[("map", share, pressure, r)]["captured"]
                      for r in range(len(map_seeds))]
            map_rows.append({"key_share": share, "pressure": pressure,
                             "capture": float(np.mean(values)), "runs": len(values)})
    return Diagnosis(client=client, params=base, money_per_unit=scale, read_years=years,
                     capture_risk=capture_risk, margin_at_risk=margin_table,
                     status_quo=status_quo, levers=lever_table, capture_map=pd.DataFrame(map_rows),
                     map_months=map_months, seeds=tuple(seeds), map_seeds=tuple(map_seeds),
                     runs=len(tasks), wall_time=time.perf_counter() - start, workers=workers)


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
