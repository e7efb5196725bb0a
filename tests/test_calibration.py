"""Calibration: measures, the targets file, ABC-SMC on a toy with a known answer, the CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm.experiments.calibration import (
    CalibrationError,
    difference,
    load_calibration,
    mean,
    parse_calibration,
    relative_change,
)
from kamabm.experiments.calibration_fit import (
    TargetDistance,
    constants_table,
    summary_statistics,
)
from kamabm.model.params import LEVER, RUN, Parameters
from kamabm.stats import weighted_quantiles

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "experiments" / "calibration.toml"

TOY = """
name = "toy"
seed = 3
[abc]
population = 60
generations = 4
min_epsilon = 0.05
max_simulations = 5000
[fit.kam_pressure]
range = [0.0, 1.0]
[targets.y]
source = "a simulator whose answer is known"
value = 0.3
tolerance = 0.1
measure = "mean"
outcome = "y"
"""


def toy_simulator(parameter) -> dict[str, float]:
    """y = kam_pressure + small noise: the posterior of kam_pressure centres on y's value."""
    return {"y": float(parameter["kam_pressure"]) + 0.02 * np.random.normal()}


def toy(text: str = TOY):
    return parse_calibration(text, where="cal.toml", known_outcomes=["y", "capture_rate"])


def test_measures_give_known_answers() -> None:
    assert mean(np.array([1.0, 3.0])) == 2.0
    assert relative_change(np.array([0.9, 0.9]), np.array([1.0, 1.0])) == pytest.approx(-0.1)
    assert difference(np.array([2.0]), np.array([0.5])) == 1.5
    assert np.isnan(relative_change(np.array([1.0]), np.array([0.0])))


def test_the_predictive_interval_of_equal_weights_is_the_order_statistics() -> None:
    values = np.arange(1.0, 101.0)
    low, high = weighted_quantiles(values, np.ones(100), [0.05, 0.95])
    assert (low, high) == (5.0, 95.0)


def test_summary_statistics_read_each_setting_on_the_same_seeds() -> None:
    seen: list[tuple[float, int]] = []

    def fake_run(params: Parameters, seed: int) -> dict[str, float]:
        seen.append((params.client_revenue_share, seed))
        return {"capture_rate": 2.0 * params.client_revenue_share + params.kam_pressure}

    text = TOY.replace('outcome = "y"', 'outcome = "capture_rate"').replace(
        'measure = "mean"', 'measure = "relative_change"') + (
        "at = { client_revenue_share = 0.3 }\nagainst = { client_revenue_share = 0.1 }\n")
    calibration = toy(text.replace("seed = 3", "seed = 3\nreplications = 3"))
    stats = summary_statistics(calibration, {"kam_pressure": 0.0}, run_fn=fake_run)
    assert stats["y"] == pytest.approx(0.6 / 0.2 - 1.0)
    seeds = {share: sorted(s for v, s in seen if v == share) for share in (0.3, 0.1)}
    assert seeds[0.3] == seeds[0.1] and len(set(seeds[0.3])) == 3
    first = list(seen)
    seen.clear()
    summary_statistics(calibration, {"kam_pressure": 0.0}, run_fn=fake_run)
    assert seen == first  # a particle's runs depend only on its values and the master seed


