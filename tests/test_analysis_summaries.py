"""Summaries behind the charts: intervals, paired differences, erosion, margin gap, hysteresis.

Each is checked on synthetic tables with a known answer.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kamabm.stats import (
    EROSION,
    erosion_attribution,
    hysteresis_branches,
    hysteresis_gap,
    margin_gap,
    mean_ci,
    one_at_a_time,
    paired_differences,
    summarise,
)


def test_mean_ci_matches_the_student_t_interval():
    x = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    mean, low, high = mean_ci(x)
    expected = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(5.0)
    assert (low, high) == pytest.approx(expected)


def test_mean_ci_of_one_or_no_value():
    assert mean_ci(np.array([3.0])) == (3.0, 3.0, 3.0)
    assert all(np.isnan(mean_ci(np.array([np.nan]))))


def test_t_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = sum(lo <= 1.0 <= hi for _, lo, hi in
               (mean_ci(rng.normal(1.0, 2.0, 10)) for _ in range(2000)))
    assert 0.93 < hits / 2000 < 0.97


def test_summarise_groups_and_counts():
    frame = pd.DataFrame({"g": [0, 0, 1, 1, 1], "y": [1.0, 3.0, 2.0, 2.0, 2.0]})
    table = summarise(frame, "y", "g")
    assert list(table["mean"]) == [2.0, 2.0]
    assert list(table["n"]) == [2, 3]
    assert table.loc[1, "low"] == table.loc[1, "high"] == 2.0  # no spread, no width


def factorial(effects, replications=30, seed=0, noise=0.2):
    """A two-level factorial on common random numbers: each seed shares a run effect."""
    rng = np.random.default_rng(seed)
    seed_effect = rng.normal(0.0, 1.0, replications)  # large, shared across points
    rows = []
    names = list(effects)
    for combo in np.ndindex(*(2,) * len(names)):
        for rep in range(replications):
            y = 5.0 + seed_effect[rep] + rng.normal(0.0, noise)
            y += sum(effects[n] * on for n, on in zip(names, combo, strict=True))
            rows.append({**dict(zip(names, map(float, combo), strict=True)),
                         "seed": 1000 + rep, "replication": rep, "y": y})
    return pd.DataFrame(rows)


def test_one_at_a_time_finds_status_quo_each_lever_and_all():
    runs = factorial({"a": 1.0, "b": -1.0})
    settings = one_at_a_time(runs, ["a", "b"])
    assert settings == {"status quo": {"a": 0.0, "b": 0.0}, "a": {"a": 1.0, "b": 0.0},
                        "b": {"a": 0.0, "b": 1.0}, "all levers": {"a": 1.0, "b": 1.0}}


def test_paired_differences_recover_known_effects_within_their_intervals():
    effects = {"a": 0.5, "b": -0.3, "c": 0.0}
    runs = factorial(effects)
    table = paired_differences(runs, "y", one_at_a_time(runs, list(effects)))
    table = table.set_index("treatment")
    for name, effect in effects.items():
        assert table.loc[name, "low"] <= effect <= table.loc[name, "high"], name
        assert table.loc[name, "n_pairs"] == 30
    assert table.loc["all levers", "diff"] == pytest.approx(0.2, abs=0.15)
    # c has no effect: its interval must contain 0; a's must not
    assert table.loc["a", "low"] > 0 and table.loc["b", "high"] < 0


def test_pairing_on_common_random_numbers_narrows_the_interval():
    runs = factorial({"a": 0.5})
    paired = paired_differences(runs, "y", one_at_a_time(runs, ["a"])).iloc[0]
    treated = runs.loc[runs.a == 1, "y"].to_numpy()
    control = runs.loc[runs.a == 0, "y"].to_numpy()
    unpaired = stats.ttest_ind(treated, control).confidence_interval(0.95)
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 3


def test_paired_differences_refuse_runs_without_shared_seeds():
    runs = factorial({"a": 0.5})
    runs.loc[runs.a == 1, "seed"] += 10_000
    with pytest.raises(ValueError, match="common random numbers"):
        paired_differences(runs, "y", one_at_a_time(runs, ["a"]))


def test_erosion_attribution_sums_its_sources():
    runs = pd.DataFrame({"p": [0, 0, 1], "erosion_price": [0.02, 0.04, 0.06],
                         "erosion_demands": [0.01, 0.01, 0.02],
                         "erosion_resources": [0.0, 0.0, 0.02]})
    table = erosion_attribution(runs, "p").set_index("p")
    assert table.loc[0, "total"] == pytest.approx(0.04)
    assert table.loc[1, "share_erosion_price"] == pytest.approx(0.6)
    shares = table[[f"share_{c}" for c in EROSION]].sum(axis=1)
    assert np.allclose(shares, 1.0)


def test_margin_gap_compares_at_equal_share():
    # Captured runs sit at the high share, where margins are low anyway; the gap at equal
    # share (0.02) is far smaller than the naive difference of means.
    rows = []
    for share, base in ((0.2, 0.15), (0.8, 0.05)):
        for k in range(10):
            captured = (k < 8) if share == 0.8 else (k < 2)
            rows.append({"client_revenue_share": share, "capture_rate": 0.9 if captured else 0.1,
                         "m": base - 0.02 * captured})
    runs = pd.DataFrame(rows)
    gap = margin_gap(runs, "m")
    assert gap["gap"] == pytest.approx(-0.02)
    naive = runs.loc[runs.capture_rate > 0.5, "m"].mean() - runs.loc[runs.capture_rate < 0.5,
                                                                      "m"].mean()
    assert naive < -0.05
    assert gap["levels"] == 2


def test_hysteresis_branches_split_runs_by_starting_pressure():
    rows = [{"kam_pressure": start, "pressure_after_change": level,
             "capture_rate": (0.9 if start == 1.0 else 0.1) + 0.0 * rep}
            for start in (0.0, 1.0) for level in (0.2, 0.5) for rep in range(4)]
    branches = hysteresis_branches(pd.DataFrame(rows))
    assert set(branches.branch) == {"up", "down"}
    assert len(branches) == 4 and (branches.n == 4).all()
    gaps = hysteresis_gap(branches)
    assert np.allclose(gaps["gap"], 0.8)
