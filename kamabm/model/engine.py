"""The compiled engine: the Mesa model's monthly schedule over plain arrays, in numba.

The Mesa model (:mod:`kamabm.model.market` and its agents) is the reference: what students
read and what the app steps. This module runs the same schedule, agent by agent and line
by line, over arrays (accounts ``a = supplier * n_key_buyers + buyer``, KAMs in the
market's order, ties of KAM ``k`` to his supplier's accounts ``[k, buyer]``), compiled by
numba. Each function below names the agent method it repeats; the arithmetic is written
in the same order, so that floats come out bit-identical, and the random numbers come
from the run's own :class:`numpy.random.Generator` (seeded like the Mesa model's) in the
same order. ``tests/test_engine_equivalence.py`` proves both engines equal on random
parameters; a change to a mechanism is a change to both.

What bit-identity takes here:

* numpy's sums are pairwise (:func:`_sum` repeats numpy's algorithm) and Python's
  ``sum``, ``min`` and ``max`` run left to right (:func:`_min`, :func:`_max` keep which
  argument they return);
* the Mesa model takes ``exp`` and ``log`` from :mod:`math` (the C library's), not numpy's
  SIMD loops, whose last digit depends on the processor;
* outcomes are read from one :class:`~kamabm.model.measure.RunRecord` by one piece of code.

Compilation takes about ten seconds the first time a process uses the engine and is
cached on disk (numba's ``cache=True``, in ``__pycache__``), so later processes load it.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from kamabm.model.books import Ledger, Trace
from kamabm.model.buyer import viable_price
from kamabm.model.constants import CAPTURED_BELOW, FIVE_YEARS, MONTHS_PER_YEAR
from kamabm.model.market import key_buyer_weights
from kamabm.model.measure import RunRecord, result
from kamabm.model.params import SEQUENCES, Parameters
from kamabm.model.supplier import (
    Levers,
    key_service_per_unit,
    key_unit_cost,
    smb_price,
    smb_unit_cost,
)

#: The scalar parameters, as the compiled code reads them (``p.theta``).
SCALARS = tuple(name for name in Parameters.names() if name not in SEQUENCES)
_P = namedtuple("_P", SCALARS)  # type: ignore[misc]  # noqa: PYI024  (fields built from Parameters)
_INTEGERS = frozenset(name for name in SCALARS if Parameters.is_integer(name))
#: What the market derives from its parameters before the first month (computed in Python
#: by the same functions the Mesa model calls).
_D = namedtuple("_D", ["key_unit_cost", "key_service_per_unit", "smb_unit_cost",
                       "smb_price", "viable_price"])
#: The lever columns of each supplier, in the order of :class:`Levers`' fields.
_LEVERS = ("kpi_margin_weight", "training", "deal_review", "senior_support",
           "rotation_months", "smb_growth")
_KPI_MARGIN, _TRAINING, _REVIEW, _SENIOR, _ROTATION, _GROWTH = range(len(_LEVERS))
#: Columns of the ledger, in the order of :attr:`Ledger.ITEMS`.
_ITEMS = len(Ledger.ITEMS)
#: numpy's pairwise summation: blocks of this many numbers are summed with 8 accumulators.
_PAIRWISE_BLOCK = 128
_UNROLL = 8

_jit = numba.njit(cache=True, fastmath=False, error_model="python")


# --- Python's and numpy's arithmetic, exactly ---------------------------------------------
@_jit
def _min(a: float, b: float) -> float:
    """Python's ``min(a, b)``: ``a`` unless ``b`` is smaller."""
    return b if b < a else a


@_jit
def _max(a: float, b: float) -> float:
    """Python's ``max(a, b)``: ``a`` unless ``b`` is larger."""
    return b if b > a else a


@_jit
def _block(x: np.ndarray, first: int, n: int) -> float:
    """The sum numpy computes of one block, ``x[first:first + n]`` with ``n <= 128``."""
    if n < _UNROLL:
        total = -0.0
        for i in range(first, first + n):
            total += x[i]
        return total
    r = np.empty(_UNROLL)
    for j in range(_UNROLL):
        r[j] = x[first + j]
    i = _UNROLL
    whole = n - n % _UNROLL
    while i < whole:
        for j in range(_UNROLL):
            r[j] += x[first + i + j]
        i += _UNROLL
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += x[first + i]
        i += 1
    return total


@_jit
def _half(n: int) -> int:
    """Where numpy splits ``n`` numbers in two: half of them, down to a multiple of 8."""
    half = n // 2
    return half - half % _UNROLL


@_jit
def _pairwise(x: np.ndarray, first: int, n: int) -> float:
    """The sum numpy computes of ``x[first:first + n]`` (its C ``pairwise_sum``).

    Blocks of up to 128 numbers are summed with 8 accumulators; longer runs are split in
    two (:func:`_half`) and their sums added. Numpy recurses; this walks the same tree
    with a stack, because numba cannot cache a recursive function.
    """
    if n <= _PAIRWISE_BLOCK:
        return _block(x, first, n)
    depth = 64
    start = np.empty(depth, dtype=np.int64)
    size = np.empty(depth, dtype=np.int64)
    waiting = np.zeros(depth, dtype=np.int64)   # 0 new, 1 left half under way, 2 right half
    left = np.empty(depth)
    top = 0
    start[0], size[0] = first, n
    while True:
        if size[top] > _PAIRWISE_BLOCK:   # split: the left half first
            waiting[top] = 1
            start[top + 1], size[top + 1], waiting[top + 1] = start[top], _half(size[top]), 0
            top += 1
            continue
        value = _block(x, start[top], size[top])
        top -= 1
        while top >= 0 and waiting[top] == 2:   # both halves done: add them
            value = left[top] + value
            top -= 1
        if top < 0:
            return value
        left[top] = value   # the left half is done: now the right
        waiting[top] = 2
        half = _half(size[top])
        start[top + 1], size[top + 1], waiting[top + 1] = start[top] + half, size[top] - half, 0
        top += 1


