"""Invariants of every run: bounded states, no NaN, accounting identities, conservation."""

import math

import numpy as np
import pytest

from kamabm import OUTCOMES, SERIES, KAMMarket, Parameters, run_one


def _random_parameters(rng):
    """A random point of the parameter space (every float parameter drawn in range)."""
    values = {}
    for name in Parameters.names():
        spec = Parameters.spec(name)
        if Parameters.is_integer(name) or Parameters.is_sequence(name):
            continue
        high = min(spec.high, spec.low + 3.0)  # keep unbounded-ish ranges sensible
        values[name] = float(rng.uniform(spec.low + 1e-3 * (high - spec.low), high))
    values["horizon_months"] = 36
    return Parameters(**values)


PARAMS = [Parameters(), Parameters(client_revenue_share=1.0, kam_pressure=1.0),
          Parameters(client_revenue_share=0.01, kam_pressure=0.0, buyer_detachment=0.0),
          Parameters(n_suppliers=2, n_key_buyers=1, rotation_months=5, smb_growth=0.1)]
PARAMS += [_random_parameters(np.random.default_rng(i)) for i in range(8)]


@pytest.mark.parametrize("params", PARAMS)
def test_states_stay_in_their_ranges_and_books_balance(params):
    model = KAMMarket(params, seed=3)
    while model.running:
        model.step()
        t = model.month - 1
        for kam in model.kams:
            for value in (kam.alignment, kam.identification, kam.skill, kam.operational_share,
                          kam.account.satisfaction, kam.account.revenue_share):
                assert 0.0 <= value <= 1.0
            assert kam.activity > 0.0 and kam.stress >= 0.0
        for buyer in model.buyers:  # volume is conserved across suppliers
            assert sum(a.volume for a in buyer.accounts) == pytest.approx(buyer.volume, 1e-9)
            assert all(a.volume >= 0.0 for a in buyer.accounts)
        for supplier in model.suppliers:
            books = supplier.ledger
            assert books.key_revenue[t] == pytest.approx(
                sum(a.price * a.volume for a in supplier.accounts))
            assert books.key_cogs[t] == pytest.approx(sum(a.volume for a in supplier.accounts))
            assert books.demands[t] == pytest.approx(
                sum(a.delivered_demand for a in supplier.accounts))
            for a in supplier.accounts:  # the pool delivers at most what the KAM granted
                assert 0.0 <= a.delivered_demand <= a.granted_demand + 1e-12
                assert 0.0 <= a.dependence <= 1.0
            assert 0.0 <= books.service_level[t] <= 1.0

    result = run_one(params, seed=3)
    assert set(OUTCOMES) <= set(result)
    for name, value in result.items():
        if name == "time_to_first_capture":
            assert value is None or 1 <= value <= params.horizon_months
        elif name == "survivors_margin":  # None only when no supplier survived
            assert (value is None) == (result["survival_rate"] == 0.0)
        else:
            assert math.isfinite(value), name
    for name in ("capture_rate", "capture_rate_5y", "captured_months", "operational_share",
                 "mean_alignment", "client_satisfaction", "smb_service_level", "deadlock_rate",
                 "survival_rate", "loss_years"):
        assert 0.0 <= result[name] <= 1.0, name


def test_revenue_less_costs_is_profit_and_margins_agree_with_the_books():
    model = KAMMarket(Parameters(kam_pressure=0.9), seed=5).run()
    from kamabm.model.run import outcomes

    result = outcomes(model)
    revenue = profit = 0.0
    for supplier in model.suppliers:
        b = supplier.ledger
        lines = (b.key_revenue + b.smb_revenue - b.key_cogs - b.smb_cogs - b.service
                 - b.selling - b.demands - b.people - b.overhead - b.restructuring
                 - b.acquisition)
        np.testing.assert_allclose(b.profit, lines)
        revenue += b.revenue.sum()
        profit += b.profit.sum()
    assert result["supplier_margin"] == pytest.approx(profit / revenue)
    key_rev = sum(s.ledger.key_revenue[-12:].sum() for s in model.suppliers)
    key_cogs = sum(s.ledger.key_cogs[-12:].sum() for s in model.suppliers)
    assert result["key_account_margin"] == pytest.approx((key_rev - key_cogs) / key_rev)


def test_the_series_have_one_value_per_month_and_no_nan():
    result = run_one(Parameters(horizon_months=24), 1, keep_series=tuple(SERIES))
    for name, values in result["series"].items():
        assert len(values) == 24 and all(math.isfinite(v) for v in values), name


def test_the_same_parameters_and_seed_give_identical_outcomes():
    params = Parameters(kam_pressure=0.7, client_revenue_share=0.6)
    assert run_one(params, 11) == run_one(params, 11)


def test_another_seed_gives_other_outcomes():
    params = Parameters(kam_pressure=0.7, client_revenue_share=0.6)
    assert run_one(params, 11) != run_one(params, 12)


def test_the_model_uses_no_global_random_state():
    import random

    params = Parameters(kam_pressure=0.7)
    random.seed(1)
    np.random.seed(1)
    first = run_one(params, 4)
    random.seed(2)
    np.random.seed(2)
    assert run_one(params, 4) == first


def test_initial_market_matches_the_client_revenue_share():
    for share in (0.3, 0.8, 1.0):
        model = KAMMarket(Parameters(client_revenue_share=share), seed=1)
        for supplier in model.suppliers:
            key = sum(a.revenue for a in supplier.accounts)
            smb = supplier.smb_price * supplier.smb_volumes.sum()
            assert key / (key + smb) == pytest.approx(share)


def test_finished_runs_do_not_stay_in_memory():
    """run_one must not leave its model reachable (Mesa 3.3 kept them all: memory leak)."""
    import gc
    import weakref

    import kamabm.model.run as run_module

    seen = []
    original = run_module.KAMMarket

    class Watched(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(weakref.ref(self))

    run_module.KAMMarket = Watched
    try:
        for seed in range(3):
            run_one(Parameters(horizon_months=12), seed)
    finally:
        run_module.KAMMarket = original
    gc.collect()
    assert len(seen) == 3 and all(ref() is None for ref in seen)


def test_an_account_that_loses_all_its_volume_leaves_its_kam_with_a_defined_kpi():
    # Found by Morris screening: breakdown_shift = 1 with no switching cost can take an
    # account's whole volume; the KPI and the time split must stay defined.
    params = Parameters(breakdown_shift=1.0, switching_cost=0.0, client_revenue_share=0.9,
                        kam_pressure=1.0, horizon_months=120)
    for seed in range(6):
        result = run_one(params, seed)
        assert all(math.isfinite(v) for k, v in result.items() if k != "time_to_first_capture")


def test_a_kam_with_no_working_time_has_an_operational_share_of_zero():
    model = KAMMarket(Parameters(ops_base=0.0, nego_base=0.0, nego_push=0.0), seed=1)
    kam = model.kams[0]
    kam.operational_time = kam.negotiating_time = 0.0
    assert kam.operational_share == 0.0
