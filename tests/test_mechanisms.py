"""The mechanisms of the model revision, each tested through what agents do.

* dependence per account reaches the KAM through blame, management's "keep the client"
  override and the buyer's leverage, and the share effect rests on them (knock-outs);
* captures cluster within a supplier through peer influence;
* rotation is a real reassignment: ties belong to the (KAM, account) pair, and in a
  one-buyer market rotation changes nothing;
* every lever books its cost;
* long runs stop at a steady state without changing the first five years.

Statistical claims are means over seeds with the tolerance stated in each test.
"""

import numpy as np
import pytest

import kamabm.model.kam as kam_module
from kamabm import KAMMarket, Parameters, run_many, run_one
from kamabm.model.derived import key_buyer_weights
from kamabm.model.supplier import key_unit_cost

SEEDS = range(10)


def mean(outcome, seeds=SEEDS, engine="compiled", **values):
    """Mean of an outcome over seeds, on the compiled engine (the same numbers as the Mesa
    model bit for bit: tests/test_engine_equivalence.py), for the 20-year statistical tests;
    ``engine="mesa"`` where a test changes the Mesa agents' code."""
    seeds = list(seeds)
    runs = run_many([Parameters(**values)] * len(seeds), seeds, engine=engine)
    return float(np.mean([r[outcome] for r in runs]))


# --- dependence per account -----------------------------------------------------------
def test_key_share_is_split_across_buyers_by_the_zipf_exponent():
    params = Parameters(client_revenue_share=0.6, n_key_buyers=3, key_share_concentration=1.0)
    model = KAMMarket(params, seed=1)
    weights = np.array([1.0, 1 / 2, 1 / 3]) / (1 + 1 / 2 + 1 / 3)
    np.testing.assert_allclose(key_buyer_weights(params), weights)
    for supplier in model.suppliers:
        shares = [a.revenue_share for a in supplier.accounts]
        np.testing.assert_allclose(shares, 0.6 * weights)


def test_an_equal_split_gives_every_account_the_same_share():
    model = KAMMarket(Parameters(client_revenue_share=0.9, n_key_buyers=3), seed=1)
    shares = {round(a.revenue_share, 12) for s in model.suppliers for a in s.accounts}
    assert shares == {0.3}


#: Where the share effect is read: pressure 0.6, 20 years (the long run). On the calibrated
#: model the boundary at pressure 0.5 lies at 85 % of turnover, so share 0.8 is still below
#: it there (effect 0.24); at 0.6 it lies at 79 %.
SHARE_SETTING = {"kam_pressure": 0.6, "horizon_months": 240}


def test_at_fixed_pressure_a_larger_client_share_captures_more_kams():
    # 10 seeds: share 0.8 against 0.2, at least 0.5 apart (measured 0.62).
    assert share_effect() >= 0.5


SHARE_MECHANISMS = {"blame_weight": 0.0, "keep_client_override": 0.0, "buyer_leverage": 0.0}


def share_effect(**knockout):
    """Capture at share 0.8 less capture at share 0.2 (:data:`SHARE_SETTING`, 10 seeds)."""
    high = mean("capture_rate", client_revenue_share=0.8, **SHARE_SETTING, **knockout)
    low = mean("capture_rate", client_revenue_share=0.2, **SHARE_SETTING, **knockout)
    return high - low


def test_the_share_effect_rests_on_the_dependence_mechanisms_not_on_a_direct_term():
    # With blame, the keep-the-client override and buyer leverage all off, client share
    # no longer moves capture (within 0.1), where it moved it by 0.5 or more.
    assert abs(share_effect(**SHARE_MECHANISMS)) <= 0.1


@pytest.mark.parametrize("mechanism", sorted(SHARE_MECHANISMS))
def test_each_dependence_mechanism_carries_part_of_the_share_effect(mechanism):
    # Knocking one mechanism out lowers the share effect by at least 0.05 (measured: blame
    # 0.62 -> 0.43, the keep-the-client override -> 0, buyer leverage -> 0.03).
    assert share_effect(**{mechanism: 0.0}) <= share_effect() - 0.05


