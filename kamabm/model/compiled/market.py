"""The market's monthly schedule (:meth:`kamabm.model.market.KAMMarket.step`), compiled.

State lives in arrays: accounts ``a = supplier * n_key_buyers + buyer``, KAMs in the
market's order (KAM ``k`` starts on account ``k``), each KAM's ties to his supplier's
accounts in ``[k, buyer]`` (a tie never held stays at zero, as a missing one reads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kamabm.model.compiled.agents import (
    best_rival_price,
    buyer_stance,
    floor_price,
    kam_kpi_gap,
    kam_reach,
    kam_stance,
    must_agree,
    operational_share,
    reallocate,
    target_price,
    track_kpi,
)
from kamabm.model.compiled.levers import KPI_MARGIN, REVIEW, ROTATION, SENIOR, TRAINING
from kamabm.model.compiled.negotiation import alternating_offers
from kamabm.model.compiled.numeric import jit, logistic, np_sum, pairwise_sum, py_max, py_min
from kamabm.model.compiled.supplier import people_cost, serve_and_book
from kamabm.model.constants import CAPTURED_BELOW, FIVE_YEARS, MONTHS_PER_YEAR


# --- the simulation -----------------------------------------------------------------------
@jit
def simulate(p: Any, d: Any, rng: np.random.Generator, buyer_volume: np.ndarray,
              detachment: np.ndarray, pressure_offset: np.ndarray, levers: np.ndarray,
              ledger: np.ndarray, tr_alignment: np.ndarray, tr_profit: np.ndarray,
              tr_operational: np.ndarray, tr_activity: np.ndarray, tr_key_price: np.ndarray,
              tr_captured: np.ndarray, tr_mean_alignment: np.ndarray,
              tr_mean_identification: np.ndarray, tr_concessions: np.ndarray,
              tr_holder: np.ndarray, tr_revenue: np.ndarray, kam_out: np.ndarray,
              account_out: np.ndarray, supplier_out: np.ndarray,
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
    opening_revenue = np.zeros(n_s)
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
            scale = smb_revenue / d.smb_price / np_sum(sizes)
            for i in range(n_smb):
                smb_buffer[s, i] = sizes[i] * scale
            smb_mean[s] = pairwise_sum(smb_buffer[s], 0, n_smb) / n_smb
        smb_count[s] = n_smb
        smb_initial[s] = n_smb
        smb_total = pairwise_sum(smb_buffer[s], 0, n_smb)
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
        opening_revenue[s] = monthly_revenue[s]
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
        people = people_cost(p, s, n_b, levers, learn_time, kam_of, deals_reviewed,
                              handovers, kam_month_cost)[0]
        cushion[s] = py_max(0.0, margin - overhead[s] - people)

    # --- KAMMarket.step, month by month ----------------------------------------------------
    month = 0
    steady = False
    order = np.empty(n_b, dtype=np.int64)
    # Scratch space of the tenders, allocated once: who deadlocked, volumes before the
    # reallocation, and the reallocation's own rows.
    deadlocked = np.zeros(n_s, dtype=np.bool_)
    before = np.empty(n_s)
    work = np.empty((7, n_s))
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
                    richest = py_max(richest, aspiration[s * n_b + b])
                for s in range(n_s):
                    a = s * n_b + b
                    aspiration[a] += p.rival_benchmark * (richest - aspiration[a])
            deadlocked[:] = False
            for s in range(n_s):
                a = s * n_b + b
                k = kam_of[a]
                rival = best_rival_price(price, n_s, n_b, b, s)
                target = target_price(p, d, price[a], aspiration[a], revenue_share[a], rival)
                review = levers[s, REVIEW]
                rounds = max(2, p.negotiation_rounds - round(review * p.review_rounds_lost))
                seller = kam_stance(p, d, levers[s], price[a], dependence[a], renegotiate[a],
                                     target, skill[k], alignment[k], felt[k])
                reach = kam_reach(p, levers[s], skill[k], familiarity[k, b])
                buyer = buyer_stance(p, detachment[b], n_s, price[a], rival, target, reach)
                agreed, outcome_price, _ = alternating_offers(seller, buyer, rounds)
                if agreed:
                    amount = (price[a] - outcome_price) * volume[a]
                    if amount > 0.0:
                        tr_concessions[kpi_count[k] % p.kpi_months] += amount
                # KAM.after_negotiation
                own = 1.0 - p.senior_share * levers[s, SENIOR]
                if not agreed:
                    stress[k] += own * p.stress_deadlock
                    hard[k] = True
                else:
                    if outcome_price <= target:
                        stress[k] += own * p.stress_pliant
                        hard[k] = True
                    if outcome_price < floor_price(p, d, levers[s], dependence[a]):
                        stress[k] += own * p.stress_below_floor
                        hard[k] = True
                # KeyBuyer._after_negotiation
                if agreed:
                    asked = price[a] - target
                    got = price[a] - outcome_price
                    if got >= asked:
                        outcome = 1.0
                    elif asked > 0:
                        outcome = py_max(0.0, got / asked)
                    else:
                        outcome = 1.0
                    if got >= asked:
                        aspiration[a] = py_min(p.max_aspiration, aspiration[a] + p.ratchet)
                    else:
                        aspiration[a] *= 1.0 - p.ratchet
                    price[a] = outcome_price
                else:
                    outcome = 0.0
                    deadlocks[b] += 1
                satisfaction[a] += p.tender_weight * (outcome - satisfaction[a])
                deals_reviewed[s] += review
                deadlocked[s] = not agreed
            for s in range(n_s):
                before[s] = volume[s * n_b + b]
            reallocate(p, buyer_volume[b], n_s, n_b, b, price, satisfaction, volume,
                        familiarity, kam_of, deadlocked, work)
            for s in range(n_s):
                a = s * n_b + b
                lost = (before[s] - volume[a]) * price[a]
                if lost > 0.0:   # KAM.take_blame
                    k = kam_of[a]
                    own = 1.0 - p.senior_share * levers[s, SENIOR]
                    stress[k] += own * p.blame_weight * (lost / monthly_revenue[s])
        # 3. KAM.respond
        for k in range(n_a):
            s = k // n_b
            a = account_of[k]
            b = a % n_b
            must = must_agree(p, felt[k], skill[k])
            loyal_refusal = alignment[k] * (1.0 - p.refusal_pressure * must * (1.0 - skill[k]))
            reviewed = 1.0 if renegotiate[a] else levers[s, REVIEW]
            share_granted = (1.0 - reviewed) * (1.0 - loyal_refusal)
            granted[a] = share_granted * pending[a]
            typical = py_max(p.demand_rate, 1e-3) * py_max(price[a] * volume[a], 1e-9)
            granted_load = granted[a] / typical
            refused_load = (pending[a] - granted[a]) / typical
            ops_time[k] = p.ops_base + p.ops_span * granted_load / (1.0 + granted_load)
            nego_time[k] = (p.nego_base * (p.nego_floor + (1.0 - p.nego_floor) * alignment[k])
                            + p.nego_push * refused_load / (1.0 + refused_load))
            learn_time[k] = (p.learn_time * levers[s, TRAINING]
                             * (1.0 - operational_share(ops_time[k], nego_time[k])))
            reach = kam_reach(p, levers[s], skill[k], familiarity[k, b])
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
                given = py_min(granted[a], py_max(0.0, pool))
                delivered[a] = given
                pool -= given
                if pending[a] > 0.0:   # KeyBuyer.record_service
                    satisfaction[a] += p.service_weight * (given / pending[a] - satisfaction[a])
                k = kam_of[a]
                seen_success[k] = 1.0 - kpi_gap[k]
                seen_work[k] = operational_share(ops_time[k], nego_time[k])
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
            pressure = py_min(1.0, py_max(0.0, kam_pressure + pressure_offset[s]))
            track_kpi(p, d, k, price[a], volume[a], delivered[a], pressure, kpi_started,
                       kpi_count, volume_sum, profit_sum, quota_volume, quota_profit)
            kpi_gap[k] = kam_kpi_gap(levers[s, KPI_MARGIN], kpi_count[k], quota_volume[k],
                                  volume_sum[k], profit_sum[k], quota_profit[k])
            progress = (kpi_count[k] + 1) / p.kpi_months
            kpi = p.w_base + p.w_gap * kpi_gap[k] + p.w_deadline * progress
            keep = p.keep_client_override * dependence[a]
            felt[k] = (pressure * kpi + p.w_keep * keep + p.w_stress * stress[k]
                       - p.w_skill * skill[k])
            operational = operational_share(ops_time[k], nego_time[k])
            if hard[k]:   # KAM._try_to_learn
                must = must_agree(p, felt[k], skill[k])
                support = (p.learn_base + p.learn_training * levers[s, TRAINING] * (1.0 - must)
                           + p.learn_senior * levers[s, SENIOR])
                chance = py_min(1.0, p.learning_ability * support * (1.0 - operational)
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
            drive = logistic((felt[k] + p.identification_gain * identification[k, b]
                               - p.theta) / p.g_width)
            drift = 1.0 - alignment[k]
            drift += p.capture_speed * ((1.0 - drift) * drive - p.employer_pull * drift)
            if pinned[k]:
                alignment[k] = p.pinned_alignment
            else:
                alignment[k] = py_min(1.0, py_max(0.0, 1.0 - drift))
            stress[k] *= p.stress_keep
            familiarity[k, b] = py_min(1.0, familiarity[k, b] + 1.0 / p.familiarity_months)
        # 6. Supplier.serve_and_book
        for s in range(n_s):
            smb_buffer = serve_and_book(
                p, d, rng, s, month, levers, price, volume, delivered, revenue_share,
                dependence, profit, year_profit, renegotiate, learn_time, kam_of,
                smb_buffer, smb_count, smb_initial, smb_mean, service_level,
                lost_to_service, monthly_revenue, overhead, kam_month_cost, cushion,
                deals_reviewed, handovers, equity, cumulative, failed, s_year_profit,
                s_year_revenue, restructuring, pool_left, ledger, initial_key_price)
        # 7. KAMMarket._rotate
        for s in range(n_s):
            months = int(levers[s, ROTATION])
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
            tr_revenue[t, a] = price[a] * volume[a]
            tr_holder[t, a] = kam_of[a]
            key_volume += volume[a]
            key_revenue += price[a] * volume[a]
        tr_key_price[t] = key_revenue / key_volume
        captured = 0
        aligned = identified = 0.0
        for k in range(n_a):
            tr_alignment[t, k] = alignment[k]
            tr_operational[t, k] = operational_share(ops_time[k], nego_time[k])
            tr_activity[t, k] = ops_time[k] + nego_time[k] + learn_time[k]
            if alignment[k] < CAPTURED_BELOW:
                captured += 1
            aligned += alignment[k]
            identified += identification[k, account_of[k] % n_b]
        tr_captured[t] = captured
        tr_mean_alignment[t] = aligned / n_a
        tr_mean_identification[t] = identified / n_a
        if at_steady_state(p, month, tr_captured, tr_mean_alignment, tr_mean_identification):
            steady = True
            break

    for k in range(n_a):
        kam_out[0, k] = alignment[k]
        kam_out[1, k] = skill[k]
        kam_out[2, k] = operational_share(ops_time[k], nego_time[k])
        kam_out[3, k] = ops_time[k] + nego_time[k] + learn_time[k]
        kam_out[4, k] = account_of[k] % n_b
    for a in range(n_a):
        account_out[0, a] = price[a]
        account_out[1, a] = satisfaction[a]
    for s in range(n_s):
        supplier_out[0, s] = smb_initial[s]
        supplier_out[1, s] = failed[s]
        supplier_out[2, s] = opening_revenue[s]
    return month, steady, tenders.sum(), deadlocks.sum(), smb_buffer


@jit
def at_steady_state(p: Any, t: int, captured: np.ndarray, mean_alignment: np.ndarray,
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
