"""``kamabm diagnose``, what a board asks: the constants' uncertainty, the client's books,
negotiators as given, doses a year, lower pressure, combinations, the timeline, ties."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm.diagnosis.client import (
    Client,
    ClientFileError,
    KeyAccount,
    load_client,
)
from kamabm.diagnosis.constants import constant_sets, what_would_be_true
from kamabm.diagnosis.diagnose import ASSUMPTIONS, diagnose
from kamabm.diagnosis.tables import rank
from kamabm.diagnosis.words import yearly_dose

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "experiments" / "client_example.toml"
#: Every lever in place: only the options named in a test are run.
ALL_LEVERS = {"training": 1.0, "deal_review": 0.5, "senior_support": 0.5,
              "rotation_months": 12, "smb_growth": 0.02}
#: A small map, for tests that do not look at it.
SMALL_MAP = {"map_shares": (0.6,), "map_pressures": (0.8,)}


def client(**changes) -> Client:
    accounts = (KeyAccount("Hypermarkets", 0.3, "procurement", 0.8),
                KeyAccount("Family chain", 0.3, "owner", 0.0))
    values = {"name": "Board client", "turnover": 10_000_000.0, "currency": "EUR",
              "accounts": accounts, "pressure": 0.9, "lowered_pressure": 0.3,
              "replications": 4, "draws": 1, "constants": "defaults", "levers": ALL_LEVERS,
              "kpi_margin_weight": 0.5,
              "map_replications": 1, "seed": 7, **changes}
    return Client(**values)


def posterior(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- the constants ----------------------------------------------------------------------------
def test_the_posterior_columns_are_whatever_parameters_it_holds(tmp_path):
    # not a fixed list: any parameter column is drawn, but none the client file sets
    text = ("generation,theta,employer_pull,capture_speed,kam_pressure,weight,distance,"
            "model_share\n"
            "4,3.5,0.2,0.10,0.9,0.5,1.2,0.4\n4,5.5,0.6,0.30,0.1,0.5,1.1,0.5\n"
            "4,9.0,4.0,0.90,0.5,0.0,9.9,0.1\n")
    c = client(constants="posterior", draws=40,
               posterior=posterior(tmp_path, "posterior.csv", text))
    sets = constant_sets(c, c.parameters())
    assert sets.columns == ("theta", "employer_pull", "capture_speed")
    assert len(sets.sets) == 40 and set(sets.particles) == {0, 1}  # weight 0: never drawn
    rows = {0: {"theta": 3.5, "employer_pull": 0.2, "capture_speed": 0.1},
            1: {"theta": 5.5, "employer_pull": 0.6, "capture_speed": 0.3}}
    assert all(s == rows[p] for s, p in zip(sets.sets, sets.particles, strict=True))
    assert 10 <= sets.particles.count(0) <= 30  # drawn by weight, half each
    assert constant_sets(c, c.parameters()) == sets  # from the master seed


def test_a_missing_or_useless_posterior_is_refused_in_one_line(tmp_path):
    missing = client(constants="posterior", draws=3, posterior=str(tmp_path / "none.csv"))
    with pytest.raises(ClientFileError, match=r"run\.posterior: .*no such file.*"
                                              r"run\.constants = \"defaults\""):
        constant_sets(missing, missing.parameters())
    useless = client(constants="posterior", draws=3, posterior=posterior(
        tmp_path, "p.csv", "kam_pressure,distance,weight\n0.5,1,1\n"))
    with pytest.raises(ClientFileError, match="no column is a model constant"):
        constant_sets(useless, useless.parameters())


def test_bands_hold_the_constants_uncertainty_and_capture_follows_the_posterior(tmp_path):
    # Three posteriors of one constant: theta 3 only, 7 only, half each. Tolerances, for
    # each of three master seeds (10 sets x 6 runs): at theta 3 the procurement-run
    # account's KAM is captured after 5 years in at least 20 % of runs (seen 28-43 %) and
    # lowering the pressure from 0.9 to 0.3 cuts the share of captured accounts by at
    # least 40 points (seen 59-69); at theta 7 never, band [0, 0]; the half-and-half
    # posterior's band of the status quo's profit is at least twice as wide as either
    # single posterior's (seen 3.5 to 8 times).
    files = {name: posterior(tmp_path, f"{name}.csv", f"theta,weight\n3.0,{a}\n7.0,{b}\n")
             for name, a, b in (("low", 1, 0), ("high", 0, 1), ("mixed", 1, 1))}
    for seed in (1, 2, 3):
        found = {}
        for name, path in files.items():
            c = client(constants="posterior", draws=10, replications=6, seed=seed,
                       posterior=path, kpi_margin_weight=0.0)  # volume KPI
            found[name] = diagnose(c, workers=1, levers=("lower_pressure",), **SMALL_MAP)
        five = {name: d.capture_risk[(d.capture_risk.year == 5)
                                     & (d.capture_risk.account == "Hypermarkets")].iloc[0]
                for name, d in found.items()}
        assert five["low"].captured >= 0.2
        assert found["low"].levers.set_index("lever").loc["lower_pressure", "capture"] <= -0.4
        assert (five["high"].captured, five["high"].low, five["high"].high) == (0, 0, 0)
        width = {name: d.status_quo["profit_high"] - d.status_quo["profit_low"]
                 for name, d in found.items()}
        assert width["mixed"] >= 2 * max(width["low"], width["high"]), width


def test_same_numbers_for_one_and_two_workers_over_the_posterior(tmp_path):
    path = posterior(tmp_path, "p.csv", "theta,w_keep,weight\n3.5,1.0,1\n6.0,0.5,2\n")
    c = client(constants="posterior", draws=3, replications=2, posterior=path,
               levers={k: v for k, v in ALL_LEVERS.items() if k != "training"},
               combine=("training", "lower_pressure"))
    one = diagnose(c, workers=1, **SMALL_MAP)
    two = diagnose(c, workers=2, **SMALL_MAP)
    for name in ("capture_risk", "margin_at_risk", "levers", "combinations", "timeline",
                 "capture_map"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    assert one.status_quo == two.status_quo and one.conditions == two.conditions


def test_what_would_have_to_be_true_names_the_constant_and_its_cut():
    rng = np.random.default_rng(1)
    theta = np.linspace(3.0, 7.0, 20)
    noise = rng.uniform(0, 10, 20)  # a constant capture does not depend on
    captured = np.repeat((theta < 4.5)[:, None], 5, axis=1)  # above 50 % iff theta < 4.5
    found = what_would_be_true({"w_keep": noise, "theta": theta}, captured)
    assert found.constant == "theta" and not found.rises
    assert 4.2 < found.threshold < 4.7 and found.accuracy == 1
    assert found.share_above == pytest.approx(0.4)  # 8 of the 20 thetas are below 4.5
    never = what_would_be_true({"theta": theta}, np.zeros((20, 5), bool))
    assert never.constant == "" and never.share_above == 0


def test_options_whose_bands_overlap_share_a_rank():
    table = pd.DataFrame({"net": [10.0, 8.0, 2.0, 1.0, -5.0],
                          "net_low": [6.0, 5.0, 0.0, -1.0, -7.0],
                          "net_high": [14.0, 11.0, 4.0, 3.0, -3.0]})
    ranked = rank(table)
    assert ranked["rank"].tolist() == [1, 1, 3, 3, 5]
    assert ranked["tied"].tolist() == [True, True, True, True, False]


# --- the books and the words ------------------------------------------------------------------
def test_an_actual_margin_is_reproduced_at_the_baseline_and_leaves_effects_alone():
    plain = client(levers={k: v for k, v in ALL_LEVERS.items() if k != "training"})
    results = {}
    for name, books in (("plain", {}), ("net", {"net_margin": 0.03}),
                        ("gross", {"gross_margin": 0.25, "sga_share": 0.2})):
        results[name] = diagnose(dataclasses.replace(plain, **books), workers=1,
                                 levers=("training",), **SMALL_MAP)
    assert results["net"].status_quo["margin_year1"] == pytest.approx(0.03, abs=1e-12)
    assert results["gross"].status_quo["margin_year1"] == pytest.approx(0.05, abs=1e-12)
    for d in results.values():
        sq = d.status_quo
        # the margin shown is profit a year over revenue a year (the model's, said so)
        assert sq["margin"] == pytest.approx(sq["profit"] / sq["revenue"], rel=1e-12)
        pd.testing.assert_series_equal(d.levers.net, results["plain"].levers.net)
    shift = results["plain"].status_quo["profit"] - results["net"].status_quo["profit"]
    assert shift == pytest.approx(results["net"].status_quo["anchor"])
    assert results["plain"].status_quo["anchor"] == 0
    from kamabm.diagnosis.verdict import books_lines

    said = " ".join(books_lines(results["gross"]))
    assert "25.0 % gross margin less 20.0 % SG&A" in said and "the client's" in said
    assert "profit over the model's revenue" in said


def test_the_example_file_reads_its_books_plan_and_constants():
    c = load_client(EXAMPLE)
    assert c.net_margin == 0.04 and c.target_margin == 0.04
    assert c.combine == ("training", "deal_review", "lower_pressure")
    assert c.constants == "posterior" and c.draws * c.replications == c.runs_per_option
    assert "lower_pressure" in c.options()


def test_negotiators_are_shown_as_given_in_words_and_number(tmp_path):
    from kamabm.diagnosis.report import write_diagnosis

    accounts = (KeyAccount("Hypermarkets", 0.3, "procurement", 0.8),
                KeyAccount("Co-op", 0.2, "owner", 0.4))
    diag = diagnose(client(accounts=accounts), workers=1, levers=(), **SMALL_MAP)
    page = write_diagnosis(diag, tmp_path)[0].read_text(encoding="utf-8")
    assert "mixed (0.4)" in page and "procurement-run (0.8)" in page
    rows = page[page.index("Key accounts"):page.index("Options, ranked")
                if "Options, ranked" in page else page.index("The books")]
    assert "owner-run" not in rows  # a detachment of 0.4 is not an owner's
    assert set(diag.capture_risk.negotiator) == {"mixed (0.4)", "procurement-run (0.8)"}


def test_each_dose_is_said_in_yearly_terms():
    c = client(pressure=0.8)
    assert "win 24 % of today's number of small clients a year" in yearly_dose(
        "smb_growth", 0.02, c)
    assert "(2 % a month)" in yearly_dose("smb_growth", 0.02, c)
    assert "(1 handover a year per account)" in yearly_dose("rotation_months", 12, c)
    assert "(2 handovers a year per account)" in yearly_dose("rotation_months", 6, c)
    assert "asks 6 % more than last year instead of 16 %" in yearly_dose(
        "lower_pressure", 0.3, c)
    assert "1.5 months of senior time a year per KAM" in yearly_dose("senior_support", 0.5, c)


def test_the_assumptions_say_what_is_calibrated_to_what(tmp_path):
    from kamabm.diagnosis.verdict import calibration_lines

    folder = tmp_path / "calibration"
    folder.mkdir()
    path = posterior(folder, "posterior.csv", "theta,weight\n3.5,1\n5.0,1\n")
    (folder / "targets.csv").write_text(
        "target,source,value,posterior_mean,bound,fitted,matched\n"
        "drop,Revere/Forbes 2007: margin drop,-0.0946,-0.08,,True,True\n"
        "discount,Wieseke et al. 2014: loyal discount,-0.05,-0.077,,False,False\n"
        "rare,Essay: capture is rare,0.1,0.04,at_most,True,True\n")
    (folder / "constants.csv").write_text("constant,pinned\ntheta,False\n")
    (folder / "manifest.json").write_text(json.dumps(
        {"priors": [{"name": "theta", "low": 2.0, "high": 7.0}]}))
    c = client(constants="posterior", draws=2, replications=2, posterior=path)
    diag = diagnose(c, workers=1, levers=(), **SMALL_MAP)
    said = " ".join(calibration_lines(diag))
    assert "fitted the threshold of the drive to the client's side to 2 published" in said
    assert "meets 2 of them: Revere/Forbes 2007; Essay." in said
    assert "Held out (measured, not fitted) and missed by the model: Wieseke et al. 2014" in said
    assert "they say little about the threshold of the drive" in said
    assert "none is measured at this client" in said
    assert not any("published patterns" in a for a in ASSUMPTIONS)
    at_defaults = diagnose(client(), workers=1, levers=(), **SMALL_MAP)
    said = " ".join(calibration_lines(at_defaults))
    assert "default values" in said and "calibration fitted" not in said


# --- combinations, pressure and the timeline --------------------------------------------------
def test_pressure_pairs_and_the_clients_combination_are_ranked_with_a_timeline():
    c = client(levers={k: v for k, v in ALL_LEVERS.items()
                       if k not in ("training", "deal_review")},
               combine=("training", "deal_review", "lower_pressure"), horizon_years=4)
    diag = diagnose(c, workers=1, **SMALL_MAP)
    kinds = diag.levers.set_index("lever").kind
    assert kinds["lower_pressure"] == "pressure"
    assert kinds["training + deal_review + lower_pressure"] == "your combination"
    assert (kinds == "best pair").sum() == 1 and (kinds == "single").sum() == 2
    best_pair = diag.combinations[diag.combinations.kind == "pair"].iloc[0].lever
    assert kinds[best_pair] == "best pair"
    assert sorted(diag.combinations.lever) == sorted([
        "training + deal_review", "training + lower_pressure",
        "deal_review + lower_pressure", "training + deal_review + lower_pressure"])
    assert list(diag.levers.net) == sorted(diag.levers.net, reverse=True)
    timeline = diag.timeline
    assert timeline.year.tolist() == [1, 2, 3, 4]
    assert (timeline.option == diag.levers.lever.iloc[0]).all()
    np.testing.assert_allclose(timeline.cumulative_gain, np.cumsum(timeline.gain))
    np.testing.assert_allclose(timeline.gain, timeline.profit_best - timeline.profit_sq,
                               rtol=1e-9, atol=1e-6)
    if diag.payback_year is not None:
        k = diag.payback_year - 1
        assert (timeline.cumulative_gain[k:] > 0).all()
        assert k == 0 or timeline.cumulative_gain[k - 1] <= 0
    else:
        assert timeline.cumulative_gain.iloc[-1] <= 0


def test_a_combination_of_levers_in_place_is_refused():
    c = client(combine=("training", "smb_growth"))  # both in place
    with pytest.raises(ClientFileError, match="training: not a lever the client lacks"):
        diagnose(c, workers=1, **SMALL_MAP)


def test_defaults_only_runs_draws_times_replications_at_the_defaults(tmp_path, capsys):
    from kamabm.cli import main

    text = EXAMPLE.read_text(encoding="utf-8")
    head = text[:text.index("[run]")]
    path = tmp_path / "client.toml"
    path.write_text(head + "[run]\ndraws = 3\nreplications = 2\nmap_replications = 1\n",
                    encoding="utf-8")
    out = tmp_path / "out"
    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet",
                 "--constants", "defaults"]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["constants"]["mode"] == "defaults" and len(prov["seeds"]) == 6
    assert "6 runs at the model's default constants" in capsys.readouterr().out
    assert main(["diagnose", str(path), "--out", str(tmp_path / "x"), "--draws", "0"]) == 2
    assert "--draws 0: out of range, allowed [1, 1000]" in capsys.readouterr().err


def test_the_default_diagnosis_of_the_example_stays_small():
    # 9,600 runs of five years took 15 s on 2 workers (compiled engine, a calibration
    # running beside it): a default that grows past 12,000 runs would near half a minute.
    from kamabm.diagnosis.diagnose import MAP_PRESSURES, MAP_SHARES, options_run

    c = load_client(EXAMPLE)
    combination = tuple(lever for lever in c.options() if lever in c.combine)
    options = 1 + len(options_run(c.options(), combination))
    runs = options * c.runs_per_option + len(MAP_SHARES) * len(MAP_PRESSURES) * (
        c.map_replications)
    assert options == 30 and runs <= 12_000


def test_a_folder_of_runs_over_another_posterior_is_refused_naming_it(tmp_path):
    from kamabm.diagnosis.runs import RunsStored, check_folder, diagnosis_identity
    from kamabm.experiments.store import StoreError

    path = tmp_path / "posterior.csv"
    path.write_text("theta,weight\n3.5,1\n5.0,1\n")
    c = client(constants="posterior", draws=2, replications=2, posterior=str(path))
    out = tmp_path / "out"
    diagnose(c, workers=1, levers=(), store=RunsStored(out, diagnosis_identity(c),
                                                       notify=lambda line: None),
             **SMALL_MAP)
    check_folder(out, diagnosis_identity(c), overwrite=False)  # the same: resumes
    path.write_text("theta,weight\n3.5,1\n5.0,3\n")  # the calibration was rerun
    with pytest.raises(StoreError, match="holds runs over another calibration posterior"):
        check_folder(out, diagnosis_identity(c), overwrite=False)
