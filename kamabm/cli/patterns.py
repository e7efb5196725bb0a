"""The ``kamabm patterns`` command: charts of the patterns read off single runs (P6, P9).

Runs the model at one setting for several seeds (through :mod:`kamabm.model.run`), builds
the tables of plotted numbers, with P6's least-squares line (:func:`pattern_tables`), and
has :mod:`kamabm.report.charts.patterns` draw them into a folder, each chart with its table
as CSV. The chart module only draws the tables it is given. The charts are written
together or not at all: a folder that cannot be written, or a disk that fills up, is one
line and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.cli.common import EXIT_OK, EXIT_USAGE, add_set_argument, fail, unwritable
from kamabm.cli.outputs import cannot_write, in_target, staged
from kamabm.model.params import CAPTURED_BELOW, ParameterError, Parameters

COMMAND = "patterns"
DEFAULT_OUT = Path("results") / "patterns"


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``patterns`` sub-command to the ``kamabm`` parser."""
    parser = commands.add_parser(
        "patterns", help="charts of patterns P6 (loyalty discount) and P9 (whale curve)",
        description="Run the model at one setting for several seeds and draw the loyalty-"
                    "discount (P6) and whale-curve (P9) charts.")
    add_set_argument(parser, "a parameter value (default: client_revenue_share=0.6, "
                     "kam_pressure=0.6)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1 (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the charts (default {DEFAULT_OUT})")
    return parser


def pattern_tables(params: Parameters, seeds: range) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the model once per seed and read both patterns off each finished run.

    Returns:
        ``(loyalty, whale)``. P6, ``loyalty``: one row per key account and seed, ``seed``,
        ``satisfaction_vs_buyer_mean`` (the buyer's satisfaction with this supplier less
        its mean over its suppliers), ``price_vs_buyer_mean`` (the price relative to the
        buyer's mean price, less one), ``captured_kam`` and ``fitted_price_vs_buyer_mean``
        (the least-squares line of price on satisfaction over all rows). P9, ``whale``:
        one row per customer of each supplier and seed, most profitable first, ``seed``,
        ``supplier``, ``customer_share`` (its rank as a share of the customers),
        ``cumulative_profit`` (share of the total) and ``key_account``; suppliers whose
        customers make a loss in all are left out.

    """
    from kamabm.model.run import account_table, customer_profits, finished_model, release

    accounts_rows, customer_rows = [], []
    for seed in seeds:
        model = finished_model(params, seed)
        table = pd.DataFrame(account_table(model))
        curves = customer_profits(model)
        release(model)
        for _, accounts in table.groupby("buyer"):
            accounts_rows.append(pd.DataFrame({
                "seed": seed,
                "satisfaction_vs_buyer_mean": accounts.satisfaction - accounts.satisfaction.mean(),
                "price_vs_buyer_mean": accounts.price / accounts.price.mean() - 1.0,
                "captured_kam": accounts.alignment < CAPTURED_BELOW}))
        for supplier, (profits, is_key) in enumerate(curves):
            total = profits.sum()
            if total <= 0.0:
                continue
            customer_rows.append(pd.DataFrame({
                "seed": seed, "supplier": supplier,
                "customer_share": np.arange(1, len(profits) + 1) / len(profits),
                "cumulative_profit": np.cumsum(profits) / total, "key_account": is_key}))
    loyalty = pd.concat(accounts_rows, ignore_index=True)
    x = loyalty.satisfaction_vs_buyer_mean
    slope, intercept = np.polyfit(x, loyalty.price_vs_buyer_mean, 1)
    loyalty["fitted_price_vs_buyer_mean"] = intercept + slope * x
    whale = (pd.concat(customer_rows, ignore_index=True) if customer_rows else pd.DataFrame(
        columns=["seed", "supplier", "customer_share", "cumulative_profit", "key_account"]))
    return loyalty, whale


def setting_text(params: Parameters, seeds: range) -> str:
    """The runs' setting, for the charts' captions."""
    return (f"Key clients {100 * params.client_revenue_share:.0f} % of turnover, KAM "
            f"pressure {params.kam_pressure:g}, {params.horizon_months} months, seeds "
            f"{seeds.start} to {seeds.stop - 1}.")


def run(args: argparse.Namespace) -> int:
    """Run ``kamabm patterns``; return the exit status."""
    if not 1 <= args.seeds <= 10_000:
        return fail(COMMAND, f"--seeds = {args.seeds}: allowed 1 to 10000")
    try:
        params = Parameters(client_revenue_share=0.6, kam_pressure=0.6).with_assignments(
            args.set)
    except ParameterError as exc:
        return fail(COMMAND, str(exc))
    out = args.out
    problem = unwritable(out, option="--out")
    if problem:
        return fail(COMMAND, problem)
    from kamabm.report.charts import patterns

    seeds = range(args.seeds)
    setting = setting_text(params, seeds)
    loyalty, whale = pattern_tables(params, seeds)
    try:
        with staged(out) as tmp:  # both charts with their tables, or nothing
            charts = [patterns.loyalty_discount(loyalty, setting, tmp),
                      patterns.whale_curve(whale, setting, tmp)]
            shown = [(in_target(chart.png, tmp, out), chart.title) for chart in charts]
    except OSError as exc:
        return fail(COMMAND, cannot_write(exc, out), EXIT_USAGE)
    for png, title in shown:
        print(f"{png}: {title}")
    return EXIT_OK
