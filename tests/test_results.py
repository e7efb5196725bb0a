"""The results layer: one kind per folder, every table computed once, drawn as given;
the run panels draw onto a given Axes; one door into the model; no pyplot in the library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm import stats as analysis
from kamabm.analysis import results
from kamabm.model.params import Parameters
from kamabm.model.run import CAPTURED_BELOW, run_with_table
from kamabm.report.charts import CAPTURED, LOYAL, draw_alignment, draw_price_margin, draw_time_split
from kamabm.report.html import write_report
from kamabm.report.plots import make_charts

PACKAGE = Path(__file__).resolve().parents[1] / "kamabm"


@pytest.mark.parametrize(("name", "kind", "factors"), [
    ("smoke", results.MAP, ("client_revenue_share", "kam_pressure")),
    ("interventions", results.INTERVENTIONS, ("senior_support", "rotation_months",
                                              "training")),
    ("one_factor", results.ONE_FACTOR, ("client_revenue_share",)),
])
def test_each_folder_is_of_one_kind_decided_from_its_runs(swept, name, kind, factors):
    assert results.kind_of(results.load(swept[name]))[:2] == (kind, factors)


def test_a_sweep_cut_to_one_level_of_a_factor_is_charted_as_one_factor(swept):
    res = results.load(swept["smoke"])
    cut = res.runs[res.runs.client_revenue_share == res.runs.client_revenue_share.min()]
    kind, factors, why = results.kind_of(
        results.SweepResults(res.directory, cut, res.experiment, res.manifest, 0, 36))
    assert (kind, factors) == (results.ONE_FACTOR, ("kam_pressure",))
    assert why.startswith("no capture map") and "client_revenue_share" in why


def test_charts_and_report_compute_the_intervention_table_once(swept, tmp_path, monkeypatch):
    calls = []
    paired = analysis.paired_differences
    monkeypatch.setattr(results, "paired_differences",
                        lambda *a, **k: calls.append(a[1]) or paired(*a, **k))
    an = results.analyse(results.load(swept["interventions"]), typical=False)
    once = len(calls)
    assert once == len(results.INTERVENTION_OUTCOMES)  # one call per outcome
    write_report(an, tmp_path / "report.html")  # draws the charts and writes the tables
    make_charts(an, tmp_path / "again")
    assert len(calls) == once


def test_the_boundary_is_bootstrapped_once_and_drawn_as_computed(swept, tmp_path,
                                                                   monkeypatch):
    calls = []
    estimate = analysis.capture_boundary
    monkeypatch.setattr(results, "capture_boundary",
                        lambda *a, **k: calls.append(1) or estimate(*a, **k))
    an = results.analyse(results.load(swept["smoke"]), n_boot=30, typical=False)
    write_report(an, tmp_path / "report.html")
    assert calls == [1]
    written = pd.read_csv(tmp_path / "charts" / "boundary.csv")
    assert np.allclose(written.level, an.boundary.table.level)


# --- the run panels ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    return run_with_table(Parameters(client_revenue_share=0.8, kam_pressure=0.9,
                                     horizon_months=24), 3)


def test_alignment_panel_draws_each_kam_coloured_by_his_state_at_the_end(run):
    from matplotlib.figure import Figure

    outcome, table = run
    ax = Figure().subplots()
    draw_alignment(ax, table)
    kams = [k for k in table if k.endswith("_alignment")]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == len(table["month"])]
    assert len(lines) == len(kams)
    captured = sum(line.get_color() == CAPTURED for line in lines)
    assert captured == sum(table[k][-1] < CAPTURED_BELOW for k in kams)
    assert captured + sum(line.get_color() == LOYAL for line in lines) == len(kams)
    assert captured == round(outcome["capture_rate"] * len(kams))


def test_price_and_time_panels_plot_the_table_numbers(run):
    from matplotlib.figure import Figure

    _, table = run
    axes = Figure().subplots(2)
    twin = draw_price_margin(axes[0], table, legend=False)
    draw_time_split(axes[1], table)
    assert np.allclose(axes[0].get_lines()[0].get_ydata(), table["key_price"])
    assert np.allclose(twin.get_lines()[0].get_ydata(), 100 * table["key_account_margin"])
    assert axes[0].get_legend() is None and axes[1].get_legend() is not None
    assert np.allclose(axes[1].get_lines()[0].get_ydata(), 100 * table["operational_share"])


def test_drawing_charts_leaves_pyplot_unloaded_and_the_backend_alone(tmp_path):
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.get_backend()\n"
        "from kamabm.report.charts import plot_run\n"
        "from kamabm.model.params import Parameters\n"
        "from kamabm.model.run import run_with_table\n"
        "outcome, table = run_with_table(Parameters(horizon_months=12), 1)\n"
        f"plot_run(table, outcome, 'test', __import__('pathlib').Path({str(tmp_path)!r}) / 'r')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.get_backend() == before\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.png").stat().st_size > 10_000


# --- the layers ---------------------------------------------------------------------------
def _calls(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def test_only_run_py_builds_the_model():
    builders = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                if _calls(p, "KAMMarket")}
    assert builders <= {"model/run.py"}, builders


def test_no_library_module_uses_pyplot_or_switches_the_backend():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in node.names} | {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "matplotlib.pyplot" not in imported, path.name
        switches = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute) and node.func.attr == "use"
                    and getattr(node.func.value, "id", "") == "matplotlib"]
        assert switches == [], path.name
