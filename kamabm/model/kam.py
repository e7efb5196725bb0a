"""Key account managers: negotiation stance, learning versus capture (E3, E6 to E11).

A KAM's own state is his skill with detached negotiators, his *alignment* with the
employer (1 loyal, 0 the client's agent), his stress and the pressure he feels. What he
has with a client (identification with it, knowledge of the account) belongs to the
(KAM, account) pair, a :class:`Tie`: a KAM who takes over another account starts that
tie from nothing, and keeps, fading, the one he left. Capture is not computed from
inputs: it is a state the KAM reaches when the forces on his alignment, fed by what
happens at the negotiating table, in his diary and among his colleagues, tip him over.

* Felt pressure rises with management pressure (quota and KPI gap, the end of the KPI
  year), with management's "keep the client" instruction when the firm cannot afford to
  lose the account, and with stress left by hard negotiations and by the blame for lost
  volume (which grows with the share of the firm's turnover lost); it falls with skill
  and senior support.
* Alignment follows ``L' = L + eta * ((1 - L) * g(P + k * I - theta) - r * L)`` with
  ``L = 1 - alignment``, ``g`` logistic, ``I`` identification and ``r`` the employer's
  pull. Identification is built from what the KAM does (time spent fulfilling the
  client's demands), how the client treats him (its satisfaction) and what his more
  successful colleagues do (peer influence), so the reinforcing loop runs through
  behaviour (E9 to E11).
* After a hard negotiation, a KAM with time to reflect may learn (E7): skill rises,
  his tactic moves from the SMB-learned Conceder habit toward Boulware, stress falls.
* A captured KAM concedes further, passes the client's demands into his own firm and
  spends his time on fulfilment; his activity does not fall (E9, E10).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import mesa

from kamabm.model.derived import key_unit_cost
from kamabm.model.negotiation import Outcome, Side
from kamabm.model.params import CAPTURED_BELOW

if TYPE_CHECKING:
    from kamabm.model.account import Account
    from kamabm.model.market import KAMMarket
    from kamabm.model.supplier import Supplier


def blend(a: Side, b: Side, weight: float) -> Side:
    """Two negotiators at one table: ``b``'s stance with ``weight``, ``a``'s with the rest.

    Prices, patience and tit-for-tat mix linearly; the tactic exponent geometrically
    (Boulware and Conceder are symmetric in its logarithm).
    """
    return Side(opening=a.opening + weight * (b.opening - a.opening),
                reservation=a.reservation + weight * (b.reservation - a.reservation),
                beta=math.exp(math.log(a.beta) + weight * (math.log(b.beta) - math.log(a.beta))),
                delta=a.delta + weight * (b.delta - a.delta),
                reciprocity=a.reciprocity + weight * (b.reciprocity - a.reciprocity))


def logistic(x: float) -> float:
    """Standard logistic function, safe for large arguments."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class Tie:
    """What one KAM has with one account: identification with the client, familiarity."""

    __slots__ = ("familiarity", "identification")

    def __init__(self) -> None:
        self.identification = 0.0
        self.familiarity = 0.0


