"""What KAMs and key buyers do (:mod:`kamabm.model.kam`, :mod:`kamabm.model.buyer`), compiled.

Each function names the agent method it repeats, with the arithmetic in the same order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kamabm.model.compiled.levers import KPI_MARGIN, REVIEW, SENIOR
from kamabm.model.compiled.numeric import jit, np_mean, np_sum, py_max, py_min
from kamabm.model.constants import MONTHS_PER_YEAR


@jit
def operational_share(operational: float, negotiating: float) -> float:
    """:attr:`KAM.operational_share`."""
    working = operational + negotiating
    return operational / working if working > 0.0 else 0.0


@jit
def must_agree(p: Any, felt: float, skill: float) -> float:
    """:attr:`KAM.must_agree`."""
    coping = 1.0 - p.coping_skill * skill
    pressure = py_max(0.0, felt) * coping
    return pressure / (1.0 + pressure)


@jit
def kam_reach(p: Any, levers: np.ndarray, skill: float, familiarity: float) -> float:
    """:attr:`KAM.reach`."""
    return py_min(1.0, p.reach_skill * skill + p.reach_senior * levers[SENIOR]
                + p.reach_familiarity * familiarity)


@jit
def floor_price(p: Any, d: Any, levers: np.ndarray, dependence: float) -> float:
    """:meth:`KAM.floor_price`."""
    margin = p.min_margin + p.margin_kpi_floor * levers[KPI_MARGIN]
    keep = p.keep_client_override * dependence
    return d.key_unit_cost + margin * (1.0 - keep)


@jit
def best_rival_price(price: np.ndarray, n_s: int, n_b: int, b: int, s: int) -> float:
    """:meth:`KeyBuyer.best_rival_price`: Python's ``min`` over the rivals, in order."""
    best = math.inf
    first = True
    for other in range(n_s):
        if other == s:
            continue
        value = price[other * n_b + b]
        if first:
            best = value
            first = False
        else:
            best = py_min(best, value)
    return best


@jit
def target_price(p: Any, d: Any, price: float, aspiration: float, revenue_share: float,
                  rival: float) -> float:
    """:meth:`KeyBuyer.target_price` (with ``procedural_price``)."""
    weight = 1.0 + p.buyer_leverage * revenue_share
    cut = (p.price_cut_target * p.contract_months / MONTHS_PER_YEAR * (1.0 + aspiration)
           * weight)
    own = price * (1.0 - cut)
    best = py_min(own, rival)
    procedural = own + p.rival_benchmark * (best - own)
    return py_max(procedural, d.viable_price)


@jit
def kam_stance(p: Any, d: Any, levers: np.ndarray, price: float, dependence: float,
                renegotiate: bool, target: float, skill: float, alignment: float,
                felt: float) -> tuple:
    """:meth:`KAM.stance`: his own stance, a senior's blended in, the authority floor."""
    floor = floor_price(p, d, levers, dependence)
    # KAM.own_stance
    m = must_agree(p, felt, skill)
    reservation = (1.0 - m) * floor + m * py_min(floor, target)
    client_wish = target * (1.0 - p.client_wish_weight * (price - target) / price)
    reservation = alignment * reservation + (1.0 - alignment) * py_min(reservation, client_wish)
    wish = alignment * price * (1.0 + p.opening_markup) + (1.0 - alignment) * target
    opening = py_max(wish, reservation)
    habit = math.exp((1.0 - skill) * math.log(p.smb_habit_beta)
                     + skill * math.log(p.skilled_beta))
    beta = habit * (1.0 + m) * (1.0 + p.captured_tactic_gain * (1.0 - alignment))
    delta = p.patience_base - p.patience_loss * m
    reciprocity = p.smb_reciprocity * (1.0 - skill) * (1.0 - m) * alignment
    senior = levers[SENIOR]
    if senior > 0.0:   # blend with KAM.senior_stance
        s_opening = py_max(floor, price * (1.0 + p.opening_markup))
        s_beta = p.skilled_beta
        opening = opening + senior * (s_opening - opening)
        reservation = reservation + senior * (floor - reservation)
        beta = math.exp(math.log(beta) + senior * (math.log(s_beta) - math.log(beta)))
        delta = delta + senior * (p.patience_base - delta)
        reciprocity = reciprocity + senior * (0.0 - reciprocity)
    reviewed = 1.0 if renegotiate else levers[REVIEW]
    authority_floor = 1.0 + (floor - 1.0) * reviewed
    if reservation >= authority_floor:
        return (opening, reservation, beta, delta, reciprocity)
    return (py_max(opening, authority_floor), authority_floor, beta, delta, reciprocity)


