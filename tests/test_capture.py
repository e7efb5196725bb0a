"""Capture emerges where the essay says it does (E4, E6 to E11).

Each statistical claim is a mean over the 12 seeds of ``conftest.SEEDS``; the tolerance
is in the threshold the claim states (e.g. "at least 0.5").
"""

import numpy as np
import pytest
from model_helpers import SEEDS, mean_outcome

from kamabm import KAMMarket, Parameters
from kamabm.model.kam import CAPTURED_BELOW

HIGH = {"client_revenue_share": 0.8, "kam_pressure": 0.8}
LOW = {"client_revenue_share": 0.2, "kam_pressure": 0.2}
#: High pressure where key clients hold two thirds of turnover, read at year 20: 0.91 of
#: KAMs captured (8 seeds). At share 0.8 the firm's profit is so thin that nothing but
#: deal review and rotation protects in the long run (docs/findings.md).
TWO_THIRDS = {"client_revenue_share": 0.65, "kam_pressure": 0.8, "horizon_months": 240}


def test_capture_is_common_at_high_client_share_and_pressure():
    assert mean_outcome("capture_rate", **HIGH) >= 0.5


def test_capture_is_rare_at_low_client_share_and_pressure():
    assert mean_outcome("capture_rate", **LOW) <= 0.1


def test_key_account_margin_is_clearly_lower_where_capture_is_common():
    high = mean_outcome("key_account_margin", **HIGH)
    low = mean_outcome("key_account_margin", **LOW)
    assert high < low - 0.03  # at least three points of gross margin


def test_owner_negotiators_rarely_cause_capture_even_under_high_pressure():
    """E4: negotiators who bear the result themselves (d = 0) do not recruit KAMs: not in
    five years at share 0.8, nor in twenty where key clients hold two thirds of turnover."""
    assert mean_outcome("capture_rate", buyer_detachment=0.0, **HIGH) <= 0.1
    assert mean_outcome("capture_rate", buyer_detachment=0.0, **TWO_THIRDS) <= 0.1
    assert mean_outcome("capture_rate", **TWO_THIRDS) >= 0.6


def test_strong_learners_with_senior_support_resist_capture():
    """E7: learning ability and senior involvement keep KAMs on their firm's side."""
    default = mean_outcome("capture_rate", **HIGH)
    strong = mean_outcome("capture_rate", learning_ability=0.9, senior_support=0.8, **HIGH)
    assert strong <= 0.2 and strong <= default - 0.3
    default = mean_outcome("capture_rate", **TWO_THIRDS)  # and in the long run
    strong = mean_outcome("capture_rate", learning_ability=0.9, senior_support=0.8,
                          **TWO_THIRDS)
    assert strong <= 0.2 and strong <= default - 0.3


def test_capture_needs_the_reinforcing_loop():
    """Without identification fed by behaviour, pressure alone captures nobody: capture is
    the loop between what the KAM does and whom he identifies with, not a formula."""
    assert mean_outcome("capture_rate", identification_gain=0.0, **HIGH) == 0.0


def test_capture_is_reached_over_time_not_given_at_the_start():
    months = [mean_outcome("time_to_first_capture", seeds=[s], **HIGH) for s in SEEDS[:6]]
    assert all(m is not None and m > 6 for m in months)


def test_a_captured_kam_turns_operational_while_his_activity_does_not_fall():
    """E10: the work becomes fulfilment; from outside he looks as busy as ever."""
    before_ops, after_ops, before_act, after_act = [], [], [], []
    for seed in SEEDS:
        model = KAMMarket(Parameters(**HIGH), seed=seed).run()
        trace = model.trace
        for k, kam in enumerate(model.kams):
            if kam.alignment < CAPTURED_BELOW:
                before_ops.append(trace.operational_share[:12, k].mean())
                after_ops.append(trace.operational_share[-12:, k].mean())
                before_act.append(trace.activity[:12, k].mean())
                after_act.append(trace.activity[-12:, k].mean())
    assert len(after_ops) >= 30
    assert np.mean(after_ops) >= np.mean(before_ops) + 0.15
    assert np.mean(after_act) >= 0.95 * np.mean(before_act)


