"""Structural uncertainty: the phase diagram and the margin effects over an ensemble.

An ensemble sweep runs the headline grid for constant sets drawn from a calibration's
posterior (``[ensemble]`` in the experiment file). :func:`ensemble_phase` draws, at year 5
and at the run's end, the mean capture over the draws, every draw's capture boundary,
the band covering structural and seed uncertainty together, and the boundary at the
default constants; :func:`ensemble_margins` draws capture and the margin effects of every
draw against the defaults. The tables come from :func:`kamabm.analysis.ensemble.analyse_ensemble`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis.ensemble import EnsembleAnalysis, ensemble_sentences
from kamabm.analysis.results import CAPTURE_5Y, CAPTURE_RATE
from kamabm.analysis.tables import Analysis
from kamabm.model.params import LAST_YEAR
from kamabm.names import KEY_MARGIN, MOST_CAPTURED, SUPPLIER_MARGIN, human, label, pct, value_text
from kamabm.report.charts.base import Chart, edges, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURE_CMAP, CAPTURED, LOYAL, MARGIN, OPERATIONAL

#: Pressure levels named in the chart's title, when the grid holds them.
TITLE_LEVELS = (0.4, 0.8)


def _setting(an: Analysis, found: EnsembleAnalysis) -> str:
    res = an.results
    ens = res.experiment.ensemble
    assert ens is not None  # an ensemble analysis comes from an ensemble experiment
    digest = res.manifest.get("experiment", {}).get("ensemble", {}).get("sha256", "")
    return (f"{found.n_draws} constant sets ({', '.join(human(c) for c in ens.columns or ())}) "
            "drawn "
            f"{'by weight' if ens.sample == 'weighted' else 'as the top-weight particles'} "
            f"from {ens.posterior} (SHA-256 {digest[:12]}), plus the defaults as draw 0. "
            + setting(res))


def headline(found: EnsembleAnalysis) -> str:
    """The chart's title: the band at the run's end at a low and a high pressure."""
    end = max(found.capture)
    table = found.at(end)
    bits = []
    for target in TITLE_LEVELS:
        row = table.iloc[int(np.argmin(np.abs(table.level.to_numpy() - target)))]
        at = f"at {human(found.across)} {value_text(found.across, row.level)}"
        default = (f" (defaults {value_text(found.along, row.default)})"
                   if np.isfinite(row.default) else "")
        if row.low == np.inf:
            text = f"{at}, at no share swept{default}"
        elif row.high == np.inf:
            text = (f"{at}, at no share swept in {pct(row.never, 0)} of draws, from "
                    f"{value_text(found.along, row.low)} at the earliest{default}")
        else:
            text = (f"{at}, from {value_text(found.along, row.low)} to "
                    f"{value_text(found.along, row.high)}{default}")
        bits.append(text)
    return (f"Over {found.n_draws} calibrated constant sets, where half of KAMs are captured "
            f"by year {end}: " + "; ".join(bits))


def _heat(ax: Any, fig: Any, grid: pd.DataFrame, bar_label: str) -> None:
    x, y = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    mesh = ax.pcolormesh(edges(x), edges(y), 100 * grid.to_numpy(float), cmap=CAPTURE_CMAP,
                         shading="flat", vmin=0, vmax=100)
    fig.colorbar(mesh, ax=ax, label=bar_label)


def ensemble_phase(an: Analysis, out: Path) -> Chart:
    """Mean capture over the draws, each draw's boundary, the band and the defaults."""
    found = an.ensemble
    assert found is not None  # computed for every sweep this chart is planned for
    along, across = found.along, found.across
    horizons = sorted(found.capture)
    fig, axes = figure(6.2 * len(horizons), 5.4, ncols=len(horizons))
    for ax, years in zip(axes[0], horizons, strict=True):
        grid = found.capture[years]
        _heat(ax, fig, grid, f"KAMs captured at year {years} (% of KAMs, mean over draws)")
        xe = edges(grid.columns.to_numpy(float))
        lines = found.boundaries[(found.boundaries.horizon == years)
                                 & (found.boundaries.draw > 0)]
        for i, (_, line) in enumerate(lines.groupby("draw")):
            ax.plot(line.critical.clip(xe[0], xe[-1]), line.level, color="white", lw=0.5,
                    alpha=0.3, label="one draw's boundary" if i == 0 else None)
        band = found.at(years)
        ax.fill_betweenx(band.level, band.low.clip(xe[0], xe[-1]),
                         band.high.clip(xe[0], xe[-1]), color="white", alpha=0.35, lw=0,
                         label="95 % band: constants and seeds")
        inside = band[np.isfinite(band["median"])]
        ax.plot(inside["median"], inside.level, color="white", lw=2.0, marker="o", ms=4,
                mec="black", mew=0.6, label="median over draws")
        default = band[np.isfinite(band["default"])]
        ax.plot(default["default"], default.level, color=CAPTURED, lw=2.0, ls="--",
                marker="D", ms=4, mec="black", mew=0.6, label="default constants")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_xlabel(label(along))
        ax.set_ylabel(label(across))
        ax.set_title(f"Year {years}", fontsize=9.5)
        ax.legend(loc="upper left", fontsize=7, framealpha=0.8)
    text = headline(found)
    title(fig, text)
    files = save(fig, found.band, out, "ensemble_phase")
    sentences = ensemble_sentences(found)
    half = pct(MOST_CAPTURED, 0)
    caption = (f"Mean share of KAMs captured over the posterior draws at every "
               f"({human(along)}, {human(across)}) point, at year 5 and at the end of the "
               f"runs. Thin lines: each draw's capture boundary (where capture, smoothed to "
               f"move one way only along {human(along)}, crosses {half}). Shaded: the band "
               "holding 95 % of all draws' bootstrap boundaries pooled (seed uncertainty "
               "within each draw, structural uncertainty across draws); where it reaches the "
               f"right edge, capture stays under {half} at every share in more than 2.5 % of "
               "them. White line: median of the draws' boundaries; dashed: the boundary at "
               "the default constants, from "
               f"{found.default_source}. " + _setting(an, found))
    return Chart("ensemble_phase", text, caption, files, " ".join(sentences[:2]))


