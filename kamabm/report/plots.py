"""Charts of a sweep's results, drawn from the results layer into a folder.

``kamabm plot RESULTS_DIR`` loads a results folder (:func:`kamabm.analysis.results.load`), has
:func:`kamabm.analysis.tables.analyse` compute its tables once, and draws the charts the
experiment calls for, each as PNG (300 dpi) and SVG with a CSV beside it holding exactly
the numbers plotted:

- two swept factors on a grid: the capture phase diagram (mean capture rate with the
  capture boundary and its bootstrap band), supplier and key-account margin heat maps on
  the same axes, margin against the first factor with confidence bands, margin against
  capture, and margin erosion by source (:mod:`kamabm.report.charts.maps`,
  :mod:`kamabm.report.charts.factors`, :mod:`kamabm.report.charts.levers`);
- one swept factor: capture and margins against it (:mod:`kamabm.report.charts.factors`);
- several management levers: each lever against the status quo, paired on common random
  numbers, and margin erosion by lever (:mod:`kamabm.report.charts.levers`);
- a scheduled change of pressure: the hysteresis loop (:mod:`kamabm.report.charts.dynamics`);
- a Saltelli design: Sobol indices (:mod:`kamabm.report.charts.sensitivity`);
- a grid over the key share and the number of key clients: capture against the total
  share, the share per key client and the Herfindahl index
  (:mod:`kamabm.report.charts.concentration`);
- one KAM held captured or free on the same seeds: the paired effect on rivals' KAMs on
  his buyer and on the others (:mod:`kamabm.report.charts.contagion`);
- a grid over an ensemble of constant sets: the phase diagram with the band covering
  structural and seed uncertainty, and the margin effects per draw
  (:mod:`kamabm.report.charts.ensemble`);
- always: two typical runs over time from the same design point, one captured and one
  not, as the sweep kept them (:mod:`kamabm.report.charts.dynamics`).

Every title states a finding computed from the data. Colours are Okabe-Ito and
viridis/cividis, which colour-blind readers can tell apart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kamabm.analysis.tables import Analysis
from kamabm.report.charts import (
    concentration,
    contagion,
    dynamics,
    ensemble,
    factors,
    levers,
    maps,
    mechanisms,
    sensitivity,
)
from kamabm.report.charts.base import Chart, setting


def knockouts(an: Analysis, out: Path) -> Chart:
    """Capture with each mechanism on, off alone and all off (:mod:`kamabm.analysis.mechanisms`)."""
    return mechanisms.knockouts(an.knockouts, out, setting(an.results))


def co_capture(an: Analysis, out: Path) -> Chart:
    """Co-capture within a supplier and within a buyer, per interaction on or off."""
    return mechanisms.co_capture(an.co_capture, out, setting(an.results))


def dose_response(an: Analysis, out: Path) -> Chart:
    """Capture and net supplier margin against each lever alone, off to full."""
    return mechanisms.dose_response(an.dose, out, setting(an.results))


#: The drawing function of each chart kind (:data:`kamabm.analysis.results.KINDS` and
#: :data:`kamabm.analysis.results.ENSEMBLE_KINDS`).
DRAW: dict[str, Callable[[Analysis, Path], Chart]] = {
    "ensemble_phase": ensemble.ensemble_phase,
    "ensemble_margins": ensemble.ensemble_margins,
    "phase_diagram": maps.phase_diagram,
    "transient_map": maps.transient_map,
    "concentration": concentration.concentration,
    "contagion": contagion.contagion,
    "knockouts": knockouts,
    "co_capture": co_capture,
    "dose_response": dose_response,
    "margin_maps": maps.margin_maps,
    "margin_by_factor": factors.margin_by_factor,
    "margin_vs_capture": factors.margin_vs_capture,
    "outcome_by_factor": factors.outcome_by_factor,
    "interventions": levers.interventions,
    "hysteresis": dynamics.hysteresis,
    "sensitivity": sensitivity.sensitivity,
    "erosion": levers.erosion,
    "typical_runs": dynamics.typical_runs,
}


def make_charts(an: Analysis, out: str | Path) -> list[Chart]:
    """Draw every chart of ``an`` into ``out``; also write the summary tables.

    Besides the charts, ``summary.csv`` (per design point means) and, with a phase
    diagram, ``boundary.csv`` are written to ``out``; for an ensemble,
    ``ensemble_draws.csv`` (the constant sets), ``ensemble_boundaries.csv`` (every draw's
    boundary), ``ensemble_band.csv`` (the band per horizon and level, with the defaults)
    and ``ensemble_ranges.csv`` (capture and margin effects as ranges over draws); with
    a concentration chart, ``concentration_fit.csv`` (how well one curve in each axis fits
    every number of key clients); with a contagion chart, ``contagion_effects.csv`` (held
    minus free per share, setting and effect, the difference-in-differences included).

    Args:
        an: the analysed results (:func:`kamabm.analysis.tables.analyse`).
        out: folder for the files (created if missing).

    Returns:
        The charts, in the order of :data:`kamabm.analysis.results.KINDS`.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    an.summary.to_csv(out / "summary.csv", index=False, float_format="%.6g")
    if an.boundary is not None:
        an.boundary.table.to_csv(out / "boundary.csv", index=False, float_format="%.6g")
    if an.concentration is not None:
        an.concentration.fit.to_csv(out / "concentration_fit.csv", index=False,
                                    float_format="%.6g")
    if an.contagion is not None:
        an.contagion.to_csv(out / "contagion_effects.csv", index=False, float_format="%.6g")
    if an.ensemble is not None:
        for name, table in (("draws", an.ensemble.draws),
                            ("boundaries", an.ensemble.boundaries),
                            ("band", an.ensemble.band), ("ranges", an.ensemble.ranges)):
            table.to_csv(out / f"ensemble_{name}.csv", index=False, float_format="%.6g")
    return [DRAW[kind](an, out) for kind in an.charts]
