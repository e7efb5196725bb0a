"""Maps over two factors: the capture phase diagram and the margin maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kamabm.analysis.results import CAPTURE_5Y
from kamabm.analysis.tables import Analysis, Boundary
from kamabm.model.params import FIVE_YEARS, LAST_YEAR
from kamabm.names import (
    CAPTURE_RATE,
    MOST_CAPTURED,
    SUPPLIER_MARGIN,
    human,
    label,
    levels_text,
    pct,
    value_text,
)
from kamabm.report.charts.base import Chart, edges, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURE_CMAP, MARGIN_CMAP


def heat(ax: Any, fig: Any, grid: pd.DataFrame, cmap: str, bar_label: str,
         scale: float = 100.0) -> None:
    """A grid of means as coloured cells, with a colour bar."""
    x, y = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    mesh = ax.pcolormesh(edges(x), edges(y), scale * grid.to_numpy(float), cmap=cmap,
                         shading="flat", rasterized=False)
    fig.colorbar(mesh, ax=ax, label=bar_label)


def boundary_sentence(found: Boundary) -> str:
    """Where most KAMs are captured, in one sentence, from a boundary."""
    table, along, across, direction = found.table, found.along, found.across, found.direction
    inside = found.inside
    word = "above" if direction == 1 else "below"
    never, always = found.outside()
    half = pct(MOST_CAPTURED, 0)
    if inside.empty:
        if len(never) == len(table):
            return f"Capture probability stays under {half} everywhere in the swept range"
        if len(always) == len(table):
            return "Most KAMs are captured everywhere in the swept range"
        return f"Capture probability crosses {half} outside the swept range"
    first, last = inside.iloc[0], inside.iloc[-1]
    text = (f"Most KAMs are captured {word} {human(along)} "
            f"{value_text(along, first.critical)} at {human(across)} "
            f"{value_text(across, first.level)}")
    if len(inside) > 1:
        text += (f", {word} {value_text(along, last.critical)} at "
                 f"{value_text(across, last.level)}")
    if never:
        levels = levels_text(never, table.level, lambda v: value_text(across, v))
        text += f"; at {human(across)} {levels}, at no {human(along)} swept"
    return text


def boundary_headline(found: Boundary) -> str:
    """Where most KAMs are captured, briefly and in plain words, for a chart title."""
    inside = found.inside
    if inside.empty:
        return boundary_sentence(found)
    along, across = found.along, found.across
    first, last = inside.iloc[0], inside.iloc[-1]
    text = (f"Most KAMs are captured {'above' if found.direction == 1 else 'below'} "
            f"{human(along)} {value_text(along, first.critical)} with {human(across)} at "
            f"{value_text(across, first.level)}")
    if len(inside) > 1:
        text += (f", {value_text(along, last.critical)} at "
                 f"{value_text(across, last.level)}")
    return text


def _capture_map(an: Analysis, outcome: str, found: Boundary, bar_label: str,
                 line_label: str, suffix: str) -> tuple[Any, pd.DataFrame]:
    """A capture heat map with its boundary and band; the figure and its CSV table.

    The CSV's columns are the factors, ``{outcome}_mean`` and the boundary's columns
    named with ``suffix`` (``boundary{suffix}``, ``boundary{suffix}_low`` ...).
    """
    along, across = an.factors
    grid = an.grid(outcome)
    fig, axes = figure(7.0, 5.6)
    ax = axes[0, 0]
    heat(ax, fig, grid, CAPTURE_CMAP, bar_label)
    xe = edges(grid.columns.to_numpy(float))
    inside = found.inside
    if not inside.empty:
        lo = inside.low.clip(xe[0], xe[-1])
        hi = inside.high.clip(xe[0], xe[-1])
        ax.fill_betweenx(inside.level, lo, hi, color="white", alpha=0.35, lw=0,
                         label="95 % bootstrap band")
        ax.plot(inside.critical, inside.level, color="white", lw=2.0, marker="o", ms=4,
                mec="black", mew=0.6, label=line_label)
        ax.legend(loc="upper left" if found.direction == 1 else "upper right", fontsize=8,
                  framealpha=0.8)
    ax.set_xlabel(label(along))
    ax.set_ylabel(label(across))
    ax.set_xlim(xe[0], xe[-1])
    long = grid.stack().rename(f"{outcome}_mean").reset_index()
    csv = long.merge(found.table.rename(columns={"level": across}), on=across, how="left")
    csv = csv.rename(columns={"critical": f"boundary{suffix}", "low": f"boundary{suffix}_low",
                              "high": f"boundary{suffix}_high",
                              "status": f"boundary{suffix}_status", "n_runs": "runs_at_level"})
    return fig, csv


def phase_diagram(an: Analysis, out: Path) -> Chart:
    """Heat map of mean capture rate with the capture boundary and its bootstrap band."""
    along, across = an.factors
    found = an.boundary
    assert found is not None  # computed for every sweep this chart is planned for
    fig, csv = _capture_map(an, CAPTURE_RATE, found,
                            "KAMs captured at the end (% of KAMs, mean)",
                            f"capture boundary ({pct(MOST_CAPTURED, 0)} captured)", "")
    headline = boundary_headline(found)
    title(fig, headline)
    files = save(fig, csv, out, "phase_diagram")
    caption = (f"Mean share of KAMs captured at the end of the run at every ({human(along)}, "
               f"{human(across)}) point; the white line is the capture boundary, where "
               f"capture crosses {pct(MOST_CAPTURED, 0)} once smoothed to move one way only "
               f"along {human(along)}, and the shaded band its 95 % bootstrap interval over "
               "replications. "
               + setting(an.results))
    return Chart("phase_diagram", headline, caption, files, boundary_sentence(found))


def transient_map(an: Analysis, out: Path) -> Chart:
    """The five-year map of a long-run sweep, beside its long-run phase diagram.

    Same axes and scale as :func:`phase_diagram`, from the capture rate every run records
    at month :data:`~kamabm.model.params.FIVE_YEARS`; the white line is the five-year
    capture boundary with its band.
    """
    along, across = an.factors
    found = an.transient
    assert found is not None  # computed for every sweep this chart is planned for
    fig, csv = _capture_map(an, CAPTURE_5Y, found,
                            "KAMs captured after five years (% of KAMs, mean)",
                            "five-year capture boundary", "_5y")
    headline = "After five years: " + boundary_headline(found)
    title(fig, headline)
    files = save(fig, csv, out, "transient_map")
    caption = (f"The same runs as the phase diagram, read after five years (month "
               f"{FIVE_YEARS}) instead of at their end: mean share of KAMs captured at every "
               f"({human(along)}, {human(across)}) point, with the five-year capture boundary "
               "and its 95 % bootstrap band. Where the two maps differ, the five-year map "
               "shows a transient. " + setting(an.results))
    return Chart("transient_map", headline, caption, files, boundary_sentence(found))


def margin_maps(an: Analysis, out: Path) -> Chart:
    """Heat maps of supplier and key-account margin on the phase diagram's axes."""
    along, across = an.factors
    margins = an.margins
    fig, axes = figure(6.0 * len(margins), 5.0, ncols=len(margins))
    frames = []
    assert an.boundary is not None  # computed for every sweep this chart is planned for
    inside = an.boundary.inside
    for ax, name in zip(axes[0], margins, strict=True):
        grid = an.grid(name)
        heat(ax, fig, grid, MARGIN_CMAP, label(name, percent=True).replace("(", "(mean, ", 1))
        if not inside.empty:
            ax.plot(inside.critical, inside.level, color="white", lw=1.6, ls="--",
                    label="capture boundary")
            ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
        ax.set_xlabel(label(along))
        ax.set_ylabel(label(across))
        frames.append(grid.stack().rename(f"{name}_mean"))
        cells = grid.stack()
        top, low = cells.idxmax(), cells.idxmin()
        ax.set_title(f"{human(name)}: {100 * cells.max():.1f} % at "
                     f"({value_text(along, top[1])}, {value_text(across, top[0])}) to "
                     f"{100 * cells.min():.1f} % at ({value_text(along, low[1])}, "
                     f"{value_text(across, low[0])})", fontsize=8.5)
    capture = an.grid(CAPTURE_RATE).stack()
    key = SUPPLIER_MARGIN if SUPPLIER_MARGIN in margins else margins[0]
    cells = an.grid(key).stack()
    worst, best = cells.idxmin(), cells.idxmax()
    margin = human(key)
    at_worst, at_best = round(100 * capture[worst]), round(100 * capture[best])
    if at_worst == at_best:  # a tie is named as one, not as a contrast
        finding = (f"The lowest and the highest {margin} both fall where {at_worst} % of "
                   "KAMs are captured")
    else:
        finding = (f"The lowest {margin} falls where {at_worst} % of KAMs are captured; "
                   f"the highest where {at_best} % are")
    title(fig, finding)
    files = save(fig, pd.concat(frames, axis=1).reset_index(), out, "margin_maps")
    caption = ("Mean supplier net margin (after cost to serve and granted demands, over the "
               f"whole run) and key-account gross margin (last {LAST_YEAR} months) at every "
               "design point, on the axes of the phase diagram; dashed: the capture boundary. "
               + setting(an.results))
    return Chart("margin_maps", finding, caption, files, finding)