def test_a_particle_gives_the_same_statistics_on_both_engines(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit
    from kamabm.model.params import ParameterError

    calibration = load_calibration(FILE).quick_version()
    values = {p.name: (p.low + p.high) / 2 for p in calibration.priors}
    found = {engine: summary_statistics(calibration, values, engine=engine)
             for engine in ("compiled", "mesa")}
    assert found["compiled"] == found["mesa"]
    assert all(np.isfinite(v) for v in found["mesa"].values())
    with pytest.raises(ParameterError, match="compiled, mesa"):
        fit(calibration, tmp_path / "out", engine="numba")
    assert not (tmp_path / "out").exists()


def test_the_calibration_file_is_valid_and_every_target_has_a_source() -> None:
    calibration = load_calibration(FILE)
    text = FILE.read_text()
    for target in calibration.targets:
        assert target.source and target.tolerance > 0
    assert "Revere" in text and "Patatoukas" in text and "Wieseke" in text and "Larkin" in text
    for prior in calibration.priors:  # behavioural constants, never a lever or a setting
        assert Parameters.spec(prior.name).group not in (LEVER, RUN), prior.name
    # at the headline's structure and horizon, with a fitted target on what KAMs do
    headline = Parameters()
    for name in ("n_suppliers", "n_key_buyers"):
        assert getattr(calibration.base, name) == getattr(headline, name), name
    phase = tomllib.loads((ROOT / "experiments" / "capture_phase.toml").read_text())
    assert calibration.base.horizon_months == phase["horizon"]
    fitted = {t.outcome for t in calibration.targets if t.fitted}
    assert "operational_share" in fitted and "capture_rate" in fitted


def test_a_one_sided_target_adds_distance_only_beyond_its_bound() -> None:
    at_most = toy(TOY.replace('measure = "mean"', 'measure = "mean"\nbound = "at_most"'))
    target = at_most.targets[0]
    assert target.gap(0.0) == 0.0 and target.gap(0.3) == 0.0
    assert target.gap(0.45) == pytest.approx(1.5)
    assert target.matched(0.39) and not target.matched(0.41)
    at_least = toy(TOY.replace('measure = "mean"', 'measure = "mean"\nbound = "at_least"'))
    assert at_least.targets[0].gap(0.9) == 0.0
    assert at_least.targets[0].gap(0.1) == pytest.approx(-2.0)
    equal = toy().targets[0]
    assert equal.gap(0.1) == pytest.approx(-2.0) and equal.gap(0.5) == pytest.approx(2.0)
    assert np.isnan(equal.gap(float("nan")))


def test_the_distance_leaves_held_out_targets_out_and_rejects_undefined_statistics() -> None:
    text = TOY + ('[targets.z]\nsource = "s"\nvalue = 5\ntolerance = 1\nmeasure = "mean"'
                  '\noutcome = "capture_rate"\nfitted = false\n')
    calibration = toy(text)
    held_out = [t.name for t in calibration.targets if not t.fitted]
    assert held_out == ["z"]
    distance = TargetDistance(tuple(t for t in calibration.targets if t.fitted))
    assert distance({"y": 0.5, "z": 100.0}, {}) == pytest.approx(2.0)  # z's miss is ignored
    assert distance({"y": float("nan"), "z": 5.0}, {}) == float("inf")
    with pytest.raises(CalibrationError, match="targets: every target is held out"):
        toy(TOY.replace('measure = "mean"', 'measure = "mean"\nfitted = false'))


def test_a_log_prior_spreads_evenly_in_the_logarithm_and_needs_a_positive_range() -> None:
    calibration = toy(TOY.replace("range = [0.0, 1.0]", 'range = [0.01, 1.0]\nscale = "log"'))
    prior = calibration.priors[0]
    assert prior.quantile(0.5) == pytest.approx(0.1)
    assert prior.quantile(0.25) == pytest.approx(10 ** -1.5)
    with pytest.raises(CalibrationError, match="fit.kam_pressure.range: a log-uniform prior "
                                               "needs low > 0"):
        toy(TOY.replace("range = [0.0, 1.0]", 'range = [0.0, 1.0]\nscale = "log"'))


def test_the_constants_table_says_which_constants_the_data_pin() -> None:
    calibration = toy()
    rng = np.random.default_rng(0)
    narrow = pd.DataFrame({"kam_pressure": rng.normal(0.3, 0.02, 400), "weight": 1.0})
    row = constants_table(narrow, calibration).iloc[0]
    assert row.posterior_median == pytest.approx(0.3, abs=0.01)
    assert row.pinned and row.narrowing < 0.1
    assert row.default_in_central_half == (row.posterior_q25 <= row.default
                                           <= row.posterior_q75)
    flat = pd.DataFrame({"kam_pressure": rng.uniform(0, 1, 4000), "weight": 1.0})
    row = constants_table(flat, calibration).iloc[0]
    assert not row.pinned and row.narrowing == pytest.approx(1.0, abs=0.1)


def test_targets_whose_outcome_the_model_lacks_are_left_out_unless_required() -> None:
    extra = TOY + ('[targets.later]\nsource = "s"\nvalue = 1\ntolerance = 1\nmeasure = "mean"'
                   '\noutcome = "not_yet"\nrequired = false\n')
    calibration = toy(extra)
    assert calibration.skipped == ("later",)
    assert [t.name for t in calibration.targets] == ["y"]
    with pytest.raises(CalibrationError, match="targets.later.outcome: not_yet not reported"):
        toy(extra.replace("required = false", "required = true"))


def test_the_first_reported_outcome_of_a_list_is_measured() -> None:
    calibration = toy(TOY.replace('outcome = "y"', 'outcome = ["gross", "capture_rate", "y"]'))
    assert calibration.targets[0].outcome == "capture_rate"


@pytest.mark.parametrize(("change", "key"), [
    ((None, "colour = 1\n"), "colour: unknown key"),
    (('source = "a simulator whose answer is known"\n', ""),
     "targets.y.source: missing, expected the publication"),
    (("tolerance = 0.1", "tolerance = 0"), "targets.y.tolerance: expected a number > 0"),
    (("value = 0.3", 'value = "a lot"'), "targets.y.value: expected a number"),
    (('measure = "mean"', 'measure = "median"'),
     "targets.y.measure: expected 'mean', 'relative_change' or 'difference', got 'median'"),
    (('outcome = "y"', 'outcome = "y"\nagainst = { kam_pressure = 0.5 }'),
     "targets.y.against: not used by measure 'mean'"),
    (('measure = "mean"', 'measure = "difference"'), "targets.y.against: expected a table"),
    (('outcome = "y"', 'outcome = "y"\nat = { n_suppliers = 0 }'), "targets.y.at.n_suppliers"),
    (('outcome = "y"', 'outcome = "y"\nat = { kam_pressure = 0.5 }'),
     "targets.y.at.kam_pressure: is being fitted"),
    (("[fit.kam_pressure]", "[fit.n_suppliers]"), "fit.n_suppliers: a whole-number"),
    (("[fit.kam_pressure]", "[fit.kam_presure]"), "fit.kam_presure: kam_presure: unknown"),
    (("range = [0.0, 1.0]", "range = [0.0, 2.0]"), "fit.kam_pressure.range[1]: kam_pressure"),
    (("range = [0.0, 1.0]", "range = [0.5, 0.5]"), "fit.kam_pressure.range: expected low"),
    (("population = 60", "population = 1"), "abc.population: expected a whole number >= 2"),
    (("population = 60", "populaton = 60"), "abc.populaton: unknown key"),
    (('name = "toy"', 'name = "t/y"'), "name: expected letters"),
])
def test_a_bad_calibration_file_is_refused_in_one_line_naming_the_field(change, key) -> None:
    old, new = change
    text = new + TOY if old is None else TOY.replace(old, new)
    assert text != TOY
    with pytest.raises(CalibrationError) as caught:
        toy(text)
    message = str(caught.value)
    assert message.startswith("cal.toml: ") and key in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("edit", "message"), [
    (("[abc]", "[abc]\npopulaton = 50"),
     "abc.populaton: unknown key (did you mean population?), expected one of: "
     "epsilon_quantile, generations, "
     "max_simulations, min_acceptance_rate, min_epsilon, min_epsilon_drop, population"),
    (("[fit.theta]", "[fit.theta]\nsource = 'x'\nprior = 'uniform'"),
     "fit.theta.prior: unknown key, expected one of: range, scale, source"),
    (("min_acceptance_rate = 0.02", "min_acceptance_rate = 1.0"),
     "abc.min_acceptance_rate: expected a number in [0, 1), got 1.0"),
    (("replications = 16", "replications = 0"),
     "replications: expected a whole number >= 1, got 0"),
    (("tolerance = 0.025", "tolerance = -0.025"),
     "targets.margin_drop_over_20.tolerance: expected a number > 0, got -0.025"),
    (('bound = "at_least"', 'bound = "above"'),
     "targets.capture_common.bound: expected equal, at_most or at_least, got 'above'"),
])
def test_calibrate_exits_2_on_a_bad_file_naming_the_key_and_what_is_allowed(
        tmp_path, capsys, edit, message) -> None:
    from kamabm.cli import main

    old, new = edit
    text = FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "cal.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}\n" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


