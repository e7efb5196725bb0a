"""Charts of the model guide's patterns read off single runs: P6 and P9.

* **P6, the loyalty discount**: each buyer's more satisfied suppliers charge it less;
  price against satisfaction, each relative to the buyer's mean, pooled over runs.
* **P9, the whale curve** (Kaplan & Narayanan 2001): a supplier's customers ranked by
  profit, cumulative profit against the share of customers, key accounts marked; the
  largest customers sit at both ends.

Each chart draws the table it is given, as ``kamabm patterns`` built it from its runs
(:func:`kamabm.cli.patterns.pattern_tables`), and writes that table as its CSV; it runs
no model and fits nothing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kamabm.model.params import LAST_YEAR
from kamabm.report.charts.base import Chart, figure, save, title
from kamabm.report.charts.palette import CAPTURED, LOYAL, PRICE


def loyalty_discount(data: pd.DataFrame, setting: str, out: Path) -> Chart:
    """P6: key-account price against the buyer's satisfaction, relative to the buyer.

    Args:
        data: one row per key account and run, with the least-squares line of price on
            satisfaction (``fitted_price_vs_buyer_mean``).
        setting: the runs' setting, for the caption.
        out: the folder for the chart's files.

    """
    fig, axes = figure(6.0, 4.2)
    ax = axes[0, 0]
    for captured, colour, marker, name in ((False, LOYAL, "o", "loyal KAM"),
                                           (True, CAPTURED, "^", "captured KAM")):
        part = data[data.captured_kam == captured]
        ax.scatter(part.satisfaction_vs_buyer_mean, 100 * part.price_vs_buyer_mean, s=12,
                   color=colour, marker=marker, alpha=0.6, label=name, edgecolors="none")
    line = data.sort_values("satisfaction_vs_buyer_mean")
    x, fitted = line.satisfaction_vs_buyer_mean, line.fitted_price_vs_buyer_mean
    ax.plot(x, 100 * fitted, color=PRICE, lw=1.5, label="least-squares line")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("buyer's satisfaction with the supplier, less its mean over suppliers")
    ax.set_ylabel("price, relative to the buyer's mean (%)")
    ax.legend(frameon=False, fontsize=8)
    # the line's rise over one standard deviation of satisfaction, read off its ends
    slope = (fitted.iloc[-1] - fitted.iloc[0]) / (x.iloc[-1] - x.iloc[0])
    change = 100 * slope * data.satisfaction_vs_buyer_mean.std()
    headline = (f"Key clients pay {abs(change):.1f} % {'less' if change < 0 else 'more'} "
                "where they are one standard deviation more satisfied")
    title(fig, headline)
    files = save(fig, data, out, "loyalty_discount")
    caption = ("Each dot is one key account at the end of a run: how much more satisfied "
               "its buyer is with this supplier than with the others, and how much more or "
               "less it pays this supplier. Triangles: the account's KAM is captured. "
               + setting)
    return Chart("loyalty_discount", headline, caption, files, headline)


def whale_curve(data: pd.DataFrame, setting: str, out: Path) -> Chart:
    """P9: cumulative profit of each supplier's customers, ranked best first.

    Args:
        data: one row per customer of each supplier and run, most profitable first.
        setting: the runs' setting, for the caption.
        out: the folder for the chart's files.

    """
    fig, axes = figure(6.0, 4.2)
    ax = axes[0, 0]
    both_ends = []
    for _, curve in data.groupby(["seed", "supplier"], sort=False):
        share, cumulative = 100 * curve.customer_share, 100 * curve.cumulative_profit
        key = curve.key_account.astype(bool)
        both_ends.append(bool(key.iloc[0] and key.iloc[-1]))
        ax.plot(share, cumulative, color="grey", lw=0.6, alpha=0.5)
        ax.scatter(share[key], cumulative[key], s=14, color=CAPTURED, marker="D", zorder=3,
                   edgecolors="none")
    ax.axhline(100, color="black", ls="--", lw=0.8)
    ax.scatter([], [], s=14, color=CAPTURED, marker="D", label="key account")
    ax.set_xlabel("customers ranked by profit, most profitable first (%)")
    ax.set_ylabel("cumulative profit (% of total)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    both_share = 100 * sum(both_ends) / len(both_ends) if both_ends else 0.0
    headline = (f"Whale curve: in {both_share:.0f} % of suppliers the most and the least "
                "profitable customers are both key accounts")
    title(fig, headline)
    files = save(fig, data, out, "whale_curve")
    caption = ("Each grey line is one supplier at the end of a run (suppliers whose "
               "customers make a loss in all are left out): customers ranked by profit "
               f"over the last {LAST_YEAR} months, key accounts after their extra demands and "
               "their KAM's cost. A curve that rises above 100 % and falls back has unprofitable "
               "customers. " + setting)
    return Chart("whale_curve", headline, caption, files, headline)
