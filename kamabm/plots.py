"""Charts of a sweep's results: the capture phase diagram, margins, erosion, interventions.

``kamabm plot RESULTS_DIR`` reads a results folder written by ``kamabm sweep`` and draws
the charts its experiment calls for (:func:`plan`), each as PNG (300 dpi) and SVG with a
CSV beside it holding exactly the numbers plotted:

- two swept factors on a grid: the capture phase diagram (mean capture rate with the
  capture boundary and its bootstrap band), supplier and key-account margin heat maps on
  the same axes, margin against the first factor with confidence bands, margin against
  capture, and margin erosion by source;
- several management levers: each lever against the status quo, paired on common random
  numbers, and margin erosion by lever;
- a scheduled change of pressure (``pressure_change_month``): the hysteresis loop;
- always: two typical runs over time from the same design point, one captured and one
  not, repeated from their stored seeds.

Every title states a finding computed from the data. Colours are Okabe-Ito and
viridis/cividis, which colour-blind readers can tell apart. Apart from re-running the two
typical runs from their seeds, nothing here runs the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis import (
    ABOVE,
    BELOW,
    EROSION,
    INSIDE,
    capture_boundary,
    erosion_attribution,
    hysteresis_branches,
    hysteresis_gap,
    margin_gap,
    one_at_a_time,
    paired_differences,
    sobol_indices,
    summarise,
)
from kamabm.charts import ACTIVITY, CAPTURED, LOYAL, MARGIN, OPERATIONAL, PRICE
from kamabm.experiment import Experiment, ExperimentError, parse_experiment
from kamabm.params import LEVER, Parameters
from kamabm.store import MANIFEST, StoreError, load_results

#: Okabe-Ito colours for categorical series, in the order lines are drawn.
SEQUENCE = (LOYAL, CAPTURED, MARGIN, OPERATIONAL, ACTIVITY, PRICE, "#CC79A7")
#: Colours of the erosion sources, in the order of :data:`kamabm.analysis.EROSION`.
EROSION_COLOURS = (CAPTURED, OPERATIONAL, ACTIVITY)
#: Sequential, colour-blind-safe colour maps for capture and for margins.
CAPTURE_CMAP, MARGIN_CMAP = "viridis", "cividis"
#: Outcomes whose margins are charted, with their axis labels.
MARGINS = {"supplier_margin": "supplier net margin (% of revenue)",
           "key_account_margin": "key-account gross margin (% of key revenue)"}
#: Chart kinds, in the order they are drawn and shown in the report.
KINDS = ("phase_diagram", "margin_maps", "margin_by_factor", "margin_vs_capture",
         "interventions", "hysteresis", "sensitivity", "erosion", "typical_runs")
#: Outcomes decomposed in the sensitivity chart.
SENSITIVITY_OUTCOMES = ("capture_rate", "supplier_margin", "key_account_margin")
#: Most lines drawn in one panel (a readable subset of levels).
MAX_LINES = 5
DPI = 300

_LABELS = {
    "client_revenue_share": "client revenue share (share of supplier turnover)",
    "kam_pressure": "KAM pressure (index, 0 to 1)",
    "pressure_after_change": "KAM pressure after the change (index, 0 to 1)",
    "buyer_detachment": "buyer negotiator's detachment (0 owner, 1 procedure)",
    "n_suppliers": "competing suppliers (buyer's alternatives + 1)",
}


class PlotError(ValueError):
    """Results that cannot be charted as asked; the message is one line."""


@dataclass(frozen=True)
class Chart:
    """One chart written to disk.

    Attributes:
        kind: one of :data:`KINDS`.
        title: the finding the chart shows, computed from the data.
        caption: what is drawn, for readers of the report.
        files: the PNG, SVG and CSV written.

    """

    kind: str
    title: str
    caption: str
    files: tuple[Path, ...]

    @property
    def svg(self) -> Path:
        """The chart's SVG file."""
        return next(p for p in self.files if p.suffix == ".svg")

    @property
    def csv(self) -> Path:
        """The CSV of the plotted numbers."""
        return next(p for p in self.files if p.suffix == ".csv")


@dataclass(frozen=True)
class SweepResults:
    """A results folder, loaded: the successful runs, the experiment and the manifest."""

    directory: Path
    runs: pd.DataFrame
    experiment: Experiment
    manifest: dict[str, Any]
    failed: int

    @property
    def varied(self) -> tuple[str, ...]:
        """The varied parameters, uncertainties first, then levers."""
        return tuple(v.name for v in self.experiment.variables)


def label(name: str) -> str:
    """Axis label of a parameter, with its unit."""
    if name in _LABELS:
        return _LABELS[name]
    if name in Parameters.names():
        return f"{name.replace('_', ' ')} ({Parameters.spec(name).unit})"
    return name.replace("_", " ")


def _fmt(value: float) -> str:
    return f"{value:g}"


def _short(name: str) -> str:
    return name.replace("_", " ")


def _change(drop: float) -> str:
    """'falls by x points' or 'rises by x points' for a drop in percentage points."""
    return f"{'falls' if drop >= 0 else 'rises'} by {abs(drop):.1f} points"


