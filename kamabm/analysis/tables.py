"""The tables of one sweep, computed once: every number its charts and report draw.

:func:`analyse` takes a loaded results folder (:func:`kamabm.analysis.results.load`) of
any kind (:func:`kamabm.analysis.results.kind_of`) and computes, with the pure functions
of :mod:`kamabm.stats`: the capture boundary with its bootstrap band, point means,
margins with intervals, interventions on common random numbers, erosion, Sobol indices,
hysteresis branches and per-point summaries; it reads the two typical runs the sweep kept
(:mod:`kamabm.experiments.typical`). Charts draw what :class:`Analysis` holds and the
report writes from it; neither computes a table of its own, and nothing here runs the
model.

An incomplete folder (an interrupted or still running sweep) is analysed as far as its
runs allow: :attr:`Analysis.notes` says how many runs are missing and why a chart the
design calls for cannot be drawn.

:func:`capture_boundaries` is the boundary a map's folder keeps as a table of its own
(:data:`kamabm.experiments.store.BOUNDARY_TABLE`, written by ``kamabm sweep``), for other
folders to read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis.concentration import KEY_BUYERS, Concentration, concentration, equal_split
from kamabm.analysis.contagion import contagion
from kamabm.analysis.ensemble import EnsembleAnalysis, analyse_ensemble
from kamabm.analysis.mechanisms import (
    INTERACTION,
    co_capture,
    dose_response,
    knockouts,
    summarise_outcome,
)
from kamabm.analysis.results import (
    CAPTURE_5Y,
    CONTAGION,
    ENSEMBLE,
    HYSTERESIS,
    INTERVENTIONS,
    KNOCKOUTS,
    MAP,
    MARGINS,
    MECHANISMS,
    ONE_FACTOR,
    SENSITIVITY,
    ResultsError,
    SweepResults,
    kind_of,
    plan,
)
from kamabm.experiments.typical import TypicalRuns, TypicalRunsError, load_typical_runs
from kamabm.model.params import FIVE_YEARS
from kamabm.names import (
    CAPTURE_RATE,
    CLIENT_SHARE,
    KEY_MARGIN,
    MONTHS_PER_YEAR,
    SUPPLIER_MARGIN,
    fmt,
    human,
)
from kamabm.stats import (
    ABOVE,
    BELOW,
    EROSION,
    INSIDE,
    capture_boundary,
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

#: Outcomes compared in the intervention chart (their labels: :func:`kamabm.names.label`).
INTERVENTION_OUTCOMES = (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN)
#: Outcomes decomposed in the sensitivity chart.
SENSITIVITY_OUTCOMES = (CAPTURE_RATE, "captured_months", SUPPLIER_MARGIN, KEY_MARGIN)
#: Outcomes drawn against a single swept factor.
FACTOR_OUTCOMES = (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN)
#: Outcomes averaged per design point in the summary table.
SUMMARY_OUTCOMES = (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN, "operational_share",
                    "client_satisfaction", "deadlock_rate", *EROSION)
#: The supplier's economics, averaged per design point in ``summary.csv`` too (not shown in
#: the report's table): gross margin, the last year's net margin, selling and service
#: costs, survival and loss years (issue 16).
ECONOMICS_OUTCOMES = ("gross_margin", "margin_last_year", "selling_cost_share",
                      "survival_rate", "loss_years")
#: Most lines drawn in one panel (a readable subset of levels).
MAX_LINES = 5



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


def capture_boundaries(res: SweepResults, *, n_boot: int = 500, seed: int = 0
                       ) -> pd.DataFrame | None:
    """The capture boundary of a map at the runs' end and, for long runs, at five years.

    What a map's folder keeps as :data:`kamabm.experiments.store.BOUNDARY_TABLE`, so that
    another folder (an ensemble's, :func:`kamabm.analysis.ensemble.headline_boundary`)
    reads the estimate instead of a chart's CSV; :func:`analyse` estimates the same.

    Returns:
        One row per horizon and level: ``horizon`` (years), ``along``, ``across`` and the
        columns of :func:`kamabm.stats.capture_boundary`; ``None`` when the folder holds
        no map, or no capture rate.

    """
    kind, factors, _ = kind_of(res)
    if kind != MAP or CAPTURE_RATE not in res.runs:
        return None
    along, across = factors
    end, transient = map_boundaries(res, along, across, n_boot=n_boot, seed=seed)
    years = int(round(res.experiment.base.horizon_months / MONTHS_PER_YEAR))
    frames = [end.table.assign(horizon=years)]
    if transient is not None:
        frames.append(transient.table.assign(horizon=FIVE_YEARS // MONTHS_PER_YEAR))
    table = pd.concat(frames, ignore_index=True).assign(along=along, across=across)
    return table[["horizon", "along", "across",
                  *[c for c in table if c not in ("horizon", "along", "across")]]]


def map_boundaries(res: SweepResults, along: str, across: str, *, n_boot: int = 500,
                   seed: int = 0) -> tuple[Boundary, Boundary | None]:
    """A map's capture boundary at the end, and at five years when it has a transient map."""
    runs = res.runs
    end = boundary(runs, along, across, n_boot=n_boot, seed=seed)
    if "transient_map" not in plan(res):
        return end, None
    five_years = runs.drop(columns=CAPTURE_RATE).rename(columns={CAPTURE_5Y: CAPTURE_RATE})
    return end, boundary(five_years, along, across, n_boot=n_boot, seed=seed)


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
    names = [c for c in SUMMARY_OUTCOMES + ECONOMICS_OUTCOMES if c in res.runs]
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


def _concentration(res: SweepResults, tables: dict[str, Any], notes: list[str],
                   charts: list[str], n_boot: int, seed: int) -> list[str]:
    """Capture against the concentration axes into ``tables``; the charts left to draw."""
    runs = res.runs
    pooled = [f for f in res.factors if f not in (CLIENT_SHARE, KEY_BUYERS)]
    if pooled:
        notes.append("the concentration chart pools the runs over "
                     + ", ".join(human(f) for f in pooled))
    if not equal_split(runs):
        notes.append("the key clients' shares are unequal in some runs: the share per key "
                     "client is their mean and the Herfindahl index that of equal shares")
    try:
        tables["concentration"] = concentration(runs, n_boot=min(n_boot, 200), seed=seed)
    except ValueError as exc:
        notes.append(f"no concentration chart: {exc}")
        return [c for c in charts if c != "concentration"]
    return charts


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
        typical: the two typical runs the sweep kept, month by month.
        ensemble: boundaries, band and margin effects over an ensemble of constant sets.
        concentration: capture against the key share, the share per key client and the
            Herfindahl index, and how well one curve fits every buyer count
            (:func:`kamabm.analysis.concentration.concentration`).
        contagion: one KAM held captured minus free, paired on seeds, per share and
            interaction setting (:func:`kamabm.analysis.contagion.contagion`).

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
    concentration: Concentration | None = None
    contagion: pd.DataFrame | None = None

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
        res: loaded results (:func:`kamabm.analysis.results.load`).
        n_boot: bootstrap resamples for the capture boundary.
        seed: seed of that bootstrap.
        typical: whether to draw the two typical runs the sweep kept
            (:func:`kamabm.experiments.typical.load_typical_runs`); a folder that keeps
            none gets a note saying so, never a re-run.

    Raises:
        ResultsError: the results hold no capture rate.

    """
    kind, factors, why = kind_of(res)
    charts = plan(res)
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
        tables["boundary"], transient = map_boundaries(res, along, across, n_boot=n_boot,
                                                       seed=seed)
        if transient is not None:
            tables["transient"] = transient
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
    elif kind == ONE_FACTOR:
        (factor,) = factors
        tables["by_factor"] = pd.concat(
            [summarise_outcome(runs, o, factor).assign(outcome=o)
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
    elif kind == CONTAGION:
        try:
            tables["contagion"] = contagion(runs, factors)
        except ValueError as exc:
            notes.append(f"no contagion chart: {exc}")
            charts = [c for c in charts if c != "contagion"]
    elif kind == HYSTERESIS:
        branches = hysteresis_branches(runs)
        tables["hysteresis"] = (branches, hysteresis_gap(branches))
    elif kind == SENSITIVITY:
        try:
            tables["sobol"] = sensitivity_table(res)
        except ValueError as exc:
            notes.append(f"no Sobol indices: {exc}")
            charts.remove("sensitivity")
    if "concentration" in charts:
        charts = _concentration(res, tables, notes, charts, n_boot, seed)
    if typical and "typical_runs" in charts:
        try:
            tables["typical"] = load_typical_runs(res.directory, res.manifest)
        except TypicalRunsError as exc:
            notes.append(f"no typical runs: {exc}")
        else:
            if tables["typical"] is None:
                notes.append(f"no typical runs: {res.directory} keeps none (swept before "
                             "sweeps kept them, or unfinished); sweep again to draw them")
    if tables.get("typical") is None:
        charts = [c for c in charts if c != "typical_runs"]
    return Analysis(res, kind, tuple(factors), tuple(charts), tuple(notes),
                    summary=summary_table(res), **tables)

