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
    # after five years nobody is mostly captured at low pressure, whatever the share ...
    low = five[five.kam_pressure <= 0.2]
    assert (low.capture_rate_5y_mean < 0.5).all()
    # ... where the same runs, read at their end, are mostly captured at high shares
    late = summary[(summary.kam_pressure <= 0.2) & (summary.client_revenue_share >= 0.9)]
    assert (late.capture_rate >= 0.5).all()


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
    for lever in ("senior_support", "rotation_months"):
        assert capture.loc[lever, "high"] < -0.5  # they prevent most captures
        assert margin.loc[lever, "low"] > 0  # and pay for themselves


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
                 "mechanisms", "rotation", "dose_response"):
        report = RESULTS / name / "report.html"
        assert report.stat().st_size > 10_000, name
        assert "<img" in report.read_text(encoding="utf-8"), name
