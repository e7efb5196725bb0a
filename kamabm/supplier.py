"""Suppliers: key accounts, an SMB base, a shared pool of service resources, the books.

SMB owner-clients (``d = 0``) are vectorised inside the supplier (one numpy array of
their monthly volumes) because there are hundreds of them per supplier and each does
the same few things: buy, be served from the shared pool, leave when badly served. Their
price is set once by the same bargaining engine as everything else (Rubinstein's split
between an impatient owner and the supplier's sales force, E3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from kamabm.negotiation import nash_bargaining, rubinstein_share

if TYPE_CHECKING:
    from kamabm.account import Account
    from kamabm.model import KAMMarket

#: Per-round patience of the supplier's sales force and of an SMB owner (his own money).
SALES_DELTA, OWNER_DELTA = 0.9, 0.9
#: Spread (log-normal sigma) of SMB clients' sizes.
SMB_SIZE_SPREAD = 0.5


def smb_price(list_markup: float, service_cost: float) -> float:
    """Price an SMB owner agrees, by alternating offers with the supplier's sales force.

    The disagreement points are the supplier's full unit cost (no sale) and the owner's
    alternative, buying at list price elsewhere; the sales force proposes first and the
    surplus is split by Rubinstein's shares (the limit of Nash bargaining with these
    powers).
    """
    floor, ceiling = 1.0 + service_cost, 1.0 + list_markup
    power = rubinstein_share(SALES_DELTA, OWNER_DELTA)
    seller_gain, _ = nash_bargaining(ceiling - floor, 0.0, 0.0, power)
    return floor + seller_gain


class Supplier(mesa.Agent):
    """A supplier firm with key accounts, SMB clients and a shared service pool."""

    model: KAMMarket

    def __init__(self, model: KAMMarket) -> None:
        super().__init__(model)
        self.accounts: list[Account] = []
        self.smb_price = smb_price(model.params.list_markup, model.params.service_cost)
        self.smb_volumes = np.zeros(0)
        self.smb_initial_count = 0
        self.smb_mean_volume = 0.0
        self.capacity = 0.0
        self.service_level = 1.0
        self.smb_volume_lost_to_service = 0.0
        self.ledger = _Ledger(model.params.horizon_months)

    def open_smb_base(self, smb_revenue: float) -> None:
        """Create the SMB base that makes ``smb_revenue`` a month, and size the pool."""
        p = self.model.params
        if smb_revenue > 0.0:
            sizes = self.model.rng.lognormal(0.0, SMB_SIZE_SPREAD, p.n_smb_clients)
            self.smb_volumes = sizes * (smb_revenue / self.smb_price / sizes.sum())
            self.smb_mean_volume = float(self.smb_volumes.mean())
        self.smb_initial_count = len(self.smb_volumes)
        ordinary = p.service_cost * (self.key_volume() + self.smb_volumes.sum())
        self.capacity = (1.0 + p.resource_slack) * ordinary

    def key_volume(self) -> float:
        """Monthly volume sold to key buyers."""
        return sum(a.volume for a in self.accounts)

    # --- stage: account ----------------------------------------------------------------
    def serve_and_book(self) -> None:
        """Serve all clients from the shared pool, lose and win SMB clients, book the month.

        Key accounts are served first (their ordinary service and the extra demands their
        KAMs pushed through); SMB clients get what is left of the pool (E9).
        """
        p = self.model.params
        rng = self.model.rng
        month = self.model.month - 1
        key_volume = key_revenue = granted = concessions = 0.0
        for a in self.accounts:
            key_volume += a.volume
            key_revenue += a.price * a.volume
            granted += a.granted_demand
            concessions += (self.model.initial_key_price - a.price) * a.volume
        smb_volume = float(self.smb_volumes.sum())
        smb_need = p.service_cost * smb_volume
        left_for_smb = self.capacity - p.service_cost * key_volume - granted
        self.service_level = 1.0 if smb_need <= 0.0 else min(1.0, max(0.0, left_for_smb / smb_need))
        smb_revenue = self.smb_price * smb_volume
        revenue = key_revenue + smb_revenue
        for account in self.accounts:
            account.revenue_share = account.revenue / revenue if revenue > 0.0 else 0.0

        # SMB owners leave when badly served, and new ones arrive (E9).
        shortfall = 1.0 - self.service_level
        if len(self.smb_volumes):
            churn = p.smb_churn + p.smb_service_churn * shortfall
            self.smb_volumes = self.smb_volumes[rng.random(len(self.smb_volumes)) >= churn]
            self.smb_volume_lost_to_service += p.smb_service_churn * shortfall * smb_volume
        arrivals = rng.poisson((p.smb_churn + p.smb_growth) * self.smb_initial_count)
        if arrivals:
            new = rng.lognormal(0.0, SMB_SIZE_SPREAD, arrivals) * self.smb_mean_volume
            self.smb_volumes = np.concatenate([self.smb_volumes, new])

        self.ledger.book(month, (
            key_revenue, smb_revenue, key_volume, smb_volume,
            p.service_cost * (key_volume + smb_volume * self.service_level), granted,
            concessions,
            self.smb_volume_lost_to_service * (self.smb_price - 1.0 - p.service_cost),
            self.service_level))


class _Ledger:
    """Monthly books of one supplier: one row per month, one column per line item.

    Each item is readable as an attribute (``ledger.key_revenue``: a column view).
    """

    ITEMS = ("key_revenue", "smb_revenue", "key_cogs", "smb_cogs", "service", "demands",
             "concessions", "resources", "service_level")

    def __init__(self, months: int) -> None:
        self.rows = np.zeros((months, len(self.ITEMS)))
        for column, item in enumerate(self.ITEMS):
            setattr(self, item, self.rows[:, column])

    def book(self, month: int, values: tuple[float, ...]) -> None:
        """Book one month's line items, in the order of :attr:`ITEMS`."""
        self.rows[month] = values

    @property
    def revenue(self) -> np.ndarray:
        """Monthly revenue."""
        return self.key_revenue + self.smb_revenue

    @property
    def costs(self) -> np.ndarray:
        """Monthly costs: production, cost to serve, extra demands granted."""
        return self.key_cogs + self.smb_cogs + self.service + self.demands

    @property
    def profit(self) -> np.ndarray:
        """Monthly profit: revenue less costs."""
        return self.revenue - self.costs