def test_management_lowers_the_floor_of_an_account_it_cannot_afford_to_lose():
    model = KAMMarket(Parameters(client_revenue_share=0.9, kam_pressure=0.5), seed=2)
    for _ in range(24):
        model.step()
    account = max((a for s in model.suppliers for a in s.accounts), key=lambda a: a.dependence)
    kam = account.kam
    assert account.dependence > 0.2
    p = model.params
    assert kam.floor_price(account) < key_unit_cost(p) + p.min_margin
    account.dependence = 0.0
    assert kam.floor_price(account) == pytest.approx(key_unit_cost(p) + p.min_margin)


def test_a_buyer_asks_more_of_a_supplier_it_weighs_more_with():
    model = KAMMarket(Parameters(client_revenue_share=0.9, rival_benchmark=0.0), seed=1)
    buyer = model.buyers[0]
    account = buyer.accounts[0]
    heavy = buyer.target_price(account)
    account.revenue_share = 0.01
    light = buyer.target_price(account)
    assert heavy < light < account.price


def test_a_lower_rival_price_lowers_the_buyers_target_for_the_others():
    model = KAMMarket(Parameters(rival_benchmark=0.5), seed=1)
    buyer = model.buyers[0]
    first, second = buyer.accounts[:2]
    before = buyer.target_price(first)
    second.price *= 0.8
    assert buyer.target_price(first) < before


# --- interaction ----------------------------------------------------------------------
def test_captures_cluster_within_a_supplier_through_peer_influence():
    # 24 seeds of 20-year runs at share 0.5, pressure 1 (many runs split; on the calibrated
    # model capture there is 0.74): pairs of KAMs at the same supplier are both captured
    # more often than pairs sharing nothing (by at least 0.05; measured 0.06), and much less
    # so without peer influence (measured -0.03).
    seeds = range(24)
    base = dict(client_revenue_share=0.5, kam_pressure=1.0, horizon_months=240)
    with_peers = mean("co_capture_supplier", seeds, **base)
    without = mean("co_capture_supplier", seeds, **base, peer_influence=0.0)
    assert with_peers >= 0.05
    assert without <= with_peers - 0.04


def test_the_pool_delivers_the_least_loyal_kams_demands_first():
    model = KAMMarket(Parameters(client_revenue_share=0.9, resource_slack=0.0), seed=1)
    model.step()
    supplier = model.suppliers[0]
    loyal, captured = supplier.accounts[0], supplier.accounts[1]
    captured.kam.alignment = 0.1
    for account in supplier.accounts:
        account.granted_demand = 10.0 * supplier.capacity
    supplier.deliver()
    assert captured.delivered_demand > 0.0
    assert loyal.delivered_demand == 0.0


# --- rotation ---------------------------------------------------------------------------
def test_in_a_one_buyer_market_rotation_changes_nothing():
    base = Parameters(n_key_buyers=1, client_revenue_share=0.8, kam_pressure=0.9)
    for seed in range(3):
        assert run_one(base.replace(rotation_months=6), seed) == run_one(base, seed)


def test_a_kam_who_takes_over_an_account_starts_its_tie_from_nothing_and_keeps_the_old():
    model = KAMMarket(Parameters(client_revenue_share=0.8, kam_pressure=0.9), seed=1)
    for _ in range(30):
        model.step()
    kam = model.kams[0]
    old, new = kam.account, model.suppliers[0].accounts[1]
    kam.alignment = 0.3
    old_tie = kam.tie
    old_identification = kam.identification
    assert old_identification > 0.0
    kam.take_over(new)
    assert kam.identification == 0.0 and kam.familiarity == 0.0
    assert kam.alignment == 0.3  # his own state comes with him
    assert kam.ties[old] is old_tie and old_tie.identification == old_identification


def test_rotations_of_rival_suppliers_are_staggered():
    model = KAMMarket(Parameters(rotation_months=12, n_suppliers=4), seed=1)
    months = {s.index: [] for s in model.suppliers}
    for _ in range(24):
        before = {s.index: [a.kam for a in s.accounts] for s in model.suppliers}
        model.step()
        for s in model.suppliers:
            if [a.kam for a in s.accounts] != before[s.index]:
                months[s.index].append(model.month)
    firsts = [m[0] for m in months.values()]
    assert all(len(m) == 2 for m in months.values())
    assert len(set(firsts)) == 4


