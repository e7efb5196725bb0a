"""Results you can trust: one writer per folder, one model version per folder, parts that
are verified before they are trusted, bounded designs, clean exits on signals."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_fakes import FAKE_OUTCOMES, FAKE_SERIES, fake_run, slower_run

from kamabm.cli.sweep import add_arguments as add_sweep_arguments
from kamabm.cli.sweep import run as run_sweep_command
from kamabm.experiments.design import ExperimentError
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.lock import FolderLockedError, check_unlocked, folder_lock
from kamabm.experiments.provenance import code_version
from kamabm.experiments.store import JOURNAL, SET_ASIDE, ResultsStore, StoreError
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results

TESTS = Path(__file__).resolve().parent

EXPERIMENT = """
name = "trust"
replications = 4
seed = 5
horizon = 12

[uncertainties.client_revenue_share]
values = [0.3, 0.6, 0.9]

[levers.kam_pressure]
values = [0.2, 0.5, 0.8, 1.0]
"""
N_RUNS = 48
CHUNK = 4


@pytest.fixture(autouse=True)
def _fakes_importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS),
                                                      os.environ.get("PYTHONPATH", "")]))


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "trust.toml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("reference")
    run_sweep(parse_experiment(EXPERIMENT), out, run_fn=fake_run, outcomes=FAKE_OUTCOMES,
              workers=1, chunk_size=CHUNK, progress=False)
    return load_results(out)


def sweep(path: Path, out: Path, *options: str, run_fn=fake_run) -> int:
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    args = parser.parse_args([str(path), "--out", str(out), "--quiet", *options])
    return run_sweep_command(args, run_fn=run_fn, outcomes=FAKE_OUTCOMES)


def start_sweep(path: Path, out: Path, *options: str, run: str = "slower_run",
                group: bool = True) -> subprocess.Popen:
    """``kamabm sweep`` in a subprocess, with a fake run function."""
    code = textwrap.dedent(f"""
        import argparse, sys
        sys.path.insert(0, {str(TESTS)!r})
        from sweep_fakes import FAKE_OUTCOMES, {run}
        from kamabm.cli.sweep import add_arguments as add_sweep_arguments, run as run_sweep_command
        parser = argparse.ArgumentParser()
        add_sweep_arguments(parser)
        args = parser.parse_args(sys.argv[1:])
        sys.exit(run_sweep_command(args, run_fn={run}, outcomes=FAKE_OUTCOMES))
    """)
    argv = [sys.executable, "-c", code, str(path), "--out", str(out), "--quiet", *options]
    return subprocess.Popen(argv, start_new_session=group, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(TESTS)})


def wait_for_parts(proc: subprocess.Popen, out: Path, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(ResultsStore(out).done_ranges()) < n:
        assert proc.poll() is None, f"the sweep ended early: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.01)


def snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "warning: the model has" not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- one writer per folder -------------------------------------------------------------
def test_a_second_sweep_into_a_busy_folder_is_refused_naming_the_holder(experiment_file,
                                                                         tmp_path, capsys,
                                                                         reference):
    out = tmp_path / "out"
    first = start_sweep(experiment_file, out, "--workers", "1")

    def outside_parts() -> dict[Path, tuple[int, int]]:
        # the first sweep goes on writing its parts meanwhile
        return {p: s for p, s in snapshot(out).items() if "parts" not in p.parts}

    try:
        wait_for_parts(first, out, 1)
        before = outside_parts()
        assert sweep(experiment_file, out, "--workers", "1", run_fn=slower_run) == 2
        line = one_line(capsys.readouterr().err)
        assert f"in use by another sweep (pid {first.pid}" in line and "--out" in line
        assert outside_parts() == before
    finally:
        first.kill()
        first.wait()
    # kill -9 released the lock: the same command now resumes and completes
    assert sweep(experiment_file, out, "--workers", "1", run_fn=slower_run) == 0
    done = load_results(out)
    assert done["key"].is_unique
    pd.testing.assert_frame_equal(done, reference)


def test_two_sweeps_started_together_one_runs_and_one_is_refused(experiment_file, tmp_path,
                                                                  reference):
    out = tmp_path / "out"
    # 100 ms runs: the first to take the folder is still running when the other starts
    procs = [start_sweep(experiment_file, out, "--workers", "1") for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    statuses = sorted(status for status, _ in results)
    assert statuses == [0, 2], results
    refused = next(err for status, err in results if status == 2)
    assert "in use by another" in refused and "Traceback" not in refused
    pd.testing.assert_frame_equal(load_results(out), reference)


def test_refinement_and_readers_respect_the_lock(tmp_path):
    from kamabm.experiments.refine import refine_boundary

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from kamabm.experiments.lock import folder_lock\n"
         f"with folder_lock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLockedError, match=f"pid {holder.pid}"):
            check_unlocked(tmp_path)
        with pytest.raises(FolderLockedError, match="in use by another"):
            refine_boundary(parse_experiment(EXPERIMENT), tmp_path)
        for command in ("plot", "report"):  # charts and report wait for the sweep
            done = subprocess.run([sys.executable, "-m", "kamabm", command,
                                   str(tmp_path)], capture_output=True, text=True)
            assert done.returncode == 2, done.stderr
            assert done.stderr.count("\n") == 1 and "in use by another" in done.stderr
    finally:
        holder.kill()
        holder.wait()
    check_unlocked(tmp_path)  # released with its holder


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with folder_lock(tmp_path), folder_lock(tmp_path):
        check_unlocked(tmp_path)
    with folder_lock(tmp_path):
        pass


# --- one model version per folder -------------------------------------------------------
FAKE_MODULE = '''
SLOPE = {slope}

def run(params, seed, *, keep_series=()):
    return {{"capture_rate": SLOPE * params.kam_pressure, "time_to_first_capture": None,
            "key_account_margin": 0.1}}
'''


def test_resume_after_a_model_code_change_is_refused(experiment_file, tmp_path, monkeypatch,
                                                     capsys):
    import importlib

    module = tmp_path / "changing_model.py"
    module.write_text(FAKE_MODULE.format(slope=1.0))
    monkeypatch.syspath_prepend(str(tmp_path))
    run = importlib.import_module("changing_model").run
    out = tmp_path / "out"
    assert sweep(experiment_file, out, "--workers", "1", run_fn=run) == 0
    module.write_text(FAKE_MODULE.format(slope=2.0))  # a constant of the model changes
    before = snapshot(out)
    assert sweep(experiment_file, out, "--workers", "1", run_fn=run) == 2
    line = one_line(capsys.readouterr().err)
    assert "other model code" in line and "changing_model.py changed" in line
    assert "--overwrite" in line and "--out" in line
    assert snapshot(out) == before
    assert sweep(experiment_file, out, "--workers", "1", "--overwrite", run_fn=run) == 0


def test_code_version_covers_the_model_modules_and_is_stable():
    version = code_version()
    modules = ("params", "kam", "buyer", "supplier", "market", "negotiation", "account", "run")
    assert {f"kamabm/model/{m}.py" for m in modules} <= set(version["files"])
    assert "kamabm/experiments/sweep.py" not in version["files"]
    assert version == code_version() and version["version"].startswith("0.")
    assert code_version(fake_run)["version"] != version["version"]  # its module counts too


def test_uncommitted_model_changes_are_reported(experiment_file, tmp_path, monkeypatch):
    import kamabm.experiments.sweep

    real = kamabm.experiments.sweep.environment
    monkeypatch.setattr(kamabm.experiments.sweep, "environment", lambda: {
        **real(), "code_version": {"git_commit": "abc", "dirty": True,
                                   "changed": ["kamabm/model/kam.py", "README.md"]}})
    notices: list[str] = []
    run_sweep(parse_experiment(EXPERIMENT), tmp_path / "out", run_fn=fake_run,
              outcomes=FAKE_OUTCOMES, workers=1, progress=False, notify=notices.append)
    assert len(notices) == 1 and "uncommitted changes (kamabm/model/kam.py)" in notices[0]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["code_version"]["dirty"] is True
    assert manifest["code"]["version"] == manifest["identity"]["code"]


# --- parts are verified before they are trusted -------------------------------------------
def _complete(out: Path, text: str = EXPERIMENT, **kw) -> list[str]:
    notices: list[str] = []
    exp = parse_experiment(text, known_series=FAKE_SERIES)
    run_sweep(exp, out, run_fn=fake_run, outcomes=FAKE_OUTCOMES, workers=1,
              chunk_size=CHUNK, progress=False, notify=notices.append, **kw)
    # (the model may have uncommitted changes while it is being worked on)
    return [n for n in notices if "uncommitted changes" not in n]


def _part(out: Path, i: int, kind: str = "runs") -> Path:
    return sorted((out / "parts").glob(f"{kind}-*.parquet"))[i]


@pytest.mark.parametrize("damage", ["swapped", "truncated", "deleted", "zero-byte"])
def test_a_damaged_part_is_set_aside_and_its_runs_recomputed(damage, tmp_path, reference):
    out = tmp_path / "out"
    _complete(out)
    victim = _part(out, 3)
    if damage == "swapped":  # another valid part under this one's name
        shutil.copy(_part(out, 0), victim)
    elif damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:200])
    elif damage == "deleted":
        victim.unlink()
    else:
        victim.write_bytes(b"")
    notices = _complete(out)
    assert len(notices) == 1 and "runs 12..15" in notices[0], notices
    assert "computed again" in notices[0]
    if damage != "deleted":
        kept = list((out / SET_ASIDE).rglob(victim.name))
        assert len(kept) == 1  # set aside, never deleted
    done = load_results(out)
    assert done["key"].is_unique and len(done) == N_RUNS
    pd.testing.assert_frame_equal(done, reference)


def test_a_zero_byte_series_part_is_detected(tmp_path):
    text = EXPERIMENT.replace("horizon = 12", 'horizon = 12\nseries = ["mean_loyalty"]')
    out = tmp_path / "out"
    _complete(out, text)
    first = pd.read_parquet(out / "series.parquet")
    _part(out, 2, "series").write_bytes(b"")
    notices = _complete(out, text)
    assert len(notices) == 1 and "runs 8..11" in notices[0]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "series.parquet"), first)


def test_a_foreign_part_and_a_torn_journal_line_are_set_aside(tmp_path, reference):
    out = tmp_path / "out"
    _complete(out)
    shutil.copy(_part(out, 0), out / "parts" / "runs-000000100-000000103.parquet")
    with open(out / "parts" / JOURNAL, "a") as journal:
        journal.write('{"first": 4, "last"')  # torn by a crash
    notices = _complete(out)
    assert len(notices) == 1
    assert "1 file(s) not in the journal" in notices[0] and "unreadable journal" in notices[0]
    assert list((out / SET_ASIDE).rglob("runs-000000100-000000103.parquet"))
    pd.testing.assert_frame_equal(load_results(out), reference)


def test_a_part_stored_twice_is_set_aside(tmp_path, reference):
    out = tmp_path / "out"
    _complete(out)
    journal = (out / "parts" / JOURNAL).read_text().splitlines()
    entry = json.loads(journal[1])
    twin = "runs-000000004-000000007-twin.parquet"
    shutil.copy(out / "parts" / entry["runs"]["file"], out / "parts" / twin)
    entry["runs"]["file"] = twin
    with open(out / "parts" / JOURNAL, "a") as f:
        f.write(json.dumps(entry) + "\n")
    notices = _complete(out)
    assert len(notices) == 1 and "runs 4..7 stored twice" in notices[0]
    pd.testing.assert_frame_equal(load_results(out), reference)


def test_consolidation_refuses_keys_that_are_not_the_experiments(tmp_path):
    out = tmp_path / "out"
    _complete(out)
    store = ResultsStore(out)
    keys = [s.key for s in parse_experiment(EXPERIMENT).runs()]
    assert store.consolidate(N_RUNS, keys) == 0
    keys[17] = "p99-r0"
    with pytest.raises(StoreError, match="p4-r1"):
        store.consolidate(N_RUNS, keys)
    with pytest.raises(StoreError, match="holds 48 runs, expected 52"):
        store.consolidate(52)


def test_parts_are_journaled_with_keys_and_checksums(tmp_path):
    out = tmp_path / "out"
    _complete(out)
    lines = [json.loads(line) for line in (out / "parts" / JOURNAL).read_text().splitlines()]
    assert [(e["first"], e["last"]) for e in lines] == [(i, i + 3) for i in range(0, 48, 4)]
    for e in lines:
        data = (out / "parts" / e["runs"]["file"]).read_bytes()
        assert e["runs"]["bytes"] == len(data) and len(e["runs"]["sha256"]) == 64
        assert len(e["keys"]) == 64


# --- bounded designs ----------------------------------------------------------------------
@pytest.mark.parametrize(("change", "needle"), [
    (("count = 5", "count = 3163"), "20,009,138 runs, more than the limit of 5,000,000"),
    (("count = 5", "step = 1e-9"), "uncertainties.client_revenue_share.step: gives "),
    (("replications = 2", "replications = 100000000"), "2,500,000,000 runs"),
])
def test_a_huge_design_is_refused_before_anything_is_allocated(change, needle, tmp_path,
                                                               capsys):
    import tracemalloc

    text = textwrap.dedent("""
        name = "huge"
        replications = 2
        seed = 1
        [uncertainties.client_revenue_share]
        range = [0.1, 1.0]
        count = 5
        [levers.kam_pressure]
        range = [0.0, 1.0]
        count = 5
    """)
    text = text.replace(*change, 1 if "step" in change[1] else -1)
    path = tmp_path / "huge.toml"
    path.write_text(text)
    tracemalloc.start()
    started = time.perf_counter()
    status = sweep(path, tmp_path / "out", "--workers", "1")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert status == 2
    line = one_line(capsys.readouterr().err)
    assert needle in line and str(path) in line
    assert not (tmp_path / "out").exists()
    assert elapsed < 2.0 and peak < 20e6, (elapsed, peak)


def test_max_runs_is_settable(experiment_file, tmp_path, capsys):
    assert sweep(experiment_file, tmp_path / "out", "--max-runs", "47") == 2
    err = capsys.readouterr().err
    assert "48 runs, more than the limit of 47" in err and "(--max-runs)" in err
    assert sweep(experiment_file, tmp_path / "out", "--workers", "1", "--max-runs", "48") == 0
    with pytest.raises(ExperimentError, match="limit of 10"):
        run_sweep(parse_experiment(EXPERIMENT), tmp_path / "lib", run_fn=fake_run,
                  max_runs=10, progress=False)


# --- signals ----------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    psutil = pytest.importorskip("psutil")
    return [c.pid for c in psutil.Process(pid).children(recursive=True)
            if "resource_tracker" not in " ".join(c.cmdline())]


def _gone(pids: list[int], within: float) -> bool:
    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_sweep_stops_workers_and_marks_it_interrupted(sig, experiment_file,
                                                                      tmp_path, reference):
    out = tmp_path / "out"
    proc = start_sweep(experiment_file, out, "--workers", "2", run="slower_run")
    wait_for_parts(proc, out, 2)
    workers = _children(proc.pid)
    assert len(workers) == 2
    os.kill(proc.pid, sig)  # the parent only, as docker stop and timeout do
    status = proc.wait(timeout=30)
    err = proc.stderr.read()
    assert status == 128 + sig if sig != signal.SIGINT else status == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert _gone(workers, within=5), "worker processes outlived the sweep"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert 0 < manifest["runs_done"] < N_RUNS
    assert sweep(experiment_file, out, "--workers", "2", run_fn=slower_run) == 0
    pd.testing.assert_frame_equal(load_results(out), reference)


def test_workers_exit_by_themselves_when_the_sweep_is_killed(experiment_file, tmp_path):
    out = tmp_path / "out"
    proc = start_sweep(experiment_file, out, "--workers", "2", run="slower_run")
    wait_for_parts(proc, out, 1)
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.kill()  # kill -9 of the parent alone: nobody tells the workers
    proc.wait()
    assert _gone(workers, within=5), "orphan workers kept running"
    check_unlocked(out)


# --- one-line errors and warnings of the command -----------------------------------------
def test_a_scheduler_address_that_is_not_one_is_refused(experiment_file, tmp_path, capsys):
    assert sweep(experiment_file, tmp_path / "out", "--scheduler", "garbage") == 2
    line = one_line(capsys.readouterr().err)
    assert "--scheduler 'garbage'" in line and "tcp://" in line
    assert not (tmp_path / "out").exists()


def test_an_experiment_file_that_is_not_utf8_is_refused(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes(EXPERIMENT.replace('"trust"', '"trust"  # caf\xe9').encode("latin-1"))
    assert sweep(path, tmp_path / "out") == 2
    line = one_line(capsys.readouterr().err)
    assert str(path) in line and "not UTF-8" in line


@pytest.mark.skipif(not Path("/sys").is_dir() or os.access("/sys", os.W_OK | os.X_OK)
                    and os.geteuid() != 0, reason="needs a read-only /sys (Linux)")
def test_a_folder_that_cannot_be_written_is_a_one_line_error(experiment_file, capsys):
    if os.access("/sys/kamabm-probe", os.F_OK):
        pytest.skip("unexpected /sys")
    assert sweep(experiment_file, Path("/sys/kamabm-test"), "--workers", "1") == 2
    line = one_line(capsys.readouterr().err)
    assert "/sys/kamabm-test" in line and "cannot write" in line


def test_a_read_only_file_system_is_a_one_line_error(experiment_file, tmp_path, capsys,
                                                     monkeypatch):
    import errno

    import kamabm.experiments.store

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "out"))

    monkeypatch.setattr(kamabm.experiments.store.ResultsStore, "write_manifest", read_only)
    assert sweep(experiment_file, tmp_path / "out", "--workers", "1") == 2
    line = one_line(capsys.readouterr().err)
    assert "cannot write there (Read-only file system)" in line


def test_a_step_that_misses_the_end_of_its_range_is_a_warning(tmp_path, capsys):
    path = tmp_path / "step.toml"
    path.write_text(EXPERIMENT.replace("values = [0.2, 0.5, 0.8, 1.0]",
                                       "range = [0, 1]\nstep = 0.3"))
    assert sweep(path, tmp_path / "out", "--workers", "1") == 0
    line = one_line(capsys.readouterr().err)
    assert "warning:" in line and "levers.kam_pressure: step 0.3 does not reach the end of " \
        "range [0, 1]; the last value is 0.9" in line


def test_more_workers_than_cores_is_a_warning(experiment_file, tmp_path, capsys, monkeypatch):
    import kamabm.cli.sweep

    monkeypatch.setattr(kamabm.cli.sweep, "available_cores", lambda: 1)
    assert sweep(experiment_file, tmp_path / "out", "--workers", "2") == 0
    line = one_line(capsys.readouterr().err)
    assert "warning: --workers 2 is more than the 1 cores available" in line


def test_overwrite_removes_the_charts_and_report_of_the_old_results(experiment_file,
                                                                     tmp_path):
    out = tmp_path / "out"
    assert sweep(experiment_file, out, "--workers", "1") == 0
    (out / "charts").mkdir()
    (out / "charts" / "phase_diagram.png").write_bytes(b"old chart")
    (out / "report.html").write_text("old report")
    (out / "notes.txt").write_text("the user's own file")
    other = tmp_path / "other.toml"
    other.write_text(EXPERIMENT.replace("replications = 4", "replications = 2"))
    assert sweep(other, out, "--workers", "1", "--overwrite") == 0
    assert not (out / "charts").exists() and not (out / "report.html").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert len(load_results(out)) == 24


def test_a_folder_of_other_code_without_runs_is_swept_afresh(experiment_file, tmp_path):
    # committed results hold a manifest, charts and report but no runs: nothing to mix
    out = tmp_path / "out"
    assert sweep(experiment_file, out, "--workers", "1") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["identity"]["code"] = "0.0.1+0000000000000000"
    (out / "manifest.json").write_text(json.dumps(manifest))
    for name in ("parts", "runs.parquet", "runs.csv"):
        shutil.rmtree(out / name) if name == "parts" else (out / name).unlink()
    assert sweep(experiment_file, out, "--workers", "1") == 0
    assert len(load_results(out)) == N_RUNS
    after = json.loads((out / "manifest.json").read_text())
    assert after["identity"]["code"] != "0.0.1+0000000000000000"


def test_reading_a_folder_that_holds_a_run_twice_is_refused(tmp_path):
    # a folder of the old layout (parts without a journal), written by two sweeps at once
    out = tmp_path / "out"
    _complete(out)
    (out / "parts" / JOURNAL).unlink()
    (out / "runs.parquet").unlink()
    shutil.copy(_part(out, 1), out / "parts" / "runs-000000004-000000005.parquet")
    with pytest.raises(StoreError, match="stored twice"):
        load_results(out)


def test_a_full_disk_stops_the_sweep_with_one_line_and_it_resumes(experiment_file, tmp_path,
                                                                 capsys, monkeypatch,
                                                                 reference):
    import errno

    import kamabm.experiments.store
    import kamabm.experiments.tables

    out = tmp_path / "out"
    real = kamabm.experiments.store.ResultsStore.write_part
    written = []

    def fills_up(self, runs, series=None):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.parts))
        written.append(runs.num_rows)
        real(self, runs, series)

    monkeypatch.setattr(kamabm.experiments.store.ResultsStore, "write_part", fills_up)
    assert sweep(experiment_file, out, "--workers", "1") == 2
    line = one_line(capsys.readouterr().err)
    assert "cannot write there (No space left on device)" in line
    progress = kamabm.experiments.tables.sweep_progress(out)
    assert progress["status"] == "failed" and progress["runs_stored"] == sum(written)
    assert progress["runs_missing"] == N_RUNS - sum(written) > 0
    monkeypatch.setattr(kamabm.experiments.store.ResultsStore, "write_part", real)
    assert sweep(experiment_file, out, "--workers", "1") == 0  # space freed: resume
    pd.testing.assert_frame_equal(load_results(out), reference)
    assert kamabm.experiments.tables.sweep_progress(out) == {
        "status": "complete", "runs_planned": N_RUNS, "runs_stored": N_RUNS, "runs_missing": 0}
