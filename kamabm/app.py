"""The students' explorer: a Mesa SolaraViz page over the KAM market.

Start it with ``kamabm app`` (or ``solara run kamabm.app``). The sidebar's controls are
generated from :class:`~kamabm.params.Parameters` (label, range and default are read from
each field's spec, never typed here); moving one takes effect at *Reset*, as in every
Mesa app. The page shows what capture looks like from inside the supplier: each KAM's
alignment drifting (E8, E11), the count of captured KAMs, the key-account price ratchet
and margins (E9), the work turning operational while activity stays high (E10) and the
market itself, coloured by alignment.

This module needs the optional extra (``pip install "kamabm[app]"``); nothing else in
the package imports it.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import solara
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

from kamabm.kam import CAPTURED_BELOW
from kamabm.model import KAMMarket
from kamabm.params import LEVER, Parameters
from kamabm.run import series

#: Parameters with a slider: the headline ones (E1, E8), detachment (E4), learning (E7),
#: the size of the market and every management lever (E12). The rest keep their defaults.
CONTROLLED: tuple[str, ...] = (
    "client_revenue_share", "kam_pressure", "buyer_detachment", "learning_ability",
    "pressure_change_month", "pressure_after_change", "n_suppliers", "n_key_buyers",
    "horizon_months",
    *(name for name in Parameters.names() if Parameters.spec(name).group == LEVER),
)
#: Seed of the first model the page shows (the ``kamabm run`` default too).
DEFAULT_SEED = 1
#: Highest seed the seed slider offers.
MAX_SEED = 999
#: Colours of alignment: red is the client's agent (0), green loyal to the employer (1).
ALIGNMENT_CMAP = colormaps["RdYlGn"]
#: Size of every chart, inches.
FIGSIZE = (6.4, 4.0)


class AppMarket(KAMMarket):
    """The market as the app builds it: parameters by keyword, an integer seed.

    Mesa's page re-creates the model at *Reset* with ``Model(**controls)``; this
    subclass gives it the plain keyword signature it checks for. Mesa 3.5 also passes
    its (empty) default ``scenario`` there; our parameters live in :class:`Parameters`,
    so it is dropped.
    """

    def __init__(self, seed: int = DEFAULT_SEED, scenario: Any = None, **kwargs: Any) -> None:
        super().__init__(Parameters.from_mapping(kwargs), seed=int(seed))


def slider_step(name: str) -> float | int:
    """A round slider step for ``name`` on whose grid the low end and the default lie."""
    if Parameters.is_integer(name):
        return 1
    spec = Parameters.spec(name)
    default = Parameters.default(name)
    step = 10.0 ** math.floor(math.log10((spec.high - spec.low) / 50.0))
    while not all(_on_grid(x, step) for x in (spec.low, default)):
        step /= 10.0
    return step


def _on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) < 1e-6


def control(name: str) -> Slider:
    """The slider of parameter ``name``: range and default from its spec."""
    spec = Parameters.spec(name)
    step = slider_step(name)
    low = spec.low + step if spec.low_open else spec.low
    high = spec.high - step if spec.high_open else spec.high
    if Parameters.is_integer(name):
        return Slider(f"{name} ({spec.unit})", Parameters.default(name), int(low), int(high),
                      1, dtype=int)
    return Slider(f"{name} ({spec.unit})", Parameters.default(name), round(low, 12),
                  round(high, 12), step, dtype=float)


def model_params() -> dict[str, Slider]:
    """Mesa's ``model_params``: the seed, then one slider per controlled parameter."""
    controls = {"seed": Slider("seed", DEFAULT_SEED, 0, MAX_SEED, 1, dtype=int)}
    controls.update({name: control(name) for name in CONTROLLED})
    return controls


# --- drawing: pure functions of (axes, model), also usable outside the app -------------
def _months(model: KAMMarket) -> np.ndarray:
    return np.arange(1, model.steps + 1)


def _month_axis(ax: Axes, model: KAMMarket) -> None:
    # A fixed axis: the run grows into it step by step, and runs are comparable.
    ax.set_xlim(0, model.params.horizon_months)
    ax.set_xlabel("month")
    ax.grid(alpha=0.3)


