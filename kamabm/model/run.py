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

from kamabm.model import measure
from kamabm.model.account import Account, kam_in_charge
from kamabm.model.kam import KAM
from kamabm.model.market import KAMMarket
from kamabm.model.measure import SERIES, RunRecord
from kamabm.model.outcomes import CAPTURE_THRESHOLDS, OUTCOMES
from kamabm.model.params import (
    CAPTURED_BELOW,
    LAST_YEAR,
    Parameters,
)

__all__ = ["CAPTURED_BELOW", "CAPTURE_THRESHOLDS", "OUTCOMES", "SERIES", "account_history",
           "account_table", "customer_profits", "finished_model", "new_model", "outcomes",
           "record_of", "release", "run_one", "run_table", "run_with_table", "series"]


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
    measure.check_series(keep_series)
    model = KAMMarket(params, seed=seed, collect=False).run()
    result = measure.result(record_of(model), keep_series)
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
    model = KAMMarket(params, seed=seed, collect=False).run()
    history = measure.account_history(record_of(model), supplier)
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


def record_of(model: KAMMarket) -> RunRecord:
    """The Mesa model's run as plain arrays, what its outcomes are read from."""
    kams = model.kams
    accounts = [a for s in model.suppliers for a in s.accounts]
    return RunRecord(
        params=model.params, months=model.month, steady=model.steady,
        initial_key_price=model.initial_key_price,
        ledgers=[s.ledger for s in model.suppliers], trace=model.trace,
        kam_supplier=np.array([k.supplier.index for k in kams]),
        kam_buyer=np.array([kam_account(k).buyer.index for k in kams]),
        kam_alignment=np.array([k.alignment for k in kams]),
        kam_skill=np.array([k.skill for k in kams]),
        kam_operational_share=np.array([k.operational_share for k in kams]),
        kam_activity=np.array([k.activity for k in kams]),
        account_price=np.array([a.price for a in accounts]),
        account_satisfaction=np.array([a.satisfaction for a in accounts]),
        account_buyer=np.array([a.buyer.index for a in accounts]),
        tenders=sum(b.tenders for b in model.buyers),
        deadlocks=sum(b.deadlocks for b in model.buyers),
        smb_price=model.suppliers[0].smb_price,
        smb_initial_count=np.array([s.smb_initial_count for s in model.suppliers]),
        smb_volumes=[s.smb_volumes for s in model.suppliers],
        failed_month=np.array([s.failed_month for s in model.suppliers]),
        opening_revenue=np.array([s.opening_revenue for s in model.suppliers]))


def kam_account(kam: KAM) -> Account:
    """The account ``kam`` manages now."""
    assert kam.account is not None  # every KAM has an account once the model is built
    return kam.account


def outcomes(model: KAMMarket) -> dict[str, Any]:
    """Outcomes of a finished (or stopped) Mesa model; see :data:`OUTCOMES`."""
    return measure.outcomes(record_of(model))


def series(model: KAMMarket) -> dict[str, np.ndarray]:
    """Per-month series of a Mesa model's run; see :data:`SERIES`."""
    return measure.series(record_of(model))


def customer_profits(model: KAMMarket) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each supplier's customers' profit over the last year, best first (P9).

    See :func:`kamabm.model.measure.customer_profits`.
    """
    return measure.customer_profits(record_of(model))


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