# --- loading and planning -----------------------------------------------------------------
def load(directory: str | Path) -> SweepResults:
    """Load a results folder written by ``kamabm sweep``.

    Raises:
        PlotError: the folder is missing, holds no results or manifest, or no run
            succeeded.

    """
    directory = Path(directory)
    if not directory.is_dir():
        raise PlotError(f"{directory}: no such results folder")
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        experiment = parse_experiment(manifest["experiment"]["text"])
        runs = load_results(directory)
    except FileNotFoundError:
        raise PlotError(f"{directory}: not a results folder (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PlotError(f"{directory / MANIFEST}: unreadable ({exc})") from None
    except (StoreError, ExperimentError) as exc:
        raise PlotError(str(exc)) from None
    except Exception as exc:  # a damaged parquet file: pyarrow raises its own errors
        raise PlotError(f"{directory}: results unreadable ({type(exc).__name__}: {exc})"
                        ) from None
    ok = runs[runs["status"] == "ok"].reset_index(drop=True) if "status" in runs else runs
    if ok.empty:
        raise PlotError(f"{directory}: no successful runs to plot")
    return SweepResults(directory, ok, experiment, manifest, len(runs) - len(ok))


def grid_pair(res: SweepResults) -> tuple[str, str] | None:
    """The two varied parameters of a two-factor grid (first along, second across)."""
    exp = res.experiment
    if exp.design.method != "grid" or len(exp.variables) != 2:
        return None
    if any(v.values is None or len(v.values) < 2 for v in exp.variables):
        return None
    return exp.variables[0].name, exp.variables[1].name


def is_hysteresis(res: SweepResults) -> bool:
    """Whether runs switch pressure part-way and the sweep varies both pressures."""
    return (res.experiment.base.pressure_change_month > 0
            and {"kam_pressure", "pressure_after_change"} <= set(res.varied))


def swept_levers(res: SweepResults) -> list[str]:
    """The varied parameters that are management levers."""
    return [n for n in res.varied if n in Parameters.names()
            and Parameters.spec(n).group == LEVER]


def plan(res: SweepResults) -> list[str]:
    """The chart kinds (from :data:`KINDS`) this experiment's results call for."""
    columns = set(res.runs.columns)
    if "capture_rate" not in columns:
        raise PlotError(f"{res.directory}: results hold no capture_rate; sweep with it kept")
    kinds: list[str] = []
    margins = [m for m in MARGINS if m in columns]
    if is_hysteresis(res):
        kinds.append("hysteresis")
    elif res.experiment.design.method == "sobol":
        kinds.append("sensitivity")
    elif len(swept_levers(res)) >= 2 and not grid_pair(res):
        kinds += ["interventions"]
        if set(EROSION) <= columns:
            kinds.append("erosion")
    elif grid_pair(res):
        kinds.append("phase_diagram")
        if margins:
            kinds += ["margin_maps", "margin_by_factor", "margin_vs_capture"]
        if set(EROSION) <= columns:
            kinds.append("erosion")
    kinds.append("typical_runs")
    return [k for k in KINDS if k in kinds]


# --- drawing helpers ----------------------------------------------------------------------
def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw: Any):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig: Any, table: pd.DataFrame, out: Path, name: str) -> tuple[Path, ...]:
    import matplotlib

    stem = out / name
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.6g")
    with matplotlib.rc_context({"svg.hashsalt": "kamabm", "svg.fonttype": "path"}):
        fig.savefig(stem.with_suffix(".png"), dpi=DPI)
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
    return stem.with_suffix(".png"), stem.with_suffix(".svg"), stem.with_suffix(".csv")


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted grid values (midpoints, half a step beyond the ends)."""
    v = np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2.0
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _title(fig: Any, finding: str, subtitle: str) -> None:
    import textwrap

    width = int(fig.get_figwidth() * 11.5)
    text = "\n".join([textwrap.fill(finding, width),
                      textwrap.fill(subtitle, int(width * 1.15))])
    fig.suptitle(text, fontsize=9.5)


def _subset(levels: Sequence[float], k: int = MAX_LINES) -> list[float]:
    levels = sorted(levels)
    if len(levels) <= k:
        return list(levels)
    idx = np.unique(np.round(np.linspace(0, len(levels) - 1, k)).astype(int))
    return [levels[i] for i in idx]


def _setting(res: SweepResults) -> str:
    """The fixed settings that differ from the defaults, for subtitles."""
    base = res.experiment.base.as_dict()
    shown = [f"{k} = {_fmt(v)}" for k, v in base.items()
             if k not in res.varied and v != Parameters.default(k)]
    reps = res.experiment.replications
    return (f"{res.experiment.name}: {len(res.runs)} runs, {reps} replications per point"
            + (f"; {', '.join(shown)}" if shown else ""))


# --- boundary -----------------------------------------------------------------------------
def boundary(res: SweepResults, along: str, across: str, *, n_boot: int = 500,
             seed: int = 0) -> tuple[pd.DataFrame, int]:
    """The capture boundary along ``along`` at every level of ``across``, either direction.

    :func:`kamabm.analysis.capture_boundary` assumes capture rises along the factor; when
    it falls (e.g. with learning ability) the factor is mirrored, the boundary estimated,
    and mirrored back, so ``low <= critical <= high`` still holds.

    Returns:
        The boundary table and the direction (+1 capture rises along ``along``, -1 falls).

    """
    runs = res.runs
    rho = runs[[along, "capture_rate"]].corr(method="spearman").iloc[0, 1]
    direction = -1 if np.isfinite(rho) and rho < 0 else 1
    if direction == 1:
        return capture_boundary(runs, along=along, across=across, n_boot=n_boot,
                                seed=seed), 1
    mirrored = runs.assign(**{along: -runs[along]})
    table = capture_boundary(mirrored, along=along, across=across, n_boot=n_boot, seed=seed)
    table["critical"], table["low"], table["high"] = (
        -table["critical"], -table["high"], -table["low"])
    table["status"] = table["status"].map({ABOVE: BELOW, BELOW: ABOVE, INSIDE: INSIDE})
    return table, -1


def outside_levels(table: pd.DataFrame, direction: int) -> tuple[list[float], list[float]]:
    """Levels where capture stays under 50 % at every swept value, and where it is over.

    Args:
        table: a boundary table from :func:`boundary`.
        direction: its direction (+1 capture rises along the factor, -1 falls).

    Returns:
        ``(never, always)``: the levels of each kind, sorted.

    """
    never = ABOVE if direction == 1 else BELOW
    always = BELOW if direction == 1 else ABOVE
    return (sorted(table.loc[table.status == never, "level"]),
            sorted(table.loc[table.status == always, "level"]))


def levels_text(levels: Sequence[float], every: Sequence[float]) -> str:
    """Name a set of levels briefly: "0.6 or less", "0.4 or more", or a list."""
    every = sorted(every)
    k = len(levels)
    if k and list(levels) == every[:k] and k < len(every):
        return f"{_fmt(levels[-1])} or less"
    if k and list(levels) == every[-k:] and k < len(every):
        return f"{_fmt(levels[0])} or more"
    return ", ".join(_fmt(v) for v in levels)


def _boundary_sentence(table: pd.DataFrame, along: str, across: str, direction: int) -> str:
    inside = table[table.status == INSIDE]
    word = "above" if direction == 1 else "below"
    never, always = outside_levels(table, direction)
    if inside.empty:
        if len(never) == len(table):
            return "Capture probability stays under 50 % everywhere in the swept range"
        if len(always) == len(table):
            return "Most KAMs are captured everywhere in the swept range"
        return "Capture probability crosses 50 % outside the swept range"
    first, last = inside.iloc[0], inside.iloc[-1]
    text = (f"Most KAMs are captured {word} {_short(along)} {first.critical:.2f} at "
            f"{_short(across)} {_fmt(first.level)}")
    if len(inside) > 1:
        text += f", {word} {last.critical:.2f} at {_fmt(last.level)}"
    if never:
        text += (f"; at {_short(across)} {levels_text(never, table.level)}, at no "
                 f"{_short(along)} swept")
    return text


# --- the charts ---------------------------------------------------------------------------
def _heat(ax: Any, fig: Any, grid: pd.DataFrame, cmap: str, bar_label: str,
          scale: float = 100.0) -> None:
    x, y = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    mesh = ax.pcolormesh(_edges(x), _edges(y), scale * grid.to_numpy(float), cmap=cmap,
                         shading="flat", rasterized=False)
    fig.colorbar(mesh, ax=ax, label=bar_label)


def phase_diagram(res: SweepResults, out: Path, along: str, across: str,
                  table: pd.DataFrame, direction: int) -> Chart:
    """Heat map of mean capture rate with the capture boundary and its bootstrap band."""
    runs = res.runs
    grid = runs.pivot_table(index=across, columns=along, values="capture_rate",
                            aggfunc="mean")
    fig, axes = _figure(7.0, 5.6)
    ax = axes[0, 0]
    _heat(ax, fig, grid, CAPTURE_CMAP, "KAMs captured at the end (% of KAMs, mean)")
    xe = _edges(grid.columns.to_numpy(float))
    inside = table[table.status == INSIDE]
    if not inside.empty:
        lo = inside.low.clip(xe[0], xe[-1])
        hi = inside.high.clip(xe[0], xe[-1])
        ax.fill_betweenx(inside.level, lo, hi, color="white", alpha=0.35, lw=0,
                         label="95 % bootstrap band")
        ax.plot(inside.critical, inside.level, color="white", lw=2.0, marker="o", ms=4,
                mec="black", mew=0.6, label="capture boundary (50 % captured)")
        ax.legend(loc="upper left" if direction == 1 else "upper right", fontsize=8,
                  framealpha=0.8)
    ax.set_xlabel(label(along))
    ax.set_ylabel(label(across))
    ax.set_xlim(xe[0], xe[-1])
    finding = _boundary_sentence(table, along, across, direction)
    _title(fig, finding, _setting(res))
    long = grid.stack().rename("capture_rate_mean").reset_index()
    csv = long.merge(table.rename(columns={"level": across}), on=across, how="left")
    csv = csv.rename(columns={"critical": "boundary", "low": "boundary_low",
                              "high": "boundary_high", "status": "boundary_status",
                              "n_runs": "runs_at_level"})
    files = _save(fig, csv, out, "phase_diagram")
    caption = (f"Mean share of KAMs captured at the end of the run at every ({along}, "
               f"{across}) point; the white line is the capture boundary, where the "
               "isotonic fit of capture on " + along + " crosses 50 %, and the shaded band "
               "its 95 % bootstrap interval over replications.")
    return Chart("phase_diagram", finding, caption, files)


def margin_maps(res: SweepResults, out: Path, along: str, across: str,
                table: pd.DataFrame) -> Chart:
    """Heat maps of supplier and key-account margin on the phase diagram's axes."""
    runs = res.runs
    margins = [m for m in MARGINS if m in runs]
    fig, axes = _figure(6.0 * len(margins), 5.0, ncols=len(margins))
    frames = []
    inside = table[table.status == INSIDE]
    for ax, name in zip(axes[0], margins, strict=True):
        grid = runs.pivot_table(index=across, columns=along, values=name, aggfunc="mean")
        _heat(ax, fig, grid, MARGIN_CMAP, MARGINS[name].replace("(", "(mean, ", 1))
        if not inside.empty:
            ax.plot(inside.critical, inside.level, color="white", lw=1.6, ls="--",
                    label="capture boundary")
            ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
        ax.set_xlabel(label(along))
        ax.set_ylabel(label(across))
        frames.append(grid.stack().rename(f"{name}_mean"))
        cells = grid.stack()
        top, low = cells.idxmax(), cells.idxmin()
        ax.set_title(f"{MARGINS[name].split(' (')[0]}: {100 * cells.max():.1f} % at "
                     f"({_fmt(top[1])}, {_fmt(top[0])}) to {100 * cells.min():.1f} % at "
                     f"({_fmt(low[1])}, {_fmt(low[0])})", fontsize=8.5)
    capture = runs.pivot_table(index=across, columns=along, values="capture_rate",
                               aggfunc="mean").stack()
    key = "supplier_margin" if "supplier_margin" in margins else margins[0]
    cells = runs.pivot_table(index=across, columns=along, values=key, aggfunc="mean").stack()
    worst, best = cells.idxmin(), cells.idxmax()
    finding = (f"The lowest {MARGINS[key].split(' (')[0]} falls where "
               f"{100 * capture[worst]:.0f} % of KAMs are captured; the highest where "
               f"{100 * capture[best]:.0f} % are")
    _title(fig, finding, _setting(res))
    files = _save(fig, pd.concat(frames, axis=1).reset_index(), out, "margin_maps")
    caption = ("Mean supplier net margin (after cost to serve and granted demands, over the "
               "whole run) and key-account gross margin (last 12 months) at every design "
               "point, on the axes of the phase diagram; dashed: the capture boundary.")
    return Chart("margin_maps", finding, caption, files)


