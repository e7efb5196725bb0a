"""The single door into the model: one run of (parameters, seed) to outcomes and tables.

Everything that runs the model (sweeps and the typical runs they keep, the command line, the
app) goes through this module: :func:`run_one` for outcomes, :func:`run_with_table` for a
run's month-by-month table as well, :func:`new_model` for a model stepped by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np

from kamabm.model.account import kam_in_charge
from kamabm.model.kam import KAM
from kamabm.model.market import KAMMarket
from kamabm.model.outcomes import CAPTURE_THRESHOLDS, OUTCOMES
from kamabm.model.params import (
    CAPTURED_BELOW,
    FIVE_YEARS,
    LAST_YEAR,
    MONTHS_PER_YEAR,
    ParameterError,
    Parameters,
)
from kamabm.model.supplier import smb_unit_cost

#: Per-month series ``run_one`` can return (``keep_series``), each one value per month.
SERIES: dict[str, str] = {
    "captured_share": "share of KAMs captured",
    "mean_alignment": "mean KAM alignment",
    "key_price": "volume-weighted mean key-account price",
    "operational_share": "mean share of KAM time spent on fulfilment",
    "kam_activity": "mean KAM working time",
    "key_account_margin": "gross margin on key accounts that month",
    "supplier_margin": "net margin of all suppliers that month",
}


__all__ = ["CAPTURED_BELOW", "CAPTURE_THRESHOLDS", "OUTCOMES", "SERIES", "account_history",
           "account_table", "customer_profits", "finished_model", "new_model", "outcomes",
           "release", "run_one", "run_table", "run_with_table", "series"]


def new_model(params: Parameters, seed: int) -> KAMMarket:
    """A fresh model at month 0, for stepping by hand (the app, teaching notebooks)."""
    return KAMMarket(params, seed=seed)


def finished_model(params: Parameters, seed: int) -> KAMMarket:
    """A model run to its end, for tables of its final state.

    For :func:`account_table` and :func:`customer_profits`; call :func:`release` on it
    when done, so that it can be garbage-collected.
    """
    return KAMMarket(params, seed=seed, collect=False).run()


def run_with_table(params: Parameters, seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run the model once; return its outcomes and its per-month table (:func:`run_table`)."""
    model = KAMMarket(params, seed=seed, collect=False).run()
    result, table = outcomes(model), run_table(model)
    release(model)
    return result, table


