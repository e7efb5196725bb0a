"""The negotiation engine (:mod:`kamabm.model.negotiation`), compiled.

A stance is a tuple ``(opening, reservation, beta, delta, reciprocity)``, the fields of
:class:`~kamabm.model.negotiation.Side` in order.
"""

from __future__ import annotations

import math

from kamabm.model.compiled.numeric import jit, py_max, py_min


# --- the negotiation engine (kamabm.model.negotiation) ------------------------------------
@jit
def offer(side: tuple, t: int, t_max: int) -> float:
    """:func:`~kamabm.model.negotiation.offer` with :func:`~kamabm.model.negotiation.tactic`."""
    opening, reservation, beta = side[0], side[1], side[2]
    kappa = 0.0
    alpha = kappa + (1.0 - kappa) * (min(t, t_max) / t_max) ** (1.0 / beta)
    return opening + alpha * (reservation - opening)


@jit
def next_offer(side: tuple, t: int, t_max: int, has_own: bool, own_last: float,
                has_before: bool, other_before: float, other_last: float) -> float:
    """:func:`~kamabm.model.negotiation.next_offer`."""
    timed = offer(side, t, t_max)
    reciprocity = side[4]
    if reciprocity == 0.0 or not has_own or not has_before:
        return timed
    mirrored = own_last - (other_last - other_before)
    price = (1.0 - reciprocity) * timed + reciprocity * mirrored
    reservation = side[1]
    low, high = (reservation, own_last) if reservation < own_last else (own_last, reservation)
    return py_min(high, py_max(low, price))


@jit
def alternating_offers(seller: tuple, buyer: tuple, t_max: int) -> tuple:
    """:func:`~kamabm.model.negotiation.alternating_offers`: (agreed, price, rounds)."""
    # The offers made one and two rounds ago (the responder's last, the mover's before).
    previous = before_previous = 0.0
    price = offer(seller, 0, t_max)
    for t in range(t_max + 1):
        mover = t % 2
        responder = buyer if mover == 0 else seller
        if t < t_max:
            counter = next_offer(responder, t + 1, t_max, t >= 1, previous, t >= 2,
                                 before_previous, price)
        else:
            counter = responder[1]
        if mover == 0:
            gain_now = buyer[1] - price
            gain_next = buyer[3] * (buyer[1] - counter)
        else:
            gain_now = price - seller[1]
            gain_next = seller[3] * (counter - seller[1])
        if gain_now >= 0.0 and gain_now >= gain_next:
            return True, price, t + 1
        before_previous, previous = previous, price
        price = counter
    return False, math.nan, t_max + 1