def margin_by_factor(res: SweepResults, out: Path, along: str, across: str) -> Chart:
    """Margins against the first factor with 95 % confidence bands, one line per level."""
    runs = res.runs
    margins = [m for m in MARGINS if m in runs]
    levels = _subset(runs[across].unique())
    fig, axes = _figure(5.2 * len(margins), 4.6, ncols=len(margins))
    rows = []
    for ax, name in zip(axes[0], margins, strict=True):
        table = summarise(runs[runs[across].isin(levels)], name, [across, along])
        for colour, level in zip(SEQUENCE, levels, strict=False):
            line = table[table[across] == level]
            ax.fill_between(line[along], 100 * line["low"], 100 * line["high"],
                            color=colour, alpha=0.2, lw=0)
            ax.plot(line[along], 100 * line["mean"], color=colour, marker="o", ms=3,
                    label=f"{across} {_fmt(level)}")
        ax.set_xlabel(label(along))
        ax.set_ylabel(MARGINS[name])
        ax.legend(fontsize=8, frameon=False)
        rows.append(table.assign(outcome=name))
    csv = pd.concat(rows, ignore_index=True)
    key = margins[0]
    first = csv[(csv.outcome == key)]
    drops = {}
    for level in (levels[0], levels[-1]):
        line = first[first[across] == level].sort_values(along)
        drops[level] = 100 * (line["mean"].iloc[0] - line["mean"].iloc[-1])
    x0, x1 = first[along].min(), first[along].max()
    finding = (f"From {_short(along)} {_fmt(x0)} to {_fmt(x1)}, "
               f"{MARGINS[key].split(' (')[0]} {_change(drops[levels[-1]])} at "
               f"{_short(across)} {_fmt(levels[-1])} and {_change(drops[levels[0]])} at "
               f"{_fmt(levels[0])}")
    _title(fig, finding, _setting(res))
    files = _save(fig, csv[["outcome", across, along, "mean", "low", "high", "n"]], out,
                  "margin_by_factor")
    caption = (f"Mean margins against {along}, one line per level of {across} (a readable "
               "subset), with 95 % t intervals over replications.")
    return Chart("margin_by_factor", finding, caption, files)


