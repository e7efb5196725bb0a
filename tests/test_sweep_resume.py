"""Resuming: a sweep killed at any point, run again, gives the uninterrupted data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_fakes import FAKE_OUTCOMES, slow_run

from kamabm.experiments.files import load_experiment
from kamabm.experiments.store import JOURNAL, ResultsStore, StoreError
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results

TESTS = Path(__file__).resolve().parent

EXPERIMENT = """
name = "resume"
replications = 4
seed = 5
horizon = 12

[uncertainties.client_revenue_share]
values = [0.3, 0.6, 0.9]

[levers.kam_pressure]
values = [0.2, 0.5, 0.8, 1.0]
"""
N_RUNS = 3 * 4 * 4
CHUNK = 4  # 12 parts of 4 runs, each about 80 ms with slow_run


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exp") / "resume.toml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture(scope="module")
def reference(experiment_file, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("reference")
    run_sweep(load_experiment(experiment_file), out, run_fn=slow_run, outcomes=FAKE_OUTCOMES,
              workers=1, chunk_size=CHUNK, progress=False)
    return load_results(out)


def _start(path: Path, out: Path, workers: int) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from sweep_fakes import FAKE_OUTCOMES, slow_run
        from kamabm.experiments.files import load_experiment
        from kamabm.experiments.sweep import run_sweep
        run_sweep(load_experiment({str(path)!r}), {str(out)!r}, run_fn=slow_run,
                  outcomes=FAKE_OUTCOMES, workers={workers}, chunk_size={CHUNK},
                  progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    # its own process group, so a signal reaches the workers too, as Ctrl-C would
    return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _parts(out: Path) -> int:
    return len(list((out / "parts").glob("runs-*.parquet"))) if (out / "parts").exists() else 0


def _journaled(out: Path) -> int:
    """Parts whose journal line is whole: the parts that count."""
    try:
        return (out / "parts" / JOURNAL).read_text(encoding="utf-8").count("\n")
    except FileNotFoundError:
        return 0


def _interrupt(proc: subprocess.Popen, out: Path, after_parts: int, sig: int) -> None:
    # Waits for journaled parts, not for files: a part's file is renamed into place just
    # before its journal line, and a signal sent on seeing the file could land between
    # the two (that moment has its own test below), leaving no part that counts.
    deadline = time.monotonic() + 60
    while _journaled(out) < after_parts and proc.poll() is None:
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.005)
    if sig == signal.SIGKILL:
        # Frozen where it is, so that it cannot finish between the check and the kill
        # (a kill after 10 parts of 12 leaves it little time).
        os.killpg(proc.pid, signal.SIGSTOP)
    assert proc.poll() is None, f"the sweep ended before the signal: {proc.stderr.read()}"
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)


def _finish(path: Path, out: Path) -> None:
    summary = run_sweep(load_experiment(path), out, run_fn=slow_run, outcomes=FAKE_OUTCOMES,
                        workers=2, chunk_size=CHUNK, progress=False)
    assert summary.runs_resumed + summary.runs_now == N_RUNS


@pytest.mark.parametrize("kills", [[1], [6], [10], [2, 7]], ids=lambda k: "kill-after-" +
                         "-then-".join(map(str, k)))
def test_resume_after_kill_9_gives_the_uninterrupted_data(kills, experiment_file, reference,
                                                         tmp_path):
    out = tmp_path / "out"
    for after in kills:
        _interrupt(_start(experiment_file, out, workers=1), out, after, signal.SIGKILL)
    stored = _parts(out)
    assert 0 < stored < N_RUNS // CHUNK, "the kill came too late to test resuming"
    partial = load_results(out)  # what an interrupted sweep holds can be read
    journaled = ResultsStore(out).done_runs()
    # a kill between a part's rename and its journal line leaves one part unjournaled
    assert stored - 1 <= len(journaled) // CHUNK <= stored
    assert partial["run"].is_unique and set(partial["run"]) == journaled
    _finish(experiment_file, out)
    done = load_results(out)
    assert list(done["run"]) == list(range(N_RUNS))
    pd.testing.assert_frame_equal(done, reference)


def test_resume_after_kill_9_of_a_process_pool(experiment_file, reference, tmp_path):
    out = tmp_path / "out"
    _interrupt(_start(experiment_file, out, workers=2), out, 3, signal.SIGKILL)
    assert 0 < _parts(out) < N_RUNS // CHUNK
    _finish(experiment_file, out)
    pd.testing.assert_frame_equal(load_results(out), reference)


def test_ctrl_c_records_the_interruption_and_the_sweep_resumes(experiment_file, reference,
                                                               tmp_path):
    out = tmp_path / "out"
    proc = _start(experiment_file, out, workers=2)
    _interrupt(proc, out, 2, signal.SIGINT)
    assert proc.returncode != 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert 0 < manifest["runs_done"] < N_RUNS
    _finish(experiment_file, out)
    pd.testing.assert_frame_equal(load_results(out), reference)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("part", [1, 3])
def test_a_kill_between_a_parts_rename_and_its_journal_line_loses_only_that_part(
        part, experiment_file, reference, tmp_path):
    # The sweep kills itself right after renaming the runs file of its part'th part into
    # place, before journaling it: the one moment a kill leaves a file the journal lacks.
    out = tmp_path / "out"
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        from sweep_fakes import FAKE_OUTCOMES, slow_run
        from kamabm.experiments import store
        from kamabm.experiments.files import load_experiment
        from kamabm.experiments.sweep import run_sweep
        atomic = store.ResultsStore._atomic
        renamed = []
        def kill_after_the_rename(self, target, data, **kwargs):
            atomic(self, target, data, **kwargs)
            if target.name.startswith("runs-"):
                renamed.append(target)
                if len(renamed) == {part}:
                    os.kill(os.getpid(), signal.SIGKILL)
        store.ResultsStore._atomic = kill_after_the_rename
        run_sweep(load_experiment({str(experiment_file)!r}), {str(out)!r}, run_fn=slow_run,
                  outcomes=FAKE_OUTCOMES, workers=1, chunk_size={CHUNK}, progress=False)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _parts(out) == part
    journaled = ResultsStore(out).done_runs()
    assert journaled == set(range((part - 1) * CHUNK))  # the last renamed part does not count
    if journaled:
        assert set(load_results(out)["run"]) == journaled
    else:
        with pytest.raises(StoreError, match="no results"):
            load_results(out)
    _finish(experiment_file, out)
    pd.testing.assert_frame_equal(load_results(out), reference)
    assert list((out / "set-aside").glob("*/runs-*.parquet"))  # the unjournaled part, kept
