"""The explorer's charts: each drawn as a static frame once per run, its data each month.

Drawing is the cost of a step (the model takes under a millisecond): each chart is a
small matplotlib figure at screen resolution whose axes, ticks and legend are drawn once
per run, its month-by-month data blitted over them (about 10 ms a chart, where drawing
it afresh took about 80). The lines of a previous run, kept for comparison, are part of
the frame: faint grey dashes drawn once per run under this run's data (or over it, where
this run's areas would hide them). The page (:mod:`kamabm.app.page`) shows the charts;
this module needs matplotlib and Pillow but not the web stack.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image as PILImage

from kamabm.model.account import kam_in_charge
from kamabm.model.kam import KAM
from kamabm.model.market import KAMMarket
from kamabm.model.run import CAPTURED_BELOW, run_table
from kamabm.report.charts import ACTIVITY, CAPTURED, LOYAL, MARGIN, OPERATIONAL, PRICE

#: Colour of a KAM by alignment: Okabe-Ito vermillion (captured, 0) to blue (loyal, 1),
#: through light grey at the capture line; safe for colour-blind readers, and shapes
#: (crosses, dashes) tell captured from loyal without colour.
ALIGNMENT_CMAP = LinearSegmentedColormap.from_list("alignment", [CAPTURED, "#DDDDDD", LOYAL])
#: Charts: size (inches) and resolution: 480 x 300 pixels, with text large enough to read
#: when a phone shrinks the picture to its width.
FIGSIZE = (4.8, 3.0)
DPI = 100


# --- drawing: a chart's frame once per run, its data on top of it each month -----------
# Drawing axes, ticks and labels is most of a chart's cost; they do not change during a
# run (the month axis runs to the horizon, every y range is fixed), so each chart is
# split in two functions: ``frame(ax, model)`` draws the static part and returns the
# chart's axes and its legend's entries; ``data(axes, model)`` adds the month-by-month
# artists. A time chart has a third, ``previous(axes, table)``, which draws the lines of
# a previous run (its run table) faintly into the frame. Legends sit above the plot, out
# of the data's way; reference lines of the frame marked animated are drawn again over
# the data.
#: A run's month-by-month columns, as :func:`kamabm.model.run.run_table` gives them.
RunTable = dict[str, np.ndarray]
Frame = Callable[[Axes, KAMMarket], tuple[list[Axes], list[Artist]]]
Data = Callable[[list[Axes], KAMMarket], list[Artist]]
Previous = Callable[[list[Axes], RunTable], None]


def _month_axis(ax: Axes, model: KAMMarket) -> None:
    ax.set_xlim(0, model.params.horizon_months)
    ax.set_xlabel("month")
    ax.grid(alpha=0.3)


#: A dot on the latest month of each line, so a line shows from the first month on.
NOW: dict[str, Any] = {"marker": "o", "markevery": [-1], "ms": 4}


def _on_top(*artists: Artist) -> None:
    for artist in artists:
        artist.set_animated(True)


def _legend(ax: Axes, handles: list[Artist]) -> None:
    # Above the plot, in the static frame: data drawn later never covers it.
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=2,
              fontsize=7.5, frameon=False, borderaxespad=0.0, handlelength=2.5,
              columnspacing=1.0)


#: How a previous run's lines are drawn: faint grey dashes, under this run's data.
PREVIOUS_STYLE: dict[str, Any] = {"color": "grey", "ls": "--", "lw": 1.0, "alpha": 0.6,
                                  "gid": "previous run"}
#: The legend's label for a previous run's lines.
PREVIOUS_LABEL = "previous run"


def _alignments(table: RunTable) -> np.ndarray:
    """Each KAM's alignment per month: one column per KAM."""
    return np.column_stack([v for k, v in table.items() if k.endswith("_alignment")])


def capture_months(alignment: np.ndarray) -> np.ndarray:
    """Index of the month each KAM's current capture began (-1 for KAMs loyal now)."""
    months = np.full(alignment.shape[1], -1)
    if not len(alignment):
        return months
    for k in np.flatnonzero(alignment[-1] < CAPTURED_BELOW):
        loyal = np.flatnonzero(alignment[:, k] >= CAPTURED_BELOW)
        months[k] = loyal[-1] + 1 if len(loyal) else 0
    return months


def alignment_frame(ax: Axes, model: KAMMarket) -> tuple[list[Axes], list[Artist]]:
    """Frame of each KAM's alignment: the capture line and the legend."""
    _on_top(ax.axhline(CAPTURED_BELOW, color="black", ls=":", lw=0.8))
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("alignment with employer")
    _month_axis(ax, model)
    return [ax], [Line2D([], [], color=LOYAL, label="loyal KAM (solid)"),
                  Line2D([], [], color=CAPTURED, ls="--", lw=1.8, marker="x", mec="black",
                         label="captured KAM (dashed; x: since)")]