# --- costed levers ----------------------------------------------------------------------
@pytest.mark.parametrize("lever", [{"senior_support": 1.0}, {"training": 1.0},
                                   {"deal_review": 1.0}, {"rotation_months": 6},
                                   {"smb_growth": 0.02}])
def test_every_lever_books_its_cost(lever):
    base = dict(client_revenue_share=0.3, kam_pressure=0.2)
    assert run_one(Parameters(**base), 1)["lever_costs"] == pytest.approx(0.0, abs=1e-12)
    assert run_one(Parameters(**base, **lever), 1)["lever_costs"] > 0.0


def test_senior_support_costs_what_its_rates_say():
    p = Parameters(senior_support=1.0, client_revenue_share=0.3, kam_pressure=0.2)
    model = KAMMarket(p, seed=1)
    model.step()
    supplier = model.suppliers[0]
    kams = len(supplier.accounts)
    expected = kams * (1.0 + p.senior_time * p.senior_cost_rate) * supplier.kam_month_cost
    assert supplier.ledger.people[0] == pytest.approx(expected)


def test_where_capture_is_rare_a_costly_lever_lowers_the_supplier_margin():
    # No capture to prevent at share 0.2, pressure 0.2: rotation only costs (handovers,
    # lost trust). Training, senior support and deal review do not only cost here: they
    # make even a loyal KAM under light pressure hold prices or refuse extras.
    base = dict(client_revenue_share=0.2, kam_pressure=0.2)
    plain = mean("supplier_margin", range(5), **base)
    rotated = mean("supplier_margin", range(5), **base, rotation_months=12)
    assert rotated < plain


# --- the reinforcing loop -----------------------------------------------------------------
def test_capture_needs_identification_to_follow_behaviour(monkeypatch):
    # Hold every tie's identification at the mean loyal KAMs reach (measured here at
    # share 0.2, pressure 0.2), instead of letting it follow what the KAM does: capture
    # at share 0.8, pressure 0.8 falls from most KAMs to at most 0.1 (10 seeds).
    loyal = []
    for seed in range(5):
        model = KAMMarket(Parameters(client_revenue_share=0.2, kam_pressure=0.2), seed=seed)
        model.run()
        loyal += [k.identification for k in model.kams if not k.captured]
    held = float(np.mean(loyal))
    assert 0.0 < held < 0.5

    high = dict(client_revenue_share=0.8, kam_pressure=0.8)
    assert mean("capture_rate", engine="mesa", **high) >= 0.8

    class HeldTie(kam_module.Tie):
        __slots__ = ()

        @property
        def identification(self):
            return held

        @identification.setter
        def identification(self, value):
            pass

    monkeypatch.setattr(kam_module, "Tie", HeldTie)
    assert mean("capture_rate", engine="mesa", **high) <= 0.1


# --- long runs --------------------------------------------------------------------------
def test_a_long_run_stops_at_a_steady_state_and_keeps_its_first_five_years():
    # At low risk, where the calibrated model settles (at share 0.8 and pressure 0.8 one
    # run in three still turns over at month 240: capture keeps coming and going there).
    long = Parameters(client_revenue_share=0.2, kam_pressure=0.2, horizon_months=240,
                      steady_state_window=24)
    short = long.replace(horizon_months=60, steady_state_window=0)
    for seed in range(3):
        result = run_one(long, seed)
        assert 60 <= result["months_run"] < 240 and result["steady_state"] == 1.0
        assert result["capture_rate_5y"] == run_one(short, seed)["capture_rate"]


def test_capture_is_reported_at_several_thresholds_in_order():
    result = run_one(Parameters(client_revenue_share=0.6, kam_pressure=0.7), 3)
    rates = [result[f"capture_rate_t{t}"] for t in (30, 40)] + [result["capture_rate"]] + [
        result[f"capture_rate_t{t}"] for t in (60, 70)]
    assert rates == sorted(rates)


# --- explicit key-account shares --------------------------------------------------------
def test_explicit_key_account_shares_set_each_accounts_share():
    params = Parameters(client_revenue_share=0.45, n_key_buyers=2,
                        key_account_shares=[0.3, 0.15])
    assert params.key_account_shares == (0.3, 0.15)
    model = KAMMarket(params, seed=1)
    for supplier in model.suppliers:
        shares = [a.revenue_share for a in supplier.accounts]
        np.testing.assert_allclose(shares, [0.3, 0.15])


