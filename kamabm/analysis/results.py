"""The results layer: a sweep's results folder, loaded and classified.

:func:`load` reads a folder written by ``kamabm sweep``; :func:`kind_of` decides once what
kind of experiment it holds (a two-factor map, one factor, levers against the status quo,
hysteresis, Sobol sensitivity, knock-outs, an ensemble of constant sets, one KAM held
captured against free) and :func:`plan` which charts it calls for.
:func:`kamabm.analysis.tables.analyse` then computes every table the charts
(:mod:`kamabm.report.plots`, :mod:`kamabm.report.charts`) and the report
(:mod:`kamabm.report.html`) need, :func:`kamabm.analysis.ensemble.analyse_ensemble` those
of an ensemble. Nothing here runs the model: what a report shows beyond the runs table
(the typical runs, :mod:`kamabm.experiments.typical`) was kept when the sweep ran.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kamabm.analysis.concentration import KEY_BUYERS
from kamabm.analysis.contagion import PIN
from kamabm.analysis.mechanisms import DEPENDENCE, HELD, INTERACTION
from kamabm.experiments.design import Experiment, ExperimentError
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.store import MANIFEST, RUNS_PARQUET, StoreError
from kamabm.experiments.sweep import DRAW
from kamabm.experiments.tables import load_results
from kamabm.model.params import FIVE_YEARS, LEVER, Parameters
from kamabm.names import (
    CAPTURE_RATE,
    CLIENT_SHARE,
    KEY_MARGIN,
    PRESSURE,
    PRESSURE_AFTER,
    SUPPLIER_MARGIN,
    fmt,
)
from kamabm.stats import EROSION

#: Kinds of experiment, as :func:`kind_of` tells them apart.
MAP, ONE_FACTOR, INTERVENTIONS, HYSTERESIS, SENSITIVITY, SINGLE, KNOCKOUTS, ENSEMBLE = (
    "map", "one factor", "interventions", "hysteresis", "sensitivity", "single point",
    "knock-outs", "ensemble")
#: One KAM held captured or free on the same seeds (:mod:`kamabm.analysis.contagion`).
CONTAGION = "contagion"
#: Parameters that switch a model mechanism off at 0 (:mod:`kamabm.analysis.mechanisms`).
MECHANISMS = set(DEPENDENCE + INTERACTION + HELD)
#: Chart kinds, in the order they are drawn and shown in the report.
KINDS = ("phase_diagram", "transient_map", "concentration", "margin_maps",
         "margin_by_factor", "margin_vs_capture", "outcome_by_factor", "knockouts",
         "co_capture", "contagion",
         "interventions", "dose_response", "hysteresis", "sensitivity", "erosion",
         "typical_runs")
#: Chart kinds of a sweep over an ensemble of constant sets (:data:`ENSEMBLE`), in order.
ENSEMBLE_KINDS = ("ensemble_phase", "ensemble_margins")
#: The five-year capture rate a long run also records: its map is the transient one.
CAPTURE_5Y = "capture_rate_5y"
#: The capture boundary a map's folder keeps as a table of its own (written by ``kamabm
#: sweep``, :func:`kamabm.analysis.tables.capture_boundaries`), and the manifest's entry
#: listing it with the factors and bootstrap that made it.
BOUNDARY_ENTRY = "capture_boundary"
#: Outcomes whose margins are charted (their labels: :func:`kamabm.names.label`).
MARGINS = (SUPPLIER_MARGIN, KEY_MARGIN)


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


def longer_than_five_years(res: SweepResults) -> bool:
    """Whether the runs go on past five years, so their five-year capture is a transient."""
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
        :data:`ENSEMBLE` (a two-factor grid run over an ensemble of constant sets),
        :data:`CONTAGION` (one KAM held captured and free, ``pin_first_kam``);
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
    if grid and PIN in factors:
        return CONTAGION, factors, None
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


def concentration_sweep(res: SweepResults, kind: str) -> bool:
    """Whether a grid varies both the key share and the number of key clients.

    Capture is then also read against the concentration axes
    (:mod:`kamabm.analysis.concentration`): for a map of the two, or for a grid of more
    factors (no map), pooled over the others.
    """
    return (res.experiment.design.method == "grid" and kind in (MAP, SINGLE)
            and {CLIENT_SHARE, KEY_BUYERS} <= set(res.factors))


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
    transient = [CAPTURE_5Y] if CAPTURE_5Y in columns and longer_than_five_years(res) else []
    dose = [f for f in res.factors if f in res.levers and res.runs[f].nunique() > 2]
    concentration = ["concentration"] if concentration_sweep(res, kind) else []
    kinds = {MAP: ["phase_diagram", *(["transient_map"] if transient else []),
                   *concentration,
                   *(["margin_maps", "margin_by_factor",
                      "margin_vs_capture"] if margins else []),
                   *(["erosion"] if erosion else [])],
             KNOCKOUTS: ["knockouts", "co_capture"],
             ONE_FACTOR: ["outcome_by_factor"],
             INTERVENTIONS: ["interventions", *(["dose_response"] if dose else []),
                             *(["erosion"] if erosion else [])],
             HYSTERESIS: ["hysteresis"],
             SENSITIVITY: ["sensitivity"],
             SINGLE: concentration,
             CONTAGION: ["contagion"],
             ENSEMBLE: []}[kind]
    if kind == ENSEMBLE:
        # no typical runs: two runs "differing only in their seed" mix constant sets here
        return ENSEMBLE_KINDS if margins else ENSEMBLE_KINDS[:1]
    return tuple(k for k in KINDS if k in [*kinds, "typical_runs"])