def alignment_previous(axes: list[Axes], table: RunTable) -> None:
    """A previous run's alignment of each KAM, faintly."""
    axes[0].plot(table["month"], _alignments(table), **PREVIOUS_STYLE)


def alignment_data(axes: list[Axes], model: KAMMarket) -> list[Artist]:
    """Each KAM's alignment per month: loyal ones solid blue, captured dashed vermillion."""
    ax = axes[0]
    table = run_table(model)
    months = table["month"]
    if not len(months):
        return []
    alignment = _alignments(table)
    since = capture_months(alignment)
    lines = [np.column_stack([months, alignment[:, k]]) for k in range(alignment.shape[1])]
    loyal = LineCollection([x for x, s in zip(lines, since, strict=True) if s < 0],
                           colors=LOYAL, linewidths=1.0, alpha=0.8)
    captured = LineCollection([x for x, s in zip(lines, since, strict=True) if s >= 0],
                              colors=CAPTURED, linewidths=1.8, linestyles="--")
    k = np.flatnonzero(since >= 0)
    marks = ax.plot(months[since[k]], alignment[since[k], k], "x", color="black", ms=6)
    now = [*ax.plot(np.full(int((since < 0).sum()), months[-1]), alignment[-1, since < 0], "o",
                    color=LOYAL, ms=3),
           *ax.plot(np.full(len(k), months[-1]), alignment[-1, k], "o", color=CAPTURED, ms=3)]
    return [ax.add_collection(loyal), ax.add_collection(captured), *marks, *now]


def captures_frame(ax: Axes, model: KAMMarket) -> tuple[list[Axes], list[Artist]]:
    """Frame of the captured count: 0 to all KAMs (no legend)."""
    n = len(model.kams)
    ax.set_ylim(-0.3, n + 0.3)
    ax.set_ylabel("captured KAMs")
    _month_axis(ax, model)
    return [ax], []


def _captured_counts(table: RunTable) -> np.ndarray:
    return np.rint(table["captured_share"] * _alignments(table).shape[1])


def captures_previous(axes: list[Axes], table: RunTable) -> None:
    """A previous run's number of captured KAMs per month, faintly."""
    axes[0].step(table["month"], _captured_counts(table), where="post", **PREVIOUS_STYLE)


def captures_data(axes: list[Axes], model: KAMMarket) -> list[Artist]:
    """Number of captured KAMs per month."""
    table = run_table(model)
    return list(axes[0].step(table["month"], _captured_counts(table), where="post",
                             color=CAPTURED, lw=2, **NOW))


def price_frame(ax: Axes, model: KAMMarket) -> tuple[list[Axes], list[Artist]]:
    """Frame of price (left axis) and margins (right axis, %), with the starting price."""
    ax.axhline(model.initial_key_price, color=PRICE, ls=":", lw=0.8)
    ax.set_ylabel("price (unit cost = 1)")
    ax.set_ylim(0.95, max(1.05 * model.initial_key_price, 1.3))
    right = ax.twinx()
    right.set_ylim(-10, 30)
    right.set_ylabel("margin (% of revenue)")
    _month_axis(ax, model)
    return [ax, right], [
        Line2D([], [], color=PRICE, lw=2, label="key-account price (left)"),
        Line2D([], [], color=MARGIN, ls="--", label="key-account margin (right)"),
        Line2D([], [], color=OPERATIONAL, ls="-.", label="suppliers' net margin (right)")]


def price_previous(axes: list[Axes], table: RunTable) -> None:
    """A previous run's price and margins, faintly."""
    ax, right = axes
    ax.plot(table["month"], table["key_price"], **PREVIOUS_STYLE)
    for margin in ("key_account_margin", "supplier_margin"):
        right.plot(table["month"], 100 * table[margin], **PREVIOUS_STYLE)


def price_data(axes: list[Axes], model: KAMMarket) -> list[Artist]:
    """Key-account price, key-account margin and the suppliers' net margin per month."""
    ax, right = axes
    table = run_table(model)
    months = table["month"]
    return [*ax.plot(months, table["key_price"], color=PRICE, lw=2, **NOW),
            *right.plot(months, 100 * table["key_account_margin"], color=MARGIN, ls="--",
                        **NOW),
            *right.plot(months, 100 * table["supplier_margin"], color=OPERATIONAL, ls="-.",
                        **NOW)]


#: Top of the time chart: working time is drawn up to twice a full month.
TIME_TOP = 200.0