def margin_vs_capture(res: SweepResults, out: Path, along: str, across: str) -> Chart:
    """Design-point means of margin against capture rate, coloured by the first factor."""
    runs = res.runs
    margins = [m for m in MARGINS if m in runs]
    means = runs.groupby([along, across])[["capture_rate", *margins]].mean().reset_index()
    fig, axes = _figure(5.2 * len(margins), 4.6, ncols=len(margins))
    for ax, name in zip(axes[0], margins, strict=True):
        points = ax.scatter(100 * means["capture_rate"], 100 * means[name], c=means[along],
                            cmap=CAPTURE_CMAP, s=16, edgecolors="none")
        ax.set_xlabel("KAMs captured at the end (% of KAMs, mean of a design point)")
        ax.set_ylabel(MARGINS[name])
    fig.colorbar(points, ax=axes[0, -1], label=label(along))
    key = "key_account_margin" if "key_account_margin" in margins else margins[0]
    gap = margin_gap(runs, key, along=along)
    if gap["levels"]:
        finding = (f"At equal {_short(along)}, {MARGINS[key].split(' (')[0]} is "
                   f"{-100 * gap['gap']:.1f} points lower in runs where most KAMs are "
                   f"captured ({100 * gap['captured']:.1f} % against "
                   f"{100 * gap['not_captured']:.1f} %)")
    else:
        finding = "No level of the swept factor holds both captured and uncaptured runs"
    _title(fig, finding, _setting(res))
    files = _save(fig, means, out, "margin_vs_capture")
    caption = ("Each dot is one design point: its mean capture rate against its mean "
               f"margins, coloured by {along}. The title compares runs with at least half "
               f"of KAMs captured with the others at the same {along}.")
    return Chart("margin_vs_capture", finding, caption, files)