def draw_alignment(ax: Axes, model: KAMMarket) -> None:
    """Each KAM's alignment per month; the ones captured now in red, with the month."""
    months = _months(model)
    alignment = model.trace.alignment[: model.steps]
    for k, kam in enumerate(model.kams):
        if kam.captured:
            loyal = np.flatnonzero(alignment[:, k] >= CAPTURED_BELOW)
            since = loyal[-1] + 1 if len(loyal) else 0  # first month of this capture
            ax.plot(months, alignment[:, k], color="tab:red", lw=1.6, zorder=3)
            ax.plot(months[since], alignment[since, k], "x", color="black", ms=6, zorder=4)
        else:
            ax.plot(months, alignment[:, k], color="tab:blue", lw=1.0, alpha=0.6)
    ax.axhline(CAPTURED_BELOW, color="black", ls="--", lw=0.8)
    ax.text(0.5, CAPTURED_BELOW - 0.02, "captured below", va="top", fontsize=8)
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("alignment (1 = employer)")
    ax.set_title("KAM alignment with the employer (red: captured, x: since)")
    _month_axis(ax, model)


def draw_captures(ax: Axes, model: KAMMarket) -> None:
    """Number of captured KAMs per month, against all KAMs."""
    n = len(model.kams)
    ax.step(_months(model), model.trace.captured[: model.steps], where="post",
            color="tab:red", lw=2)
    ax.set_ylim(-0.3, n + 0.3)
    ax.set_ylabel("captured KAMs")
    now = int(sum(kam.captured for kam in model.kams))
    ax.set_title(f"Captured KAMs: {now} of {n} now")
    _month_axis(ax, model)


def draw_price_and_margins(ax: Axes, model: KAMMarket) -> None:
    """Mean key-account price (left axis) and the key-account and supplier margins."""
    s = series(model)
    months = _months(model)
    ax.plot(months, s["key_price"], color="black", lw=2, label="key-account price")
    ax.axhline(model.initial_key_price, color="black", ls=":", lw=0.8)
    ax.set_ylabel("price (unit cost = 1)")
    ax.set_ylim(0.95, max(1.05 * model.initial_key_price, 1.3))
    right = ax.twinx()
    right.plot(months, s["key_account_margin"], color="tab:purple", label="key-account margin")
    right.plot(months, s["supplier_margin"], color="tab:green", label="supplier net margin")
    right.set_ylim(-0.1, 0.3)
    right.set_ylabel("margin (share of revenue)")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    ax.set_title("Key-account price and margins")
    _month_axis(ax, model)


def draw_time_split(ax: Axes, model: KAMMarket) -> None:
    """Mean share of KAM time on fulfilment versus negotiation, and total activity."""
    s = series(model)
    months = _months(model)
    operational = s["operational_share"]
    ax.stackplot(months, operational, 1.0 - operational, colors=["tab:orange", "tab:cyan"],
                 labels=["operational (fulfilling demands)", "commercial (negotiating)"],
                 alpha=0.8)
    ax.plot(months, s["kam_activity"] / 2.0, color="black", lw=1.5,
            label="activity (right scale)")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of KAM time")
    right = ax.secondary_yaxis("right", functions=(lambda y: 2.0 * y, lambda y: y / 2.0))
    right.set_ylabel("months worked per month")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Where KAM time goes")
    _month_axis(ax, model)


def draw_market(ax: Axes, model: KAMMarket) -> None:
    """Suppliers (bottom), their KAMs, and the key buyers (top), coloured by alignment.

    Each KAM sits above his supplier and is linked to the buyer he serves; the link's
    width is the account's volume. A supplier's colour is its KAMs' mean alignment.
    """
    n_s, n_b = len(model.suppliers), len(model.buyers)
    width = max(n_s, n_b)
    slot = width / n_s
    buyer_x = {id(b): (j + 0.5) * width / n_b for j, b in enumerate(model.buyers)}
    volume = max(a.volume for s in model.suppliers for a in s.accounts) or 1.0
    links, link_widths, kam_xy, kams, supplier_x, supplier_alignment = [], [], [], [], [], []
    for i, supplier in enumerate(model.suppliers):
        centre = (i + 0.5) * slot
        n = len(supplier.accounts)
        xs = centre + (np.arange(n) - (n - 1) / 2) * slot / (n + 1)
        for x, account in zip(xs, supplier.accounts, strict=True):
            links += [[(x, 1.0), (buyer_x[id(account.buyer)], 2.0)], [(centre, 0.0), (x, 1.0)]]
            link_widths += [0.5 + 4.0 * account.volume / volume, 0.8]
            kam_xy.append((x, 1.0))
            kams.append(account.kam)
        supplier_x.append(centre)
        supplier_alignment.append(np.mean([a.kam.alignment for a in supplier.accounts]))
        ax.text(centre, -0.3, f"supplier {i + 1}", ha="center", va="top", fontsize=8)
    ax.add_collection(LineCollection(links, linewidths=link_widths, colors="grey", alpha=0.5,
                                     zorder=1))
    norm = Normalize(0.0, 1.0)
    x, y = np.array(kam_xy).T
    ax.scatter(x, y, s=140, c=[k.alignment for k in kams], cmap=ALIGNMENT_CMAP, norm=norm,
               edgecolors="black", linewidths=[2.5 if k.captured else 0.5 for k in kams],
               zorder=3)
    ax.scatter(supplier_x, np.zeros(n_s), s=420, marker="s", c=supplier_alignment,
               cmap=ALIGNMENT_CMAP, norm=norm, edgecolors="black", zorder=3)
    ax.scatter(list(buyer_x.values()), np.full(n_b, 2.0), s=420, marker="D",
               color="lightgrey", edgecolors="black", zorder=3)
    for j, bx in enumerate(buyer_x.values()):
        ax.text(bx, 2.3, f"key buyer {j + 1}", ha="center", va="bottom", fontsize=8)
    ax.text(-0.1, 1.0, "KAMs", ha="right", va="center", fontsize=8)
    ax.set_xlim(-0.6, width + 0.1)
    ax.set_ylim(-0.7, 2.7)
    ax.axis("off")
    ax.set_title("The market, coloured by alignment (thick ring: captured)")
    bar = ax.figure.colorbar(ScalarMappable(norm, ALIGNMENT_CMAP), ax=ax, fraction=0.04,
                             pad=0.02)
    bar.set_label("alignment")


