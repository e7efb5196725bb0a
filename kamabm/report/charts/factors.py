"""Outcomes against a factor.

Margins by the first factor of a map, margin against capture, and every outcome of a
one-factor sweep against its factor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kamabm.analysis.tables import Analysis
from kamabm.names import (
    CAPTURE_RATE,
    KEY_MARGIN,
    MOST_CAPTURED,
    SUPPLIER_MARGIN,
    human,
    label,
    pct,
    value_text,
)
from kamabm.report.charts.base import Chart, change, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURE_CMAP, CAPTURED, LOYAL, MARGIN, SEQUENCE


def margin_by_factor(an: Analysis, out: Path) -> Chart:
    """Margins against the first factor with 95 % confidence bands, one line per level."""
    along, across = an.factors
    margins = an.margins
    csv = an.margin_lines
    assert csv is not None  # computed for every sweep this chart is planned for
    levels = sorted(csv[across].unique())
    fig, axes = figure(5.2 * len(margins), 4.6, ncols=len(margins))
    for ax, name in zip(axes[0], margins, strict=True):
        table = csv[csv.outcome == name]
        for colour, level in zip(SEQUENCE, levels, strict=False):
            line = table[table[across] == level]
            ax.fill_between(line[along], 100 * line["low"], 100 * line["high"],
                            color=colour, alpha=0.2, lw=0)
            ax.plot(line[along], 100 * line["mean"], color=colour, marker="o", ms=3,
                    label=f"{human(across)} {value_text(across, level)}")
        ax.set_xlabel(label(along))
        ax.set_ylabel(label(name, percent=True))
        ax.legend(fontsize=8, frameon=False)
    key = margins[0]
    first = csv[(csv.outcome == key)]
    drops = {}
    for level in (levels[0], levels[-1]):
        line = first[first[across] == level].sort_values(along)
        drops[level] = 100 * (line["mean"].iloc[0] - line["mean"].iloc[-1])
    x0, x1 = first[along].min(), first[along].max()
    finding = (f"From {human(along)} {value_text(along, x0)} to {value_text(along, x1)}, "
               f"{human(key)} {change(drops[levels[-1]])} at {human(across)} "
               f"{value_text(across, levels[-1])} and {change(drops[levels[0]])} at "
               f"{value_text(across, levels[0])}")
    title(fig, finding)
    files = save(fig, csv[["outcome", across, along, "mean", "low", "high", "n"]], out,
                 "margin_by_factor")
    caption = (f"Mean margins against {human(along)}, one line per level of {human(across)} "
               "(a readable subset), with 95 % t intervals over replications. "
               + setting(an.results))
    return Chart("margin_by_factor", finding, caption, files, finding)


def margin_vs_capture(an: Analysis, out: Path) -> Chart:
    """Design-point means of margin against capture rate, coloured by the first factor."""
    along, _ = an.factors
    margins = an.margins
    assert an.cells is not None  # computed for every sweep this chart is planned for
    means = an.cells.reset_index()
    fig, axes = figure(5.2 * len(margins), 4.6, ncols=len(margins))
    for ax, name in zip(axes[0], margins, strict=True):
        points = ax.scatter(100 * means[CAPTURE_RATE], 100 * means[name], c=means[along],
                            cmap=CAPTURE_CMAP, s=16, edgecolors="none")
        ax.set_xlabel("KAMs captured at the end (% of KAMs, mean of a design point)")
        ax.set_ylabel(label(name, percent=True))
    fig.colorbar(points, ax=axes[0, -1], label=label(along))
    key = KEY_MARGIN if KEY_MARGIN in margins else margins[0]
    gap = an.margin_gaps[key]
    if gap["levels"]:
        finding = (f"At equal {human(along)}, {human(key)} is "
                   f"{-100 * gap['gap']:.1f} points lower in runs where most KAMs are "
                   f"captured ({100 * gap['captured']:.1f} % against "
                   f"{100 * gap['not_captured']:.1f} %)")
    else:
        finding = "No level of the swept factor holds both captured and uncaptured runs"
    title(fig, finding)
    files = save(fig, means, out, "margin_vs_capture")
    caption = ("Each dot is one design point: its mean capture rate against its mean "
               f"margins, coloured by {human(along)}. The title compares runs with at least "
               f"{pct(MOST_CAPTURED, 0)} of KAMs captured with the others at the same "
               f"{human(along)}. " + setting(an.results))
    return Chart("margin_vs_capture", finding, caption, files, finding)


#: Colours and axis labels of the outcomes of a one-factor sweep.
_FACTOR_PANELS = {CAPTURE_RATE: (CAPTURED, "KAMs captured at the end (% of KAMs)"),
                  KEY_MARGIN: (MARGIN, label(KEY_MARGIN, percent=True)),
                  SUPPLIER_MARGIN: (LOYAL, label(SUPPLIER_MARGIN, percent=True))}


def outcome_by_factor(an: Analysis, out: Path) -> Chart:
    """A one-factor sweep: capture and margins against the factor, with 95 % intervals."""
    (factor,) = an.factors
    table = an.by_factor
    assert table is not None  # computed for every sweep this chart is planned for
    outcomes = [o for o in _FACTOR_PANELS if o in set(table.outcome)]
    fig, axes = figure(4.4 * len(outcomes), 4.2, ncols=len(outcomes))
    for ax, name in zip(axes[0], outcomes, strict=True):
        colour, ylabel = _FACTOR_PANELS[name]
        line = table[table.outcome == name]
        ax.fill_between(line[factor], 100 * line["low"], 100 * line["high"], color=colour,
                        alpha=0.2, lw=0)
        ax.plot(line[factor], 100 * line["mean"], color=colour, marker="o", ms=4)
        ax.set_xlabel(label(factor))
        ax.set_ylabel(ylabel)
        if name == CAPTURE_RATE:
            ax.axhline(100 * MOST_CAPTURED, color="grey", ls="--", lw=0.8)
            ax.set_ylim(-3, 103)
    capture = table[table.outcome == CAPTURE_RATE].sort_values(factor)
    x, y = capture[factor].to_numpy(float), capture["mean"].to_numpy(float)
    over = np.flatnonzero(y >= MOST_CAPTURED)
    if len(over) == 0:
        finding = (f"Fewer than half of KAMs are captured at every {human(factor)} swept "
                   f"(at most {100 * y.max():.0f} %)")
    elif len(over) == len(y):
        finding = (f"Most KAMs are captured at every {human(factor)} swept (at least "
                   f"{100 * y.min():.0f} %)")
    else:
        finding = (f"Capture goes from {100 * y[0]:.0f} % of KAMs at {human(factor)} "
                   f"{value_text(factor, x[0])} to {100 * y[-1]:.0f} % at "
                   f"{value_text(factor, x[-1])}; most are captured at "
                   f"{', '.join(value_text(factor, v) for v in x[over])}")
    title(fig, finding)
    files = save(fig, table[["outcome", factor, "mean", "low", "high", "n"]], out,
                 "outcome_by_factor")
    caption = (f"Mean capture and margins against {human(factor)}, the one factor the sweep "
               "varies, with 95 % t intervals over replications; dashed: "
               f"{pct(MOST_CAPTURED, 0)} of KAMs captured. " + setting(an.results))
    return Chart("outcome_by_factor", finding, caption, files, finding)
