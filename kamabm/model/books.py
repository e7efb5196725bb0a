"""The books a run keeps: each supplier's monthly ledger and the market's monthly trace.

Plain preallocated numpy arrays, filled month by month. The Mesa model fills them through
its agents; the compiled engine (:mod:`kamabm.model.engine`) fills the same arrays, and
the outcomes (:mod:`kamabm.model.measure`) are read from them, so both engines are
measured by one piece of code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from kamabm.model.constants import CAPTURED_BELOW


def running_sum(values: Iterable[float]) -> float:
    """The sum of ``values`` added left to right, as Python 3.11's ``sum`` adds floats.

    Python 3.12's ``sum`` compensates rounding (Neumaier), which moves the last digit; the
    model adds with this function so that its numbers do not depend on the Python
    version, and the compiled engine adds the same way.
    """
    total = 0.0
    for value in values:
        total += value
    return total


class Ledger:
    """Monthly books of one supplier: one row per month, one column per line item.

    Each item is readable as an attribute (``ledger.key_revenue``: a column view).
    """

    ITEMS = ("key_revenue", "smb_revenue", "key_cogs", "smb_cogs", "service", "selling",
             "demands",
             "concessions", "resources", "service_level", "people", "overhead",
             "restructuring", "acquisition", "lever_people")

    # The columns of ``rows``, set as attributes in ``__init__`` (one per item of ITEMS).
    key_revenue: np.ndarray
    smb_revenue: np.ndarray
    key_cogs: np.ndarray
    smb_cogs: np.ndarray
    service: np.ndarray
    #: SMB selling and admin costs (the field sales force; key accounts' is their KAM).
    selling: np.ndarray
    demands: np.ndarray
    concessions: np.ndarray
    resources: np.ndarray
    service_level: np.ndarray
    people: np.ndarray
    overhead: np.ndarray
    #: One-off cost of cutting fixed costs after a losing year (severance, closures).
    restructuring: np.ndarray
    acquisition: np.ndarray
    #: Memo: the part of ``people`` that levers and learning take (not a cost of its own).
    lever_people: np.ndarray

    def __init__(self, months: int) -> None:
        self.rows = np.zeros((months, len(self.ITEMS)))
        for column, item in enumerate(self.ITEMS):
            setattr(self, item, self.rows[:, column])

    @classmethod
    def of_rows(cls, rows: np.ndarray) -> Ledger:
        """A ledger over ``rows`` (months x items, filled elsewhere: the compiled engine)."""
        ledger = cls.__new__(cls)
        ledger.rows = rows
        for column, item in enumerate(cls.ITEMS):
            setattr(ledger, item, rows[:, column])
        return ledger

    def book(self, month: int, values: tuple[float, ...]) -> None:
        """Book one month's line items, in the order of :attr:`ITEMS`."""
        self.rows[month] = values

    @property
    def revenue(self) -> np.ndarray:
        """Monthly revenue."""
        return self.key_revenue + self.smb_revenue

    @property
    def costs(self) -> np.ndarray:
        """Monthly costs.

        Production, cost to serve, SMB selling, extra demands delivered, people and
        levers, fixed costs and restructuring, SMB acquisition.
        """
        return (self.key_cogs + self.smb_cogs + self.service + self.selling + self.demands
                + self.people + self.overhead + self.restructuring + self.acquisition)

    @property
    def profit(self) -> np.ndarray:
        """Monthly profit: revenue less costs."""
        return self.revenue - self.costs


class Trace:
    """Per-month series a run keeps cheaply (preallocated arrays, filled each step)."""

    def __init__(self, months: int, n_kams: int, kpi_months: int) -> None:
        self.alignment = np.ones((months, n_kams))
        #: Price concessions (price cut x volume) by month of the KAM's KPI year (P7).
        self.concessions_by_kpi_month = np.zeros(kpi_months)
        #: Each account's monthly profit after its demands and its KAM (P9), in the order
        #: of ``model.kams``' first accounts (suppliers, then buyers).
        self.account_profit = np.zeros((months, n_kams))
        #: Each account's revenue that month, in the same order.
        self.account_revenue = np.zeros((months, n_kams))
        #: The KAM in charge of each account that month (his index in ``model.kams``).
        self.holder = np.zeros((months, n_kams), dtype=np.int64)
        self.operational_share = np.zeros((months, n_kams))
        self.activity = np.zeros((months, n_kams))
        self.key_price = np.zeros(months)
        self.captured = np.zeros(months)
        self.mean_alignment = np.ones(months)
        self.mean_identification = np.zeros(months)

    def record_concession(self, kpi_month: int, amount: float) -> None:
        """Add a tender's price cut (times volume) at its month of the KPI year."""
        if amount > 0.0:
            self.concessions_by_kpi_month[kpi_month] += amount

    def record(self, model: Any) -> None:
        """Record the month just simulated from the Mesa model ``model``."""
        t = model.month - 1
        alignment = [kam.alignment for kam in model.kams]
        self.alignment[t] = alignment
        self.operational_share[t] = [kam.operational_share for kam in model.kams]
        accounts = [a for s in model.suppliers for a in s.accounts]
        self.account_profit[t] = [a.profit for a in accounts]
        self.account_revenue[t] = [a.revenue for a in accounts]
        self.holder[t] = [a.kam.index for a in accounts]
        self.activity[t] = [kam.activity for kam in model.kams]
        volume = revenue = 0.0
        for s in model.suppliers:
            for a in s.accounts:
                volume += a.volume
                revenue += a.price * a.volume
        self.key_price[t] = revenue / volume
        self.captured[t] = sum(x < CAPTURED_BELOW for x in alignment)
        self.mean_alignment[t] = running_sum(alignment) / len(alignment)
        self.mean_identification[t] = running_sum(
            k.tie.identification for k in model.kams) / len(alignment)
