"""A key account: the relation between one supplier and one large buyer.

The account is plain data shared by the three agents that act on it: the buyer sets its
volume and raises demands on it, the KAM negotiates its price and handles the demands,
the supplier books its revenue and costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kamabm.model.buyer import KeyBuyer
    from kamabm.model.kam import KAM
    from kamabm.model.supplier import Supplier


@dataclass(eq=False, slots=True)
class Account:
    """One supplier's business with one key buyer.

    Attributes:
        supplier: the selling firm.
        buyer: the key buyer.
        kam: the key account manager currently in charge.
        price: contract price per unit (money per unit; unit cost is 1).
        volume: units the buyer takes from this supplier each month.
        satisfaction: the buyer's satisfaction with this supplier, in [0, 1] (the model
            starts it at ``initial_satisfaction``).
        aspiration: the buyer's ratchet on this account: extra price cut and demands it
            asks for after pliant deals (share, >= 0).
        pending_demand: cost of the extra demands raised this month (money).
        granted_demand: cost of the extra demands the KAM pushed through this month.
        delivered_demand: the part of the granted demands the supplier's shared pool could
            deliver this month (what is booked as a cost and what the buyer sees).
        revenue_share: this account's share of its supplier's turnover last month.
        dependence: how far the supplier cannot afford to lose this account, in [0, 1]:
            the contribution a deadlock would cost against the firm's profit cushion, as
            its management reads it from the books (:meth:`Supplier.read_books`).
        profit: last month's profit on the account: gross margin after cost to serve, less
            the demands delivered and the KAM's cost.
        year_profit: the account's profit so far in the supplier's current KPI year.
        renegotiate: whether management has taken the account's pricing out of its KAM's
            hands because it lost money over the last KPI year: until it pays again, he may
            not agree below his floor, and the buyer accepts that or moves its volume
            ("renegotiate or drop the account").

    """

    supplier: Supplier
    buyer: KeyBuyer
    kam: KAM | None = None
    price: float = 1.0
    volume: float = 0.0
    satisfaction: float = 0.0
    aspiration: float = 0.0
    pending_demand: float = 0.0
    granted_demand: float = 0.0
    delivered_demand: float = 0.0
    revenue_share: float = 0.0
    dependence: float = 0.0
    profit: float = 0.0
    year_profit: float = 0.0
    renegotiate: bool = False

    @property
    def revenue(self) -> float:
        """Monthly revenue of the account (money)."""
        return self.price * self.volume


def kam_in_charge(account: Account) -> KAM:
    """The KAM in charge of ``account``.

    ``Account.kam`` is None only while the model is being built; every account has a KAM
    from then on, which is what this states (for the type checker too).
    """
    kam = account.kam
    assert kam is not None, "the account has no KAM yet"
    return kam
