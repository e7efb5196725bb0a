"""The ``kamabm run`` command: outcomes, chart, and clean errors."""

import json
import os
import subprocess
import sys

import pytest

from kamabm import OUTCOMES
from kamabm.cli import main


def test_run_json_prints_every_outcome(capsys, tmp_path):
    status = main(["run", "--json", "--seed", "3", "--out", str(tmp_path)])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert set(OUTCOMES) <= set(result)
    for suffix in (".png", ".svg", ".csv"):
        path = tmp_path / f"run_seed3{suffix}"
        assert path.stat().st_size > 1000


def test_run_chart_csv_holds_one_row_per_month(tmp_path):
    assert main(["run", "--set", "horizon_months=24", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "run_seed1.csv").read_text().splitlines()
    assert len(lines) == 1 + 24 and lines[0].startswith("month,")


def test_set_changes_the_run(capsys, tmp_path):
    main(["run", "--json", "--no-chart", "--set", "kam_pressure=0"])
    calm = json.loads(capsys.readouterr().out)
    main(["run", "--json", "--no-chart", "--set", "kam_pressure=1",
          "--set", "client_revenue_share=1"])
    pressed = json.loads(capsys.readouterr().out)
    assert calm != pressed


@pytest.mark.parametrize(("args", "needle"), [
    (["--set", "kam_pressure=2"], "kam_pressure = 2.0: out of range, allowed [0, 1]"),
    (["--set", "client_revenue_share=0"], "client_revenue_share = 0.0: out of range, allowed (0, 1]"),  # noqa: E501
    (["--set", "kam_presure=0.5"], "kam_presure: unknown parameter"),
    (["--set", "kam_pressure"], "expected NAME=VALUE"),
    (["--seed", "x"], "invalid int value"),
])
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, needle):
    proc = subprocess.run([sys.executable, "-m", "kamabm.cli", "run", "--no-chart", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # argparse adds a usage line
    assert proc.stdout == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_results_folder_is_a_clean_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["run", "--out", str(locked / "x")]) == 2


def test_results_folder_that_is_a_file_is_a_clean_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "cannot write" in err


def test_params_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "`kam_pressure`" in out and "`buyer_detachment`" in out
