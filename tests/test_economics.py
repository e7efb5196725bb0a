"""The supplier's economics (issue 16): costs by customer type, bounded leverage, what
management does about losing accounts and years, survival, and the levers that act
through what people do (a reviewer, a senior colleague at the table)."""

import numpy as np
import pytest
from model_helpers import mean_outcome

from kamabm import KAMMarket, Parameters
from kamabm.model.kam import blend
from kamabm.model.negotiation import Side
from kamabm.model.supplier import key_unit_cost, smb_price, smb_unit_cost

SEEDS6 = range(6)


# --- costs and prices ---------------------------------------------------------------------
def test_a_key_account_unit_costs_less_than_a_small_clients_and_the_smb_price_covers_it():
    p = Parameters()
    assert 1.0 < key_unit_cost(p) < smb_unit_cost(p) < smb_price(p) < 1.0 + p.list_markup
    assert key_unit_cost(p) == pytest.approx(1.0 + (1.0 - p.key_service_saving) * p.service_cost)


def test_concentrated_suppliers_spend_less_of_revenue_on_selling_service_and_accounts():
    # Patatoukas 2012's direction: 6 seeds, no capture at pressure 0.2 (it would add extras).
    low = mean_outcome("selling_cost_share", SEEDS6, client_revenue_share=0.05, kam_pressure=0.2)
    high = mean_outcome("selling_cost_share", SEEDS6, client_revenue_share=0.8, kam_pressure=0.2)
    assert high < low - 0.01


def test_a_buyers_target_never_asks_below_the_price_that_leaves_its_supplier_viable():
    model = KAMMarket(Parameters(client_revenue_share=0.9, price_cut_target=0.3), seed=1)
    buyer = model.buyers[0]
    account = buyer.accounts[0]
    viable = key_unit_cost(model.params) * (1.0 + model.params.viable_markup)
    assert buyer.viable_price() == pytest.approx(viable)
    account.price = viable * 1.01  # a 30 % yearly cut would take it far below
    for other in buyer.accounts[1:]:
        other.price = viable * 0.9  # even a rival who sells below it is no benchmark below
    assert buyer.procedural_price(account) < viable
    assert buyer.target_price(account) == pytest.approx(viable)


# --- survival and profit -------------------------------------------------------------------
def test_at_the_defaults_even_the_most_dependent_suppliers_survive_twenty_years_in_profit():
    # Share 0.8, pressure 0.8, where every KAM is captured: 6 seeds, 20 years.
    params = dict(client_revenue_share=0.8, kam_pressure=0.8, horizon_months=240)
    assert mean_outcome("survival_rate", SEEDS6, **params) == 1.0
    assert mean_outcome("supplier_margin", SEEDS6, **params) > 0.0
    # ... but thinly: they lose money in a good part of their years
    assert mean_outcome("loss_years", SEEDS6, **params) > 0.1


def test_a_supplier_whose_losses_exceed_its_equity_is_marked_failed():
    model = KAMMarket(Parameters(client_revenue_share=0.8, horizon_months=24), seed=1)
    supplier = model.suppliers[0]
    model.step()
    supplier.read_books(-2.0 * supplier.equity)
    assert supplier.failed_month == model.month


# --- what management does about losing accounts and years ----------------------------------
def test_an_account_that_lost_money_over_a_year_is_renegotiated_and_gets_no_unpaid_extras():
    model = KAMMarket(Parameters(client_revenue_share=0.5, kam_pressure=0.9), seed=3)
    supplier = model.suppliers[0]
    account, other = supplier.accounts[0], supplier.accounts[1]
    account.year_profit, other.year_profit = -1.0, 1.0
    supplier.close_year()
    assert account.renegotiate and not other.renegotiate
    assert account.year_profit == 0.0  # a new year is read
    kam = account.kam
    kam.alignment = 0.0  # even a captured KAM cannot grant extras on it
    account.pending_demand = 5.0
    kam.respond()
    assert account.granted_demand == 0.0
    floor = kam.floor_price(account)
    assert kam.stance(account, target=1.0).reservation >= floor - 1e-12