# --- the page's components --------------------------------------------------------------
def _chart(draw: Any, css_class: str) -> Any:
    """A Mesa page component drawing ``draw(ax, model)``, redrawn after every step."""

    @solara.component
    def Chart(model: KAMMarket) -> None:
        update_counter.get()
        fig = Figure(figsize=FIGSIZE)
        # Fixed margins: a layout engine would double the drawing time of every step.
        fig.subplots_adjust(left=0.11, right=0.88, bottom=0.13, top=0.91)
        draw(fig.add_subplot(), model)
        with solara.Column(classes=[css_class]):
            solara.FigureMatplotlib(fig, format="png",
                                    dependencies=[model, update_counter.value])

    Chart.__name__ = f"Chart_{draw.__name__}"
    return Chart


#: Show every slider's value, not only while it is dragged (students compare settings).
SLIDER_CSS = """
.v-slider__thumb-label-container { display: block !important; }
"""


@solara.component
def Status(model: KAMMarket) -> None:
    """Month of the run, the live pressure control and what each slider means."""
    update_counter.get()
    spec = Parameters.spec("kam_pressure")

    def set_pressure(value: float) -> None:
        model.kam_pressure = value

    solara.Style(SLIDER_CSS)
    with solara.Column(classes=["kamabm-status"],
                       style={"height": "100%", "overflow-y": "auto"}):
        captured = sum(k.captured for k in model.kams)
        solara.Text(f"Month {model.steps} of {model.params.horizon_months}: "
                    f"{captured} of {len(model.kams)} KAMs captured, "
                    f"pressure now {model.kam_pressure:g}",
                    classes=["kamabm-month"], style={"font-weight": "bold"})
        solara.SliderFloat("kam_pressure now (from the next step, no reset)",
                           value=model.kam_pressure, on_value=set_pressure, min=spec.low,
                           max=spec.high, step=slider_step("kam_pressure"))
        solara.HTML(tag="div", unsafe_innerHTML=controls_help(model.params))


def controls_help(params: Parameters) -> str:
    """An HTML table of the sidebar's parameters: this run's value, range, meaning."""
    rows = "".join(
        f"<tr><td><code>{name}</code></td><td>{getattr(params, name):g}</td>"
        f"<td>{spec.range_text()}&nbsp;{html.escape(spec.unit)}</td>"
        f"<td>{html.escape(spec.meaning)}</td></tr>"
        for name, spec in ((n, Parameters.spec(n)) for n in CONTROLLED))
    return ('<table style="font-size: 75%; text-align: left"><tr><th>control</th>'
            f"<th>this run</th><th>range</th><th>meaning</th></tr>{rows}</table>")


COMPONENTS = [
    _chart(draw_alignment, "kamabm-alignment"),
    _chart(draw_captures, "kamabm-captures"),
    _chart(draw_price_and_margins, "kamabm-price"),
    _chart(draw_time_split, "kamabm-time"),
    _chart(draw_market, "kamabm-market"),
    Status,
]



@solara.component
def Page() -> None:
    """The whole page; each browser session gets its own model."""
    model = solara.use_memo(AppMarket, [])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(),
              name="KAM capture explorer")
