"""Adaptive refinement narrows the capture boundary's band where it is wide."""

import sys

import numpy as np
import pandas as pd
import pytest

from kamabm.experiments.files import parse_experiment
from kamabm.experiments.refine import RefineError, refine_boundary
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results
from kamabm.model.params import Parameters
from kamabm.stats import capture_boundary

EXPERIMENT = """
name = "refine_test"
replications = 12
seed = 7
horizon = 12
outcomes = ["capture_rate"]

[uncertainties.client_revenue_share]
range = [0.1, 0.9]
count = 5

[levers.kam_pressure]
values = [0.0, 1.0]
"""


def true_boundary(pressure):
    return 0.62 - 0.3 * pressure


def boundary_run(params: Parameters, seed: int, *, keep_series=()) -> dict:
    """A run that is captured with a probability crossing 1/2 at ``true_boundary``."""
    rng = np.random.default_rng(seed + int(1e6 * params.client_revenue_share))
    x = (params.client_revenue_share - true_boundary(params.kam_pressure)) / 0.04
    return {"capture_rate": float(rng.random() < 1.0 / (1.0 + np.exp(-x)))}


def _widths(boundary):
    return (boundary.high - boundary.low).to_numpy()


@pytest.fixture
def swept(tmp_path):
    experiment = parse_experiment(EXPERIMENT)
    run_sweep(experiment, tmp_path, run_fn=boundary_run, workers=1, progress=False)
    return experiment, tmp_path


def test_refinement_adds_runs_inside_the_band_and_narrows_it(swept):
    experiment, out = swept
    before = capture_boundary(load_results(out), n_boot=300, seed=experiment.seed)
    summary = refine_boundary(experiment, out, target=0.05, max_rounds=3, n_boot=300,
                              run_fn=boundary_run, workers=1, progress=False)
    results = load_results(out)
    added = results[results.stage != "design"]
    assert summary.rounds >= 1 and summary.runs_added == len(added) > 0
    first = added[added.stage.str.startswith("round1-")]
    for level, group in first.groupby("kam_pressure"):
        row = before[before.level == level].iloc[0]
        assert group.client_revenue_share.between(row.low, row.high).all()
    after = summary.boundary
    assert np.nanmax(_widths(after)) < np.nanmax(_widths(before))
    for row in after.itertuples():
        assert abs(row.critical - true_boundary(row.level)) < 0.05


def test_refined_runs_are_paired_with_the_design_and_keys_stay_unique(swept):
    experiment, out = swept
    refine_boundary(experiment, out, target=0.05, max_rounds=1, n_boot=200,
                    run_fn=boundary_run, workers=1, progress=False)
    results = load_results(out)
    assert results.key.is_unique and results.run.is_unique
    design_seeds = set(results[results.stage == "design"].seed)
    assert set(results[results.stage != "design"].seed) <= design_seeds  # common numbers
    design_only = load_results(out, refinements=False)
    assert "stage" not in design_only and len(design_only) == sum(results.stage == "design")


def test_refinement_run_again_adds_nothing_and_changes_nothing(swept):
    experiment, out = swept
    options = dict(target=0.05, max_rounds=2, n_boot=200, run_fn=boundary_run, workers=1,
                   progress=False)
    refine_boundary(experiment, out, **options)
    first = load_results(out)
    again = refine_boundary(experiment, out, **options)
    pd.testing.assert_frame_equal(load_results(out), first)
    assert again.runs_added == sum(first.stage != "design")  # all found on disk


def test_refinement_needs_a_share_by_pressure_grid(tmp_path):
    experiment = parse_experiment(EXPERIMENT.replace("kam_pressure", "buyer_detachment"))
    with pytest.raises(RefineError, match="client_revenue_share and kam_pressure"):
        refine_boundary(experiment, tmp_path)


def test_refine_options_are_checked_on_the_command_line(tmp_path):
    import subprocess

    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT)
    proc = subprocess.run([sys.executable, "-m", "kamabm", "sweep", str(path), "--refine",
                           "--refine-width", "0", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--refine-width" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(EXPERIMENT.replace("kam_pressure", "buyer_detachment"))
    proc = subprocess.run([sys.executable, "-m", "kamabm", "sweep", str(wrong), "--refine",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--refine needs a grid" in proc.stderr
    assert not (tmp_path / "out").exists()
