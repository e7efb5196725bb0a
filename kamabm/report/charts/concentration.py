"""Capture against three concentration axes, one line per number of key clients.

Draws :class:`kamabm.analysis.concentration.Concentration` (nothing is computed here but
the title's words): capture with Wilson intervals against the key clients' total share,
the share per key client and the Herfindahl index of the key clients, each panel with the
one logistic curve fitted to every buyer count; the axis whose lines fall on that curve
is the one capture follows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.concentration import ACCOUNT, AXES, FITTED, HHI, KEY_BUYERS, TOTAL
from kamabm.analysis.tables import Analysis
from kamabm.names import pct
from kamabm.report.charts.base import Chart, figure, save, setting, title
from kamabm.report.charts.palette import SEQUENCE

#: Axis labels: the shares in percent of turnover, the index as a number from 0 to 1.
_XLABELS = {TOTAL: "key clients' total share of turnover (%)",
            ACCOUNT: "share of turnover per key client (%)",
            HHI: "Herfindahl index of the key clients\n(sum of squared shares, 0 to 1)"}
_SCALE = {TOTAL: 100.0, ACCOUNT: 100.0, HHI: 1.0}


def concentration(an: Analysis, out: Path) -> Chart:
    """Capture against total share, share per key client and Herfindahl index."""
    found = an.concentration
    assert found is not None  # computed for every sweep this chart is planned for
    curves, fit = found.curves, found.fit.set_index("axis")
    buyers = sorted(curves[KEY_BUYERS].unique())
    fig, axes = figure(12.0, 4.6, ncols=len(AXES), sharey=True)
    for ax, axis in zip(axes[0], AXES, strict=True):
        part = curves[curves.axis == axis]
        scale = _SCALE[axis]
        for colour, n in zip(SEQUENCE, buyers, strict=False):
            line = part[part[KEY_BUYERS] == n].sort_values("x")
            x = scale * line["x"].to_numpy(float)
            err = 100 * np.vstack([line["mean"] - line["low"], line["high"] - line["mean"]])
            ax.errorbar(x, 100 * line["mean"], yerr=np.clip(err, 0, None), color=colour,
                        marker="o", ms=3.5, lw=1.3, capsize=2, elinewidth=0.8,
                        label=f"{n:g} key clients")
        one = part.sort_values("x")
        ax.plot(scale * one["x"], 100 * one["fitted"], color="grey", ls="--", lw=1.2,
                label="one curve for all")
        ax.set_xscale("log")
        ticks = _ticks(scale * part["x"].min(), scale * part["x"].max())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(_XLABELS[axis], fontsize=9)
        ax.set_title(_panel_title(fit.loc[axis]), fontsize=9)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.25, lw=0.5)
    axes[0, 0].set_ylabel("KAMs captured (%)")
    axes[0, 0].legend(fontsize=7.5, frameon=False, loc="upper left")
    headline = _headline(an)
    title(fig, headline)
    table = curves.merge(found.fit[["axis", "exponent", "r2", "gap"]], on="axis")
    files = save(fig, table, out, "concentration")
    fitted = ""
    if FITTED in fit.index and np.isfinite(fit.loc[FITTED, "exponent"]):
        row = fit.loc[FITTED]
        band = (f", 95 % bootstrap interval {row.exponent_low:.2f} to {row.exponent_high:.2f}"
                if np.isfinite(row.exponent_low) else "")
        fitted = (f" Fitting the power of the number of key clients that the total share is "
                  f"divided by gives {row.exponent:.2f}{band} (0 is the total share, 0.5 the "
                  f"Herfindahl index, 1 the share per key client).")
    caption = ("Share of KAMs captured at the end of the run against three measures of how "
               "concentrated the key clients are, one line per number of key clients "
               "(equal shares), with 95 % Wilson intervals; logarithmic axes. The dashed "
               "line is one logistic curve fitted to every line at once; the share of the "
               "differences between design points it explains (R²) and the mean gap between "
               "lines at equal value say how well one axis explains every number of key clients."
               + fitted + " " + setting(an.results))
    return Chart("concentration", headline, caption, files, headline)


def _panel_title(row: pd.Series) -> str:
    """How well one curve in this axis fits every number of key clients, in words."""
    if not np.isfinite(row.r2):
        return "capture alike at every point:\nno curve fitted"
    gap = (f"lines {100 * row.gap:.0f} points apart on average at equal value"
           if np.isfinite(row.gap) else "no two lines share a range")
    return f"one curve explains {pct(row.r2, 0)} of the differences;\n{gap}"


def _headline(an: Analysis) -> str:
    """The finding: which axis capture follows, with its R² against the total share's."""
    found = an.concentration
    assert found is not None  # the caller checks
    if not found.varies:
        return (f"Capture is about {pct(found.curves['mean'].mean(), 0)} at every point "
                "tested: no measure of concentration explains it better than another")
    best, total = found.best, found.fit.set_index("axis").loc[TOTAL]
    buyers = sorted(found.curves[KEY_BUYERS].unique())
    if best.axis == TOTAL:
        return (f"Capture follows the key clients' total share, whatever their number "
                f"({pct(best.r2, 0)} explained by one curve)")
    return (f"Capture follows the {best.words}: one curve fits {buyers[0]:g} to "
            f"{buyers[-1]:g} key clients ({pct(best.r2, 0)} explained, against "
            f"{pct(total.r2, 0)} for the total share)")


def _ticks(low: float, high: float) -> list[float]:
    """A few round tick values between ``low`` and ``high`` on a logarithmic axis."""
    for steps in ((1, 2, 5), (1, 2, 3, 5, 7)):
        candidates = [v * 10.0 ** e for e in range(-3, 3) for v in steps]
        inside = [t for t in candidates if low * 0.95 <= t <= high * 1.05]
        if len(inside) >= 4:
            return inside
    return inside if len(inside) >= 2 else [low, high]
