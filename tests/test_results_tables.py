"""The runs table a results folder gives: tidy cells, a verified final table, partial folders.

Sweeps here use the cheap fake run function of ``sweep_fakes`` (the model's contract, not
its cost); what is tested is the store and its readers.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from sweep_fakes import FAKE_OUTCOMES, fake_run

from kamabm.experiments.files import parse_experiment
from kamabm.experiments.store import MANIFEST, PARTS, RUNS_CSV, RUNS_PARQUET, StoreError
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import (
    IncompleteResultsWarning,
    element_column,
    load_results,
    run_parameters,
    sweep_progress,
)

EXPERIMENT = """
name = "tidy"
replications = 2
seed = 3
horizon = 12

[base]
n_key_buyers = 2
client_revenue_share = 0.45
key_account_shares = [0.3, 0.15]

[levers.kam_pressure]
values = [0.2, 0.6]
"""
OTHER = EXPERIMENT.replace('name = "tidy"', 'name = "other"').replace("seed = 3", "seed = 4")
N_RUNS = 4


def _sweep(out: Path, text: str = EXPERIMENT) -> Path:
    run_sweep(parse_experiment(text), out, run_fn=fake_run, outcomes=FAKE_OUTCOMES,
              workers=1, chunk_size=1, progress=False)
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return _sweep(tmp_path_factory.mktemp("tidy") / "out")


@pytest.fixture
def folder(finished: Path, tmp_path: Path) -> Path:
    """A private copy of the finished folder, for tests that damage it."""
    return Path(shutil.copytree(finished, tmp_path / "copy"))


# --- tidy cells ------------------------------------------------------------------------
def test_every_cell_is_a_scalar_so_ordinary_pandas_calls_work(finished):
    runs = load_results(finished)
    assert len(runs.drop_duplicates()) == N_RUNS
    assert not runs.duplicated().any()
    assert runs.nunique()["key_account_shares"] == 1
    assert len(pd.util.hash_pandas_object(runs)) == N_RUNS


def test_a_list_parameter_is_its_text_and_one_column_per_number(finished):
    runs = load_results(finished)
    assert set(runs["key_account_shares"]) == {"0.3;0.15"}
    assert list(runs[element_column("key_account_shares", 1)]) == [0.3] * N_RUNS
    assert list(runs["key_account_share_2"]) == [0.15] * N_RUNS
    assert "key_account_share_3" not in runs
    assert set(runs["buyer_detachments"]) == {""}  # not set: no numbers, no columns
    assert "buyer_detachment_1" not in runs


def test_the_csv_holds_the_same_values_as_the_parquet(finished):
    parquet = pd.read_parquet(finished / RUNS_PARQUET)
    csv = pd.read_csv(finished / RUNS_CSV, keep_default_na=False,
                      dtype={"key_account_shares": str, "buyer_detachments": str,
                             "supplier_pressures": str, "error": str})
    for name in ("key_account_shares", "buyer_detachments", "kam_pressure", "capture_rate"):
        assert list(csv[name]) == list(parquet[name]), name


def test_a_row_rebuilds_the_parameters_and_repeats_the_run(finished):
    row = load_results(finished).iloc[-1]
    params = run_parameters(row)
    assert params.key_account_shares == (0.3, 0.15)
    assert fake_run(params, int(row["seed"]))["capture_rate"] == row["capture_rate"]


# --- the final table is verified on every read ----------------------------------------
def test_the_manifest_records_the_final_tables_digests(finished):
    tables = json.loads((finished / MANIFEST).read_text())["tables"]
    assert set(tables) == {RUNS_PARQUET, RUNS_CSV}
    assert tables[RUNS_PARQUET]["bytes"] == (finished / RUNS_PARQUET).stat().st_size


def test_another_sweeps_table_put_in_its_place_is_refused(folder, tmp_path):
    other = _sweep(tmp_path / "other", OTHER)
    shutil.copy(other / RUNS_PARQUET, folder / RUNS_PARQUET)
    with pytest.raises(StoreError, match=r"runs\.parquet: not the table the sweep wrote"):
        load_results(folder)
    with pytest.raises(StoreError, match="not the table"):
        sweep_progress(folder)


def test_the_sweep_run_again_rebuilds_a_replaced_table_from_its_parts(folder, finished,
                                                                     tmp_path):
    other = _sweep(tmp_path / "other", OTHER)
    shutil.copy(other / RUNS_PARQUET, folder / RUNS_PARQUET)
    _sweep(folder)
    pd.testing.assert_frame_equal(load_results(folder), load_results(finished))


def test_an_edited_value_in_the_final_table_is_refused(folder):
    runs = pd.read_parquet(folder / RUNS_PARQUET)
    runs.loc[0, "capture_rate"] = 0.999
    runs.to_parquet(folder / RUNS_PARQUET)
    with pytest.raises(StoreError, match="SHA-256"):
        load_results(folder)


def test_a_report_of_a_replaced_table_exits_2_with_one_line(folder, tmp_path, capsys):
    from kamabm.cli import main

    other = _sweep(tmp_path / "other", OTHER)
    shutil.copy(other / RUNS_PARQUET, folder / RUNS_PARQUET)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "runs.parquet" in err


# --- partial folders say so --------------------------------------------------------------
def test_a_folder_missing_runs_warns_how_many_of_how_many(folder):
    (folder / RUNS_PARQUET).unlink()
    part = sorted((folder / PARTS).glob("runs-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])  # truncated: no longer matches its journal line
    with pytest.warns(IncompleteResultsWarning, match=f"{N_RUNS - 1} of {N_RUNS} runs"):
        runs = load_results(folder)
    assert len(runs) == N_RUNS - 1
    assert sweep_progress(folder) == {"status": "incomplete", "runs_planned": N_RUNS,
                                      "runs_stored": N_RUNS - 1, "runs_missing": 1}


def test_a_finished_folder_reads_without_a_warning(finished):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_results(finished)) == N_RUNS


def test_lever_costs_are_exactly_zero_with_no_lever_on():
    from kamabm import Parameters, run_one

    assert run_one(Parameters(horizon_months=24), 1)["lever_costs"] == 0.0
    assert run_one(Parameters(horizon_months=24, deal_review=0.5), 1)["lever_costs"] > 0.0


def test_an_overwrite_removes_the_tables_kept_beside_the_runs(folder):
    from kamabm.experiments.store import KEPT_BESIDE

    for name in KEPT_BESIDE:
        (folder / name).write_text("stale")
    run_sweep(parse_experiment(EXPERIMENT), folder, run_fn=fake_run, outcomes=FAKE_OUTCOMES,
              workers=1, chunk_size=1, progress=False, overwrite=True)
    assert not any((folder / name).exists() for name in KEPT_BESIDE)
