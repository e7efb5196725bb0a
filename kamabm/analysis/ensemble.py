"""Structural uncertainty: a sweep run over an ensemble of constant sets, analysed.

An ensemble sweep (``[ensemble]`` in the experiment file) runs the share x pressure grid
once per constant set drawn from a calibration's posterior, and once at the default
constants (draw 0). :func:`analyse_ensemble` estimates every draw's capture boundary
(:func:`ensemble_band`), a band over the draws that holds structural and seed uncertainty
together, the margin effects of every draw (:func:`ensemble_margins`) and their ranges
(:func:`margin_ranges`); :func:`ensemble_sentences` says them in plain words. The default
constants' boundary beside the band is the headline's own boundary table when the
headline folder beside this one ran the same code (:func:`headline_boundary`), else the
sweep's draw 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis.results import (
    BOUNDARY_ENTRY,
    CAPTURE_5Y,
    MARGINS,
    SweepResults,
    longer_than_five_years,
)
from kamabm.experiments.store import MANIFEST
from kamabm.experiments.sweep import DRAW
from kamabm.model.params import FIVE_YEARS
from kamabm.names import (
    CAPTURE_RATE,
    CLIENT_SHARE,
    KEY_MARGIN,
    MONTHS_PER_YEAR,
    MOST_CAPTURED,
    PRESSURE,
    SUPPLIER_MARGIN,
    fmt,
    human,
    pct,
    value_text,
)
from kamabm.stats import (
    ABOVE,
    BELOW,
    INSIDE,
    critical_value,
    margin_gap,
    select_setting,
    what_would_have_to_be_true,
)

#: The settings whose margins an ensemble compares: where most KAMs are captured at the
#: defaults (share 0.8, pressure 0.8) and where none is (0.2, 0.2).
HIGH_RISK, LOW_RISK = (0.8, 0.8), (0.2, 0.2)
#: Coverage of the ensemble's band (structural and seed uncertainty together).
ENSEMBLE_CONFIDENCE = 0.95
#: Share of draws from which a statement holds "in most draws" (a majority of draws,
#: not of KAMs: see :data:`kamabm.names.MOST_CAPTURED` for that).
MOST_DRAWS = 0.5
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


def headline_boundary(directory: Path, manifest: dict[str, Any], along: str, across: str
                      ) -> pd.DataFrame | None:
    """The default constants' boundary kept by the headline beside an ensemble's folder.

    Read from the headline's own boundary table (``<results>/capture_phase``, the
    :data:`kamabm.experiments.store.BOUNDARY_TABLE` its manifest lists, written by
    ``kamabm sweep``), and only if the headline ran the same model code as the ensemble
    and its map has the same factors.

    Returns:
        Per horizon (years) and level: ``horizon``, ``level``, ``critical``, ``low``,
        ``high``, ``status``; ``None`` when there is no such headline, it keeps no
        boundary table, or it ran other code.

    """
    folder = directory.parent / HEADLINE
    try:
        theirs = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        entry = theirs.get(BOUNDARY_ENTRY) or {}
        if (entry.get("along"), entry.get("across")) != (along, across):
            return None
        table = pd.read_csv(folder / entry["file"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if (theirs.get("identity") or {}).get("code") != (manifest.get("identity") or {}).get(
            "code"):
        return None
    return table[["horizon", "level", "critical", "low", "high", "status"]]


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

    The default constants' boundary is the one the headline beside this folder keeps
    (``capture_phase``, 20 replications; :func:`headline_boundary`) when it ran the same
    model code, else the sweep's own draw 0.
    """
    runs = res.runs
    described = res.manifest.get("experiment", {}).get("ensemble") or {}
    draws = pd.DataFrame(described.get("table") or [
        {"draw": d.draw, "particle": d.particle, **d.constants}
        for d in res.experiment.draws])
    posterior = runs[runs[DRAW] > 0]
    frames, bands, grids = [], [], {}
    end = int(round(res.experiment.base.horizon_months / MONTHS_PER_YEAR))
    for years, outcome in ((FIVE_YEARS // MONTHS_PER_YEAR, CAPTURE_5Y), (end, CAPTURE_RATE)):
        if outcome not in runs or (outcome == CAPTURE_5Y and not longer_than_five_years(res)):
            continue
        # the band covers the posterior draws only; draw 0 is the base constants
        per_draw, band = ensemble_band(runs, along=along, across=across, outcome=outcome,
                                       n_boot=n_boot, seed=seed, reference=0)
        frames.append(per_draw.assign(horizon=years))
        bands.append(band.assign(horizon=years))
        grids[years] = posterior.groupby([across, along])[outcome].mean().unstack(along)
    boundaries = pd.concat(frames, ignore_index=True)
    band = pd.concat(bands, ignore_index=True)
    headline = headline_boundary(res.directory, res.manifest, along, across)
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
        never = table[table.never >= MOST_DRAWS]
        if not never.empty:
            out.append(f"Year {years}: in most draws fewer than half of KAMs are captured "
                       f"at any share with {human(across)} at "
                       + ", ".join(f"{value_text(across, lv)} ({pct(s, 0)} of draws)"
                                   for lv, s in zip(never.level, never.never, strict=True))
                       + ".")
    draws = found.margins[found.margins["draw"] > 0]
    default = found.margins[found.margins["draw"] == 0]
    five = FIVE_YEARS // MONTHS_PER_YEAR
    mostly = [(years, name) for years, name in ((end, CAPTURE_RATE), (five, CAPTURE_5Y))
              if f"{name}_high" in draws and years in found.capture]
    if mostly and not draws.empty:
        setting = draws["high_setting"].iloc[0]
        shares = [f"{pct(float((draws[f'{n}_high'] >= MOST_CAPTURED).mean()), 0)} by year {y}"
                  for y, n in mostly]
        shares[0] = shares[0].replace(" by year", " of the draws by year", 1)
        text = (f"Most KAMs are captured at the high-risk setting ({human(along)}/{human(across)} "
                f"{setting}) in {' and '.join(shares)}")
        if len(default):
            text += (" (defaults: " + ", ".join(
                f"{pct(float(default[f'{n}_high'].iloc[0]), 0)} captured by year {y}"
                for y, n in mostly) + ")")
        out.append(text + ".")
        condition = high_risk_condition(found)
        if condition is not None:
            out.append(condition)
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


def high_risk_condition(found: EnsembleAnalysis) -> str | None:
    """What would have to be true for most KAMs to be captured at the high-risk setting.

    Over the posterior draws, the constant most rank-correlated with year-20 capture at the
    high-risk setting and the cut on it that best separates draws where most KAMs are
    captured (:func:`kamabm.stats.what_would_have_to_be_true`); ``None`` if capture there
    is on the same side of half in every draw.
    """
    margins = found.margins[found.margins["draw"] > 0]
    column = f"{CAPTURE_RATE}_high"
    if margins.empty or column not in margins:
        return None
    table = margins[["draw", column]].merge(found.draws, on="draw")
    constants = [c for c in found.draws.columns if c not in ("draw", "particle")]
    condition = what_would_have_to_be_true(table[constants], table[column], MOST_CAPTURED)
    if condition is None:
        return None
    side = "below" if condition.side == "<" else "above"
    return (f"What would have to be true: most KAMs are captured at the high-risk setting by "
            f"year {max(found.capture)} in the draws with {human(condition.constant)} "
            f"{side} about {condition.cut:.3g} ({pct(condition.above, 0)} of draws; the rule "
            f"sorts {pct(condition.accuracy, 0)} of draws right; Spearman correlation "
            f"{condition.rho:+.2f}).")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