@_jit
def _sum(x: np.ndarray) -> float:
    """``x.sum()`` as numpy computes it."""
    return _pairwise(x, 0, len(x))


@_jit
def _mean(x: np.ndarray) -> float:
    """``x.mean()`` as numpy computes it."""
    return _sum(x) / len(x)


@_jit
def _logistic(x: float) -> float:
    """:func:`kamabm.model.kam.logistic`."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# --- the negotiation engine (kamabm.model.negotiation) ------------------------------------
@_jit
def _offer(side: tuple, t: int, t_max: int) -> float:
    """:func:`~kamabm.model.negotiation.offer` with :func:`~kamabm.model.negotiation.tactic`."""
    opening, reservation, beta = side[0], side[1], side[2]
    kappa = 0.0
    alpha = kappa + (1.0 - kappa) * (min(t, t_max) / t_max) ** (1.0 / beta)
    return opening + alpha * (reservation - opening)


@_jit
def _next_offer(side: tuple, t: int, t_max: int, has_own: bool, own_last: float,
                has_before: bool, other_before: float, other_last: float) -> float:
    """:func:`~kamabm.model.negotiation.next_offer`."""
    timed = _offer(side, t, t_max)
    reciprocity = side[4]
    if reciprocity == 0.0 or not has_own or not has_before:
        return timed
    mirrored = own_last - (other_last - other_before)
    price = (1.0 - reciprocity) * timed + reciprocity * mirrored
    reservation = side[1]
    low, high = (reservation, own_last) if reservation < own_last else (own_last, reservation)
    return _min(high, _max(low, price))


@_jit
def _alternating_offers(seller: tuple, buyer: tuple, t_max: int) -> tuple:
    """:func:`~kamabm.model.negotiation.alternating_offers`: (agreed, price, rounds)."""
    sides = (seller, buyer)
    last = np.zeros(2)
    before = np.zeros(2)
    made = np.zeros(2, dtype=np.int64)
    price = _offer(seller, 0, t_max)
    for t in range(t_max + 1):
        mover = t % 2
        other = 1 - mover
        before[mover] = last[mover]
        last[mover] = price
        made[mover] += 1
        responder = sides[other]
        if t < t_max:
            counter = _next_offer(responder, t + 1, t_max, made[other] > 0, last[other],
                                  made[mover] > 1, before[mover], price)
        else:
            counter = responder[1]
        if mover == 0:
            gain_now = buyer[1] - price
            gain_next = buyer[3] * (buyer[1] - counter)
        else:
            gain_now = price - seller[1]
            gain_next = seller[3] * (counter - seller[1])
        if gain_now >= 0.0 and gain_now >= gain_next:
            return True, price, t + 1
        price = counter
    return False, math.nan, t_max + 1


# --- the simulation -----------------------------------------------------------------------
@_jit
def _simulate(p: Any, d: Any, rng: np.random.Generator, buyer_volume: np.ndarray,
              detachment: np.ndarray, pressure_offset: np.ndarray, levers: np.ndarray,
              ledger: np.ndarray, tr_alignment: np.ndarray, tr_profit: np.ndarray,
              tr_operational: np.ndarray, tr_activity: np.ndarray, tr_key_price: np.ndarray,
              tr_captured: np.ndarray, tr_mean_alignment: np.ndarray,
              tr_mean_identification: np.ndarray, tr_concessions: np.ndarray,
              kam_out: np.ndarray, account_out: np.ndarray, supplier_out: np.ndarray,
              smb_buffer: np.ndarray, smb_count: np.ndarray) -> tuple:
    """Run the market to its horizon (or a steady state), filling the output arrays.

    Returns ``(months, steady, tenders, deadlocks, smb_buffer)`` (the SMB buffer may have
    grown).
    """
    n_s, n_b = p.n_suppliers, p.n_key_buyers
    n_a = n_s * n_b
    # --- KAMMarket.__init__ -----------------------------------------------------------
    kam_pressure = p.kam_pressure
    initial_key_price = d.smb_price
    price = np.full(n_a, initial_key_price)
    volume = np.empty(n_a)
    satisfaction = np.full(n_a, p.initial_satisfaction)
    aspiration = np.zeros(n_a)
    pending = np.zeros(n_a)
    granted = np.zeros(n_a)
    delivered = np.zeros(n_a)
    revenue_share = np.zeros(n_a)
    dependence = np.zeros(n_a)
    profit = np.zeros(n_a)
    year_profit = np.zeros(n_a)
    renegotiate = np.zeros(n_a, dtype=np.bool_)
    kam_of = np.arange(n_a)        # the KAM in charge of each account
    account_of = np.arange(n_a)    # the account each KAM manages
    for a in range(n_a):
        volume[a] = buyer_volume[a % n_b] / n_s
    skill = np.full(n_a, p.initial_skill)
    alignment = np.ones(n_a)
    stress = np.zeros(n_a)
    felt = np.zeros(n_a)
    ops_time = np.full(n_a, p.ops_base)
    nego_time = np.full(n_a, p.nego_base)
    learn_time = np.zeros(n_a)
    hard = np.zeros(n_a, dtype=np.bool_)
    seen_success = np.ones(n_a)
    seen_work = np.zeros(n_a)
    kpi_gap = np.zeros(n_a)
    kpi_started = np.zeros(n_a, dtype=np.bool_)
    quota_volume = np.zeros(n_a)
    quota_profit = np.zeros(n_a)
    volume_sum = np.zeros(n_a)
    profit_sum = np.zeros(n_a)
    kpi_count = np.zeros(n_a, dtype=np.int64)
    identification = np.zeros((n_a, n_b))
    familiarity = np.zeros((n_a, n_b))
    for k in range(n_a):
        familiarity[k, k % n_b] = 1.0    # take_over(established=True)
    pinned = np.zeros(n_a, dtype=np.bool_)
    if p.pin_first_kam:
        pinned[0] = True
        alignment[0] = p.pinned_alignment
    tenders = np.zeros(n_b, dtype=np.int64)
    deadlocks = np.zeros(n_b, dtype=np.int64)

    smb_initial = np.zeros(n_s, dtype=np.int64)
    smb_mean = np.zeros(n_s)
    capacity = np.zeros(n_s)
    service_level = np.ones(n_s)
    lost_to_service = np.zeros(n_s)
    monthly_revenue = np.zeros(n_s)
    overhead = np.zeros(n_s)
    kam_month_cost = np.zeros(n_s)
    cushion = np.zeros(n_s)
    deals_reviewed = np.zeros(n_s)
    handovers = np.zeros(n_s, dtype=np.int64)
    equity = np.zeros(n_s)
    cumulative = np.zeros(n_s)
    failed = np.zeros(n_s, dtype=np.int64)
    s_year_profit = np.zeros(n_s)
    s_year_revenue = np.zeros(n_s)
    restructuring = np.zeros(n_s)
    pool_left = np.zeros(n_s)
    peer_sum = np.zeros(n_s)
    peer_weight = np.zeros(n_s)

    share = p.client_revenue_share
    for s in range(n_s):   # Supplier.open_books
        key_revenue = 0.0
        for b in range(n_b):
            a = s * n_b + b
            key_revenue += price[a] * volume[a]
        smb_revenue = key_revenue * (1.0 - share) / share
        n_smb = 0
        if smb_revenue > 0.0:
            n_smb = p.n_smb_clients
            sizes = np.empty(n_smb)
            for i in range(n_smb):
                sizes[i] = rng.lognormal(0.0, p.smb_size_spread)
            scale = smb_revenue / d.smb_price / _sum(sizes)
            for i in range(n_smb):
                smb_buffer[s, i] = sizes[i] * scale
            smb_mean[s] = _pairwise(smb_buffer[s], 0, n_smb) / n_smb
        smb_count[s] = n_smb
        smb_initial[s] = n_smb
        smb_total = _pairwise(smb_buffer[s], 0, n_smb)
        key_volume = 0.0
        for b in range(n_b):
            key_volume += volume[s * n_b + b]
        capacity[s] = (1.0 + p.resource_slack) * (d.key_service_per_unit * key_volume
                                                  + p.service_cost * smb_total)
        key_revenue = 0.0
        for b in range(n_b):
            a = s * n_b + b
            key_revenue += price[a] * volume[a]
        monthly_revenue[s] = key_revenue + smb_revenue
        for b in range(n_b):
            a = s * n_b + b
            revenue_share[a] = price[a] * volume[a] / monthly_revenue[s]
        overhead[s] = p.overhead_share * monthly_revenue[s]
        equity[s] = p.equity_to_sales * MONTHS_PER_YEAR * monthly_revenue[s]
        kam_month_cost[s] = p.kam_cost * key_revenue / n_b
        key_margin = 0.0
        for b in range(n_b):
            a = s * n_b + b
            key_margin += (price[a] - d.key_unit_cost) * volume[a]
        margin = (d.smb_price - d.smb_unit_cost) * smb_total + key_margin
        people = _people_cost(p, s, n_b, levers, learn_time, kam_of, deals_reviewed,
                              handovers, kam_month_cost)[0]
        cushion[s] = _max(0.0, margin - overhead[s] - people)

    # --- KAMMarket.step, month by month ----------------------------------------------------
    month = 0
    steady = False
    order = np.empty(n_b, dtype=np.int64)
    while month < p.horizon_months:
        month += 1
        # 1. KeyBuyer.raise_demands
        for b in range(n_b):
            for s in range(n_s):
                a = s * n_b + b
                draw = rng.exponential(1.0)
                weight = 1.0 + p.buyer_leverage * revenue_share[a]
                pending[a] = (p.demand_rate * (1.0 + aspiration[a]) * weight
                              * (price[a] * volume[a]) * draw)
        # 2. KeyBuyer.tender
        for b in range(n_b):
            if (month - 1 - b) % p.contract_months != 0:
                continue
            tenders[b] += 1
            if p.rival_benchmark > 0.0:   # _benchmark_service
                richest = aspiration[b]
                for s in range(1, n_s):
                    richest = _max(richest, aspiration[s * n_b + b])
                for s in range(n_s):
                    a = s * n_b + b
                    aspiration[a] += p.rival_benchmark * (richest - aspiration[a])
            deadlocked = np.zeros(n_s, dtype=np.bool_)
            for s in range(n_s):
                a = s * n_b + b
                k = kam_of[a]
                rival = _best_rival_price(price, n_s, n_b, b, s)
                target = _target_price(p, d, price[a], aspiration[a], revenue_share[a], rival)
                review = levers[s, _REVIEW]
                rounds = max(2, p.negotiation_rounds - round(review * p.review_rounds_lost))
                seller = _kam_stance(p, d, levers[s], price[a], dependence[a], renegotiate[a],
                                     target, skill[k], alignment[k], felt[k])
                reach = _reach(p, levers[s], skill[k], familiarity[k, b])
                buyer = _buyer_stance(p, detachment[b], n_s, price[a], rival, target, reach)
                agreed, outcome_price, _ = _alternating_offers(seller, buyer, rounds)
                if agreed:
                    amount = (price[a] - outcome_price) * volume[a]
                    if amount > 0.0:
                        tr_concessions[kpi_count[k] % p.kpi_months] += amount
                # KAM.after_negotiation
                own = 1.0 - p.senior_share * levers[s, _SENIOR]
                if not agreed:
                    stress[k] += own * p.stress_deadlock
                    hard[k] = True
                else:
                    if outcome_price <= target:
                        stress[k] += own * p.stress_pliant
                        hard[k] = True
                    if outcome_price < _floor_price(p, d, levers[s], dependence[a]):
                        stress[k] += own * p.stress_below_floor
                        hard[k] = True
                # KeyBuyer._after_negotiation
                if agreed:
                    asked = price[a] - target
                    got = price[a] - outcome_price
                    if got >= asked:
                        outcome = 1.0
                    elif asked > 0:
                        outcome = _max(0.0, got / asked)
                    else:
                        outcome = 1.0
                    if got >= asked:
                        aspiration[a] = _min(p.max_aspiration, aspiration[a] + p.ratchet)
                    else:
                        aspiration[a] *= 1.0 - p.ratchet
                    price[a] = outcome_price
                else:
                    outcome = 0.0
                    deadlocks[b] += 1
                satisfaction[a] += p.tender_weight * (outcome - satisfaction[a])
                deals_reviewed[s] += review
                deadlocked[s] = not agreed
            before = np.empty(n_s)
            for s in range(n_s):
                before[s] = volume[s * n_b + b]
            _reallocate(p, buyer_volume[b], n_s, n_b, b, price, satisfaction, volume,
                        familiarity, kam_of, deadlocked)
            for s in range(n_s):
                a = s * n_b + b
                lost = (before[s] - volume[a]) * price[a]
                if lost > 0.0:   # KAM.take_blame
                    k = kam_of[a]
                    own = 1.0 - p.senior_share * levers[s, _SENIOR]
                    stress[k] += own * p.blame_weight * (lost / monthly_revenue[s])
        # 3. KAM.respond
        for k in range(n_a):
            s = k // n_b
            a = account_of[k]
            b = a % n_b
            must = _must_agree(p, felt[k], skill[k])
            loyal_refusal = alignment[k] * (1.0 - p.refusal_pressure * must * (1.0 - skill[k]))
            reviewed = 1.0 if renegotiate[a] else levers[s, _REVIEW]
            share_granted = (1.0 - reviewed) * (1.0 - loyal_refusal)
            granted[a] = share_granted * pending[a]
            typical = _max(p.demand_rate, 1e-3) * _max(price[a] * volume[a], 1e-9)
            granted_load = granted[a] / typical
            refused_load = (pending[a] - granted[a]) / typical
            ops_time[k] = p.ops_base + p.ops_span * granted_load / (1.0 + granted_load)
            nego_time[k] = (p.nego_base * (p.nego_floor + (1.0 - p.nego_floor) * alignment[k])
                            + p.nego_push * refused_load / (1.0 + refused_load))
            learn_time[k] = (p.learn_time * levers[s, _TRAINING]
                             * (1.0 - _operational_share(ops_time[k], nego_time[k])))
            reach = _reach(p, levers[s], skill[k], familiarity[k, b])
            escalation = detachment[b] * (1.0 - reach)
            stress[k] += (p.stress_refusal * escalation * refused_load
                          / (1.0 + refused_load))
        # 4. Supplier.deliver
        for s in range(n_s):
            key_volume = 0.0
            for b in range(n_b):
                key_volume += volume[s * n_b + b]
            pool = capacity[s] - d.key_service_per_unit * key_volume
            for b in range(n_b):   # a stable sort by the KAMs' alignment
                j = b
                while j > 0 and alignment[kam_of[s * n_b + order[j - 1]]] > alignment[
                        kam_of[s * n_b + b]]:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = b
            total = weight = 0.0
            for i in range(n_b):
                b = order[i]
                a = s * n_b + b
                given = _min(granted[a], _max(0.0, pool))
                delivered[a] = given
                pool -= given
                if pending[a] > 0.0:   # KeyBuyer.record_service
                    satisfaction[a] += p.service_weight * (given / pending[a] - satisfaction[a])
                k = kam_of[a]
                seen_success[k] = 1.0 - kpi_gap[k]
                seen_work[k] = _operational_share(ops_time[k], nego_time[k])
                total += seen_success[k] * seen_work[k]
                weight += seen_success[k]
            pool_left[s] = pool
            peer_sum[s] = total
            peer_weight[s] = weight
        # 5. KAM.update
        for k in range(n_a):
            s = k // n_b
            a = account_of[k]
            b = a % n_b
            pressure = _min(1.0, _max(0.0, kam_pressure + pressure_offset[s]))
            _track_kpi(p, d, k, price[a], volume[a], delivered[a], pressure, kpi_started,
                       kpi_count, volume_sum, profit_sum, quota_volume, quota_profit)
            kpi_gap[k] = _kpi_gap(levers[s, _KPI_MARGIN], kpi_count[k], quota_volume[k],
                                  volume_sum[k], profit_sum[k], quota_profit[k])
            progress = (kpi_count[k] + 1) / p.kpi_months
            kpi = p.w_base + p.w_gap * kpi_gap[k] + p.w_deadline * progress
            keep = p.keep_client_override * dependence[a]
            felt[k] = (pressure * kpi + p.w_keep * keep + p.w_stress * stress[k]
                       - p.w_skill * skill[k])
            operational = _operational_share(ops_time[k], nego_time[k])
            if hard[k]:   # KAM._try_to_learn
                must = _must_agree(p, felt[k], skill[k])
                support = (p.learn_base + p.learn_training * levers[s, _TRAINING] * (1.0 - must)
                           + p.learn_senior * levers[s, _SENIOR])
                chance = _min(1.0, p.learning_ability * support * (1.0 - operational)
                              * alignment[k])
                if rng.random() < chance:
                    skill[k] += p.skill_step * (1.0 - skill[k])
                    stress[k] *= 1.0 - p.learn_relief
                hard[k] = False
            behaviour = p.id_ops * operational + (1.0 - p.id_ops) * satisfaction[a]
            if p.peer_influence > 0.0:   # Supplier.peer_behaviour
                weight = peer_weight[s] - seen_success[k]
                if not (n_b < 2 or weight <= 1e-12):
                    peers = (peer_sum[s] - seen_success[k] * seen_work[k]) / weight
                    behaviour += p.peer_influence * (peers - behaviour)
            identification[k, b] += p.id_rate * (behaviour - identification[k, b])
            for other in range(n_b):   # ties to accounts he left fade (never-held ones are 0)
                if other != b:
                    identification[k, other] *= 1.0 - p.id_rate
            drive = _logistic((felt[k] + p.identification_gain * identification[k, b]
                               - p.theta) / p.g_width)
            drift = 1.0 - alignment[k]
            drift += p.capture_speed * ((1.0 - drift) * drive - p.employer_pull * drift)
            if pinned[k]:
                alignment[k] = p.pinned_alignment
            else:
                alignment[k] = _min(1.0, _max(0.0, 1.0 - drift))
            stress[k] *= p.stress_keep
            familiarity[k, b] = _min(1.0, familiarity[k, b] + 1.0 / p.familiarity_months)
        # 6. Supplier.serve_and_book
        for s in range(n_s):
            smb_buffer = _serve_and_book(
                p, d, rng, s, month, levers, price, volume, delivered, revenue_share,
                dependence, profit, year_profit, renegotiate, learn_time, kam_of,
                smb_buffer, smb_count, smb_initial, smb_mean, service_level,
                lost_to_service, monthly_revenue, overhead, kam_month_cost, cushion,
                deals_reviewed, handovers, equity, cumulative, failed, s_year_profit,
                s_year_revenue, restructuring, pool_left, ledger, initial_key_price)
        # 7. KAMMarket._rotate
        for s in range(n_s):
            months = int(levers[s, _ROTATION])
            if months == 0:
                continue
            offset = s * months // n_s
            if (month + offset) % months != 0 or n_b < 2:
                continue
            for b in range(n_b):
                order[b] = kam_of[s * n_b + b]
            for b in range(n_b):
                a = s * n_b + b
                incoming = order[(b - 1) % n_b]
                leaving = kam_of[a]
                held = account_of[leaving] % n_b   # the tie he holds now
                satisfaction[a] *= 1.0 - p.handover_trust_loss * familiarity[leaving, held]
                handovers[s] += 1
                account_of[incoming] = a
                kam_of[a] = incoming
        if month == p.pressure_change_month:
            kam_pressure = p.pressure_after_change
        # Trace.record
        t = month - 1
        key_volume = key_revenue = 0.0
        for a in range(n_a):
            tr_profit[t, a] = profit[a]
            key_volume += volume[a]
            key_revenue += price[a] * volume[a]
        tr_key_price[t] = key_revenue / key_volume
        captured = 0
        aligned = identified = 0.0
        for k in range(n_a):
            tr_alignment[t, k] = alignment[k]
            tr_operational[t, k] = _operational_share(ops_time[k], nego_time[k])
            tr_activity[t, k] = ops_time[k] + nego_time[k] + learn_time[k]
            if alignment[k] < CAPTURED_BELOW:
                captured += 1
            aligned += alignment[k]
            identified += identification[k, account_of[k] % n_b]
        tr_captured[t] = captured
        tr_mean_alignment[t] = aligned / n_a
        tr_mean_identification[t] = identified / n_a
        if _at_steady_state(p, month, tr_captured, tr_mean_alignment, tr_mean_identification):
            steady = True
            break

    for k in range(n_a):
        kam_out[0, k] = alignment[k]
        kam_out[1, k] = skill[k]
        kam_out[2, k] = _operational_share(ops_time[k], nego_time[k])
        kam_out[3, k] = ops_time[k] + nego_time[k] + learn_time[k]
        kam_out[4, k] = account_of[k] % n_b
    for a in range(n_a):
        account_out[0, a] = price[a]
        account_out[1, a] = satisfaction[a]
    for s in range(n_s):
        supplier_out[0, s] = smb_initial[s]
        supplier_out[1, s] = failed[s]
    return month, steady, tenders.sum(), deadlocks.sum(), smb_buffer


@_jit
def _operational_share(operational: float, negotiating: float) -> float:
    """:attr:`KAM.operational_share`."""
    working = operational + negotiating
    return operational / working if working > 0.0 else 0.0


@_jit
def _must_agree(p: Any, felt: float, skill: float) -> float:
    """:attr:`KAM.must_agree`."""
    coping = 1.0 - p.coping_skill * skill
    pressure = _max(0.0, felt) * coping
    return pressure / (1.0 + pressure)


@_jit
def _reach(p: Any, levers: np.ndarray, skill: float, familiarity: float) -> float:
    """:attr:`KAM.reach`."""
    return _min(1.0, p.reach_skill * skill + p.reach_senior * levers[_SENIOR]
                + p.reach_familiarity * familiarity)


@_jit
def _floor_price(p: Any, d: Any, levers: np.ndarray, dependence: float) -> float:
    """:meth:`KAM.floor_price`."""
    margin = p.min_margin + p.margin_kpi_floor * levers[_KPI_MARGIN]
    keep = p.keep_client_override * dependence
    return d.key_unit_cost + margin * (1.0 - keep)


@_jit
def _best_rival_price(price: np.ndarray, n_s: int, n_b: int, b: int, s: int) -> float:
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
            best = _min(best, value)
    return best


@_jit
def _target_price(p: Any, d: Any, price: float, aspiration: float, revenue_share: float,
                  rival: float) -> float:
    """:meth:`KeyBuyer.target_price` (with ``procedural_price``)."""
    weight = 1.0 + p.buyer_leverage * revenue_share
    cut = (p.price_cut_target * p.contract_months / MONTHS_PER_YEAR * (1.0 + aspiration)
           * weight)
    own = price * (1.0 - cut)
    best = _min(own, rival)
    procedural = own + p.rival_benchmark * (best - own)
    return _max(procedural, d.viable_price)


@_jit
def _kam_stance(p: Any, d: Any, levers: np.ndarray, price: float, dependence: float,
                renegotiate: bool, target: float, skill: float, alignment: float,
                felt: float) -> tuple:
    """:meth:`KAM.stance`: his own stance, a senior's blended in, the authority floor."""
    floor = _floor_price(p, d, levers, dependence)
    # KAM.own_stance
    m = _must_agree(p, felt, skill)
    reservation = (1.0 - m) * floor + m * _min(floor, target)
    client_wish = target * (1.0 - p.client_wish_weight * (price - target) / price)
    reservation = alignment * reservation + (1.0 - alignment) * _min(reservation, client_wish)
    wish = alignment * price * (1.0 + p.opening_markup) + (1.0 - alignment) * target
    opening = _max(wish, reservation)
    habit = math.exp((1.0 - skill) * math.log(p.smb_habit_beta)
                     + skill * math.log(p.skilled_beta))
    beta = habit * (1.0 + m) * (1.0 + p.captured_tactic_gain * (1.0 - alignment))
    delta = p.patience_base - p.patience_loss * m
    reciprocity = p.smb_reciprocity * (1.0 - skill) * (1.0 - m) * alignment
    senior = levers[_SENIOR]
    if senior > 0.0:   # blend with KAM.senior_stance
        s_opening = _max(floor, price * (1.0 + p.opening_markup))
        s_beta = p.skilled_beta
        opening = opening + senior * (s_opening - opening)
        reservation = reservation + senior * (floor - reservation)
        beta = math.exp(math.log(beta) + senior * (math.log(s_beta) - math.log(beta)))
        delta = delta + senior * (p.patience_base - delta)
        reciprocity = reciprocity + senior * (0.0 - reciprocity)
    reviewed = 1.0 if renegotiate else levers[_REVIEW]
    authority_floor = 1.0 + (floor - 1.0) * reviewed
    if reservation >= authority_floor:
        return (opening, reservation, beta, delta, reciprocity)
    return (_max(opening, authority_floor), authority_floor, beta, delta, reciprocity)