@pytest.mark.parametrize(("values", "message"), [
    ({"key_account_shares": (0.3, 0.15)}, "2 shares for n_key_buyers = 3"),
    ({"key_account_shares": (0.3, 0.1, 0.05)}, "set client_revenue_share = 0.45"),
    ({"key_account_shares": (0.6, -0.1, 0.0), "client_revenue_share": 0.5}, "out of range"),
    ({"key_account_shares": 0.3}, "must be a list of numbers"),
])
def test_bad_key_account_shares_are_refused_naming_the_field(values, message):
    from kamabm.model.params import ParameterError

    with pytest.raises(ParameterError, match=message) as caught:
        Parameters(**values)
    assert "key_account_shares" in str(caught.value)


def test_key_account_shares_from_the_command_line_and_a_sweep_round_trip(tmp_path):
    from kamabm.experiments.files import parse_experiment
    from kamabm.experiments.sweep import run_sweep
    from kamabm.experiments.tables import load_results, run_parameters

    params = Parameters(n_key_buyers=2, client_revenue_share=0.45).with_assignments(
        ["key_account_shares=0.3,0.15"])
    assert params.key_account_shares == (0.3, 0.15)
    experiment = parse_experiment("""
name = "explicit_shares"
replications = 2
seed = 3
horizon = 12
[design]
method = "grid"
[base]
n_key_buyers = 2
client_revenue_share = 0.45
key_account_shares = [0.3, 0.15]
[levers.kam_pressure]
values = [0.2, 0.9]
""")
    run_sweep(experiment, tmp_path / "out", workers=1, progress=False, command="test")
    runs = load_results(tmp_path / "out")
    row = runs.iloc[0]
    rebuilt = run_parameters(row)
    assert rebuilt.key_account_shares == (0.3, 0.15)
    assert run_one(rebuilt, int(row["seed"]))["capture_rate"] == row["capture_rate"]


# --- a client among rivals: pressure per supplier, detachment per buyer ----------------
def captured_by(params, seeds=SEEDS):
    """Mean share of captured KAMs per supplier and per key buyer over ``seeds``."""
    from kamabm.model.account import kam_in_charge
    from kamabm.model.run import CAPTURED_BELOW, finished_model, release

    suppliers, buyers = [], []
    for seed in seeds:
        model = finished_model(params, seed)
        suppliers.append([np.mean([kam_in_charge(a).alignment < CAPTURED_BELOW
                                   for a in s.accounts]) for s in model.suppliers])
        buyers.append([np.mean([kam_in_charge(a).alignment < CAPTURED_BELOW
                                for a in b.accounts]) for b in model.buyers])
        release(model)
    return np.mean(suppliers, axis=0), np.mean(buyers, axis=0)


def test_supplier_pressures_equal_to_the_market_pressure_change_nothing():
    base = Parameters(client_revenue_share=0.7, kam_pressure=0.7)
    same = base.replace(supplier_pressures=(0.7,) * base.n_suppliers,
                        buyer_detachments=(base.buyer_detachment,) * base.n_key_buyers)
    for seed in range(3):
        assert run_one(same, seed) == run_one(base, seed)


def test_a_supplier_under_more_pressure_than_its_rivals_loses_more_kams():
    # Measured over 10 seeds: 0.60 of the pressed supplier's KAMs captured against 0.09 of
    # its rivals' at share 0.6; the test asks for a gap of at least 0.3.
    params = Parameters(client_revenue_share=0.6, kam_pressure=0.3,
                        supplier_pressures=(0.9, 0.3, 0.3, 0.3))
    suppliers, _ = captured_by(params)
    assert suppliers[0] - suppliers[1:].mean() >= 0.3


def test_an_owner_run_buyer_keeps_its_kams_loyal_where_detached_ones_capture_theirs():
    # Measured over 10 seeds at share 0.8, pressure 0.8, five years: without peer influence
    # the KAMs of the owner-run buyer stay loyal (0.0 captured) while the detached buyers'
    # are captured (0.72 and 0.5); with peers the gap stays (0.0 against 0.52 and 0.55).
    params = Parameters(client_revenue_share=0.8, kam_pressure=0.8, horizon_months=60,
                        buyer_detachments=(0.0, 0.8, 0.8))
    _, alone = captured_by(params.replace(peer_influence=0.0))
    assert alone[0] <= 0.2 and alone[1:].mean() >= 0.5
    _, with_peers = captured_by(params)
    assert with_peers[1:].mean() - with_peers[0] >= 0.2