class KAM(mesa.Agent):
    """A key account manager employed by a supplier and in charge of one key account."""

    model: KAMMarket

    def __init__(self, model: KAMMarket, supplier: Supplier, index: int) -> None:
        super().__init__(model)
        p = model.params
        #: His place among the market's KAMs (``model.kams[index]``).
        self.index = index
        self.supplier = supplier
        self.account: Account | None = None
        self.ties: dict[Account, Tie] = {}
        self.tie = Tie()
        self.skill = p.initial_skill
        #: Held at ``pinned_alignment`` whatever happens (``pin_first_kam``): set by the market.
        self.pinned = False
        self.alignment = 1.0
        self.stress = 0.0
        self.felt_pressure = 0.0
        self.operational_time = p.ops_base
        self.negotiating_time = p.nego_base
        self.learning_time = 0.0
        self.hard_negotiation = False
        #: What colleagues saw of him this month: (KPI attainment, operational share).
        self.seen_by_peers = (1.0, self.operational_share)
        self._kpi_gap = 0.0
        self._kpi_started = False
        self._kpi_quota_volume = 0.0
        self._kpi_quota_profit = 0.0
        self._kpi_volume_sum = 0.0
        self._kpi_profit_sum = 0.0
        self._kpi_months = 0

    # --- derived state -----------------------------------------------------------------
    @property
    def identification(self) -> float:
        """Identification with the client of the account he now manages."""
        return self.tie.identification

    @property
    def familiarity(self) -> float:
        """How well he knows the account he now manages, in [0, 1]."""
        return self.tie.familiarity

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
        working = self.operational_time + self.negotiating_time
        return self.operational_time / working if working > 0.0 else 0.0

    @property
    def kpi_attainment(self) -> float:
        """How well his KPI year is going, in [0, 1] (1 on quota): what colleagues see.

        As of his last monthly update.
        """
        return 1.0 - self._kpi_gap

    @property
    def reach(self) -> float:
        """How far the KAM reconnects the buyer to its firm's financial result (E7).

        Skill (seeking causes), senior colleagues and knowing the account let him talk
        past a procedural negotiator to the people who own the buyer's result.
        """
        p = self.model.params
        senior = self.supplier.levers.senior_support
        return min(1.0, p.reach_skill * self.skill + p.reach_senior * senior
                   + p.reach_familiarity * self.tie.familiarity)

    @property
    def must_agree(self) -> float:
        """Weight in [0, 1) of "we have to agree" in his stance (E8)."""
        coping = 1.0 - self.model.params.coping_skill * self.skill
        pressure = max(0.0, self.felt_pressure) * coping
        return pressure / (1.0 + pressure)

    def floor_price(self, account: Account) -> float:
        """The lowest price his firm lets him accept on ``account``.

        Full unit cost of a key-account unit and a minimum margin (more under a margin KPI);
        when the firm cannot afford to lose the account, management cuts the margin part
        ("keep the client at any price", E8).
        """
        p = self.model.params
        margin = p.min_margin + p.margin_kpi_floor * self.supplier.levers.kpi_margin_weight
        keep = p.keep_client_override * account.dependence
        return key_unit_cost(p) + margin * (1.0 - keep)

    # --- stage: negotiate ----------------------------------------------------------------
    def stance(self, account: Account, target: float) -> Side:
        """The supplier's opening, walk-away, tactic and patience on ``account``.

        His own stance (:meth:`own_stance`), and, under senior support, the senior
        colleague's at the table with weight ``senior_support`` (:meth:`senior_stance`).
        Limited pricing authority (deal review, or management taking back the pricing of
        an account that lost money) then keeps the walk-away above a floor: offers below it
        are sent back.
        """
        floor = self.floor_price(account)
        side = self.own_stance(account, target, floor)
        senior = self.supplier.levers.senior_support
        if senior > 0.0:
            side = blend(side, self.senior_stance(account, floor), senior)
        authority_floor = 1.0 + (floor - 1.0) * self.reviewed_share(account)
        if side.reservation >= authority_floor:
            return side
        return replace(side, opening=max(side.opening, authority_floor),
                       reservation=authority_floor)

    def reviewed_share(self, account: Account) -> float:
        """Share of his deals and grants on ``account`` that someone else must approve.

        ``deal_review``; all of them on an account management is renegotiating.
        """
        return 1.0 if account.renegotiate else self.supplier.levers.deal_review

    @property
    def own_share_of_outcome(self) -> float:
        """Share of a negotiation's stress and blame he carries himself.

        A senior colleague at the table carries ``senior_share`` of it.
        """
        p = self.model.params
        return 1.0 - p.senior_share * self.supplier.levers.senior_support

    def senior_stance(self, account: Account, floor: float) -> Side:
        """What a senior colleague brings to the table (E7; Workman, Homburg & Jensen 2003).

        He is loyal, skilled and not under the KAM's KPI: he opens above the going price,
        walks away at the firm's floor, holds out with a skilled tactic and a calm
        negotiator's patience, and does not mirror the buyer's moves.
        """
        p = self.model.params
        return Side(opening=max(floor, account.price * (1.0 + p.opening_markup)),
                    reservation=floor, beta=p.skilled_beta, delta=p.patience_base)

    def own_stance(self, account: Account, target: float, floor: float) -> Side:
        """The KAM's own stance: his floor bent by "we have to agree" and by capture.

        Under pressure he is ready to go to the buyer's target; captured, he weighs the
        client's wish as his own.
        """
        p = self.model.params
        m = self.must_agree
        reservation = (1.0 - m) * floor + m * min(floor, target)
        client_wish = target * (1.0 - p.client_wish_weight * (account.price - target)
                                / account.price)
        reservation = self.alignment * reservation + (1.0 - self.alignment) * min(
            reservation, client_wish)
        wish = (self.alignment * account.price * (1.0 + p.opening_markup)
                + (1.0 - self.alignment) * target)
        opening = max(wish, reservation)
        habit = math.exp((1.0 - self.skill) * math.log(p.smb_habit_beta)
                         + self.skill * math.log(p.skilled_beta))
        beta = habit * (1.0 + m) * (1.0 + p.captured_tactic_gain * (1.0 - self.alignment))
        delta = p.patience_base - p.patience_loss * m
        # The SMB habit: mirror the other side's concessions. Skill replaces it with a
        # deliberate tactic; pressure and capture override it ("we have to agree").
        reciprocity = p.smb_reciprocity * (1.0 - self.skill) * (1.0 - m) * self.alignment
        return Side(opening=opening, reservation=reservation, beta=beta, delta=delta,
                    reciprocity=reciprocity)

    def after_negotiation(self, account: Account, outcome: Outcome, target: float) -> None:
        """Feel the result of a negotiation: stress, and whether it was a hard one.

        A senior colleague at the table carries ``senior_share`` of its outcome.
        """
        p = self.model.params
        own = self.own_share_of_outcome
        if not outcome.agreed:
            self.stress += own * p.stress_deadlock
            self.hard_negotiation = True
            return
        if outcome.price <= target:
            self.stress += own * p.stress_pliant
            self.hard_negotiation = True
        if outcome.price < self.floor_price(account):
            self.stress += own * p.stress_below_floor
            self.hard_negotiation = True

    def take_blame(self, turnover_lost: float) -> None:
        """Feel the loss of volume on his account as blame (his standing, his pay, E8).

        ``turnover_lost`` is the share of his firm's monthly turnover that went to rivals.
        A senior colleague who was at the table takes ``senior_share`` of the blame.
        """
        self.stress += (self.own_share_of_outcome * self.model.params.blame_weight
                        * turnover_lost)

    # --- stage: respond ------------------------------------------------------------------
    def respond(self) -> None:
        """Decide on the client's extra demands and spend the month's time (E9, E10).

        He pushes through a share of the demands that grows as his alignment falls and as
        pressure mounts; what he grants his firm must deliver from its shared pool (the
        supplier does so next, captured KAMs' clients first); what he refuses he must argue
        about. Under deal review a share ``deal_review`` of what he grants goes to a
        reviewer, who grants nothing that is not paid for; on an account management is
        renegotiating (it lost money over the last year) nothing extra is granted. What is
        sent back he must argue with the client as if he had refused it.
        """
        p = self.model.params
        account = self.account
        assert account is not None  # every KAM has an account once the model is built
        loyal_refusal = self.alignment * (
            1.0 - p.refusal_pressure * self.must_agree * (1.0 - self.skill))
        granted = (1.0 - self.reviewed_share(account)) * (1.0 - loyal_refusal)
        account.granted_demand = granted * account.pending_demand

        typical = max(p.demand_rate, 1e-3) * max(account.revenue, 1e-9)
        granted_load = account.granted_demand / typical
        refused_load = (account.pending_demand - account.granted_demand) / typical
        self.operational_time = p.ops_base + p.ops_span * granted_load / (1.0 + granted_load)
        self.negotiating_time = (p.nego_base * (p.nego_floor + (1.0 - p.nego_floor)
                                                * self.alignment)
                                 + p.nego_push * refused_load / (1.0 + refused_load))
        training = self.supplier.levers.training
        self.learning_time = p.learn_time * training * (1.0 - self.operational_share)
        escalation = account.buyer.detachment * (1.0 - self.reach)
        self.stress += p.stress_refusal * escalation * refused_load / (1.0 + refused_load)

    # --- stage: learn and identify -------------------------------------------------------
    def update(self) -> None:
        """Monthly update of pressure, learning, identification and alignment."""
        p = self.model.params
        account = self.account
        assert account is not None  # every KAM has an account once the model is built
        self._track_kpi(account)
        self._kpi_gap = self.kpi_gap()
        self.felt_pressure = self._felt_pressure(account)

        if self.hard_negotiation:
            self._try_to_learn()
            self.hard_negotiation = False

        behaviour = p.id_ops * self.operational_share + (1.0 - p.id_ops) * account.satisfaction
        if p.peer_influence > 0.0:
            peers = self.supplier.peer_behaviour(self)
            if peers is not None:
                behaviour += p.peer_influence * (peers - behaviour)
        tie = self.tie
        tie.identification += p.id_rate * (behaviour - tie.identification)
        if len(self.ties) > 1:  # ties to accounts he left fade, unfed
            for other in self.ties.values():
                if other is not tie:
                    other.identification *= 1.0 - p.id_rate

        drive = logistic((self.felt_pressure + p.identification_gain * tie.identification
                          - p.theta) / p.g_width)
        drift = 1.0 - self.alignment
        drift += p.capture_speed * ((1.0 - drift) * drive - p.employer_pull * drift)
        self.alignment = p.pinned_alignment if self.pinned else min(1.0, max(0.0, 1.0 - drift))

        self.stress *= p.stress_keep
        tie.familiarity = min(1.0, tie.familiarity + 1.0 / p.familiarity_months)

    def _felt_pressure(self, account: Account) -> float:
        p = self.model.params
        # The share of the KPI year that will be over at the end of the coming month,
        # when his next negotiation may fall: 1 in the year's last month.
        progress = (self._kpi_months + 1) / p.kpi_months
        kpi = p.w_base + p.w_gap * self._kpi_gap + p.w_deadline * progress
        keep = p.keep_client_override * account.dependence
        return (self.supplier.kam_pressure * kpi + p.w_keep * keep + p.w_stress * self.stress
                - p.w_skill * self.skill)

    def _try_to_learn(self) -> None:
        p = self.model.params
        # Training helps only when its time is protected from "we have to agree".
        levers = self.supplier.levers
        support = (p.learn_base + p.learn_training * levers.training * (1.0 - self.must_agree)
                   + p.learn_senior * levers.senior_support)
        time_to_reflect = 1.0 - self.operational_share
        # Only a KAM who still sees the deal from his firm's side looks for its causes.
        chance = min(1.0, p.learning_ability * support * time_to_reflect * self.alignment)
        if self.model.rng.random() < chance:
            self.skill += p.skill_step * (1.0 - self.skill)
            self.stress *= 1.0 - p.learn_relief

    # --- the KPI contract ---------------------------------------------------------------
    def _track_kpi(self, account: Account) -> None:
        """Add the month to the KPI year; when the year is over, start the next one.

        The quota asks for ``quota_stretch * pressure`` more than the account does when
        the year starts (volume, or profit under a margin KPI).
        """
        p = self.model.params
        profit = ((account.price - key_unit_cost(p)) * account.volume
                  - account.delivered_demand)
        if not self._kpi_started:
            self._kpi_started = True
            self._new_kpi_year(account.volume, profit)
        self._kpi_months += 1
        self._kpi_volume_sum += account.volume
        self._kpi_profit_sum += profit
        if self._kpi_months == p.kpi_months:
            self._new_kpi_year(account.volume, profit)

    def _new_kpi_year(self, volume: float, profit: float) -> None:
        growth = 1.0 + self.model.params.quota_stretch * self.supplier.kam_pressure
        self._kpi_quota_volume = volume * growth
        self._kpi_quota_profit = max(profit, 1e-9) * growth
        self._kpi_volume_sum = self._kpi_profit_sum = 0.0
        self._kpi_months = 0

    @property
    def kpi_month(self) -> int:
        """Month of the KPI year now running: 0 (first) to ``kpi_months - 1`` (last)."""
        return self._kpi_months % self.model.params.kpi_months

    def kpi_gap(self) -> float:
        """Shortfall of the KPI year so far against quota, in [0, 1]."""
        if self._kpi_months == 0:
            return 0.0
        w = self.supplier.levers.kpi_margin_weight
        if self._kpi_quota_volume <= 0.0:  # an account with no volume left: no volume quota
            volume = 1.0
        else:
            volume = self._kpi_volume_sum / self._kpi_months / self._kpi_quota_volume
        profit = self._kpi_profit_sum / self._kpi_months / self._kpi_quota_profit
        gap = (1.0 - w) * (1.0 - volume) + w * (1.0 - profit)
        return min(1.0, max(0.0, gap))

    # --- rotation (lever) ---------------------------------------------------------------
    def take_over(self, account: Account, *, established: bool = False) -> None:
        """Take charge of ``account``, with whatever tie he already has to it (none if new).

        His alignment, skill and stress are his own and come with him; identification
        and familiarity belong to the account he leaves, and fade there. The KAM of an
        ``established`` account (the model's start) knows it fully.
        """
        self.account = account
        account.kam = self
        tie = self.ties.get(account)
        if tie is None:
            tie = self.ties[account] = Tie()
        if established:
            tie.familiarity = 1.0
        self.tie = tie