#: The margin effects drawn, in order, with short labels.
_MARGIN_MEASURES = {
    f"{KEY_MARGIN}_contrast": f"{human(KEY_MARGIN)},\nhigh- minus low-risk",
    f"{SUPPLIER_MARGIN}_contrast": f"{human(SUPPLIER_MARGIN)},\nhigh- minus low-risk",
    f"{KEY_MARGIN}_gap": f"{human(KEY_MARGIN)},\ncaptured minus not",
    f"{SUPPLIER_MARGIN}_gap": f"{human(SUPPLIER_MARGIN)},\ncaptured minus not",
}
_CAPTURE_MEASURES = {
    f"{CAPTURE_5Y}_high": "high-risk, year 5",
    f"{CAPTURE_RATE}_high": "high-risk, end",
    f"{CAPTURE_5Y}_low": "low-risk, year 5",
    f"{CAPTURE_RATE}_low": "low-risk, end",
}


def _strip(ax: Any, per_draw: pd.DataFrame, ranges: pd.DataFrame,
           measures: dict[str, str], colour: str) -> None:
    shown = [m for m in measures if m in per_draw and per_draw[m].notna().any()]
    y = np.arange(len(shown))[::-1]
    rng = np.random.default_rng(0)
    posterior = per_draw[per_draw.draw > 0]
    default = per_draw[per_draw.draw == 0]
    table = ranges.set_index("measure")
    for yi, name in zip(y, shown, strict=True):
        values = 100 * posterior[name].dropna().to_numpy(float)
        ax.scatter(values, yi + rng.uniform(-0.18, 0.18, len(values)), s=9, color=colour,
                   alpha=0.6, lw=0, label="one draw" if yi == y[0] else None)
        r = table.loc[name]
        ax.plot([100 * r["low"], 100 * r["high"]], [yi - 0.3, yi - 0.3], color="black",
                lw=2, label="central 95 % of draws" if yi == y[0] else None)
        if len(default) and np.isfinite(default[name].iloc[0]):
            ax.scatter([100 * default[name].iloc[0]], [yi], marker="D", s=36,
                       color=CAPTURED, edgecolor="black", zorder=3,
                       label="default constants" if yi == y[0] else None)
    ax.set_yticks(y, [measures[m] for m in shown], fontsize=8)
    ax.legend(loc="best", fontsize=7, framealpha=0.8)


def ensemble_margins(an: Analysis, out: Path) -> Chart:
    """Capture and margin effects of every draw, their central range and the defaults."""
    found = an.ensemble
    assert found is not None  # computed for every sweep this chart is planned for
    per_draw = found.margins
    fig, axes = figure(11.0, 4.2, ncols=2)
    _strip(axes[0, 0], per_draw, found.ranges, _CAPTURE_MEASURES, LOYAL)
    axes[0, 0].set_xlabel("KAMs captured (% of KAMs)")
    _strip(axes[0, 1], per_draw, found.ranges, _MARGIN_MEASURES, MARGIN)
    axes[0, 1].axvline(0, color=OPERATIONAL, lw=0.8)
    axes[0, 1].set_xlabel("difference in margin (points of %)")
    ranges = found.ranges.set_index("measure")
    key = f"{SUPPLIER_MARGIN}_contrast"
    if key in ranges.index and ranges.loc[key, "draws"]:
        r = ranges.loc[key]
        text = (f"Supplier net margin is {-100 * r['high']:.1f} to {-100 * r['low']:.1f} "
                f"points lower at the high-risk than at the low-risk setting over "
                f"{int(r['draws'])} calibrated constant sets (defaults "
                f"{-100 * r['default']:.1f})")
    else:
        text = f"Capture and margin effects over {found.n_draws} calibrated constant sets"
    title(fig, text)
    files = save(fig, per_draw, out, "ensemble_margins")
    high = per_draw["high_setting"].iloc[0]
    low = per_draw["low_setting"].iloc[0]
    caption = (f"Each dot is one draw (constant set): left, KAMs captured at the high-risk "
               f"setting ({human(found.along)} / {human(found.across)} {high}) and the "
               f"low-risk one ({low}) at year 5 and at the end; right, key-account gross "
               f"margin (last {LAST_YEAR} months) "
               "and supplier net margin (over the run) at the high-risk minus the low-risk "
               "setting, and in mostly captured runs minus the others at equal share (only "
               "draws holding both kinds at some share). Bars: the central 95 % of draws; "
               "diamonds: the default constants (draw 0, same seeds). "
               + _setting(an, found))
    sentences = [s for s in ensemble_sentences(found) if "setting" in s or "equal" in s]
    return Chart("ensemble_margins", text, caption, files, " ".join(sentences))
