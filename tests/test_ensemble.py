"""Structural uncertainty: the [ensemble] section, its draws, its sweep and its band.

An ensemble runs an experiment's design for constant sets drawn from a calibration's
posterior. These tests check the section is validated like the rest of an experiment
file, the draws are reproducible and weighted as documented, an ensemble sweep resumes
and does not depend on the number of workers, the band estimator recovers a known
spread of boundaries, and docs/findings.md quotes the committed ensemble tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm.analysis.ensemble import (
    ensemble_band,
    ensemble_margins,
    margin_ranges,
)
from kamabm.experiments.design import ExperimentError
from kamabm.experiments.files import load_experiment, parse_experiment
from kamabm.experiments.store import StoreError
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results
from kamabm.model.params import Parameters

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "capture_ensemble"
OUTCOMES = ("capture_rate", "capture_rate_5y", "key_account_margin", "supplier_margin")


def theta_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """A stand-in for the model whose boundary moves with the drawn constant theta."""
    rng = np.random.default_rng(seed)
    edge = params.theta / 10.0 - 0.2 * params.kam_pressure
    captured = float(params.client_revenue_share + 0.05 * rng.normal() > edge)
    return {"capture_rate": captured, "capture_rate_5y": captured * 0.5,
            "key_account_margin": 0.13 - 0.1 * captured - 0.02 * params.w_keep,
            "supplier_margin": 0.05 - 0.05 * params.client_revenue_share - 0.03 * captured}


def posterior(tmp_path: Path, weights: Sequence[float] = (0.5, 0.3, 0.2, 0.0),
              name: str = "posterior.csv") -> Path:
    rows = [{"generation": 3, "theta": 3.0 + i, "opening_cut": 1.5 + 0.1 * i,
             "w_keep": 0.5 * i, "weight": w, "distance": 1.0}
            for i, w in enumerate(weights)]
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def experiment_text(post: Path | str, *, draws: int = 3, extra: str = "",
                    horizon: int = 12) -> str:
    return f"""
name = "tiny_ensemble"
replications = 2
seed = 7
horizon = {horizon}

[uncertainties.client_revenue_share]
values = [0.2, 0.5, 0.8]

[levers.kam_pressure]
values = [0.0, 1.0]