def erosion(res: SweepResults, out: Path, by: str) -> Chart:
    """Stacked bars of margin erosion by source (price, demands, resources) per group."""
    runs = res.runs
    if by == "treatment":
        settings = one_at_a_time(runs, swept_levers(res))
        frames = [_select_setting(runs, s).assign(treatment=n) for n, s in settings.items()]
        table = erosion_attribution(pd.concat(frames, ignore_index=True), "treatment")
        order = list(settings)
        table = table.set_index("treatment").loc[order].reset_index()
        ticks = order
    else:
        table = erosion_attribution(runs, by)
        ticks = [_fmt(v) for v in table[by]]
    fig, axes = _figure(max(6.0, 0.45 * len(table) + 3), 4.6)
    ax = axes[0, 0]
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for colour, (column, meaning) in zip(EROSION_COLOURS, EROSION.items(), strict=True):
        values = 100 * table[column].to_numpy()
        ax.bar(x, values, bottom=bottom, color=colour, label=meaning, width=0.8)
        bottom += values
    ax.set_xticks(x, ticks, rotation=30 if by == "treatment" else 0,
                  ha="right" if by == "treatment" else "center", fontsize=8)
    ax.set_xlabel(label(by) if by != "treatment" else "setting")
    ax.set_ylabel("margin eroded (% of revenue, mean over runs)")
    ax.legend(fontsize=8, frameon=False)
    worst = table.loc[table["total"].idxmax()]
    share = {c: worst[f"share_{c}"] for c in EROSION}
    top = max(share, key=share.get)
    name = worst[by]
    where = name if by == "treatment" else f"{_short(by)} {_fmt(name)}"
    finding = (f"Erosion peaks at {100 * worst['total']:.1f} % of revenue ({where}); "
               f"{EROSION[top]} make {100 * share[top]:.0f} % of it, extra demands "
               f"{100 * share['erosion_demands']:.0f} % and diverted resources "
               f"{100 * share['erosion_resources']:.0f} %")
    _title(fig, finding, _setting(res))
    files = _save(fig, table, out, "erosion")
    caption = ("Margin lost over the run, as a share of revenue, split by source: price "
               "concessions (the initial price less the price paid, times volume), extra "
               "demands granted to key clients, and SMB margin lost with clients who left "
               "because captured KAMs drained the shared service pool.")
    return Chart("erosion", finding, caption, files)


def sensitivity_table(res: SweepResults) -> pd.DataFrame:
    """Sobol indices of each charted outcome (long format, one row per outcome and parameter)."""
    names = [v.name for v in res.experiment.variables]
    frames = [sobol_indices(res.runs, names, outcome,
                            second_order=res.experiment.design.second_order,
                            seed=res.experiment.seed).assign(outcome=outcome)
              for outcome in SENSITIVITY_OUTCOMES if outcome in res.runs]
    return pd.concat(frames, ignore_index=True)


def sensitivity(res: SweepResults, out: Path) -> Chart:
    """Bars of first-order and total Sobol indices, one panel per outcome."""
    table = sensitivity_table(res)
    outcomes = list(dict.fromkeys(table["outcome"]))
    names = [v.name for v in res.experiment.variables]
    fig, axes = _figure(3.6 * len(outcomes) + 1.5, 0.38 * len(names) + 2.2,
                        ncols=len(outcomes), sharey=True)
    first = table[table.outcome == outcomes[0]].set_index("parameter")
    order = list(first.sort_values("ST").index)  # largest total effect on top
    y = np.arange(len(order))
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = table[table.outcome == outcome].set_index("parameter").loc[order]
        ax.barh(y + 0.2, part["ST"], height=0.38, xerr=part["ST_conf"], color=LOYAL,
                label="total (with interactions)", error_kw={"lw": 0.8})
        ax.barh(y - 0.2, part["S1"], height=0.38, xerr=part["S1_conf"], color=OPERATIONAL,
                label="first order (alone)", error_kw={"lw": 0.8})
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(_short(outcome), fontsize=9)
        ax.set_xlabel("Sobol index (share of variance)")
        ax.set_yticks(y, [_short(n) for n in order], fontsize=8)
    axes[0, 0].legend(fontsize=8, frameon=False, loc="lower right")
    top = first.sort_values("ST", ascending=False)
    lead, second = top.index[0], top.index[1]
    finding = (f"{_short(lead)} has the largest total effect on {_short(outcomes[0])} "
               f"(index {top.loc[lead, 'ST']:.2f} ± {top.loc[lead, 'ST_conf']:.2f}, alone "
               f"{top.loc[lead, 'S1']:.2f}), then {_short(second)} "
               f"({top.loc[second, 'ST']:.2f} ± {top.loc[second, 'ST_conf']:.2f})")
    _title(fig, finding, _setting(res) + "; Saltelli design, 95 % bootstrap intervals")
    files = _save(fig, table, out, "sensitivity")
    caption = ("Global sensitivity (Sobol, SALib): the share of each outcome's variance "
               "over the swept ranges due to each parameter alone (first order) and with "
               "all its interactions (total). A total far above the first-order index "
               "means the parameter acts through interactions, as tipping points do.")
    return Chart("sensitivity", finding, caption, files)


