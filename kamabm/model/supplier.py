"""Suppliers: key accounts, an SMB base, a shared pool of service resources, the books.

SMB owner-clients (``d = 0``) are vectorised inside the supplier (one numpy array of
their monthly volumes) because there are hundreds of them per supplier and each does
the same few things: buy, be served from the shared pool, leave when badly served. Their
price is set once by the same bargaining engine as everything else (Rubinstein's split
between an impatient owner and the supplier's sales force, E3).

The supplier's management acts three ways on its KAMs. It delivers the extra demands
they granted from one shared pool, captured KAMs' clients first (they lobby inside the
firm, E9, E11), so that what a captured KAM wins for his client is what his colleagues'
clients and the SMB base lack. It reads its books each month and, where losing an
account would eat the profit that covers its fixed costs, tells the KAM to keep the
client and lets him go lower ("keep the client at any price", E8). And it pays: KAM
salaries, senior time, training, deal review, handovers and SMB acquisition are booked
as costs, so that every lever has its price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from kamabm.model.account import kam_in_charge
from kamabm.model.books import Ledger, running_sum
from kamabm.model.derived import (
    Levers,
    key_service_per_unit,
    key_unit_cost,
    pressure_offset,
    smb_price,
    smb_unit_cost,
)
from kamabm.model.params import MONTHS_PER_YEAR

if TYPE_CHECKING:
    from kamabm.model.account import Account
    from kamabm.model.kam import KAM
    from kamabm.model.market import KAMMarket


class Supplier(mesa.Agent):
    """A supplier firm with key accounts, SMB clients and a shared service pool."""

    model: KAMMarket

    def __init__(self, model: KAMMarket, index: int) -> None:
        super().__init__(model)
        self.index = index
        p = model.params
        self.levers = Levers.of(p, index)
        #: How far this supplier's pressure on its KAMs lies from the market's
        #: ``model.kam_pressure`` (``supplier_pressures``; 0 when not given).
        self.pressure_offset = pressure_offset(p, index)
        self.accounts: list[Account] = []
        self.smb_price = smb_price(model.params)
        self.smb_volumes = np.zeros(0)
        self.smb_initial_count = 0
        self.smb_mean_volume = 0.0
        self.capacity = 0.0
        self.service_level = 1.0
        self.smb_volume_lost_to_service = 0.0
        self.monthly_revenue = 0.0
        self.opening_revenue = 0.0
        self.overhead = 0.0
        self.kam_month_cost = 0.0
        self.profit_cushion = 0.0
        self.deals_reviewed = 0.0
        self.handovers = 0
        #: Capital that absorbs losses: ``equity_to_sales`` times the opening year's sales.
        self.equity = 0.0
        self.cumulative_profit = 0.0
        #: Month in which cumulative losses first exceeded the equity (0: never).
        self.failed_month = 0
        self._year_profit = self._year_revenue = 0.0
        self._restructuring = 0.0
        self._pool_left = 0.0
        self._peer_sum = self._peer_weight = 0.0
        self.ledger = Ledger(model.params.horizon_months)

    @property
    def kam_pressure(self) -> float:
        """Management pressure on this supplier's KAMs now, in [0, 1].

        The market's pressure (which a pressure change or the app may move) plus this
        supplier's own offset from ``supplier_pressures``.
        """
        return min(1.0, max(0.0, self.model.kam_pressure + self.pressure_offset))

    def open_books(self, smb_revenue: float) -> None:
        """Create the SMB base that makes ``smb_revenue`` a month.

        Also size the pool, the fixed costs and the cost of a KAM from the opening turnover.
        """
        p = self.model.params
        if smb_revenue > 0.0:
            sizes = self.model.rng.lognormal(0.0, p.smb_size_spread, p.n_smb_clients)
            self.smb_volumes = sizes * (smb_revenue / self.smb_price / sizes.sum())
            self.smb_mean_volume = float(self.smb_volumes.mean())
        self.smb_initial_count = len(self.smb_volumes)
        self.capacity = (1.0 + p.resource_slack) * (self.key_service_need()
                                                     + p.service_cost * self.smb_volumes.sum())
        key_revenue = running_sum(a.revenue for a in self.accounts)
        self.monthly_revenue = key_revenue + smb_revenue
        #: Monthly turnover when the run starts: the scale of the firm's money.
        self.opening_revenue = self.monthly_revenue
        for account in self.accounts:
            account.revenue_share = account.revenue / self.monthly_revenue
        self.overhead = p.overhead_share * self.monthly_revenue
        self.equity = p.equity_to_sales * MONTHS_PER_YEAR * self.monthly_revenue
        self.kam_month_cost = p.kam_cost * key_revenue / len(self.accounts)
        margin = (self.smb_price - smb_unit_cost(p)) * self.smb_volumes.sum() + running_sum(
            (a.price - key_unit_cost(p)) * a.volume for a in self.accounts)
        self.profit_cushion = max(0.0, margin - self.overhead - self.people_cost()[0])

    def key_volume(self) -> float:
        """Monthly volume sold to key buyers."""
        return running_sum(a.volume for a in self.accounts)

    def key_service_need(self) -> float:
        """The pool's ordinary service to the key accounts this month (money)."""
        return key_service_per_unit(self.model.params) * self.key_volume()

    def people_cost(self) -> tuple[float, float]:
        """The month's cost of KAMs and of the levers that take people's time or fees.

        Returns:
            The whole cost, and the part of it beyond the KAMs' own months (senior time,
            training, learning, deal reviews, handovers): exactly zero with no lever on.

        """
        p = self.model.params
        levers = self.levers
        n = len(self.accounts)
        kam_months = n * (1.0 + levers.senior_support * p.senior_time * p.senior_cost_rate
                          + levers.training * p.training_fee / MONTHS_PER_YEAR)
        kam_months += running_sum(a.kam.learning_time for a in self.accounts
                                  if a.kam is not None)
        kam_months += p.review_time * self.deals_reviewed
        kam_months += p.handover_months * self.handovers
        return kam_months * self.kam_month_cost, (kam_months - n) * self.kam_month_cost

    # --- stage: deliver ---------------------------------------------------------------
    def deliver(self) -> None:
        """Deliver the extra demands the KAMs granted, from the shared pool (E9, E11).

        After the key accounts' ordinary service, granted demands are met in order of the
        KAMs' pull inside the firm, the least loyal first; what the pool cannot cover is
        not delivered, and the SMB base gets what is left. Buyers then see the service.
        Also sums what colleagues see of each other: client-side work, weighted by how
        well it pays (KPI attainment).
        """
        pool = self.capacity - self.key_service_need()
        peer_sum = peer_weight = 0.0
        for account in sorted(self.accounts, key=lambda a: kam_in_charge(a).alignment):
            delivered = min(account.granted_demand, max(0.0, pool))
            account.delivered_demand = delivered
            pool -= delivered
            account.buyer.record_service(account)
            kam = kam_in_charge(account)
            success, work = kam.seen_by_peers = (kam.kpi_attainment, kam.operational_share)
            peer_sum += success * work
            peer_weight += success
        self._pool_left = pool
        self._peer_sum, self._peer_weight = peer_sum, peer_weight

    def peer_behaviour(self, kam: KAM) -> float | None:
        """Colleagues' client-side work as ``kam`` sees it, weighted by their success.

        What each colleague showed this month (:attr:`KAM.seen_by_peers`, noted at
        delivery); None when he has no colleague (or none is on track).
        """
        success, work = kam.seen_by_peers
        weight = self._peer_weight - success
        if len(self.accounts) < 2 or weight <= 1e-12:
            return None
        return (self._peer_sum - success * work) / weight

    # --- stage: account ----------------------------------------------------------------
    def serve_and_book(self) -> None:
        """Serve the SMB base, lose and win SMB clients, book the month, read the books.

        The SMB base is served from what is left of the pool (E9).
        """
        p = self.model.params
        rng = self.model.rng
        month = self.model.month - 1
        key_volume = key_revenue = delivered = concessions = 0.0
        for a in self.accounts:
            key_volume += a.volume
            key_revenue += a.price * a.volume
            delivered += a.delivered_demand
            concessions += (self.model.initial_key_price - a.price) * a.volume
        smb_volume = float(self.smb_volumes.sum())
        smb_need = p.service_cost * smb_volume
        self.service_level = 1.0 if smb_need <= 0.0 else min(
            1.0, max(0.0, self._pool_left / smb_need))
        smb_revenue = self.smb_price * smb_volume
        revenue = key_revenue + smb_revenue
        self.monthly_revenue = revenue
        for account in self.accounts:
            account.revenue_share = account.revenue / revenue if revenue > 0.0 else 0.0

        # SMB owners leave when badly served; new ones arrive, more under SMB growth (E9).
        shortfall = 1.0 - self.service_level
        smb_margin = self.smb_price - smb_unit_cost(p)
        if len(self.smb_volumes):
            churn = p.smb_churn + p.smb_service_churn * shortfall
            self.smb_volumes = self.smb_volumes[rng.random(len(self.smb_volumes)) >= churn]
            self.smb_volume_lost_to_service += p.smb_service_churn * shortfall * smb_volume
        arrivals = rng.poisson(p.smb_churn * self.smb_initial_count)
        growth = self.levers.smb_growth
        won = rng.poisson(growth * self.smb_initial_count) if growth else 0
        if arrivals + won:
            new = rng.lognormal(0.0, p.smb_size_spread, arrivals + won) * self.smb_mean_volume
            self.smb_volumes = np.concatenate([self.smb_volumes, new])
        acquisition = won * p.smb_acquisition_cost * smb_margin * self.smb_mean_volume

        people, lever_people = self.people_cost()
        self.deals_reviewed = 0.0
        self.handovers = 0
        service = (key_service_per_unit(p) * key_volume
                   + p.service_cost * smb_volume * self.service_level)
        selling = p.smb_selling_cost * smb_volume
        restructuring, self._restructuring = self._restructuring, 0.0
        self.ledger.book(month, (
            key_revenue, smb_revenue, key_volume, smb_volume, service, selling, delivered,
            concessions, self.smb_volume_lost_to_service * smb_margin, self.service_level,
            people, self.overhead, restructuring, acquisition, lever_people))
        costs = (key_volume + smb_volume + service + selling + delivered + people
                 + self.overhead + restructuring + acquisition)
        self.read_books(revenue - costs)
        self._year_revenue += revenue
        if self.model.month % p.kpi_months == 0:
            self.close_year()

    def read_books(self, profit: float) -> None:
        """Read the month's books: which accounts can the firm not afford to lose (E8).

        Each account's dependence is the contribution a deadlock would take away
        (``breakdown_shift`` of its volume) against that loss plus the profit cushion
        (profit after fixed costs, averaged over a KPI year; its opening value under
        ``cushion_held``): near 0 when the firm shrugs the loss off, near 1 when the loss
        would wipe out its profit. Also keeps the year's and the run's profit, and notes
        the month the firm's losses first exceed its equity (it has failed).
        """
        p = self.model.params
        if not p.cushion_held:
            self.profit_cushion += (max(0.0, profit) - self.profit_cushion) / p.kpi_months
        self._year_profit += profit
        self.cumulative_profit += profit
        if not self.failed_month and self.cumulative_profit < -self.equity:
            self.failed_month = self.model.month
        unit_cost = key_unit_cost(p)
        for a in self.accounts:
            contribution = (a.price - unit_cost) * a.volume - a.delivered_demand
            a.profit = contribution - self.kam_month_cost
            a.year_profit += a.profit
            loss = p.breakdown_shift * max(0.0, contribution)
            a.dependence = loss / (loss + self.profit_cushion) if loss > 0.0 else 0.0

    def close_year(self) -> None:
        """What management does at the end of a KPI year that lost money, and on accounts.

        An account that lost money over the year is renegotiated: its KAM may not agree
        below his floor until it pays again (the buyer takes that or moves its volume). A
        year the firm lost money on, it restructures: fixed costs are cut to
        ``overhead_share`` of the year's revenue (never raised), at a one-off cost of
        ``restructuring_cost`` years of the saving, booked the next month.
        """
        p = self.model.params
        for a in self.accounts:
            a.renegotiate = a.year_profit < 0.0
            a.year_profit = 0.0
        if self._year_profit < 0.0:
            resized = p.overhead_share * self._year_revenue / p.kpi_months
            saving = max(0.0, self.overhead - resized)
            self.overhead -= saving
            self._restructuring = p.restructuring_cost * MONTHS_PER_YEAR * saving
        self._year_profit = self._year_revenue = 0.0
