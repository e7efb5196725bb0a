"""Key account managers: negotiation stance, learning versus capture (E3, E6 to E11).

A KAM's state is his skill with detached negotiators, his *alignment* with the employer
(1 loyal, 0 the client's agent), his *identification* with the client, his stress and
the pressure he feels. Capture is not computed from inputs: it is a state the KAM
reaches when the forces on his alignment, fed by what happens at the negotiating table
and in his diary, tip him over.

* Felt pressure rises with management pressure (quota and KPI gap, the end of the KPI
  year), with the account's share of his firm's turnover and with stress left by hard
  negotiations; it falls with skill and senior support.
* Alignment follows ``L' = L + eta * ((1 - L) * g(P + k * I - theta) - r * L)`` with
  ``L = 1 - alignment``, ``g`` logistic, ``I`` identification and ``r`` the employer's
  pull. Identification is not ``L`` itself: it is built from what the KAM does
  (time spent fulfilling the client's demands) and how the client treats him (its
  satisfaction), so the reinforcing loop runs through behaviour (E9 to E11).
* After a hard negotiation, a KAM with time to reflect may learn (E7): skill rises,
  his tactic moves from the SMB-learned Conceder habit toward Boulware, stress falls.
* A captured KAM concedes further, passes the client's demands into his own firm and
  spends his time on fulfilment; his activity does not fall (E9, E10).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

from kamabm.negotiation import Outcome, Side

if TYPE_CHECKING:
    from kamabm.account import Account
    from kamabm.model import KAMMarket
    from kamabm.supplier import Supplier

#: Alignment below which a KAM counts as captured (between the two stable states).
CAPTURED_BELOW = 0.5
#: Margin over full unit cost below which a loyal KAM will not sell.
MIN_MARGIN = 0.10
#: Extra walk-away margin when the KPI is all margin.
MARGIN_KPI_FLOOR = 0.10
#: Tactic exponent a fully skilled KAM uses against detached negotiators.
SKILLED_BETA = 0.5
#: Weights of the parts of felt pressure.
W_BASE, W_GAP, W_DEADLINE = 0.3, 1.5, 0.4
W_STAKE, W_STRESS, W_SKILL, W_SENIOR = 0.5, 1.0, 0.8, 0.4
#: Identification threshold and width of the logistic drive to the client's side.
THETA, G_WIDTH = 4.2, 0.3
#: Monthly rates: identification follows behaviour; stress decays.
ID_RATE, STRESS_KEEP = 0.15, 0.8
#: Weight of client-side work (vs. the client's approval) in what identification follows.
ID_OPS = 0.85
#: Stress added by a deadlock, a deal at or below the buyer's target, a deal below floor.
STRESS_DEADLOCK, STRESS_PLIANT, STRESS_BELOW_FLOOR = 0.5, 0.15, 0.3
#: Stress from refusing a detached negotiator's demands (he escalates by procedure).
STRESS_REFUSAL = 0.3
#: Skill gained by one learning step (share of the remaining gap).
SKILL_STEP = 0.2
#: Time model, in months of a full-time KAM.
OPS_BASE, OPS_SPAN, NEGO_BASE, NEGO_PUSH, LEARN_TIME = 0.15, 1.4, 0.5, 0.4, 0.1
#: Monthly gain of familiarity with the account (relationship value lost by rotation).
FAMILIARITY_STEP = 1.0 / 12.0
#: Length of the KPI year.
KPI_MONTHS = 12


def logistic(x: float) -> float:
    """Standard logistic function, safe for large arguments."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class KAM(mesa.Agent):
    """A key account manager employed by a supplier and in charge of one key account."""

    model: KAMMarket

    def __init__(self, model: KAMMarket, supplier: Supplier) -> None:
        super().__init__(model)
        p = model.params
        self.supplier = supplier
        self.account: Account | None = None
        self.skill = p.initial_skill
        self.alignment = 1.0
        self.identification = 0.0
        self.stress = 0.0
        self.felt_pressure = 0.0
        self.familiarity = 0.0
        self.operational_time = OPS_BASE
        self.negotiating_time = NEGO_BASE
        self.learning_time = 0.0
        self.hard_negotiation = False
        self._kpi_quota_volume = 0.0
        self._kpi_quota_profit = 0.0
        self._kpi_volume_sum = 0.0
        self._kpi_profit_sum = 0.0
        self._kpi_months = 0

    # --- derived state -----------------------------------------------------------------
    @property
    def captured(self) -> bool:
        """Whether the KAM is now the client's agent (alignment below the midpoint)."""
        return self.alignment < CAPTURED_BELOW

    @property
    def activity(self) -> float:
        """Total time worked this month (negotiating, fulfilling, learning)."""
        return self.operational_time + self.negotiating_time + self.learning_time

    @property
    def operational_share(self) -> float:
        """Share of working time spent on fulfilment rather than negotiation (E10)."""
        return self.operational_time / (self.operational_time + self.negotiating_time)

    @property
    def reach(self) -> float:
        """How far the KAM reconnects the buyer to its firm's financial result (E7).

        Skill (seeking causes), senior colleagues and knowing the account let him talk
        past a procedural negotiator to the people who own the buyer's result.
        """
        p = self.model.params
        return min(1.0, 0.5 * self.skill + 0.3 * p.senior_support + 0.2 * self.familiarity)

    @property
    def must_agree(self) -> float:
        """Weight in [0, 1) of "we have to agree" in his stance (E8)."""
        coping = 1.0 - 0.5 * self.skill
        pressure = max(0.0, self.felt_pressure) * coping
        return pressure / (1.0 + pressure)

    def floor_price(self) -> float:
        """The lowest price a loyal, unpressured KAM accepts (his firm's walk-away)."""
        p = self.model.params
        return 1.0 + p.service_cost + MIN_MARGIN + MARGIN_KPI_FLOOR * p.kpi_margin_weight

    # --- stage: negotiate ----------------------------------------------------------------
    def stance(self, account: Account, target: float) -> Side:
        """Opening, walk-away, tactic and patience for renegotiating ``account``.

        Under pressure he is ready to go to the buyer's target ("we have to agree");
        captured, he weighs the client's wish (its opening) as his own. Limited pricing
        authority (deal review) keeps him above a floor.
        """
        p = self.model.params
        floor = self.floor_price()
        m = self.must_agree
        reservation = (1.0 - m) * floor + m * min(floor, target)
        client_wish = target * (1.0 - 0.5 * (account.price - target) / account.price)
        reservation = self.alignment * reservation + (1.0 - self.alignment) * min(
            reservation, client_wish)
        authority_floor = 1.0 + (floor - 1.0) * p.deal_review
        reservation = max(reservation, authority_floor)
        wish = self.alignment * account.price * 1.03 + (1.0 - self.alignment) * target
        opening = max(wish, reservation)
        habit = math.exp((1.0 - self.skill) * math.log(p.smb_habit_beta)
                         + self.skill * math.log(SKILLED_BETA))
        beta = habit * (1.0 + m) * (1.0 + 3.0 * (1.0 - self.alignment))
        delta = 0.95 - 0.15 * m
        # The SMB habit: mirror the other side's concessions. Skill replaces it with a
        # deliberate tactic; pressure and capture override it ("we have to agree").
        reciprocity = p.smb_reciprocity * (1.0 - self.skill) * (1.0 - m) * self.alignment
        return Side(opening=opening, reservation=reservation, beta=beta, delta=delta,
                    reciprocity=reciprocity)

    def after_negotiation(self, account: Account, outcome: Outcome, target: float) -> None:
        """Feel the result of a negotiation: stress, and whether it was a hard one."""
        if not outcome.agreed:
            self.stress += STRESS_DEADLOCK
            self.hard_negotiation = True
            return
        if outcome.price <= target:
            self.stress += STRESS_PLIANT
            self.hard_negotiation = True
        if outcome.price < self.floor_price():
            self.stress += STRESS_BELOW_FLOOR
            self.hard_negotiation = True

    # --- stage: respond ------------------------------------------------------------------
    def respond(self) -> None:
        """Handle the client's extra demands and spend the month's time (E9, E10).

        He pushes through a share of the demands that grows as his alignment falls and as
        pressure mounts; what he grants draws on his firm's money and service resources,
        what he refuses he must argue about.
        """
        p = self.model.params
        account = self.account
        loyal_refusal = self.alignment * (1.0 - 0.5 * self.must_agree * (1.0 - self.skill))
        grant = 1.0 - loyal_refusal
        account.granted_demand = grant * account.pending_demand
        account.buyer.record_service(account)

        typical = max(p.demand_rate, 1e-3) * max(account.revenue, 1e-9)
        granted_load = account.granted_demand / typical
        refused_load = (account.pending_demand - account.granted_demand) / typical
        self.operational_time = OPS_BASE + OPS_SPAN * granted_load / (1.0 + granted_load)
        self.negotiating_time = (NEGO_BASE * (0.4 + 0.6 * self.alignment)
                                 + NEGO_PUSH * refused_load / (1.0 + refused_load))
        self.learning_time = LEARN_TIME * p.training * (1.0 - self.operational_share)
        escalation = account.buyer.detachment * (1.0 - self.reach)
        self.stress += STRESS_REFUSAL * escalation * refused_load / (1.0 + refused_load)

    # --- stage: learn and identify -------------------------------------------------------
    def update(self) -> None:
        """Monthly update of pressure, learning, identification and alignment."""
        p = self.model.params
        account = self.account
        self._track_kpi(account)
        self.felt_pressure = self._felt_pressure(account)

        if self.hard_negotiation:
            self._try_to_learn()
            self.hard_negotiation = False

        behaviour = ID_OPS * self.operational_share + (1.0 - ID_OPS) * account.satisfaction
        self.identification += ID_RATE * (behaviour - self.identification)

        drive = logistic((self.felt_pressure + p.identification_gain * self.identification
                          - THETA) / G_WIDTH)
        pull = p.employer_pull + 0.5 * p.deal_review + 0.5 * p.senior_support
        drift = 1.0 - self.alignment
        drift += p.capture_speed * ((1.0 - drift) * drive - pull * drift)
        self.alignment = min(1.0, max(0.0, 1.0 - drift))

        self.stress *= STRESS_KEEP
        self.familiarity = min(1.0, self.familiarity + FAMILIARITY_STEP)

    def _felt_pressure(self, account: Account) -> float:
        p = self.model.params
        progress = self._kpi_months / KPI_MONTHS
        kpi = W_BASE + W_GAP * self.kpi_gap() + W_DEADLINE * progress
        share = account.revenue_share
        stake = share / (share + p.stake_half)
        return (self.model.kam_pressure * kpi + W_STAKE * stake + W_STRESS * self.stress
                - W_SKILL * self.skill - W_SENIOR * p.senior_support)

    def _try_to_learn(self) -> None:
        p = self.model.params
        # Training helps only when its time is protected from "we have to agree".
        support = 0.5 + 0.5 * p.training * (1.0 - self.must_agree) + 0.5 * p.senior_support
        time_to_reflect = 1.0 - self.operational_share
        # Only a KAM who still sees the deal from his firm's side looks for its causes.
        chance = min(1.0, p.learning_ability * support * time_to_reflect * self.alignment)
        if self.model.rng.random() < chance:
            self.skill += SKILL_STEP * (1.0 - self.skill)
            self.stress *= 0.5

    # --- the KPI contract ---------------------------------------------------------------
    def _track_kpi(self, account: Account) -> None:
        p = self.model.params
        profit = (account.price - 1.0 - p.service_cost) * account.volume - account.granted_demand
        if self._kpi_months == KPI_MONTHS or self._kpi_quota_volume == 0.0:
            growth = 1.0 + p.quota_stretch * self.model.kam_pressure
            self._kpi_quota_volume = account.volume * growth
            self._kpi_quota_profit = max(profit, 1e-9) * growth
            self._kpi_volume_sum = self._kpi_profit_sum = 0.0
            self._kpi_months = 0
        self._kpi_months += 1
        self._kpi_volume_sum += account.volume
        self._kpi_profit_sum += profit

    def kpi_gap(self) -> float:
        """Shortfall of the KPI year so far against quota, in [0, 1]."""
        if self._kpi_months == 0:
            return 0.0
        w = self.model.params.kpi_margin_weight
        volume = self._kpi_volume_sum / self._kpi_months / self._kpi_quota_volume
        profit = self._kpi_profit_sum / self._kpi_months / self._kpi_quota_profit
        gap = (1.0 - w) * (1.0 - volume) + w * (1.0 - profit)
        return min(1.0, max(0.0, gap))

    # --- rotation (lever) ---------------------------------------------------------------
    def take_over(self, account: Account) -> None:
        """Take charge of ``account``: ties to the previous client are left behind."""
        self.account = account
        account.kam = self
        self.identification = 0.0
        self.familiarity = 0.0
