"""The results layer: a sweep's results folder, loaded, classified, and analysed once.

:func:`load` reads a folder written by ``kamabm sweep``; :func:`analyse` decides once
what kind of experiment it holds (a two-factor map, one factor, levers against the status
quo, hysteresis, Sobol sensitivity) and computes every table the charts
(:mod:`kamabm.report.plots`, :mod:`kamabm.report.charts`) and the report
(:mod:`kamabm.report.html`) need:
the capture boundary with its bootstrap band, point means, margins with intervals,
interventions on common random numbers, erosion, Sobol indices, hysteresis branches,
per-point summaries and two typical runs. Charts draw what :class:`Analysis` holds and
the report writes from it; neither computes a table of its own.

An incomplete folder (an interrupted or still running sweep) is analysed as far as its
runs allow: :attr:`Analysis.notes` says how many runs are missing and why a chart the
design calls for cannot be drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis.mechanisms import DEPENDENCE, INTERACTION, co_capture, dose_response, knockouts
from kamabm.experiments.design import Experiment, ExperimentError
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.store import MANIFEST, RUNS_PARQUET, StoreError
from kamabm.experiments.sweep import DRAW
from kamabm.experiments.tables import load_results
from kamabm.model.params import FIVE_YEARS, LEVER, ParameterError, Parameters
from kamabm.names import (
    CAPTURE_RATE,
    CLIENT_SHARE,
    KEY_MARGIN,
    PRESSURE,
    PRESSURE_AFTER,
    SUPPLIER_MARGIN,
    fmt,
    human,
    pct,
    value_text,
)
from kamabm.stats import (
    ABOVE,
    BELOW,
    EROSION,
    INSIDE,
    capture_boundary,
    critical_value,
    erosion_attribution,
    hysteresis_branches,
    hysteresis_gap,
    margin_gap,
    one_at_a_time,
    paired_differences,
    select_setting,
    sobol_indices,
    summarise,
)

#: Kinds of experiment, as :func:`kind_of` tells them apart.
MAP, ONE_FACTOR, INTERVENTIONS, HYSTERESIS, SENSITIVITY, SINGLE, KNOCKOUTS, ENSEMBLE = (
    "map", "one factor", "interventions", "hysteresis", "sensitivity", "single point",
    "knock-outs", "ensemble")
#: Parameters that switch a model mechanism off at 0 (:mod:`kamabm.analysis.mechanisms`).
MECHANISMS = set(DEPENDENCE + INTERACTION)
#: Chart kinds, in the order they are drawn and shown in the report.
KINDS = ("phase_diagram", "transient_map", "margin_maps", "margin_by_factor",
         "margin_vs_capture", "outcome_by_factor", "knockouts", "co_capture",
         "interventions", "dose_response", "hysteresis", "sensitivity", "erosion",
         "typical_runs")
#: Chart kinds of a sweep over an ensemble of constant sets (:data:`ENSEMBLE`), in order.
ENSEMBLE_KINDS = ("ensemble_phase", "ensemble_margins")
#: The five-year capture rate a long run also records: its map is the transient one.
CAPTURE_5Y = "capture_rate_5y"
#: Outcomes whose margins are charted, with their axis labels.
MARGINS = {SUPPLIER_MARGIN: "supplier net margin (% of revenue)",
           KEY_MARGIN: "key-account gross margin (% of key revenue)"}
#: Outcomes compared in the intervention chart, with their axis labels (points of %).
INTERVENTION_OUTCOMES = {
    CAPTURE_RATE: "KAMs captured (points of %)",
    KEY_MARGIN: "key-account gross margin (points of %)",
    SUPPLIER_MARGIN: "supplier net margin (points of %)",
}
#: Outcomes decomposed in the sensitivity chart.
SENSITIVITY_OUTCOMES = (CAPTURE_RATE, "captured_months", SUPPLIER_MARGIN, KEY_MARGIN)
#: Outcomes drawn against a single swept factor.
FACTOR_OUTCOMES = (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN)
#: Outcomes averaged per design point in the summary table.
SUMMARY_OUTCOMES = (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN, "operational_share",
                    "client_satisfaction", "deadlock_rate", *EROSION)
#: Most lines drawn in one panel (a readable subset of levels).
MAX_LINES = 5


class ResultsError(ValueError):
    """Results that cannot be analysed or charted as asked; the message is one line."""


@dataclass(frozen=True)
class SweepResults:
    """A results folder, loaded: the successful runs, the experiment and the manifest.

    Attributes:
        directory: the folder.
        runs: the successful runs, one row each.
        experiment: the experiment the sweep ran.
        manifest: the folder's manifest.
        failed: runs that raised (left out of ``runs``).
        missing: design runs not stored yet (an interrupted or running sweep).

    """

    directory: Path
    runs: pd.DataFrame
    experiment: Experiment
    manifest: dict[str, Any]
    failed: int
    missing: int = 0

    @property
    def varied(self) -> tuple[str, ...]:
        """The varied parameters, uncertainties first, then levers."""
        return tuple(v.name for v in self.experiment.variables)

    @property
    def factors(self) -> tuple[str, ...]:
        """The varied parameters that take two values or more in the stored runs."""
        return tuple(n for n in self.varied if self.runs[n].nunique() > 1)

    @property
    def levers(self) -> list[str]:
        """The varied parameters that are management levers."""
        return [n for n in self.varied if n in Parameters.names()
                and Parameters.spec(n).group == LEVER]


def load(directory: str | Path) -> SweepResults:
    """Load a results folder written by ``kamabm sweep``.

    Raises:
        ResultsError: the folder is missing, holds no results or manifest, or no run
            succeeded.

    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory}: no such results folder")
    if (directory / "morris.csv").exists() and not (directory / RUNS_PARQUET).exists():
        raise ResultsError(f"{directory}: a Morris screening ('kamabm screen'), not a sweep; "
                           "its indices and chart are morris.csv and morris.png there")
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        # an ensemble is rebuilt from the posterior the sweep read, kept in the manifest
        ensemble = manifest["experiment"].get("ensemble") or {}
        experiment = parse_experiment(manifest["experiment"]["text"],
                                      posterior_text=ensemble.get("text"))
        runs = load_results(directory)
    except FileNotFoundError:
        raise ResultsError(f"{directory}: not a results folder (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ResultsError(f"{directory / MANIFEST}: unreadable ({exc})") from None
    except (StoreError, ExperimentError) as exc:
        raise ResultsError(str(exc)) from None
    except Exception as exc:  # a damaged parquet file: pyarrow raises its own errors
        raise ResultsError(f"{directory}: results unreadable ({type(exc).__name__}: {exc})"
                           ) from None
    ok = runs[runs["status"] == "ok"].reset_index(drop=True) if "status" in runs else runs
    if ok.empty:
        raise ResultsError(f"{directory}: no successful runs to plot")
    design = runs if "stage" not in runs else runs[runs["stage"] == "design"]
    missing = max(0, experiment.n_runs - design["run"].nunique()) if "run" in runs else 0
    return SweepResults(directory, ok, experiment, manifest, len(runs) - len(ok), missing)


def _longer_than_five_years(res: SweepResults) -> bool:
    return res.experiment.base.horizon_months > FIVE_YEARS


# --- what kind of experiment ---------------------------------------------------------------
def kind_of(res: SweepResults) -> tuple[str, tuple[str, ...], str | None]:
    """The kind of experiment the stored runs hold, its factors, and why it gets no map.

    The kind is read from the design and from the factors that actually vary among the
    stored runs, so an interrupted sweep is charted for what it holds.

    Returns:
        ``(kind, factors, note)``: one of :data:`MAP`, :data:`ONE_FACTOR`,
        :data:`INTERVENTIONS`, :data:`HYSTERESIS`, :data:`SENSITIVITY`, :data:`SINGLE`,
        :data:`KNOCKOUTS` (mechanisms switched on and off at several client shares),
        :data:`ENSEMBLE` (a two-factor grid run over an ensemble of constant sets);
        the factors charted (``(along, across)`` for a map); and a one-line reason when
        a grid sweep gets no capture map, else ``None``.

    """
    exp = res.experiment
    factors = res.factors
    grid = exp.design.method == "grid"
    if exp.base.pressure_change_month > 0 and {PRESSURE, PRESSURE_AFTER} <= set(factors):
        return HYSTERESIS, (PRESSURE, PRESSURE_AFTER), None
    if exp.design.method == "sobol":
        return SENSITIVITY, res.varied, None
    switched = [f for f in factors if f in MECHANISMS]
    if grid and switched and CLIENT_SHARE in factors and len(switched) == len(factors) - 1:
        return KNOCKOUTS, tuple(switched), None
    levers = [n for n in res.levers if n in factors]
    if grid and len(levers) >= 2 and len(factors) != 2:
        return INTERVENTIONS, tuple(levers), None
    if grid and len(factors) == 2 and exp.ensemble is not None and DRAW in res.runs:
        return ENSEMBLE, factors, None
    if grid and len(factors) == 2:
        return MAP, factors, None
    why = _no_map(res, factors) if grid else None
    if grid and len(factors) == 1:
        return ONE_FACTOR, factors, why
    return SINGLE, (), why


def _no_map(res: SweepResults, factors: Sequence[str]) -> str:
    single = [n for n in res.varied if n not in factors]
    held = "; ".join(f"the runs hold one value of {n} "
                     f"({fmt(res.runs[n].iloc[0])})" for n in single)
    if not factors:
        what = "the runs are all at one design point"
    elif len(factors) == 1:
        what = f"the runs vary only {factors[0]}"
    else:
        what = f"the runs vary {len(factors)} factors ({', '.join(factors)})"
    return (f"no capture map: a map needs exactly two factors with two values or more; "
            f"{what}" + (f" ({held})" if held else ""))


def plan(res: SweepResults) -> list[str]:
    """The chart kinds (from :data:`KINDS`) this experiment's results call for."""
    return list(_plan(res, kind_of(res)[0]))


def _plan(res: SweepResults, kind: str) -> tuple[str, ...]:
    columns = set(res.runs.columns)
    if CAPTURE_RATE not in columns:
        raise ResultsError(f"{res.directory}: results hold no capture_rate; sweep with it "
                           "kept")
    margins = [m for m in MARGINS if m in columns]
    erosion = set(EROSION) <= columns
    transient = [CAPTURE_5Y] if CAPTURE_5Y in columns and _longer_than_five_years(res) else []
    dose = [f for f in res.factors if f in res.levers and res.runs[f].nunique() > 2]
    kinds = {MAP: ["phase_diagram", *(["transient_map"] if transient else []),
                   *(["margin_maps", "margin_by_factor",
                      "margin_vs_capture"] if margins else []),
                   *(["erosion"] if erosion else [])],
             KNOCKOUTS: ["knockouts", "co_capture"],
             ONE_FACTOR: ["outcome_by_factor"],
             INTERVENTIONS: ["interventions", *(["dose_response"] if dose else []),
                             *(["erosion"] if erosion else [])],
             HYSTERESIS: ["hysteresis"],
             SENSITIVITY: ["sensitivity"],
             SINGLE: [],
             ENSEMBLE: []}[kind]
    if kind == ENSEMBLE:
        # no typical runs: two runs "differing only in their seed" mix constant sets here
        return ENSEMBLE_KINDS if margins else ENSEMBLE_KINDS[:1]
    return tuple(k for k in KINDS if k in [*kinds, "typical_runs"])


# --- the tables ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Boundary:
    """The capture boundary along one factor at every level of another.

    Attributes:
        table: one row per level of ``across`` (:func:`kamabm.stats.capture_boundary`).
        along: the factor the boundary is a value of.
        across: the factor whose levels each get a boundary.
        direction: +1 capture rises along ``along``, -1 it falls.

    """

    table: pd.DataFrame
    along: str
    across: str
    direction: int

    @property
    def inside(self) -> pd.DataFrame:
        """The levels where the boundary lies inside the swept range."""
        return self.table[self.table.status == INSIDE]

    def outside(self) -> tuple[list[float], list[float]]:
        """Levels where capture stays under 50 % at every swept value, and where it is over.

        Returns:
            ``(never, always)``: the levels of each kind, sorted.

        """
        return outside_levels(self.table, self.direction)


def boundary(runs: pd.DataFrame, along: str, across: str, *, n_boot: int = 500,
             seed: int = 0) -> Boundary:
    """The capture boundary along ``along`` at every level of ``across``, either direction.

    :func:`kamabm.stats.capture_boundary` assumes capture rises along the factor; when
    it falls (e.g. with learning ability) the factor is mirrored, the boundary estimated,
    and mirrored back, so ``low <= critical <= high`` still holds.
    """
    rho = runs[[along, CAPTURE_RATE]].corr(method="spearman").iloc[0, 1]
    direction = -1 if np.isfinite(rho) and rho < 0 else 1
    if direction == 1:
        table = capture_boundary(runs, along=along, across=across, n_boot=n_boot, seed=seed)
        return Boundary(table, along, across, 1)
    mirrored = runs.assign(**{along: -runs[along]})
    table = capture_boundary(mirrored, along=along, across=across, n_boot=n_boot, seed=seed)
    table["critical"], table["low"], table["high"] = (
        -table["critical"], -table["high"], -table["low"])
    table["status"] = table["status"].map({ABOVE: BELOW, BELOW: ABOVE, INSIDE: INSIDE})
    return Boundary(table, along, across, -1)


def outside_levels(table: pd.DataFrame, direction: int) -> tuple[list[float], list[float]]:
    """Levels of a boundary table where capture never, and always, wins (see :class:`Boundary`)."""
    never = ABOVE if direction == 1 else BELOW
    always = BELOW if direction == 1 else ABOVE
    return (sorted(table.loc[table.status == never, "level"]),
            sorted(table.loc[table.status == always, "level"]))


@dataclass(frozen=True)
class Interventions:
    """Each lever (alone, and all together) against the status quo, paired on seeds.

    Attributes:
        table: one row per (treatment, outcome): ``treatment``, ``control_mean``,
            ``treated_mean``, ``diff``, ``low``, ``high``, ``n_pairs``, ``outcome``,
            ``treated_value`` (the lever's value, NaN for "all levers") and ``setting``.
        settings: ``{treatment: {lever: value}}``, the status quo first.

    """

    table: pd.DataFrame
    settings: dict[str, dict[str, float]]


def interventions(res: SweepResults) -> Interventions:
    """Paired differences of each lever (alone, and all together) against the status quo."""
    runs = res.runs
    settings = one_at_a_time(runs, res.levers)
    if len(settings) < 2 or "status quo" not in settings:
        raise ResultsError(f"{res.directory}: no status quo and lever settings to compare")
    tables = [paired_differences(runs, name, settings).assign(outcome=name)
              for name in INTERVENTION_OUTCOMES if name in runs]
    table = pd.concat(tables, ignore_index=True)
    table["treated_value"] = table["treatment"].map(
        lambda t: settings[t].get(t, float("nan")))
    table["setting"] = table["treatment"].map(
        lambda t: ", ".join(f"{k} = {fmt(v)}" for k, v in settings[t].items()
                            if v != settings["status quo"][k]) or "")
    return Interventions(table, settings)


def erosion_by_treatment(res: SweepResults, settings: dict[str, dict[str, float]]
                         ) -> pd.DataFrame:
    """Margin erosion by source at the status quo and each lever setting, in that order."""
    runs = res.runs
    frames = [select_setting(runs, s).assign(treatment=n) for n, s in settings.items()]
    table = erosion_attribution(pd.concat(frames, ignore_index=True), "treatment")
    return table.set_index("treatment").loc[list(settings)].reset_index()


def sensitivity_table(res: SweepResults) -> pd.DataFrame:
    """Sobol indices of each charted outcome (long format, one row per outcome and parameter)."""
    names = [v.name for v in res.experiment.variables]
    frames = [sobol_indices(res.runs, names, outcome,
                            second_order=res.experiment.design.second_order,
                            seed=res.experiment.seed).assign(outcome=outcome)
              for outcome in SENSITIVITY_OUTCOMES if outcome in res.runs]
    return pd.concat(frames, ignore_index=True)


def summary_table(res: SweepResults) -> pd.DataFrame:
    """Per design point: the varied values, the number of runs and mean outcomes."""
    keys = list(res.varied) or ["point"]
    names = [c for c in SUMMARY_OUTCOMES if c in res.runs]
    grouped = res.runs.groupby(keys, sort=True)
    table = grouped[names].mean()
    table.insert(0, "n_runs", grouped.size())
    table["capture_rate_sd"] = grouped[CAPTURE_RATE].std()
    return table.reset_index()


def subset(levels: Sequence[float], k: int = MAX_LINES) -> list[float]:
    """At most ``k`` of ``levels``, evenly spread, ends included."""
    levels = sorted(levels)
    if len(levels) <= k:
        return list(levels)
    idx = np.unique(np.round(np.linspace(0, len(levels) - 1, k)).astype(int))
    return [levels[i] for i in idx]


@dataclass(frozen=True)
class TypicalRuns:
    """Two runs repeated from their stored seeds: one not captured, one captured.

    Attributes:
        rows: the two runs' rows in the results, uncaptured first.
        tables: their per-month tables (:func:`kamabm.model.run.run_table`).
        outcomes: their outcomes as repeated now.
        reproduced: whether the repeats end with the stored capture rates.

    """

    rows: tuple[pd.Series, pd.Series]
    tables: tuple[pd.DataFrame, pd.DataFrame]
    outcomes: tuple[dict[str, Any], dict[str, Any]]
    reproduced: bool


def pick_typical(runs: pd.DataFrame, threshold: float = 0.5) -> tuple[pd.Series, pd.Series]:
    """A captured and an uncaptured run, from the same design point when one holds both.

    Among the points holding both kinds, the one whose replications differ most in capture
    rate is chosen (ties: mean capture nearest one half), and its least and most captured
    runs are returned; failing such a point, the runs with the lowest and highest capture
    rate overall.

    Returns:
        ``(uncaptured row, captured row)`` of ``runs``.

    """
    captured = runs[CAPTURE_RATE] >= threshold
    stats = runs.assign(_c=captured).groupby("point").agg(
        any=("_c", "any"), all=("_c", "all"), mean=(CAPTURE_RATE, "mean"),
        spread=(CAPTURE_RATE, lambda c: c.max() - c.min()))
    mixed = stats[stats["any"] & ~stats["all"]]
    if not mixed.empty:
        # the widest contrast between replications, then the point nearest one half
        mixed = mixed.assign(_d=(mixed["mean"] - 0.5).abs())
        point = mixed.sort_values(["spread", "_d"], ascending=[False, True]).index[0]
        group = runs[runs["point"] == point].sort_values([CAPTURE_RATE, "replication"])
        low = group.iloc[0]
        high = group[group[CAPTURE_RATE] == group[CAPTURE_RATE].max()].iloc[0]
        return low, high
    order = runs.sort_values([CAPTURE_RATE, "run"])
    return order.iloc[0], order.iloc[-1]


def typical_runs(runs: pd.DataFrame) -> TypicalRuns:
    """Repeat :func:`pick_typical`'s two runs through the model's one door.

    The door is :func:`kamabm.model.run.run_with_table`.
    """
    from kamabm.experiments.tables import run_parameters
    from kamabm.model.run import run_with_table

    rows = pick_typical(runs)
    tables, results = [], []
    for row in rows:
        got, table = run_with_table(run_parameters(row), int(row["seed"]))
        tables.append(pd.DataFrame(table))
        results.append(got)
    reproduced = all(bool(np.isclose(got[CAPTURE_RATE], row[CAPTURE_RATE]))
                     for got, row in zip(results, rows, strict=True))
    return TypicalRuns(rows, (tables[0], tables[1]), (results[0], results[1]), reproduced)


# --- everything at once --------------------------------------------------------------------
@dataclass(frozen=True)
class Analysis:
    """Every table the charts and the report of one results folder draw on, computed once.

    Attributes:
        results: the loaded folder.
        kind: the kind of experiment (:func:`kind_of`).
        factors: the factors charted (``(along, across)`` for a map).
        charts: the chart kinds to draw, in the order of :data:`KINDS`.
        notes: one-line remarks for the reader: runs missing, charts the design calls
            for that the runs cannot give, and why.
        summary: per design point means (:func:`summary_table`).
        cells: mean capture and margins at every design point of a map, indexed by
            ``(along, across)``.
        boundary: the capture boundary of a map.
        margin_lines: margins against ``along`` with intervals, for a subset of levels of
            ``across``, long format with an ``outcome`` column.
        margin_gaps: per margin, :func:`kamabm.stats.margin_gap` along the first factor.
        by_factor: outcomes against the single factor of a one-factor sweep, with
            intervals (long format, ``outcome`` column).
        erosion: margin erosion by source, per level of the second factor of a map or per
            lever setting.
        interventions: levers against the status quo.
        knockouts: outcomes with each mechanism on, off alone, and all off, per client
            share (:func:`kamabm.analysis.mechanisms.knockouts`).
        co_capture: co-capture within a supplier and a buyer, per interaction switched
            on or off (:func:`kamabm.analysis.mechanisms.co_capture`).
        dose: each lever alone from off to full (:func:`kamabm.analysis.mechanisms.dose_response`).
        transient: the capture boundary of the five-year map of a long-run sweep.
        sobol: Sobol indices (long format).
        hysteresis: ``(branches, gaps)`` of a hysteresis experiment.
        typical: two typical runs, repeated.
        ensemble: boundaries, band and margin effects over an ensemble of constant sets.

    """

    results: SweepResults
    kind: str
    factors: tuple[str, ...]
    charts: tuple[str, ...]
    notes: tuple[str, ...] = ()
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    cells: pd.DataFrame | None = None
    boundary: Boundary | None = None
    margin_lines: pd.DataFrame | None = None
    margin_gaps: dict[str, dict[str, float]] = field(default_factory=dict)
    by_factor: pd.DataFrame | None = None
    erosion: pd.DataFrame | None = None
    interventions: Interventions | None = None
    knockouts: pd.DataFrame | None = None
    co_capture: pd.DataFrame | None = None
    dose: pd.DataFrame | None = None
    transient: Boundary | None = None
    sobol: pd.DataFrame | None = None
    hysteresis: tuple[pd.DataFrame, pd.DataFrame] | None = None
    typical: TypicalRuns | None = None
    ensemble: EnsembleAnalysis | None = None

    @property
    def margins(self) -> list[str]:
        """The margin outcomes the runs hold, in the order of :data:`MARGINS`."""
        return [m for m in MARGINS if m in self.results.runs]

    def grid(self, outcome: str) -> pd.DataFrame:
        """Mean ``outcome`` of a map as a grid: rows ``across``, columns ``along``."""
        if outcome == CAPTURE_5Y and self.cells is not None and outcome not in self.cells:
            along, across = self.factors
            return self.results.runs.groupby([along, across])[outcome].mean().unstack(along)
        if self.cells is None:
            raise ResultsError("no map: the experiment is not a two-factor grid")
        return self.cells[outcome].unstack(self.factors[0])


def analyse(res: SweepResults, *, n_boot: int = 500, seed: int = 0,
            typical: bool = True) -> Analysis:
    """Compute every table the charts and the report need, once.

    Args:
        res: loaded results (:func:`load`).
        n_boot: bootstrap resamples for the capture boundary.
        seed: seed of that bootstrap.
        typical: whether to repeat two typical runs (through :mod:`kamabm.model.run`).

    Raises:
        ResultsError: the results hold no capture rate.

    """
    kind, factors, why = kind_of(res)
    charts = list(_plan(res, kind))
    runs = res.runs
    notes: list[str] = []
    if res.missing:
        planned = res.experiment.n_runs
        notes.append(f"{res.missing} of {planned} runs are missing (an interrupted or "
                     f"running sweep?); the charts show the {planned - res.missing} stored")
    if why:
        notes.append(why + ("; outcomes are drawn against it instead"
                            if kind == ONE_FACTOR else ""))
    tables: dict[str, Any] = {}
    margins = [m for m in MARGINS if m in runs]
    if kind == MAP:
        along, across = factors
        tables["boundary"] = boundary(runs, along, across, n_boot=n_boot, seed=seed)
        tables["cells"] = runs.groupby([along, across], sort=True)[
            [CAPTURE_RATE, *margins]].mean()
        if margins:
            levels = subset(runs[across].unique())
            tables["margin_lines"] = pd.concat(
                [summarise(runs[runs[across].isin(levels)], m, [across, along]).assign(
                    outcome=m) for m in margins], ignore_index=True)
            tables["margin_gaps"] = {m: margin_gap(runs, m, along=along) for m in margins}
        if "erosion" in charts:
            tables["erosion"] = erosion_attribution(runs, across)
        if "transient_map" in charts:
            five_years = runs.drop(columns=CAPTURE_RATE).rename(
                columns={CAPTURE_5Y: CAPTURE_RATE})
            tables["transient"] = boundary(five_years, along, across, n_boot=n_boot,
                                           seed=seed)
    elif kind == ONE_FACTOR:
        (factor,) = factors
        tables["by_factor"] = pd.concat(
            [summarise(runs, o, factor).assign(outcome=o)
             for o in FACTOR_OUTCOMES if o in runs], ignore_index=True)
    elif kind == INTERVENTIONS:
        try:
            found = interventions(res)
        except (ResultsError, ValueError) as exc:
            notes.append(f"no intervention chart: {exc}")
            charts = [c for c in charts if c not in ("interventions", "erosion")]
        else:
            tables["interventions"] = found
            if "dose_response" in charts:
                tables["dose"] = dose_response(runs, list(factors))
            if "erosion" in charts:
                tables["erosion"] = erosion_by_treatment(res, found.settings)
    elif kind == KNOCKOUTS:
        mechanisms = [f for f in factors if f in MECHANISMS]
        tables["knockouts"] = knockouts(runs, mechanisms)
        tables["co_capture"] = co_capture(runs, [m for m in mechanisms if m in INTERACTION])
    elif kind == ENSEMBLE:
        along, across = factors
        spread = analyse_ensemble(res, along, across, n_boot=min(n_boot, 200), seed=seed)
        tables["ensemble"] = spread
        notes.append(f"the runs cover {spread.n_draws} constant sets drawn from a posterior "
                     f"and the default constants (draw 0); summary.csv pools them all")
    elif kind == HYSTERESIS:
        branches = hysteresis_branches(runs)
        tables["hysteresis"] = (branches, hysteresis_gap(branches))
    elif kind == SENSITIVITY:
        try:
            tables["sobol"] = sensitivity_table(res)
        except ValueError as exc:
            notes.append(f"no Sobol indices: {exc}")
            charts.remove("sensitivity")
    if typical and "typical_runs" in charts:
        try:
            tables["typical"] = typical_runs(runs)
        except KeyError as exc:  # results of an older parameter set
            notes.append(f"no typical runs: the stored runs have no {exc.args[0]}, a "
                         "parameter added since the sweep; sweep again to draw them")
            typical = False
        except ParameterError as exc:
            notes.append(f"no typical runs: the stored runs cannot be repeated ({exc})")
            typical = False
    if not typical:
        charts = [c for c in charts if c != "typical_runs"]
    return Analysis(res, kind, tuple(factors), tuple(charts), tuple(notes),
                    summary=summary_table(res), **tables)


# --- structural uncertainty: an ensemble of constant sets ----------------------------------
#: The ensemble's horizons at the headline's 240 months: years, and the outcome each reads
#: (the end's is the run's horizon in whole years).
HORIZONS: dict[int, str] = {5: CAPTURE_5Y, 20: CAPTURE_RATE}
#: The settings whose margins an ensemble compares: where most KAMs are captured at the
#: defaults (share 0.8, pressure 0.8) and where none is (0.2, 0.2).
HIGH_RISK, LOW_RISK = (0.8, 0.8), (0.2, 0.2)
#: Coverage of the ensemble's band (structural and seed uncertainty together).
ENSEMBLE_CONFIDENCE = 0.95
#: Where the headline at the default constants is, beside an ensemble's folder.
HEADLINE = "capture_phase"


def _q(values: np.ndarray, q: float) -> float:
    """A quantile that is one of the values (``inverted_cdf``), infinities allowed."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan")
    return float(np.quantile(values, q, method="inverted_cdf"))


def ensemble_band(runs: pd.DataFrame, *, along: str = CLIENT_SHARE, across: str = PRESSURE,
                  outcome: str = CAPTURE_RATE, draw: str = DRAW, n_boot: int = 200,
                  confidence: float = ENSEMBLE_CONFIDENCE, seed: int = 0,
                  reference: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The capture boundary of every draw, and a band covering structural and seed uncertainty.

    Method: for each draw (constant set) and each level of ``across``, the boundary along
    ``along`` is estimated as in :func:`kamabm.stats.capture_boundary` (isotonic fit of
    the runs' ``outcome``, crossing of 50 %) and bootstrapped ``n_boot`` times by
    resampling the draw's runs within each design point (seed uncertainty). The band is the
    central ``confidence`` interval of all draws' bootstrap boundaries pooled, each draw
    weighing the same (draws are already drawn by posterior weight): a mixture over the
    posterior of each draw's seed distribution. A boundary outside the swept range counts
    as ``+inf`` (capture under 50 % at every value) or ``-inf`` (over 50 % at the smallest),
    so a band end beyond the range is infinite. The structural band alone is the same
    interval of the draws' point estimates.

    Args:
        runs: one row per run with columns ``draw``, ``along``, ``across``, ``outcome``.
        along: the factor the boundary is a value of.
        across: the factor whose levels each get a boundary.
        outcome: the per-run capture outcome.
        draw: the column naming the constant set.
        n_boot: bootstrap resamples per draw and level.
        confidence: coverage of the bands.
        seed: seed of the bootstraps (draw ``d`` uses ``(seed, d)``).
        reference: a draw that gets its boundary but is left out of the band (draw 0,
            the base constants).

    Returns:
        ``(per_draw, band)``: per draw and level ``draw``, ``level``, ``critical``, ``low``,
        ``high`` (the draw's own bootstrap band), ``status``, ``n_runs``; per level
        ``level``, ``median`` (of the draws' estimates), ``low``, ``high`` (the pooled
        band), ``structural_low``, ``structural_high``, ``inside``, ``never``, ``always``
        (shares of draws whose estimate lies inside the range, above it, below it) and
        ``draws``.

    """
    alpha = (1.0 - confidence) / 2.0
    rows: list[dict[str, Any]] = []
    pooled: dict[float, list[np.ndarray]] = {}
    for d, sub in runs.groupby(draw, sort=True):
        rng = np.random.default_rng([seed, int(d)])  # type: ignore[call-overload]
        for level, group in sub.groupby(across, sort=True):
            group = group.dropna(subset=[outcome])
            x = group[along].to_numpy(dtype=float)
            y = group[outcome].to_numpy(dtype=float)
            estimate = critical_value(x, y)
            levels, inverse = np.unique(x, return_inverse=True)
            counts = np.bincount(inverse)
            cells = [y[inverse == i] for i in range(len(levels))]
            means = np.column_stack([c[rng.integers(0, len(c), size=(n_boot, len(c)))]
                                     .mean(axis=1) for c in cells])
            xs = np.repeat(levels, counts)
            boot = np.array([critical_value(xs, np.repeat(m, counts)) for m in means])
            if reference is None or int(d) != reference:
                pooled.setdefault(float(level), []).append(boot)
            status = INSIDE if np.isfinite(estimate) else ABOVE if estimate > 0 else BELOW
            rows.append({"draw": int(d), "level": float(level), "critical": estimate,
                         "low": _q(boot, alpha), "high": _q(boot, 1 - alpha),
                         "status": status, "n_runs": len(group)})
    per_draw = pd.DataFrame(rows)
    band = []
    banded = per_draw if reference is None else per_draw[per_draw["draw"] != reference]
    for level, boots in sorted(pooled.items()):
        est = banded.loc[banded.level == level, "critical"].to_numpy(dtype=float)
        every = np.concatenate(boots)
        band.append({"level": level, "median": _q(est, 0.5), "low": _q(every, alpha),
                     "high": _q(every, 1 - alpha), "structural_low": _q(est, alpha),
                     "structural_high": _q(est, 1 - alpha),
                     "inside": float(np.isfinite(est).mean()),
                     "never": float((est == np.inf).mean()),
                     "always": float((est == -np.inf).mean()), "draws": len(est)})
    return per_draw, pd.DataFrame(band)


def _nearest(values: pd.Series, target: float) -> float:
    levels = np.unique(values.to_numpy(dtype=float))
    return float(levels[np.argmin(np.abs(levels - target))])


def ensemble_margins(runs: pd.DataFrame, *, along: str = CLIENT_SHARE,
                     across: str = PRESSURE, draw: str = DRAW,
                     high: tuple[float, float] = HIGH_RISK,
                     low: tuple[float, float] = LOW_RISK) -> pd.DataFrame:
    """Capture and margin effects of every draw (constant set).

    For each draw: capture (year 20 and year 5) and each margin at the high-risk and the
    low-risk setting (the grid points nearest ``(along, across)`` = ``high`` and ``low``),
    the margins' contrast (high minus low), and the margins' gap between mostly captured
    runs and the others at equal ``along`` (:func:`kamabm.stats.margin_gap`; NaN when
    the draw has no level of ``along`` with runs of both kinds).

    Returns:
        One row per draw: ``draw``, ``high_setting``, ``low_setting`` and the measures
        named ``<outcome>_high``, ``<outcome>_low``, ``<margin>_contrast``,
        ``<margin>_gap``, ``<margin>_gap_levels``.

    """
    at_high = (_nearest(runs[along], high[0]), _nearest(runs[across], high[1]))
    at_low = (_nearest(runs[along], low[0]), _nearest(runs[across], low[1]))
    margins = [m for m in MARGINS if m in runs]
    captures = [o for o in (CAPTURE_RATE, CAPTURE_5Y) if o in runs]
    rows = []
    for d, sub in runs.groupby(draw, sort=True):
        row: dict[str, Any] = {"draw": int(d), "high_setting": f"{fmt(at_high[0])}/"
                               f"{fmt(at_high[1])}", "low_setting": f"{fmt(at_low[0])}/"
                               f"{fmt(at_low[1])}"}
        hi = select_setting(sub, {along: at_high[0], across: at_high[1]})
        lo = select_setting(sub, {along: at_low[0], across: at_low[1]})
        for name in captures + margins:
            row[f"{name}_high"] = float(hi[name].mean())
            row[f"{name}_low"] = float(lo[name].mean())
        for name in margins:
            row[f"{name}_contrast"] = row[f"{name}_high"] - row[f"{name}_low"]
            gap = margin_gap(sub, name, along=along)
            row[f"{name}_gap"] = gap["gap"]
            row[f"{name}_gap_levels"] = gap["levels"]
        rows.append(row)
    return pd.DataFrame(rows)


#: The measures whose range over draws an ensemble reports, with their meaning.
ENSEMBLE_MEASURES: dict[str, str] = {
    f"{CAPTURE_RATE}_high": "KAMs captured at year 20, high-risk setting",
    f"{CAPTURE_RATE}_low": "KAMs captured at year 20, low-risk setting",
    f"{CAPTURE_5Y}_high": "KAMs captured at year 5, high-risk setting",
    f"{CAPTURE_5Y}_low": "KAMs captured at year 5, low-risk setting",
    f"{KEY_MARGIN}_contrast": "key-account gross margin, high-risk minus low-risk setting",
    f"{SUPPLIER_MARGIN}_contrast": "supplier net margin, high-risk minus low-risk setting",
    f"{KEY_MARGIN}_gap": "key-account gross margin, mostly captured minus other runs at "
                         "equal share",
    f"{SUPPLIER_MARGIN}_gap": "supplier net margin, mostly captured minus other runs at "
                              "equal share",
}


def margin_ranges(per_draw: pd.DataFrame, *, confidence: float = ENSEMBLE_CONFIDENCE
                  ) -> pd.DataFrame:
    """Each measure of :func:`ensemble_margins` as a range over the posterior draws.

    Draw 0 (the base constants) is reported as ``default`` and left out of the range.

    Returns:
        One row per measure: ``measure``, ``meaning``, ``default``, ``median``, ``low`` and
        ``high`` (central ``confidence`` interval over draws), ``min``, ``max``,
        ``negative`` (share of draws below zero) and ``draws`` (draws with a value).

    """
    alpha = (1.0 - confidence) / 2.0
    posterior = per_draw[per_draw["draw"] > 0]
    default = per_draw[per_draw["draw"] == 0]
    rows = []
    for measure, meaning in ENSEMBLE_MEASURES.items():
        if measure not in per_draw:
            continue
        v = posterior[measure].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        rows.append({"measure": measure, "meaning": meaning,
                     "default": float(default[measure].iloc[0]) if len(default) else np.nan,
                     "median": _q(v, 0.5), "low": _q(v, alpha), "high": _q(v, 1 - alpha),
                     "min": float(v.min()) if len(v) else np.nan,
                     "max": float(v.max()) if len(v) else np.nan,
                     "negative": float((v < 0).mean()) if len(v) else np.nan,
                     "draws": len(v)})
    return pd.DataFrame(rows)


def headline_boundary(directory: Path, manifest: dict[str, Any]) -> pd.DataFrame | None:
    """The default constants' boundary from the headline beside an ensemble's folder.

    Read from ``<results>/capture_phase/charts`` (``boundary.csv`` for year 20, the
    ``boundary_5y`` columns of ``transient_map.csv`` for year 5), and only if the headline
    ran the same model code as the ensemble.

    Returns:
        Per horizon and level: ``horizon``, ``level``, ``critical``, ``low``, ``high``,
        ``status``; ``None`` when there is no such headline or it ran other code.

    """
    folder = directory.parent / HEADLINE
    try:
        theirs = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        year20 = pd.read_csv(folder / "charts" / "boundary.csv")
        transient = pd.read_csv(folder / "charts" / "transient_map.csv")
    except (OSError, ValueError):
        return None
    if (theirs.get("identity") or {}).get("code") != (manifest.get("identity") or {}).get(
            "code"):
        return None
    year5 = (transient[[PRESSURE, "boundary_5y", "boundary_5y_low", "boundary_5y_high",
                        "boundary_5y_status"]].drop_duplicates(PRESSURE)
             .set_axis(["level", "critical", "low", "high", "status"], axis=1))
    frames = [year20[["level", "critical", "low", "high", "status"]].assign(horizon=20),
              year5.assign(horizon=5)]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class EnsembleAnalysis:
    """The capture boundary and margin effects over an ensemble of constant sets.

    Attributes:
        along: the factor the boundary is a value of (client share).
        across: the factor whose levels each get a boundary (pressure).
        draws: the constant sets: ``draw``, ``particle`` (posterior row, 0-based; empty for
            draw 0, the base constants) and one column per constant.
        boundaries: every draw's boundary, per ``horizon`` (years) and level
            (:func:`ensemble_band`), draw 0 included.
        band: per ``horizon`` and level, the band over the posterior draws (structural and
            seed uncertainty), with the default constants' boundary beside it:
            ``default``, ``default_low``, ``default_high`` and ``default_source``.
        margins: per draw, capture and margin effects (:func:`ensemble_margins`).
        ranges: those effects as ranges over the posterior draws (:func:`margin_ranges`).
        capture: per horizon, mean capture over the posterior draws as a grid (rows
            ``across``, columns ``along``).
        default_source: where the default constants' boundary comes from.

    """

    along: str
    across: str
    draws: pd.DataFrame
    boundaries: pd.DataFrame
    band: pd.DataFrame
    margins: pd.DataFrame
    ranges: pd.DataFrame
    capture: dict[int, pd.DataFrame]
    default_source: str

    @property
    def n_draws(self) -> int:
        """Number of posterior draws (draw 0 left out)."""
        return int((self.draws["draw"] > 0).sum())

    def at(self, horizon: int) -> pd.DataFrame:
        """The band at one horizon (years), one row per level."""
        return self.band[self.band.horizon == horizon].reset_index(drop=True)


def analyse_ensemble(res: SweepResults, along: str, across: str, *, n_boot: int = 200,
                     seed: int = 0) -> EnsembleAnalysis:
    """Boundaries per draw, the band over draws and margin effects (see :func:`ensemble_band`).

    The default constants' boundary is the headline's (``results/capture_phase``, 20
    replications) when it ran the same model code, else the sweep's own draw 0.
    """
    runs = res.runs
    described = res.manifest.get("experiment", {}).get("ensemble") or {}
    draws = pd.DataFrame(described.get("table") or [
        {"draw": d.draw, "particle": d.particle, **d.constants}
        for d in res.experiment.draws])
    posterior = runs[runs[DRAW] > 0]
    frames, bands, grids = [], [], {}
    end = int(round(res.experiment.base.horizon_months / 12))
    for years, outcome in ((5, CAPTURE_5Y), (end, CAPTURE_RATE)):
        if outcome not in runs or (outcome == CAPTURE_5Y and not _longer_than_five_years(res)):
            continue
        # the band covers the posterior draws only; draw 0 is the base constants
        per_draw, band = ensemble_band(runs, along=along, across=across, outcome=outcome,
                                       n_boot=n_boot, seed=seed, reference=0)
        frames.append(per_draw.assign(horizon=years))
        bands.append(band.assign(horizon=years))
        grids[years] = posterior.groupby([across, along])[outcome].mean().unstack(along)
    boundaries = pd.concat(frames, ignore_index=True)
    band = pd.concat(bands, ignore_index=True)
    headline = headline_boundary(res.directory, res.manifest)
    if headline is not None:
        source = (f"the headline at the default constants ({HEADLINE}, "
                  f"{_headline_replications(res.directory)} replications, same model code)")
        own = headline
    else:
        source = (f"this sweep's draw 0 at the default constants "
                  f"({res.experiment.replications} replications)")
        own = boundaries[boundaries["draw"] == 0]
    default = own[["horizon", "level", "critical", "low", "high"]].rename(
        columns={"critical": "default", "low": "default_low", "high": "default_high"})
    band["level"] = band["level"].round(9)
    default = default.assign(level=default["level"].astype(float).round(9))
    band = band.merge(default, on=["horizon", "level"], how="left")
    band["default_source"] = "headline" if headline is not None else "draw 0"
    band = band[["horizon", *[c for c in band.columns if c != "horizon"]]]
    per_draw_margins = ensemble_margins(runs, along=along, across=across)
    return EnsembleAnalysis(along, across, draws, boundaries, band, per_draw_margins,
                            margin_ranges(per_draw_margins), grids, source)


def _headline_replications(directory: Path) -> str:
    try:
        manifest = json.loads((directory.parent / HEADLINE / MANIFEST).read_text("utf-8"))
        return str(manifest["experiment"]["replications"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its"


def _share(value: float, along: str) -> str:
    if value == np.inf:
        return "beyond the range"
    if value == -np.inf:
        return "below the range"
    return value_text(along, value)


def band_text(row: Any, along: str) -> str:
    """A band row as ``0.45 to 0.80`` in the factor's units, ends beyond the range said."""
    if row.low == row.high:
        return _share(row.low, along)
    return f"{_share(row.low, along)} to {_share(row.high, along)}"


def ensemble_sentences(found: EnsembleAnalysis) -> list[str]:
    """The ensemble's findings, one plain sentence each (for the report and the charts)."""
    along, across = found.along, found.across
    out = []
    end = max(found.capture) if found.capture else 0
    for years in sorted(found.capture, reverse=True):
        table = found.at(years)
        bits = []
        for row in table.itertuples():
            default = ("" if not np.isfinite(row.default) and np.isnan(row.default)
                       else f" (defaults {_share(row.default, along)})")
            bits.append(f"{value_text(across, row.level)}: {band_text(row, along)}{default}")
        out.append(f"Year {years}, where half of KAMs are captured over {found.n_draws} "
                   f"posterior draws x seeds (95 % band of {human(along)}), by "
                   f"{human(across)}: " + "; ".join(bits) + ".")
        never = table[table.never >= 0.5]
        if not never.empty:
            out.append(f"Year {years}: in most draws fewer than half of KAMs are captured "
                       f"at any share with {human(across)} at "
                       + ", ".join(f"{value_text(across, lv)} ({pct(s, 0)} of draws)"
                                   for lv, s in zip(never.level, never.never, strict=True))
                       + ".")
    draws = found.margins[found.margins["draw"] > 0]
    default = found.margins[found.margins["draw"] == 0]
    mostly = [(years, name) for years, name in ((end, CAPTURE_RATE), (5, CAPTURE_5Y))
              if f"{name}_high" in draws and years in found.capture]
    if mostly and not draws.empty:
        setting = draws["high_setting"].iloc[0]
        shares = [f"{pct(float((draws[f'{n}_high'] >= 0.5).mean()), 0)} by year {y}"
                  for y, n in mostly]
        shares[0] = shares[0].replace(" by year", " of the draws by year", 1)
        text = (f"Most KAMs are captured at the high-risk setting ({along}/{across} "
                f"{setting}) in {' and '.join(shares)}")
        if len(default):
            text += (" (defaults: " + ", ".join(
                f"{pct(float(default[f'{n}_high'].iloc[0]), 0)} captured by year {y}"
                for y, n in mostly) + ")")
        out.append(text + ".")
    ranges = found.ranges.set_index("measure")
    for measure in (f"{CAPTURE_RATE}_high", f"{KEY_MARGIN}_contrast",
                    f"{SUPPLIER_MARGIN}_contrast", f"{KEY_MARGIN}_gap",
                    f"{SUPPLIER_MARGIN}_gap"):
        if measure not in ranges.index:
            continue
        r = ranges.loc[measure]
        if not r["draws"]:
            continue
        points = "capture" not in measure
        unit = (lambda v: f"{100 * v:+.1f} points") if points else (lambda v: pct(v, 0))
        out.append(f"{_cap(r['meaning'])}: {unit(r['low'])} to {unit(r['high'])} over the "
                   f"central 95 % of {int(r['draws'])} draws (median {unit(r['median'])}; "
                   f"defaults {unit(r['default'])}).")
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