def _select_setting(runs: pd.DataFrame, setting: dict[str, float]) -> pd.DataFrame:
    mask = np.ones(len(runs), dtype=bool)
    for name, value in setting.items():
        mask &= np.isclose(runs[name].to_numpy(dtype=float), value)
    return runs[mask]


#: Outcomes compared in the intervention chart, with their axis labels (points of %).
INTERVENTION_OUTCOMES = {
    "capture_rate": "KAMs captured (points of %)",
    "key_account_margin": "key-account gross margin (points of %)",
    "supplier_margin": "supplier net margin (points of %)",
}


def intervention_table(res: SweepResults) -> pd.DataFrame:
    """Paired differences of each lever (alone, and all together) against the status quo."""
    runs = res.runs
    settings = one_at_a_time(runs, swept_levers(res))
    if len(settings) < 2 or "status quo" not in settings:
        raise PlotError(f"{res.directory}: no status quo and lever settings to compare")
    tables = [paired_differences(runs, name, settings).assign(outcome=name)
              for name in INTERVENTION_OUTCOMES if name in runs]
    table = pd.concat(tables, ignore_index=True)
    table["treated_value"] = table["treatment"].map(
        lambda t: settings[t].get(t, float("nan")))
    table["setting"] = table["treatment"].map(
        lambda t: ", ".join(f"{k} = {_fmt(v)}" for k, v in settings[t].items()
                            if v != settings["status quo"][k]) or "")
    return table


def interventions(res: SweepResults, out: Path) -> Chart:
    """Each lever against the status quo: paired differences with 95 % intervals."""
    table = intervention_table(res)
    outcomes = [o for o in INTERVENTION_OUTCOMES if o in set(table.outcome)]
    treatments = list(dict.fromkeys(table.treatment))
    fig, axes = _figure(4.0 * len(outcomes) + 1.5, 0.42 * len(treatments) + 1.8,
                        ncols=len(outcomes), sharey=True)
    y = np.arange(len(treatments))[::-1]
    for ax, name in zip(axes[0], outcomes, strict=True):
        part = table[table.outcome == name].set_index("treatment").loc[treatments]
        good = part["diff"] < 0 if name == "capture_rate" else part["diff"] > 0
        sig = (part["low"] > 0) | (part["high"] < 0)
        colours = [LOYAL if g and s else CAPTURED if s else "grey"
                   for g, s in zip(good, sig, strict=True)]
        ax.errorbar(100 * part["diff"], y, xerr=[100 * (part["diff"] - part["low"]),
                                                 100 * (part["high"] - part["diff"])],
                    fmt="none", ecolor="black", elinewidth=1, capsize=2)
        ax.scatter(100 * part["diff"], y, c=colours, s=30, zorder=3)
        ax.axvline(0, color="grey", lw=0.8)
        control = 100 * part["control_mean"].iloc[0]
        ax.set_xlabel(f"change in {INTERVENTION_OUTCOMES[name]}\n"
                      f"(status quo {control:.1f} %)")
    value = table.groupby("treatment", sort=False)["treated_value"].first()
    ticks = [t if np.isnan(value[t]) else f"{t} = {_fmt(value[t])}" for t in treatments]
    axes[0, 0].set_yticks(y, ticks, fontsize=8)
    cap = table[table.outcome == "capture_rate"].set_index("treatment")
    single = cap.drop(index="all levers", errors="ignore")
    best = single["diff"].idxmin()
    helps = single[single["high"] < 0]
    finding = (f"Against the status quo ({100 * single['control_mean'].iloc[0]:.0f} % of KAMs "
               f"captured), {best} cuts capture most ({100 * single.loc[best, 'diff']:+.0f} "
               f"points); {len(helps)} of {len(single)} levers cut it significantly")
    _title(fig, finding, _setting(res) + "; paired on common random numbers, 95 % t "
           "intervals; blue: better, vermillion: worse, grey: not significant")
    files = _save(fig, table, out, "interventions")
    caption = ("Each lever switched on alone (and all together), minus the status quo, run "
               "by run on the same seeds (common random numbers); dots are mean paired "
               "differences, bars 95 % t intervals over the pairs.")
    return Chart("interventions", finding, caption, files)


