"""What suppliers do (:mod:`kamabm.model.supplier`): the books and the SMB base, compiled."""

from __future__ import annotations

from typing import Any

import numpy as np

from kamabm.model.compiled.levers import GROWTH, SENIOR, TRAINING
from kamabm.model.compiled.numeric import jit, pairwise_sum, py_max, py_min
from kamabm.model.constants import MONTHS_PER_YEAR


@jit
def people_cost(p: Any, s: int, n_b: int, levers: np.ndarray, learn_time: np.ndarray,
                 kam_of: np.ndarray, deals_reviewed: np.ndarray, handovers: np.ndarray,
                 kam_month_cost: np.ndarray) -> tuple:
    """:meth:`Supplier.people_cost`."""
    kam_months = n_b * (1.0 + levers[s, SENIOR] * p.senior_time * p.senior_cost_rate
                        + levers[s, TRAINING] * p.training_fee / MONTHS_PER_YEAR)
    learning = 0.0
    for b in range(n_b):
        learning += learn_time[kam_of[s * n_b + b]]
    kam_months += learning
    kam_months += p.review_time * deals_reviewed[s]
    kam_months += p.handover_months * handovers[s]
    return kam_months * kam_month_cost[s], (kam_months - n_b) * kam_month_cost[s]


@jit
def serve_and_book(p: Any, d: Any, rng: np.random.Generator, s: int, month: int,
                    levers: np.ndarray, price: np.ndarray, volume: np.ndarray,
                    delivered: np.ndarray, revenue_share: np.ndarray,
                    dependence: np.ndarray, profit: np.ndarray, year_profit: np.ndarray,
                    renegotiate: np.ndarray, learn_time: np.ndarray, kam_of: np.ndarray,
                    smb_buffer: np.ndarray, smb_count: np.ndarray, smb_initial: np.ndarray,
                    smb_mean: np.ndarray, service_level: np.ndarray,
                    lost_to_service: np.ndarray, monthly_revenue: np.ndarray,
                    overhead: np.ndarray, kam_month_cost: np.ndarray, cushion: np.ndarray,
                    deals_reviewed: np.ndarray, handovers: np.ndarray, equity: np.ndarray,
                    cumulative: np.ndarray, failed: np.ndarray, s_year_profit: np.ndarray,
                    s_year_revenue: np.ndarray, restructuring: np.ndarray,
                    pool_left: np.ndarray, ledger: np.ndarray,
                    initial_key_price: float) -> np.ndarray:
    """:meth:`Supplier.serve_and_book`, ``read_books`` and ``close_year``.

    Returns the SMB buffer (a larger copy when the base outgrew it).
    """
    n_b = p.n_key_buyers
    t = month - 1
    key_volume = key_revenue = given = concessions = 0.0
    for b in range(n_b):
        a = s * n_b + b
        key_volume += volume[a]
        key_revenue += price[a] * volume[a]
        given += delivered[a]
        concessions += (initial_key_price - price[a]) * volume[a]
    n = smb_count[s]
    smb_volume = pairwise_sum(smb_buffer[s], 0, n)
    smb_need = p.service_cost * smb_volume
    if smb_need <= 0.0:
        service_level[s] = 1.0
    else:
        service_level[s] = py_min(1.0, py_max(0.0, pool_left[s] / smb_need))
    smb_revenue = d.smb_price * smb_volume
    revenue = key_revenue + smb_revenue
    monthly_revenue[s] = revenue
    for b in range(n_b):
        a = s * n_b + b
        revenue_share[a] = price[a] * volume[a] / revenue if revenue > 0.0 else 0.0

    shortfall = 1.0 - service_level[s]
    smb_margin = d.smb_price - d.smb_unit_cost
    if n:
        churn = p.smb_churn + p.smb_service_churn * shortfall
        kept = 0
        for i in range(n):
            if rng.random() >= churn:
                smb_buffer[s, kept] = smb_buffer[s, i]
                kept += 1
        n = kept
        lost_to_service[s] += p.smb_service_churn * shortfall * smb_volume
    arrivals = rng.poisson(p.smb_churn * smb_initial[s])
    growth = levers[s, GROWTH]
    won = rng.poisson(growth * smb_initial[s]) if growth else 0
    if arrivals + won:
        if n + arrivals + won > smb_buffer.shape[1]:
            bigger = np.zeros((smb_buffer.shape[0], 2 * (n + arrivals + won)))
            bigger[:, :smb_buffer.shape[1]] = smb_buffer
            smb_buffer = bigger
        for i in range(arrivals + won):
            smb_buffer[s, n + i] = rng.lognormal(0.0, p.smb_size_spread) * smb_mean[s]
        n += arrivals + won
    smb_count[s] = n
    acquisition = won * p.smb_acquisition_cost * smb_margin * smb_mean[s]

    people, lever_people = people_cost(p, s, n_b, levers, learn_time, kam_of,
                                        deals_reviewed, handovers, kam_month_cost)
    deals_reviewed[s] = 0.0
    handovers[s] = 0
    service = (d.key_service_per_unit * key_volume
               + p.service_cost * smb_volume * service_level[s])
    selling = p.smb_selling_cost * smb_volume
    restructure = restructuring[s]
    restructuring[s] = 0.0
    row = ledger[s, t]
    row[0], row[1], row[2], row[3], row[4] = key_revenue, smb_revenue, key_volume, \
        smb_volume, service
    row[5], row[6], row[7], row[8] = selling, given, concessions, \
        lost_to_service[s] * smb_margin
    row[9], row[10], row[11], row[12] = service_level[s], people, overhead[s], restructure
    row[13], row[14] = acquisition, lever_people
    costs = (key_volume + smb_volume + service + selling + given + people + overhead[s]
             + restructure + acquisition)
    month_profit = revenue - costs
    # Supplier.read_books
    if not p.cushion_held:
        cushion[s] += (py_max(0.0, month_profit) - cushion[s]) / p.kpi_months
    s_year_profit[s] += month_profit
    cumulative[s] += month_profit
    if not failed[s] and cumulative[s] < -equity[s]:
        failed[s] = month
    for b in range(n_b):
        a = s * n_b + b
        contribution = (price[a] - d.key_unit_cost) * volume[a] - delivered[a]
        profit[a] = contribution - kam_month_cost[s]
        year_profit[a] += profit[a]
        loss = p.breakdown_shift * py_max(0.0, contribution)
        dependence[a] = loss / (loss + cushion[s]) if loss > 0.0 else 0.0
    s_year_revenue[s] += revenue
    if month % p.kpi_months == 0:   # Supplier.close_year
        for b in range(n_b):
            a = s * n_b + b
            renegotiate[a] = year_profit[a] < 0.0
            year_profit[a] = 0.0
        if s_year_profit[s] < 0.0:
            resized = p.overhead_share * s_year_revenue[s] / p.kpi_months
            saving = py_max(0.0, overhead[s] - resized)
            overhead[s] -= saving
            restructuring[s] = p.restructuring_cost * MONTHS_PER_YEAR * saving
        s_year_profit[s] = s_year_revenue[s] = 0.0
    return smb_buffer
