"""The market: suppliers, their KAMs, key buyers and SMB clients, stepped monthly.

The schedule of one step (one month), in the order :meth:`KAMMarket.step` runs it:

1. **demands**: every key buyer raises extra demands on each supplier (E2);
2. **negotiate**: buyers whose contracts end this month tender them; each supplier's KAM
   negotiates by alternating offers; deadlocks and price differences move volume, and
   KAMs feel the lost volume as blame (E4, E5, E8);
3. **respond**: each KAM decides on his client's demands and spends his time (E9, E10);
4. **deliver**: each supplier delivers the granted demands from its shared pool, captured
   KAMs' clients first, and buyers see the service (E9, E11);
5. **learn and identify**: each KAM updates felt pressure, may learn from a hard
   negotiation, and his identification and alignment move (E7, E8, E11);
6. **account**: suppliers serve the SMB base, lose and win SMB clients, book the month
   and read their books (which accounts can they not afford to lose?);
7. **rotate**: under the rotation lever, KAMs move between a supplier's accounts;
   management pressure changes if the run asks for it (hysteresis experiments).
"""

from __future__ import annotations

from typing import Any

import mesa

from kamabm.model.account import Account, kam_in_charge
from kamabm.model.books import Trace, running_sum
from kamabm.model.buyer import KeyBuyer
from kamabm.model.derived import key_buyer_volumes, smb_price
from kamabm.model.kam import KAM
from kamabm.model.params import FIVE_YEARS, Parameters
from kamabm.model.supplier import Supplier


def captured_share(model: KAMMarket) -> float:
    """Share of KAMs captured this month (a DataCollector reporter)."""
    return float(model.trace.captured[model.month - 1] / len(model.kams))


def mean_alignment(model: KAMMarket) -> float:
    """Mean KAM alignment this month (a DataCollector reporter)."""
    return float(model.trace.mean_alignment[model.month - 1])


def key_price(model: KAMMarket) -> float:
    """Volume-weighted mean key-account price this month (a DataCollector reporter)."""
    return float(model.trace.key_price[model.month - 1])


def supplier_profit(model: KAMMarket) -> float:
    """All suppliers' profit this month (a DataCollector reporter)."""
    t = model.month - 1
    return float(sum(s.ledger.profit[t] for s in model.suppliers))


#: Model-level series Mesa's DataCollector records every month.
MODEL_REPORTERS = {"month": "month", "kam_pressure": "kam_pressure",
                   "captured_share": captured_share, "mean_alignment": mean_alignment,
                   "key_price": key_price, "supplier_profit": supplier_profit}
#: KAM state Mesa's DataCollector records every month, for every KAM.
KAM_REPORTERS = {"alignment": "alignment", "identification": "identification",
                 "skill": "skill", "stress": "stress",
                 "operational_share": "operational_share", "captured": "captured"}


