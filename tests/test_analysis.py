"""Boundary estimation recovers a known synthetic boundary (like SALib's Ishigami test)."""

import numpy as np
import pandas as pd
import pytest

from kamabm.stats import ABOVE, BELOW, INSIDE, capture_boundary, critical_value


def true_boundary(pressure):
    return 0.85 - 0.6 * pressure


def synthetic_sweep(seed, replications=20, width=0.06):
    """Runs whose capture probability crosses 1/2 exactly at ``true_boundary``."""
    rng = np.random.default_rng(seed)
    rows = []
    for pressure in np.linspace(0.0, 1.0, 11):
        for share in np.linspace(0.05, 1.0, 20):
            p = 1.0 / (1.0 + np.exp(-(share - true_boundary(pressure)) / width))
            for rep in range(replications):
                rows.append({"client_revenue_share": share, "kam_pressure": pressure,
                             "replication": rep, "capture_rate": float(rng.random() < p)})
    return pd.DataFrame(rows)


def test_critical_value_interpolates_the_crossing():
    x = np.array([0.1, 0.2, 0.3, 0.4])
    y = np.array([0.0, 0.2, 0.6, 1.0])
    assert critical_value(x, y) == pytest.approx(0.275)


def test_critical_value_outside_the_range_is_infinite():
    assert critical_value(np.array([0.1, 0.2]), np.array([0.0, 0.1])) == np.inf
    assert critical_value(np.array([0.1, 0.2]), np.array([0.9, 1.0])) == -np.inf


def test_critical_value_is_robust_to_non_monotone_noise():
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([0.0, 0.3, 0.1, 0.8, 1.0])  # the dip is pooled by the isotonic fit
    assert 0.3 < critical_value(x, y) < 0.4


def test_boundary_recovers_a_known_boundary_within_its_band():
    covered, inside = 0, 0
    for seed in range(5):
        boundary = capture_boundary(synthetic_sweep(seed), n_boot=300, seed=seed)
        for row in boundary.itertuples():
            truth = true_boundary(row.level)
            if 0.05 < truth < 1.0:
                inside += 1
                assert row.status == INSIDE
                assert abs(row.critical - truth) < 0.06
                covered += row.low <= truth <= row.high
    # a 95 % band should cover the truth at most levels (allow for discreteness)
    assert covered / inside >= 0.85


def test_boundary_band_narrows_with_more_replications():
    few = capture_boundary(synthetic_sweep(1, replications=5), n_boot=300)
    many = capture_boundary(synthetic_sweep(1, replications=40), n_boot=300)
    width = lambda b: (b.high - b.low)[np.isfinite(b.high - b.low)].median()  # noqa: E731
    assert width(many) < width(few)


def test_boundary_reports_levels_where_capture_never_or_always_happens():
    rows = [{"client_revenue_share": s, "kam_pressure": p, "capture_rate": float(p > 0.5)}
            for p in (0.0, 1.0) for s in (0.2, 0.5, 0.8) for _ in range(3)]
    boundary = capture_boundary(pd.DataFrame(rows), n_boot=50)
    assert list(boundary.status) == [ABOVE, BELOW]


def test_boundary_bootstrap_is_reproducible():
    data = synthetic_sweep(2)
    a = capture_boundary(data, n_boot=100, seed=7)
    b = capture_boundary(data, n_boot=100, seed=7)
    pd.testing.assert_frame_equal(a, b)


def test_boundary_names_a_missing_column():
    with pytest.raises(KeyError, match="kam_pressure"):
        capture_boundary(pd.DataFrame({"client_revenue_share": [0.1], "capture_rate": [0]}))


# --- wilson, weighted_quantiles: library statistics against known answers ---------------
def test_wilson_matches_published_intervals():
    from kamabm.stats import wilson

    assert wilson(8, 10) == pytest.approx((0.490, 0.943), abs=5e-4)
    # Newcombe (1998, Stat. Med. 17:857), example 81/263: Wilson 0.2553 to 0.3662.
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    # At the edges the interval stays inside [0, 1] and is closed at the observed end.
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)
    low, high = wilson(10, 10)
    assert low == pytest.approx(0.7225, abs=5e-5) and high == 1.0
    narrow, wide = wilson(8, 10, 0.90), wilson(8, 10, 0.99)
    assert wide[0] < narrow[0] < 0.8 < narrow[1] < wide[1]


def test_wilson_of_no_trials_is_nan_and_of_impossible_counts_an_error():
    from kamabm.stats import wilson

    low, high = wilson(0, 0)
    assert np.isnan(low) and np.isnan(high)
    with pytest.raises(ValueError):
        wilson(11, 10)
    with pytest.raises(ValueError):
        wilson(-1, 10)


