"""Change over time: the hysteresis loop, and two typical runs month by month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.tables import Analysis
from kamabm.names import (
    CAPTURE_RATE,
    KEY_MARGIN,
    PRESSURE,
    PRESSURE_AFTER,
    fmt,
    label,
    setting_text,
)
from kamabm.report.charts.base import Chart, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURED, LOYAL
from kamabm.report.charts.single_run import (
    draw_alignment,
    draw_price_margin,
    draw_time_split,
    kam_alignments,
)


def hysteresis(an: Analysis, out: Path) -> Chart:
    """Capture at the end against the final pressure, pressure raised vs lowered."""
    res = an.results
    runs = res.runs
    assert an.hysteresis is not None  # computed for every sweep this chart is planned for
    branches, gaps = an.hysteresis
    month = res.experiment.base.pressure_change_month
    start_lo, start_hi = runs[PRESSURE].min(), runs[PRESSURE].max()
    fig, axes = figure(6.4, 4.8)
    ax = axes[0, 0]
    names = {"up": f"pressure raised from {fmt(start_lo)}",
             "down": f"pressure lowered from {fmt(start_hi)}"}
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
    ax.set_xlabel(label(PRESSURE_AFTER))
    ax.set_ylabel("KAMs captured at the end (% of KAMs)")
    ax.set_ylim(-3, 103)
    ax.legend(fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 0.12))
    widest = gaps.loc[gaps["gap"].idxmax()]
    horizon = res.experiment.base.horizon_months
    finding = (f"Lowered to {fmt(widest.level)} after {month} months at "
               f"{fmt(start_hi)}, pressure leaves {100 * widest.down:.0f} % of KAMs "
               f"captured at month {horizon}; raised to it from {fmt(start_lo)}, "
               f"{100 * widest.up:.0f} %")
    title(fig, finding)
    csv = branches.merge(gaps[["level", "gap"]], on="level", how="left")
    files = save(fig, csv, out, "hysteresis")
    caption = (f"Runs start at pressure {fmt(start_lo)} (rising branch) or {fmt(start_hi)} "
               f"(falling branch) and switch to the pressure on the x axis after month "
               f"{month}; mean capture at the end with 95 % t intervals. The gap between the "
               "branches is hysteresis: the same pressure, a different history. "
               + setting(res))
    return Chart("hysteresis", finding, caption, files, finding)


def typical_runs(an: Analysis, out: Path) -> Chart:
    """Two runs over time from the same design point: one captured and one not.

    The runs are those the sweep kept month by month when it completed
    (:mod:`kamabm.experiments.typical`), drawn as stored. The panels are those of ``kamabm
    run`` (:mod:`kamabm.report.charts.single_run`), side by side, with the margin axes on
    one scale.
    """
    res = an.results
    typical = an.typical
    assert typical is not None  # read for every sweep this chart is planned for
    rows = typical.rows
    fig, axes = figure(10.0, 8.0, ncols=2, nrows=3, sharex=True, sharey="row")
    frames, heads, twins = [], [], []
    for col, (row, table, got) in enumerate(zip(rows, typical.tables, typical.outcomes,
                                                strict=True)):
        left = col == 0
        draw_alignment(axes[0, col], table, legend=left, ylabel=left)
        n_kams = len(kam_alignments(table))
        n_cap = int(round(got[CAPTURE_RATE] * n_kams))
        head = (f"replication {int(row['replication'])}: {n_cap} of {n_kams} KAMs "
                f"captured, key-account margin {100 * got[KEY_MARGIN]:.1f} %")
        axes[0, col].set_title(head, fontsize=9)
        heads.append((n_cap, n_kams, got[KEY_MARGIN]))
        twins.append(draw_price_margin(axes[1, col], table, legend=left, ylabel=left,
                                       margin_label=not left))
        draw_time_split(axes[2, col], table, legend=left, ylabel=left)
        frames.append(table.assign(run="captured" if col else "not captured",
                                   seed=int(row["seed"])))
    top = max(100 * float(t[KEY_MARGIN].max()) for t in typical.tables)
    for twin in twins:  # both runs' margins on one scale, from zero
        twin.set_ylim(0, max(5.0, top * 1.15))
    varied = {k: rows[0][k] for k in res.varied}
    where = setting_text(varied) if varied else "the base setting"
    same = all(np.isclose(rows[0][k], rows[1][k]) for k in res.varied)
    (c0, n0, m0), (c1, n1, m1) = heads
    if (c0, n0) == (c1, n1):  # a tie is named as one
        finding = (f"{'Same setting' if same else 'Two settings'}, two seeds: both end with "
                   f"{c1} of {n1} KAMs captured; key-account margin {100 * m1:.1f} % and "
                   f"{100 * m0:.1f} %")
    else:
        finding = (f"{'Same setting' if same else 'Two settings'}, two seeds: {c1} of {n1} "
                   f"KAMs captured and key-account margin {100 * m1:.1f} %, against {c0} of "
                   f"{n0} and {100 * m0:.1f} %")
    note = "" if typical.reproduced else ("; NOTE: repeated from its seed when the sweep "
                                          "ended, a run did not reproduce its stored capture "
                                          "rate")
    title(fig, finding)
    if note:
        fig.text(0.5, 0.0, note.strip("; "), ha="center", va="bottom", fontsize=8,
                 color=CAPTURED)
    cols = ["run", "seed"] + [c for c in frames[0] if c not in ("run", "seed")]
    files = save(fig, pd.concat(frames, ignore_index=True)[cols], out, "typical_runs")
    caption = ("Two runs of the sweep, month by month, as kept when it ended: each KAM's "
               "alignment (vermillion: captured at the end), the key-account price and "
               "gross margin, and how KAM time splits (operational share and total "
               "activity). " + (f"Both runs at {where}. " if same else "") + setting(res)
               + (f" {note.strip('; ')}." if note else ""))
    return Chart("typical_runs", finding, caption, files, finding)
