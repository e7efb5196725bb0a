"""Charts of a client diagnosis: capture risk, margin at risk, options, timeline, map.

Each function draws one table of a :class:`kamabm.diagnosis.diagnose.Diagnosis` (it computes
nothing), writes the PNG, SVG and the CSV of the plotted numbers, and returns the
:class:`~kamabm.report.charts.base.Chart` with a short title stating what it shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kamabm.diagnosis.diagnose import Diagnosis, option_doses
from kamabm.diagnosis.words import dose_text, lever_name, money_text
from kamabm.report.charts.base import Chart, edges, figure, save, title
from kamabm.report.charts.palette import CAPTURE_CMAP, CAPTURED, LOYAL, SEQUENCE

__all__ = ["capture_map", "capture_risk", "diagnosis_charts", "levers", "margin_at_risk",
           "timeline"]

#: Grey of effects whose interval spans zero.
UNCLEAR = "#777777"


def _err(mid: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error bar lengths below and above ``mid`` (0 where an interval misses the point)."""
    return np.maximum(0.0, np.vstack([mid - low, high - mid]))


def _account_labels(diag: Diagnosis) -> list[str]:
    return [f"{a.name}\n({a.kind}, {100 * a.share:.0f} % of turnover)"
            for a in diag.client.accounts]


def _setting(diag: Diagnosis) -> str:
    c = diag.client
    sets = diag.constants
    how = (f"{len(sets.sets)} constant sets drawn from the calibration x "
           f"{c.replications} runs" if sets.mode == "posterior"
           else f"{c.runs_per_option} runs at the default constants")
    return (f"{c.name}; {how} of the client's market ({c.suppliers} suppliers), "
            f"{c.horizon_years} years, master seed {c.seed}.")


def _band(diag: Diagnosis) -> str:
    return ("middle 90 % of the constant sets" if diag.constants.spread
            else "95 % interval over runs")


def capture_risk(diag: Diagnosis, out: Path) -> Chart:
    """Share of runs in which each account's KAM is captured, at each year read."""
    table = diag.capture_risk
    names = [a.name for a in diag.client.accounts]
    years = list(diag.read_years)
    fig, axes = figure(7.5, 0.8 * len(names) + 1.8)
    ax = axes[0, 0]
    y = np.arange(len(names))[::-1].astype(float)
    width = 0.6 / max(1, len(years))
    for k, year in enumerate(years):
        part = table[table.year == year].set_index("account").loc[names]
        offset = (k - (len(years) - 1) / 2) * width
        value = 100 * part["captured"].to_numpy(float)
        ax.errorbar(value, y - offset,
                    xerr=_err(value, 100 * part["low"].to_numpy(float),
                              100 * part["high"].to_numpy(float)),
                    fmt="o", color=SEQUENCE[k % len(SEQUENCE)], ecolor="black", elinewidth=0.8,
                    capsize=2, label=f"after {year} year{'s' if year > 1 else ''}")
    ax.set_yticks(y, _account_labels(diag), fontsize=8)
    ax.set_xlim(-2, 102)
    ax.set_xlabel(f"runs in which the account's KAM is captured (%; bars: {_band(diag)})")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    last = table[table.year == years[-1]].sort_values("captured", ascending=False,
                                                      kind="stable")
    top = last.iloc[0]
    if top["captured"] > 0:
        finding = (f"After {years[-1]} years the KAM of {top['account']} is captured in "
                   f"{100 * top['captured']:.0f} % of runs")
    else:
        finding = f"No key account's KAM is captured within {years[-1]} years in any run"
    title(fig, finding)
    files = save(fig, table, out, "capture_risk")
    caption = ("Dots: the share of runs in which the KAM in charge of the account (whoever "
               "holds it that month) is captured, i.e. his loyalty to the client firm is "
               f"below the midpoint; bars: the band ({_band(diag)}). " + _setting(diag))
    return Chart("capture_risk", finding, caption, files, finding)


