"""Charts of what results rest on: knock-outs, co-capture, dose-response of levers.

Each function draws a table from :mod:`kamabm.analysis.mechanisms` (nothing is computed here but
the title's numbers) and writes PNG, SVG and the CSV of the plotted numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.mechanisms import MECHANISM_NAMES, best_dose, share_effects
from kamabm.names import CAPTURE_RATE, CLIENT_SHARE, SUPPLIER_MARGIN, human, value_text
from kamabm.report.charts.base import Chart, figure, save, title
from kamabm.report.charts.palette import CAPTURED, LOYAL, SEQUENCE


def knockouts(table: pd.DataFrame, out: Path, setting: str) -> Chart:
    """Capture at each client share with all mechanisms on, each off, and all off."""
    capture = table[table.outcome == CAPTURE_RATE]
    names = list(dict.fromkeys(capture.variant))
    levels = sorted(capture[CLIENT_SHARE].unique())
    fig, axes = figure(8.0, 0.5 * len(names) + 1.6)
    ax = axes[0, 0]
    height = 0.8 / len(levels)
    for j, level in enumerate(levels):
        rows = capture[capture[CLIENT_SHARE] == level].set_index("variant").reindex(names)
        y = np.arange(len(names)) + (j - (len(levels) - 1) / 2) * height
        mean = 100 * rows["mean"].to_numpy(float)
        err = 100 * np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]])
        ax.barh(y, mean, height, xerr=np.clip(err, 0, None), color=SEQUENCE[j % 7],
                label=f"{human(CLIENT_SHARE)} {value_text(CLIENT_SHARE, level)}", capsize=2)
    ax.set_yticks(np.arange(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 105)
    ax.set_xlabel("KAMs captured (%)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    effects = share_effects(table)
    full = effects.set_index("variant")["share_effect"].get("all on", float("nan"))
    combined = ["all on", "all off", "no dependence mechanism"]
    carried = effects[~effects.variant.isin(combined)].copy()
    carried["lost"] = full - carried["share_effect"]
    top = carried.sort_values("lost", ascending=False).iloc[0]
    share = human(CLIENT_SHARE)
    headline = (f"{share[0].upper() + share[1:]} moves capture by {100 * full:.0f} points; "
                f"without {top.variant[3:]} it moves it by {100 * top.share_effect:.0f}")
    title(fig, headline)
    files = save(fig, table, out, "knockouts")
    caption = ("Share of KAMs captured at each key-client share, with every mechanism on "
               "(the defaults), with one mechanism switched off, and with all off; bars "
               "are means over replications with 95 % t intervals. The share effect is "
               "capture at the largest share less capture at the smallest. " + setting)
    return Chart("knockouts", headline, caption, files, headline)


def co_capture(table: pd.DataFrame, out: Path, setting: str) -> Chart:
    """Excess co-capture within a supplier and within a buyer, per interaction on or off."""
    shares = sorted(table[CLIENT_SHARE].unique())
    middle = shares[len(shares) // 2]
    shown = table[table[CLIENT_SHARE] == middle]
    names = list(dict.fromkeys(shown.variant))
    fig, axes = figure(7.0, 3.8)
    ax = axes[0, 0]
    for j, (measure, colour, what) in enumerate(
            (("co_capture_supplier", CAPTURED, "same supplier"),
             ("co_capture_buyer", LOYAL, "same key client"))):
        rows = shown[shown.measure == measure].set_index("variant").reindex(names)
        x = np.arange(len(names)) + (j - 0.5) * 0.38
        err = np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]])
        ax.bar(x, 100 * rows["mean"], 0.38, yerr=100 * np.clip(err, 0, None), color=colour,
               capsize=3, label=f"pairs at the {what}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set_ylabel("both captured: excess over pairs\nsharing nothing (points)")
    ax.legend(frameon=False, fontsize=8)
    supplier = shown[(shown.measure == "co_capture_supplier")].set_index("variant")["mean"]
    peers = MECHANISM_NAMES["peer_influence"]
    headline = (f"Captures cluster inside a firm: +{100 * supplier.get('all on', 0):.0f} "
                f"points for colleagues, {100 * supplier.get(f'no {peers}', 0):+.0f} "
                f"without {peers}")
    title(fig, headline)
    files = save(fig, table, out, "co_capture")
    caption = (f"At {human(CLIENT_SHARE)} {value_text(CLIENT_SHARE, middle)}: how much more "
               "often two KAMs are both captured when they work for the same supplier (on "
               "different clients), or serve the same key client (for rival suppliers), "
               "than two KAMs who share neither; 0 means independent captures. Means over "
               "replications with 95 % t intervals; 'no interaction' switches off peer "
               "influence and rival benchmarking. " + setting)
    return Chart("co_capture", headline, caption, files, headline)


def dose_response(table: pd.DataFrame, out: Path, setting: str) -> Chart:
    """Capture and supplier margin (net of the lever's cost) against each lever's level."""
    levers = list(dict.fromkeys(table.lever))
    fig, axes = figure(9.0, 3.8, ncols=2)
    for (ax, outcome, ylabel) in ((axes[0, 0], CAPTURE_RATE, "KAMs captured (%)"),
                                  (axes[0, 1], SUPPLIER_MARGIN,
                                   "supplier net margin after\nthe lever's cost (%)")):
        for k, lever in enumerate(levers):
            line = table[(table.lever == lever) & (table.outcome == outcome)]
            colour = SEQUENCE[k % 7]
            ax.fill_between(line.level, 100 * line["low"], 100 * line["high"],
                            color=colour, alpha=0.15, lw=0)
            ax.plot(line.level, 100 * line["mean"], color=colour, marker="o", ms=3,
                    label=human(lever))
        ax.set_xlabel("lever level (0 off, 1 full)")
        ax.set_ylabel(ylabel)
    axes[0, 0].legend(frameon=False, fontsize=7)
    margin = table[table.outcome == SUPPLIER_MARGIN]
    best = margin.loc[margin["mean"].idxmax()]
    headline = (f"Best single lever for the margin: {human(best.lever)} at "
                f"{value_text(best.lever, best_dose(table, best.lever))}")
    title(fig, headline)
    files = save(fig, table, out, "dose_response")
    caption = ("Each lever alone from off to full, the others off, at the experiment's "
               "setting; the supplier margin is after the lever's cost (senior time, "
               "review time and lost offers, course fees and time away). Where a margin "
               "curve peaks, more of the lever stops paying. Means with 95 % t intervals. "
               + setting)
    return Chart("dose_response", headline, caption, files, headline)
