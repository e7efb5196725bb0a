"""Management levers: each lever against the status quo, and margin erosion by source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.results import INTERVENTIONS
from kamabm.analysis.tables import INTERVENTION_OUTCOMES, Analysis
from kamabm.names import CAPTURE_RATE, fmt, human, known, label, value_text
from kamabm.report.charts.base import Chart, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURED, EROSION_COLOURS, LOYAL
from kamabm.stats import EROSION


def interventions(an: Analysis, out: Path) -> Chart:
    """Each lever against the status quo: paired differences with 95 % intervals."""
    assert an.interventions is not None  # computed for every sweep this chart is planned for
    table = an.interventions.table
    outcomes = [o for o in INTERVENTION_OUTCOMES if o in set(table.outcome)]
    treatments = list(dict.fromkeys(table.treatment))
    fig, axes = figure(4.0 * len(outcomes) + 1.5, 0.42 * len(treatments) + 1.8,
                       ncols=len(outcomes), sharey=True)
    y = np.arange(len(treatments))[::-1]
    for ax, name in zip(axes[0], outcomes, strict=True):
        part = table[table.outcome == name].set_index("treatment").loc[treatments]
        good = part["diff"] < 0 if name == CAPTURE_RATE else part["diff"] > 0
        sig = (part["low"] > 0) | (part["high"] < 0)
        colours = [LOYAL if g and s else CAPTURED if s else "grey"
                   for g, s in zip(good, sig, strict=True)]
        ax.errorbar(100 * part["diff"], y, xerr=[100 * (part["diff"] - part["low"]),
                                                 100 * (part["high"] - part["diff"])],
                    fmt="none", ecolor="black", elinewidth=1, capsize=2)
        ax.scatter(100 * part["diff"], y, c=colours, s=30, zorder=3)
        ax.axvline(0, color="grey", lw=0.8)
        control = 100 * part["control_mean"].iloc[0]
        ax.set_xlabel(f"change in {human(name)} (points of %)\n"
                      f"(status quo {control:.1f} %)")
    value = table.groupby("treatment", sort=False)["treated_value"].first()
    ticks = [setting_name(t) if np.isnan(value[t]) else f"{human(t)}: {value_text(t, value[t])}"
             for t in treatments]
    axes[0, 0].set_yticks(y, ticks, fontsize=8)
    cap = table[table.outcome == CAPTURE_RATE].set_index("treatment")
    single = cap.drop(index="all levers", errors="ignore")
    finding = intervention_finding(single)
    title(fig, finding)
    files = save(fig, table, out, "interventions")
    caption = ("Each lever switched on alone (and all together), minus the status quo, run "
               "by run on the same seeds (common random numbers); dots are mean paired "
               "differences, bars 95 % t intervals over the pairs; blue: better, vermillion: "
               "worse, grey: not significant. " + setting(an.results))
    return Chart("interventions", finding, caption, files, finding)


def setting_name(treatment: str) -> str:
    """A treatment in plain words: a lever by its label; "status quo", "all levers" as is."""
    return human(treatment) if known(treatment) else treatment


def intervention_finding(capture: pd.DataFrame) -> str:
    """Which lever cuts capture most against the status quo; levers that tie, named so.

    Args:
        capture: the capture rows of the intervention table, one per single lever,
            indexed by treatment.

    """
    status_quo = 100 * capture["control_mean"].iloc[0]
    points = (100 * capture["diff"]).round()
    best = points.min()
    helps = capture[capture["high"] < 0]
    tail = f"; {len(helps)} of {len(capture)} levers cut it significantly"
    head = f"Against the status quo ({status_quo:.0f} % of KAMs captured), "
    if best >= 0:
        return head + "no lever cuts capture" + tail
    leaders = [human(t) for t in points.index[points == best]]
    if len(leaders) > 1:
        return (head + f"{' and '.join(leaders)} tie for the largest cut in capture "
                f"({best:+.0f} points)" + tail)
    return head + f"{leaders[0]} cuts capture most ({best:+.0f} points)" + tail


def erosion(an: Analysis, out: Path) -> Chart:
    """Stacked bars of margin erosion by source (price, demands, resources) per group."""
    table = an.erosion
    assert table is not None  # computed for every sweep this chart is planned for
    by = "treatment" if an.kind == INTERVENTIONS else an.factors[1]
    ticks = ([setting_name(t) for t in table[by]] if by == "treatment"
             else [fmt(v) for v in table[by]])
    fig, axes = figure(max(6.0, 0.45 * len(table) + 3), 4.6)
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
    top = max(share, key=share.__getitem__)
    name = worst[by]
    where = (setting_name(name) if by == "treatment"
             else f"{human(by)} {value_text(by, name)}")
    finding = (f"Erosion peaks at {100 * worst['total']:.1f} % of revenue ({where}); "
               f"{EROSION[top]} make {100 * share[top]:.0f} % of it, extra demands "
               f"{100 * share['erosion_demands']:.0f} % and diverted resources "
               f"{100 * share['erosion_resources']:.0f} %")
    title(fig, finding)
    files = save(fig, table, out, "erosion")
    caption = ("Margin lost over the run, as a share of revenue, split by source: price "
               "concessions (the initial price less the price paid, times volume), extra "
               "demands granted to key clients, and SMB margin lost with clients who left "
               "because captured KAMs drained the shared service pool. " + setting(an.results))
    return Chart("erosion", finding, caption, files, finding)
