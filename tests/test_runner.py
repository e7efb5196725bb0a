"""The one runner: a sweep's chunks through ``run_many``, on either engine.

A chunk of the model's runs is one ``run_many`` call; a batch that raises is run again
run by run so that only the failing run is recorded; both engines store the same numbers;
the engine is recorded per session and a folder resumes across engines.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from sweep_fakes import chunk_pid, fake_run

from kamabm.cli.sweep import add_arguments as add_sweep_arguments
from kamabm.cli.sweep import run as run_sweep_command
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.provenance import MODEL_MODULES, code_version
from kamabm.experiments.store import ResultsStore
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results, load_series
from kamabm.model import batch
from kamabm.model.params import ParameterError

MODEL = Path(__file__).resolve().parents[1] / "kamabm" / "model"
TINY = """
name = "tiny"
replications = 2
seed = 5
horizon = 24
series = ["captured_share"]

[uncertainties.client_revenue_share]
values = [0.3, 0.9]

[levers.kam_pressure]
values = [0.2, 0.9]
"""


def tiny():
    return parse_experiment(TINY)


def test_both_engines_store_the_same_runs_and_series(tmp_path):
    tables = {}
    for engine in batch.ENGINES:
        out = tmp_path / engine
        summary = run_sweep(tiny(), out, workers=1, progress=False, engine=engine,
                            typical_runs=False)
        assert summary.engine == engine
        tables[engine] = (load_results(out), load_series(out))
        sessions = ResultsStore(out).read_manifest()["sessions"]
        assert [s["engine"] for s in sessions] == [engine]
    (compiled, compiled_series), (mesa, mesa_series) = tables["compiled"], tables["mesa"]
    assert (compiled["status"] == "ok").all() and len(compiled) == 8
    from kamabm.model.run import OUTCOMES

    for name in ("run", "key", "seed", *OUTCOMES):
        assert compiled[name].equals(mesa[name]), name
    assert compiled_series.equals(mesa_series)


def test_a_folder_started_on_one_engine_resumes_on_the_other(tmp_path):
    out = tmp_path / "out"
    run_sweep(tiny(), out, workers=1, progress=False, engine="mesa", typical_runs=False)
    again = run_sweep(tiny(), out, workers=1, progress=False, engine="compiled",
                      typical_runs=False)
    assert again.runs_resumed == 8 and again.runs_now == 0
    sessions = ResultsStore(out).read_manifest()["sessions"]
    assert [s["engine"] for s in sessions] == ["mesa", "compiled"]


def test_a_bad_engine_is_refused_naming_the_engines(tmp_path):
    with pytest.raises(ParameterError, match="compiled, mesa"):
        run_sweep(tiny(), tmp_path / "out", workers=1, progress=False, engine="numba")
    assert not (tmp_path / "out").exists()


def test_the_sweep_command_refuses_a_bad_engine_with_status_2(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(TINY)
    parser = argparse.ArgumentParser(prog="kamabm sweep", exit_on_error=True)
    add_sweep_arguments(parser)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args([str(tmp_path / "tiny.toml"), "--engine", "numba"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "'compiled'" in err and "'mesa'" in err
    args = parser.parse_args([str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "o"),
                              "--quiet", "--workers", "1", "--engine", "mesa"])
    assert run_sweep_command(args) == 0
    sessions = ResultsStore(tmp_path / "o").read_manifest()["sessions"]
    assert sessions[-1]["engine"] == "mesa"


def _fake_batch(calls):
    """A stand-in for run_many: fake outcomes, raising when a run has kam_pressure > 0.7."""
    def run_many(params_list, seeds, *, keep_series=(), engine="compiled", between_runs=None):
        calls.append((len(params_list), engine))
        if any(p.kam_pressure > 0.7 for p in params_list):
            raise ZeroDivisionError("the batch broke")
        return [_every_outcome(p, s, keep_series) for p, s in zip(params_list, seeds, strict=True)]
    return run_many


def _every_outcome(params, seed, keep_series):
    from kamabm.model.run import OUTCOMES

    found = fake_run(params, seed, keep_series=keep_series)
    return {**dict.fromkeys(OUTCOMES, float(seed % 7)), **found}


def test_a_chunk_is_one_batch_call_on_the_engine_asked_for(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(batch, "run_many", _fake_batch(calls))
    low = TINY.replace("[0.2, 0.9]", "[0.2, 0.5]")
    run_sweep(parse_experiment(low), tmp_path / "out", workers=1, progress=False,
              chunk_size=4, engine="mesa")
    assert calls == [(4, "mesa"), (4, "mesa")]
    assert (load_results(tmp_path / "out")["status"] == "ok").all()


def test_a_failing_batch_is_rerun_run_by_run_and_only_the_failing_runs_fail(tmp_path,
                                                                             monkeypatch):
    calls: list = []
    monkeypatch.setattr(batch, "run_many", _fake_batch(calls))
    summary = run_sweep(tiny(), tmp_path / "out", workers=1, progress=False, chunk_size=8,
                        typical_runs=False)
    runs = load_results(tmp_path / "out")
    failed = runs[runs["status"] == "error"]
    assert summary.failures == 4 and (failed["kam_pressure"] == 0.9).all()
    assert failed["error"].str.contains("ZeroDivisionError: the batch broke").all()
    ok = runs[runs["status"] == "ok"]
    assert len(ok) == 4 and ok["capture_rate"].notna().all()
    assert calls[0] == (8, "compiled") and calls[1:] == [(1, "compiled")] * 8


def test_the_code_version_covers_every_module_that_computes_a_run():
    modules = {p.relative_to(MODEL).with_suffix("").as_posix() for p in MODEL.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert set(MODEL_MODULES) == modules - {"outcomes", "doc_tables"}
    files = code_version()["files"]
    assert {"kamabm/model/engine.py", "kamabm/model/batch.py", "kamabm/model/run.py",
            "kamabm/model/market.py"} <= set(files)
    assert any(name.startswith("kamabm/model/compiled/") for name in files)


@pytest.mark.parametrize("recycle", [True, False])
def test_workers_are_replaced_only_when_asked(recycle, monkeypatch):
    """Mesa runs recycle workers (their memory grows); compiled runs keep them."""
    import kamabm.experiments.backends as backends

    here = os.path.dirname(__file__)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(backends, "RUNS_PER_PROCESS", 1)
    with backends.LocalPool(2) as pool:
        pids = set(pool.map(chunk_pid, range(6), 1, recycle=recycle))
    assert len(pids) > 2 if recycle else len(pids) <= 2


@pytest.mark.parametrize("command", ["sweep", "screen", "calibrate", "diagnose"])
def test_every_command_that_runs_many_runs_takes_engine_and_refuses_a_bad_one(command, capsys):
    from kamabm.cli import build_parser, main

    with pytest.raises(SystemExit) as stop:
        main([command, "file.toml", "--engine", "numba"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--engine" in err and "'compiled', 'mesa'" in err
    assert build_parser().parse_args([command, "file.toml"]).engine == "compiled"