def hysteresis(res: SweepResults, out: Path) -> Chart:
    """Capture at the end against the final pressure, pressure raised vs lowered."""
    runs = res.runs
    branches = hysteresis_branches(runs)
    gaps = hysteresis_gap(branches)
    month = res.experiment.base.pressure_change_month
    start_lo, start_hi = runs["kam_pressure"].min(), runs["kam_pressure"].max()
    fig, axes = _figure(6.4, 4.8)
    ax = axes[0, 0]
    names = {"up": f"pressure raised from {_fmt(start_lo)}",
             "down": f"pressure lowered from {_fmt(start_hi)}"}
    for branch, colour in (("up", LOYAL), ("down", CAPTURED)):
        line = branches[branches.branch == branch]
        ax.fill_between(line.level, 100 * line["low"], 100 * line["high"], color=colour,
                        alpha=0.2, lw=0)
        ax.plot(line.level, 100 * line["mean"], color=colour, marker="o", ms=3,
                label=f"{names[branch]} (after month {month})")
        mid = len(line) // 2
        if 0 < mid < len(line):
            x0, x1 = line.level.iloc[mid - 1], line.level.iloc[mid]
            y0, y1 = 100 * line["mean"].iloc[mid - 1], 100 * line["mean"].iloc[mid]
            a, b = ((x0, y0), (x1, y1)) if branch == "up" else ((x1, y1), (x0, y0))
            ax.annotate("", xy=b, xytext=a,
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.5})
    ax.set_xlabel(label("pressure_after_change"))
    ax.set_ylabel("KAMs captured at the end (% of KAMs)")
    ax.set_ylim(-3, 103)
    ax.legend(fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 0.12))
    widest = gaps.loc[gaps["gap"].idxmax()]
    horizon = res.experiment.base.horizon_months
    finding = (f"Lowered to {_fmt(widest.level)} after {month} months at "
               f"{_fmt(start_hi)}, pressure leaves {100 * widest.down:.0f} % of KAMs "
               f"captured at month {horizon}; raised to it from {_fmt(start_lo)}, "
               f"{100 * widest.up:.0f} %")
    _title(fig, finding, _setting(res))
    csv = branches.merge(gaps[["level", "gap"]], on="level", how="left")
    files = _save(fig, csv, out, "hysteresis")
    caption = (f"Runs start at pressure {_fmt(start_lo)} (rising branch) or {_fmt(start_hi)} "
               f"(falling branch) and switch to the pressure on the x axis after month "
               f"{month}; mean capture at the end with 95 % t intervals. The gap between the "
               "branches is hysteresis: the same pressure, a different history.")
    return Chart("hysteresis", finding, caption, files)


# --- typical runs -------------------------------------------------------------------------
def pick_typical(runs: pd.DataFrame, threshold: float = 0.5) -> tuple[pd.Series, pd.Series]:
    """A captured and an uncaptured run, from the same design point when one holds both.

    Among the points holding both kinds, the one whose replications differ most in capture
    rate is chosen (ties: mean capture nearest one half), and its least and most captured
    runs are returned; failing such a point, the runs with the lowest and highest capture
    rate overall.

    Returns:
        ``(uncaptured row, captured row)`` of ``runs``.

    """
    captured = runs["capture_rate"] >= threshold
    stats = runs.assign(_c=captured).groupby("point").agg(
        any=("_c", "any"), all=("_c", "all"), mean=("capture_rate", "mean"),
        spread=("capture_rate", lambda c: c.max() - c.min()))
    mixed = stats[stats["any"] & ~stats["all"]]
    if not mixed.empty:
        # the widest contrast between replications, then the point nearest one half
        mixed = mixed.assign(_d=(mixed["mean"] - 0.5).abs())
        point = mixed.sort_values(["spread", "_d"], ascending=[False, True]).index[0]
        group = runs[runs["point"] == point].sort_values(["capture_rate", "replication"])
        low = group.iloc[0]
        high = group[group["capture_rate"] == group["capture_rate"].max()].iloc[0]
        return low, high
    order = runs.sort_values(["capture_rate", "run"])
    return order.iloc[0], order.iloc[-1]