def _captured_share(model):
    return np.mean([kam.captured for kam in model.kams])


def test_capture_persists_after_pressure_is_lowered():
    """E11, pattern 3 (hysteresis): raise pressure, then lower it within one run; capture
    persists at a pressure at which a fresh run shows little capture."""
    persisted, fresh = [], []
    for seed in SEEDS:
        # share 0.6 (the calibrated model needs more dependence than 0.5 for most KAMs to
        # be captured within four years at full pressure: 0.38 there, 0.74 here)
        params = Parameters(client_revenue_share=0.6, kam_pressure=1.0, horizon_months=120)
        model = KAMMarket(params, seed=seed)
        for _ in range(48):
            model.step()
        model.kam_pressure = 0.3
        model.run()
        persisted.append(_captured_share(model))
        fresh_model = KAMMarket(params.replace(kam_pressure=0.3), seed=seed).run()
        fresh.append(_captured_share(fresh_model))
    assert np.mean(fresh) <= 0.15
    assert np.mean(persisted) >= np.mean(fresh) + 0.4


def test_a_scheduled_pressure_change_is_the_same_as_changing_it_by_hand():
    """The parameters pressure_change_month / pressure_after_change make the hysteresis
    experiment declarative; they must do exactly what the hand-driven run does."""
    params = Parameters(kam_pressure=1.0, horizon_months=72)
    by_hand = KAMMarket(params, seed=2)
    for _ in range(36):
        by_hand.step()
    by_hand.kam_pressure = 0.3
    by_hand.run()
    scheduled = KAMMarket(params.replace(pressure_change_month=36, pressure_after_change=0.3),
                          seed=2).run()
    np.testing.assert_array_equal(by_hand.trace.alignment, scheduled.trace.alignment)
    assert scheduled.kam_pressure == 0.3


@pytest.mark.parametrize("lever", [{"rotation_months": 12}, {"deal_review": 1.0},
                                   {"kpi_margin_weight": 1.0}, {"training": 1.0}])
def test_each_lever_changes_the_outcome_at_high_pressure(lever):
    """The management levers exist and act on the model (their size is for experiments)."""
    base = Parameters(**HIGH)
    changed = base.replace(**lever)
    from kamabm import run_one

    a = [run_one(base, s) for s in SEEDS[:4]]
    b = [run_one(changed, s) for s in SEEDS[:4]]
    pairs = zip(a, b, strict=True)
    assert any(x["capture_rate"] != y["capture_rate"]
               or x["key_account_margin"] != y["key_account_margin"] for x, y in pairs)


def test_client_satisfaction_rises_with_capture_while_supplier_margin_falls():
    """Pattern 8 (Homburg, Müller & Klarmann 2011): the client is happiest with the KAM
    who serves him best, at his own firm's expense."""
    low = {"client_revenue_share": 0.7, "kam_pressure": 0.2}
    high = {"client_revenue_share": 0.7, "kam_pressure": 1.0}
    assert mean_outcome("capture_rate", **high) > mean_outcome("capture_rate", **low) + 0.5
    assert mean_outcome("client_satisfaction", **high) > mean_outcome(
        "client_satisfaction", **low) + 0.2
    assert mean_outcome("supplier_margin", **high) < mean_outcome("supplier_margin", **low) - 0.01


def test_buyers_get_lower_prices_through_detachment_and_alternatives():
    """Pattern 2 (E4, E5): the price cut comes from detachment and rival suppliers, not
    from size alone; every buyer here has the same size. Both are bounded by the price a
    buyer leaves a viable supplier, which every buyer reaches within five years: the
    detachment effect is about 2.6 points of price, the alternatives' a fraction of one."""
    base = {"client_revenue_share": 0.6, "kam_pressure": 0.7}
    owner = mean_outcome("key_price_change", buyer_detachment=0.0, **base)
    detached = mean_outcome("key_price_change", buyer_detachment=1.0, **base)
    few = mean_outcome("key_price_change", n_suppliers=2, **base)
    many = mean_outcome("key_price_change", n_suppliers=6, **base)
    assert detached < owner - 0.02
    assert many < few
