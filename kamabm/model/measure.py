"""What a finished run measures, read from its :class:`RunRecord`.

Both engines end a run in a :class:`RunRecord` (the books, the trace and the agents' final
state as plain arrays): the Mesa model through :func:`kamabm.model.run.record_of`, the
compiled engine through :mod:`kamabm.model.engine`. The outcomes, the per-month series
and the customers' profit curves are computed here from that record, once for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kamabm.model.books import Ledger, Trace
from kamabm.model.constants import CAPTURED_BELOW, FIVE_YEARS, LAST_YEAR, MONTHS_PER_YEAR
from kamabm.model.derived import smb_unit_cost
from kamabm.model.outcomes import CAPTURE_THRESHOLDS
from kamabm.model.params import ParameterError, Parameters


@dataclass
class RunRecord:
    """A finished run as plain arrays: everything its outcomes are read from.

    KAM arrays follow the market's KAMs (supplier by supplier, buyer by buyer at the
    start); account arrays follow the accounts in the same order (supplier by supplier,
    each supplier's accounts in buyer order); supplier arrays one entry per supplier.

    Attributes:
        params: the run's parameters.
        months: months simulated.
        steady: whether the run stopped early at a steady state.
        initial_key_price: the key-account price at the start.
        ledgers: each supplier's monthly books.
        trace: the market's monthly series.
        kam_supplier: each KAM's supplier.
        kam_buyer: the buyer of the account each KAM manages at the end.
        kam_alignment: each KAM's alignment at the end.
        kam_skill: each KAM's skill at the end.
        kam_operational_share: each KAM's share of time on fulfilment in the last month.
        kam_activity: each KAM's working time in the last month.
        account_price: each account's price at the end.
        account_satisfaction: each account's buyer's satisfaction at the end.
        account_buyer: each account's buyer.
        tenders: contract tenders held, all buyers together.
        deadlocks: tenders' negotiations that ended in deadlock, all buyers together.
        smb_price: the SMB clients' price.
        smb_initial_count: each supplier's SMB clients at the start.
        smb_volumes: each supplier's SMB clients' monthly volumes at the end.
        failed_month: each supplier's month of failure (0: never).
        opening_revenue: each supplier's monthly turnover at the start.

    """

    params: Parameters
    months: int
    steady: bool
    initial_key_price: float
    ledgers: list[Ledger]
    trace: Trace
    kam_supplier: np.ndarray
    kam_buyer: np.ndarray
    kam_alignment: np.ndarray
    kam_skill: np.ndarray
    kam_operational_share: np.ndarray
    kam_activity: np.ndarray
    account_price: np.ndarray
    account_satisfaction: np.ndarray
    account_buyer: np.ndarray
    tenders: int
    deadlocks: int
    smb_price: float
    smb_initial_count: np.ndarray
    smb_volumes: list[np.ndarray]
    failed_month: np.ndarray
    opening_revenue: np.ndarray


def _mean_or_zero(values: np.ndarray) -> float:
    """Mean of ``values``, 0 when there are none (a market with one key buyer)."""
    return float(values.mean()) if len(values) else 0.0


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def co_capture(captured: np.ndarray, same: np.ndarray, other: np.ndarray) -> float:
    """How much more often a pair is both captured when it shares something.

    ``same`` and ``other`` are boolean pair matrices: pairs that share the tie studied
    (the same supplier, or the same buyer) and comparison pairs that share neither. The
    result is the share of ``same`` pairs both captured less that of ``other`` pairs: 0
    when captures are independent of the tie, positive when they cluster along it.
    """
    both = np.outer(captured, captured)
    upper = np.triu(np.ones_like(both, dtype=bool), k=1)
    same, other = same & upper, other & upper
    if not same.any() or not other.any():
        return 0.0
    return float(both[same].mean() - both[other].mean())


def _loyalty_discount(record: RunRecord) -> float:
    """Relative price gap between each buyer's less and more satisfied suppliers (P6)."""
    gaps = []
    for buyer in range(record.params.n_key_buyers):
        mine = np.flatnonzero(record.account_buyer == buyer)
        order = mine[np.argsort(record.account_satisfaction[mine], kind="stable")]
        half = len(order) // 2
        if half == 0:
            continue
        prices = record.account_price[order]
        low = np.mean(prices[:half])
        high = np.mean(prices[-half:])
        gaps.append((low - high) / np.mean(prices))
    return float(np.mean(gaps)) if gaps else 0.0


def customer_profits(record: RunRecord) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each supplier's customers' profit over the last year, sorted best first (P9).

    Customers are the key accounts (after their delivered demands and their KAM's cost)
    and the SMB clients (gross margin after cost to serve).

    Returns:
        One ``(profits, is_key)`` pair of arrays per supplier, most profitable first.

    """
    months = record.months
    first = max(0, months - LAST_YEAR)
    profit_12m = record.trace.account_profit[first:months].sum(axis=0)
    curves = []
    n = record.params.n_key_buyers
    margin = record.smb_price - smb_unit_cost(record.params)
    for k, volumes in enumerate(record.smb_volumes):
        key = profit_12m[k * n:(k + 1) * n]
        profits = np.concatenate([key, margin * volumes * (months - first)])
        is_key = np.arange(len(profits)) < n
        order = np.argsort(-profits, kind="stable")
        curves.append((profits[order], is_key[order]))
    return curves


def _whale_curve(record: RunRecord) -> tuple[float, float]:
    """Peak of the cumulative-profit curve and key accounts at both of its ends (P9)."""
    peaks, both_ends = [], []
    for profits, is_key in customer_profits(record):
        total = profits.sum()
        if total > 0.0:
            peaks.append(float(np.cumsum(profits).max() / total))
        both_ends.append(float(is_key[0] and is_key[-1]))
    return (float(np.mean(peaks)) if peaks else 0.0), float(np.mean(both_ends))


def outcomes(record: RunRecord) -> dict[str, Any]:
    """Outcomes of a finished (or stopped) run; see :data:`~kamabm.model.outcomes.OUTCOMES`."""
    months = record.months
    books = record.ledgers
    # Each ledger's revenue and profit columns, computed once.
    revenues = [b.revenue for b in books]
    profits = [b.profit for b in books]
    revenue = sum(r[:months].sum() for r in revenues)
    profit = sum(q[:months].sum() for q in profits)
    last = slice(max(0, months - LAST_YEAR), months)
    first_year = slice(0, min(months, LAST_YEAR))
    key_revenue = sum(b.key_revenue[last].sum() for b in books)
    key_cogs = sum(b.key_cogs[last].sum() for b in books)
    revenue_12m = sum(r[last].sum() for r in revenues)
    cogs_12m = key_cogs + sum(b.smb_cogs[last].sum() for b in books)
    captured = record.trace.captured[:months]
    first = np.flatnonzero(captured > 0)
    n_kams = len(record.kam_alignment)
    alignment = record.kam_alignment
    is_captured = alignment < CAPTURED_BELOW
    supplier = record.kam_supplier
    buyer = record.kam_buyer
    same_supplier = supplier[:, None] == supplier[None, :]
    same_buyer = buyer[:, None] == buyer[None, :]
    negotiations = record.tenders * record.params.n_suppliers
    smb_start = int(record.smb_initial_count.sum())
    by_kpi_month = record.trace.concessions_by_kpi_month
    kpi_months = len(by_kpi_month)
    whale_peak, whale_ends = _whale_curve(record)
    survivors = [s for s, failed in enumerate(record.failed_month) if not failed]
    years = months // MONTHS_PER_YEAR
    yearly = [q[:years * MONTHS_PER_YEAR].reshape(years, MONTHS_PER_YEAR).sum(axis=1)
              for q in profits]
    return {
        "capture_rate": float(is_captured.mean()),
        "capture_rate_5y": float(captured[min(months, FIVE_YEARS) - 1] / n_kams),
        "captured_months": float(captured.sum() / (months * n_kams)),
        **{f"capture_rate_t{round(100 * t)}": float((alignment < t).mean())
           for t in CAPTURE_THRESHOLDS},
        "co_capture_supplier": co_capture(is_captured, same_supplier & ~same_buyer,
                                          ~same_supplier & ~same_buyer),
        "co_capture_buyer": co_capture(is_captured, same_buyer & ~same_supplier,
                                       ~same_supplier & ~same_buyer),
        "capture_rivals_first_buyer": _mean_or_zero(is_captured[(supplier > 0) & (buyer == 0)]),
        "capture_rivals_other_buyers": _mean_or_zero(is_captured[(supplier > 0) & (buyer > 0)]),
        "months_run": months,
        "steady_state": float(record.steady),
        "time_to_first_capture": int(first[0]) + 1 if len(first) else None,
        "key_account_margin": _ratio(key_revenue - key_cogs, key_revenue),
        "gross_margin": _ratio(revenue_12m - cogs_12m, revenue_12m),
        "key_account_share": _ratio(key_revenue, revenue_12m),
        "supplier_margin": _ratio(profit, revenue),
        "margin_first_year": _ratio(sum(q[first_year].sum() for q in profits),
                                    sum(r[first_year].sum() for r in revenues)),
        "margin_last_year": _ratio(sum(q[last].sum() for q in profits), revenue_12m),
        "selling_cost_share": _ratio(sum((b.service + b.selling + b.people + b.demands)[last]
                                         .sum() for b in books), revenue_12m),
        "survival_rate": len(survivors) / len(books),
        "survivors_margin": _ratio(sum(profits[s][:months].sum() for s in survivors),
                                   sum(revenues[s][:months].sum() for s in survivors))
        if survivors else None,
        "loss_years": float(np.mean([(y < 0.0).mean() for y in yearly])) if years else 0.0,
        "operational_share": float(np.mean(record.kam_operational_share)),
        "mean_alignment": float(alignment.mean()),
        "mean_skill": float(np.mean(record.kam_skill)),
        "kam_activity": float(np.mean(record.kam_activity)),
        "deadlock_rate": _ratio(record.deadlocks, negotiations),
        "key_price_change": _ratio(record.trace.key_price[months - 1], record.initial_key_price)
        - 1.0,
        "client_satisfaction": float(np.mean(record.account_satisfaction)),
        "smb_service_level": float(np.mean(
            [b.service_level[:months].mean() for b in books])),
        "smb_base_change": _ratio(sum(len(v) for v in record.smb_volumes), smb_start)
        - 1.0 if smb_start else 0.0,
        "erosion_price": _ratio(sum(b.concessions[:months].sum() for b in books), revenue),
        "erosion_demands": _ratio(sum(b.demands[:months].sum() for b in books), revenue),
        "erosion_resources": _ratio(sum(b.resources[:months].sum() for b in books), revenue),
        "lever_costs": _ratio(sum(b.lever_people[:months].sum() + b.acquisition[:months].sum()
                                  for b in books), revenue),
        "year_end_concessions": _ratio(by_kpi_month[kpi_months - kpi_months // 4:].sum(),
                                       by_kpi_month.sum()),
        "loyalty_discount": _loyalty_discount(record),
        "whale_peak": whale_peak,
        "whale_key_at_both_ends": whale_ends,
    }


#: Per-month series a run can return (``keep_series``), each one value per month.
SERIES: dict[str, str] = {
    "captured_share": "share of KAMs captured",
    "mean_alignment": "mean KAM alignment",
    "key_price": "volume-weighted mean key-account price",
    "operational_share": "mean share of KAM time spent on fulfilment",
    "kam_activity": "mean KAM working time",
    "key_account_margin": "gross margin on key accounts that month",
    "supplier_margin": "net margin of all suppliers that month",
}


def check_series(names: Sequence[str]) -> None:
    """A :class:`ParameterError` unless every name is one of :data:`SERIES`."""
    for name in names:
        if name not in SERIES:
            raise ParameterError(f"{name}: unknown series, expected one of {', '.join(SERIES)}")


def series(record: RunRecord) -> dict[str, np.ndarray]:
    """Per-month series of a run; see :data:`SERIES`."""
    months = record.months
    trace = record.trace
    books = record.ledgers
    revenue = sum(b.revenue[:months] for b in books)
    key_revenue = sum(b.key_revenue[:months] for b in books)
    key_cogs = sum(b.key_cogs[:months] for b in books)
    profit = sum(b.profit[:months] for b in books)
    with np.errstate(divide="ignore", invalid="ignore"):
        key_margin = np.where(key_revenue > 0, (key_revenue - key_cogs) / key_revenue, 0.0)
        margin = np.where(revenue > 0, profit / revenue, 0.0)
    return {
        "captured_share": trace.captured[:months] / len(record.kam_alignment),
        "mean_alignment": trace.alignment[:months].mean(axis=1),
        "key_price": trace.key_price[:months].copy(),
        "operational_share": trace.operational_share[:months].mean(axis=1),
        "kam_activity": trace.activity[:months].mean(axis=1),
        "key_account_margin": key_margin,
        "supplier_margin": margin,
    }


def result(record: RunRecord, keep_series: Sequence[str] = ()) -> dict[str, Any]:
    """What ``run_one`` returns for the run: its outcomes, and the series asked for."""
    values = outcomes(record)
    if keep_series:
        every = series(record)
        values["series"] = {name: every[name].tolist() for name in keep_series}
    return values


def account_history(record: RunRecord, supplier: int = 0) -> dict[str, np.ndarray]:
    """One supplier's key accounts month by month.

    See :func:`kamabm.model.batch.account_history` for the columns.
    """
    done = record.months
    n = record.params.n_key_buyers
    columns = slice(supplier * n, (supplier + 1) * n)
    trace = record.trace
    kam = trace.holder[:done, columns].copy()
    alignment = trace.alignment[np.arange(done)[:, None], kam]
    ledger = record.ledgers[supplier]
    return {
        "kam": kam, "alignment": alignment,
        "captured": alignment < CAPTURED_BELOW,
        "profit": trace.account_profit[:done, columns].copy(),
        "revenue": trace.account_revenue[:done, columns].copy(),
        "supplier_revenue": ledger.revenue[:done].copy(),
        "supplier_profit": ledger.profit[:done].copy(),
        "supplier_people": ledger.people[:done].copy(),
        "supplier_acquisition": ledger.acquisition[:done].copy(),
        "opening_revenue": np.array(float(record.opening_revenue[supplier])),
    }
