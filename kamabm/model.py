"""The market: suppliers, their KAMs, key buyers and SMB clients, stepped monthly.

The schedule of one step (one month), in the order :meth:`KAMMarket.step` runs it:

1. **demands**: every key buyer raises extra demands on each supplier (E2);
2. **negotiate**: buyers whose contracts end this month tender them; each supplier's KAM
   negotiates by alternating offers; deadlocks and price differences move volume (E4, E5);
3. **respond**: each KAM handles his client's demands and spends his time (E9, E10);
4. **learn and identify**: each KAM updates felt pressure, may learn from a hard
   negotiation, and his identification and alignment move (E7, E8, E11);
5. **account**: suppliers serve all clients from their shared pool, lose and win SMB
   clients and book the month;
6. **rotate**: under the rotation lever, KAMs move between accounts; management
   pressure changes if the run asks for it (hysteresis experiments).
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from kamabm.account import Account
from kamabm.buyer import KeyBuyer
from kamabm.kam import KAM
from kamabm.params import Parameters
from kamabm.supplier import Supplier, smb_price

#: Monthly volume of each key buyer (units); the scale is arbitrary, shares matter.
KEY_BUYER_VOLUME = 100.0


class KAMMarket(mesa.Model):
    """A market in which key account managers may be captured by their clients.

    Args:
        params: the run's parameters (defaults when omitted).
        seed: seed of the model's random generator; all randomness flows from it.
        **overrides: parameter values by name, applied on top of ``params`` (so that
            ``mesa.batch_run`` can pass parameters as keywords).

    Attributes:
        kam_pressure: the management pressure now in force; starts at
            ``params.kam_pressure``, becomes ``params.pressure_after_change`` after month
            ``params.pressure_change_month`` (if not 0), and may be changed by hand
            between steps.
        trace: per-month series (alignment of every KAM, prices, margins, time shares).

    """

    def __init__(self, params: Parameters | None = None, seed: int | None = None,
                 **overrides: Any) -> None:
        super().__init__(rng=seed)
        params = params or Parameters()
        self.params = params.replace(**overrides) if overrides else params
        p = self.params
        self.kam_pressure = p.kam_pressure
        #: Months simulated so far (Mesa's ``steps`` also counts calls past the horizon).
        self.month = 0
        self.initial_key_price = smb_price(p.list_markup, p.service_cost)

        self.suppliers = [Supplier(self) for _ in range(p.n_suppliers)]
        self.buyers = [KeyBuyer(self, KEY_BUYER_VOLUME, j) for j in range(p.n_key_buyers)]
        self.kams: list[KAM] = []
        for supplier in self.suppliers:
            for buyer in self.buyers:
                account = Account(supplier, buyer, price=self.initial_key_price,
                                  volume=buyer.volume / p.n_suppliers)
                supplier.accounts.append(account)
                buyer.accounts.append(account)
                kam = KAM(self, supplier)
                kam.take_over(account)
                self.kams.append(kam)
        share = p.client_revenue_share
        for supplier in self.suppliers:
            key_revenue = sum(a.revenue for a in supplier.accounts)
            supplier.open_smb_base(key_revenue * (1.0 - share) / share)
            revenue = key_revenue * (1.0 + (1.0 - share) / share)
            for account in supplier.accounts:
                account.revenue_share = account.revenue / revenue
        self.trace = _Trace(p.horizon_months, len(self.kams))

    def step(self) -> None:
        """Advance the market by one month (the schedule in the module docstring).

        Past the horizon a step does nothing (the app may call it again after the end).
        """
        if self.month >= self.params.horizon_months:
            self.running = False
            return
        self.month += 1
        self.agents_by_type[KeyBuyer].do("raise_demands")
        self.agents_by_type[KeyBuyer].do("tender")
        self.agents_by_type[KAM].do("respond")
        self.agents_by_type[KAM].do("update")
        self.agents_by_type[Supplier].do("serve_and_book")
        self._rotate()
        if self.month == self.params.pressure_change_month:
            self.kam_pressure = self.params.pressure_after_change
        self.trace.record(self)
        if self.month >= self.params.horizon_months:
            self.running = False

    def run(self) -> KAMMarket:
        """Run to the horizon and return the model."""
        while self.running:
            self.step()
        return self

    def _rotate(self) -> None:
        months = self.params.rotation_months
        if months == 0 or self.month % months != 0:
            return
        for supplier in self.suppliers:
            kams = [a.kam for a in supplier.accounts]
            for account, kam in zip(supplier.accounts, kams[-1:] + kams[:-1], strict=True):
                kam.take_over(account)
                account.satisfaction *= 0.7  # the relationship starts over


class _Trace:
    """Per-month series a run keeps cheaply (preallocated arrays, filled each step)."""

    def __init__(self, months: int, n_kams: int) -> None:
        self.alignment = np.ones((months, n_kams))
        self.operational_share = np.zeros((months, n_kams))
        self.activity = np.zeros((months, n_kams))
        self.key_price = np.zeros(months)
        self.captured = np.zeros(months)

    def record(self, model: KAMMarket) -> None:
        t = model.month - 1
        for k, kam in enumerate(model.kams):
            self.alignment[t, k] = kam.alignment
            self.operational_share[t, k] = kam.operational_share
            self.activity[t, k] = kam.activity
        accounts = [a for s in model.suppliers for a in s.accounts]
        volume = sum(a.volume for a in accounts)
        self.key_price[t] = sum(a.revenue for a in accounts) / volume
        self.captured[t] = sum(kam.captured for kam in model.kams)