def run_one(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict[str, Any]:
    """Run the model once and return its outcomes.

    Args:
        params: the run's parameters.
        seed: seed of the model's random generator.
        keep_series: names from :data:`SERIES` to return per month under ``"series"``.

    Returns:
        ``{outcome: value}`` for every name in :data:`OUTCOMES` (floats, or ``None`` for
        ``time_to_first_capture`` when nobody was captured), plus ``"series"`` when asked.

    """
    for name in keep_series:
        if name not in SERIES:
            raise ParameterError(f"{name}: unknown series, expected one of {', '.join(SERIES)}")
    model = KAMMarket(params, seed=seed, collect=False).run()
    result = outcomes(model)
    if keep_series:
        every = series(model)
        result["series"] = {name: every[name].tolist() for name in keep_series}
    release(model)
    return result


def account_history(params: Parameters, seed: int, supplier: int = 0) -> dict[str, np.ndarray]:
    """Run the model once; return one supplier's key accounts month by month.

    Under rotation the KAM in charge of an account changes, so whether an account is in
    a captured KAM's hands is read each month from whoever holds it then (alignment below
    :data:`CAPTURED_BELOW`).

    Args:
        params: the run's parameters.
        seed: seed of the model's random generator.
        supplier: index of the supplier read (0, the focal supplier, by default).

    Returns:
        Arrays with one row per month simulated and, for the account columns, one column
        per key buyer (in buyer order): ``kam`` (index in ``model.kams`` of the KAM in
        charge), ``alignment`` (his alignment), ``captured`` (bool), ``profit`` (the
        account's profit that month: gross margin after cost to serve, less the demands
        delivered and its KAM's cost) and ``revenue``; and one value per month for the
        supplier: ``supplier_revenue``, ``supplier_profit`` (after every cost its ledger
        books, lever costs included) and ``supplier_people`` (KAMs, senior time,
        training, deal review, handovers) and ``supplier_acquisition`` (extra SMB
        clients won). ``opening_revenue`` (one value) is the supplier's monthly turnover
        when the run starts, the scale of its money.

    """
    model = KAMMarket(params, seed=seed, collect=False)
    firm = model.suppliers[supplier]
    accounts = sorted(firm.accounts, key=lambda a: a.buyer.index)
    months, n = params.horizon_months, len(accounts)
    position = {id(kam): k for k, kam in enumerate(model.kams)}
    kam = np.zeros((months, n), dtype=int)
    alignment = np.zeros((months, n))
    revenue = np.zeros((months, n))
    opening = float(firm.monthly_revenue)
    while model.running:
        t = model.month
        model.step()
        if model.month == t:  # nothing simulated: past the horizon or at a steady state
            break
        for j, account in enumerate(accounts):
            holder = kam_in_charge(account)
            kam[t, j] = position[id(holder)]
            alignment[t, j] = holder.alignment
            revenue[t, j] = account.revenue
    done = model.month
    first = sum(len(s.accounts) for s in model.suppliers[:supplier])
    columns = [first + firm.accounts.index(a) for a in accounts]
    ledger = firm.ledger
    history = {
        "kam": kam[:done], "alignment": alignment[:done],
        "captured": alignment[:done] < CAPTURED_BELOW,
        "profit": model.trace.account_profit[:done][:, columns].copy(),
        "revenue": revenue[:done],
        "supplier_revenue": ledger.revenue[:done].copy(),
        "supplier_profit": ledger.profit[:done].copy(),
        "supplier_people": ledger.people[:done].copy(),
        "supplier_acquisition": ledger.acquisition[:done].copy(),
        "opening_revenue": np.array(opening),
    }
    release(model)
    return history


def release(model: KAMMarket) -> None:
    """Let a finished model be garbage-collected.

    Mesa 3.3 keeps every model alive in the class-level ``Agent._ids`` counter table
    (fixed in Mesa 3.4, mesa/mesa#3179): about 75 kB a run, so a long sweep's workers
    would grow without bound. Dropping this model's entry is safe once it creates no more
    agents; on Mesa versions without the table this does nothing.
    """
    counters = getattr(mesa.Agent, "_ids", None)
    if counters is not None:
        counters.pop(model, None)


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


def _loyalty_discount(model: KAMMarket) -> float:
    """Relative price gap between each buyer's less and more satisfied suppliers (P6)."""
    gaps = []
    for buyer in model.buyers:
        accounts = sorted(buyer.accounts, key=lambda a: a.satisfaction)
        half = len(accounts) // 2
        if half == 0:
            continue
        low = np.mean([a.price for a in accounts[:half]])
        high = np.mean([a.price for a in accounts[-half:]])
        gaps.append((low - high) / np.mean([a.price for a in accounts]))
    return float(np.mean(gaps)) if gaps else 0.0


def customer_profits(model: KAMMarket) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each supplier's customers' profit over the last year, sorted best first (P9).

    Customers are the key accounts (after their delivered demands and their KAM's cost)
    and the SMB clients (gross margin after cost to serve).

    Returns:
        One ``(profits, is_key)`` pair of arrays per supplier, most profitable first.

    """
    months = model.month
    first = max(0, months - LAST_YEAR)
    profit_12m = model.trace.account_profit[first:months].sum(axis=0)
    curves = []
    k = 0
    for supplier in model.suppliers:
        n = len(supplier.accounts)
        key = profit_12m[k:k + n]
        k += n
        margin = supplier.smb_price - smb_unit_cost(model.params)
        profits = np.concatenate([key, margin * supplier.smb_volumes * (months - first)])
        is_key = np.arange(len(profits)) < n
        order = np.argsort(-profits, kind="stable")
        curves.append((profits[order], is_key[order]))
    return curves


def _whale_curve(model: KAMMarket) -> tuple[float, float]:
    """Peak of the cumulative-profit curve and key accounts at both of its ends (P9)."""
    peaks, both_ends = [], []
    for profits, is_key in customer_profits(model):
        total = profits.sum()
        if total > 0.0:
            peaks.append(float(np.cumsum(profits).max() / total))
        both_ends.append(float(is_key[0] and is_key[-1]))
    return (float(np.mean(peaks)) if peaks else 0.0), float(np.mean(both_ends))


def _buyer_index(kam: KAM) -> int:
    """Index of the buyer whose account ``kam`` manages now."""
    assert kam.account is not None  # every KAM has an account once the model is built
    return kam.account.buyer.index


def account_table(model: KAMMarket) -> dict[str, np.ndarray]:
    """One row per key account at the end of a run: who, price, volume, satisfaction, KAM.

    Columns: ``supplier``, ``buyer``, ``price``, ``volume``, ``satisfaction``,
    ``revenue_share``, ``dependence``, ``alignment`` (of the KAM in charge) and
    ``profit_12m``.
    """
    accounts = [a for s in model.suppliers for a in s.accounts]
    months = model.month
    profit = model.trace.account_profit[max(0, months - LAST_YEAR):months].sum(axis=0)
    return {
        "supplier": np.array([a.supplier.index for a in accounts]),
        "buyer": np.array([a.buyer.index for a in accounts]),
        "price": np.array([a.price for a in accounts]),
        "volume": np.array([a.volume for a in accounts]),
        "satisfaction": np.array([a.satisfaction for a in accounts]),
        "revenue_share": np.array([a.revenue_share for a in accounts]),
        "dependence": np.array([a.dependence for a in accounts]),
        "alignment": np.array([kam_in_charge(a).alignment for a in accounts]),
        "profit_12m": profit,
    }


def outcomes(model: KAMMarket) -> dict[str, Any]:
    """Outcomes of a finished (or stopped) model run; see :data:`OUTCOMES`."""
    months = model.month
    books = [s.ledger for s in model.suppliers]
    revenue = sum(b.revenue[:months].sum() for b in books)
    profit = sum(b.profit[:months].sum() for b in books)
    last = slice(max(0, months - LAST_YEAR), months)
    first_year = slice(0, min(months, LAST_YEAR))
    key_revenue = sum(b.key_revenue[last].sum() for b in books)
    key_cogs = sum(b.key_cogs[last].sum() for b in books)
    revenue_12m = sum(b.revenue[last].sum() for b in books)
    cogs_12m = key_cogs + sum(b.smb_cogs[last].sum() for b in books)
    captured = model.trace.captured[:months]
    first = np.flatnonzero(captured > 0)
    kams = model.kams
    alignment = np.array([k.alignment for k in kams])
    is_captured = alignment < CAPTURED_BELOW
    supplier = np.array([k.supplier.index for k in kams])
    buyer = np.array([_buyer_index(k) for k in kams])
    same_supplier = supplier[:, None] == supplier[None, :]
    same_buyer = buyer[:, None] == buyer[None, :]
    accounts = [a for s in model.suppliers for a in s.accounts]
    negotiations = sum(b.tenders for b in model.buyers) * model.params.n_suppliers
    smb_start = sum(s.smb_initial_count for s in model.suppliers)
    by_kpi_month = model.trace.concessions_by_kpi_month
    kpi_months = len(by_kpi_month)
    whale_peak, whale_ends = _whale_curve(model)
    survivors = [b for s, b in zip(model.suppliers, books, strict=True) if not s.failed_month]
    years = months // MONTHS_PER_YEAR
    yearly = [b.profit[:years * MONTHS_PER_YEAR].reshape(years, MONTHS_PER_YEAR).sum(axis=1)
              for b in books]
    return {
        "capture_rate": float(is_captured.mean()),
        "capture_rate_5y": float(captured[min(months, FIVE_YEARS) - 1] / len(kams)),
        "captured_months": float(captured.sum() / (months * len(kams))),
        **{f"capture_rate_t{round(100 * t)}": float((alignment < t).mean())
           for t in CAPTURE_THRESHOLDS},
        "co_capture_supplier": co_capture(is_captured, same_supplier & ~same_buyer,
                                          ~same_supplier & ~same_buyer),
        "co_capture_buyer": co_capture(is_captured, same_buyer & ~same_supplier,
                                       ~same_supplier & ~same_buyer),
        "capture_rivals_first_buyer": _mean_or_zero(is_captured[(supplier > 0) & (buyer == 0)]),
        "capture_rivals_other_buyers": _mean_or_zero(is_captured[(supplier > 0) & (buyer > 0)]),
        "months_run": months,
        "steady_state": float(model.steady),
        "time_to_first_capture": int(first[0]) + 1 if len(first) else None,
        "key_account_margin": _ratio(key_revenue - key_cogs, key_revenue),
        "gross_margin": _ratio(revenue_12m - cogs_12m, revenue_12m),
        "key_account_share": _ratio(key_revenue, revenue_12m),
        "supplier_margin": _ratio(profit, revenue),
        "margin_first_year": _ratio(sum(b.profit[first_year].sum() for b in books),
                                    sum(b.revenue[first_year].sum() for b in books)),
        "margin_last_year": _ratio(sum(b.profit[last].sum() for b in books), revenue_12m),
        "selling_cost_share": _ratio(sum((b.service + b.selling + b.people + b.demands)[last]
                                         .sum() for b in books), revenue_12m),
        "survival_rate": len(survivors) / len(books),
        "survivors_margin": _ratio(sum(b.profit[:months].sum() for b in survivors),
                                   sum(b.revenue[:months].sum() for b in survivors))
        if survivors else None,
        "loss_years": float(np.mean([(y < 0.0).mean() for y in yearly])) if years else 0.0,
        "operational_share": float(np.mean([k.operational_share for k in kams])),
        "mean_alignment": float(alignment.mean()),
        "mean_skill": float(np.mean([k.skill for k in kams])),
        "kam_activity": float(np.mean([k.activity for k in kams])),
        "deadlock_rate": _ratio(sum(b.deadlocks for b in model.buyers), negotiations),
        "key_price_change": _ratio(model.trace.key_price[months - 1], model.initial_key_price)
        - 1.0,
        "client_satisfaction": float(np.mean([a.satisfaction for a in accounts])),
        "smb_service_level": float(np.mean(
            [s.ledger.service_level[:months].mean() for s in model.suppliers])),
        "smb_base_change": _ratio(sum(len(s.smb_volumes) for s in model.suppliers), smb_start)
        - 1.0 if smb_start else 0.0,
        "erosion_price": _ratio(sum(b.concessions[:months].sum() for b in books), revenue),
        "erosion_demands": _ratio(sum(b.demands[:months].sum() for b in books), revenue),
        "erosion_resources": _ratio(sum(b.resources[:months].sum() for b in books), revenue),
        "lever_costs": _ratio(sum(b.lever_people[:months].sum() + b.acquisition[:months].sum()
                                  for b in books), revenue),
        "year_end_concessions": _ratio(by_kpi_month[kpi_months - kpi_months // 4:].sum(),
                                       by_kpi_month.sum()),
        "loyalty_discount": _loyalty_discount(model),
        "whale_peak": whale_peak,
        "whale_key_at_both_ends": whale_ends,
    }


def series(model: KAMMarket) -> dict[str, np.ndarray]:
    """Per-month series of a run; see :data:`SERIES`."""
    months = model.month
    trace = model.trace
    books = [s.ledger for s in model.suppliers]
    revenue = sum(b.revenue[:months] for b in books)
    key_revenue = sum(b.key_revenue[:months] for b in books)
    key_cogs = sum(b.key_cogs[:months] for b in books)
    profit = sum(b.profit[:months] for b in books)
    with np.errstate(divide="ignore", invalid="ignore"):
        key_margin = np.where(key_revenue > 0, (key_revenue - key_cogs) / key_revenue, 0.0)
        margin = np.where(revenue > 0, profit / revenue, 0.0)
    return {
        "captured_share": trace.captured[:months] / len(model.kams),
        "mean_alignment": trace.alignment[:months].mean(axis=1),
        "key_price": trace.key_price[:months].copy(),
        "operational_share": trace.operational_share[:months].mean(axis=1),
        "kam_activity": trace.activity[:months].mean(axis=1),
        "key_account_margin": key_margin,
        "supplier_margin": margin,
    }


def run_table(model: KAMMarket) -> dict[str, np.ndarray]:
    """Per-month columns of a run: month, each KAM's alignment and time, price, margins.

    KAM columns are named ``kam{k}_s{supplier}_{quantity}``; the table is what the run
    charts draw and what ``kamabm run`` saves as CSV.
    """
    months = model.month
    every = series(model)
    table: dict[str, np.ndarray] = {"month": np.arange(1, months + 1)}
    for k, kam in enumerate(model.kams):
        name = f"kam{k + 1}_s{kam.supplier.unique_id}"
        table[f"{name}_alignment"] = model.trace.alignment[:months, k].copy()
        table[f"{name}_operational_share"] = model.trace.operational_share[:months, k].copy()
    for column in ("key_price", "key_account_margin", "supplier_margin", "operational_share",
                   "kam_activity", "captured_share"):
        table[column] = every[column]
    return table
