"""The negotiation engine against known answers (Faratin, Rubinstein, Nash)."""


import numpy as np
import pytest

from kamabm.model.negotiation import (
    Side,
    alternating_offers,
    nash_bargaining,
    next_offer,
    offer,
    rubinstein_share,
    tactic,
)


# --- Faratin tactic curves -------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.1, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("kappa", [0.0, 0.2])
def test_tactic_matches_the_polynomial_closed_form(beta, kappa):
    for t in range(0, 11):
        expected = kappa + (1 - kappa) * (t / 10) ** (1 / beta)
        assert tactic(t, 10, beta, kappa) == pytest.approx(expected, abs=1e-12)


def test_tactic_starts_at_kappa_and_ends_at_one():
    assert tactic(0, 8, 0.3, 0.1) == pytest.approx(0.1)
    assert tactic(8, 8, 0.3, 0.1) == pytest.approx(1.0)


def test_boulware_holds_firm_and_conceder_gives_early():
    midway = 4
    assert tactic(midway, 8, 0.2) < 0.05 < 0.5 < tactic(midway, 8, 5.0)
    assert tactic(midway, 8, 1.0) == pytest.approx(0.5)  # linear in between


def test_offers_move_from_opening_to_reservation():
    seller = Side(opening=1.4, reservation=1.1, beta=1.0)
    prices = [offer(seller, t, 6) for t in range(7)]
    assert prices[0] == pytest.approx(1.4) and prices[-1] == pytest.approx(1.1)
    assert all(a > b for a, b in zip(prices, prices[1:], strict=False))


def test_tit_for_tat_concedes_what_the_other_side_conceded():
    pure_tft = Side(opening=1.4, reservation=1.0, beta=1.0, reciprocity=1.0)
    # the buyer moved up from 1.00 to 1.05: the seller comes down by 0.05
    assert next_offer(pure_tft, 4, 8, 1.30, 1.00, 1.05) == pytest.approx(1.25)
    # but never below its reservation and never back up
    assert next_offer(pure_tft, 4, 8, 1.02, 0.80, 1.00) == pytest.approx(1.0)
    assert next_offer(pure_tft, 4, 8, 1.30, 1.05, 1.00) == pytest.approx(1.30)


# --- alternating offers ------------------------------------------------------------------
def _random_pair(rng, reciprocity):
    r_s, r_b = sorted(rng.uniform(1.0, 1.5, 2))
    def tactic_and_patience():
        return rng.uniform(0.1, 5), rng.uniform(0.8, 1), reciprocity * rng.uniform()

    seller = Side(r_b + 0.2, r_s, *tactic_and_patience())
    buyer = Side(r_s - 0.2, r_b, *tactic_and_patience())
    return seller, buyer


def test_time_dependent_tactics_always_agree_inside_the_zone_of_agreement():
    rng = np.random.default_rng(0)
    for _ in range(300):
        seller, buyer = _random_pair(rng, reciprocity=0.0)
        outcome = alternating_offers(seller, buyer, 10)
        assert outcome.agreed
        assert seller.reservation - 1e-12 <= outcome.price <= buyer.reservation + 1e-12


def test_any_agreement_respects_both_reservations_even_with_tit_for_tat():
    rng = np.random.default_rng(1)
    agreed = 0
    for _ in range(300):
        seller, buyer = _random_pair(rng, reciprocity=1.0)
        outcome = alternating_offers(seller, buyer, 10)
        if outcome.agreed:
            agreed += 1
            assert seller.reservation - 1e-12 <= outcome.price <= buyer.reservation + 1e-12
    assert agreed > 150


def test_the_same_kam_does_worse_against_a_detached_negotiator():
    """E4, E6: same KAM, same skill; the owner reciprocates and walks away only above his
    real alternative, the detached negotiator holds firm at his procedural target."""
    kam = Side(opening=1.40, reservation=1.10, beta=2.0, delta=0.95, reciprocity=0.8)
    owner = Side(opening=1.05, reservation=1.35, beta=1.0, delta=0.90, reciprocity=0.5)
    detached = Side(opening=1.05, reservation=1.20, beta=0.2, delta=0.99, reciprocity=0.0)
    with_owner = alternating_offers(kam, owner, 8)
    with_detached = alternating_offers(kam, detached, 8)
    assert with_owner.agreed and with_detached.agreed
    assert with_owner.price - with_detached.price > 0.05
    assert with_detached.rounds > with_owner.rounds  # the iron position holds out longer


# --- Rubinstein -------------------------------------------------------------------------
def test_rubinstein_numbers_of_the_model_guide():
    assert rubinstein_share(0.8, 0.99) == pytest.approx(0.0476, abs=5e-4)
    assert rubinstein_share(0.8, 0.9) == pytest.approx(0.357, abs=5e-4)


def _spe_share_by_backward_induction(delta_1, delta_2, rounds):
    """Player 1's share when he proposes first in a finite alternating-offers game."""
    proposer = 1 if rounds % 2 == 1 else 2  # who proposes in the last round
    share = 1.0  # ... and takes everything
    for _ in range(rounds - 1):
        proposer = 2 if proposer == 1 else 1  # one round earlier
        responder_delta = delta_2 if proposer == 1 else delta_1
        share = 1.0 - responder_delta * share  # offer the responder his discounted future
    return share


@pytest.mark.parametrize(("d1", "d2"), [(0.8, 0.99), (0.8, 0.9), (0.9, 0.9), (0.95, 0.6)])
def test_finite_horizon_games_converge_to_rubinstein(d1, d2):
    long_game = _spe_share_by_backward_induction(d1, d2, 2001)
    assert long_game == pytest.approx(rubinstein_share(d1, d2), abs=1e-6)


def test_rubinstein_rejects_discount_factors_outside_the_unit_interval():
    with pytest.raises(ValueError):
        rubinstein_share(1.0, 0.9)


# --- Nash bargaining -------------------------------------------------------------------
def test_nash_solution_maximises_the_nash_product():
    pie, d1, d2, w = 10.0, 2.0, 3.0, 0.3
    u1, u2 = nash_bargaining(pie, d1, d2, w)
    assert u1 + u2 == pytest.approx(pie)
    grid = np.linspace(d1, pie - d2, 100001)
    product = (grid - d1) ** w * (pie - grid - d2) ** (1 - w)
    assert u1 == pytest.approx(grid[np.argmax(product)], abs=1e-4)


def test_symmetric_nash_splits_the_net_surplus_equally():
    assert nash_bargaining(10.0, 2.0, 4.0) == pytest.approx((4.0, 6.0))


def test_nash_without_surplus_leaves_each_at_its_disagreement_point():
    assert nash_bargaining(5.0, 3.0, 3.0) == (3.0, 3.0)
