"""Charts of sweep results: every chart is drawn from small sweeps, is not blank, and
plots exactly the numbers in its CSV; the plot command refuses bad input in one line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from conftest import OnFirstUse, plot_command
from matplotlib.image import imread
from plot_fixtures import interrupt

from kamabm.analysis.results import KINDS, ResultsError, load, plan
from kamabm.analysis.tables import analyse, boundary, outside_levels
from kamabm.experiments.typical import pick_typical
from kamabm.names import human, levels_text
from kamabm.report.charts.levers import intervention_finding
from kamabm.report.plots import make_charts


def draw(results, out, *, n_boot=60, typical=True):
    return make_charts(analyse(load(results), n_boot=n_boot, typical=typical), out)


@pytest.fixture(scope="module")
def drawn(swept, reported, tmp_path_factory):
    """Each sweep's charts, drawn when a test first asks for them.

    The reported sweeps' charts are their reports' (conftest.py), drawn as draw() would.
    """
    out = tmp_path_factory.mktemp("charts")
    return OnFirstUse(EXPECTED, lambda name: reported[name][1] if name in reported
                      else draw(swept[name], out / name))


def assert_not_blank(png):
    image = imread(png)
    assert image.shape[0] > 600 and image.shape[1] > 600  # 300 dpi
    grey = image[..., :3].mean(axis=2)
    assert grey.std() > 0.05  # not a flat image
    assert (grey < 0.9).mean() > 0.02  # a visible share of non-white pixels


EXPECTED = {
    "smoke": {"phase_diagram", "margin_maps", "margin_by_factor", "margin_vs_capture",
              "erosion", "typical_runs"},
    "interventions": {"interventions", "erosion", "typical_runs"},
    "hysteresis": {"hysteresis", "typical_runs"},
    "sensitivity": {"sensitivity", "typical_runs"},
    "one_factor": {"outcome_by_factor", "typical_runs"},
    "long_map": {"phase_diagram", "transient_map", "margin_maps", "margin_by_factor",
                 "margin_vs_capture", "erosion", "typical_runs"},
    "knockouts": {"knockouts", "co_capture", "typical_runs"},
    "dose": {"interventions", "dose_response", "erosion", "typical_runs"},
    "concentration": {"phase_diagram", "concentration", "margin_maps", "margin_by_factor",
                      "margin_vs_capture", "erosion", "typical_runs"},
    "contagion": {"contagion", "typical_runs"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_experiment_gets_the_charts_its_shape_calls_for(drawn, name):
    assert {c.kind for c in drawn[name]} == EXPECTED[name]
    assert set().union(*EXPECTED.values()) == set(KINDS)  # every kind is exercised


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_chart_is_written_as_png_svg_and_csv_and_is_not_blank(drawn, name):
    for chart in drawn[name]:
        suffixes = sorted(p.suffix for p in chart.files)
        assert suffixes == [".csv", ".png", ".svg"], chart.kind
        assert_not_blank(chart.files[0])
        root = ET.parse(chart.svg).getroot()
        assert root.tag.endswith("svg")
        assert len(pd.read_csv(chart.csv)) > 0, chart.kind
        # a short title; the finding, computed from the data, states numbers
        assert chart.title and any(ch.isdigit() for ch in chart.finding), chart.kind
        assert not re.search(r"\d+ (runs|replications)", chart.title)  # no run counts
        assert "replications per point" in chart.caption  # the details go to the caption


def test_phase_diagram_plots_the_mean_capture_of_every_design_point(swept, drawn):
    runs = load(swept["smoke"]).runs
    chart = next(c for c in drawn["smoke"] if c.kind == "phase_diagram")
    keys = ["kam_pressure", "client_revenue_share"]
    plotted = pd.read_csv(chart.csv).sort_values(keys)
    expected = runs.groupby(keys)["capture_rate"].mean().reset_index()
    assert len(plotted) == len(expected) == 16
    assert np.allclose(plotted[keys], expected[keys])  # same points (CSV rounds to 6 digits)
    assert np.allclose(plotted["capture_rate_mean"], expected["capture_rate"])
    boundary = pd.read_csv(chart.csv.parent / "boundary.csv")
    assert np.allclose(boundary.level, sorted(runs.kam_pressure.unique()))


def test_intervention_title_states_the_status_quo_computed_from_the_runs(swept, drawn):
    runs = load(swept["interventions"]).runs
    status_quo = runs[(runs.senior_support == 0) & (runs.rotation_months == 0)
                      & (runs.training == 0)]
    chart = next(c for c in drawn["interventions"] if c.kind == "interventions")
    assert f"({100 * status_quo.capture_rate.mean():.0f} % of KAMs captured)" in chart.title
    table = pd.read_csv(chart.csv)
    assert set(table.treatment) == {"senior_support", "rotation_months", "training",
                                    "all levers"}
    assert (table.n_pairs == 4).all()
    assert (table.low <= table["diff"]).all() and (table["diff"] <= table.high).all()


def test_sensitivity_chart_plots_the_indices_of_every_parameter(drawn):
    chart = next(c for c in drawn["sensitivity"] if c.kind == "sensitivity")
    table = pd.read_csv(chart.csv)
    assert set(table.parameter) == {"client_revenue_share", "buyer_detachment",
                                    "kam_pressure"}
    assert {"capture_rate", "supplier_margin"} <= set(table.outcome)
    assert table[["S1", "ST"]].notna().all().all()
    lead = table[table.outcome == "capture_rate"].sort_values("ST").parameter.iloc[-1]
    assert human(lead).lower() in chart.finding.lower()  # the finding in words too
    assert human(lead) in chart.title.lower() or human(lead).capitalize() in chart.title


def test_hysteresis_chart_holds_both_branches_at_every_final_pressure(drawn):
    chart = next(c for c in drawn["hysteresis"] if c.kind == "hysteresis")
    table = pd.read_csv(chart.csv)
    assert sorted(table.branch.unique()) == ["down", "up"]
    assert sorted(table.level.unique()) == [0.2, 0.6, 1.0]


def test_typical_runs_repeat_a_captured_and_an_uncaptured_run(swept, drawn):
    runs = load(swept["smoke"]).runs
    low, high = pick_typical(runs)
    assert low.capture_rate < 0.5 <= high.capture_rate
    chart = next(c for c in drawn["smoke"] if c.kind == "typical_runs")
    table = pd.read_csv(chart.csv)
    ends = table.groupby("run").captured_share.last()
    # the re-runs from the stored seeds end where the sweep's runs ended
    assert ends["captured"] == pytest.approx(high.capture_rate)
    assert ends["not captured"] == pytest.approx(low.capture_rate)
    assert "NOTE" not in chart.caption


def test_charts_are_reproducible_byte_for_byte(swept, tmp_path):
    first = draw(swept["hysteresis"], tmp_path / "a", n_boot=20, typical=False)
    second = draw(swept["hysteresis"], tmp_path / "b", n_boot=20, typical=False)
    for a, b in zip(first, second, strict=True):
        assert a.svg.read_bytes() == b.svg.read_bytes()
        assert a.csv.read_bytes() == b.csv.read_bytes()


def test_results_without_capture_rate_cannot_be_charted(swept):
    with pytest.raises(ResultsError, match="capture_rate"):
        plan(load(swept["no_capture"]))


# --- the command ----------------------------------------------------------------------------
command = plot_command


def test_plot_command_writes_charts_and_summary(swept, tmp_path, capsys):
    assert command(["plot", str(swept["hysteresis"]), "--out", str(tmp_path),
                    "--n-boot", "20", "--no-typical-runs"]) == 0
    assert (tmp_path / "hysteresis.png").exists()
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 6
    assert "hysteresis.png" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing", "not results", "no capture", "unwritable",
                                  "screening"])
def test_plot_command_refuses_bad_input_in_one_line(swept, tmp_path, capsys, case):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    screening = tmp_path / "screening"
    screening.mkdir()
    (screening / "morris.csv").write_text("factor,outcome,mu_star\n")
    (screening / "manifest.json").write_text("{}")
    argv = {"missing": ["plot", str(tmp_path / "nowhere")],
            "not results": ["plot", str(tmp_path)],
            "no capture": ["plot", str(swept["no_capture"]), "--out", str(tmp_path / "o")],
            "unwritable": ["plot", str(swept["smoke"]), "--out", str(blocker / "sub")],
            "screening": ["plot", str(screening)]}[case]
    assert command(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kamabm plot: error: ")
    assert "Traceback" not in err


def test_boundary_of_a_capture_that_falls_along_the_factor_is_mirrored_back():
    # capture certain below x = 0.4 at level 0 (like low learning ability), never at level 1
    rows = [{"x": x, "level": level, "capture_rate": float(level == 0 and x < 0.4),
             "replication": r}
            for level in (0.0, 1.0) for x in np.linspace(0.0, 1.0, 6) for r in range(5)]
    found = boundary(pd.DataFrame(rows), "x", "level", n_boot=50)
    table, direction = found.table, found.direction
    assert direction == -1
    first = table.iloc[0]
    assert first.status == "inside" and 0.2 <= first.critical <= 0.4
    assert first.low <= first.critical <= first.high
    assert outside_levels(table, direction) == ([1.0], [])


def test_levels_are_named_briefly():
    every = [0.0, 0.5, 1.0]
    assert levels_text([0.0, 0.5], every) == "0.5 or less"
    assert levels_text([0.5, 1.0], every) == "0.5 or more"
    assert levels_text([0.0, 1.0], every) == "0, 1"
    # one level at an end is named as it is: not "1 or more" where 1 is the highest
    assert levels_text([1.0], every) == "1" and levels_text([0.0], every) == "0"


def test_report_sentences_end_with_one_full_stop():
    from kamabm.report.html import sentence

    assert sentence("Margins fall") == "Margins fall."
    assert sentence("Margins fall at the defaults.") == "Margins fall at the defaults."


# --- incomplete and degenerate sweeps -----------------------------------------------------
def test_one_factor_sweep_gets_its_outcomes_against_the_factor(swept, drawn):
    runs = load(swept["one_factor"]).runs
    chart = next(c for c in drawn["one_factor"] if c.kind == "outcome_by_factor")
    table = pd.read_csv(chart.csv)
    capture = table[table.outcome == "capture_rate"].sort_values("client_revenue_share")
    expected = runs.groupby("client_revenue_share")["capture_rate"].mean()
    assert np.allclose(capture["mean"], expected.to_numpy())
    assert {"key_account_margin", "supplier_margin"} <= set(table.outcome)


@pytest.mark.parametrize("keep", [2, 5])
def test_plot_on_an_interrupted_sweep_says_how_many_runs_are_missing_and_draws(
        swept, tmp_path, capsys, keep):
    partial = interrupt(swept["smoke"], tmp_path, keep)
    stored = len(load(partial).runs)
    assert command(["plot", str(partial), "--out", str(tmp_path / "c"), "--n-boot", "20",
                    "--no-typical-runs"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "missing" in line]
    assert notes == [f"kamabm plot: note: {48 - stored} of 48 runs are missing (an "
                     f"interrupted or running sweep?); the charts show the {stored} stored"]
    assert "Traceback" not in captured.err
    assert captured.out.count(".png") >= 1  # what can be drawn is drawn


@pytest.mark.parametrize(("name", "drawn_kinds", "why"), [
    ("one_point", set(), "the runs are all at one design point"),
    ("one_by_four", {"outcome_by_factor"}, "the runs vary only client_revenue_share"),
])
def test_a_sweep_without_a_map_says_why(swept, tmp_path, capsys, name, drawn_kinds, why):
    assert command(["plot", str(swept[name]), "--out", str(tmp_path), "--no-typical-runs",
                    "--n-boot", "20"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kamabm plot: note: no capture map")
    assert why in err
    assert {c for c in plan(load(swept[name]))} - {"typical_runs"} == drawn_kinds


def test_levers_that_cut_capture_equally_are_named_as_a_tie():
    capture = pd.DataFrame({"control_mean": 0.6, "diff": [-0.20, -0.201, -0.05],
                            "low": [-0.3, -0.3, -0.1], "high": [-0.1, -0.1, 0.01]},
                           index=["senior_support", "rotation_months", "training"])
    finding = intervention_finding(capture)
    assert ("senior managers at key negotiations and rotating KAMs between clients tie for "
            "the largest cut in capture (-20 points)") in finding
    assert "2 of 3 levers cut it significantly" in finding
    alone = intervention_finding(capture.assign(diff=[-0.30, -0.20, -0.05]))
    assert "senior managers at key negotiations cuts capture most (-30 points)" in alone
    assert "no lever cuts capture" in intervention_finding(capture.assign(diff=0.02))
