"""Capture against the concentration axes: total share, share per key client, Herfindahl.

Synthetic run tables with a known answer (no model runs): the axes' formulas, the curves'
intervals, which axis one curve fits, the fitted exponent, the trigger, and the report.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from kamabm.analysis.concentration import (
    ACCOUNT,
    AXES,
    FITTED,
    HHI,
    TOTAL,
    axis_values,
    concentration,
    concentration_sentences,
    equal_split,
    matched_gap,
)
from kamabm.analysis.results import MAP, SweepResults, kind_of, plan
from kamabm.analysis.tables import analyse
from kamabm.experiments.files import parse_experiment
from kamabm.names import CAPTURE_RATE, CLIENT_SHARE
from kamabm.report.html import write_report
from kamabm.report.studies import concentration_display

SHARES = (0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
BUYERS = (2, 3, 4, 6, 8)
SUPPLIERS = 4
EXPERIMENT = """
name = "synthetic_concentration"
replications = {reps}
seed = 1
horizon = 60
[design]
method = "grid"
{base}
[uncertainties.client_revenue_share]
values = [{shares}]
[uncertainties.{second}]
values = [{levels}]
"""


def _runs(probability, *, reps: int = 6, seed: int = 0, second: str = "n_key_buyers",
          levels=BUYERS) -> pd.DataFrame:
    """Runs whose KAMs are each captured with ``probability(share, buyers)``, binomially."""
    rng = np.random.default_rng(seed)
    rows = []
    for share in SHARES:
        for level in levels:
            buyers = level if second == "n_key_buyers" else 3
            kams = SUPPLIERS * buyers
            for rep in range(reps):
                captured = rng.binomial(kams, probability(share, buyers))
                rows.append({CLIENT_SHARE: share, second: level, "n_key_buyers": buyers,
                             "n_suppliers": SUPPLIERS, "seed": rep, "replication": rep,
                             "key_share_concentration": 0.0, "key_account_shares": "",
                             CAPTURE_RATE: captured / kams})
    return pd.DataFrame(rows)


def _by_hhi(share, buyers):
    return expit(6.0 + 2.5 * np.log(share**2 / buyers))


def _by_total(share, buyers):
    return expit(12.0 * (share - 0.6))


def _results(runs: pd.DataFrame, tmp_path: Path, *, second: str = "n_key_buyers",
             levels=BUYERS, reps: int = 6) -> SweepResults:
    base = "[base]\nkam_pressure = 0.6" if second != "kam_pressure" else ""
    text = EXPERIMENT.format(reps=reps, shares=", ".join(map(str, SHARES)), second=second,
                             levels=", ".join(map(str, levels)), base=base)
    return SweepResults(tmp_path, runs, parse_experiment(text), {}, 0)


def test_the_axes_are_the_total_share_the_share_per_account_and_the_herfindahl_index():
    runs = pd.DataFrame({CLIENT_SHARE: [0.5, 0.8, 0.9], "n_key_buyers": [2, 4, 3]})
    axes = axis_values(runs)
    assert list(axes[TOTAL]) == [0.5, 0.8, 0.9]
    assert axes[ACCOUNT].tolist() == pytest.approx([0.25, 0.2, 0.3])
    # n accounts of s/n each: the sum of their squares is s**2 / n
    assert axes[HHI].tolist() == pytest.approx([0.125, 0.16, 0.27])
    assert axes[HHI].tolist() == pytest.approx(
        [3 * (0.9 / 3) ** 2 if n == 3 else s**2 / n
         for s, n in zip(runs[CLIENT_SHARE], runs["n_key_buyers"], strict=True)])


def test_an_unequal_split_is_told_apart_from_an_equal_one():
    runs = pd.DataFrame({"key_share_concentration": [0.0, 0.0],
                         "key_account_shares": ["", ""]})
    assert equal_split(runs)
    assert not equal_split(runs.assign(key_share_concentration=[0.0, 1.0]))
    assert not equal_split(runs.assign(key_account_shares=["", "0.3, 0.2"]))
    assert not equal_split(runs.assign(key_account_shares=[(), (0.3, 0.2)]))
    assert equal_split(pd.DataFrame({"x": [1]}))  # columns not kept: the default, equal


def test_the_curves_hold_each_axis_at_every_point_with_wilson_intervals():
    runs = _runs(_by_hhi)
    found = concentration(runs, n_boot=0)
    curves = found.curves
    assert len(curves) == len(AXES) * len(SHARES) * len(BUYERS)
    account = curves[curves.axis == ACCOUNT]
    assert account["x"].to_numpy() == pytest.approx(
        (account[CLIENT_SHARE] / account["n_key_buyers"]).to_numpy())
    hhi = curves[curves.axis == HHI]
    assert hhi["x"].to_numpy() == pytest.approx(
        (hhi[CLIENT_SHARE] ** 2 / hhi["n_key_buyers"]).to_numpy())
    means = runs.groupby(["n_key_buyers", CLIENT_SHARE])[CAPTURE_RATE].mean()
    total = curves[curves.axis == TOTAL].set_index(["n_key_buyers", CLIENT_SHARE])
    assert total["mean"].to_numpy() == pytest.approx(means.loc[total.index].to_numpy())
    assert ((curves["low"] >= 0) & (curves["high"] <= 1)).all()
    assert ((curves["low"] <= curves["mean"]) & (curves["mean"] <= curves["high"])).all()
    assert (curves[curves["mean"] == 0]["high"] > 0).all()  # Wilson: not empty at 0


def test_capture_driven_by_the_herfindahl_index_collapses_on_it():
    found = concentration(_runs(_by_hhi), n_boot=50)
    fit = found.fit.set_index("axis")
    assert found.best.axis == HHI
    assert fit.loc[HHI, "r2"] > 0.95 > fit.loc[ACCOUNT, "r2"]
    assert fit.loc[HHI, "r2"] > fit.loc[TOTAL, "r2"] + 0.2
    assert fit.loc[HHI, "gap"] < fit.loc[TOTAL, "gap"] and fit.loc[HHI, "gap"] < 0.1
    # the fitted power of the buyer count finds the Herfindahl index's 1/2
    assert fit.loc[FITTED, "exponent"] == pytest.approx(0.5, abs=0.06)
    assert fit.loc[FITTED, "exponent_low"] <= 0.5 <= fit.loc[FITTED, "exponent_high"]
    assert list(fit["exponent"][[TOTAL, ACCOUNT, HHI]]) == [0.0, 1.0, 0.5]
    text = " ".join(concentration_sentences(found))
    assert "Herfindahl index" in text and "2 to 8 key clients" in text


def test_capture_driven_by_the_total_share_collapses_on_the_total_share():
    found = concentration(_runs(_by_total), n_boot=0)
    fit = found.fit.set_index("axis")
    assert found.best.axis == TOTAL
    assert fit.loc[TOTAL, "r2"] > fit.loc[HHI, "r2"] > fit.loc[ACCOUNT, "r2"]
    assert abs(fit.loc[FITTED, "exponent"]) < 0.1
    assert np.isnan(fit.loc[FITTED, "exponent_low"])  # no bootstrap asked


def test_the_gap_at_matched_x_compares_curves_only_where_they_overlap():
    same = pd.DataFrame({"n_key_buyers": [2, 2, 4, 4], "x": [0.1, 0.4, 0.1, 0.4],
                         "mean": [0.0, 1.0, 0.0, 1.0]})
    assert matched_gap(same) == (0.0, 1)
    shifted = same.assign(mean=[0.0, 1.0, 0.2, 1.2])
    assert matched_gap(shifted)[0] == pytest.approx(0.2)
    apart = pd.DataFrame({"n_key_buyers": [2, 2, 4, 4], "x": [0.3, 0.4, 0.1, 0.2],
                          "mean": [0.0, 1.0, 0.0, 1.0]})
    gap, pairs = matched_gap(apart)
    assert np.isnan(gap) and pairs == 0


def test_capture_alike_everywhere_fits_no_curve_and_says_so():
    found = concentration(_runs(lambda s, n: 0.0), n_boot=10)
    assert not found.varies and found.fit["r2"].isna().all()
    assert found.best.axis == TOTAL
    assert "no measure of concentration" in concentration_sentences(found)[0]


def test_too_few_levels_are_refused():
    runs = _runs(_by_hhi)
    with pytest.raises(ValueError, match="two buyer counts"):
        concentration(runs[runs.n_key_buyers == 2])


def test_a_sweep_of_share_and_key_clients_is_a_map_that_also_gets_the_concentration_chart(
        tmp_path):
    res = _results(_runs(_by_hhi), tmp_path)
    kind, factors, _ = kind_of(res)
    assert kind == MAP and set(factors) == {CLIENT_SHARE, "n_key_buyers"}
    assert "concentration" in plan(res) and "phase_diagram" in plan(res)
    other = _runs(_by_total, second="kam_pressure", levels=(0.3, 0.9))
    res = _results(other, tmp_path, second="kam_pressure", levels=(0.3, 0.9))
    assert kind_of(res)[0] == MAP and "concentration" not in plan(res)


def test_the_report_writes_the_concentration_table_and_chart(tmp_path):
    res = _results(_runs(_by_hhi), tmp_path)
    an = analyse(res, n_boot=40, typical=False)
    assert an.concentration is not None and "concentration" in an.charts
    path, charts = write_report(an, tmp_path / "report.html")
    out = tmp_path / "charts"
    for name in ("concentration.png", "concentration.svg", "concentration.csv",
                 "concentration_fit.csv"):
        assert (out / name).stat().st_size > 0, name
    fit = pd.read_csv(out / "concentration_fit.csv")
    assert list(fit.axis) == [TOTAL, ACCOUNT, HHI, FITTED]
    chart = next(c for c in charts if c.kind == "concentration")
    assert "Herfindahl" in chart.title
    assert not re.search(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", chart.title)  # no code names
    text = path.read_text(encoding="utf-8")
    assert "<figure id=concentration>" in text
    shown = concentration_display(an.concentration)
    assert "Herfindahl index of the key clients" in text
    assert "one curve explains" in shown.columns and shown.iloc[2]["one curve explains"] in text
