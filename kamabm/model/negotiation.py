"""Negotiation engine: concession tactics, alternating offers, bargaining closed forms.

Pure Python, no Mesa: every pair in the market (KAM and key buyer, KAM and SMB owner)
negotiates through these functions, and each is tested against a known answer.

* :func:`tactic` is the polynomial time-dependent tactic of Faratin, Sierra & Jennings
  (1998): ``alpha(t) = kappa + (1 - kappa) * (t / t_max) ** (1 / beta)``. ``beta < 1``
  is *Boulware* (holds firm until the deadline), ``beta > 1`` is *Conceder*.
* :func:`next_offer` mixes that time-dependent tactic with Faratin et al.'s
  behaviour-dependent one (absolute tit-for-tat: concede what the other conceded).
* :func:`alternating_offers` runs a price negotiation between a seller and a buyer who
  take turns, each conceding by its tactics and discounting delay by its own factor.
* :func:`rubinstein_share` is the first proposer's share of the surplus in Rubinstein's
  (1982) infinite-horizon alternating-offers game.
* :func:`nash_bargaining` is the (asymmetric) Nash bargaining solution with
  disagreement points.
"""

from __future__ import annotations

from dataclasses import dataclass


def tactic(t: float, t_max: float, beta: float, kappa: float = 0.0) -> float:
    """Share of the way from opening to reservation a negotiator has conceded at ``t``.

    Args:
        t: the current round, ``0 <= t <= t_max``.
        t_max: the deadline round.
        beta: concession exponent; ``< 1`` Boulware, ``1`` linear, ``> 1`` Conceder.
        kappa: share conceded at the very first offer.

    Returns:
        ``alpha(t)`` in ``[kappa, 1]``; it reaches 1 at the deadline.

    """
    return kappa + (1.0 - kappa) * (min(t, t_max) / t_max) ** (1.0 / beta)


@dataclass(frozen=True, slots=True)
class Side:
    """One party's stance in a price negotiation.

    Attributes:
        opening: the first price it offers.
        reservation: the worst price it will accept (lowest for a seller, highest for a
            buyer).
        beta: concession exponent of its time-dependent tactic.
        delta: discount factor per round of delay (patience); 1 means delay costs nothing.
        reciprocity: weight in [0, 1] of the behaviour-dependent (tit-for-tat) tactic:
            concede as much as the other side conceded last (Faratin et al.'s absolute
            tit-for-tat), the habit that works with owners who reciprocate.

    """

    opening: float
    reservation: float
    beta: float
    delta: float = 1.0
    reciprocity: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of one negotiation: whether it closed, at what price and after how many offers."""

    agreed: bool
    price: float
    rounds: int


def offer(side: Side, t: int, t_max: int) -> float:
    """The price ``side``'s time-dependent tactic offers at round ``t``."""
    return side.opening + tactic(t, t_max, side.beta) * (side.reservation - side.opening)


def next_offer(side: Side, t: int, t_max: int, own_last: float | None,
               other_before: float | None, other_last: float | None) -> float:
    """The price ``side`` offers at round ``t``, mixing its time and tit-for-tat tactics.

    Args:
        side: the proposer's stance.
        t: the round.
        t_max: the deadline round.
        own_last: the proposer's previous offer (None at its first offer).
        other_before: the other side's offer before its latest (None if not made).
        other_last: the other side's latest offer (None if not made).

    """
    timed = offer(side, t, t_max)
    if side.reciprocity == 0.0 or own_last is None or other_before is None:
        return timed
    assert other_last is not None  # made after other_before
    mirrored = own_last - (other_last - other_before)
    price = (1.0 - side.reciprocity) * timed + side.reciprocity * mirrored
    # Never move back toward the opening, never past the reservation.
    low, high = sorted((own_last, side.reservation))
    return min(high, max(low, price))


def alternating_offers(seller: Side, buyer: Side, t_max: int) -> Outcome:
    """Negotiate a price by alternating offers with a deadline (seller offers first).

    At round ``t`` the proposer offers by its tactic; the responder accepts when the offer
    is within its reservation and, discounted by one round, worth at least as much to it
    as the counter-offer it would make next (Faratin et al.'s acceptance rule with a cost
    of delay). No agreement by round ``t_max`` is a deadlock.

    Utilities are surpluses over the reservation price: ``price - r_s`` for the seller,
    ``r_b - price`` for the buyer. Seller's offers fall over time, buyer's offers rise.
    """
    # offers[0] are the seller's, offers[1] the buyer's, latest last.
    offers: tuple[list[float], list[float]] = ([], [])
    sides = (seller, buyer)
    price = next_offer(seller, 0, t_max, None, None, None)
    for t in range(t_max + 1):
        mover = t % 2
        responder = sides[1 - mover]
        mine, theirs = offers[mover], offers[1 - mover]
        mine.append(price)
        # The counter-offer the responder weighs is the one he makes next if he declines.
        if t < t_max:
            counter = next_offer(responder, t + 1, t_max, theirs[-1] if theirs else None,
                                 mine[-2] if len(mine) > 1 else None, price)
        else:
            counter = responder.reservation
        if mover == 0:
            gain_now = buyer.reservation - price
            gain_next = buyer.delta * (buyer.reservation - counter)
        else:
            gain_now = price - seller.reservation
            gain_next = seller.delta * (counter - seller.reservation)
        if gain_now >= 0.0 and gain_now >= gain_next:
            return Outcome(True, price, t + 1)
        price = counter
    return Outcome(False, float("nan"), t_max + 1)


def rubinstein_share(delta_proposer: float, delta_responder: float) -> float:
    """First proposer's share of the surplus in Rubinstein's alternating-offers game.

    ``(1 - delta_responder) / (1 - delta_proposer * delta_responder)``. A KAM with
    ``delta = 0.8`` proposing to a detached negotiator with ``delta = 0.99`` gets about
    4.8 %; to an owner with ``delta = 0.9``, about 35.7 %.
    """
    if not (0.0 <= delta_proposer < 1.0 and 0.0 <= delta_responder < 1.0):
        raise ValueError("discount factors must lie in [0, 1)")
    return (1.0 - delta_responder) / (1.0 - delta_proposer * delta_responder)


def nash_bargaining(pie: float, disagreement_1: float, disagreement_2: float,
                    power_1: float = 0.5) -> tuple[float, float]:
    """Asymmetric Nash bargaining solution over dividing ``pie``.

    Maximises ``(u1 - d1) ** w * (u2 - d2) ** (1 - w)`` subject to ``u1 + u2 = pie``:
    each party gets its disagreement payoff plus its power's share of the net surplus.

    Returns:
        ``(u1, u2)``; if the disagreement points already exhaust the pie there is no deal
        and each keeps its disagreement payoff.

    """
    if not 0.0 <= power_1 <= 1.0:
        raise ValueError("bargaining power must lie in [0, 1]")
    surplus = pie - disagreement_1 - disagreement_2
    if surplus < 0.0:
        return disagreement_1, disagreement_2
    return disagreement_1 + power_1 * surplus, disagreement_2 + (1.0 - power_1) * surplus