@_jit
def _buyer_stance(p: Any, detachment: float, n_s: int, price: float, rival: float,
                  target: float, reach: float) -> tuple:
    """:meth:`KeyBuyer.stance`."""
    d = detachment * (1.0 - reach)
    firm_walkaway = rival * (1.0 + p.switching_cost)
    reservation = _min(firm_walkaway, d * target + (1.0 - d) * firm_walkaway)
    opening = _min(reservation, price - p.opening_cut * (price - target))
    alternatives = n_s - 1
    beta = (p.owner_beta ** (1 - d) * p.detached_beta ** d
            * math.sqrt(2.0 / (1 + alternatives)))
    delta = p.owner_delta + (p.detached_delta - p.owner_delta) * d
    return (opening, reservation, beta, delta, p.owner_reciprocity * (1.0 - d))


@_jit
def _reallocate(p: Any, buyer_volume: float, n_s: int, n_b: int, b: int, price: np.ndarray,
                satisfaction: np.ndarray, volume: np.ndarray, familiarity: np.ndarray,
                kam_of: np.ndarray, deadlocked: np.ndarray) -> None:
    """:meth:`KeyBuyer._reallocate`."""
    prices = np.empty(n_s)
    sat = np.empty(n_s)
    knowledge = np.empty(n_s)
    volumes = np.empty(n_s)
    for s in range(n_s):
        a = s * n_b + b
        prices[s] = price[a]
        sat[s] = satisfaction[a]
        knowledge[s] = familiarity[kam_of[a], b]
        volumes[s] = volume[a]
    price_mean, sat_mean, knowledge_mean = _mean(prices), _mean(sat), _mean(knowledge)
    utility = np.empty(n_s)
    for s in range(n_s):
        utility[s] = (-p.price_sensitivity * (prices[s] / price_mean - 1.0)
                      + p.service_sensitivity * (sat[s] - sat_mean)
                      + p.knowledge_sensitivity * (knowledge[s] - knowledge_mean))
    top = utility.max()
    weight = np.empty(n_s)
    for s in range(n_s):
        weight[s] = math.exp(utility[s] - top)
    rivals = np.empty(n_s)
    for k in range(n_s):
        if not deadlocked[k]:
            continue
        rivals[:] = weight
        rivals[k] = 0.0
        total = _sum(rivals)
        if total > 0.0:
            moved = p.breakdown_shift * volumes[k]
            volumes[k] -= moved
            for s in range(n_s):
                volumes[s] += moved * rivals[s] / total
    total = _sum(weight)
    for s in range(n_s):
        preferred = buyer_volume * weight[s] / total
        volumes[s] += p.reallocation_speed * (preferred - volumes[s])
        volume[s * n_b + b] = volumes[s]


