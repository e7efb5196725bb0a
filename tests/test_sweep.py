"""Sweeps: what is stored, fault isolation, identical results on every backend."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sweep_fakes import FAKE_OUTCOMES, FAKE_SERIES, failing_run, fake_run, pid_run

from kamabm.cli.sweep import add_arguments as add_sweep_arguments
from kamabm.cli.sweep import run as run_sweep_command
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results, load_series, run_parameters
from kamabm.model.params import Parameters

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

EXPERIMENT = """
name = "grid"
replications = 3
seed = 11
horizon = 24

[uncertainties.client_revenue_share]
range = [0.2, 1.0]
count = 5

[levers.kam_pressure]
values = [0.0, 0.4, 0.8]
"""


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture(autouse=True)
def _fakes_importable(monkeypatch):
    # worker processes (spawned, or Dask's) must find the fake run functions
    paths = [str(TESTS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


def sweep(path: Path, out: Path, *options: str, run_fn=fake_run) -> int:
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    args = parser.parse_args([str(path), "--out", str(out), "--quiet", *options])
    return run_sweep_command(args, run_fn=run_fn, outcomes=FAKE_OUTCOMES)


def test_every_run_is_stored_once_with_parameters_seed_and_outcomes(experiment_file, tmp_path):
    out = tmp_path / "out"
    assert sweep(experiment_file, out, "--workers", "1") == 0
    df = load_results(out)
    assert len(df) == 15 * 3
    assert list(df["run"]) == list(range(45))
    assert df["key"].is_unique
    assert set(Parameters.names()) <= set(df.columns)
    assert set(FAKE_OUTCOMES) <= set(df.columns)
    assert (df["horizon_months"] == 24).all()
    assert (df["status"] == "ok").all() and df["error"].isna().all()
    # common random numbers: one seed per replication index, shared by all points
    assert df.groupby("replication")["seed"].nunique().eq(1).all()
    assert df["seed"].nunique() == 3
    # outcomes follow the fake model: the value reported for None is missing
    low = df["client_revenue_share"] * df["kam_pressure"] < 0.1
    assert df.loc[low, "time_to_first_capture"].isna().all()
    assert df.loc[~low, "time_to_first_capture"].notna().all()


def test_csv_holds_the_same_table_as_parquet(experiment_file, tmp_path):
    out = tmp_path / "out"
    sweep(experiment_file, out, "--workers", "1")
    csv = pd.read_csv(out / "runs.csv")
    parquet = load_results(out)
    assert list(csv.columns) == list(parquet.columns)
    for name in parquet.columns.drop("error"):
        if Parameters.is_sequence(name) if name in Parameters.names() else False:
            # list parameters are written to the CSV as text, "0.3;0.15"
            as_text = [";".join(f"{x:g}" for x in v) for v in parquet[name]]
            assert ["" if pd.isna(v) else v for v in csv[name]] == as_text, name
        elif pd.api.types.is_numeric_dtype(parquet[name]):
            pd.testing.assert_series_equal(csv[name].astype(float), parquet[name].astype(float),
                                           check_exact=False, rtol=1e-15)
        else:
            assert list(csv[name]) == list(parquet[name]), name


def test_manifest_records_experiment_versions_command_and_counts(experiment_file, tmp_path):
    out = tmp_path / "out"
    sweep(experiment_file, out, "--workers", "1")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment"]["text"] == EXPERIMENT
    assert manifest["status"] == "complete"
    assert manifest["runs_planned"] == manifest["runs_done"] == 45
    assert manifest["failures"] == 0
    session = manifest["sessions"][-1]
    assert session["python"] == sys.version.split()[0]
    assert {"mesa", "numpy", "pandas", "pyarrow"} <= set(session["packages"])
    assert session["command"] and session["started"] <= session["finished"]
    assert "code_version" in session


def test_a_raising_run_is_recorded_and_the_sweep_completes(experiment_file, tmp_path, capsys):
    out = tmp_path / "out"
    status = sweep(experiment_file, out, "--workers", "2", run_fn=failing_run)
    assert status == 1
    assert "15 of 45 runs failed" in capsys.readouterr().err
    df = load_results(out)
    assert len(df) == 45
    failed = df[df["status"] == "error"]
    assert set(failed["kam_pressure"]) == {0.8}
    assert failed["error"].str.contains("ZeroDivisionError: fake model broke").all()
    assert failed["error"].str.startswith("Traceback").all()
    assert failed["capture_rate"].isna().all()
    assert df.loc[df["status"] == "ok", "capture_rate"].notna().all()
    assert json.loads((out / "manifest.json").read_text())["failures"] == 15


def test_one_and_two_local_workers_give_identical_results(experiment_file, tmp_path):
    sweep(experiment_file, tmp_path / "one", "--workers", "1")
    sweep(experiment_file, tmp_path / "two", "--workers", "2")
    pd.testing.assert_frame_equal(load_results(tmp_path / "one"), load_results(tmp_path / "two"))


def test_dask_local_cluster_gives_the_same_results_as_local(experiment_file, tmp_path):
    pytest.importorskip("distributed")
    sweep(experiment_file, tmp_path / "local", "--workers", "1")
    assert sweep(experiment_file, tmp_path / "dask", "--dask-workers", "2") == 0
    pd.testing.assert_frame_equal(load_results(tmp_path / "local"),
                                  load_results(tmp_path / "dask"))
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["backend"] == "dask local x2"


def test_folder_of_another_experiment_is_refused_unless_overwrite(experiment_file, tmp_path,
                                                                  capsys):
    out = tmp_path / "out"
    sweep(experiment_file, out, "--workers", "1")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    other = tmp_path / "other.toml"
    other.write_text(EXPERIMENT.replace("replications = 3", "replications = 2"))
    assert sweep(other, out, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different experiment" in err and "--overwrite" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert sweep(other, out, "--workers", "1", "--overwrite") == 0
    assert len(load_results(out)) == 30


def test_rerunning_a_finished_sweep_runs_nothing(experiment_file, tmp_path, capsys):
    out = tmp_path / "out"
    sweep(experiment_file, out, "--workers", "1")
    first = load_results(out)
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    args = parser.parse_args([str(experiment_file), "--out", str(out), "--workers", "1"])
    assert run_sweep_command(args, run_fn=fake_run, outcomes=FAKE_OUTCOMES) == 0
    assert "0 run now, 45 already stored" in capsys.readouterr().out
    pd.testing.assert_frame_equal(first, load_results(out))
    assert len(json.loads((out / "manifest.json").read_text())["sessions"]) == 2


def test_series_are_kept_one_row_per_run_and_month(tmp_path):
    text = EXPERIMENT.replace("horizon = 24", 'horizon = 24\nseries = ["mean_loyalty"]')
    exp = parse_experiment(text, known_series=FAKE_SERIES)
    run_sweep(exp, tmp_path / "out", run_fn=fake_run, outcomes=FAKE_OUTCOMES, workers=2,
              progress=False)
    series = load_series(tmp_path / "out")
    assert len(series) == 45 * 24
    assert list(series.columns) == ["run", "key", "month", "mean_loyalty"]
    assert series.groupby("run")["month"].agg(list).map(lambda m: m == list(range(1, 25))).all()
    row = load_results(tmp_path / "out").iloc[7]
    again = fake_run(run_parameters(row), int(row["seed"]), keep_series=["mean_loyalty"])
    assert list(series.loc[series["run"] == 7, "mean_loyalty"]) == again["series"]["mean_loyalty"]


def test_seeds_in_the_rows_reproduce_the_outcomes_through_run_one(tmp_path):
    from kamabm.model.run import OUTCOMES, run_one

    text = EXPERIMENT.replace("horizon = 24", "horizon = 12").replace("count = 5", "count = 2")
    exp = parse_experiment(text)
    run_sweep(exp, tmp_path / "out", workers=2, progress=False)
    df = load_results(tmp_path / "out")
    assert (df["status"] == "ok").all() and len(df) == 2 * 3 * 3
    for _, row in df.sample(6, random_state=0).iterrows():
        again = run_one(run_parameters(row), int(row["seed"]))
        for name in OUTCOMES:
            expected = again[name]
            assert (pd.isna(row[name]) if expected is None else row[name] == expected), name


def test_smoke_experiment_runs_end_to_end_through_the_command(tmp_path):
    out = tmp_path / "smoke"
    proc = subprocess.run(
        [sys.executable, "-m", "kamabm", "sweep", str(REPO / "experiments" / "smoke.toml"),
         "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "smoke: 48 runs, 0 failed" in proc.stdout and str(out) in proc.stdout
    df = load_results(out)
    assert len(df) == 48 and (df["status"] == "ok").all()
    assert df["capture_rate"].between(0, 1).all()


def test_default_output_folder_is_results_slash_name(tmp_path, experiment_file):
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    args = parser.parse_args([str(experiment_file), "--workers", "1", "--quiet"])
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert run_sweep_command(args, run_fn=fake_run, outcomes=FAKE_OUTCOMES) == 0
    finally:
        os.chdir(cwd)
    assert (tmp_path / "results" / "grid" / "runs.parquet").exists()


def test_local_workers_are_replaced_after_a_while_and_no_run_is_lost(tmp_path, monkeypatch):
    import kamabm.experiments.backends

    monkeypatch.setattr(kamabm.experiments.backends, "RUNS_PER_PROCESS", 10)
    exp = parse_experiment(EXPERIMENT)
    run_sweep(exp, tmp_path / "out", run_fn=pid_run, outcomes=FAKE_OUTCOMES, workers=2,
              chunk_size=5, progress=False)
    df = load_results(tmp_path / "out")
    assert list(df["run"]) == list(range(45)) and (df["status"] == "ok").all()
    # 9 chunks of 5 runs, a process does 2 chunks: at least 5 processes
    assert df["capture_rate"].nunique() >= 5
