"""The committed headline results say what docs/findings.md and the README say they say.

These read the summaries under results/ that scripts/make-results.sh regenerates; they run
no model, so they are fast. If the model changes, regenerate the results and these tests
check the findings still hold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm.experiments.files import load_experiment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def charts(name: str) -> Path:
    return RESULTS / name / "charts"


def test_committed_headline_covers_the_whole_experiment():
    experiment = load_experiment(ROOT / "experiments" / "capture_phase.toml")
    summary = pd.read_csv(charts("capture_phase") / "summary.csv")
    assert len(summary) == len(experiment.points())
    assert (summary.n_runs == experiment.replications).all()


def test_committed_headline_boundary_lies_inside_the_swept_range():
    boundary = pd.read_csv(charts("capture_phase") / "boundary.csv")
    inside = boundary[boundary.status == "inside"]
    assert len(inside) >= 10
    assert inside.critical.between(0.05, 1.0).all()
    assert (inside.low <= inside.critical).all() and (inside.critical <= inside.high).all()
    # in the long run client share alone decides at low pressure: a boundary at every level
    # up to the highest pressures, moving to smaller shares as pressure rises
    critical = inside.sort_values("level").critical.to_numpy()
    assert np.all(np.diff(critical) <= 0.05)
    assert critical[0] - critical[-1] >= 0.4


def test_committed_five_year_map_is_a_transient_of_the_long_run():
    five = pd.read_csv(charts("capture_phase") / "transient_map.csv")
    summary = pd.read_csv(charts("capture_phase") / "summary.csv")
    both = five.merge(summary, on=["client_revenue_share", "kam_pressure"])
    top = both[both.client_revenue_share >= 0.9]
    # at moderate pressure capture is still building up at five years (measured at 0.4:
    # 8 % at year 5, 52 % at year 20) ...
    moderate = top[np.isclose(top.kam_pressure, 0.4)]
    assert moderate.capture_rate.mean() >= moderate.capture_rate_5y_mean.mean() + 0.2
    # ... and at the highest pressures the five-year peak is partly released by year 20
    # (99 % against 72 %): the five-year map misreads the long run both ways
    high = top[top.kam_pressure >= 0.9]
    assert high.capture_rate_5y_mean.mean() >= high.capture_rate.mean() + 0.1


@pytest.mark.parametrize("margin", ["key_account_margin", "supplier_margin"])
def test_committed_headline_margins_are_lower_where_capture_is_high(margin):
    summary = pd.read_csv(charts("capture_phase") / "summary.csv")
    high = summary[summary.capture_rate >= 0.5]
    low = summary[summary.capture_rate < 0.1]
    assert len(high) >= 20 and len(low) >= 20
    assert high[margin].mean() < low[margin].mean() - 0.02
    # and at equal client share, wherever both kinds of point exist
    for _, at_share in summary.groupby("client_revenue_share"):
        h, lo = at_share[at_share.capture_rate >= 0.5], at_share[at_share.capture_rate < 0.1]
        if len(h) and len(lo):
            assert h[margin].mean() < lo[margin].mean()


def test_committed_interventions_compare_every_lever_on_the_same_seeds():
    table = pd.read_csv(charts("interventions") / "interventions.csv")
    experiment = load_experiment(ROOT / "experiments" / "interventions.toml")
    assert set(table.treatment) == set(experiment.levers) | {"all levers"}
    assert (table.n_pairs == experiment.replications).all()
    capture = table[table.outcome == "capture_rate"].set_index("treatment")
    assert capture.loc["all levers", "high"] < 0  # together, the levers cut capture


def test_committed_interventions_report_margins_after_the_levers_costs():
    table = pd.read_csv(charts("interventions") / "interventions.csv")
    capture = table[table.outcome == "capture_rate"].set_index("treatment")
    margin = table[table.outcome == "supplier_margin"].set_index("treatment")
    # at share 0.8 and pressure 0.8, 20 years: rotation prevents most captures and pays
    assert capture.loc["rotation_months", "high"] < -0.5
    assert margin.loc["rotation_months", "low"] > 0
    # deal review and senior support prevent most captures and pay for themselves
    for lever in ("deal_review", "senior_support"):
        assert capture.loc[lever, "high"] < -0.3
        assert margin.loc[lever, "low"] > 0
    # a margin KPI raises the margin without cutting capture there (its interval holds 0)
    assert capture.loc["kpi_margin_weight", "low"] < 0 < capture.loc["kpi_margin_weight", "high"]
    assert margin.loc["kpi_margin_weight", "low"] > 0


def test_committed_rotation_trades_capture_against_transition_costs():
    table = pd.read_csv(charts("rotation") / "outcome_by_factor.csv")
    margin = table[table.outcome == "supplier_margin"].set_index("rotation_months")["mean"]
    capture = table[table.outcome == "capture_rate"].set_index("rotation_months")["mean"]
    best = margin.idxmax()
    assert best not in (0, margin.index.min(), margin.index.max())  # a U-shaped margin
    assert capture.loc[0] >= 0.5 and capture.loc[best] < 0.1


def test_committed_knockouts_show_the_share_effect_rests_on_the_dependence_mechanisms():
    table = pd.read_csv(charts("mechanisms") / "knockouts.csv")
    capture = table[table.outcome == "capture_rate"].pivot(
        index="variant", columns="client_revenue_share", values="mean")
    effect = capture[capture.columns.max()] - capture[capture.columns.min()]
    assert effect["all on"] >= 0.5
    assert effect["no dependence mechanism"] <= 0.1
    assert effect["no management's 'keep the client'"] <= 0.1
    # with the profit cushion held at its opening value, little of the effect is left
    assert effect["profit cushion held at its opening value"] <= 0.2


def test_committed_economics_miss_the_published_concave_margin_drop():
    # Revere/Forbes 2007: -7.4 % at 10-20 % of sales to one buyer, -9.5 % above 20 %
    # (78 % of the drop early). The model's drop is convex: at every pressure, less than
    # half of the drop at share 0.30 is reached at 0.15 (docs/findings.md, Economics).
    summary = pd.read_csv(charts("economics") / "summary.csv")
    for _, at in summary.groupby("kam_pressure"):
        margin = at.set_index("client_revenue_share")["gross_margin"]
        assert margin.is_monotonic_decreasing
        early, late = margin[0.15] / margin[0.05] - 1, margin[0.30] / margin[0.05] - 1
        assert late < early < 0 and early / late < 0.5


def test_committed_concentration_is_read_through_the_share_per_key_client():
    fit = pd.read_csv(charts("concentration") / "concentration_fit.csv").set_index("axis")
    # what each key client weighs, not the key clients' total, carries capture: the fitted
    # exponent lies between the Herfindahl index (0.5) and the share per client (1)
    for axis in ("account_share", "herfindahl"):
        assert fit.loc[axis, "r2"] > fit.loc["total_share", "r2"] + 0.2
    assert 0.5 < fit.loc["fitted", "exponent_low"] <= fit.loc["fitted", "exponent_high"] <= 1.0


def test_committed_contagion_test_finds_spread_along_a_buyer_even_without_interactions():
    # holding one KAM captured raises his buyer's rivals' capture more than other buyers'
    # (measured +29 points), and as much without peer influence and benchmarking (+38):
    # it travels through the buyer (docs/findings.md)
    table = pd.read_csv(charts("contagion") / "contagion_effects.csv")
    pooled = table[table.client_revenue_share.isna()].set_index(["setting", "effect"])
    for setting in ("interactions on", "interactions off"):
        assert pooled.loc[(setting, "first_minus_other_buyers"), "low"] > 0.1


def test_committed_knockouts_give_capture_intervals_inside_zero_and_one():
    table = pd.read_csv(charts("mechanisms") / "knockouts.csv")
    capture = table[table.outcome == "capture_rate"]
    assert (capture.low >= 0).all() and (capture.high <= 1).all()
    assert (capture.low <= capture["mean"]).all() and (capture["mean"] <= capture.high).all()
    assert (capture.high > capture.low).all()  # not empty where every run agrees


def test_committed_hysteresis_shows_capture_outlasting_the_pressure_that_caused_it():
    table = pd.read_csv(charts("hysteresis") / "hysteresis.csv")
    wide = table.pivot(index="level", columns="branch", values="mean")
    assert (wide["down"] >= wide["up"] - 0.05).all()
    assert (wide["down"] - wide["up"]).max() > 0.5


def test_committed_reports_exist_for_every_committed_experiment():
    for name in ("capture_phase", "interventions", "detachment", "learning", "hysteresis",
                 "mechanisms", "rotation", "dose_response", "economics", "concentration",
                 "contagion", "habits", "detachment_share"):
        report = RESULTS / name / "report.html"
        assert report.stat().st_size > 10_000, name
        assert "<img" in report.read_text(encoding="utf-8"), name