@_jit
def _track_kpi(p: Any, d: Any, k: int, price: float, volume: float, delivered: float,
               pressure: float, started: np.ndarray, count: np.ndarray,
               volume_sum: np.ndarray, profit_sum: np.ndarray, quota_volume: np.ndarray,
               quota_profit: np.ndarray) -> None:
    """:meth:`KAM._track_kpi` and ``_new_kpi_year``."""
    profit = (price - d.key_unit_cost) * volume - delivered
    growth = 1.0 + p.quota_stretch * pressure
    if not started[k]:
        started[k] = True
        quota_volume[k] = volume * growth
        quota_profit[k] = _max(profit, 1e-9) * growth
        volume_sum[k] = profit_sum[k] = 0.0
        count[k] = 0
    count[k] += 1
    volume_sum[k] += volume
    profit_sum[k] += profit
    if count[k] == p.kpi_months:
        quota_volume[k] = volume * growth
        quota_profit[k] = _max(profit, 1e-9) * growth
        volume_sum[k] = profit_sum[k] = 0.0
        count[k] = 0


@_jit
def _kpi_gap(margin_weight: float, months: int, quota_volume: float, volume_sum: float,
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
    return _min(1.0, _max(0.0, gap))


@_jit
def _people_cost(p: Any, s: int, n_b: int, levers: np.ndarray, learn_time: np.ndarray,
                 kam_of: np.ndarray, deals_reviewed: np.ndarray, handovers: np.ndarray,
                 kam_month_cost: np.ndarray) -> tuple:
    """:meth:`Supplier.people_cost`."""
    kam_months = n_b * (1.0 + levers[s, _SENIOR] * p.senior_time * p.senior_cost_rate
                        + levers[s, _TRAINING] * p.training_fee / MONTHS_PER_YEAR)
    learning = 0.0
    for b in range(n_b):
        learning += learn_time[kam_of[s * n_b + b]]
    kam_months += learning
    kam_months += p.review_time * deals_reviewed[s]
    kam_months += p.handover_months * handovers[s]
    return kam_months * kam_month_cost[s], (kam_months - n_b) * kam_month_cost[s]


@_jit
def _serve_and_book(p: Any, d: Any, rng: np.random.Generator, s: int, month: int,
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
    smb_volume = _pairwise(smb_buffer[s], 0, n)
    smb_need = p.service_cost * smb_volume
    if smb_need <= 0.0:
        service_level[s] = 1.0
    else:
        service_level[s] = _min(1.0, _max(0.0, pool_left[s] / smb_need))
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
    growth = levers[s, _GROWTH]
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

    people, lever_people = _people_cost(p, s, n_b, levers, learn_time, kam_of,
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
        cushion[s] += (_max(0.0, month_profit) - cushion[s]) / p.kpi_months
    s_year_profit[s] += month_profit
    cumulative[s] += month_profit
    if not failed[s] and cumulative[s] < -equity[s]:
        failed[s] = month
    for b in range(n_b):
        a = s * n_b + b
        contribution = (price[a] - d.key_unit_cost) * volume[a] - delivered[a]
        profit[a] = contribution - kam_month_cost[s]
        year_profit[a] += profit[a]
        loss = p.breakdown_shift * _max(0.0, contribution)
        dependence[a] = loss / (loss + cushion[s]) if loss > 0.0 else 0.0
    s_year_revenue[s] += revenue
    if month % p.kpi_months == 0:   # Supplier.close_year
        for b in range(n_b):
            a = s * n_b + b
            renegotiate[a] = year_profit[a] < 0.0
            year_profit[a] = 0.0
        if s_year_profit[s] < 0.0:
            resized = p.overhead_share * s_year_revenue[s] / p.kpi_months
            saving = _max(0.0, overhead[s] - resized)
            overhead[s] -= saving
            restructuring[s] = p.restructuring_cost * MONTHS_PER_YEAR * saving
        s_year_profit[s] = s_year_revenue[s] = 0.0
    return smb_buffer


@_jit
def _at_steady_state(p: Any, t: int, captured: np.ndarray, mean_alignment: np.ndarray,
                     mean_identification: np.ndarray) -> bool:
    """:meth:`KAMMarket._at_steady_state` (the horizon ends the loop itself)."""
    if t >= p.horizon_months:
        return False
    window = p.steady_state_window
    if window == 0 or t < max(FIVE_YEARS, window + 1, p.pressure_change_month + window):
        return False
    low = high = captured[t - window - 1]
    for i in range(t - window - 1, t):
        low = min(low, captured[i])
        high = max(high, captured[i])
    if low != high:
        return False
    tolerance = p.steady_state_tolerance
    return (abs(mean_alignment[t - 1] - mean_alignment[t - window - 1]) < tolerance
            and abs(mean_identification[t - 1] - mean_identification[t - window - 1])
            < tolerance)


# --- the Python side ----------------------------------------------------------------------
def _scalars(params: Parameters) -> Any:
    """The scalar parameters as the compiled code reads them (ints stay ints)."""
    values = []
    for name in SCALARS:
        value = getattr(params, name)
        values.append(int(value) if name in _INTEGERS else float(value))
    return _P(*values)


def record(params: Parameters, seed: int) -> RunRecord:
    """Run the model once on the compiled engine; return its :class:`RunRecord`."""
    p = params
    n_s, n_b = p.n_suppliers, p.n_key_buyers
    n_a, months = n_s * n_b, p.horizon_months
    derived = _D(key_unit_cost(p), key_service_per_unit(p), smb_unit_cost(p), smb_price(p),
                 viable_price(p))
    buyer_volume = np.array([float(v) for v in
                             p.key_buyer_volume * p.n_key_buyers * key_buyer_weights(p)])
    detachment = np.array(p.buyer_detachments if p.buyer_detachments
                          else [p.buyer_detachment] * n_b, dtype=float)
    offsets = np.array([q - p.kam_pressure for q in p.supplier_pressures]
                       if p.supplier_pressures else [0.0] * n_s, dtype=float)
    levers = np.array([[float(getattr(Levers.of(p, s), name)) for name in _LEVERS]
                       for s in range(n_s)])
    ledger = np.zeros((n_s, months, _ITEMS))
    trace = Trace(months, n_a, p.kpi_months)
    kam_out = np.zeros((5, n_a))
    account_out = np.zeros((2, n_a))
    supplier_out = np.zeros((2, n_s), dtype=np.int64)
    smb_count = np.zeros(n_s, dtype=np.int64)
    smb_buffer = np.zeros((n_s, 2 * p.n_smb_clients))
    done, steady, tenders, deadlocks, smb_buffer = _simulate(
        _scalars(p), derived, np.random.default_rng(seed), buyer_volume, detachment, offsets,
        levers, ledger, trace.alignment, trace.account_profit, trace.operational_share,
        trace.activity, trace.key_price, trace.captured, trace.mean_alignment,
        trace.mean_identification, trace.concessions_by_kpi_month, kam_out, account_out,
        supplier_out, smb_buffer, smb_count)
    return RunRecord(
        params=p, months=int(done), steady=bool(steady), initial_key_price=derived.smb_price,
        ledgers=[Ledger.of_rows(ledger[s]) for s in range(n_s)], trace=trace,
        kam_supplier=np.arange(n_a) // n_b, kam_buyer=kam_out[4].astype(int),
        kam_alignment=kam_out[0], kam_skill=kam_out[1], kam_operational_share=kam_out[2],
        kam_activity=kam_out[3], account_price=account_out[0],
        account_satisfaction=account_out[1], account_buyer=np.arange(n_a) % n_b,
        tenders=int(tenders), deadlocks=int(deadlocks), smb_price=derived.smb_price,
        smb_initial_count=supplier_out[0].copy(),
        smb_volumes=[smb_buffer[s, :smb_count[s]].copy() for s in range(n_s)],
        failed_month=supplier_out[1].copy())


def run_compiled(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """One run on the compiled engine: what :func:`kamabm.model.run.run_one` returns."""
    return result(record(params, seed), tuple(keep_series))
