"""Morris screening: known answers, coverage of every declared field, resume, bad files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kamabm.experiments.screening import (
    SWEEP,
    Screening,
    ScreeningError,
    morris_indices,
    parse_screening,
    run_screening,
)
from kamabm.model.params import RUN, ParameterError, Parameters
from kamabm.report.charts.screening import plot_screening

MINIMAL = """
name = "tiny"
seed = 7
trajectories = 4
outcomes = ["capture_rate"]
exclude = ["pressure_change_month", "pressure_after_change"]
"""


def linear_outcomes(params: Parameters, seed: int) -> dict[str, float]:
    """A stand-in model with a known answer: y = 3 kam_pressure - 2 buyer_detachment."""
    return {"capture_rate": 3.0 * params.kam_pressure - 2.0 * params.buyer_detachment}


def small(text: str = MINIMAL, **extra: str) -> Screening:
    lines = "\n".join(f"{k} = {v}" for k, v in extra.items())
    return parse_screening(lines + "\n" + text, known_outcomes=["capture_rate", "margin"])


def test_morris_gives_the_slopes_of_a_linear_function() -> None:
    # In the unit cube every elementary effect of a linear function is its slope, so
    # mu = slope, mu* = |slope| and sigma = 0 exactly.
    from SALib.sample import morris

    slopes = np.array([1.0, -2.0, 0.5, 0.0])
    names = ["a", "b", "c", "d"]
    problem = {"num_vars": 4, "names": names, "bounds": [[0.0, 1.0]] * 4}
    x = morris.sample(problem, 10, num_levels=4, seed=3)
    table = morris_indices(x, x @ slopes + 5.0, names, levels=4).set_index("parameter")
    assert table.loc[names, "mu"].to_numpy() == pytest.approx(slopes)
    assert table.loc[names, "mu_star"].to_numpy() == pytest.approx(np.abs(slopes))
    assert table["sigma"].to_numpy() == pytest.approx(0.0, abs=1e-12)


def test_screening_of_the_parameter_object_finds_the_two_active_factors(tmp_path) -> None:
    # Elementary effects are per full range; both factors range over [0, 1] here.
    summary = run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes)
    table = summary.indices.set_index("parameter")
    assert table.loc["kam_pressure", "mu_star"] == pytest.approx(3.0)
    assert table.loc["buyer_detachment", "mu_star"] == pytest.approx(2.0)
    assert table.loc["buyer_detachment", "mu"] == pytest.approx(-2.0)
    others = table.drop(index=["kam_pressure", "buyer_detachment"])
    assert others["mu_star"].max() == pytest.approx(0.0, abs=1e-12)
    assert list(summary.indices["parameter"][:2]) == ["kam_pressure", "buyer_detachment"]


def test_design_covers_every_declared_field_except_run_control_and_exclusions() -> None:
    screening = small(MINIMAL + "[base]\nn_smb_clients = 50\n")
    skipped = {"pressure_change_month", "pressure_after_change", "n_smb_clients"}
    expected = [n for n in Parameters.names()
                if Parameters.spec(n).group != RUN and n not in skipped
                and not Parameters.is_sequence(n)]
    assert screening.names == expected
    structural = [n for n in Parameters.names() if Parameters.spec(n).group == "structural"]
    assert set(structural) <= set(screening.names)
    design = screening.design()
    assert len(design) == screening.trajectories * (len(expected) + 1)
    for name in expected:
        assert design[name].nunique() >= 2, name
    for row in design.head(30).to_dict("records"):  # every point is a valid parameter set
        screening.base.replace(**{k: int(v) if Parameters.is_integer(k) else v
                                  for k, v in row.items()})


def test_open_ends_of_a_declared_range_are_not_sampled() -> None:
    spec = Parameters.spec("client_revenue_share")
    assert spec.low_open
    factor = next(f for f in small().factors if f.name == "client_revenue_share")
    assert factor.low > spec.low
    assert small().design()["client_revenue_share"].min() > spec.low


def test_narrowed_ranges_are_used_and_whole_numbers_stay_whole() -> None:
    screening = small(MINIMAL + "[ranges]\nn_suppliers = [2, 5]\nkam_pressure = [0.2, 0.6]\n")
    design = screening.design()
    assert set(design["n_suppliers"]) <= {2, 3, 4, 5}
    assert (design["n_suppliers"] == design["n_suppliers"].round()).all()
    assert design["kam_pressure"].between(0.2, 0.6).all()


def test_seeds_come_from_the_master_seed_and_are_shared_across_points() -> None:
    a, b = small(replications="3"), small(replications="3")
    assert a.seeds() == b.seeds()
    assert len(set(a.seeds())) == 3
    other = parse_screening(MINIMAL.replace("seed = 7", "seed = 8"),
                            known_outcomes=["capture_rate"])
    assert other.seeds()[0] != a.seeds()[0]


class Stop(KeyboardInterrupt):
    """Ctrl-C while a run computes."""


_CALLS = [0]


def stopping_outcomes(params: Parameters, seed: int) -> dict[str, float]:
    """:func:`linear_outcomes`, with Ctrl-C pressed at the 50th run of this process."""
    _CALLS[0] += 1
    if _CALLS[0] == 50:
        raise Stop
    return linear_outcomes(params, seed)


def test_interrupted_screening_resumes_with_the_same_indices(tmp_path) -> None:
    screening = small(runs_per_part="20")
    whole = run_screening(screening, tmp_path / "whole", workers=1, run_fn=linear_outcomes)
    _CALLS[0] = 0
    with pytest.raises(Stop):  # stopped in its third chunk: two stored
        run_screening(screening, tmp_path / "out", workers=1, run_fn=stopping_outcomes)
    manifest = json.loads((tmp_path / "out" / SWEEP / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["runs_done"] == 40
    said: list[str] = []
    again = run_screening(screening, tmp_path / "out", workers=1, run_fn=stopping_outcomes,
                          notify=said.append)
    assert (again.runs_resumed, again.runs_now) == (40, screening.n_runs - 40)
    assert any(line.startswith(f"resuming: 40 of {screening.n_runs} runs") for line in said)
    pd.testing.assert_frame_equal(whole.indices, again.indices)
    assert (tmp_path / "whole" / "runs.csv").read_text() == (
        tmp_path / "out" / "runs.csv").read_text()


def test_the_screening_runs_its_morris_design_on_its_seeds_as_a_sweep(tmp_path) -> None:
    screening = small(replications="2")
    experiment = screening.experiment()
    points = pd.DataFrame(experiment.points())[screening.names]
    pd.testing.assert_frame_equal(points, screening.design(), check_dtype=False)
    assert [s.seed for s in experiment.runs()][:2] == screening.seeds()
    assert experiment.n_runs == screening.n_runs
    run_screening(screening, tmp_path, workers=1, run_fn=linear_outcomes)
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(runs.columns[:5]) == ["point", "replication", "seed", "error", "capture_rate"]
    assert sorted(set(runs["seed"])) == sorted(screening.seeds())
    expected = 3.0 * runs["kam_pressure"] - 2.0 * runs["buyer_detachment"]
    assert np.allclose(runs["capture_rate"], expected)


def test_runs_of_other_model_code_are_refused_unless_overwrite(tmp_path, monkeypatch) -> None:
    import kamabm.experiments.provenance

    run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes)
    real = kamabm.experiments.provenance.code_version
    monkeypatch.setattr(kamabm.experiments.provenance, "code_version",
                        lambda *a: {**real(*a), "version": "0.0.1+changed"})
    with pytest.raises(ScreeningError, match="other model code") as refused:
        run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes)
    assert "--overwrite" in str(refused.value)
    again = run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes,
                          overwrite=True)
    assert again.runs_resumed == 0 and again.runs_now == small().n_runs


def test_both_engines_give_the_same_screening(tmp_path) -> None:
    from kamabm.model.run import OUTCOMES

    text = MINIMAL.replace("trajectories = 4", "trajectories = 2") + (  # small markets
        "horizon = 12\n[ranges]\nn_suppliers = [2, 3]\nn_key_buyers = [1, 2]\n"
        "n_smb_clients = [20, 60]\n")
    screening = parse_screening(text, known_outcomes=list(OUTCOMES))
    found = {engine: run_screening(screening, tmp_path / engine, workers=1, engine=engine)
             for engine in ("compiled", "mesa")}
    pd.testing.assert_frame_equal(found["compiled"].indices, found["mesa"].indices)
    assert (tmp_path / "compiled" / "runs.csv").read_text() == (
        tmp_path / "mesa" / "runs.csv").read_text()
    manifest = json.loads((tmp_path / "mesa" / "manifest.json").read_text())
    assert manifest["engine"] == "mesa" and manifest["runs_folder"] == SWEEP
    with pytest.raises(ParameterError, match="compiled, mesa"):
        run_screening(screening, tmp_path / "bad", engine="fast")


def test_a_folder_of_another_screening_is_refused(tmp_path) -> None:
    run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes)
    with pytest.raises(ScreeningError, match="another screening"):
        run_screening(small(seed="8", text=MINIMAL.replace("seed = 7\n", "")), tmp_path,
                      workers=1, run_fn=linear_outcomes)


@pytest.mark.parametrize(("text", "key"), [
    (MINIMAL + "colour = 1\n", "colour: unknown key"),
    (MINIMAL.replace("trajectories = 4", "trajectories = 1"), "trajectories: expected"),
    (MINIMAL + "levels = 5\n", "levels: expected an even"),
    (MINIMAL.replace('["capture_rate"]', '["capture_rat"]'), "outcomes[0]: unknown outcome"),
    (MINIMAL + "[ranges]\nkam_pressure = [0.5, 2]\n", "ranges.kam_pressure: 2 out of range"),
    (MINIMAL + "[ranges]\nkam_pressure = [0.5, 0.1]\n", "ranges.kam_pressure: expected low"),
    (MINIMAL + "[ranges]\nn_suppliers = [2, 4.5]\n", "ranges.n_suppliers: 4.5 out of range"),
    (MINIMAL + "[ranges]\nhorizon_months = [12, 24]\n", "ranges.horizon_months: not screened"),
    (MINIMAL + "[ranges]\nkam_presure = [0, 1]\n", "ranges.kam_presure: unknown parameter"),
    (MINIMAL + "[base]\nkam_pressure = 3\n", "base.kam_pressure"),
    (MINIMAL.replace('"pressure_after_change"]', '"pressure_after"]'), "exclude[1]: unknown"),
])
def test_a_bad_screening_file_is_refused_in_one_line_naming_the_key(text, key) -> None:
    with pytest.raises(ScreeningError) as caught:
        parse_screening(text, where="s.toml", known_outcomes=["capture_rate"])
    message = str(caught.value)
    assert message.startswith("s.toml: ") and key in message
    assert "\n" not in message


@pytest.mark.parametrize(("extra", "message"), [
    ("trajectory = 4\n", "trajectory: unknown key (did you mean trajectories?), expected one "
                          "of: base, description, exclude, horizon, keep_share, levels, name, "
                          "optional_outcomes, outcomes, ranges, replications, runs_per_part, "
                          "seed, trajectories"),
    ("keep_share = 1.5\n", "keep_share: expected a number in (0, 1], got 1.5"),
    ("runs_per_part = 0\n", "runs_per_part: expected a whole number >= 1, got 0"),
    ("[ranges]\nkam_pressure = [0.2]\n", "ranges.kam_pressure: expected [low, high], got [0.2]"),
])
def test_screen_exits_2_on_a_bad_file_naming_the_key_and_what_is_allowed(
        tmp_path, capsys, extra, message) -> None:
    from kamabm.cli import main

    path = tmp_path / "s.toml"
    path.write_text(MINIMAL + extra, encoding="utf-8")
    assert main(["screen", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}\n" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_optional_outcomes_are_kept_only_when_reported() -> None:
    text = MINIMAL + 'optional_outcomes = ["margin", "not_reported"]\n'
    assert small(text).outcomes == ("capture_rate", "margin")


def test_chart_is_written_with_the_numbers_it_plots(tmp_path) -> None:
    summary = run_screening(small(), tmp_path, workers=1, run_fn=linear_outcomes)
    files = plot_screening(summary.indices, tmp_path / "charts", title="a title")
    png, svg, csv = files
    assert png.stat().st_size > 20_000 and svg.stat().st_size > 5_000
    pd.testing.assert_frame_equal(pd.read_csv(csv), pd.read_csv(tmp_path / "morris.csv"),
                                  check_exact=False, rtol=1e-5)


def test_screening_of_the_real_model_runs_on_two_workers(tmp_path) -> None:
    # Runs that raise are recorded and their trajectories left out, not fatal.
    from kamabm.model.run import OUTCOMES

    text = MINIMAL + (
        'horizon = 12\n[ranges]\nn_suppliers = [2, 3]\nn_key_buyers = [1, 2]\n'
        'n_smb_clients = [20, 60]\nrotation_months = [0, 12]\n')
    screening = parse_screening(text, known_outcomes=list(OUTCOMES))
    summary = run_screening(screening, tmp_path, workers=2)
    assert len(summary.indices) == len(screening.factors)
    assert np.isfinite(summary.indices["mu_star"]).all()
    assert (summary.indices["trajectories"] >= 2).all()
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == screening.n_runs
    ok = runs["error"].isna()
    assert runs.loc[ok, "capture_rate"].between(0, 1).all()
    assert ok.sum() == screening.n_runs - summary.failed


def test_a_trajectory_with_a_failed_run_is_left_out_of_the_indices() -> None:
    from kamabm.experiments.screening import indices_table

    screening = small(MINIMAL.replace("trajectories = 4", "trajectories = 5"))
    unit = screening.unit_design()
    design = screening.design()
    y = 3.0 * design["kam_pressure"] + 10.0 * design["kam_pressure"] ** 2
    runs = pd.DataFrame({"point": np.arange(len(design)), "capture_rate": y})
    per = len(screening.factors) + 1
    runs.loc[per + 3, "capture_rate"] = np.nan  # a run of trajectory 1 raised
    table = indices_table(screening, runs)
    assert (table["trajectories"] == 4).all()
    kept = np.r_[0:per, 2 * per:5 * per]
    expected = morris_indices(unit[kept], y.to_numpy()[kept], screening.names, levels=4,
                              seed=screening.seed)
    got = table.set_index("parameter").loc["kam_pressure"]
    want = expected.set_index("parameter").loc["kam_pressure"]
    assert got["mu_star"] == pytest.approx(want["mu_star"])
    assert got["sigma"] == pytest.approx(want["sigma"])


def test_kept_factors_reach_the_set_share_of_the_largest_effect_of_some_outcome() -> None:
    from kamabm.experiments.screening import kept_factors

    indices = pd.DataFrame({
        "outcome": ["a", "a", "a", "b", "b", "b"],
        "parameter": ["x", "y", "z", "x", "y", "z"],
        "mu_star": [1.0, 0.05, 0.2, 0.001, 0.01, 0.0]})
    assert kept_factors(indices, 0.1) == ["x", "z", "y"]  # y leads outcome b
    assert kept_factors(indices, 0.5) == ["x", "y"]