class KAMMarket(mesa.Model):
    """A market in which key account managers may be captured by their clients.

    Args:
        params: the run's parameters (defaults when omitted).
        seed: seed of the model's random generator; all randomness flows from it.
        rng: the same, under the name Mesa 3.5's ``batch_run`` passes (give one or the
            other).
        collect: whether Mesa's DataCollector records every month (about a fifth of a
            run's time; :func:`kamabm.model.run.run_one`, which keeps its own preallocated
            trace, turns it off).
        **overrides: parameter values by name, applied on top of ``params`` (so that
            ``mesa.batch_run`` can pass parameters as keywords).

    Attributes:
        kam_pressure: the management pressure now in force; starts at
            ``params.kam_pressure``, becomes ``params.pressure_after_change`` after month
            ``params.pressure_change_month`` (if not 0), and may be changed by hand
            between steps.
        month: months simulated so far.
        steady: whether the run stopped early at a steady state.
        trace: per-month series (alignment of every KAM, prices, margins, time shares).
        datacollector: Mesa's ``DataCollector``, recording :data:`MODEL_REPORTERS` and,
            for every KAM, :data:`KAM_REPORTERS` each month (so ``mesa.batch_run`` and
            Mesa's charts can read the model).

    """

    def __init__(self, params: Parameters | None = None, seed: int | None = None, *,
                 rng: int | None = None, collect: bool = True, **overrides: Any) -> None:
        if seed is not None and rng is not None:
            raise ValueError("pass either seed or rng, not both")
        super().__init__(rng=seed if rng is None else rng)
        params = params or Parameters()
        self.params = params.replace(**overrides) if overrides else params
        p = self.params
        self.kam_pressure = p.kam_pressure
        #: Months simulated so far (Mesa's ``steps`` also counts calls past the horizon).
        self.month = 0
        self.steady = False
        self.initial_key_price = smb_price(p)

        self.suppliers = [Supplier(self, i) for i in range(p.n_suppliers)]
        volumes = key_buyer_volumes(p)
        self.buyers = [KeyBuyer(self, float(v), j) for j, v in enumerate(volumes)]
        self.kams: list[KAM] = []
        for supplier in self.suppliers:
            for buyer in self.buyers:
                account = Account(supplier, buyer, price=self.initial_key_price,
                                  volume=buyer.volume / p.n_suppliers,
                                  satisfaction=p.initial_satisfaction)
                supplier.accounts.append(account)
                buyer.accounts.append(account)
                kam = KAM(self, supplier, len(self.kams))
                kam.take_over(account, established=True)
                self.kams.append(kam)
        if p.pin_first_kam:  # the causal test of contagion: one KAM held captured
            self.kams[0].pinned = True
            self.kams[0].alignment = p.pinned_alignment
        share = p.client_revenue_share
        for supplier in self.suppliers:
            key_revenue = running_sum(a.revenue for a in supplier.accounts)
            supplier.open_books(key_revenue * (1.0 - share) / share)
        self.trace = Trace(p.horizon_months, len(self.kams), p.kpi_months)
        self.collect = collect
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS,
                                                agenttype_reporters={KAM: KAM_REPORTERS})

    def step(self) -> None:
        """Advance the market by one month (the schedule in the module docstring).

        Past the horizon, or after a steady state was reached, a step does nothing (the
        app may call it again after the end).
        """
        if self.month >= self.params.horizon_months or self.steady:
            self.running = False
            return
        self.month += 1
        self.agents_by_type[KeyBuyer].do("raise_demands")
        self.agents_by_type[KeyBuyer].do("tender")
        self.agents_by_type[KAM].do("respond")
        self.agents_by_type[Supplier].do("deliver")
        self.agents_by_type[KAM].do("update")
        self.agents_by_type[Supplier].do("serve_and_book")
        self._rotate()
        if self.month == self.params.pressure_change_month:
            self.kam_pressure = self.params.pressure_after_change
        self.trace.record(self)
        if self.collect:
            self.datacollector.collect(self)
        if self.month >= self.params.horizon_months:
            self.running = False
        elif self._at_steady_state():
            self.steady = True
            self.running = False

    def run(self) -> KAMMarket:
        """Run to the horizon (or to a steady state) and return the model."""
        while self.running:
            self.step()
        return self

    def _at_steady_state(self) -> bool:
        """Whether the run has settled.

        No KAM crossed the captured threshold, and neither mean alignment nor mean
        identification moved by ``steady_state_tolerance`` or more, over the last
        ``steady_state_window`` months (never before month 60, nor within a window of a
        pressure change). Identification is checked because it moves first: after a change
        of pressure it builds up for months before alignment tips.
        """
        p = self.params
        window = p.steady_state_window
        t = self.month
        if window == 0 or t < max(FIVE_YEARS, window + 1, p.pressure_change_month + window):
            return False
        captured = self.trace.captured[t - window - 1:t]
        if captured.min() != captured.max():
            return False
        tolerance = p.steady_state_tolerance
        return all(abs(mean[t - 1] - mean[t - window - 1]) < tolerance
                   for mean in (self.trace.mean_alignment, self.trace.mean_identification))

    def _rotate(self) -> None:
        """Rotate each supplier's KAMs one account on, suppliers staggered over the period.

        Supplier ``i`` rotates in the months ``m`` with ``(m + i * months // n) % months
        == 0``, so rivals seldom rotate in the same month and a handover's dip in the
        buyer's trust can move volume to them.
        """
        p = self.params
        for supplier in self.suppliers:
            months = supplier.levers.rotation_months
            if months == 0:
                continue
            offset = supplier.index * months // p.n_suppliers
            if (self.month + offset) % months != 0 or len(supplier.accounts) < 2:
                continue
            kams = [kam_in_charge(a) for a in supplier.accounts]
            for account, kam in zip(supplier.accounts, kams[-1:] + kams[:-1], strict=True):
                leaving = kam_in_charge(account)
                account.satisfaction *= 1.0 - p.handover_trust_loss * leaving.familiarity
                supplier.handovers += 1
                kam.take_over(account)