def margin_at_risk(diag: Diagnosis, out: Path) -> Chart:
    """Money a year that capture puts at risk on each account, with its interval."""
    table = diag.margin_at_risk
    currency = diag.client.currency
    fig, axes = figure(7.5, 0.8 * len(table) + 1.8)
    ax = axes[0, 0]
    y = np.arange(len(table))[::-1].astype(float)
    value = table["at_risk"].to_numpy(float) / 1000
    known = np.isfinite(value)
    ax.barh(y[known], value[known], color=CAPTURED, height=0.5)
    ax.errorbar(value[known], y[known],
                xerr=_err(value[known], table["low"].to_numpy(float)[known] / 1000,
                          table["high"].to_numpy(float)[known] / 1000),
                fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    for yy in y[~known]:
        ax.text(0, yy, "  every run captured: no loyal run to compare", va="center",
                fontsize=8)
    never = known & (table["capture_at_horizon"].to_numpy(float) == 0)
    for yy in y[never]:
        ax.text(0, yy, "  no capture in any run", va="center", fontsize=8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, _account_labels(diag), fontsize=8)
    ax.set_xlabel(f"margin at risk ({currency + ' ' if currency else ''}thousand a year; "
                  f"bars: {_band(diag)})")
    total = float(np.nansum(table["at_risk"].to_numpy(float)))
    if known.any() and total > 0:
        top = table.loc[table["at_risk"].idxmax()]
        finding = (f"Capture puts {money_text(total, currency)} a year at risk, "
                   f"{money_text(top['at_risk'], currency)} of it at {top['account']}")
    elif known.any():
        finding = "Capture puts no margin at risk on any key account in these runs"
    else:
        finding = "Margin at risk cannot be estimated: every run ends captured"
    title(fig, finding)
    files = save(fig, table, out, "margin_at_risk")
    caption = ("Margin at risk: the probability that the account's KAM is captured at the "
               "horizon times the gap between the account's profit over the last year in "
               "runs where he stays loyal and in runs where he is captured, in the client's "
               f"money; bars: the band ({_band(diag)}). " + _setting(diag))
    return Chart("margin_at_risk", finding, caption, files, finding)


def levers(diag: Diagnosis, out: Path) -> Chart | None:
    """Each lever not in place against the status quo: capture and net profit, ranked."""
    table = diag.levers
    if table.empty:
        return None
    currency = diag.client.currency
    fig, axes = figure(10.0, 0.5 * len(table) + 2.0, ncols=2, sharey=True)
    y = np.arange(len(table))[::-1].astype(float)
    panels = (("capture", 100.0, "change in the share of key accounts\nwhose KAM is "
               "captured (points)", True),
              ("net", 1e-3, f"change in profit ({currency + ' ' if currency else ''}"
               "thousand a year),\nnet of the lever's cost", False))
    for ax, (name, scale, xlabel, lower_better) in zip(axes[0], panels, strict=True):
        mid = scale * table[name].to_numpy(float)
        low = scale * table[f"{name}_low"].to_numpy(float)
        high = scale * table[f"{name}_high"].to_numpy(float)
        good = mid < 0 if lower_better else mid > 0
        sure = (low > 0) | (high < 0)
        colours = [LOYAL if g and s else CAPTURED if s else UNCLEAR
                   for g, s in zip(good, sure, strict=True)]
        ax.errorbar(mid, y, xerr=_err(mid, low, high), fmt="none", ecolor="black",
                    elinewidth=0.8, capsize=2)
        ax.scatter(mid, y, c=colours, s=32, zorder=3, label="net of the lever's cost"
                   if name == "net" else None)
        if name == "net":
            gross = scale * table["gross"].to_numpy(float)
            ax.scatter(gross, y, facecolors="none", edgecolors="black", s=32, zorder=3,
                       label="before its cost")
            ax.legend(fontsize=8, frameon=False, loc="best")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(xlabel, fontsize=9)
    doses = option_doses(diag.client)
    ticks = ["\n+ ".join(f"{lever_name(p)} ({dose_text(p, doses[p])})"
                         for p in r.lever.split(" + ")) for r in table.itertuples()]
    axes[0, 0].set_yticks(y, ticks, fontsize=8)
    finding = levers_finding(diag)
    title(fig, finding)
    files = save(fig, table, out, "levers")
    caption = ("Each option (a lever the client does not use yet at a standard dose, lower "
               "pressure, the best pair, the client's combination) minus the status quo, "
               "run by run on the same seeds and constants; dots: mean paired differences, "
               f"bars: the band ({_band(diag)}); blue better, vermillion worse, grey not "
               "clear. "
               "Profit is the client's, a year over the horizon, after every cost its books "
               "carry, the lever's included; hollow circles: the change before the lever's "
               "people and acquisition costs. " + _setting(diag))
    return Chart("levers", finding, caption, files, finding)


def levers_finding(diag: Diagnosis) -> str:
    """The best lever by net profit, and how many levers do not pay, in one line."""
    table = diag.levers
    currency = diag.client.currency
    best = table.iloc[0]
    fails = int((table["verdict"] != "pays").sum())
    name = lever_name(best.lever)
    head = (f"{name[:1].upper() + name[1:]} adds "
            f"{money_text(best.net, currency, sign=True)} a year net of its cost"
            if best.net > 0 else "No lever adds profit net of its cost")
    tail = (f"; {fails} of {len(table)} options are not shown to pay" if fails
            else "; every option tested pays")
    return head + tail


def capture_map(diag: Diagnosis, out: Path) -> Chart:
    """Capture over key accounts' share x pressure, with the client's position marked."""
    table = diag.capture_map
    grid = table.pivot(index="pressure", columns="key_share", values="capture")
    x, y = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    fig, axes = figure(7.5, 4.8)
    ax = axes[0, 0]
    mesh = ax.pcolormesh(100 * edges(x), edges(y), 100 * grid.to_numpy(float),
                         cmap=CAPTURE_CMAP, vmin=0, vmax=100, shading="flat")
    fig.colorbar(mesh, ax=ax, label="key accounts whose KAM is captured (%)")
    client = diag.client
    here_x, here_y = 100 * client.key_share, client.pressure
    ax.plot([here_x], [here_y], marker="*", markersize=16, color="white",
            markeredgecolor="black", linestyle="none")
    ax.annotate("you are here", (here_x, here_y), xytext=(8, 8), textcoords="offset points",
                fontsize=9, color="black",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xlabel("key accounts' share of turnover (%)")
    ax.set_ylabel("sales pressure on the client's KAMs (0 to 1)")
    years = diag.map_months / 12
    finding = map_finding(diag)
    title(fig, finding)
    plotted = table.assign(here_key_share=client.key_share, here_pressure=client.pressure)
    files = save(fig, plotted, out, "capture_map")
    rivals = ("rivals at the client's present pressure" if client.rival_pressure is None
              else f"rivals at their pressure {client.rival_pressure:g}")
    caption = (f"Share of the client's key accounts whose KAM is captured after "
               f"{years:g} years, mean of {client.map_replications} runs at each point (the "
               f"same seeds everywhere); the key accounts' shares scaled in proportion, "
               f"{rivals}, every other setting the client's. The star marks the client's "
               f"present position. " + _setting(diag))
    return Chart("capture_map", finding, caption, files, finding)


def map_finding(diag: Diagnosis) -> str:
    """Capture at the client's share of turnover, from no pressure to full pressure."""
    table = diag.capture_map
    shares = np.array(sorted(set(table.key_share)))
    nearest = shares[np.argmin(np.abs(shares - diag.client.key_share))]
    column = table[table.key_share == nearest].sort_values("pressure")
    low, high = column.iloc[0], column.iloc[-1]
    return (f"At key accounts' share {100 * nearest:.0f} %, capture after "
            f"{diag.map_months / 12:g} years goes from {100 * low.capture:.0f} % at pressure "
            f"{low.pressure:g} to {100 * high.capture:.0f} % at {high.pressure:g}")


def timeline(diag: Diagnosis, out: Path) -> Chart | None:
    """The status quo and the best option year by year: profit and capture."""
    table = diag.timeline
    if table.empty:
        return None
    currency = diag.client.currency
    best = lever_name(str(table.option.iloc[0]))
    fig, axes = figure(10.0, 3.6, ncols=2)
    years = table.year.to_numpy(float)
    for name, colour, label in (("sq", CAPTURED, "status quo"), ("best", LOYAL, best)):
        mid = table[f"profit_{name}"].to_numpy(float) / 1000
        axes[0, 0].plot(years, mid, marker="o", color=colour, label=label)
        axes[0, 0].fill_between(years, table[f"profit_{name}_low"].to_numpy(float) / 1000,
                                table[f"profit_{name}_high"].to_numpy(float) / 1000,
                                color=colour, alpha=0.15, lw=0)
        axes[0, 1].plot(years, 100 * table[f"capture_{name}"].to_numpy(float), marker="o",
                        color=colour, label=label)
    axes[0, 0].set_ylabel(f"profit ({currency + ' ' if currency else ''}thousand a year)")
    axes[0, 1].set_ylabel("key accounts with a captured KAM (%)")
    for ax in axes[0]:
        ax.set_xlabel("year")
        ax.set_xticks(years)
    axes[0, 0].legend(fontsize=8, frameon=False)
    finding = (f"{best[:1].upper() + best[1:]} pays back in year {diag.payback_year}"
               if diag.payback_year else f"{best[:1].upper() + best[1:]} does not pay back "
               "within the horizon")
    title(fig, finding)
    files = save(fig, table, out, "timeline")
    caption = (f"Year by year, the status quo and the best option: the client's profit (mean, "
               f"shaded: {_band(diag)}) and the share of its key accounts in captured KAMs' "
               "hands at each year's end. " + _setting(diag))
    return Chart("timeline", finding, caption, files, finding)


def diagnosis_charts(diag: Diagnosis, out: Path) -> list[Chart]:
    """Every chart of the diagnosis, written to ``out``, in the report's order."""
    out.mkdir(parents=True, exist_ok=True)
    charts = [capture_risk(diag, out), margin_at_risk(diag, out)]
    for extra in (levers(diag, out), timeline(diag, out)):
        if extra is not None:
            charts.append(extra)
    charts.append(capture_map(diag, out))
    return charts

