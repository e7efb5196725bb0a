"""Charts of the model guide's patterns read off single runs: P6 and P9.

* **P6, the loyalty discount**: each buyer's more satisfied suppliers charge it less;
  price against satisfaction, each relative to the buyer's mean, pooled over runs.
* **P9, the whale curve** (Kaplan & Narayanan 2001): a supplier's customers ranked by
  profit, cumulative profit against the share of customers, key accounts marked; the
  largest customers sit at both ends.

The runs go through :mod:`kamabm.model.run`, the single door into the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.model.params import Parameters
from kamabm.model.run import account_table, customer_profits, finished_model, release
from kamabm.report.charts.base import Chart, figure, save, title
from kamabm.report.charts.palette import CAPTURED, LOYAL, PRICE


def _setting(params: Parameters, seeds: range) -> str:
    return (f"Key clients {100 * params.client_revenue_share:.0f} % of turnover, KAM "
            f"pressure {params.kam_pressure:g}, {params.horizon_months} months, seeds "
            f"{seeds.start} to {seeds.stop - 1}.")


def loyalty_discount(params: Parameters, seeds: range, out: Path) -> Chart:
    """P6: key-account price against the buyer's satisfaction, relative to the buyer."""
    rows = []
    for seed in seeds:
        model = finished_model(params, seed)
        table = pd.DataFrame(account_table(model))
        release(model)
        for _, accounts in table.groupby("buyer"):
            rows.append(pd.DataFrame({
                "seed": seed,
                "satisfaction_vs_buyer_mean": accounts.satisfaction - accounts.satisfaction.mean(),
                "price_vs_buyer_mean": accounts.price / accounts.price.mean() - 1.0,
                "captured_kam": accounts.alignment < 0.5}))
    data = pd.concat(rows, ignore_index=True)
    fig, axes = figure(6.0, 4.2)
    ax = axes[0, 0]
    for captured, colour, marker, name in ((False, LOYAL, "o", "loyal KAM"),
                                           (True, CAPTURED, "^", "captured KAM")):
        part = data[data.captured_kam == captured]
        ax.scatter(part.satisfaction_vs_buyer_mean, 100 * part.price_vs_buyer_mean, s=12,
                   color=colour, marker=marker, alpha=0.6, label=name, edgecolors="none")
    slope, intercept = np.polyfit(data.satisfaction_vs_buyer_mean, data.price_vs_buyer_mean, 1)
    x = np.linspace(data.satisfaction_vs_buyer_mean.min(), data.satisfaction_vs_buyer_mean.max())
    ax.plot(x, 100 * (intercept + slope * x), color=PRICE, lw=1.5, label="least-squares line")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("buyer's satisfaction with the supplier, less its mean over suppliers")
    ax.set_ylabel("price, relative to the buyer's mean (%)")
    ax.legend(frameon=False, fontsize=8)
    change = 100 * slope * data.satisfaction_vs_buyer_mean.std()
    headline = (f"Key clients pay {abs(change):.1f} % {'less' if change < 0 else 'more'} "
                "where they are one standard deviation more satisfied")
    title(fig, headline)
    files = save(fig, data, out, "loyalty_discount")
    caption = ("Each dot is one key account at the end of a run: how much more satisfied "
               "its buyer is with this supplier than with the others, and how much more or "
               "less it pays this supplier. Triangles: the account's KAM is captured. "
               + _setting(params, seeds))
    return Chart("loyalty_discount", headline, caption, files, headline)


def whale_curve(params: Parameters, seeds: range, out: Path) -> Chart:
    """P9: cumulative profit of each supplier's customers, ranked best first."""
    fig, axes = figure(6.0, 4.2)
    ax = axes[0, 0]
    rows = []
    both_ends = []
    for seed in seeds:
        model = finished_model(params, seed)
        curves = customer_profits(model)
        release(model)
        for supplier, (profits, is_key) in enumerate(curves):
            total = profits.sum()
            if total <= 0.0:
                continue
            cumulative = np.cumsum(profits) / total
            share = np.arange(1, len(profits) + 1) / len(profits)
            both_ends.append(bool(is_key[0] and is_key[-1]))
            ax.plot(100 * share, 100 * cumulative, color="grey", lw=0.6, alpha=0.5)
            ax.scatter(100 * share[is_key], 100 * cumulative[is_key], s=14, color=CAPTURED,
                       marker="D", zorder=3, edgecolors="none")
            rows.append(pd.DataFrame({"seed": seed, "supplier": supplier,
                                      "customer_share": share, "cumulative_profit": cumulative,
                                      "key_account": is_key}))
    ax.axhline(100, color="black", ls="--", lw=0.8)
    ax.scatter([], [], s=14, color=CAPTURED, marker="D", label="key account")
    ax.set_xlabel("customers ranked by profit, most profitable first (%)")
    ax.set_ylabel("cumulative profit (% of total)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    data = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    both_share = 100 * float(np.mean(both_ends)) if both_ends else 0.0
    headline = (f"Whale curve: in {both_share:.0f} % of suppliers the most and the least "
                "profitable customers are both key accounts")
    title(fig, headline)
    files = save(fig, data, out, "whale_curve")
    caption = ("Each grey line is one supplier at the end of a run (suppliers whose "
               "customers make a loss in all are left out): customers ranked by profit "
               "over the last 12 months, key accounts after their extra demands and their "
               "KAM's cost. A curve that rises above 100 % and falls back has unprofitable "
               "customers. " + _setting(params, seeds))
    return Chart("whale_curve", headline, caption, files, headline)
