"""The results layer: one kind per folder, every table computed once, drawn as given;
the run panels draw onto a given Axes; one door into the model; no pyplot in the library;
reporting reads what the sweep kept and never runs the model."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm import stats as analysis
from kamabm.analysis import results, tables
from kamabm.experiments import store, typical
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
    monkeypatch.setattr(tables, "paired_differences",
                        lambda *a, **k: calls.append(a[1]) or paired(*a, **k))
    an = tables.analyse(results.load(swept["interventions"]), typical=False)
    once = len(calls)
    assert once == len(tables.INTERVENTION_OUTCOMES)  # one call per outcome
    write_report(an, tmp_path / "report.html")  # draws the charts and writes the tables
    make_charts(an, tmp_path / "again")
    assert len(calls) == once


def test_the_boundary_is_bootstrapped_once_and_drawn_as_computed(swept, tmp_path,
                                                                   monkeypatch):
    calls = []
    estimate = analysis.capture_boundary
    monkeypatch.setattr(tables, "capture_boundary",
                        lambda *a, **k: calls.append(1) or estimate(*a, **k))
    an = tables.analyse(results.load(swept["smoke"]), n_boot=30, typical=False)
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


#: The model's modules reporting must not import: the door, the Mesa model and the agents.
MODEL_RUNNERS = {f"kamabm.model.{m}" for m in ("run", "market", "kam", "buyer", "supplier",
                                                "account", "negotiation")}


def _imports(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _runs_the_model(module: str) -> bool:
    return module in MODEL_RUNNERS or module == "mesa" or module.startswith("mesa.")


def test_analysis_and_report_import_neither_the_model_nor_mesa(tmp_path):
    found = {p.relative_to(PACKAGE).as_posix(): sorted(filter(_runs_the_model, _imports(p)))
             for layer in ("analysis", "report") for p in (PACKAGE / layer).rglob("*.py")}
    assert len(found) > 20  # the scan sees the layers' modules
    assert {path: bad for path, bad in found.items() if bad} == {}
    # the scan catches each form of import, inside functions too
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from kamabm.model.run import run_one\n"
                     "import mesa.space\nfrom kamabm.model import market, params\n")
    assert sorted(filter(_runs_the_model, _imports(probe))) == [
        "kamabm.model.market", "kamabm.model.run", "mesa.space"]


def test_a_report_leaves_the_model_and_mesa_unloaded(swept, tmp_path):
    code = (
        "import importlib, pkgutil, sys\n"
        "from pathlib import Path\n"
        "import kamabm.analysis, kamabm.report\n"
        "for pkg in (kamabm.analysis, kamabm.report):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "from kamabm.analysis.results import load\n"
        "from kamabm.analysis.tables import analyse\n"
        "from kamabm.report.html import write_report\n"
        f"an = analyse(load(Path({str(swept['smoke'])!r})), n_boot=20)\n"
        "assert 'typical_runs' in an.charts, an.notes\n"
        f"write_report(an, Path({str(tmp_path)!r}) / 'report.html')\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] == 'mesa' "
        f"or m in {sorted(MODEL_RUNNERS)!r}]\n"
        "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "charts" / "typical_runs.png").exists()


# --- what a sweep keeps for its report ------------------------------------------------------
def test_a_sweep_keeps_its_typical_runs_as_run_with_their_seed_and_parameters(swept):
    folder = swept["smoke"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest[typical.ENTRY]
    assert entry["file"] == typical.TYPICAL_RUNS
    runs = results.load(folder).runs
    low, high = typical.pick_typical(runs)
    assert [r["key"] for r in entry["runs"]] == [low["key"], high["key"]]
    kept = typical.load_typical_runs(folder, manifest)
    assert kept is not None and kept.reproduced
    for row, table, described in zip(kept.rows, kept.tables, entry["runs"], strict=True):
        assert described["parameters"]["kam_pressure"] == row["kam_pressure"]
        params = Parameters.from_mapping(described["parameters"])
        outcome, fresh = run_with_table(params, described["seed"])
        assert outcome["capture_rate"] == described["outcomes"]["capture_rate"]
        pd.testing.assert_frame_equal(table, pd.DataFrame(fresh), check_dtype=False)


def test_a_report_draws_the_typical_runs_its_folder_keeps_not_re_runs(swept, tmp_path,
                                                                       monkeypatch):
    folder = shutil.copytree(swept["smoke"], tmp_path / "smoke")
    stored = pd.read_parquet(folder / typical.TYPICAL_RUNS)
    month3 = (stored.typical == typical.CAPTURED) & (stored.month == 3)
    stored.loc[month3, "key_price"] = 123.0  # no run of the model gives this price
    stored.to_parquet(folder / typical.TYPICAL_RUNS, index=False)

    def no_model(*args, **kwargs):
        raise AssertionError("the report ran the model")

    import kamabm.model.run

    monkeypatch.setattr(kamabm.model.run, "run_with_table", no_model)
    monkeypatch.setattr(kamabm.model.run, "run_one", no_model)
    an = tables.analyse(results.load(folder), n_boot=20)
    (chart,) = [c for c in make_charts(an, tmp_path / "charts") if c.kind == "typical_runs"]
    drawn = pd.read_csv(chart.csv)
    assert drawn.loc[(drawn.run == "captured") & (drawn.month == 3), "key_price"].item() == 123
    assert (drawn.loc[drawn.run == "not captured", "key_price"] < 100).all()


def test_a_folder_that_keeps_no_typical_runs_says_so_and_draws_none(swept, tmp_path):
    folder = shutil.copytree(swept["one_factor"], tmp_path / "old")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest[typical.ENTRY]  # as in a folder swept before sweeps kept them
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    an = tables.analyse(results.load(folder))
    assert "typical_runs" not in an.charts and an.typical is None
    assert [n for n in an.notes if n.startswith("no typical runs")] == [
        f"no typical runs: {folder} keeps none (swept before sweeps kept them, or "
        "unfinished); sweep again to draw them"]
    (folder / typical.TYPICAL_RUNS).unlink()  # listed but gone: said, not re-run
    manifest[typical.ENTRY] = json.loads((swept["one_factor"] / "manifest.json").read_text(
        encoding="utf-8"))[typical.ENTRY]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    an = tables.analyse(results.load(folder))
    assert "typical_runs" not in an.charts
    assert any(n.startswith("no typical runs:") and "unreadable" in n for n in an.notes)


@pytest.fixture(scope="module")
def headline(tmp_path_factory):
    """A small map swept by the sweep command into a folder named as the headline's."""
    from plot_fixtures import MINIATURES

    from kamabm.cli import main

    root = tmp_path_factory.mktemp("headline")
    (root / "map.toml").write_text(MINIATURES["long_map"], encoding="utf-8")
    out = root / "capture_phase"
    assert main(["sweep", str(root / "map.toml"), "--out", str(out), "--workers", "1",
                 "--quiet"]) == 0
    return out


