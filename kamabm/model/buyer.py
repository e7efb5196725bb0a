"""Large key buyers and their negotiators (E2, E4, E5).

A key buyer splits a fixed monthly volume across the competing suppliers. Its
negotiator is *detached* to degree ``d``: the weight of the procedural target in the
job description (a yearly price cut) against the buyer firm's financial result. The
negotiator's walk-away price mixes the two: an owner (``d = 0``) walks away only above
the best rival bid plus the real cost of switching; a fully detached negotiator walks
away from anything above the target, since a deadlock costs him nothing personally and
"the next supplier will" take the volume. The iron position is not a parameter: it
follows from this utility, from rival suppliers' actual prices and from the tactic that
the number of live alternatives slows (Faratin's resource-dependent tactic).

Two things make a buyer harder on one supplier than on another. It knows its weight: the
larger its share of that supplier's turnover, the more it asks (Inderst & Montez 2019).
And it benchmarks the suppliers against each other: the lowest price and the richest
service any rival granted become part of its targets for the others ("another will
accept", E5), so what one supplier's captured KAM concedes reaches its rivals' KAMs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from kamabm.model.account import kam_in_charge
from kamabm.model.derived import buyer_detachment, viable_price
from kamabm.model.negotiation import Outcome, Side, alternating_offers
from kamabm.model.params import MONTHS_PER_YEAR

if TYPE_CHECKING:
    from kamabm.model.account import Account
    from kamabm.model.market import KAMMarket


class KeyBuyer(mesa.Agent):
    """A large buyer: volume, a negotiator, a stream of extra demands, a ratchet."""

    model: KAMMarket

    def __init__(self, model: KAMMarket, volume: float, index: int) -> None:
        super().__init__(model)
        self.volume = volume
        self.index = index
        p = model.params
        self.detachment = buyer_detachment(p, index)
        self.accounts: list[Account] = []
        self.tenders = 0
        self.deadlocks = 0

    # --- stage 1: demands and tenders -----------------------------------------------
    def raise_demands(self) -> None:
        """Raise this month's extra demands on every supplier (E2).

        Their cost is a random share of the account's revenue, larger when the ratchet
        has risen (a buyer that got its way asks for more).
        """
        p = self.model.params
        draws = self.model.rng.exponential(1.0, len(self.accounts))
        for account, draw in zip(self.accounts, draws, strict=True):
            account.pending_demand = (p.demand_rate * (1.0 + account.aspiration)
                                      * self.weight(account) * account.revenue * draw)

    def tender(self) -> None:
        """Renegotiate every supplier's contract when this buyer's contracts end.

        Contracts of different buyers end in different months. Each supplier's KAM
        negotiates by alternating offers (fewer of them under deal review: approvals take
        time); deadlocked suppliers lose volume to rivals; then the buyer moves part of its
        volume toward cheaper, more obliging suppliers, and each KAM feels the volume his
        account lost as blame, in proportion to his firm's turnover it represented.
        """
        p = self.model.params
        if (self.model.month - 1 - self.index) % p.contract_months != 0:
            return
        self.tenders += 1
        self._benchmark_service()
        deadlocked = []
        for account in self.accounts:
            target = self.target_price(account)
            kam = kam_in_charge(account)
            review = account.supplier.levers.deal_review
            rounds = max(2, p.negotiation_rounds - round(review * p.review_rounds_lost))
            seller = kam.stance(account, target)
            buyer = self.stance(account, target, kam.reach)
            outcome = alternating_offers(seller, buyer, rounds)
            if outcome.agreed:
                self.model.trace.record_concession(
                    kam.kpi_month, (account.price - outcome.price) * account.volume)
            kam.after_negotiation(account, outcome, target)
            self._after_negotiation(account, outcome, target)
            account.supplier.deals_reviewed += review
            if not outcome.agreed:
                deadlocked.append(account)
        before = [a.volume for a in self.accounts]
        self._reallocate(deadlocked)
        for account, volume in zip(self.accounts, before, strict=True):
            lost = (volume - account.volume) * account.price
            if lost > 0.0:
                kam_in_charge(account).take_blame(lost / account.supplier.monthly_revenue)

    # --- the negotiator ---------------------------------------------------------------
    def weight(self, account: Account) -> float:
        """How much more this buyer asks of ``account``'s supplier for being large to it.

        ``1 + buyer_leverage * revenue share``: a buyer that makes a third of a supplier's
        turnover knows it and asks for more (Inderst & Montez 2019).
        """
        return 1.0 + self.model.params.buyer_leverage * account.revenue_share

    def target_price(self, account: Account) -> float:
        """The price the negotiator must reach: the procedural ask, bounded by viability.

        Never below :meth:`viable_price`: leverage is bounded by the buyer's need for a
        viable supplier.
        """
        return max(self.procedural_price(account), self.viable_price())

    def procedural_price(self, account: Account) -> float:
        """The price the job description asks for, benchmarked against the rivals.

        The last price less the period's cut (larger after pliant deals and for a buyer
        that knows its weight). With weight ``rival_benchmark`` it also follows the lowest
        price a rival granted: "another will accept" (E5).
        """
        p = self.model.params
        cut = (p.price_cut_target * p.contract_months / MONTHS_PER_YEAR * (1.0 + account.aspiration)
               * self.weight(account))
        own = account.price * (1.0 - cut)
        rival = min(own, self.best_rival_price(account))
        return own + p.rival_benchmark * (rival - own)

    def viable_price(self) -> float:
        """The lowest price the buyer's target asks of any supplier (:func:`viable_price`)."""
        return viable_price(self.model.params)

    def best_rival_price(self, account: Account) -> float:
        """Lowest price any other supplier charges this buyer (the outside option, E5)."""
        return min(a.price for a in self.accounts if a is not account)

    def stance(self, account: Account, target: float, reach: float) -> Side:
        """The negotiator's opening, walk-away, tactic and patience against one supplier.

        ``reach`` in [0, 1] is how far the KAM (with senior colleagues) reconnects the
        negotiation to the buyer firm's financial result (E7); it lowers the effective
        detachment.
        """
        p = self.model.params
        d = self.detachment * (1.0 - reach)
        firm_walkaway = self.best_rival_price(account) * (1.0 + p.switching_cost)
        reservation = min(firm_walkaway, d * target + (1.0 - d) * firm_walkaway)
        opening = min(reservation, account.price - p.opening_cut * (account.price - target))
        alternatives = len(self.accounts) - 1
        beta = (p.owner_beta ** (1 - d) * p.detached_beta ** d
                * math.sqrt(2.0 / (1 + alternatives)))
        delta = p.owner_delta + (p.detached_delta - p.owner_delta) * d
        return Side(opening=opening, reservation=reservation, beta=beta, delta=delta,
                    reciprocity=p.owner_reciprocity * (1.0 - d))

    def _benchmark_service(self) -> None:
        """Ask every supplier for the service the most obliging one gives (E5)."""
        w = self.model.params.rival_benchmark
        if w > 0.0:
            richest = max(a.aspiration for a in self.accounts)
            for account in self.accounts:
                account.aspiration += w * (richest - account.aspiration)

    def _after_negotiation(self, account: Account, outcome: Outcome, target: float) -> None:
        p = self.model.params
        if outcome.agreed:
            asked = account.price - target
            got = account.price - outcome.price
            result = 1.0 if got >= asked else max(0.0, got / asked) if asked > 0 else 1.0
            if got >= asked:  # a pliant deal: ask for more next time (the ratchet)
                account.aspiration = min(p.max_aspiration, account.aspiration + p.ratchet)
            else:
                account.aspiration *= 1.0 - p.ratchet
            account.price = outcome.price
        else:
            result = 0.0
            self.deadlocks += 1
        account.satisfaction += p.tender_weight * (result - account.satisfaction)

    def _reallocate(self, deadlocked: list[Account]) -> None:
        """Move volume between suppliers; the buyer's total volume is conserved.

        The buyer prefers cheaper suppliers, those that grant its demands, and those whose
        KAM knows its business: a new KAM, who does not yet, loses volume until he does
        (Shi, Sridhar, Grewal & Lilien 2017).
        """
        p = self.model.params
        prices = np.array([a.price for a in self.accounts])
        satisfaction = np.array([a.satisfaction for a in self.accounts])
        knowledge = np.array([kam_in_charge(a).familiarity for a in self.accounts])
        utility = (-p.price_sensitivity * (prices / prices.mean() - 1.0)
                   + p.service_sensitivity * (satisfaction - satisfaction.mean())
                   + p.knowledge_sensitivity * (knowledge - knowledge.mean()))
        # The C library's exp (math.exp), not numpy's: numpy's SIMD loop gives a last digit
        # that depends on the processor, and the compiled engine uses the C library's.
        top = utility.max()
        weight = np.array([math.exp(u - top) for u in utility])
        volumes = np.array([a.volume for a in self.accounts])
        for account in deadlocked:  # "if you don't agree, the next supplier will"
            k = self.accounts.index(account)
            rivals = weight.copy()
            rivals[k] = 0.0
            if rivals.sum() > 0.0:
                moved = p.breakdown_shift * volumes[k]
                volumes[k] -= moved
                volumes += moved * rivals / rivals.sum()
        preferred = self.volume * weight / weight.sum()
        volumes += p.reallocation_speed * (preferred - volumes)
        for account, v in zip(self.accounts, volumes, strict=True):
            account.volume = float(v)

    def record_service(self, account: Account) -> None:
        """Update satisfaction with the share of this month's demands that was delivered."""
        if account.pending_demand > 0.0:
            delivered = account.delivered_demand / account.pending_demand
            account.satisfaction += self.model.params.service_weight * (
                delivered - account.satisfaction)