pyabc = pytest.importorskip("pyabc", reason="the calibrate extra is not installed")


def test_abc_smc_recovers_the_known_parameter_of_a_toy_simulator(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit

    summary = fit(toy(), tmp_path, workers=1, simulator=toy_simulator)
    posterior = summary.posterior
    centre = float((posterior["kam_pressure"] * posterior["weight"]).sum())
    spread = float(np.sqrt((posterior["weight"] * (posterior["kam_pressure"] - centre) ** 2)
                           .sum()))
    assert centre == pytest.approx(0.3, abs=0.02)  # 10 master seeds: within 0.003
    assert spread < 0.1 < 1 / np.sqrt(12)  # far narrower than the uniform prior
    assert len(posterior) == 60 and posterior["weight"].sum() == pytest.approx(1.0)
    assert summary.targets.loc[0, "matched"]


class Interrupted(Exception):
    """Stands for a kill in the middle of a generation."""


#: Simulations left before :class:`FailsAfter` raises; a module global, because the
#: sampler simulates every particle with a fresh copy of the simulator.
_CALLS_LEFT = [0]


class FailsAfter:
    def __init__(self, calls: int) -> None:
        _CALLS_LEFT[0] = calls

    def __call__(self, parameter) -> dict[str, float]:
        _CALLS_LEFT[0] -= 1
        if _CALLS_LEFT[0] < 0:
            raise Interrupted
        return toy_simulator(parameter)


def test_a_stopped_fit_resumes_from_its_last_finished_generation(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit

    calibration = toy(TOY.replace("population = 60", "population = 20"))
    with pytest.raises(Interrupted):
        fit(calibration, tmp_path, workers=1, simulator=FailsAfter(150))
    summary = fit(calibration, tmp_path, workers=1, simulator=toy_simulator)
    assert summary.resumed_from >= 1
    assert summary.generations == 4
    assert pd.read_csv(tmp_path / "populations.csv")["t"].tolist() == [0, 1, 2, 3]
    # and it ends where a fit never stopped ends
    never = fit(calibration, tmp_path / "never", workers=1, simulator=toy_simulator)
    pd.testing.assert_frame_equal(summary.posterior, never.posterior)


def test_the_posterior_does_not_depend_on_the_number_of_workers(tmp_path, monkeypatch) -> None:
    # Each particle is seeded by its place in its generation and a generation takes the
    # first particles of that sequence it accepts, so two spawned workers (finishing in
    # any order) give exactly what one process gives; the manifest says so. No process
    # is forked (fork() in a process with threads may deadlock; Python 3.12 warns).
    import os

    from kamabm.experiments.calibration_fit import fit

    def no_fork() -> int:
        raise AssertionError("the calibration forked")

    monkeypatch.setattr(os, "fork", no_fork)

    calibration = toy(TOY.replace("population = 60", "population = 20").replace(
        "generations = 4", "generations = 3"))
    one = fit(calibration, tmp_path / "one", workers=1, simulator=toy_simulator)
    two = fit(calibration, tmp_path / "two", workers=2, simulator=toy_simulator)
    pd.testing.assert_frame_equal(one.posterior, two.posterior)
    pd.testing.assert_frame_equal(one.targets, two.targets)
    assert one.simulations == two.simulations
    populations = [pd.read_csv(tmp_path / name / "populations.csv").drop(
        columns=["population_end_time", "wall_time"]) for name in ("one", "two")]
    pd.testing.assert_frame_equal(*populations)
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert "whatever the number of workers" in manifest["reproducible"]
    again = fit(calibration, tmp_path / "again", workers=1, simulator=toy_simulator)
    pd.testing.assert_frame_equal(one.posterior, again.posterior)


def test_a_folder_of_another_calibration_is_refused(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit

    small = TOY.replace("generations = 4", "generations = 1").replace("population = 60",
                                                                      "population = 10")
    fit(toy(small), tmp_path, workers=1, simulator=toy_simulator)
    with pytest.raises(CalibrationError, match="another calibration"):
        fit(toy(small.replace("value = 0.3", "value = 0.4")), tmp_path, workers=1,
            simulator=toy_simulator)


def test_calibrate_quick_runs_the_real_model_to_a_posterior(tmp_path) -> None:
    from kamabm.cli import main

    out = tmp_path / "cal"
    assert main(["calibrate", str(FILE), "--quick", "--out", str(out), "--workers", "2"]) == 0
    posterior = pd.read_csv(out / "posterior.csv")
    calibration = load_calibration(FILE)
    assert len(posterior) == calibration.quick_version().abc.population
    for prior in calibration.priors:
        assert posterior[prior.name].between(prior.low, prior.high).all()
    targets = pd.read_csv(out / "targets.csv")
    assert targets["target"].tolist() == [t.name for t in calibration.targets]
    assert np.isfinite(targets["posterior_mean"]).all()
    for name in ("targets", "posterior"):
        assert (out / "charts" / f"{name}.png").stat().st_size > 20_000
    assert main(["calibrate", str(FILE), "--quick", "--out", str(out), "--workers", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_from_generation"] == manifest["generations"] == 2  # nothing new


def test_a_fit_stops_when_a_generation_gets_less_than_the_set_share_closer() -> None:
    from kamabm.experiments.calibration import AbcSettings
    from kamabm.experiments.calibration_fit import _stop_reason

    settings = AbcSettings(generations=8, min_epsilon=1.0, min_epsilon_drop=0.05)
    frame = pd.DataFrame({"t": [0, 1, 2], "epsilon": [4.0, 2.0, 1.95],
                          "samples": [200, 300, 400], "particles": [100, 100, 100]})
    assert "stalled" in _stop_reason(settings, frame, 900)
    assert _stop_reason(settings, frame.iloc[:2], 500) == ""
    assert "epsilon 0.9" in _stop_reason(settings, frame.assign(epsilon=[4, 2, 0.9]), 900)


def test_a_finished_fit_is_extended_by_raising_its_generations(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit

    short = toy(TOY.replace("generations = 4", "generations = 2"))
    assert fit(short, tmp_path, workers=1, simulator=toy_simulator).generations == 2
    longer = fit(toy(), tmp_path, workers=1, simulator=toy_simulator)
    assert (longer.resumed_from, longer.generations) == (2, 4)


def test_a_fit_samples_on_a_dask_cluster(tmp_path) -> None:
    from kamabm.experiments.calibration_fit import fit

    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        summary = fit(toy(TOY.replace("generations = 4", "generations = 2")), tmp_path,
                      scheduler=cluster.scheduler_address, simulator=toy_simulator)
    assert summary.generations == 2 and len(summary.posterior) == 60
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["scheduler"] == cluster.scheduler_address


def test_the_digest_ignores_the_fitted_constants_defaults_but_not_the_others() -> None:
    from dataclasses import replace

    calibration = toy()  # fits kam_pressure
    moved_fitted = replace(calibration, base=calibration.base.replace(kam_pressure=0.9))
    moved_other = replace(calibration, base=calibration.base.replace(theta=5.0))
    assert moved_fitted.digest == calibration.digest
    assert moved_other.digest != calibration.digest


#: Particles the in-process sampler has computed (by :func:`_interrupting_particle`).
PARTICLES_RUN: list[int] = []


class _Rejected:
    accepted = False


def _interrupting_particle() -> _Rejected:
    """A particle that is never accepted; the third one receives Ctrl-C."""
    import signal

    PARTICLES_RUN.append(1)
    if len(PARTICLES_RUN) == 3:
        signal.raise_signal(signal.SIGINT)
    return _Rejected()


def test_ctrl_c_stops_an_in_process_fit_at_once() -> None:
    """Signals are held only while a pool is waited on; computed here, Ctrl-C acts at once."""
    from kamabm.experiments.calibration_fit import seeded_sampler

    PARTICLES_RUN.clear()
    with pytest.raises(KeyboardInterrupt):
        seeded_sampler(1).sample_until_n_accepted(5, _interrupting_particle, 0, max_eval=50)
    assert len(PARTICLES_RUN) == 3