def test_a_losing_year_cuts_fixed_costs_to_the_revenue_at_a_booked_cost():
    p = Parameters(client_revenue_share=0.5)
    model = KAMMarket(p, seed=1)
    supplier = model.suppliers[0]
    before = supplier.overhead
    supplier._year_profit = -1.0
    supplier._year_revenue = 0.5 * supplier.monthly_revenue * p.kpi_months  # sales halved
    supplier.close_year()
    assert supplier.overhead == pytest.approx(before * 0.5)
    model.step()  # the restructuring is booked the next month
    assert supplier.ledger.restructuring[0] == pytest.approx(
        p.restructuring_cost * 12 * before * 0.5)
    assert supplier.ledger.overhead[0] == pytest.approx(before * 0.5)


def test_a_profitable_year_changes_no_fixed_costs():
    model = KAMMarket(Parameters(), seed=1)
    supplier = model.suppliers[0]
    before = supplier.overhead
    supplier._year_profit, supplier._year_revenue = 1.0, 0.1
    supplier.close_year()
    assert supplier.overhead == before


# --- levers through behaviour ---------------------------------------------------------------
def test_full_deal_review_sends_back_every_extra_a_captured_kam_grants():
    model = KAMMarket(Parameters(deal_review=1.0), seed=2)
    kam = model.kams[0]
    kam.alignment = 0.0
    kam.account.pending_demand = 5.0
    kam.respond()
    assert kam.account.granted_demand == 0.0
    assert kam.negotiating_time > model.params.nego_base * model.params.nego_floor  # argues


def test_two_stances_blend_linearly_in_prices_and_geometrically_in_tactics():
    a = Side(opening=1.2, reservation=1.0, beta=4.0, delta=0.8, reciprocity=0.8)
    b = Side(opening=1.4, reservation=1.2, beta=0.25, delta=0.95, reciprocity=0.0)
    half = blend(a, b, 0.5)
    assert (half.opening, half.reservation) == pytest.approx((1.3, 1.1))
    assert half.beta == pytest.approx(1.0) and half.delta == pytest.approx(0.875)
    assert blend(a, b, 0.0) == a and blend(a, b, 1.0) == pytest.approx(b)


def test_with_a_senior_always_at_the_table_the_supplier_holds_its_floor_whatever_the_kam():
    model = KAMMarket(Parameters(senior_support=1.0, kam_pressure=1.0), seed=1)
    kam = model.kams[0]
    account = kam.account
    kam.alignment, kam.felt_pressure = 0.0, 5.0  # captured and pressed
    side = kam.stance(account, target=1.0)
    assert side.reservation == pytest.approx(kam.floor_price(account))
    assert side.beta == pytest.approx(model.params.skilled_beta)


def test_the_levers_work_with_no_direct_pull_on_alignment():
    # At share 0.8 and pressure 0.7, 6 seeds, 20 years: capture without a lever (0.58),
    # and with full deal review or full senior support (0 each: they act through the
    # reviewer and the senior colleague; no constant pulls alignment back).
    base = dict(client_revenue_share=0.8, kam_pressure=0.7, horizon_months=240)
    none = mean_outcome("capture_rate", SEEDS6, **base)
    review = mean_outcome("capture_rate", SEEDS6, deal_review=1.0, **base)
    senior = mean_outcome("capture_rate", SEEDS6, senior_support=1.0, **base)
    assert none >= 0.15
    assert review <= none - 0.15 and senior <= none - 0.15
    assert not hasattr(Parameters(), "pull_review") and not hasattr(Parameters(), "w_senior")


def test_pinning_holds_one_kam_at_its_alignment_and_no_other():
    model = KAMMarket(Parameters(pin_first_kam=1, horizon_months=24), seed=4).run()
    assert model.kams[0].alignment == model.params.pinned_alignment
    assert np.all(model.trace.alignment[:, 0] == model.params.pinned_alignment)
    assert not any(k.pinned for k in model.kams[1:])