@jit
def buyer_stance(p: Any, detachment: float, n_s: int, price: float, rival: float,
                  target: float, reach: float) -> tuple:
    """:meth:`KeyBuyer.stance`."""
    d = detachment * (1.0 - reach)
    firm_walkaway = rival * (1.0 + p.switching_cost)
    reservation = py_min(firm_walkaway, d * target + (1.0 - d) * firm_walkaway)
    opening = py_min(reservation, price - p.opening_cut * (price - target))
    alternatives = n_s - 1
    beta = (p.owner_beta ** (1 - d) * p.detached_beta ** d
            * math.sqrt(2.0 / (1 + alternatives)))
    delta = p.owner_delta + (p.detached_delta - p.owner_delta) * d
    return (opening, reservation, beta, delta, p.owner_reciprocity * (1.0 - d))


@jit
def reallocate(p: Any, buyer_volume: float, n_s: int, n_b: int, b: int, price: np.ndarray,
               satisfaction: np.ndarray, volume: np.ndarray, familiarity: np.ndarray,
               kam_of: np.ndarray, deadlocked: np.ndarray, work: np.ndarray) -> None:
    """:meth:`KeyBuyer._reallocate`.

    ``work`` is scratch space of 7 rows of ``n_s`` numbers, allocated once per run.
    """
    prices, sat, knowledge, volumes = work[0], work[1], work[2], work[3]
    utility, weight, rivals = work[4], work[5], work[6]
    for s in range(n_s):
        a = s * n_b + b
        prices[s] = price[a]
        sat[s] = satisfaction[a]
        knowledge[s] = familiarity[kam_of[a], b]
        volumes[s] = volume[a]
    price_mean, sat_mean, knowledge_mean = np_mean(prices), np_mean(sat), np_mean(knowledge)
    for s in range(n_s):
        utility[s] = (-p.price_sensitivity * (prices[s] / price_mean - 1.0)
                      + p.service_sensitivity * (sat[s] - sat_mean)
                      + p.knowledge_sensitivity * (knowledge[s] - knowledge_mean))
    top = utility.max()
    for s in range(n_s):
        weight[s] = math.exp(utility[s] - top)
    for k in range(n_s):
        if not deadlocked[k]:
            continue
        rivals[:] = weight
        rivals[k] = 0.0
        total = np_sum(rivals)
        if total > 0.0:
            moved = p.breakdown_shift * volumes[k]
            volumes[k] -= moved
            for s in range(n_s):
                volumes[s] += moved * rivals[s] / total
    total = np_sum(weight)
    for s in range(n_s):
        preferred = buyer_volume * weight[s] / total
        volumes[s] += p.reallocation_speed * (preferred - volumes[s])
        volume[s * n_b + b] = volumes[s]


@jit
def track_kpi(p: Any, d: Any, k: int, price: float, volume: float, delivered: float,
               pressure: float, started: np.ndarray, count: np.ndarray,
               volume_sum: np.ndarray, profit_sum: np.ndarray, quota_volume: np.ndarray,
               quota_profit: np.ndarray) -> None:
    """:meth:`KAM._track_kpi` and ``_new_kpi_year``."""
    profit = (price - d.key_unit_cost) * volume - delivered
    growth = 1.0 + p.quota_stretch * pressure
    if not started[k]:
        started[k] = True
        quota_volume[k] = volume * growth
        quota_profit[k] = py_max(profit, 1e-9) * growth
        volume_sum[k] = profit_sum[k] = 0.0
        count[k] = 0
    count[k] += 1
    volume_sum[k] += volume
    profit_sum[k] += profit
    if count[k] == p.kpi_months:
        quota_volume[k] = volume * growth
        quota_profit[k] = py_max(profit, 1e-9) * growth
        volume_sum[k] = profit_sum[k] = 0.0
        count[k] = 0


@jit
def kam_kpi_gap(margin_weight: float, months: int, quota_volume: float, volume_sum: float,
             profit_sum: float, quota_profit: float) -> float:
    """:meth:`KAM.kpi_gap`."""
    if months == 0:
        return 0.0
    if quota_volume <= 0.0:
        volume = 1.0
    else:
        volume = volume_sum / months / quota_volume
    profit = profit_sum / months / quota_profit
    gap = (1.0 - margin_weight) * (1.0 - volume) + margin_weight * (1.0 - profit)
    return py_min(1.0, py_max(0.0, gap))