def test_weighted_quantiles_invert_the_weighted_distribution():
    from kamabm.stats import weighted_quantiles

    q = [0.0, 0.25, 0.5, 0.75, 1.0]
    # Integer weights are repeated values.
    assert weighted_quantiles([1.0, 2.0, 3.0], [2, 1, 1], q).tolist() == \
        np.quantile([1.0, 1.0, 2.0, 3.0], q, method="inverted_cdf").tolist()
    # Each quantile is the smallest value whose cumulative weight reaches it; the scale
    # of the weights does not matter and a value of weight 0 is never returned.
    assert weighted_quantiles([4.0, 1.0, 2.0, 3.0], [3, 1, 0, 0], q).tolist() == \
        [1.0, 1.0, 4.0, 4.0, 4.0]
    assert weighted_quantiles([4.0, 1.0, 2.0, 3.0], [0.3, 0.1, 0, 0], [0.5]).tolist() == [4.0]
    # Non-finite values are dropped with their weights; nothing to weigh gives NaN.
    assert weighted_quantiles([1.0, np.nan, 3.0], [1, 5, 1], [0.5]).tolist() == [1.0]
    assert np.isnan(weighted_quantiles([np.nan, 2.0], [1, 0], [0.5])).all()
    with pytest.raises(ValueError):
        weighted_quantiles([1.0, 2.0], [1.0], [0.5])


def test_proportion_ci_is_wilson_of_the_pooled_kams_widened_by_the_design_effect():
    from kamabm.stats import mean_ci, proportion_ci, summarise, wilson

    # One run: the Wilson interval of its KAMs (8 of 10 captured).
    assert proportion_ci([0.8], 10) == pytest.approx((0.8, 0.490, 0.943), abs=5e-4)
    # Runs that agree: no sign of KAMs captured together, the pooled count as it is.
    assert proportion_ci([0.5, 0.5, 0.5], 12) == (0.5, *wilson(18, 36))
    # All-or-nothing runs (6 of 10 runs capture every one of their 12 KAMs): the design
    # effect is 40/3, so the 120 KAMs count as 9 independent trials, 5 of them captured.
    p, low, high = proportion_ci([1.0] * 6 + [0.0] * 4, 12)
    assert (p, low, high) == (0.6, *wilson(5, 9))
    assert high - low > 2 * (wilson(72, 120)[1] - wilson(72, 120)[0])
    # Where a t interval leaves [0, 1] or collapses, this one does not.
    rates = [0.0, 0.0, 1 / 12]
    assert mean_ci(rates)[1] < 0 <= proportion_ci(rates, 12)[1]
    assert mean_ci([0.0] * 5)[1:] == (0.0, 0.0)
    assert proportion_ci([0.0] * 5, 12) == (0.0, *wilson(0, 60))
    # Runs of different sizes pool their KAMs; NaN runs are dropped; no run gives NaN.
    assert proportion_ci([0.5, 0.25, np.nan], [4, 8, 4])[0] == pytest.approx(4 / 12)
    assert np.isnan(proportion_ci([np.nan], 12)).all()
    runs = pd.DataFrame({"g": [1, 1, 2, 2], "capture_rate": [0.0, 0.25, 1.0, 0.75],
                         "n_kams": [4, 4, 4, 4]})
    table = summarise(runs, "capture_rate", "g", trials="n_kams")
    assert table[["mean", "low", "high"]].to_numpy().tolist() == [
        list(proportion_ci([0.0, 0.25], 4)), list(proportion_ci([1.0, 0.75], 4))]
    assert (table.low >= 0).all() and (table.high <= 1).all()
    assert summarise(runs, "capture_rate", "g", trials=4).equals(table)


def test_what_would_have_to_be_true_finds_the_deciding_constant_and_its_cut():
    from kamabm.stats import what_would_have_to_be_true

    for seed in range(5):
        rng = np.random.default_rng(seed)
        draws = pd.DataFrame({"theta": rng.uniform(3, 6, 200), "noise": rng.uniform(0, 1, 200)})
        # capture high below theta 4.5, with noise that never crosses the threshold
        capture = np.where(draws.theta < 4.5, 0.9, 0.1) + rng.uniform(-0.05, 0.05, 200)
        found = what_would_have_to_be_true(draws, pd.Series(capture))
        assert found is not None and found.constant == "theta" and found.side == "<"
        assert found.cut == pytest.approx(4.5, abs=0.05) and found.accuracy == 1.0
        flipped = what_would_have_to_be_true(draws.assign(theta=-draws.theta),
                                             pd.Series(capture))
        assert flipped.side == ">" and flipped.cut == pytest.approx(-4.5, abs=0.05)
    assert what_would_have_to_be_true(draws, pd.Series(np.full(200, 0.2))) is None