[ensemble]
posterior = "{post}"
draws = {draws}
{extra}
"""


def write_experiment(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiments" / "tiny.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- the section is validated ----------------------------------------------------------
@pytest.mark.parametrize("posterior_path, extra, key, words", [
    ("missing.csv", "", "ensemble.posterior", "no such file"),
    ("POST", "columns = ['weight']", "ensemble.columns[0]", "is not a parameter"),
    ("POST", "columns = ['theta', 'kam_pressure']", "ensemble.columns[1]", "no column"),
    ("POST", "sample = 'best'", "ensemble.sample", "expected 'weighted' or 'top'"),
    ("POST", "colums = ['theta']", "ensemble.colums", "unknown key"),
    ("POST", "defaults = 1", "ensemble.defaults", "true or false"),
])
def test_a_bad_ensemble_section_is_refused_naming_the_key(tmp_path, posterior_path, extra,
                                                           key, words):
    post = posterior(tmp_path) if posterior_path == "POST" else posterior_path
    path = write_experiment(tmp_path, experiment_text(post, extra=extra))
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert "\n" not in message
    assert key in message and words in message
    assert str(path) in message


@pytest.mark.parametrize("draws", [0, -3, 1001])
def test_draws_out_of_range_are_refused_with_the_allowed_range(tmp_path, draws):
    path = write_experiment(tmp_path, experiment_text(posterior(tmp_path), draws=draws))
    with pytest.raises(ExperimentError, match=r"ensemble\.draws: .*(>= 1|\[1, 1000\])"):
        load_experiment(path)


def test_top_draws_cannot_exceed_the_particles(tmp_path):
    text = experiment_text(posterior(tmp_path), draws=5, extra="sample = 'top'")
    with pytest.raises(ExperimentError, match=r"ensemble\.draws: .*\[1, 4\]"):
        load_experiment(write_experiment(tmp_path, text))


def test_a_drawn_constant_cannot_also_be_varied_or_fixed(tmp_path):
    post = posterior(tmp_path)
    varied = experiment_text(post) + "\n[uncertainties.theta]\nvalues = [3.0, 4.0]\n"
    with pytest.raises(ExperimentError, match=r"ensemble\.columns\[0\]: theta is also varied"):
        parse_experiment(varied)
    fixed = experiment_text(post).replace("[uncertainties.", "[base]\nw_keep = 1.0\n\n"
                                          "[uncertainties.", 1)
    with pytest.raises(ExperimentError, match=r"ensemble\.columns\[2\]: w_keep is also fixed"):
        parse_experiment(fixed)


def test_a_particle_out_of_its_parameters_range_is_refused(tmp_path):
    path = posterior(tmp_path)
    table = pd.read_csv(path)
    table.loc[2, "theta"] = 42.0
    table.to_csv(path, index=False)
    with pytest.raises(ExperimentError, match=r"ensemble\.posterior: .*row 3.*theta"):
        load_experiment(write_experiment(tmp_path, experiment_text(path)))


def test_the_posterior_is_found_relative_to_the_file_or_the_folders_above(tmp_path):
    posterior(tmp_path)  # beside experiments/, as results/ is beside it in the repository
    experiment = load_experiment(write_experiment(tmp_path, experiment_text("posterior.csv")))
    assert experiment.ensemble is not None
    assert experiment.ensemble.source == (tmp_path / "posterior.csv").resolve()
    assert experiment.ensemble.columns == ("theta", "opening_cut", "w_keep")


def test_the_committed_ensemble_experiment_is_valid():
    experiment = load_experiment(ROOT / "experiments" / "capture_ensemble.toml")
    assert experiment.ensemble is not None and experiment.ensemble.draws == 50
    # every column of the posterior that is a parameter, in the file's order
    header = pd.read_csv(ROOT / "results" / "calibration" / "posterior.csv", nrows=0).columns
    assert experiment.ensemble.columns == tuple(c for c in header
                                                if c in Parameters.names())
    assert "theta" in experiment.ensemble.columns
    assert experiment.base.horizon_months == 240
    assert not experiment.warnings


# --- draws ----------------------------------------------------------------------------
def test_draws_are_reproducible_and_weighted(tmp_path):
    weights = (0.5, 0.3, 0.2, 0.0)
    text = experiment_text(posterior(tmp_path, weights), draws=1000)
    first, again = parse_experiment(text), parse_experiment(text)
    chosen = first.ensemble.chosen(first.seed)
    assert chosen == again.ensemble.chosen(again.seed)
    assert chosen != first.ensemble.chosen(first.seed + 1)
    share = np.bincount(chosen, minlength=4) / len(chosen)
    # 1,000 draws: each share within 4.5 standard errors of its weight; never a zero weight
    assert np.allclose(share, weights, atol=0.07)
    assert share[3] == 0
    # draw 0 runs the base constants; draws 1.. the chosen particles' constants
    draws = first.draws
    assert draws[0].draw == 0 and draws[0].particle is None
    assert draws[0].constants == {"theta": Parameters.default("theta"),
                                  "opening_cut": Parameters.default("opening_cut"),
                                  "w_keep": Parameters.default("w_keep")}
    assert [d.particle for d in draws[1:]] == chosen
    assert draws[1].constants["theta"] == 3.0 + chosen[0]


def test_top_draws_take_the_largest_weights_in_file_order(tmp_path):
    text = experiment_text(posterior(tmp_path, (0.2, 0.4, 0.2, 0.2)), draws=3,
                           extra="sample = 'top'\ndefaults = false")
    experiment = parse_experiment(text)
    assert experiment.ensemble.chosen(experiment.seed) == [1, 0, 2]
    assert [d.draw for d in experiment.draws] == [1, 2, 3]


def test_runs_cross_points_draws_and_replications_on_common_random_numbers(tmp_path):
    experiment = parse_experiment(experiment_text(posterior(tmp_path), draws=3))
    runs = list(experiment.runs())
    assert experiment.n_runs == len(runs) == 6 * 4 * 2
    assert [r.run for r in runs] == list(range(len(runs)))
    assert runs[0].key == "p0-d0-r0" and runs[3].key == "p0-d1-r1"
    assert len({r.key for r in runs}) == len(runs)
    # same replication, same seed: at every point and in every draw
    for r in (0, 1):
        assert len({s.seed for s in runs if s.replication == r}) == 1
    theta = {s.draw: s.values["theta"] for s in runs}
    assert theta == {d.draw: d.constants["theta"] for d in experiment.draws}


def test_the_posterior_and_draws_are_part_of_the_experiments_identity(tmp_path):
    a = parse_experiment(experiment_text(posterior(tmp_path)))
    b = parse_experiment(experiment_text(posterior(tmp_path, (0.4, 0.4, 0.2, 0.0),
                                                   name="other.csv")))
    c = parse_experiment(experiment_text(posterior(tmp_path), draws=4))
    assert len({a.digest, b.digest, c.digest}) == 3
    plain = parse_experiment(experiment_text(posterior(tmp_path)).split("[ensemble]")[0])
    assert plain.ensemble is None and plain.n_runs == 12


# --- the sweep ------------------------------------------------------------------------
def _sweep(experiment, out: Path, workers: int) -> pd.DataFrame:
    run_sweep(experiment, out, run_fn=theta_run, outcomes=OUTCOMES, workers=workers,
              progress=False, chunk_size=7, notify=lambda _: None)
    return load_results(out)


def test_an_ensemble_sweep_resumes_and_does_not_depend_on_the_workers(tmp_path):
    text = experiment_text(posterior(tmp_path), draws=3)
    experiment = parse_experiment(text)
    one = _sweep(experiment, tmp_path / "one", 1)
    two = _sweep(experiment, tmp_path / "two", 2)
    pd.testing.assert_frame_equal(one, two)
    assert len(one) == experiment.n_runs
    assert list(one.columns[:6]) == ["run", "key", "point", "replication", "seed", "draw"]
    by_draw = one.groupby("draw").theta.unique()
    assert {d: v[0] for d, v in by_draw.items()} == {
        d.draw: d.constants["theta"] for d in experiment.draws}
    # a stored part lost: the sweep computes its runs again and ends with the same data
    parts = sorted((tmp_path / "one" / "parts").glob("runs-*.parquet"))
    parts[2].unlink()
    (tmp_path / "one" / "runs.parquet").unlink()
    resumed = _sweep(experiment, tmp_path / "one", 1)
    pd.testing.assert_frame_equal(one, resumed)
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    described = manifest["experiment"]["ensemble"]
    assert described["sha256"] == experiment.ensemble.digest
    assert [row["draw"] for row in described["table"]] == [0, 1, 2, 3]
    # another posterior is another experiment: no resume into the same folder
    other = parse_experiment(experiment_text(posterior(tmp_path, (0.1, 0.1, 0.8, 0.0),
                                                       name="refit.csv"), draws=3))
    with pytest.raises(StoreError):
        _sweep(other, tmp_path / "one", 1)


def test_the_results_layer_rebuilds_the_ensemble_from_the_manifest(tmp_path):
    from kamabm.analysis import results, tables
    post = posterior(tmp_path)
    experiment = parse_experiment(experiment_text(post, draws=3, horizon=72))
    _sweep(experiment, tmp_path / "out", 1)
    post.unlink()  # the folder carries the posterior it was swept with
    res = results.load(tmp_path / "out")
    assert res.experiment.digest == experiment.digest
    an = tables.analyse(res, n_boot=50, typical=False)
    assert an.kind == results.ENSEMBLE
    assert an.charts == ("ensemble_phase", "ensemble_margins")
    found = an.ensemble
    assert found is not None and found.n_draws == 3
    assert set(found.band.horizon) == {5, 6}
    assert set(found.boundaries.draw) == {0, 1, 2, 3}


# --- the band estimator ----------------------------------------------------------------
def synthetic_runs(boundaries: Sequence[float], *, reps: int = 4, noise: float = 0.0,
                   seed: int = 1) -> pd.DataFrame:
    """Runs of draws whose capture steps from 0 to 1 at a known share."""
    rng = np.random.default_rng(seed)
    shares = np.round(np.arange(0.05, 1.0001, 0.025), 6)
    rows = []
    for d, edge in enumerate(boundaries, start=1):
        for pressure in (0.2, 0.8):
            for share in shares:
                for _ in range(reps):
                    captured = float(share + noise * rng.normal() > edge)
                    rows.append({"draw": d, "client_revenue_share": share,
                                 "kam_pressure": pressure, "capture_rate": captured,
                                 "key_account_margin": 0.1 - 0.08 * captured,
                                 "supplier_margin": 0.05 - 0.04 * captured})
    return pd.DataFrame(rows)


def test_the_band_recovers_a_known_spread_of_boundaries():
    truth = np.linspace(0.3, 0.7, 41)
    per_draw, band = ensemble_band(synthetic_runs(truth), n_boot=50)
    q_low, q_high = np.quantile(truth, [0.025, 0.975])
    for row in band.itertuples():
        # within one grid step (0.025) of the true 2.5 and 97.5 % quantiles
        assert abs(row.low - q_low) <= 0.026 and abs(row.high - q_high) <= 0.026
        assert abs(row.median - np.median(truth)) <= 0.026
        assert row.inside == 1.0 and row.draws == 41
    per = per_draw[per_draw.level == 0.2].sort_values("draw").critical.to_numpy()
    assert np.abs(per - truth).max() <= 0.026


def test_the_band_adds_seed_uncertainty_and_counts_boundaries_beyond_the_range():
    truth = [0.5] * 10 + [2.0] * 2  # two draws never reach 50 % capture
    per_draw, band = ensemble_band(synthetic_runs(truth, noise=0.08, reps=3), n_boot=100)
    row = band.iloc[0]
    structural = row.structural_high - row.structural_low
    assert row.low < 0.5 < row.high
    assert row.high - row.low >= structural or row.high == np.inf
    assert row.never == pytest.approx(2 / 12)
    assert row.high == np.inf  # 1 in 6 draws beyond the range: the band's end too


def test_draw_zero_is_reported_but_left_out_of_the_band():
    runs = synthetic_runs([0.4, 0.6, 0.5])
    runs.loc[runs.draw == 3, "draw"] = 0
    per_draw, band = ensemble_band(runs, n_boot=20, reference=0)
    assert set(per_draw.draw) == {0, 1, 2}
    assert (band.draws == 2).all()
    margins = ensemble_margins(runs.assign(capture_rate_5y=runs.capture_rate))
    ranges = margin_ranges(margins).set_index("measure")
    # draw 0's boundary (0.5) lies between the low-risk and high-risk shares
    assert ranges.loc["key_account_margin_contrast", "default"] == pytest.approx(-0.08)
    assert ranges.loc["key_account_margin_contrast", "draws"] == 2
    # every share holds one kind of run only: no gap at equal share to measure
    assert ranges.loc["key_account_margin_gap", "draws"] == 0


# --- the numbers docs/findings.md quotes -----------------------------------------------
def _percent(text: str) -> float:
    return float(text) / 100.0


@pytest.mark.skipif(not (COMMITTED / "charts" / "ensemble_band.csv").exists(),
                    reason="no committed ensemble results")
def test_findings_quote_the_committed_ensemble_band():
    findings = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    section = findings.split("## Over the calibrated ensemble", 1)[1].split("\n## ", 1)[0]
    band = pd.read_csv(COMMITTED / "charts" / "ensemble_band.csv")
    # "pressure 0.8, year 20: share 45 % to 80 % (defaults 36 %)"
    quoted = re.findall(r"pressure (\d(?:\.\d+)?), year (\d+): share (\d+|beyond) "
                        r"(?:%\s)?(?:to (\d+ %|beyond the range)\s)?\(defaults (\d+) %\)",
                        section)
    assert len(quoted) >= 4
    for level, years, low, high, default in quoted:
        row = band[(np.isclose(band.level, float(level))) & (band.horizon == int(years))]
        assert len(row) == 1
        row = row.iloc[0]
        assert round(100 * row.low) == int(low)
        if high.startswith("beyond"):
            assert row.high == np.inf
        else:
            assert round(100 * row.high) == int(high.split()[0])
        assert round(100 * row.default) == int(default)


@pytest.mark.skipif(not (COMMITTED / "charts" / "ensemble_ranges.csv").exists(),
                    reason="no committed ensemble results")
def test_findings_quote_the_committed_margin_ranges():
    findings = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    section = findings.split("## Over the calibrated ensemble", 1)[1].split("\n## ", 1)[0]
    ranges = pd.read_csv(COMMITTED / "charts" / "ensemble_ranges.csv").set_index("measure")
    # "`supplier_margin_contrast`: -9.1 to -5.0 points (defaults -7.8)"
    quoted = re.findall(r"`(\w+)`: (-?\d+\.\d) to (-?\d+\.\d) points \(defaults (-?\d+\.\d)\)",
                        section.replace("\u2212", "-"))
    assert len(quoted) >= 3
    for measure, low, high, default in quoted:
        row = ranges.loc[measure]
        assert f"{100 * row['low']:.1f}" == low
        assert f"{100 * row['high']:.1f}" == high
        assert f"{100 * row['default']:.1f}" == default


def test_refinement_refuses_an_ensemble(tmp_path):
    from kamabm.experiments.refine import RefineError, check_refinable

    experiment = load_experiment(write_experiment(tmp_path, experiment_text(posterior(tmp_path))))
    with pytest.raises(RefineError, match="does not refine an ensemble"):
        check_refinable(experiment)
