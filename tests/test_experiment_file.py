"""Experiment files: what a valid file means, and how a broken one is refused."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from sweep_fakes import FAKE_OUTCOMES, FAKE_SERIES, fake_run

from kamabm.cli.sweep import add_arguments as add_sweep_arguments
from kamabm.cli.sweep import run as run_sweep_command
from kamabm.experiments.design import Design, ExperimentError, RunSpec, Variable
from kamabm.experiments.files import load_experiment, parse_experiment
from kamabm.model.params import Parameters

REPO = Path(__file__).resolve().parents[1]

GOOD = """
name = "tiny"
description = "two variables on a grid"
replications = 4
seed = 7
horizon = 24

[base]
n_smb_clients = 50

[uncertainties.client_revenue_share]
range = [0.2, 0.8]
step = 0.2

[levers.kam_pressure]
values = [0.0, 0.5, 1.0]
"""


def parse(text: str, **kw):
    return parse_experiment(textwrap.dedent(text), **kw)


def test_grid_has_every_combination_of_the_listed_values():
    exp = parse(GOOD)
    points = exp.points()
    assert len(points) == 4 * 3
    assert sorted({p["client_revenue_share"] for p in points}) == [0.2, 0.4, 0.6, 0.8]
    assert sorted({p["kam_pressure"] for p in points}) == [0.0, 0.5, 1.0]
    assert exp.n_runs == 12 * 4
    assert exp.uncertainties == ("client_revenue_share",) and exp.levers == ("kam_pressure",)


def test_horizon_and_base_set_the_fixed_parameters():
    exp = parse(GOOD)
    assert exp.base.horizon_months == 24
    assert exp.base.n_smb_clients == 50
    assert exp.base.kam_pressure == Parameters.default("kam_pressure")


def test_range_with_count_spans_both_ends():
    exp = parse(GOOD.replace("step = 0.2", "count = 7"))
    values = exp.variables[0].values
    assert len(values) == 7 and values[0] == 0.2 and values[-1] == 0.8


def test_integer_parameter_gets_whole_numbers():
    exp = parse(GOOD + "\n[levers.rotation_months]\nrange = [0, 24]\ncount = 5\n")
    assert exp.variables[-1].values == (0, 6, 12, 18, 24)
    assert all(isinstance(v, int) for v in exp.variables[-1].values)


def test_common_random_numbers_pair_the_points():
    runs = list(parse(GOOD).runs())
    by_rep: dict[int, set[int]] = {}
    for spec in runs:
        by_rep.setdefault(spec.replication, set()).add(spec.seed)
    assert all(len(seeds) == 1 for seeds in by_rep.values())
    assert len({next(iter(s)) for s in by_rep.values()}) == 4


def test_without_common_random_numbers_every_run_has_its_own_seed():
    exp = parse(GOOD.replace("seed = 7", "seed = 7\ncommon_random_numbers = false"))
    seeds = [spec.seed for spec in exp.runs()]
    assert len(set(seeds)) == len(seeds)


def test_seeds_follow_the_master_seed():
    a = [s.seed for s in parse(GOOD).runs()]
    b = [s.seed for s in parse(GOOD).runs()]
    c = [s.seed for s in parse(GOOD.replace("seed = 7", "seed = 8")).runs()]
    assert a == b and a != c
    assert all(0 <= s < 2**63 for s in a)


def test_run_keys_are_unique_and_name_point_and_replication():
    runs = list(parse(GOOD).runs())
    assert [s.run for s in runs] == list(range(len(runs)))
    assert len({s.key for s in runs}) == len(runs)
    assert runs[5].key == f"p{runs[5].point}-r{runs[5].replication}"


def test_digest_ignores_comments_but_not_content():
    assert parse(GOOD).digest == parse("# a comment\n" + GOOD).digest
    assert parse(GOOD).digest != parse(GOOD.replace("replications = 4", "replications = 5")).digest


LHS = """
name = "lhs"
replications = 2
seed = 3
[design]
method = "latin_hypercube"
samples = 10
[uncertainties.client_revenue_share]
range = [0.1, 0.9]
[levers.rotation_months]
range = [0, 9]
"""


def test_latin_hypercube_puts_one_point_in_each_stratum():
    exp = parse(LHS)
    points = exp.points()
    assert len(points) == 10
    share = np.array([p["client_revenue_share"] for p in points])
    strata = np.floor((share - 0.1) / 0.08).astype(int)
    assert sorted(strata) == list(range(10))
    # ten whole numbers 0..9 in ten strata: each exactly once
    assert sorted(p["rotation_months"] for p in points) == list(range(10))
    assert exp.points() == points  # the design is seeded


@pytest.mark.parametrize(("second", "per_sample"), [(False, 2 + 2), (True, 2 * 2 + 2)])
def test_sobol_design_has_saltelli_size(second: bool, per_sample: int):
    text = LHS.replace('"latin_hypercube"', '"sobol"').replace("samples = 10", "samples = 8")
    exp = parse(text.replace("samples = 8", f"samples = 8\nsecond_order = {str(second).lower()}"))
    points = exp.points()
    assert len(points) == 8 * per_sample
    share = [p["client_revenue_share"] for p in points]
    assert 0.1 <= min(share) and max(share) <= 0.9


def test_outcomes_and_series_are_checked_against_the_run_function():
    text = GOOD.replace("horizon = 24", 'horizon = 24\noutcomes = ["capture_rate"]\n'
                        'series = ["mean_loyalty"]')
    exp = parse(text, known_outcomes=FAKE_OUTCOMES, known_series=FAKE_SERIES)
    assert exp.outcomes == ("capture_rate",) and exp.series == ("mean_loyalty",)
    with pytest.raises(ExperimentError, match=r"series\[0\]"):
        parse(text, known_outcomes=FAKE_OUTCOMES, known_series=("other",))


def test_shipped_experiment_files_are_valid():
    smoke = load_experiment(REPO / "experiments" / "smoke.toml")
    headline = load_experiment(REPO / "experiments" / "capture_phase.toml")
    for exp in (smoke, headline):
        assert set(exp.uncertainties + exp.levers) == {"client_revenue_share", "kam_pressure"}
    assert headline.replications >= 20
    for v in headline.variables:
        spec = Parameters.spec(v.name)
        assert len(v.values) >= 20
        # spans the range: within one grid step of both ends
        step = (v.high - v.low) / (len(v.values) - 1)
        assert v.low - spec.low <= step + 1e-9 and spec.high - v.high <= step + 1e-9


# --- broken files ----------------------------------------------------------------------
BROKEN = {
    "unknown top-level key": (GOOD + "\nreplicatons = 3\n", "replicatons"),
    "missing name": (GOOD.replace('name = "tiny"', ""), "name"),
    "bad name": (GOOD.replace('"tiny"', '"a b/c"'), "name"),
    "replications zero": (GOOD.replace("replications = 4", "replications = 0"),
                          "replications"),
    "replications text": (GOOD.replace("replications = 4", 'replications = "4"'),
                          "replications"),
    "negative seed": (GOOD.replace("seed = 7", "seed = -1"), "seed"),
    "horizon out of range": (GOOD.replace("horizon = 24", "horizon = 3"), "horizon"),
    "unknown base parameter": (GOOD.replace("n_smb_clients", "n_smb_clientz"),
                               "base.n_smb_clientz"),
    "base value out of range": (GOOD.replace("n_smb_clients = 50", "n_smb_clients = 0"),
                                "base.n_smb_clients"),
    "unknown variable": (GOOD.replace("levers.kam_pressure", "levers.kam_presure"),
                         "levers.kam_presure"),
    "value out of range": (GOOD.replace("[0.0, 0.5, 1.0]", "[0.0, 0.5, 1.5]"),
                           "levers.kam_pressure.values[2]"),
    "range below an open bound": (GOOD.replace("[0.2, 0.8]", "[0.0, 0.8]"),
                                  "uncertainties.client_revenue_share.range[0]"),
    "range reversed": (GOOD.replace("[0.2, 0.8]", "[0.8, 0.2]"),
                       "uncertainties.client_revenue_share.range"),
    "range and values": (GOOD.replace("values = [", "range = [0, 1]\nvalues = ["),
                         "levers.kam_pressure.range"),
    "step and count": (GOOD.replace("step = 0.2", "step = 0.2\ncount = 3"),
                       "uncertainties.client_revenue_share"),
    "negative step": (GOOD.replace("step = 0.2", "step = -0.2"),
                      "uncertainties.client_revenue_share.step"),
    "unknown variable key": (GOOD.replace("step = 0.2", "stride = 0.2"),
                             "uncertainties.client_revenue_share.stride"),
    "varied twice": (GOOD + "\n[uncertainties.kam_pressure]\nvalues = [0.1]\n",
                     "levers.kam_pressure"),
    "varied and fixed": (GOOD.replace("n_smb_clients = 50", "kam_pressure = 0.3"),
                         "levers.kam_pressure"),
    "unknown design": (GOOD + '\n[design]\nmethod = "factorial"\n', "design.method"),
    "sobol not power of two": (LHS.replace('"latin_hypercube"', '"sobol"'), "design.samples"),
    "lhs without samples": (LHS.replace("samples = 10", ""), "design.samples"),
    "lhs with values": (LHS.replace("range = [0, 9]", "values = [1, 2]"),
                        "levers.rotation_months.values"),
    "unknown outcome": (GOOD.replace("horizon = 24", 'horizon = 24\noutcomes = ["capture"]'),
                        "outcomes[0]"),
    "not toml": (GOOD.replace("seed = 7", "seed = = 7"), "not valid TOML"),
}


def _sweep(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    return run_sweep_command(parser.parse_args(argv), run_fn=fake_run, outcomes=FAKE_OUTCOMES)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_file_is_refused_naming_the_key(case, tmp_path, capsys):
    text, key = BROKEN[case]
    path = tmp_path / "broken.toml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    status = _sweep([str(path), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert str(path) in err and key in err, err
    assert "Traceback" not in err
    assert not out.exists()
    with pytest.raises(ExperimentError):
        load_experiment(path, known_outcomes=FAKE_OUTCOMES)


@pytest.mark.parametrize(("edit", "message"), [
    (("step = 0.2", "stride = 0.2"),
     "uncertainties.client_revenue_share.stride: unknown key (did you mean step?), expected "
     "one of: count, range, step, values"),
    (("[base]", "[design]\nreplications = 2\n\n[base]"),
     "design.replications: unknown key (it belongs at the top level), expected one of: "
     "method, samples, second_order"),
    (("step = 0.2", "count = 1"),
     "uncertainties.client_revenue_share.count: expected a whole number in [2, 100000], got 1"),
    (("step = 0.2", "step = 0"),
     "uncertainties.client_revenue_share.step: expected a number > 0, got 0"),
    (("seed = 7", "seed = 7\ncommon_random_numbers = 1"),
     "common_random_numbers: expected true or false, got 1"),
    (("values = [0.0, 0.5, 1.0]", "values = [0.0, 'high']"),
     "levers.kam_pressure.values[1]: expected a number, got 'high'"),
])
def test_the_file_names_the_key_path_and_what_is_allowed(edit, message, tmp_path, capsys):
    old, new = edit
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace(old, new, 1))
    assert _sweep([str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}\n" in err and err.count("\n") == 1, err


def test_missing_file_is_refused(tmp_path, capsys):
    status = _sweep([str(tmp_path / "nowhere.toml"), "--out", str(tmp_path / "out")])
    assert status == 2 and "nowhere.toml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options", [["--workers", "0"], ["--dask-workers", "0"],
                                     ["--scheduler", "tcp://127.0.0.1:1", "--dask-workers", "2"],
                                     ["--workers", "2", "--dask-workers", "2"]])
def test_contradicting_options_are_refused(options, tmp_path, capsys):
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    status = _sweep([str(path), "--out", str(tmp_path / "out"), *options])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and options[0] in err
    assert not (tmp_path / "out").exists()


# --- the objects check themselves, whoever builds them ---------------------------------
@pytest.mark.parametrize(("build", "needle"), [
    (lambda: Variable("kam_pressure", "lever", 0.0, 2.0, None),
     "levers.kam_pressure.range[1]: kam_pressure = 2.0: out of range"),
    (lambda: Variable("kam_presure", "lever", 0.0, 1.0, None),
     "levers.kam_presure: unknown parameter (did you mean kam_pressure?)"),
    (lambda: Variable("kam_pressure", "boss", 0.0, 1.0, None), "role 'boss'"),
    (lambda: Variable("kam_pressure", "lever", 1.0, 0.0, None), "expected low < high"),
    (lambda: Variable.grid("kam_pressure", "lever", [0.5, 0.5]), "values repeat"),
    (lambda: Variable.grid("kam_pressure", "lever", []), "non-empty list"),
    (lambda: Variable("kam_pressure", "lever", 0.0, 1.0, (0.2, 0.4)), "smallest and largest"),
    (lambda: Variable.grid("rotation_months", "lever", [1.5]), "whole number"),
    (lambda: Design("factorial"), "design.method"),
    (lambda: Design("sobol", 6), "power of 2"),
    (lambda: Design("latin_hypercube"), "design.samples"),
    (lambda: Design("grid", 8), "design.samples: only for"),
    (lambda: Design("latin_hypercube", 8, second_order=True), "only for sobol"),
])
def test_experiment_objects_refuse_bad_values_when_built(build, needle):
    with pytest.raises(ExperimentError) as info:
        build()
    assert needle in str(info.value)


def test_an_experiment_rebuilt_with_bad_fields_is_refused():
    exp = parse(GOOD)
    with pytest.raises(ExperimentError, match="replications"):
        dataclasses.replace(exp, replications=0)
    with pytest.raises(ExperimentError, match="already listed"):
        dataclasses.replace(exp, variables=exp.variables + exp.variables[:1])
    with pytest.raises(ExperimentError, match="a grid needs values"):
        dataclasses.replace(exp, variables=(Variable("kam_pressure", "lever", 0, 1, None),))
    with pytest.raises(ExperimentError, match="needs at least one variable"):
        dataclasses.replace(exp, variables=(), design=Design("latin_hypercube", 4))


def test_refinement_builds_checked_sub_experiments():
    from kamabm.experiments.refine import _sub_experiment

    exp = parse(GOOD)
    sub = _sub_experiment(exp, 0.5, [0.45, 0.5])
    assert [v.values for v in sub.variables] == [(0.45, 0.5), (0.5,)]
    with pytest.raises(ExperimentError, match="client_revenue_share = 1.5: out of range"):
        _sub_experiment(exp, 0.5, [0.4, 1.5])


def test_run_counts_are_arithmetic_and_points_lazy():
    text = GOOD.replace("step = 0.2", "count = 3000").replace(
        "values = [0.0, 0.5, 1.0]", "range = [0.0, 1.0]\ncount = 3000")
    exp = parse(text)
    started = time.perf_counter()
    assert exp.n_points == 9_000_000 and exp.n_runs == 36_000_000
    first = next(exp.runs())
    assert time.perf_counter() - started < 0.5
    assert first.key == "p0-r0" and first.values == {"client_revenue_share": 0.2,
                                                     "kam_pressure": 0.0}
    with pytest.raises(ExperimentError, match="36,000,000 runs, more than the limit"):
        exp.check_size(5_000_000)
    sobol = parse(LHS.replace('"latin_hypercube"', '"sobol"').replace("samples = 10",
                                                                      "samples = 8"))
    assert sobol.n_points == len(sobol.points()) == 8 * 4


def test_runs_carry_run_specs_that_pickle():
    import pickle

    spec = next(parse(GOOD).runs())
    assert isinstance(spec, RunSpec) and pickle.loads(pickle.dumps(spec)) == spec
