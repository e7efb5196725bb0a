"""The chart of one run, month by month: KAM alignment, price and margin, KAM time.

Each panel is a function that draws onto a given ``Axes`` from a run's per-month table
(:func:`kamabm.model.run.run_table`, as a dict of arrays or a DataFrame), so ``kamabm run``,
the report's typical runs and the app draw the same panels in the same colours.
:func:`plot_run` puts the three together and saves them; the table is saved as CSV
beside the figure, so the numbers plotted are exactly the numbers in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from kamabm.model.params import CAPTURED_BELOW
from kamabm.names import CAPTURE_RATE, KEY_MARGIN
from kamabm.report.charts.palette import ACTIVITY, CAPTURED, LOYAL, MARGIN, OPERATIONAL, PRICE

#: Suffix of the KAM alignment columns of a run table.
_ALIGNMENT = "_alignment"


def _column(table: Mapping[str, Any], name: str) -> np.ndarray:
    return np.asarray(table[name])


def kam_alignments(table: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each KAM's alignment series of a run table, by KAM (``kam1_s0``, ...)."""
    return {k[:-len(_ALIGNMENT)]: _column(table, k) for k in table
            if k.endswith(_ALIGNMENT) and k.startswith("kam")}


def draw_alignment(ax: Any, table: Mapping[str, Any], *, legend: bool = True,
                   ylabel: bool = True) -> None:
    """Each KAM's alignment with his employer; those captured at the end in vermillion.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        table: a run table with ``month`` and ``kam*_alignment`` columns.
        legend: whether to explain the colours.
        ylabel: whether to label the y axis.

    """
    months = _column(table, "month")
    for series in kam_alignments(table).values():
        captured = series[-1] < CAPTURED_BELOW
        ax.plot(months, series, color=CAPTURED if captured else LOYAL,
                lw=1.6 if captured else 1.0, alpha=0.9)
    ax.axhline(CAPTURED_BELOW, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    if ylabel:
        ax.set_ylabel("alignment with employer\n(1 loyal, 0 captured)")
    if legend:
        ax.plot([], [], color=LOYAL, label="KAM loyal at the end")
        ax.plot([], [], color=CAPTURED, label="KAM captured at the end")
        ax.legend(loc="lower left", frameon=False, fontsize=8)


def draw_price_margin(ax: Any, table: Mapping[str, Any], *, legend: bool = True,
                      ylabel: bool = True, margin_label: bool = True) -> Any:
    """The key-account price (left axis) and gross margin in % (right axis).

    Args:
        ax: the matplotlib ``Axes`` to draw the price on.
        table: a run table with ``month``, ``key_price`` and ``key_account_margin``.
        legend: whether to name the two lines.
        ylabel: whether to label the price axis.
        margin_label: whether to label the margin axis.

    Returns:
        The twin ``Axes`` holding the margin.

    """
    months = _column(table, "month")
    ax.plot(months, _column(table, "key_price"), color=PRICE, label="key-account price")
    if ylabel:
        ax.set_ylabel("price (unit cost = 1)")
    twin = ax.twinx()
    twin.plot(months, 100 * _column(table, KEY_MARGIN), color=MARGIN,
              label="key-account gross margin")
    if margin_label:
        twin.set_ylabel("gross margin (%)", color=MARGIN)
    if legend:
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="upper right",
                  frameon=False, fontsize=8)
    return twin


def draw_time_split(ax: Any, table: Mapping[str, Any], *, legend: bool = True,
                    ylabel: bool = True) -> None:
    """How KAM time splits: the operational share and total activity, in % of a month.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        table: a run table with ``month``, ``operational_share`` and ``kam_activity``.
        legend: whether to name the two lines.
        ylabel: whether to label the axes.

    """
    months = _column(table, "month")
    ax.plot(months, 100 * _column(table, "operational_share"), color=OPERATIONAL,
            label="operational share of KAM time")
    ax.plot(months, 100 * _column(table, "kam_activity"), color=ACTIVITY,
            label="KAM activity (100 = full time)")
    if ylabel:
        ax.set_ylabel("% of a month")
    ax.set_xlabel("month")
    if legend:
        ax.legend(loc="upper left", frameon=False, fontsize=8)


def headline(table: Mapping[str, Any], outcomes: Mapping[str, Any]) -> str:
    """One line on a run: KAMs captured, the first capture, the key-account margin."""
    n = len(kam_alignments(table))
    captured = int(round(outcomes[CAPTURE_RATE] * n))
    first = outcomes["time_to_first_capture"]
    return (f"{captured} of {n} KAMs captured" +
            (f", the first in month {first}" if first else "") +
            f"; key-account margin {100 * outcomes[KEY_MARGIN]:.1f} %")


def run_figure(table: Mapping[str, Any], outcomes: Mapping[str, Any], title: str) -> Any:
    """The three panels of one run in a matplotlib ``Figure`` (no pyplot).

    Args:
        table: the run's per-month table from :func:`kamabm.model.run.run_table`.
        outcomes: the run's outcomes (for the headline).
        title: what was run (parameters and seed), shown under the headline.

    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 9), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    draw_alignment(axes[0], table)
    draw_price_margin(axes[1], table)
    draw_time_split(axes[2], table)
    fig.suptitle(f"{headline(table, outcomes)}\n{title}", fontsize=10)
    return fig


def save_table(table: Mapping[str, Any], path: Path) -> None:
    """Write a run table as CSV (one row per month)."""
    names = list(table)
    data = np.column_stack([_column(table, n) for n in names])
    np.savetxt(path, data, delimiter=",", header=",".join(names), comments="", fmt="%.6g")


def save_figure(fig: Any, path_stem: Path) -> list[Path]:
    """Save a figure as PNG (300 dpi) and SVG, the SVG free of dates and random ids."""
    import matplotlib

    written = []
    with matplotlib.rc_context({"svg.hashsalt": "kamabm"}):
        for suffix, kwargs in ((".png", {"dpi": 300}),
                               (".svg", {"metadata": {"Date": None}})):
            path = path_stem.with_suffix(suffix)
            fig.savefig(path, **kwargs)
            written.append(path)
    return written


def plot_run(table: Mapping[str, Any], outcomes: Mapping[str, Any], title: str,
             path_stem: Path) -> list[Path]:
    """Draw a run's time series (:func:`run_figure`) and save it as PNG (300 dpi) and SVG.

    Returns:
        The files written.

    """
    return save_figure(run_figure(table, outcomes, title), path_stem)
