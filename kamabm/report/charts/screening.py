"""The chart of a Morris screening: mu* against sigma, one panel per outcome.

Factors and outcomes are named by their labels; an outcome a custom run function reports
without a label keeps its name.

It draws the indices :func:`kamabm.experiments.screening.run_screening` writes
(``morris.csv``); it computes none (``kamabm screen`` draws it).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd

from kamabm.names import human, known
from kamabm.report.charts.base import figure, save
from kamabm.report.charts.palette import ACTIVITY, CAPTURED, LOYAL, MARGIN, OPERATIONAL, PRICE

#: Factors labelled in the chart, per outcome.
LABELLED = 8
#: Okabe-Ito colours of the parameter groups.
GROUP_COLOURS = {"market": LOYAL, "negotiation": CAPTURED, "kam": MARGIN,
                 "lever": OPERATIONAL, "cost": ACTIVITY, "run": PRICE,
                 "structural": "#CC79A7"}


def plot_screening(indices: pd.DataFrame, out: str | Path, *, title: str = "") -> list[Path]:
    """Chart mu* against sigma, one panel per outcome, the top factors labelled.

    Writes ``morris.png`` (300 dpi), ``morris.svg`` and ``morris.csv`` (the plotted
    numbers) into ``out``; returns the files.
    """
    from matplotlib.lines import Line2D

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    outcomes = list(dict.fromkeys(indices["outcome"]))
    ncols = min(2, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    fig, axes = figure(6.2 * ncols, 4.8 * nrows + 0.6, ncols=ncols, nrows=nrows)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        table = indices[indices["outcome"] == outcome]
        colours = [GROUP_COLOURS.get(g, "#999999") for g in table["group"]]
        ax.errorbar(table["mu_star"], table["sigma"], xerr=table["mu_star_conf"], fmt="none",
                    ecolor="#BBBBBB", elinewidth=0.8, zorder=1)
        ax.scatter(table["mu_star"], table["sigma"], c=colours, s=22, zorder=2,
                   edgecolors="white", linewidths=0.4)
        edge = max(float(table["mu_star"].max()), float(table["sigma"].max()), 1e-12)
        ax.plot([0, edge], [0, edge], ls="--", lw=0.8, color="#777777", zorder=0)
        # Factors at the same point (common with few trajectories) share one label; a
        # label close to one already placed moves down a line, with a leader to its point.
        top = table.nsmallest(LABELLED, "rank")
        placed: list[tuple[float, float]] = []
        for (x, y), names in top.groupby(["mu_star", "sigma"], sort=False)["parameter"]:
            near = sum(abs(x - px) < 0.12 * edge and abs(y - py) < 0.04 * edge
                       for px, py in placed)
            placed.append((x, y))
            leader = {"arrowstyle": "-", "lw": 0.4, "color": "#777777"} if near else None
            ax.annotate(", ".join(_say(n) for n in names), (x, y), fontsize=7,
                        xytext=(8, 3 - 10 * near), textcoords="offset points",
                        arrowprops=leader)
        ax.set_title(_say(outcome), fontsize=10)
        ax.set_xlabel("mu* (mean |elementary effect| per full range)")
        ax.set_ylabel("sigma (spread of elementary effects)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    present = [g for g in GROUP_COLOURS if g in set(indices["group"])]
    handles = [Line2D([], [], marker="o", ls="", color=GROUP_COLOURS[g], label=g)
               for g in present]
    handles.append(Line2D([], [], ls="--", color="#777777", label="sigma = mu*"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    if title:
        fig.suptitle(textwrap.fill(title, int(11 * fig.get_figwidth())), fontsize=10)
    return list(save(fig, indices, out, "morris"))


def _say(name: str) -> str:
    return human(name) if known(name) else name


def chart_title(indices: pd.DataFrame) -> str:
    """A title stating the finding: the leading factor of each outcome."""
    parts = []
    for outcome, table in indices.groupby("outcome", sort=False):
        first = table.nsmallest(1, "rank").iloc[0]
        parts.append(f"{_say(outcome)}: {_say(first['parameter'])}")
    return "Morris screening, factor with the largest mu* - " + "; ".join(parts)