def time_frame(ax: Axes, model: KAMMarket) -> tuple[list[Axes], list[Artist]]:
    """Frame of where KAM time goes: percent of a month, and the legend."""
    ax.set_ylim(0, TIME_TOP)
    ax.set_ylabel("% of a month")
    _on_top(ax.axhline(100, color="grey", lw=0.8))
    _month_axis(ax, model)
    return [ax], [Patch(facecolor=OPERATIONAL, hatch="//", label="fulfilling demands"),
                  Patch(facecolor=ACTIVITY, label="negotiating"),
                  Line2D([], [], color="black", lw=1.5, label="working time (100 = full time)")]


def time_previous(axes: list[Axes], table: RunTable) -> None:
    """A previous run's share of time on fulfilment and its working time, faintly.

    Drawn over this run's areas, which would hide them (the frame's lines are drawn again
    on top, see :class:`LiveChart`).
    """
    ax = axes[0]
    for line in (*ax.plot(table["month"], 100 * table["operational_share"], **PREVIOUS_STYLE),
                 *ax.plot(table["month"], np.minimum(100 * table["kam_activity"], TIME_TOP),
                          **PREVIOUS_STYLE)):
        line.set_animated(True)


def time_data(axes: list[Axes], model: KAMMarket) -> list[Artist]:
    """Share of KAM time on fulfilment versus negotiation, and total working time."""
    ax = axes[0]
    table = run_table(model)
    months = table["month"]
    operational = 100 * table["operational_share"]
    areas = ax.stackplot(months, operational, 100 - operational,
                         colors=[OPERATIONAL, ACTIVITY], alpha=0.8, hatch=["//", ""])
    return [*areas, *ax.plot(months, np.minimum(100 * table["kam_activity"], TIME_TOP),
                             color="black", lw=1.5, **NOW)]


def _market_layout(model: KAMMarket) -> tuple[float, list[float], dict[int, float]]:
    """Width of the picture, each supplier's x and each buyer's x (by id)."""
    n_s, n_b = len(model.suppliers), len(model.buyers)
    width = max(n_s, n_b)
    supplier_x = [(i + 0.5) * width / n_s for i in range(n_s)]
    buyer_x = {id(b): (j + 0.5) * width / n_b for j, b in enumerate(model.buyers)}
    return width, supplier_x, buyer_x


def market_frame(ax: Axes, model: KAMMarket) -> tuple[list[Axes], list[Artist]]:
    """Frame of the market: suppliers (squares), key clients (diamonds), the legend."""
    width, supplier_x, buyer_x = _market_layout(model)
    ax.scatter(supplier_x, np.zeros(len(supplier_x)), s=180, marker="s", color="white",
               edgecolors="black")
    ax.scatter(list(buyer_x.values()), np.full(len(buyer_x), 2.0), s=180, marker="D",
               color="lightgrey", edgecolors="black")
    for j, bx in enumerate(buyer_x.values()):
        ax.text(bx, 2.22, f"key client {j + 1}", ha="center", va="bottom", fontsize=7)
    ax.text(-0.1, 1.0, "KAMs", ha="right", va="center", fontsize=8)
    ax.set_xlim(-0.9, width + 0.1)
    ax.set_ylim(-0.85, 2.6)
    ax.axis("off")
    return [ax], [
        Line2D([], [], ls="", marker="o", mfc=LOYAL, mec="black", ms=8, label="loyal KAM"),
        Line2D([], [], ls="", marker="X", mfc=CAPTURED, mec="black", ms=9,
               label="captured KAM (colour: alignment)")]


def market_data(axes: list[Axes], model: KAMMarket) -> list[Artist]:
    """KAMs coloured by alignment, crosses if captured; links as wide as the volume.

    Each KAM sits above his supplier and is linked to the client he serves.
    """
    ax = axes[0]
    _, supplier_x, buyer_x = _market_layout(model)
    slot = supplier_x[0] * 2
    volume = max(a.volume for s in model.suppliers for a in s.accounts) or 1.0
    links: list[list[tuple[float, float]]] = []
    link_widths: list[float] = []
    kam_x: list[float] = []
    kams: list[KAM] = []
    artists: list[Artist] = []
    for centre, supplier in zip(supplier_x, model.suppliers, strict=True):
        n = len(supplier.accounts)
        xs = centre + (np.arange(n) - (n - 1) / 2) * slot / (n + 1)
        for x, account in zip(xs, supplier.accounts, strict=True):
            links += [[(x, 1.0), (buyer_x[id(account.buyer)], 2.0)], [(centre, 0.0), (x, 1.0)]]
            link_widths += [0.5 + 4.0 * account.volume / volume, 0.8]
            kam_x.append(x)
            kams.append(kam_in_charge(account))
        n_captured = sum(kam_in_charge(a).captured for a in supplier.accounts)
        artists.append(ax.text(centre, -0.3, f"{n_captured} of {n}\ncaptured", ha="center",
                               va="top", fontsize=7))
    artists.append(ax.add_collection(LineCollection(links, linewidths=link_widths,
                                                    colors="grey", alpha=0.5)))
    positions = np.array(kam_x)
    alignment = np.array([k.alignment for k in kams])
    captured = alignment < CAPTURED_BELOW
    norm = Normalize(0.0, 1.0)
    for kind, mask, marker, size in (("loyal", ~captured, "o", 60),
                                     ("captured", captured, "X", 90)):
        if mask.any():
            artists.append(ax.scatter(positions[mask], np.ones(mask.sum()), s=size, marker=marker,
                                      c=alignment[mask], cmap=ALIGNMENT_CMAP, norm=norm,
                                      edgecolors="black", linewidths=0.6, gid=f"{kind} KAMs"))
    return artists