def test_in_a_mixed_market_an_owner_run_buyer_only_delays_capture():
    # What the calibrated model says (docs/findings.md): beside detached buyers that thin
    # the firm's profit, management's "keep the client" pressure reaches the owner-run
    # account's KAM too, and by year 10 he is captured as often as the others (measured,
    # without peers: 0.72 against 0.88 and 0.68), where a market of owner-run buyers only
    # captures nobody (the calibration's target).
    mixed = Parameters(client_revenue_share=0.8, kam_pressure=0.8, horizon_months=120,
                       buyer_detachments=(0.0, 0.8, 0.8), peer_influence=0.0)
    _, mixed_buyers = captured_by(mixed)
    assert mixed_buyers[0] >= 0.5
    owners_only = mixed.replace(buyer_detachments=(0.0, 0.0, 0.0))
    _, owners = captured_by(owners_only)
    assert owners.max() <= 0.1


@pytest.mark.parametrize(("values", "message"), [
    ({"supplier_pressures": (0.5, 0.5)}, "supplier_pressures: 2 values for 4 suppliers"),
    ({"supplier_pressures": (0.5, 1.2, 0.5, 0.5)}, "out of range"),
    ({"buyer_detachments": (0.0, 0.8)}, "buyer_detachments: 2 values for 3 key buyers"),
])
def test_bad_per_supplier_or_per_buyer_values_are_refused_naming_the_field(values, message):
    from kamabm.model.params import ParameterError

    with pytest.raises(ParameterError, match=message):
        Parameters(**values)


def test_levers_run_by_every_supplier_unless_only_the_focal_one_runs_them():
    levers = {"senior_support": 0.3, "training": 0.5, "deal_review": 0.5,
              "kpi_margin_weight": 0.4, "smb_growth": 0.01, "rotation_months": 7}
    model = KAMMarket(Parameters(**levers), seed=1)
    assert all(s.levers.senior_support == 0.3 and s.levers.rotation_months == 7
               for s in model.suppliers)
    model = KAMMarket(Parameters(focal_levers_only=1, **levers), seed=1)
    assert model.suppliers[0].levers.senior_support == 0.3
    assert all(s.levers.senior_support == 0.0 and s.levers.rotation_months == 0
               for s in model.suppliers[1:])


def test_a_lever_one_supplier_adopts_alone_protects_its_kams_not_its_rivals():
    # Measured over 10 seeds at share 0.8, pressure 0.8 with deal review 0.5 at the first
    # supplier only: 0.33 of its KAMs captured against 0.92 of its rivals'. The test asks
    # for a gap of at least 0.5.
    params = Parameters(client_revenue_share=0.8, kam_pressure=0.8, deal_review=0.5,
                        focal_levers_only=1)
    suppliers, _ = captured_by(params)
    assert suppliers[1:].mean() - suppliers[0] >= 0.5


def test_a_handover_costs_the_account_what_a_change_of_salesperson_costs_customers():
    # Shi, Sridhar, Grewal & Lilien 2017: a customer's purchases fall 13.2 to 17.6 % in the
    # year after its salesperson changes. Here only the first supplier rotates (month 24);
    # its key revenue over the next 12 months against the same seeds without rotation,
    # where nobody is captured. 10 seeds; the tolerance is the published range.
    base = Parameters(client_revenue_share=0.3, kam_pressure=0.4, horizon_months=36,
                      focal_levers_only=1)
    changes = []
    for seed in range(10):
        rotated = KAMMarket(base.replace(rotation_months=24), seed=seed, collect=False).run()
        kept = KAMMarket(base, seed=seed, collect=False).run()
        after = [m.suppliers[0].ledger.key_revenue[24:36].sum() for m in (rotated, kept)]
        before = [m.suppliers[0].ledger.key_revenue[:24].sum() for m in (rotated, kept)]
        assert before[0] == pytest.approx(before[1])  # nothing differs before the handover
        changes.append(after[0] / after[1] - 1.0)
    assert -0.176 <= np.mean(changes) <= -0.132
