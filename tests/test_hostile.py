"""Every workflow as trustworthy as the sweep (issue 21): calibration, diagnosis and
screening killed with -9, stopped by SIGTERM or Ctrl-C, resumed; and every command that
writes facing a full disk or a folder it cannot write.

Processes are watched through ``/proc`` (psutil is not installed): each command starts in
a session of its own, so its process group is the command, its workers and their
resource tracker, and none of them may outlive it.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kamabm.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "experiments" / "client_example.toml"
CALIBRATION = ROOT / "experiments" / "calibration.toml"
SCREENING = ROOT / "experiments" / "screening.toml"

#: Long-running commands on two workers, and where they keep what they resume from.
LONG = {
    "calibrate": ["calibrate", str(CALIBRATION), "--workers", "2", "--quiet"],
    "diagnose": ["diagnose", str(EXAMPLE), "--workers", "2", "--quiet"],
    "screen": ["screen", str(SCREENING), "--workers", "2", "--quiet"],
}

SMALL_SCREENING = """
name = "tiny"
seed = 7
trajectories = 2
horizon = 12
outcomes = ["capture_rate"]
exclude = ["pressure_change_month", "pressure_after_change"]
[ranges]
n_suppliers = [2, 3]
n_key_buyers = [1, 2]
n_smb_clients = [20, 60]
rotation_months = [0, 12]
"""


def small_client(tmp_path: Path, **run: int) -> Path:
    """The example client with few replications and one run a map point (180 runs)."""
    values = {"replications": 4, "draws": 1, "map_replications": 1, "seed": 5, **run}
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "client.toml"
    path.write_text(text[:text.index("[run]")] + "[run]\n"
                    + "".join(f"{k} = {v}\n" for k, v in values.items()), encoding="utf-8")
    return path


# --- processes --------------------------------------------------------------------------
def group(pgid: int) -> list[tuple[int, str, str]]:
    """The live (not zombie) processes of a process group: pid, state, command line."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append((int(entry), fields[0], cmdline))
    return found


def workers(pgid: int) -> list[int]:
    return [pid for pid, _, cmd in group(pgid) if "spawn_main" in cmd]