@dataclass(frozen=True)
class ChartSpec:
    """A chart of the page: how to draw it, its CSS class, its title and its caption.

    Title and caption are page text, not pixels: they stay sharp on any screen and cost
    nothing to draw. ``previous`` draws a previous run's lines for comparison (``None``
    for a chart of the market now, which has no time axis).
    """

    frame: Frame
    data: Data
    css_class: str
    title: Callable[[KAMMarket], str]
    caption: str
    previous: Previous | None = None


#: The charts in page order: alignment and price first, side by side on a wide screen
#: (the tutorial asks to watch them together).
CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(alignment_frame, alignment_data, "kamabm-alignment",
              lambda m: "Each KAM's alignment with his employer",
              "One line per KAM: 1 he works for his own firm, 0 for the client (E8, E11).",
              alignment_previous),
    ChartSpec(price_frame, price_data, "kamabm-price", lambda m: "Key-account price and margins",
              "The price key clients pay falls first; margins follow (E9). Dotted line: "
              "the starting price.", price_previous),
    ChartSpec(captures_frame, captures_data, "kamabm-captures",
              lambda m: f"Captured KAMs: {sum(k.captured for k in m.kams)} of {len(m.kams)} "
                        "now",
              "How many KAMs are captured each month.", captures_previous),
    ChartSpec(time_frame, time_data, "kamabm-time", lambda m: "Where KAM time goes",
              "Fulfilment grows while total working time stays high (E10).", time_previous),
    ChartSpec(market_frame, market_data, "kamabm-market", lambda m: "The market now",
              "Suppliers (squares), their KAMs, and the key clients (diamonds) they serve."),
)


class LiveChart:
    """One chart of one run: its frame drawn once, its data drawn over it on demand.

    With ``previous`` (a previous run's table), a time chart draws that run's lines
    faintly into its frame, and its legend gains a "previous run" entry.
    """

    def __init__(self, spec: ChartSpec, model: KAMMarket,
                 previous: RunTable | None = None) -> None:
        self.spec = spec
        self.figure = Figure(figsize=FIGSIZE, dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        # Fixed margins: a layout engine would double the drawing time.
        self.figure.subplots_adjust(left=0.13, right=0.87, bottom=0.15, top=0.84)
        self.axes, entries = spec.frame(self.figure.add_subplot(), model)
        if previous is not None and spec.previous is not None:
            spec.previous(self.axes, previous)
            entries = [*entries, Line2D([], [], **{**PREVIOUS_STYLE, "label": PREVIOUS_LABEL})]
        if entries:
            _legend(self.axes[0], entries)
        for ax in self.axes:
            ax.tick_params(labelsize=8)
            ax.xaxis.label.set_fontsize(9)
            ax.yaxis.label.set_fontsize(9)
        self.on_top = [a for ax in self.axes for a in ax.get_children() if a.get_animated()]
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def png(self, model: KAMMarket) -> bytes:
        """The chart of ``model`` now, as PNG bytes."""
        self.canvas.restore_region(self.background)
        artists = self.spec.data(self.axes, model)
        for artist in [*artists, *self.on_top]:
            self.figure.draw_artist(artist)
        for artist in artists:
            artist.remove()
        width, height = self.canvas.get_width_height()
        image = PILImage.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(),
                                    "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.save(out, format="png", compress_level=1)
        return out.getvalue()


def chart_png(spec: ChartSpec, model: KAMMarket, previous: RunTable | None = None) -> bytes:
    """One chart of ``model`` as PNG bytes, drawn from scratch (for use outside the page)."""
    return LiveChart(spec, model, previous).png(model)