def typical_runs(res: SweepResults, out: Path) -> Chart:
    """Two runs over time from the same design point: one captured and one not."""
    from kamabm.charts import run_table
    from kamabm.kam import CAPTURED_BELOW
    from kamabm.model import KAMMarket
    from kamabm.run import outcomes
    from kamabm.store import run_parameters

    rows = pick_typical(res.runs)
    fig, axes = _figure(10.0, 8.0, ncols=2, nrows=3, sharex=True, sharey="row")
    frames, heads, reproduced = [], [], True
    for col, row in enumerate(rows):
        model = KAMMarket(run_parameters(row), seed=int(row["seed"])).run()
        got = outcomes(model)
        reproduced &= bool(np.isclose(got["capture_rate"], row["capture_rate"]))
        table = pd.DataFrame(run_table(model))
        kams = [c for c in table if c.endswith("_alignment")]
        months = table["month"]
        ax = axes[0, col]
        for c in kams:
            end = table[c].iloc[-1] < CAPTURED_BELOW
            ax.plot(months, table[c], color=CAPTURED if end else LOYAL, lw=1.4 if end else 0.9)
        ax.axhline(CAPTURED_BELOW, color="grey", ls="--", lw=0.8)
        n_cap = int(round(got["capture_rate"] * len(kams)))
        head = (f"replication {int(row['replication'])}: {n_cap} of {len(kams)} KAMs "
                f"captured, key-account margin {100 * got['key_account_margin']:.1f} %")
        ax.set_title(head, fontsize=9)
        heads.append((n_cap, len(kams), got["key_account_margin"]))
        ax = axes[1, col]
        ax.plot(months, table["key_price"], color=PRICE, label="key-account price")
        twin = ax.twinx()
        twin.plot(months, 100 * table["key_account_margin"], color=MARGIN,
                  label="key-account gross margin (%)")
        twin.set_ylim(0, max(5.0, 100 * table["key_account_margin"].max() * 1.15))
        if col == 1:
            twin.set_ylabel("gross margin (%)", color=MARGIN)
        else:
            lines = ax.get_lines() + twin.get_lines()
            ax.legend(lines, [line.get_label() for line in lines], fontsize=7,
                      frameon=False, loc="lower left")
        ax = axes[2, col]
        ax.plot(months, 100 * table["operational_share"], color=OPERATIONAL,
                label="operational share of KAM time")
        ax.plot(months, 100 * table["kam_activity"], color=ACTIVITY,
                label="KAM activity (100 = full time)")
        ax.set_xlabel("month")
        frames.append(table.assign(run="captured" if col else "not captured",
                                   seed=int(row["seed"])))
    axes[0, 0].set_ylabel("alignment with employer\n(1 loyal, 0 captured)")
    axes[1, 0].set_ylabel("price (unit cost = 1)")
    axes[2, 0].set_ylabel("% of a month")
    axes[2, 0].legend(fontsize=7, frameon=False, loc="center right")
    varied = {k: rows[0][k] for k in res.varied}
    where = ", ".join(f"{k} = {_fmt(v)}" for k, v in varied.items()) or "the base setting"
    same = all(np.isclose(rows[0][k], rows[1][k]) for k in res.varied)
    (c0, n0, m0), (c1, n1, m1) = heads
    finding = (f"{'Same setting' if same else 'Two settings'}, two seeds: {c1} of {n1} KAMs "
               f"captured and key-account margin {100 * m1:.1f} %, against {c0} of {n0} and "
               f"{100 * m0:.1f} %")
    note = "" if reproduced else ("; NOTE: the re-run does not reproduce the stored "
                                  "capture rate (the code changed since the sweep)")
    _title(fig, finding, f"{res.experiment.name}, {where}" if same else res.experiment.name)
    if note:
        fig.text(0.5, 0.0, note.strip("; "), ha="center", va="bottom", fontsize=8,
                 color=CAPTURED)
    cols = ["run", "seed"] + [c for c in frames[0] if c not in ("run", "seed")]
    files = _save(fig, pd.concat(frames, ignore_index=True)[cols], out, "typical_runs")
    caption = ("Two runs repeated from their stored seeds, month by month: each KAM's "
               "alignment (vermillion: captured at the end), the key-account price and "
               "gross margin, and how KAM time splits (operational share and total "
               "activity)." + note)
    return Chart("typical_runs", finding, caption, files)


# --- everything ---------------------------------------------------------------------------
def summary_table(res: SweepResults) -> pd.DataFrame:
    """Per design point: the varied values, the number of runs and mean outcomes."""
    keys = list(res.varied) or ["point"]
    names = [c for c in ("capture_rate", "key_account_margin", "supplier_margin",
                         "operational_share", "client_satisfaction", "deadlock_rate",
                         *EROSION) if c in res.runs]
    grouped = res.runs.groupby(keys, sort=True)
    table = grouped[names].mean()
    table.insert(0, "n_runs", grouped.size())
    table["capture_rate_sd"] = grouped["capture_rate"].std()
    return table.reset_index()


def make_charts(res: SweepResults, out: str | Path, *, n_boot: int = 500, seed: int = 0,
                typical: bool = True) -> list[Chart]:
    """Draw every chart :func:`plan` calls for into ``out``; also write the summary tables.

    Besides the charts, ``summary.csv`` (per design point means, :func:`summary_table`)
    and, with a phase diagram, ``boundary.csv`` are written to ``out``.

    Args:
        res: loaded results (:func:`load`).
        out: folder for the files (created if missing).
        n_boot: bootstrap resamples for the capture boundary.
        seed: seed of the bootstrap.
        typical: whether to re-run and draw two typical runs.

    Returns:
        The charts, in the order of :data:`KINDS`.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kinds = plan(res)
    summary_table(res).to_csv(out / "summary.csv", index=False, float_format="%.6g")
    charts: list[Chart] = []
    pair = grid_pair(res)
    table = direction = None
    if pair and "phase_diagram" in kinds:
        table, direction = boundary(res, *pair, n_boot=n_boot, seed=seed)
        table.to_csv(out / "boundary.csv", index=False, float_format="%.6g")
    for kind in kinds:
        if kind == "phase_diagram":
            charts.append(phase_diagram(res, out, *pair, table, direction))
        elif kind == "margin_maps":
            charts.append(margin_maps(res, out, *pair, table))
        elif kind == "margin_by_factor":
            charts.append(margin_by_factor(res, out, *pair))
        elif kind == "margin_vs_capture":
            charts.append(margin_vs_capture(res, out, *pair))
        elif kind == "interventions":
            charts.append(interventions(res, out))
        elif kind == "hysteresis":
            charts.append(hysteresis(res, out))
        elif kind == "sensitivity":
            charts.append(sensitivity(res, out))
        elif kind == "erosion":
            charts.append(erosion(res, out, pair[1] if pair else "treatment"))
        elif kind == "typical_runs" and typical:
            charts.append(typical_runs(res, out))
    return charts