def start(argv: list[str], out: Path) -> subprocess.Popen:
    """``python -m kamabm ARGV --out OUT`` in a session (and process group) of its own."""
    return subprocess.Popen([sys.executable, "-m", "kamabm", *argv, "--out", str(out)],
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for_workers(proc: subprocess.Popen, n: int = 2) -> list[int]:
    """Wait until the command's ``n`` workers run (and compute for a moment)."""
    deadline = time.monotonic() + 90
    while len(found := workers(proc.pid)) < n:
        assert proc.poll() is None, f"the command ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no workers started"
        time.sleep(0.05)
    time.sleep(1.0)
    assert proc.poll() is None
    return found


def nothing_left(pgid: int, within: float = 5.0) -> list[tuple[int, str, str]]:
    """The processes of the group still alive ``within`` seconds from now (none: [])."""
    deadline = time.monotonic() + within
    while (alive := group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.fixture
def reaped():
    """Processes the test started; killed (by process group) if the test fails."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        for pid, _, _ in group(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("command", LONG)
def test_kill_9_of_the_command_leaves_no_process_behind(command, tmp_path, reaped):
    from kamabm.experiments.store import ResultsStore

    out = tmp_path / "out"
    proc = start(LONG[command], out)
    reaped.append(proc)
    assert len(wait_for_workers(proc)) == 2
    if command == "diagnose":  # and what it computed is kept: parts journaled as they come
        deadline = time.monotonic() + 60
        while ResultsStore(out).n_stored() < 8:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    proc.kill()  # kill -9 of the command alone: nobody tells the workers
    proc.wait()
    assert nothing_left(proc.pid) == [], "processes outlived the killed command"
    if command == "diagnose":
        assert ResultsStore(out).n_stored() >= 8  # what the next call resumes from


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", LONG)
def test_a_signal_ends_the_command_in_one_line_and_stops_its_workers(command, sig, tmp_path,
                                                                      reaped):
    proc = start(LONG[command], tmp_path / "out")
    reaped.append(proc)
    wait_for_workers(proc)
    os.kill(proc.pid, sig)  # the command only, as docker stop and timeout do
    status = proc.wait(timeout=30)
    err = proc.stderr.read()
    assert status == (130 if sig == signal.SIGINT else 128 + sig), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"kamabm {command}: ")
    assert ("interrupted" if sig == signal.SIGINT else f"stopped by {sig.name}") in lines[0]
    assert "run the same command again to resume" in lines[0]
    assert nothing_left(proc.pid) == [], "workers outlived the stopped command"


# --- the diagnosis resumes where it stopped ---------------------------------------------
class Stop(KeyboardInterrupt):
    """Ctrl-C, pressed once ``after`` runs are done."""


def stop_after(after: int):
    def progress(done: int, total: int) -> None:
        if done >= after:
            raise Stop
    return progress


def test_a_stopped_diagnosis_resumes_where_it_stopped_with_the_same_numbers(tmp_path, capsys):
    from kamabm.diagnosis.client import load_client
    from kamabm.diagnosis.diagnose import diagnose
    from kamabm.diagnosis.report import diagnosis_tables
    from kamabm.diagnosis.runs import RunsStored, diagnosis_identity
    from kamabm.experiments.store import ResultsStore

    path = small_client(tmp_path)
    client = load_client(path)
    out = tmp_path / "out"
    stored = RunsStored(out, diagnosis_identity(client), notify=lambda line: None)
    with pytest.raises(Stop):
        diagnose(client, workers=1, progress=stop_after(20), store=stored)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["runs_done"] == 24
    assert ResultsStore(out).n_stored() == 24  # three parts of eight, journaled

    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "kamabm diagnose: resuming: 24 of 180 runs already stored in" in err
    whole = diagnose(client, workers=1)  # never stopped, never stored
    for name, table in diagnosis_tables(whole).items():
        expected = table.to_csv(index=False, float_format="%.6g")
        assert (out / name).read_text() == expected, name
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_a_diagnosis_of_another_file_or_model_is_refused_in_one_line(tmp_path, capsys,
                                                                     monkeypatch):
    import kamabm.experiments.provenance

    path = small_client(tmp_path)
    out = tmp_path / "out"
    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}

    (tmp_path / "other").mkdir()
    other = small_client(tmp_path / "other", seed=6)
    assert main(["diagnose", str(other), "--out", str(out), "--quiet"]) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and "holds runs of another client file" in line
    assert "--overwrite" in line

    real = kamabm.experiments.provenance.code_version
    monkeypatch.setattr(kamabm.experiments.provenance, "code_version",
                        lambda *a: {**real(*a), "version": "0.0.1+changed"})
    assert main(["diagnose", str(path), "--out", str(out), "--quiet"]) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and "holds runs of other model code" in line
    assert "0.0.1+changed" in line and "--overwrite" in line
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing touched
    monkeypatch.undo()

    (out / "notes.txt").write_text("the consultant's own file")
    assert main(["diagnose", str(other), "--out", str(out), "--workers", "1", "--quiet",
                 "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "the consultant's own file"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["sessions"]) == 1


def test_the_folder_check_names_what_is_in_the_way(tmp_path):
    from kamabm.diagnosis.client import load_client
    from kamabm.diagnosis.runs import check_folder, diagnosis_identity
    from kamabm.experiments.store import StoreError

    identity = diagnosis_identity(load_client(small_client(tmp_path)))
    out = tmp_path / "out"
    check_folder(out, identity, overwrite=False)  # missing: fine
    out.mkdir()
    (out / "report.html").write_text("a diagnosis of an earlier kamabm")
    with pytest.raises(StoreError, match="written without its runs"):
        check_folder(out, identity, overwrite=False)
    check_folder(out, identity, overwrite=True)
    (out / "holiday.jpg").write_text("")
    with pytest.raises(StoreError, match="holds no manifest.json"):
        check_folder(out, identity, overwrite=True)
    (out / "manifest.json").write_text(json.dumps({"identity": {"experiment": "x"}}))
    with pytest.raises(StoreError, match="something else than a diagnosis"):
        check_folder(out, identity, overwrite=False)


# --- output that does not fit ----------------------------------------------------------------
def full_disk_after(monkeypatch, saves: int) -> None:
    """Let ``saves`` charts be saved, then fill the disk: half a file, then ENOSPC."""
    import matplotlib.figure

    real = matplotlib.figure.Figure.savefig
    left = [saves]

    def savefig(self, fname, *args, **kwargs):
        if left[0] <= 0:
            Path(fname).write_bytes(b"half a chart")
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= 1
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)


def files(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` and the staging folders beside it, with its size."""
    roots = [folder, *folder.parent.glob(f".{folder.name}.*")]
    found = {str(p.relative_to(folder.parent)): p.stat().st_size
             for root in roots for p in root.rglob("*") if p.is_file()}
    return dict(sorted(found.items()))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_full_disk_while_charting_a_run_leaves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "charts"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"an earlier chart")
    before = files(out)
    full_disk_after(monkeypatch, 1)
    assert main(["run", "--set", "horizon_months=12", "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"--out {out}: cannot write there (No space left on device)" in line
    assert files(out) == before


def test_a_full_disk_while_drawing_the_patterns_leaves_nothing(tmp_path, capsys,
                                                              monkeypatch):
    out = tmp_path / "patterns"
    full_disk_after(monkeypatch, 1)
    assert main(["patterns", "--seeds", "1", "--set", "horizon_months=24",
                 "--out", str(out)]) == 2
    assert "cannot write there (No space left on device)" in one_line(capsys.readouterr().err)
    assert files(out) == {}


@pytest.mark.parametrize("command", ["plot", "report"])
def test_a_full_disk_while_plotting_or_reporting_leaves_nothing(command, swept, tmp_path,
                                                                capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    full_disk_after(monkeypatch, 3)
    target = out / ("charts" if command == "plot" else "report.html")
    assert main([command, str(swept["smoke"]), "--out", str(target)]) == 2
    assert "(No space left on device)" in one_line(capsys.readouterr().err)
    assert files(out) == {}  # no chart, no report, no staging folder


def test_a_full_disk_while_writing_the_diagnosis_keeps_the_runs_and_resumes(tmp_path, capsys,
                                                                           monkeypatch):
    path = small_client(tmp_path)
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 2)
    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{out}: cannot write there (No space left on device)" in line
    kept = set(files(out))
    assert {"out/manifest.json", "out/parts/journal.jsonl"} <= kept
    assert all(name.startswith(("out/parts/", "out/manifest.json", "out/.lock"))
               for name in kept), kept  # no table, chart or report: none half-written
    monkeypatch.undo()
    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "resuming: 180 of 180 runs already stored" in capsys.readouterr().err
    assert (out / "report.html").stat().st_size > 0


def test_a_full_disk_while_writing_the_calibration_keeps_its_history(tmp_path, capsys,
                                                                    monkeypatch):
    pytest.importorskip("pyabc")
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 1)
    argv = ["calibrate", str(CALIBRATION), "--quick", "--out", str(out), "--workers", "1",
            "--quiet"]
    assert main(argv) == 2
    assert "cannot write there (No space left on device)" in one_line(capsys.readouterr().err)
    assert sorted(files(out)) == ["out/.lock", "out/abc.db", "out/calibration.json"]
    monkeypatch.undo()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "kamabm calibrate: resuming the calibration at generation 2" in err
    assert (out / "posterior.csv").exists() and (out / "charts" / "targets.png").exists()


def test_a_full_disk_while_writing_the_screening_keeps_its_runs(tmp_path, capsys,
                                                                monkeypatch):
    path = tmp_path / "tiny.toml"
    path.write_text(SMALL_SCREENING)
    out = tmp_path / "out"
    full_disk_after(monkeypatch, 1)
    argv = ["screen", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(argv) == 2
    assert "cannot write there (No space left on device)" in one_line(capsys.readouterr().err)
    assert all(name.startswith(("out/sweep/", "out/.lock")) for name in files(out))
    monkeypatch.undo()
    assert main(argv) in (0, 1)  # 1: some runs of the tiny screening may raise
    assert "kamabm screen: resuming:" in capsys.readouterr().err
    assert pd.read_csv(out / "morris.csv").shape[0] > 0


@pytest.mark.parametrize("command", ["sweep", "plot", "report", "diagnose", "calibrate",
                                     "screen", "patterns", "run"])
def test_an_output_folder_under_a_file_is_refused_in_one_line(command, tmp_path, capsys,
                                                              swept, monkeypatch):
    # As root every folder is writable; a path under a regular file is not, for anyone.
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "sub"
    argv = {"sweep": [str(ROOT / "experiments" / "smoke.toml")],
            "plot": [str(swept["smoke"])], "report": [str(swept["smoke"])],
            "diagnose": [str(EXAMPLE)], "calibrate": [str(CALIBRATION), "--quick"],
            "screen": [str(SCREENING)], "patterns": [], "run": []}[command]
    target = out / "report.html" if command == "report" else out
    assert main([command, *argv, "--out", str(target)]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(out) in line and ("cannot write" in line or "not a folder" in line), line
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# --- real file systems (tmpfs; needs the right to mount, as root on a VM) ------------------
@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs; yields (mount point, remount read-only function)."""
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")

    def read_only() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)

    try:
        yield point, read_only
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_diagnosis_on_a_600_kb_disk_stops_in_one_line_and_resumes_elsewhere(tmpfs, tmp_path,
                                                                             capsys):
    point, _ = tmpfs
    out = point / "diagnosis"
    path = small_client(tmp_path)
    assert main(["diagnose", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{out}: cannot write there (No space left on device)" in line
    assert not (out / "report.html").exists() and not list(point.glob(".*partial*"))
    assert not (out / "capture_risk.csv").exists()


def test_every_command_refuses_a_read_only_file_system_in_one_line(tmpfs, swept, capsys):
    point, read_only = tmpfs
    read_only()
    out = point / "out"
    for argv in (["sweep", str(ROOT / "experiments" / "smoke.toml")],
                 ["plot", str(swept["smoke"])], ["report", str(swept["smoke"])],
                 ["diagnose", str(EXAMPLE)], ["calibrate", str(CALIBRATION), "--quick"],
                 ["screen", str(SCREENING)], ["patterns"], ["run"]):
        target = out / "report.html" if argv[0] == "report" else out
        assert main([*argv, "--out", str(target)]) == 2, argv
        line = one_line(capsys.readouterr().err)
        assert "Read-only file system" in line, line
    assert list(point.iterdir()) == []
