"""What the parameters imply before anyone acts: unit costs, prices, weights and levers.

Pure functions of :class:`~kamabm.model.params.Parameters`, without Mesa: the agents
call them, and the compiled engine (:mod:`kamabm.model.engine`) computes them by the
same code before its first month, so that neither engine has its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from kamabm.model.negotiation import nash_bargaining, rubinstein_share
from kamabm.model.params import Parameters


@dataclass(frozen=True)
class Levers:
    """The management levers one supplier runs (the ``lever`` group of Parameters).

    Every supplier runs the values of :class:`~kamabm.model.params.Parameters`, unless
    ``focal_levers_only`` limits them to the first supplier: its rivals run none.
    """

    kpi_margin_weight: float = 0.0
    training: float = 0.0
    deal_review: float = 0.0
    senior_support: float = 0.0
    rotation_months: int = 0
    smb_growth: float = 0.0

    @classmethod
    def of(cls, p: Parameters, index: int) -> Levers:
        """The levers supplier ``index`` runs under parameters ``p``."""
        if p.focal_levers_only and index > 0:
            return cls()
        return cls(*(getattr(p, name) for name in LEVER_NAMES))


#: The levers' names, in the order of :class:`Levers`' fields.
LEVER_NAMES = tuple(f.name for f in fields(Levers))


def key_unit_cost(p: Parameters) -> float:
    """Full cost of one unit sold to a key buyer: production and its cost to serve.

    A key account is served for less per unit than an SMB client (``key_service_saving``)
    and needs no field sales force: its KAM is its selling cost, booked apart.
    """
    return 1.0 + (1.0 - p.key_service_saving) * p.service_cost


def key_service_per_unit(p: Parameters) -> float:
    """Ordinary cost to serve one unit sold to a key buyer (the service part of its cost)."""
    return key_unit_cost(p) - 1.0


def smb_unit_cost(p: Parameters) -> float:
    """Full cost of one unit sold to an SMB client: production, service and selling."""
    return 1.0 + p.service_cost + p.smb_selling_cost


def smb_price(p: Parameters) -> float:
    """Price an SMB owner agrees, by alternating offers with the supplier's sales force.

    The disagreement points are the supplier's full cost of an SMB unit (no sale) and the owner's
    alternative, buying at list price elsewhere; the sales force proposes first and the
    surplus is split by Rubinstein's shares (the limit of Nash bargaining with these
    powers).
    """
    floor, ceiling = smb_unit_cost(p), 1.0 + p.list_markup
    power = rubinstein_share(p.sales_delta, p.smb_owner_delta)
    seller_gain, _ = nash_bargaining(ceiling - floor, 0.0, 0.0, power)
    return floor + seller_gain


def viable_price(p: Parameters) -> float:
    """The lowest price a buyer's target asks of any supplier.

    The supplier's full unit cost of a key-account unit plus ``viable_markup``.

    A buyer needs its suppliers to stay in business (Inderst & Montez 2019): its
    procedure knows the supplier's cost (should-cost analysis) and stops asking for
    cuts there. Its negotiator may still take less from a KAM who offers it.
    """
    return key_unit_cost(p) * (1.0 + p.viable_markup)


def key_buyer_weights(p: Parameters) -> np.ndarray:
    """Each key buyer's share of the key accounts' volume.

    ``key_account_shares`` when given (each share over their sum); else Zipf weights,
    ``k ** -key_share_concentration`` for the k-th largest buyer.
    """
    if p.key_account_shares:
        shares = np.array(p.key_account_shares)
        return shares / shares.sum()
    ranks = np.arange(1, p.n_key_buyers + 1, dtype=float)
    weights = ranks ** -p.key_share_concentration
    return weights / weights.sum()


def key_buyer_volumes(p: Parameters) -> np.ndarray:
    """Each key buyer's monthly volume: its weight of all key buyers' volume."""
    return p.key_buyer_volume * p.n_key_buyers * key_buyer_weights(p)


def buyer_detachment(p: Parameters, index: int) -> float:
    """Detachment of key buyer ``index``'s negotiator (``buyer_detachments`` if given)."""
    return p.buyer_detachments[index] if p.buyer_detachments else p.buyer_detachment


def pressure_offset(p: Parameters, index: int) -> float:
    """How far supplier ``index``'s pressure lies from the market's (0 unless given)."""
    return p.supplier_pressures[index] - p.kam_pressure if p.supplier_pressures else 0.0