def test_the_sweep_command_keeps_a_maps_boundary_as_a_table_of_the_folder(headline):
    manifest = json.loads((headline / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest[results.BOUNDARY_ENTRY]
    assert entry["file"] == store.BOUNDARY_TABLE
    assert (entry["along"], entry["across"]) == ("client_revenue_share", "kam_pressure")
    kept = pd.read_csv(headline / store.BOUNDARY_TABLE)
    assert sorted(kept.horizon.unique()) == [5, 6]  # five years, and the 72 months' end
    expected = tables.capture_boundaries(results.load(headline), n_boot=entry["n_boot"])
    pd.testing.assert_frame_equal(kept, expected, check_dtype=False)
    assert typical.ENTRY in manifest  # and the typical runs, by the runner


def test_an_ensemble_reads_the_headlines_boundary_table_only_from_the_same_code(headline):
    from kamabm.analysis.ensemble import headline_boundary

    manifest = json.loads((headline / "manifest.json").read_text(encoding="utf-8"))
    beside = headline.parent / "capture_ensemble"
    same = {"identity": {"code": manifest["identity"]["code"]}}
    read = headline_boundary(beside, same, "client_revenue_share", "kam_pressure")
    kept = pd.read_csv(headline / store.BOUNDARY_TABLE)
    assert read is not None and read.equals(
        kept[["horizon", "level", "critical", "low", "high", "status"]])
    assert headline_boundary(beside, {"identity": {"code": "other"}},
                             "client_revenue_share", "kam_pressure") is None
    assert headline_boundary(beside, same, "kam_pressure", "client_revenue_share") is None
